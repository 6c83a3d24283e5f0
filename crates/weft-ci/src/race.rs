//! `uncoordinated-pushes`: pushes to one branch from jobs that can run at
//! the same time — two workflows, two jobs of a run that do not `need` each
//! other, or the copies of a matrix job — with nothing in common to
//! serialize them.

use std::collections::{BTreeSet, HashSet};

use crate::context::JobContext;
use crate::finding::{Finding, Fix, Related};
use crate::fix;
use crate::job_rules::{RepositoryFacts, concrete, describe_target};
use crate::push::Push;
use crate::rule::Rule;
use crate::triggers::BranchSet;
use crate::workflow::Workflow;

/// A job that pushes to a shared branch, as the race rule sees it.
struct Pusher<'a> {
    context: JobContext<'a>,
    push: &'a Push,
    branches: BranchSet,
    retry_safe: bool,
}

pub(crate) fn check(contexts: &[JobContext<'_>], repository: &RepositoryFacts) -> Vec<Finding> {
    let pushers: Vec<Pusher<'_>> = contexts
        .iter()
        .filter_map(|context| {
            let contended: Vec<&Push> = context
                .facts
                .pushes
                .iter()
                .filter(|p| p.is_shared() && !p.target_is_detached(context))
                .collect();
            let push = contended.first()?;
            Some(Pusher {
                context: *context,
                push,
                branches: contended.iter().fold(BranchSet::default(), |mut set, p| {
                    set.union(&p.target.branches(context.refs()));
                    set
                }),
                retry_safe: contended.iter().all(|p| p.retry.is_safe()),
            })
        })
        .collect();
    let mut findings = Vec::new();
    let mut reported = HashSet::new();
    for (index, first) in pushers.iter().enumerate() {
        matrix(first, repository, &mut findings);
        let mut others = Vec::new();
        for second in &pushers[index + 1..] {
            let key = (identity(&first.context), identity(&second.context));
            let same_site = first.context.workflow.file == second.context.workflow.file
                && first.push.location == second.push.location;
            if key.0 == key.1 || same_site || !reported.insert(key) {
                continue;
            }
            if first.retry_safe && second.retry_safe || !first.branches.overlaps(&second.branches) {
                continue;
            }
            let same_run =
                std::ptr::eq(first.context.run_workflow(), second.context.run_workflow());
            if same_run
                && ordered(
                    first.context.run_workflow(),
                    &first.context.run_job().id,
                    &second.context.run_job().id,
                )
            {
                continue;
            }
            let shared = {
                let ours: BTreeSet<String> = first
                    .context
                    .coordination_keys(same_run)
                    .into_iter()
                    .collect();
                second
                    .context
                    .coordination_keys(same_run)
                    .iter()
                    .any(|key| ours.contains(key))
            };
            if !shared {
                others.push((second, same_run));
            }
        }
        if !others.is_empty() {
            findings.push(race(first, &others));
        }
    }
    findings
}

impl Push {
    /// A push of "the triggering ref" in a workflow whose runs start on no
    /// branch (releases, tags).
    fn target_is_detached(&self, context: &JobContext<'_>) -> bool {
        self.target.branches(context.refs()).is_empty()
    }
}

/// Which job, in which workflow, a context runs as.
fn identity(context: &JobContext<'_>) -> (String, String, String) {
    (
        context.run_workflow().file.clone(),
        context.run_job().id.clone(),
        context.workflow.file.clone() + "#" + &context.job.id,
    )
}

/// Whether one of two jobs of a workflow waits for the other through `needs`.
fn ordered(workflow: &Workflow, first: &str, second: &str) -> bool {
    depends(workflow, first, second) || depends(workflow, second, first)
}

fn depends(workflow: &Workflow, job: &str, on: &str) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![job.to_string()];
    while let Some(current) = stack.pop() {
        if !seen.insert(current.clone()) {
            continue;
        }
        if let Some(found) = workflow.job(&current) {
            for need in &found.needs {
                if need == on {
                    return true;
                }
                stack.push(need.clone());
            }
        }
    }
    false
}

fn race(first: &Pusher<'_>, others: &[(&Pusher<'_>, bool)]) -> Finding {
    let file = &first.context.workflow.file;
    let common = others
        .iter()
        .fold(BranchSet::default(), |mut set, (other, _)| {
            set.union(&first.branches.common(&other.branches));
            set
        });
    let branch = if common.is_empty() {
        describe_target(first.push, &first.context)
    } else {
        common.describe()
    };
    let first_job = &first.context.job.id;
    let mut names: Vec<String> = others
        .iter()
        .map(|(other, same_run)| {
            if *same_run {
                format!("job `{}` of the same run", other.context.job.id)
            } else {
                format!(
                    "job `{}` of {}",
                    other.context.job.id, other.context.workflow.file
                )
            }
        })
        .collect();
    let last = names.pop().unwrap_or_default();
    let (listed, verb) = if names.is_empty() {
        (last, "both push")
    } else {
        (format!("{}, and {last}", names.join(", ")), "all push")
    };
    let group = match (
        common.names.len(),
        common.any || common.default || common.pull_request,
    ) {
        (1, false) => format!("push-{}", common.example()),
        _ => fix::group_for(&concrete(first.push, &first.context)),
    };
    let mut finding = Finding::new(
        Rule::UncoordinatedPushes,
        file,
        first.push.location,
        format!(
            "job `{first_job}` and {listed} {verb} to {branch} with no concurrency group or lock in common: when they run at once one push is rejected, or, forced, overwrites the other"
        ),
    )
    .in_job(first_job)
    .with_fix(
        Fix::new(format!(
            "land these pushes with weft's step (its push lock is per branch, whatever the workflow, and it rebases and retries), or give the jobs one concurrency group (`{group}`)"
        ))
        .with_snippet(fix::weft_step(
            &concrete(first.push, &first.context),
            first.push.message.as_deref(),
        )),
    );
    for (other, _) in others {
        finding = finding.with_related(Related::new(
            &other.context.workflow.file,
            other.push.location,
            format!("job `{}` pushes here", other.context.job.id),
        ));
    }
    finding
}

/// The copies of a matrix job pushing to the same branch at once.
fn matrix(pusher: &Pusher<'_>, repository: &RepositoryFacts, findings: &mut Vec<Finding>) {
    let job = pusher.context.job;
    let serialized = job.one_at_a_time
        || pusher
            .context
            .job_groups()
            .iter()
            .any(|group| !group.group.contains("matrix."));
    if !job.matrix
        || serialized
        || pusher.retry_safe
        || pusher.push.matrix_condition
        || !repository.is_contended(pusher.push, &pusher.context)
    {
        return;
    }
    let branch = describe_target(pusher.push, &pusher.context);
    findings.push(
        Finding::new(
            Rule::UncoordinatedPushes,
            &pusher.context.workflow.file,
            pusher.push.location,
            format!(
                "the copies of matrix job `{}` run at once and all push to {branch}: all but the first push are rejected",
                job.id
            ),
        )
        .in_job(&job.id)
        .with_fix(
            Fix::new("land each copy's push with weft's step, or push once from a job that `needs` the matrix")
                .with_snippet(fix::weft_step(
                    &concrete(pusher.push, &pusher.context),
                    pusher.push.message.as_deref(),
                )),
        ),
    );
}
