//! A push found in a job: what lands where, how, with which credential and
//! whether it survives another push landing first.

use serde::Serialize;
use weft_model::Location;

use crate::triggers::BranchSet;

/// The branch a push updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A branch named literally.
    Branch(String),
    /// The ref that triggered the run (`git push` after the default checkout,
    /// `${{ github.ref }}`).
    Trigger,
    /// `${{ github.event.repository.default_branch }}`.
    DefaultBranch,
    /// `${{ github.head_ref }}`: the pull request's branch.
    PullRequestHead,
    /// A branch named by a variable weft cannot follow, such as
    /// `release-${VERSION}`: most often a branch of this run alone.
    Dynamic(String),
    /// Tags only: no branch moves.
    Tags,
}

impl Target {
    /// The branches this target can be in a run started by `triggers`.
    pub(crate) fn branches(&self, triggers: &BranchSet) -> BranchSet {
        match self {
            Target::Branch(name) => BranchSet::named(name),
            Target::Trigger => triggers.clone(),
            Target::DefaultBranch => BranchSet::default_branch(),
            Target::PullRequestHead => BranchSet::pull_request(),
            Target::Dynamic(_) | Target::Tags => BranchSet::default(),
        }
    }
}

/// How the push is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// `git push` in a `run:` step.
    Git,
    /// `weft push`, or weft's action.
    Weft,
    /// A known action; the name is `owner/name` as written.
    Action(String),
}

/// What a push to a branch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushKind {
    /// Commits that should add to the branch.
    Commit,
    /// A snapshot that replaces the branch (GitHub Pages deploys).
    Deploy,
    /// The branch of a pull request the action owns and rewrites
    /// (`create-pull-request`, `changesets/action`).
    PullRequestBranch,
}

/// What happens when another push landed on the branch first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Retry {
    /// The push is rejected and the step fails. `rebased_first` when a pull
    /// or rebase right before it narrows, but does not close, the window.
    None { rebased_first: bool },
    /// A loop that integrates the remote changes and pushes again.
    Loop,
    /// A retry loop that `bash -e` ends at the first failure: each reason
    /// names the unguarded command and where it is.
    BrokenLoop { reasons: Vec<(String, Location)> },
    /// A loop that pushes again without pulling or rebasing first.
    LoopWithoutRebase { location: Location },
    /// The action retries by itself.
    Builtin(&'static str),
    /// `weft push`: lock, rebase, retry.
    Weft,
}

impl Retry {
    /// Whether the push survives another push landing first.
    pub(crate) fn is_safe(&self) -> bool {
        matches!(self, Retry::Loop | Retry::Builtin(_) | Retry::Weft)
    }
}

/// The credential a push authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// The workflow's `GITHUB_TOKEN`, which needs `contents: write`.
    DefaultToken,
    /// A personal access token, app token or SSH key (named for messages).
    Explicit(String),
    /// Nothing weft can tell.
    Unknown,
}

/// One push in a job.
#[derive(Debug, Clone)]
pub(crate) struct Push {
    /// Where the push is: the `git` of `git push`, or the `uses:` value.
    pub location: Location,
    /// The index of its step in the job.
    pub step: usize,
    pub mechanism: Mechanism,
    pub kind: PushKind,
    pub target: Target,
    /// `--force`, `force: true` (not `--force-with-lease`).
    pub force: bool,
    pub retry: Retry,
    pub credential: Credential,
    /// Another repository, when the push goes there.
    pub repository: Option<String>,
    /// The step's `if:` depends on the matrix (so not every copy pushes).
    pub matrix_condition: bool,
    /// A literal `git commit -m` message seen before the push, for fixes.
    pub message: Option<String>,
}

impl Push {
    /// For messages: `git push`, `weft push`, `stefanzweifel/git-auto-commit-action`.
    pub(crate) fn describe(&self) -> String {
        match &self.mechanism {
            Mechanism::Git => "`git push`".into(),
            Mechanism::Weft => "`weft push`".into(),
            Mechanism::Action(name) => format!("`{name}`"),
        }
    }

    /// Whether the push lands on a branch others also push to: not tags,
    /// not a branch of this run alone, not an action's own pull request
    /// branch, not another repository.
    pub(crate) fn is_shared(&self) -> bool {
        !matches!(self.target, Target::Dynamic(_) | Target::Tags)
            && self.kind != PushKind::PullRequestBranch
            && self.repository.is_none()
    }
}

/// A push as JSON output lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PushSummary {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub job: String,
    /// `git`, `weft` or the action's name.
    pub mechanism: String,
    /// The branch, as weft understood it.
    pub branch: String,
    pub force: bool,
    pub retry_safe: bool,
}
