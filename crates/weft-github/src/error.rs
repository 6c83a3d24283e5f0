//! What goes wrong talking to GitHub.

/// A failed GitHub call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    #[error("cannot reach GitHub at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("GitHub refused the token ({status}): {message}; check {token_env}")]
    Unauthorized {
        status: u16,
        message: String,
        token_env: String,
    },
    #[error(
        "the token lacks a permission for {method} {path} ({status}): {message}{}",
        permission.as_ref().map(|p| format!("; it needs `{p}`")).unwrap_or_default()
    )]
    Forbidden {
        method: String,
        path: String,
        status: u16,
        message: String,
        /// What GitHub says the call needs (`x-accepted-github-permissions`,
        /// such as `actions=read`), when it says.
        permission: Option<String>,
    },
    #[error("{method} {path}: not found (404)")]
    NotFound { method: String, path: String },
    #[error("{method} {path}: GitHub answered {status}: {message}")]
    Rejected {
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error(
        "GitHub's rate limit is spent until {reset_epoch} (in {wait_secs} s), longer than the {max_wait_secs} s weft may wait"
    )]
    RateLimited {
        reset_epoch: u64,
        wait_secs: u64,
        max_wait_secs: u64,
    },
    #[error("{method} {path}: GitHub kept failing ({status}) after {attempts} attempts")]
    ServerError {
        method: String,
        path: String,
        status: u16,
        attempts: u32,
    },
    #[error("{what} exceeds GitHub's limit: {limit}")]
    Limit { what: String, limit: String },
    #[error("GitHub's answer to {path} is not what its API documents: {message}")]
    Decode { path: String, message: String },
}

impl GitHubError {
    /// Whether the error is about the environment (GitHub unreachable, a
    /// permission missing, the budget spent) rather than the request.
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            GitHubError::Unreachable { .. }
                | GitHubError::Unauthorized { .. }
                | GitHubError::Forbidden { .. }
                | GitHubError::RateLimited { .. }
                | GitHubError::ServerError { .. }
        )
    }
}
