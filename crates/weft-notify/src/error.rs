//! What can go wrong while notifying. Delivery errors end up, as text, in a
//! [`crate::Delivery`]; none of them carries a secret.

/// A notification could not be delivered, or a request named nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("no channel `{name}` under `notify.channels`{}", known_list(.known))]
    UnknownChannel { name: String, known: Vec<String> },
    #[error("use the channel: {message}")]
    Unconfigured { message: String },
    #[error("environment variable `{variable}` is not set")]
    MissingVariable { variable: String },
    /// `url` is redacted to its scheme and host.
    #[error("POST {url}: HTTP {status}{}", said_suffix(.said))]
    Http {
        url: String,
        status: u16,
        said: String,
    },
    /// `url` is redacted to its scheme and host.
    #[error("POST {url}: {message}")]
    Request { url: String, message: String },
    #[error("invalid mail address `{address}`: {message}")]
    Address { address: String, message: String },
    #[error("read the certificates of {path}: {message}")]
    Certificates { path: String, message: String },
    #[error("compose the mail: {message}")]
    Compose { message: String },
    #[error("send mail through {server}: {message}")]
    Smtp { server: String, message: String },
    #[error("no GitHub client: github_issue channels need one")]
    NoIssueTracker,
    #[error("GitHub issues of {repository}: {message}")]
    Tracker { repository: String, message: String },
    #[error("the delivery task stopped: {message}")]
    Task { message: String },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (channels: {})", known.join(", "))
    }
}

fn said_suffix(said: &str) -> String {
    if said.is_empty() {
        String::new()
    } else {
        format!(" {said}")
    }
}
