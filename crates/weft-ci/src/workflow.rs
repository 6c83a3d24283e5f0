//! A GitHub Actions workflow file, read into the parts the checks need —
//! triggers, permissions, concurrency, each job's steps — with the location
//! of every one.

use weft_model::Location;
use weft_model::yaml::{self, Node, Scalar, ScalarStyle};

use crate::concurrency::Concurrency;
use crate::permissions::Permissions;
use crate::triggers::Triggers;

/// `NAME: value` pairs of an `env:` mapping, values as written.
pub(crate) type Environment = Vec<(String, String)>;

/// One workflow file.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// The path shown to the user.
    pub file: String,
    /// The file's text, for locations and `# weft: ignore` comments.
    pub text: String,
    /// `name:`, or the file name.
    pub name: String,
    pub triggers: Triggers,
    pub permissions: Option<Permissions>,
    pub concurrency: Option<Concurrency>,
    /// `defaults.run.shell`.
    pub shell: Option<String>,
    pub env: Environment,
    pub jobs: Vec<Job>,
}

/// One job of a workflow.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    /// Where the job's key is.
    pub location: Location,
    pub needs: Vec<String>,
    pub permissions: Option<Permissions>,
    pub concurrency: Option<Concurrency>,
    /// `strategy.matrix` runs several copies of the job at once.
    pub matrix: bool,
    /// `strategy.max-parallel: 1`.
    pub one_at_a_time: bool,
    /// `runs-on` names a Windows runner (whose default shell is PowerShell).
    pub windows: bool,
    /// `defaults.run.shell`.
    pub shell: Option<String>,
    pub env: Environment,
    pub steps: Vec<Step>,
    /// A job-level `uses:`: a call to a reusable workflow.
    pub calls: Option<Call>,
}

/// A call to a reusable workflow.
#[derive(Debug, Clone)]
pub struct Call {
    /// `./.github/workflows/x.yml` or `owner/repo/.github/workflows/x.yml@ref`.
    pub target: String,
    pub location: Location,
}

/// One step of a job.
#[derive(Debug, Clone)]
pub struct Step {
    pub location: Location,
    pub run: Option<Script>,
    pub shell: Option<String>,
    /// `uses:`, with where its value is.
    pub uses: Option<(String, Location)>,
    /// `with:` inputs: name, value as written, where the value is.
    pub with: Vec<(String, String, Location)>,
    pub env: Environment,
    /// `if:`, as written.
    pub condition: Option<String>,
}

impl Step {
    /// The value of a `with:` input.
    pub fn input(&self, name: &str) -> Option<&str> {
        self.with
            .iter()
            .find(|(key, _, _)| key == name)
            .map(|(_, value, _)| value.as_str())
    }

    /// The action's `owner/name[/path]` without `@ref`, lowercased.
    pub fn action(&self) -> Option<String> {
        let (reference, _) = self.uses.as_ref()?;
        let name = reference.split('@').next().unwrap_or(reference);
        Some(name.trim().to_lowercase())
    }
}

/// The script of a `run:` step.
#[derive(Debug, Clone)]
pub struct Script {
    pub text: String,
    /// Where the value starts in the file.
    pub location: Location,
    pub style: ScalarStyle,
}

/// Why a file is not a workflow weft can check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowError {
    /// `yaml-syntax` or `invalid-workflow`.
    pub code: &'static str,
    pub message: String,
    pub location: Location,
}

impl Workflow {
    /// Reads a workflow file; `file` is the path shown to the user.
    pub fn parse(file: &str, text: &str) -> Result<Workflow, WorkflowError> {
        let arena = yaml::Arena::new();
        let root = yaml::parse_one(&arena, text).map_err(|error| WorkflowError {
            code: "yaml-syntax",
            message: error.message,
            location: error.location,
        })?;
        let invalid = |message: &str, location: Location| WorkflowError {
            code: "invalid-workflow",
            message: message.to_string(),
            // An empty document has no position; point at the file's start.
            location: if location.line == 0 {
                Location {
                    offset: 0,
                    line: 1,
                    column: 1,
                }
            } else {
                location
            },
        };
        if root.as_mapping().is_none() {
            return Err(invalid(
                &format!(
                    "a workflow is a mapping, this file holds {}",
                    root.kind_name()
                ),
                root.span.start,
            ));
        }
        let Some((jobs_key, jobs)) = root.entry("jobs") else {
            return Err(invalid(
                "a workflow needs a `jobs` mapping",
                root.span.start,
            ));
        };
        if jobs.as_mapping().is_none() {
            return Err(invalid(
                "`jobs` must be a mapping of job ids to jobs",
                jobs_key.span.start,
            ));
        }
        let name = root
            .get("name")
            .and_then(Node::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| file.rsplit('/').next().unwrap_or(file).to_string());
        Ok(Workflow {
            file: file.to_string(),
            text: text.to_string(),
            name,
            triggers: Triggers::read(root.get("on")),
            permissions: permissions(&root),
            concurrency: concurrency(&root),
            shell: text_at(&root, &["defaults", "run", "shell"]),
            env: environment(root.get("env")),
            jobs: jobs
                .as_mapping()
                .unwrap_or_default()
                .iter()
                .filter_map(|(key, job)| Some(Job::read(key.as_str()?, key.span.start, job)))
                .collect(),
        })
    }

    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|job| job.id == id)
    }
}

impl Job {
    fn read(id: &str, location: Location, job: &Node) -> Job {
        let needs = match job.get("needs") {
            Some(needs) => match needs.as_str() {
                Some(one) => vec![one.to_string()],
                None => needs
                    .items()
                    .filter_map(Node::as_str)
                    .map(str::to_string)
                    .collect(),
            },
            None => Vec::new(),
        };
        let strategy = job.get("strategy");
        let matrix = strategy
            .and_then(|s| s.get("matrix"))
            .is_some_and(|m| !m.is_null());
        let one_at_a_time = strategy
            .and_then(|s| s.get("max-parallel"))
            .and_then(Node::as_u64)
            == Some(1);
        let windows = job.get("runs-on").is_some_and(|runs_on| {
            let mentions = |n: &Node| {
                n.as_str()
                    .is_some_and(|s| s.to_lowercase().contains("windows"))
            };
            mentions(runs_on) || runs_on.items().any(mentions)
        });
        let calls = job.entry("uses").and_then(|(_, value)| {
            Some(Call {
                target: value.as_str()?.trim().to_string(),
                location: value.span.start,
            })
        });
        Job {
            id: id.to_string(),
            location,
            needs,
            permissions: permissions(job),
            concurrency: concurrency(job),
            matrix,
            one_at_a_time,
            windows,
            shell: text_at(job, &["defaults", "run", "shell"]),
            env: environment(job.get("env")),
            steps: job.get("steps").map_or_else(Vec::new, |steps| {
                steps
                    .items()
                    .filter(|s| s.as_mapping().is_some())
                    .map(Step::read)
                    .collect()
            }),
            calls,
        }
    }
}

impl Step {
    fn read(step: &Node) -> Step {
        let run = step.get("run").and_then(|value| {
            let Scalar { text, style } = value.as_scalar()?;
            Some(Script {
                text: String::from(*text),
                location: value.span.start,
                style: *style,
            })
        });
        let uses = step
            .get("uses")
            .and_then(|value| Some((value.as_str()?.trim().to_string(), value.span.start)));
        let with = step
            .get("with")
            .map(|with| {
                with.as_mapping()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|(key, value)| {
                        let text = value.as_scalar().map_or("", |s| s.text);
                        Some((
                            key.as_str()?.to_string(),
                            text.to_string(),
                            value.span.start,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Step {
            location: step.span.start,
            run,
            shell: step.get("shell").and_then(Node::as_str).map(str::to_string),
            uses,
            with,
            env: environment(step.get("env")),
            condition: step.get("if").and_then(Node::as_str).map(str::to_string),
        }
    }
}

fn permissions(node: &Node) -> Option<Permissions> {
    node.entry("permissions")
        .map(|(key, value)| Permissions::read(value, key.span.start))
}

fn concurrency(node: &Node) -> Option<Concurrency> {
    node.entry("concurrency")
        .and_then(|(key, value)| Concurrency::read(value, key.span.start))
}

fn text_at(node: &Node, path: &[&str]) -> Option<String> {
    node.path(path).and_then(Node::as_str).map(str::to_string)
}

fn environment(node: Option<&Node>) -> Environment {
    node.map(|env| {
        env.entries()
            .filter_map(|(name, value)| {
                Some((name.to_string(), String::from(value.as_scalar()?.text)))
            })
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = "\
name: Scrape
on:
  push:
    branches: [main]
permissions:
  contents: write
jobs:
  scrape:
    runs-on: ubuntu-latest
    needs: [build]
    strategy:
      matrix:
        x: [1, 2]
    steps:
      - uses: actions/checkout@v4
        with:
          token: ${{ secrets.PAT }}
      - run: |
          git commit -m x
          git push
  call:
    uses: ./.github/workflows/format.yml
";

    #[test]
    fn reads_jobs_steps_and_locations() {
        let workflow = Workflow::parse(".github/workflows/scrape.yml", WORKFLOW).unwrap();
        assert_eq!(workflow.name, "Scrape");
        let job = workflow.job("scrape").unwrap();
        assert_eq!((job.location.line, job.location.column), (8, 3));
        assert_eq!(job.needs, ["build"]);
        assert!(job.matrix && !job.one_at_a_time && !job.windows);
        assert_eq!(job.steps.len(), 2);
        assert_eq!(job.steps[0].action().as_deref(), Some("actions/checkout"));
        assert_eq!(job.steps[0].input("token"), Some("${{ secrets.PAT }}"));
        let script = job.steps[1].run.as_ref().unwrap();
        assert_eq!(script.text, "git commit -m x\ngit push\n");
        let call = workflow.job("call").unwrap().calls.as_ref().unwrap();
        assert_eq!(call.target, "./.github/workflows/format.yml");
    }

    #[test]
    fn bad_files_are_errors_with_locations() {
        let error = Workflow::parse("x.yml", "jobs: [\n").unwrap_err();
        assert_eq!(error.code, "yaml-syntax");
        let error = Workflow::parse("x.yml", "- a\n- b\n").unwrap_err();
        assert_eq!(error.code, "invalid-workflow");
        let error = Workflow::parse("x.yml", "on: push\n").unwrap_err();
        assert_eq!(error.code, "invalid-workflow");
        let error = Workflow::parse("x.yml", "# nothing\n").unwrap_err();
        assert_eq!((error.location.line, error.location.column), (1, 1));
    }
}
