//! Channels as the notifier holds them: the configuration with its secrets
//! read from the environment, and one `deliver` that runs the channel's
//! blocking I/O off the async runtime, retried per [`DeliverySettings`].

mod email;
mod github_issue;
mod http;
mod slack;
mod webhook;

use std::sync::Arc;

use weft_github::GitHub;
use weft_model::config::ChannelConfig;

pub(crate) use email::EmailChannel;
pub(crate) use github_issue::GithubIssueChannel;
pub use github_issue::fingerprint_marker;
pub(crate) use slack::SlackChannel;
pub(crate) use webhook::WebhookChannel;
pub use webhook::{SIGNATURE_HEADER, signature};

use crate::error::NotifyError;
use crate::notification::Notification;
use crate::retry::{DeliverySettings, Failure};
use crate::secret::Secret;

/// A configured channel, secrets resolved. `Debug` shows no secret.
#[derive(Debug)]
pub(crate) enum Channel {
    Slack(Arc<SlackChannel>),
    Email(Arc<EmailChannel>),
    GithubIssue(Arc<GithubIssueChannel>),
    Webhook(Arc<WebhookChannel>),
}

/// What a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// The message went out (or the issue was opened, commented, closed).
    Done,
    /// The channel had nothing to do with this notification.
    Nothing,
}

impl Channel {
    pub(crate) fn new(
        config: &ChannelConfig,
        env: &dyn Fn(&str) -> Option<String>,
        github: Option<&GitHub>,
    ) -> Channel {
        match config {
            ChannelConfig::Slack(slack) => Channel::Slack(Arc::new(SlackChannel::new(slack, env))),
            ChannelConfig::Email(email) => Channel::Email(Arc::new(EmailChannel::new(email, env))),
            ChannelConfig::GithubIssue(issue) => {
                Channel::GithubIssue(Arc::new(GithubIssueChannel::new(issue, github)))
            }
            ChannelConfig::Webhook(webhook) => {
                Channel::Webhook(Arc::new(WebhookChannel::new(webhook, env)))
            }
        }
    }

    /// What keeps this channel from delivering anything (a secret that is
    /// not set, an unreadable CA file), if anything.
    pub(crate) fn problem(&self) -> Option<NotifyError> {
        match self {
            Channel::Slack(slack) => slack.problem(),
            Channel::Email(email) => email.problem(),
            Channel::GithubIssue(issue) => issue.problem(),
            Channel::Webhook(webhook) => webhook.problem(),
        }
    }

    pub(crate) fn is_issue_tracker(&self) -> bool {
        matches!(self, Channel::GithubIssue(_))
    }

    /// Delivers `notification`; returns what happened and the attempts made.
    pub(crate) async fn deliver(
        self: Arc<Self>,
        notification: Arc<Notification>,
        settings: DeliverySettings,
    ) -> (Result<Sent, NotifyError>, u32) {
        match &*self {
            Channel::Slack(slack) => {
                slack::deliver(Arc::clone(slack), notification, settings).await
            }
            Channel::Email(email) => {
                email::deliver(Arc::clone(email), notification, settings).await
            }
            Channel::GithubIssue(issue) => {
                github_issue::deliver(Arc::clone(issue), notification, settings).await
            }
            Channel::Webhook(webhook) => {
                webhook::deliver(Arc::clone(webhook), notification, settings).await
            }
        }
    }
}

/// Reads an environment variable through the caller's lookup.
fn secret(env: &dyn Fn(&str) -> Option<String>, variable: &str) -> Result<Secret, NotifyError> {
    env(variable)
        .filter(|value| !value.is_empty())
        .map(Secret::new)
        .ok_or_else(|| NotifyError::MissingVariable {
            variable: variable.to_string(),
        })
}

/// Runs blocking I/O on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) => Err(Failure::stop(NotifyError::Task {
            message: if error.is_panic() {
                "it panicked".to_string()
            } else {
                "it was cancelled".to_string()
            },
        })),
    }
}
