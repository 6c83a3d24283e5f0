//! The errors of `weft push`: what went wrong, at which step, and whether
//! the repository was put back as it was.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::report::PushReport;

/// The settings of a push could not be worked out (bad input, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid glob `{glob}` in `push.policies`: {message}")]
    Glob { glob: String, message: String },
    #[error("`{value}` is not a usable {what}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// Something a step of `weft push` could not do.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("failed to run git (is it installed and on PATH?)")]
    Spawn {
        #[source]
        source: std::io::Error,
    },
    #[error("`git {command}` failed{}: {stderr}", .code.map(|c| format!(" with exit code {c}")).unwrap_or_default())]
    Git {
        command: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("failed to use {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not inside a git working tree")]
    NotARepository { path: PathBuf },
    #[error("HEAD is detached, so there is no branch to push to; give --branch")]
    NoBranch,
    #[error("the current branch has no commit yet; commit once before weft push")]
    Unborn,
    #[error("the index has unresolved conflicts ({}); resolve them before weft push", .paths.join(", "))]
    UnmergedIndex { paths: Vec<String> },
    #[error("a {operation} is in progress that weft push did not start; finish or abort it first")]
    OperationInProgress { operation: &'static str },
    #[error("cannot stage {}: {message}", .paths.join(", "))]
    Add { paths: Vec<String>, message: String },
    #[error("git commit refused the commit: {message}")]
    Commit { message: String },
    #[error("another weft push (pid {pid}) is running in this repository")]
    Busy { pid: u32 },
    #[error("`{path}` conflicts (in {commit}) and its policy is `fail`{}", .rule.as_ref().map(|r| format!(" (`{r}` in push.policies)")).unwrap_or_default())]
    ConflictPolicyFail {
        path: String,
        commit: String,
        rule: Option<String>,
    },
    #[error("cannot resolve the conflict on `{path}` with `{policy}`: {reason}")]
    Unresolvable {
        path: String,
        policy: String,
        reason: String,
    },
    #[error("`{command}` (regenerate for {}) failed{}: {stderr}", .paths.join(", "), .code.map(|c| format!(" with exit code {c}")).unwrap_or_default())]
    Regenerate {
        command: String,
        paths: Vec<String>,
        code: Option<i32>,
        stderr: String,
    },
    #[error("the rebase stopped without a conflict weft can resolve: {message}")]
    RebaseStopped { message: String },
    #[error("gave up waiting for the push lock of {resource} after {}s{}", .waited_ms / 1000, .holder.as_ref().map(|h| format!("; it is held by {h}")).unwrap_or_default())]
    LockTimeout {
        resource: String,
        waited_ms: u64,
        holder: Option<String>,
    },
    #[error(
        "the push lock of {resource} expired and was taken over by {by}; this run must not land"
    )]
    Fenced { resource: String, by: String },
    #[error("the remote rejected the push of {reference}: {reason}")]
    Rejected { reference: String, reason: String },
    #[error("the remote could not be reached or failed: {message}")]
    Transient { message: String },
    #[error("{remote}/{branch} moved while pushing (another push landed first)")]
    BranchMoved { remote: String, branch: String },
    #[error("gave up after {attempts} attempts; the last one failed: {last}")]
    RetriesExhausted { attempts: u32, last: Box<PushError> },
    #[error("interrupted by {}", signal_name(*.signal))]
    Interrupted { signal: i32 },
    #[error("the lock service failed")]
    ExternalLock(#[from] ExternalLockError),
    #[error("the lock record at {reference} is not weft's: {message}")]
    BadLockRecord { reference: String, message: String },
    #[error("refusing to push: {reason}")]
    Unsafe { reason: String },
}

/// What an [`crate::ExternalLock`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ExternalLockError {
    /// The service cannot be reached or failed for a passing reason; the
    /// caller may retry.
    #[error("the lock service is unavailable: {message}")]
    Unavailable { message: String },
    /// The lease expired or was taken over: whoever held it must not land.
    #[error("the lease was lost: {message}")]
    Lost { message: String },
    /// The request waited as long as it was allowed to.
    #[error("timed out waiting for the lock{}", .holder.as_ref().map(|h| format!(" held by {h}")).unwrap_or_default())]
    TimedOut { holder: Option<String> },
    /// The service refused the request (bad priority, unknown class, no right).
    #[error("the lock service refused: {message}")]
    Refused { message: String },
    /// The wait was interrupted by a signal.
    #[error("interrupted by {}", signal_name(*.signal))]
    Interrupted { signal: i32 },
}

/// How a failure maps to the exit codes of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The job failed (a conflict under `fail`, the lock not obtained, retries
    /// exhausted): exit 1.
    Failed,
    /// The input or the repository's state is not usable: exit 2.
    BadInput,
    /// git or the file system failed: exit 3.
    Internal,
    /// A signal stopped the run: exit 128 + the signal.
    Interrupted(i32),
}

impl PushError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PushError {
        let path = path.into();
        move |source| PushError::Io { path, source }
    }

    /// Which exit code the failure deserves.
    pub fn class(&self) -> ErrorClass {
        match self {
            PushError::Spawn { .. }
            | PushError::Git { .. }
            | PushError::Io { .. }
            | PushError::BadLockRecord { .. } => ErrorClass::Internal,
            PushError::NotARepository { .. }
            | PushError::NoBranch
            | PushError::Unborn
            | PushError::UnmergedIndex { .. }
            | PushError::Add { .. }
            | PushError::OperationInProgress { .. }
            | PushError::Busy { .. } => ErrorClass::BadInput,
            PushError::Interrupted { signal }
            | PushError::ExternalLock(ExternalLockError::Interrupted { signal }) => {
                ErrorClass::Interrupted(*signal)
            }
            PushError::ExternalLock(ExternalLockError::Refused { .. }) => ErrorClass::BadInput,
            PushError::RetriesExhausted { last, .. } => match last.class() {
                ErrorClass::Interrupted(signal) => ErrorClass::Interrupted(signal),
                _ => ErrorClass::Failed,
            },
            _ => ErrorClass::Failed,
        }
    }

    /// Whether trying again (fetch, rebase, push) may succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            PushError::Transient { .. }
                | PushError::BranchMoved { .. }
                | PushError::Fenced { .. }
                | PushError::ExternalLock(
                    ExternalLockError::Unavailable { .. } | ExternalLockError::Lost { .. }
                )
        )
    }
}

/// The step of a push that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Checking the repository, recovering a killed run, writing the backup.
    Prepare,
    /// Committing the staged changes.
    Commit,
    /// Taking the push lock.
    Lock,
    /// Fetching the remote branch.
    Fetch,
    /// Rebasing the local commits onto it.
    Rebase,
    /// Pushing.
    Land,
    /// Releasing the push lock.
    Release,
}

impl Step {
    /// `prepare`, `commit`, `lock`, `fetch`, `rebase`, `land` or `release`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Prepare => "prepare",
            Step::Commit => "commit",
            Step::Lock => "lock",
            Step::Fetch => "fetch",
            Step::Rebase => "rebase",
            Step::Land => "land",
            Step::Release => "release",
        }
    }

    /// The step as the end of "failed to …".
    pub fn describe(self, remote: &str, branch: &str) -> String {
        match self {
            Step::Prepare => "prepare the repository".to_string(),
            Step::Commit => "commit the staged changes".to_string(),
            Step::Lock => format!("take the push lock of {remote}/{branch}"),
            Step::Fetch => format!("fetch {remote}/{branch}"),
            Step::Rebase => format!("rebase onto {remote}/{branch}"),
            Step::Land => format!("push to {remote}/{branch}"),
            Step::Release => format!("release the push lock of {remote}/{branch}"),
        }
    }
}

/// A push that failed: the step, the cause, and what became of the
/// repository.
#[derive(Debug, thiserror::Error)]
#[error("failed to {}", .step.describe(&.report.remote, &.report.branch))]
pub struct PushFailure {
    pub step: Step,
    #[source]
    pub error: PushError,
    /// What the run did before it failed, and how it was undone.
    pub report: Box<PushReport>,
}

pub(crate) fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".to_string(),
        15 => "SIGTERM".to_string(),
        1 => "SIGHUP".to_string(),
        other => format!("signal {other}"),
    }
}
