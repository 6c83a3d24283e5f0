//! What goes wrong in the monitor's jobs.

use weft_github::GitHubError;
use weft_store::StoreError;

/// A failed monitor job.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("no repositories to watch")]
    NoRepositories,
    #[error("repository pattern `{pattern}`: {message}")]
    Pattern { pattern: String, message: String },
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl MonitorError {
    /// Whether the user's input is at fault (exit code 2) rather than the
    /// environment (exit code 3).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            MonitorError::NoRepositories | MonitorError::Pattern { .. } | MonitorError::Invalid(_)
        ) || matches!(
            self,
            MonitorError::GitHub(GitHubError::Limit { .. } | GitHubError::NotFound { .. })
        )
    }
}
