//! The rules of `weft ci check`: stable ids, severities and what each means.

use serde::Serialize;
use weft_model::Severity;

/// One rule. The kebab-case id is stable: JSON output, `--ignore` and
/// `# weft: ignore[…]` comments name rules by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    PushWithoutRetry,
    PushWithoutConcurrency,
    CancelInProgressPush,
    ConcurrencyDropsPending,
    MissingContentsWrite,
    PermissionsNotDeclared,
    UncoordinatedPushes,
    RetryLoopAborts,
    RetryWithoutRebase,
    ForcePushSharedBranch,
    RebaseOursTheirs,
    LockAction,
    ReusableWorkflow,
    YamlSyntax,
    InvalidWorkflow,
}

impl Rule {
    pub const ALL: [Rule; 15] = [
        Rule::PushWithoutRetry,
        Rule::PushWithoutConcurrency,
        Rule::CancelInProgressPush,
        Rule::ConcurrencyDropsPending,
        Rule::MissingContentsWrite,
        Rule::PermissionsNotDeclared,
        Rule::UncoordinatedPushes,
        Rule::RetryLoopAborts,
        Rule::RetryWithoutRebase,
        Rule::ForcePushSharedBranch,
        Rule::RebaseOursTheirs,
        Rule::LockAction,
        Rule::ReusableWorkflow,
        Rule::YamlSyntax,
        Rule::InvalidWorkflow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::PushWithoutRetry => "push-without-retry",
            Rule::PushWithoutConcurrency => "push-without-concurrency",
            Rule::CancelInProgressPush => "cancel-in-progress-push",
            Rule::ConcurrencyDropsPending => "concurrency-drops-pending",
            Rule::MissingContentsWrite => "missing-contents-write",
            Rule::PermissionsNotDeclared => "permissions-not-declared",
            Rule::UncoordinatedPushes => "uncoordinated-pushes",
            Rule::RetryLoopAborts => "retry-loop-aborts",
            Rule::RetryWithoutRebase => "retry-without-rebase",
            Rule::ForcePushSharedBranch => "force-push-shared-branch",
            Rule::RebaseOursTheirs => "rebase-ours-theirs",
            Rule::LockAction => "lock-action",
            Rule::ReusableWorkflow => "reusable-workflow",
            Rule::YamlSyntax => "yaml-syntax",
            Rule::InvalidWorkflow => "invalid-workflow",
        }
    }

    pub fn parse(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.as_str() == id)
    }

    pub fn severity(self) -> Severity {
        match self {
            Rule::PushWithoutRetry
            | Rule::MissingContentsWrite
            | Rule::UncoordinatedPushes
            | Rule::RetryLoopAborts
            | Rule::ForcePushSharedBranch
            | Rule::YamlSyntax
            | Rule::InvalidWorkflow => Severity::Error,
            Rule::PushWithoutConcurrency
            | Rule::CancelInProgressPush
            | Rule::ConcurrencyDropsPending
            | Rule::PermissionsNotDeclared
            | Rule::RetryWithoutRebase
            | Rule::RebaseOursTheirs => Severity::Warning,
            Rule::LockAction | Rule::ReusableWorkflow => Severity::Note,
        }
    }

    /// Whether the rule reports a file weft could not read (exit 2), rather
    /// than a problem in a workflow (exit 1).
    pub fn is_input_error(self) -> bool {
        matches!(self, Rule::YamlSyntax | Rule::InvalidWorkflow)
    }

    /// One line on what the rule finds, for `--list-rules` and the docs.
    pub fn summary(self) -> &'static str {
        match self {
            Rule::PushWithoutRetry => {
                "a push to a shared branch that fails when another push landed first (no rebase-and-retry loop, not weft push)"
            }
            Rule::PushWithoutConcurrency => {
                "a job pushes to a shared branch, and nothing (concurrency group, lock, weft push) stops two runs pushing at once"
            }
            Rule::CancelInProgressPush => {
                "`cancel-in-progress: true` on a pushing job: a newer run cancels one mid-push and its commit is lost"
            }
            Rule::ConcurrencyDropsPending => {
                "a concurrency group without `queue: max` keeps one pending run and cancels the others"
            }
            Rule::MissingContentsWrite => {
                "the job pushes with GITHUB_TOKEN but its `permissions` do not grant `contents: write`"
            }
            Rule::PermissionsNotDeclared => {
                "the job pushes with GITHUB_TOKEN and declares no `permissions`; the repository default may be read-only"
            }
            Rule::UncoordinatedPushes => {
                "two workflows, two parallel jobs or the copies of a matrix job push to the same branch with no shared group or lock"
            }
            Rule::RetryLoopAborts => {
                "a retry loop whose push or rebase is not guarded: under `bash -e` the first failure ends the step"
            }
            Rule::RetryWithoutRebase => {
                "a loop pushes again without pulling or rebasing, so it is rejected the same way every time"
            }
            Rule::ForcePushSharedBranch => {
                "a force push to a branch others push to overwrites the commits that landed since the checkout"
            }
            Rule::RebaseOursTheirs => {
                "`-X ours`/`-X theirs` during a rebase mean the opposite of what they mean in a merge"
            }
            Rule::LockAction => {
                "a lock action (turnstyle, gh-action-mutex): how far it coordinates, and what happens when it goes stale"
            }
            Rule::ReusableWorkflow => {
                "a reusable workflow weft cannot see, or one whose concurrency and permissions come from its callers"
            }
            Rule::YamlSyntax => "the file is not valid YAML",
            Rule::InvalidWorkflow => "the file is YAML but not a workflow (no `jobs` mapping)",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_serialize_as_written() {
        for rule in Rule::ALL {
            assert_eq!(Rule::parse(rule.as_str()), Some(rule));
            assert_eq!(
                serde_json::to_value(rule).unwrap(),
                serde_json::json!(rule.as_str())
            );
        }
    }
}
