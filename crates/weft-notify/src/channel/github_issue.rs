//! GitHub issues as incidents: one open issue per environment and service.
//!
//! A failure opens the incident of each failed service (its fingerprint,
//! `production/api`, hidden in the body), or comments on the one already
//! open — never a second issue. A recovery (`deployment_succeeded`,
//! `rollback_succeeded`) comments on and closes the open incident of each of
//! its services. Each attempt looks the issue up first, so a retry after a
//! half-done attempt does not open a duplicate.
//!
//! The fingerprint is hidden in the issue's body as
//! `<!-- weft:fingerprint=production/api -->`; the open issues with the
//! channel's labels are listed (not searched: GitHub's search index lags)
//! and the one whose body holds the marker is the incident.

use std::sync::Arc;

use weft_github::{GitHub, GitHubError};
use weft_model::config::{GithubIssueConfig, NotifyEvent};

use super::{Sent, blocking};
use crate::error::NotifyError;
use crate::notification::Notification;
use crate::render;
use crate::retry::{DeliverySettings, Failure, with_retries};

/// The hidden line that marks an issue as the incident of `fingerprint`.
pub fn fingerprint_marker(fingerprint: &str) -> String {
    format!("<!-- weft:fingerprint={fingerprint} -->")
}

#[derive(Debug)]
pub(crate) struct GithubIssueChannel {
    repository: String,
    labels: Vec<String>,
    github: Option<GitHub>,
}

impl GithubIssueChannel {
    pub(super) fn new(config: &GithubIssueConfig, github: Option<&GitHub>) -> GithubIssueChannel {
        GithubIssueChannel {
            repository: config.repository.clone(),
            labels: config.labels.clone(),
            github: github.cloned(),
        }
    }

    pub(super) fn problem(&self) -> Option<NotifyError> {
        self.github.is_none().then_some(NotifyError::NoIssueTracker)
    }

    /// The open incident of `fingerprint`, if there is one.
    fn find_open(&self, github: &GitHub, fingerprint: &str) -> Result<Option<u64>, GitHubError> {
        let marker = fingerprint_marker(fingerprint);
        let open = github.open_issues(&self.repository, &self.labels)?;
        Ok(open
            .iter()
            .find(|issue| issue.body.contains(&marker))
            .map(|issue| issue.number))
    }

    /// One attempt: every incident the notification touches.
    fn apply(&self, github: &GitHub, notification: &Notification) -> Result<Sent, Failure> {
        let failed = |error: GitHubError| {
            let failure = NotifyError::Tracker {
                repository: self.repository.clone(),
                message: error.to_string(),
            };
            // A bad token or a missing repository stays so: no retry.
            if matches!(
                error,
                GitHubError::Unauthorized { .. } | GitHubError::NotFound { .. }
            ) {
                Failure::stop(failure)
            } else {
                Failure::retry(failure)
            }
        };
        let repository = self.repository.as_str();
        if notification.event == NotifyEvent::Test {
            self.find_open(github, "weft-test").map_err(failed)?;
            return Ok(Sent::Done);
        }
        let failure = notification.event.is_failure();
        if !failure && !notification.event.is_resolution() {
            return Ok(Sent::Nothing);
        }
        let mut sent = Sent::Nothing;
        for (fingerprint, service) in fingerprints(notification, failure) {
            let open = self.find_open(github, &fingerprint).map_err(failed)?;
            match (open, failure) {
                (Some(number), true) => {
                    github
                        .comment_issue(repository, number, &render::markdown(notification))
                        .map_err(failed)?;
                }
                (None, true) => {
                    let subject = service.map_or_else(
                        || notification.environment.clone(),
                        |service| format!("{}/{service}", notification.environment),
                    );
                    let title = format!("[weft] {subject}: {}", notification.event.describe());
                    let body = render::issue_body(notification, &fingerprint_marker(&fingerprint));
                    github
                        .open_issue(repository, &title, &body, &self.labels)
                        .map_err(failed)?;
                }
                (Some(number), false) => {
                    let comment = format!(
                        "Recovered: {} in deployment `{}`.\n\n{}",
                        notification.event.describe(),
                        notification.deployment,
                        render::markdown(notification)
                    );
                    github
                        .comment_issue(repository, number, &comment)
                        .map_err(failed)?;
                    github.close_issue(repository, number).map_err(failed)?;
                }
                (None, false) => continue,
            }
            sent = Sent::Done;
        }
        Ok(sent)
    }
}

/// The incidents a notification is about: `ENVIRONMENT/SERVICE` for each
/// failed service (a failure) or each service (a recovery), or the
/// environment alone when no service is named.
fn fingerprints(notification: &Notification, failure: bool) -> Vec<(String, Option<&str>)> {
    let services = if failure {
        notification.incident_services()
    } else {
        notification.services.iter().collect()
    };
    if services.is_empty() {
        return vec![(notification.environment.clone(), None)];
    }
    services
        .into_iter()
        .map(|s| {
            (
                format!("{}/{}", notification.environment, s.name),
                Some(s.name.as_str()),
            )
        })
        .collect()
}

pub(super) async fn deliver(
    channel: Arc<GithubIssueChannel>,
    notification: Arc<Notification>,
    settings: DeliverySettings,
) -> (Result<Sent, NotifyError>, u32) {
    let Some(github) = channel.github.clone() else {
        return (Err(NotifyError::NoIssueTracker), 0);
    };
    let touches = notification.event == NotifyEvent::Test
        || notification.event.is_failure()
        || notification.event.is_resolution();
    if !touches {
        return (Ok(Sent::Nothing), 0);
    }
    with_retries(&settings, || {
        let channel = Arc::clone(&channel);
        let github = github.clone();
        let notification = Arc::clone(&notification);
        blocking(move || channel.apply(&github, &notification))
    })
    .await
}
