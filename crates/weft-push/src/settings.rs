//! What one push does, resolved once from weft.yaml's `push:` section and the
//! command line: the target, the lock, the retries and the path policies.

use std::time::Duration;

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use serde::Serialize;
use weft_model::config::PushConfig;

use crate::error::SettingsError;
use crate::holder::Holder;

/// Retries after the first attempt, unless configured.
pub const DEFAULT_RETRIES: u32 = 5;
/// How long a push lock lives before others may take it over.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(600);
/// How long to wait for the push lock.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(1800);

/// The globs of data files, whose conflicts keep the pushed version when no
/// policy matches: anything under a `data/` directory, and line-oriented data
/// formats anywhere. JSON and YAML elsewhere are left out on purpose:
/// `package.json` or a workflow file is code, and an automated push yields to
/// people on code.
pub const DATA_GLOBS: &[&str] = &[
    "**/data/**",
    "**/*.csv",
    "**/*.tsv",
    "**/*.jsonl",
    "**/*.ndjson",
];

/// What to do with a path that conflicts during the rebase, from the
/// pusher's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathPolicy {
    /// Keep the version being pushed.
    Mine,
    /// Keep the version already on the remote branch.
    Theirs,
    /// Keep the lines both sides added; drop the lines either side deleted.
    Union,
    /// Stop and restore everything.
    Fail,
    /// Run `command` with `sh -c` in the repository root, then commit the path.
    Regenerate { command: String },
}

impl PathPolicy {
    pub fn name(&self) -> &'static str {
        match self {
            PathPolicy::Mine => "mine",
            PathPolicy::Theirs => "theirs",
            PathPolicy::Union => "union",
            PathPolicy::Fail => "fail",
            PathPolicy::Regenerate { .. } => "regenerate",
        }
    }
}

impl std::fmt::Display for PathPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathPolicy::Regenerate { command } => write!(f, "regenerate: {command}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Why a path got its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "glob")]
pub enum PolicySource {
    /// A glob of `push.policies`.
    Rule(String),
    /// No glob matched, and the path is a data file.
    DefaultData,
    /// No glob matched, and the path is not a data file.
    DefaultCode,
}

#[derive(Debug, Clone)]
struct PolicyRule {
    glob: String,
    matcher: GlobMatcher,
    policy: PathPolicy,
}

/// The policies in order; the first matching glob wins, then the defaults.
#[derive(Debug, Clone)]
pub struct PolicyRules {
    rules: Vec<PolicyRule>,
    data: GlobSet,
    mine: PathPolicy,
    theirs: PathPolicy,
}

impl PolicyRules {
    /// Rules from globs; a glob without `/` matches the file name at any
    /// depth (as in `.gitattributes`), one with `/` matches from the
    /// repository root; `*` stays within a directory, `**` crosses them.
    pub fn new(
        rules: impl IntoIterator<Item = (String, PathPolicy)>,
    ) -> Result<Self, SettingsError> {
        let rules = rules
            .into_iter()
            .map(|(glob, policy)| {
                Ok(PolicyRule {
                    matcher: compile(&glob)?.compile_matcher(),
                    glob,
                    policy,
                })
            })
            .collect::<Result<Vec<_>, SettingsError>>()?;
        let mut data = GlobSetBuilder::new();
        for glob in DATA_GLOBS {
            data.add(compile(glob)?);
        }
        let data = data.build().map_err(|error| SettingsError::Glob {
            glob: DATA_GLOBS.join(", "),
            message: error.to_string(),
        })?;
        Ok(PolicyRules {
            rules,
            data,
            mine: PathPolicy::Mine,
            theirs: PathPolicy::Theirs,
        })
    }

    /// The rules of weft.yaml's `push.policies`.
    pub fn from_config(config: &PushConfig) -> Result<Self, SettingsError> {
        PolicyRules::new(config.policies.iter().map(|(glob, policy)| {
            let policy = match policy.command() {
                Some(command) => PathPolicy::Regenerate {
                    command: command.to_string(),
                },
                None => match policy.name() {
                    "mine" => PathPolicy::Mine,
                    "union" => PathPolicy::Union,
                    "fail" => PathPolicy::Fail,
                    _ => PathPolicy::Theirs,
                },
            };
            (glob.clone(), policy)
        }))
    }

    /// The policy of a path (relative to the repository root, with `/`).
    pub fn policy_for(&self, path: &str) -> (&PathPolicy, PolicySource) {
        if let Some(rule) = self.rules.iter().find(|rule| rule.matcher.is_match(path)) {
            return (&rule.policy, PolicySource::Rule(rule.glob.clone()));
        }
        if self.data.is_match(path) {
            (&self.mine, PolicySource::DefaultData)
        } else {
            (&self.theirs, PolicySource::DefaultCode)
        }
    }
}

fn compile(glob: &str) -> Result<Glob, SettingsError> {
    let pattern = match glob.strip_prefix('/') {
        Some(anchored) => anchored.to_string(),
        None if !glob.contains('/') => format!("**/{glob}"),
        None => glob.to_string(),
    };
    GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|error| SettingsError::Glob {
            glob: glob.to_string(),
            message: error.kind().to_string(),
        })
}

/// What the command line asks for; `None` leaves weft.yaml's value or the
/// default.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    pub remote: Option<String>,
    pub branch: Option<String>,
    pub message: Option<String>,
    pub add: Vec<String>,
    pub priority: Option<i64>,
    pub class: Option<String>,
    pub retries: Option<u32>,
    pub lock_ttl: Option<Duration>,
    pub lock_wait: Option<Duration>,
    pub emergency: bool,
    /// `Some(false)` for `--no-batch`.
    pub batch: Option<bool>,
}

/// One push, resolved.
#[derive(Debug, Clone)]
pub struct PushSettings {
    pub remote: String,
    /// The remote branch; `None` means the current branch's name.
    pub branch: Option<String>,
    /// The message of the commit of staged changes (default: `Update <paths>`).
    pub message: Option<String>,
    /// Paths to stage before committing.
    pub add: Vec<String>,
    /// The priority asked of an external lock.
    pub priority: Option<i64>,
    /// The class asked of an external lock (from `push.classes` when the
    /// command line names none).
    pub class: Option<String>,
    /// Attempts after the first.
    pub retries: u32,
    pub lock_ttl: Duration,
    pub lock_wait: Duration,
    /// Skip the lock (recorded; still never forces over others' commits).
    pub emergency: bool,
    pub policies: PolicyRules,
    pub holder: Holder,
    /// The first retry's backoff ceiling (doubled each attempt).
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// The first backoff ceiling between looks at a held lock.
    pub poll_base: Duration,
    pub poll_cap: Duration,
    /// Renew the lock every third of its TTL while the push runs.
    pub keep_alive: bool,
    /// Replay commits in the object database when possible (see `replay`);
    /// false always uses `git rebase`.
    pub replay: bool,
    /// Let the lock holder land our commits while we wait, and land those
    /// of the waiters when we hold it (see `queue`).
    pub batch: bool,
    /// At most this many waiters in one landing.
    pub batch_limit: usize,
}

impl PushSettings {
    /// Settings from weft.yaml and the command line, for the process's own
    /// holder identity.
    pub fn resolve(config: &PushConfig, request: PushRequest) -> Result<Self, SettingsError> {
        PushSettings::resolve_for(config, request, Holder::from_environment())
    }

    /// Settings for a given holder (tests, and runs that describe themselves).
    pub fn resolve_for(
        config: &PushConfig,
        request: PushRequest,
        holder: Holder,
    ) -> Result<Self, SettingsError> {
        let remote = request
            .remote
            .or_else(|| config.remote.clone())
            .unwrap_or_else(|| "origin".to_string());
        if remote.trim().is_empty() || remote.starts_with('-') {
            return Err(SettingsError::Invalid {
                what: "remote",
                value: remote,
                reason: "a remote is a name such as `origin` or a URL",
            });
        }
        let branch = request.branch.or_else(|| config.branch.clone());
        if let Some(branch) = &branch {
            check_branch(branch)?;
        }
        let class = match (&request.priority, request.class) {
            (Some(_), _) => None,
            (None, Some(class)) => Some(class),
            (None, None) => holder
                .workflow
                .as_ref()
                .and_then(|workflow| config.classes.get(workflow).cloned()),
        };
        Ok(PushSettings {
            remote,
            branch,
            message: request.message,
            add: request.add,
            priority: request.priority,
            class,
            retries: request
                .retries
                .or(config.retries)
                .unwrap_or(DEFAULT_RETRIES),
            lock_ttl: request
                .lock_ttl
                .or(config.lock_ttl.map(|d| d.0))
                .unwrap_or(DEFAULT_LOCK_TTL)
                .max(Duration::from_millis(100)),
            lock_wait: request
                .lock_wait
                .or(config.lock_wait.map(|d| d.0))
                .unwrap_or(DEFAULT_LOCK_WAIT),
            emergency: request.emergency,
            policies: PolicyRules::from_config(config)?,
            holder,
            retry_base: Duration::from_millis(200),
            retry_cap: Duration::from_secs(10),
            poll_base: Duration::from_millis(25),
            poll_cap: Duration::from_millis(500),
            keep_alive: true,
            replay: true,
            batch: request.batch.or(config.batch).unwrap_or(true),
            batch_limit: 32,
        })
    }
}

/// A branch name git accepts under `refs/heads/`.
pub(crate) fn check_branch(branch: &str) -> Result<(), SettingsError> {
    let bad = branch.is_empty()
        || branch.starts_with('-')
        || branch.starts_with('/')
        || branch.ends_with('/')
        || branch.ends_with(".lock")
        || branch.ends_with('.')
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
        || branch.split('/').any(|part| part.starts_with('.'));
    if bad {
        return Err(SettingsError::Invalid {
            what: "branch",
            value: branch.to_string(),
            reason: "git does not accept it as a branch name",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pairs: &[(&str, PathPolicy)]) -> PolicyRules {
        PolicyRules::new(pairs.iter().map(|(g, p)| (g.to_string(), p.clone()))).unwrap()
    }

    #[test]
    fn the_first_matching_glob_wins_and_names_match_at_any_depth() {
        let rules = rules(&[
            ("data/**", PathPolicy::Mine),
            ("CHANGELOG.md", PathPolicy::Union),
            ("src/*.rs", PathPolicy::Fail),
            ("**", PathPolicy::Theirs),
        ]);
        let name = |path: &str| rules.policy_for(path).0.name();
        assert_eq!(name("data/a/b.json"), "mine");
        assert_eq!(name("CHANGELOG.md"), "union");
        assert_eq!(name("docs/CHANGELOG.md"), "union");
        assert_eq!(name("src/main.rs"), "fail");
        assert_eq!(name("src/nested/main.rs"), "theirs");
        assert_eq!(name("sub/data/x.json"), "theirs");
    }

    #[test]
    fn data_files_default_to_mine_and_code_to_theirs() {
        let rules = rules(&[]);
        for path in [
            "data/x.json",
            "sub/data/y.yaml",
            "results.csv",
            "a/b.tsv",
            "events.jsonl",
            "log.ndjson",
        ] {
            assert_eq!(
                rules.policy_for(path),
                (&PathPolicy::Mine, PolicySource::DefaultData),
                "{path}"
            );
        }
        for path in ["src/main.rs", "package.json", ".github/workflows/ci.yml"] {
            assert_eq!(
                rules.policy_for(path),
                (&PathPolicy::Theirs, PolicySource::DefaultCode),
                "{path}"
            );
        }
    }

    #[test]
    fn bad_globs_and_branches_are_refused() {
        let error = PolicyRules::new([("a[".to_string(), PathPolicy::Mine)]).unwrap_err();
        assert!(error.to_string().contains("a["), "{error}");
        assert!(check_branch("feature/x").is_ok());
        for bad in ["", "-x", "a..b", "a b", "x.lock", "a/.b", "a:b"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classes_come_from_the_workflow_unless_asked() {
        let mut config = PushConfig::default();
        config
            .classes
            .insert("nightly".to_string(), "batch".to_string());
        let holder = Holder {
            workflow: Some("nightly".to_string()),
            ..Holder::default()
        };
        let settings =
            PushSettings::resolve_for(&config, PushRequest::default(), holder.clone()).unwrap();
        assert_eq!(settings.class.as_deref(), Some("batch"));
        assert_eq!(settings.retries, DEFAULT_RETRIES);
        assert_eq!(settings.remote, "origin");
        let request = PushRequest {
            priority: Some(5),
            ..PushRequest::default()
        };
        let settings = PushSettings::resolve_for(&config, request, holder).unwrap();
        assert_eq!(settings.class, None);
    }
}
