//! What goes wrong in the monitor's jobs.

use weft_github::GitHubError;
use weft_store::StoreError;

/// A failed monitor job.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("no repositories to watch")]
    NoRepositories,
    #[error("nothing collected{} yet", .0.as_ref().map(|r| format!(" for `{r}`")).unwrap_or_default())]
    NothingCollected(Option<String>),
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
            MonitorError::NoRepositories
                | MonitorError::NothingCollected(_)
                | MonitorError::Pattern { .. }
                | MonitorError::Invalid(_)
        ) || matches!(
            self,
            MonitorError::GitHub(GitHubError::Limit { .. } | GitHubError::NotFound { .. })
        )
    }
}

impl MonitorError {
    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            MonitorError::NoRepositories => Some(
                "list them in weft.yaml's `monitor.repositories` (owner/name or acme/*), or give --repositories",
            ),
            MonitorError::NothingCollected(_) => {
                Some("run `weft monitor collect` first, or check the name (owner/name)")
            }
            _ => None,
        }
    }
}
