//! Exit codes, as DESIGN.md fixes them.

use std::process::ExitCode;

use weft_discover::DiscoverError;

/// What a command's run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 0: nothing to report.
    Clean,
    /// 1: the job found problems (a cycle, a conflict).
    Problems,
    /// 2: bad input or configuration.
    BadInput,
    /// 3: an internal or environment failure.
    Internal,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(match outcome {
            Outcome::Clean => 0,
            Outcome::Problems => 1,
            Outcome::BadInput => 2,
            Outcome::Internal => 3,
        })
    }
}

/// An error the user can fix by changing the input (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct UsageError {
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl UsageError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Maps an error to its exit code: bad input is 2, anything else 3.
pub(crate) fn code_of(error: &anyhow::Error) -> Outcome {
    if error.downcast_ref::<UsageError>().is_some() {
        return Outcome::BadInput;
    }
    match error.downcast_ref::<DiscoverError>() {
        Some(
            DiscoverError::NotFound { .. }
            | DiscoverError::NotADirectory { .. }
            | DiscoverError::Config(_),
        ) => Outcome::BadInput,
        _ => Outcome::Internal,
    }
}
