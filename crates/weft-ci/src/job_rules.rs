//! The rules that look at one job at a time: retries, force pushes,
//! concurrency, permissions, rebase options and locks.

use std::collections::BTreeSet;

use crate::concurrency::Cancel;
use crate::context::JobContext;
use crate::finding::{Finding, Fix, Related};
use crate::fix;
use crate::permissions::ContentsAccess;
use crate::push::{Credential, Mechanism, Push, PushKind, Retry, Target};
use crate::rule::Rule;
use crate::triggers::DEFAULT_NAMES;

/// Branch names people push to, besides those the workflows' filters name.
const SOURCE_NAMES: &[&str] = &[
    "main",
    "master",
    "develop",
    "development",
    "dev",
    "trunk",
    "next",
];

/// Facts about the repository every job rule may need.
#[derive(Debug, Default)]
pub(crate) struct RepositoryFacts {
    /// Branches named in any workflow's `push`/`pull_request` filters.
    pub source_branches: BTreeSet<String>,
}

impl RepositoryFacts {
    /// Whether people (or other jobs) push commits to the target's branch,
    /// as opposed to a branch only deploys write (`gh-pages`).
    pub(crate) fn is_source(&self, target: &Target) -> bool {
        match target {
            Target::Branch(name) => {
                SOURCE_NAMES.contains(&name.as_str())
                    || DEFAULT_NAMES.contains(&name.as_str())
                    || self.source_branches.contains(name)
            }
            Target::Trigger | Target::DefaultBranch | Target::PullRequestHead => true,
            Target::Dynamic(_) | Target::Tags => false,
        }
    }

    /// A push the other rules judge: to a shared branch, and not a forced
    /// deploy to a branch only deploys write (which replaces it by design).
    pub(crate) fn is_contended(&self, push: &Push, context: &JobContext<'_>) -> bool {
        let deploy_by_design =
            push.force && push.kind == PushKind::Deploy && !self.is_source(&push.target);
        let detached = push.target == Target::Trigger && context.refs().is_empty();
        push.is_shared() && !deploy_by_design && !detached
    }
}

/// The target with "the triggering ref" made concrete when the workflow's
/// runs can only be on one branch (`on.push.branches: [main]`), for fixes.
pub(crate) fn concrete(push: &Push, context: &JobContext<'_>) -> Target {
    let refs = context.refs();
    let single = refs.names.len() == 1 && !refs.any && !refs.pull_request;
    match refs.names.iter().next() {
        Some(name)
            if push.target == Target::Trigger
                && single
                && (!refs.default || DEFAULT_NAMES.contains(&name.as_str())) =>
        {
            Target::Branch(name.clone())
        }
        _ => push.target.clone(),
    }
}

/// The branch of a push, for messages.
pub(crate) fn describe_target(push: &Push, context: &JobContext<'_>) -> String {
    match &push.target {
        Target::Branch(name) => format!("`{name}`"),
        Target::Trigger => context.refs().describe(),
        Target::DefaultBranch => "the default branch".into(),
        Target::PullRequestHead => "the pull request's branch".into(),
        Target::Dynamic(text) => format!("`{text}`"),
        Target::Tags => "tags".into(),
    }
}

/// Runs the job rules over one job in one context. `known` is false for a
/// reusable workflow whose callers weft did not find: its triggers,
/// concurrency and permissions are then the callers' business.
pub(crate) fn check(
    context: &JobContext<'_>,
    repository: &RepositoryFacts,
    known: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let file = &context.workflow.file;
    let job = &context.job.id;
    let finding =
        |rule: Rule, at, message: String| Finding::new(rule, file, at, message).in_job(job);
    let mut reported = Vec::new();
    for push in &context.facts.pushes {
        let contended = repository.is_contended(push, context);
        let branch = describe_target(push, context);
        let step = fix::weft_step(&concrete(push, context), push.message.as_deref());
        let detached = push.target == Target::Trigger && context.refs().is_empty();
        if push.force && push.is_shared() && !detached && repository.is_source(&push.target) {
            findings.push(
                finding(
                    Rule::ForcePushSharedBranch,
                    push.location,
                    format!(
                        "{} force-pushes to {branch}: commits that landed there since this job checked out (from other runs, other workflows, people) are overwritten",
                        push.describe()
                    ),
                )
                .with_fix(
                    Fix::new("land the commit with weft push, which rebases onto what landed instead of overwriting it")
                        .with_snippet(&step),
                ),
            );
            continue;
        }
        match &push.retry {
            // A pull request's branch: a newer run redoes the work, so a
            // rejected push loses nothing (concurrency is what matters there).
            Retry::None { rebased_first }
                if contended
                    && !push.force
                    && push.target != Target::PullRequestHead
                    // `git push || (git pull --rebase && git push)`: once per step.
                    && !reported.contains(&(push.step, &push.target)) =>
            {
                reported.push((push.step, &push.target));
                let how = match push.mechanism {
                    Mechanism::Git => "with a plain `git push`".to_string(),
                    _ => format!(
                        "with {}, which pushes once and does not retry",
                        push.describe()
                    ),
                };
                let narrowed = if *rebased_first {
                    "; the pull/rebase just before it narrows the window but another push can still land in between"
                } else {
                    ""
                };
                findings.push(
                    finding(
                        Rule::PushWithoutRetry,
                        push.location,
                        format!(
                            "job `{job}` pushes to {branch} {how}: when another push lands first it is rejected as non-fast-forward and the job fails{narrowed}"
                        ),
                    )
                    .with_fix(
                        Fix::new("replace the push with weft's step: it takes the branch's push lock, fetches, rebases with path policies and retries with backoff")
                            .with_snippet(&step),
                    ),
                );
            }
            Retry::BrokenLoop { reasons } => {
                let what: Vec<&str> = reasons.iter().map(|(what, _)| what.as_str()).collect();
                let verb = if what.len() == 1 { "is" } else { "are" };
                let mut found = finding(
                    Rule::RetryLoopAborts,
                    push.location,
                    format!(
                        "this retry loop runs under `bash -e` (GitHub's default shell) and {} {verb} not guarded: the first failure ends the step instead of retrying",
                        what.join(" and ")
                    ),
                )
                .with_fix(
                    Fix::new("guard both commands (`git pull --rebase || { git rebase --abort; continue; }` and `git push && break`), or let weft's step do the loop")
                        .with_snippet(&step),
                );
                for (what, at) in reasons {
                    found = found.with_related(Related::new(
                        file,
                        *at,
                        format!("{what} fails the step here"),
                    ));
                }
                findings.push(found);
            }
            Retry::LoopWithoutRebase { location } if contended => {
                findings.push(
                    finding(
                        Rule::RetryWithoutRebase,
                        *location,
                        format!(
                            "this loop pushes to {branch} again without pulling or rebasing first: a rejected push is rejected the same way on every attempt"
                        ),
                    )
                    .with_fix(
                        Fix::new("integrate the remote's changes in the loop (`git pull --rebase`), or let weft's step do it")
                            .with_snippet(&step),
                    ),
                );
            }
            _ => {}
        }
    }
    if known {
        concurrency(context, repository, &mut findings);
        permissions(context, &mut findings);
    }
    for (location, option, command) in &context.facts.strategy_options {
        let meaning = if option == "ours" {
            "keeps the branch being rebased onto — what others pushed — and drops this job's side of each conflict"
        } else {
            "keeps this job's commits and overwrites what others pushed on each conflict"
        };
        findings.push(
            finding(
                Rule::RebaseOursTheirs,
                *location,
                format!("`{command} -X {option}` {meaning}: during a rebase `ours` and `theirs` are swapped relative to a merge"),
            )
            .with_fix(
                Fix::new("name the side by meaning with weft push's path policies in weft.yaml (`mine` is this job's change, `theirs` what landed)")
                    .with_snippet("push:\n  policies:\n    \"data/**\": mine\n    \"**\": theirs\n"),
            ),
        );
    }
    for (lock, location) in &context.facts.locks {
        let message = match lock.action {
            "softprops/turnstyle" => format!(
                "`{}` waits for earlier runs of this workflow by polling the API: other workflows pushing the same branch are not covered, and long queues spend the API rate limit",
                lock.action
            ),
            "ben-z/gh-action-mutex" => format!(
                "`{}` holds its lock in a branch: a run cancelled or killed before its post step leaves the lock held until someone deletes it",
                lock.action
            ),
            // weft's own leases expire; nothing to say.
            _ => continue,
        };
        findings.push(
            finding(Rule::LockAction, *location, message).with_fix(
                Fix::new("weft's step takes the branch's push lock with a TTL (a lock ref on the remote, or a weft server lease), taken over when a crashed run lets it expire")
                    .with_snippet(fix::weft_step(&Target::Trigger, None)),
            ),
        );
    }
    findings
}

/// `push-without-concurrency`, `cancel-in-progress-push`, `concurrency-drops-pending`.
fn concurrency(
    context: &JobContext<'_>,
    repository: &RepositoryFacts,
    findings: &mut Vec<Finding>,
) {
    let file = &context.workflow.file;
    let job = &context.job.id;
    let contended: Vec<&Push> = context
        .facts
        .pushes
        .iter()
        .filter(|p| repository.is_contended(p, context) && p.kind != PushKind::PullRequestBranch)
        .collect();
    let Some(first) = contended.first() else {
        return;
    };
    let branch = describe_target(first, context);
    let groups = context.groups();
    let locked = !context.facts.locks.is_empty();
    let unsafe_push = contended.iter().find(|p| !p.retry.is_safe() && !p.force);
    // Pushes to a pull request's branch, and deploys: the newest run should
    // win, so cancelling older runs is right.
    let pull_request = |push: &Push| push.target == Target::PullRequestHead;
    let latest_wins = contended
        .iter()
        .all(|p| pull_request(p) || p.kind == PushKind::Deploy);
    if let (true, false, Some(push)) = (groups.is_empty(), locked, unsafe_push) {
        let found = if pull_request(push) {
            Finding::new(
                Rule::PushWithoutConcurrency,
                file,
                push.location,
                format!(
                    "job `{job}` pushes to the pull request's branch and nothing stops two runs for one pull request pushing at once: the second push is rejected, and when that is the newer run its changes are lost"
                ),
            )
            .with_fix(
                Fix::new("one group per pull request that cancels the older run, whose work the newer one redoes")
                    .with_snippet("concurrency:\n  group: ${{ github.workflow }}-${{ github.head_ref }}\n  cancel-in-progress: true\n"),
            )
        } else {
            let target = concrete(push, context);
            let group = fix::group_for(&target);
            Finding::new(
                Rule::PushWithoutConcurrency,
                file,
                push.location,
                format!(
                    "job `{job}` pushes to {branch} and nothing stops two runs of it pushing at once (no concurrency group, no lock): the later push is rejected"
                ),
            )
            .with_fix(
                Fix::new(format!(
                    "land the push with weft's step (runs wait for the branch's push lock in turn), or serialize the runs with a concurrency group that queues (`{group}`)"
                ))
                .with_snippet(format!(
                    "{}\n# or, at the top of the workflow:\n{}",
                    fix::weft_step(&target, push.message.as_deref()),
                    fix::queued_concurrency(&group)
                )),
            )
        };
        findings.push(found.in_job(job));
    }
    if latest_wins {
        return;
    }
    for group in groups {
        let at = group.cancel_location.unwrap_or(group.location);
        let own = context.job.concurrency.as_ref() == Some(group)
            || context.workflow.concurrency.as_ref() == Some(group);
        let group_file = if own {
            file.clone()
        } else {
            context.run_workflow().file.clone()
        };
        match group.cancel {
            Cancel::Yes => findings.push(
                Finding::new(
                    Rule::CancelInProgressPush,
                    &group_file,
                    at,
                    format!(
                        "`cancel-in-progress: true` cancels a running `{job}` when a newer run starts, possibly between its commit and its push to {branch}: that run's work is lost (harmless only if every run regenerates everything from the newest commit)"
                    ),
                )
                .in_job(job)
                .with_fix(
                    Fix::new("let pushing runs finish: `cancel-in-progress: false` with `queue: max`, or drop the group and land with weft's step")
                        .with_snippet(fix::queued_concurrency(&group.group)),
                ),
            ),
            Cancel::No | Cancel::Conditional(_) if !group.queue => findings.push(
                Finding::new(
                    Rule::ConcurrencyDropsPending,
                    &group_file,
                    group.location,
                    format!(
                        "group `{}` holds one running and one pending run of `{job}`; a third run cancels the pending one, so runs that push to {branch} are dropped, not queued",
                        group.group
                    ),
                )
                .in_job(job)
                .with_fix(
                    Fix::new("add `queue: max` (up to 100 runs wait in order), or drop the group and land with weft's step, whose push lock queues without dropping anyone")
                        .with_snippet(fix::queued_concurrency(&group.group)),
                ),
            ),
            _ => {}
        }
    }
}

/// `missing-contents-write` and `permissions-not-declared`.
fn permissions(context: &JobContext<'_>, findings: &mut Vec<Finding>) {
    let file = &context.workflow.file;
    let job = &context.job.id;
    let pushes: Vec<&Push> = context
        .facts
        .pushes
        .iter()
        .filter(|p| {
            p.credential == Credential::DefaultToken
                && p.repository.is_none()
                && p.target != Target::Tags
        })
        .collect();
    let Some(first) = pushes.first() else {
        return;
    };
    match context.permissions() {
        Some(permissions) if matches!(permissions.contents, ContentsAccess::Read | ContentsAccess::None) => {
            let permissions_file = if context.job.permissions.as_ref() == Some(permissions)
                || context.workflow.permissions.as_ref() == Some(permissions)
            {
                file.clone()
            } else {
                context.run_workflow().file.clone()
            };
            for push in pushes {
                findings.push(
                    Finding::new(
                        Rule::MissingContentsWrite,
                        file,
                        push.location,
                        format!(
                            "job `{job}` pushes with the workflow's GITHUB_TOKEN, but its permissions give {}: the push fails with 403",
                            permissions.summary
                        ),
                    )
                    .in_job(job)
                    .with_fix(
                        Fix::new(format!("grant `contents: write` to job `{job}` (or push with a token of its own)"))
                            .with_snippet(fix::CONTENTS_WRITE),
                    )
                    .with_related(Related::new(&permissions_file, permissions.location, "permissions set here")),
                );
            }
        }
        Some(_) => {}
        None => findings.push(
            Finding::new(
                Rule::PermissionsNotDeclared,
                file,
                context.job.location,
                format!(
                    "job `{job}` pushes with the workflow's GITHUB_TOKEN but declares no `permissions`: repositories created since February 2023 default to read-only, and the push then fails with 403"
                ),
            )
            .in_job(job)
            .with_fix(
                Fix::new(format!("declare what job `{job}` needs")).with_snippet(fix::CONTENTS_WRITE),
            )
            .with_related(Related::new(file, first.location, "pushes here")),
        ),
    }
}
