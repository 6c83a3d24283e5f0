//! Checks the workflows of one repository together: every job on its own,
//! each called workflow in the context of its callers, then the races
//! between jobs.

use std::collections::{HashMap, HashSet};

use crate::context::JobContext;
use crate::finding::Finding;
use crate::job_facts::JobFacts;
use crate::job_rules::{self, RepositoryFacts};
use crate::push::{Mechanism, PushSummary};
use crate::race;
use crate::rule::Rule;
use crate::workflow::Workflow;

/// What checking one repository found.
#[derive(Debug, Default)]
pub struct RepositoryCheck {
    pub findings: Vec<Finding>,
    pub pushes: Vec<PushSummary>,
}

/// Checks the workflows of one repository; findings of rules in `ignore`,
/// and those a `# weft: ignore` comment covers, are left out.
pub fn check_repository(workflows: &[Workflow], ignore: &[Rule]) -> RepositoryCheck {
    let facts: Vec<Vec<JobFacts>> = workflows
        .iter()
        .map(|workflow| {
            workflow
                .jobs
                .iter()
                .map(|job| JobFacts::read(workflow, job))
                .collect()
        })
        .collect();
    let mut repository = RepositoryFacts::default();
    for workflow in workflows {
        repository
            .source_branches
            .extend(workflow.triggers.source_branches.iter().cloned());
    }
    let mut findings = Vec::new();
    let callers = callers(workflows, &mut findings);
    let mut contexts = Vec::new();
    let mut callerless = Vec::new();
    for (workflow_index, workflow) in workflows.iter().enumerate() {
        let standalone = workflow.triggers.standalone() || workflow.triggers.events.is_empty();
        let called_by = callers
            .get(&workflow_index)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (job_index, job) in workflow.jobs.iter().enumerate() {
            let facts = &facts[workflow_index][job_index];
            let context = JobContext {
                workflow,
                job,
                facts,
                caller: None,
            };
            if standalone {
                contexts.push(context);
            }
            for &(caller_workflow, caller_job) in called_by {
                let caller = &workflows[caller_workflow];
                contexts.push(JobContext {
                    caller: Some((caller, &caller.jobs[caller_job])),
                    ..context
                });
            }
            if !standalone && called_by.is_empty() {
                callerless.push(context);
                if let Some(push) = facts.pushes.first() {
                    findings.push(
                        Finding::new(
                            Rule::ReusableWorkflow,
                            &workflow.file,
                            push.location,
                            format!(
                                "job `{}` runs only when another workflow calls this one (`workflow_call`), and no caller is among the checked files: its concurrency and permissions come from the caller and are not checked",
                                job.id
                            ),
                        )
                        .in_job(&job.id),
                    );
                }
            }
        }
    }
    for context in &contexts {
        findings.extend(job_rules::check(context, &repository, true));
    }
    for context in &callerless {
        findings.extend(job_rules::check(context, &repository, false));
    }
    findings.extend(race::check(&contexts, &repository));
    let findings = tidy(findings, workflows, ignore);
    let pushes = summaries(workflows, &facts);
    RepositoryCheck { findings, pushes }
}

/// For each workflow, the jobs that call it (`uses: ./.github/workflows/x.yml`);
/// calls weft cannot follow become notes.
fn callers(
    workflows: &[Workflow],
    findings: &mut Vec<Finding>,
) -> HashMap<usize, Vec<(usize, usize)>> {
    let mut callers: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
    for (workflow_index, workflow) in workflows.iter().enumerate() {
        for (job_index, job) in workflow.jobs.iter().enumerate() {
            let Some(call) = &job.calls else {
                continue;
            };
            let local = call.target.strip_prefix("./").map(|path| {
                let name = path.rsplit('/').next().unwrap_or(path);
                workflows
                    .iter()
                    .position(|w| w.file == name || w.file.ends_with(&format!("/{name}")))
            });
            match local {
                Some(Some(callee)) => callers.entry(callee).or_default().push((workflow_index, job_index)),
                Some(None) => findings.push(
                    Finding::new(
                        Rule::ReusableWorkflow,
                        &workflow.file,
                        call.location,
                        format!(
                            "job `{}` calls `{}`, which is not among the checked files: what it pushes is not checked",
                            job.id, call.target
                        ),
                    )
                    .in_job(&job.id),
                ),
                None => findings.push(
                    Finding::new(
                        Rule::ReusableWorkflow,
                        &workflow.file,
                        call.location,
                        format!(
                            "job `{}` calls the reusable workflow `{}` from another repository: weft cannot see what it pushes; check that repository too{}",
                            job.id,
                            call.target,
                            if job.concurrency.is_some() || workflow.concurrency.is_some() {
                                " (its jobs run under this workflow's concurrency group)"
                            } else {
                                ""
                            }
                        ),
                    )
                    .in_job(&job.id),
                ),
            }
        }
    }
    callers
}

/// Removes duplicates (a job checked in several contexts), ignored rules and
/// suppressed findings, and sorts by place.
fn tidy(findings: Vec<Finding>, workflows: &[Workflow], ignore: &[Rule]) -> Vec<Finding> {
    let texts: HashMap<&str, &str> = workflows
        .iter()
        .map(|w| (w.file.as_str(), w.text.as_str()))
        .collect();
    let mut seen = HashSet::new();
    let mut kept: Vec<Finding> = findings
        .into_iter()
        .filter(|f| !ignore.contains(&f.rule))
        .filter(|f| seen.insert((f.rule, f.file.clone(), f.line, f.column, f.message.clone())))
        .filter(|f| {
            texts
                .get(f.file.as_str())
                .is_none_or(|text| !suppressed(text, f.line, f.rule))
        })
        .collect();
    kept.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.rule).cmp(&(&b.file, b.line, b.column, b.rule))
    });
    kept
}

/// Whether a `# weft: ignore` or `# weft: ignore[rule, …]` comment on the
/// line, or alone on the line above, covers `rule`.
pub(crate) fn suppressed(text: &str, line: u32, rule: Rule) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let index = (line as usize).saturating_sub(1);
    let covers = |source: &str| {
        let Some(comment) = source.find('#').map(|i| &source[i + 1..]) else {
            return false;
        };
        let Some(rest) = comment.trim_start().strip_prefix("weft: ignore") else {
            return false;
        };
        match rest.trim_start().strip_prefix('[') {
            Some(list) => list
                .split(']')
                .next()
                .unwrap_or_default()
                .split(',')
                .any(|id| id.trim() == rule.as_str()),
            None => true,
        }
    };
    lines.get(index).is_some_and(|l| covers(l))
        || index
            .checked_sub(1)
            .and_then(|above| lines.get(above))
            .is_some_and(|l| l.trim_start().starts_with('#') && covers(l))
}

fn summaries(workflows: &[Workflow], facts: &[Vec<JobFacts>]) -> Vec<PushSummary> {
    let mut summaries = Vec::new();
    for (workflow, jobs) in workflows.iter().zip(facts) {
        for (job, facts) in workflow.jobs.iter().zip(jobs) {
            for push in &facts.pushes {
                let branch = match &push.target {
                    crate::push::Target::Trigger => {
                        workflow.triggers.refs.describe().replace('`', "")
                    }
                    other => crate::fix::branch_input(other),
                };
                summaries.push(PushSummary {
                    file: workflow.file.clone(),
                    line: push.location.line,
                    column: push.location.column,
                    job: job.id.clone(),
                    mechanism: match &push.mechanism {
                        Mechanism::Git => "git".into(),
                        Mechanism::Weft => "weft".into(),
                        Mechanism::Action(name) => name.clone(),
                    },
                    branch,
                    force: push.force,
                    retry_safe: push.retry.is_safe(),
                });
            }
        }
    }
    summaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_suppress_on_the_line_or_above() {
        let text = "a: 1 # weft: ignore[push-without-retry]\n# weft: ignore\nb: 2\nc: 3 # weft: ignore[other]\n";
        assert!(suppressed(text, 1, Rule::PushWithoutRetry));
        assert!(!suppressed(text, 1, Rule::ForcePushSharedBranch));
        assert!(suppressed(text, 3, Rule::ForcePushSharedBranch));
        assert!(!suppressed(text, 4, Rule::PushWithoutRetry));
    }
}
