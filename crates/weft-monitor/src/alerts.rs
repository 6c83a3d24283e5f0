//! Alert issues: one open issue per repository, alert type and rule, found
//! again by a fingerprint hidden in its body.
//!
//! How it works: the analysis gives the alerts that should be open now. The
//! open issues carrying the alert labels are listed in each repository
//! alerts go to, and their fingerprints read. An alert with no issue opens
//! one. An alert whose issue exists updates the body in place when it
//! changed (no comment pile-up), and comments once when its severity rose.
//! An issue whose alert is no longer there is closed with a comment. Only
//! repositories that were analysed are considered, so a partial run never
//! closes the others' alerts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use weft_github::{GitHub, GitHubError};
use weft_model::config::{NotifyEvent, NotifySeverity};
use weft_notify::Notification;

use crate::health::{Band, Health};
use crate::items::WEFT_MARKER;
use crate::rules::Severity;
use crate::settings::AlertSettings;
use crate::stale::StaleSummary;

/// The seed's alert types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    /// Stale pull requests and branches.
    Stale,
    /// A critical failure in CI.
    Critical,
    /// The repository's health fell into the alerting band.
    Ecosystem,
    /// Nobody has worked on the repository for a month.
    Maintenance,
}

impl AlertType {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::Stale => "stale",
            AlertType::Critical => "critical",
            AlertType::Ecosystem => "ecosystem",
            AlertType::Maintenance => "maintenance",
        }
    }
}

/// An alert that should be open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub repository: String,
    #[serde(rename = "type")]
    pub kind: AlertType,
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    /// The issue body, without the marker.
    pub body: String,
}

impl Alert {
    pub fn fingerprint(&self) -> String {
        format!("{}|{}|{}", self.repository, self.kind.as_str(), self.rule)
    }

    fn marked_body(&self) -> String {
        format!(
            "{}\n\n{WEFT_MARKER} alert fingerprint=\"{}\" severity=\"{}\" -->\n",
            self.body.trim_end(),
            self.fingerprint(),
            self.severity.as_str()
        )
    }
}

/// What one repository's analysis raises.
#[derive(Debug, Clone)]
pub struct AlertInput<'a> {
    pub health: &'a Health,
    /// Open critical failures: (rule, job URL).
    pub critical: Vec<(String, String)>,
    pub stale: StaleSummary,
}

/// The alerts that should be open for the analysed repositories.
pub fn alerts(inputs: &[AlertInput<'_>], settings: &AlertSettings) -> Vec<Alert> {
    let mut out = Vec::new();
    for input in inputs {
        let health = input.health;
        let repository = &health.repository;
        for (rule, url) in &input.critical {
            out.push(Alert {
                repository: repository.clone(),
                kind: AlertType::Critical,
                rule: rule.clone(),
                severity: Severity::Critical,
                title: format!("[weft] {repository}: critical CI failure `{rule}`"),
                body: format!(
                    "CI fails with `{rule}`, a critical rule, and no later run of the same \
                     workflow on the same branch succeeded.\n\nThe failed job: {url}"
                ),
            });
        }
        if let Some(score) = health.score
            && score < settings.below
        {
            let mut body = format!(
                "The health score of {repository} is **{score}** ({}).\n\n| probe | score | deducted | detail |\n| --- | ---: | ---: | --- |\n",
                health.band.as_str()
            );
            for p in health.probes.iter().filter(|p| p.applicable) {
                let _ = writeln!(
                    body,
                    "| {} | {:.0} | {:.1} | {} |",
                    p.name,
                    p.score.unwrap_or(0.0),
                    p.deducted,
                    p.detail.replace('|', "\\|")
                );
            }
            out.push(Alert {
                repository: repository.clone(),
                kind: AlertType::Ecosystem,
                rule: "health".to_string(),
                severity: if health.band == Band::Critical {
                    Severity::High
                } else {
                    Severity::Medium
                },
                title: format!("[weft] {repository}: health {}", health.band.as_str()),
                body,
            });
        }
        if input.stale.total_stale_prs + input.stale.total_stale_branches > 0 {
            let s = &input.stale;
            out.push(Alert {
                repository: repository.clone(),
                kind: AlertType::Stale,
                rule: "stale".to_string(),
                severity: Severity::Low,
                title: format!("[weft] {repository}: stale pull requests and branches"),
                body: format!(
                    "{} stale pull requests (oldest {} days without human activity) and {} stale \
                     branches (oldest {} days). `weft monitor stale --dry-run` lists them.",
                    s.total_stale_prs,
                    s.oldest_pr_days,
                    s.total_stale_branches,
                    s.oldest_branch_days
                ),
            });
        }
        let inactive = health
            .probes
            .iter()
            .find(|p| p.name == "activity")
            .is_some_and(|p| p.score == Some(0.0));
        if inactive {
            out.push(Alert {
                repository: repository.clone(),
                kind: AlertType::Maintenance,
                rule: "inactive".to_string(),
                severity: Severity::Low,
                title: format!("[weft] {repository}: no human activity for a month"),
                body: "Nobody pushed, opened, commented or reviewed for 30 days or more. Archive \
                       the repository or name a maintainer."
                    .to_string(),
            });
        }
    }
    out
}

/// One change to an alert issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AlertAction {
    Open {
        issue_repository: String,
        alert: Alert,
    },
    /// The body changed; `comment` when the severity rose.
    Update {
        issue_repository: String,
        number: u64,
        alert: Alert,
        #[serde(skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    Close {
        issue_repository: String,
        number: u64,
        fingerprint: String,
    },
    /// A second issue of the same alert (two runs raced): closed as a
    /// duplicate of `kept`, which stays open.
    CloseDuplicate {
        issue_repository: String,
        number: u64,
        kept: u64,
        fingerprint: String,
    },
}

/// An open alert issue and what its marker says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlert {
    pub issue_repository: String,
    pub number: u64,
    pub fingerprint: String,
    pub severity: Option<Severity>,
    pub body: String,
}

/// Reads the marker of an alert issue's body.
pub fn parse_marker(body: &str) -> Option<(String, Option<Severity>)> {
    let start = body.rfind(&format!("{WEFT_MARKER} alert "))?;
    let marker = &body[start..];
    let value = |key: &str| {
        let from = marker.find(&format!("{key}=\""))? + key.len() + 2;
        let to = marker[from..].find('"')? + from;
        Some(marker[from..to].to_string())
    };
    Some((
        value("fingerprint")?,
        value("severity").as_deref().and_then(Severity::parse),
    ))
}

/// The open alert issues of `repositories` (where alerts go).
pub fn open_alerts(
    github: &GitHub,
    repositories: &BTreeSet<String>,
    labels: &[String],
) -> Result<Vec<OpenAlert>, GitHubError> {
    let mut out = Vec::new();
    for repository in repositories {
        for issue in github.open_issues(repository, labels)? {
            if let Some((fingerprint, severity)) = parse_marker(&issue.body) {
                out.push(OpenAlert {
                    issue_repository: repository.clone(),
                    number: issue.number,
                    fingerprint,
                    severity,
                    body: issue.body,
                });
            }
        }
    }
    Ok(out)
}

/// Where `alert` goes.
pub fn target(alert_repository: &str, settings: &AlertSettings) -> String {
    settings
        .repository
        .clone()
        .unwrap_or_else(|| alert_repository.to_string())
}

/// The changes that bring the open issues in line with `alerts`, for the
/// analysed `repositories`.
pub fn plan(
    alerts: &[Alert],
    open: &[OpenAlert],
    repositories: &BTreeSet<String>,
    settings: &AlertSettings,
) -> Vec<AlertAction> {
    let mut actions = Vec::new();
    // One issue per fingerprint: the oldest (lowest number) is kept, any
    // other (opened by a run that raced this one) is closed.
    let mut by_fingerprint: BTreeMap<&str, &OpenAlert> = BTreeMap::new();
    for alert in open {
        match by_fingerprint.get(alert.fingerprint.as_str()) {
            Some(kept) if kept.number < alert.number => {
                actions.push(AlertAction::CloseDuplicate {
                    issue_repository: alert.issue_repository.clone(),
                    number: alert.number,
                    kept: kept.number,
                    fingerprint: alert.fingerprint.clone(),
                });
            }
            Some(kept) => {
                actions.push(AlertAction::CloseDuplicate {
                    issue_repository: kept.issue_repository.clone(),
                    number: kept.number,
                    kept: alert.number,
                    fingerprint: kept.fingerprint.clone(),
                });
                by_fingerprint.insert(&alert.fingerprint, alert);
            }
            None => {
                by_fingerprint.insert(&alert.fingerprint, alert);
            }
        }
    }
    let wanted: BTreeSet<String> = alerts.iter().map(Alert::fingerprint).collect();
    for alert in alerts {
        let issue_repository = target(&alert.repository, settings);
        match by_fingerprint.get(alert.fingerprint().as_str()) {
            None => actions.push(AlertAction::Open {
                issue_repository,
                alert: alert.clone(),
            }),
            Some(existing) => {
                let rose = existing.severity.is_some_and(|s| alert.severity > s);
                if existing.body.trim_end() != alert.marked_body().trim_end() {
                    actions.push(AlertAction::Update {
                        issue_repository: existing.issue_repository.clone(),
                        number: existing.number,
                        alert: alert.clone(),
                        comment: rose.then(|| {
                            format!(
                                "Severity rose from {} to {}.",
                                existing.severity.map_or("unknown", Severity::as_str),
                                alert.severity.as_str()
                            )
                        }),
                    });
                }
            }
        }
    }
    for existing in by_fingerprint.values() {
        let repository = existing.fingerprint.split('|').next().unwrap_or_default();
        if repositories.contains(repository) && !wanted.contains(&existing.fingerprint) {
            actions.push(AlertAction::Close {
                issue_repository: existing.issue_repository.clone(),
                number: existing.number,
                fingerprint: existing.fingerprint.clone(),
            });
        }
    }
    actions
}

/// What carrying out one action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertOutcome {
    #[serde(flatten)]
    pub action: AlertAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Carries out `actions`; a failed one does not stop the rest.
pub fn execute(github: &GitHub, actions: &[AlertAction], labels: &[String]) -> Vec<AlertOutcome> {
    actions
        .iter()
        .map(|action| {
            let result: Result<Option<u64>, GitHubError> = match action {
                AlertAction::Open {
                    issue_repository,
                    alert,
                } => github
                    .open_issue(issue_repository, &alert.title, &alert.marked_body(), labels)
                    .map(Some),
                AlertAction::Update {
                    issue_repository,
                    number,
                    alert,
                    comment,
                } => github
                    .update_issue_body(issue_repository, *number, &alert.marked_body())
                    .and_then(|()| match comment {
                        Some(comment) => github.comment_issue(issue_repository, *number, comment),
                        None => Ok(()),
                    })
                    .map(|()| Some(*number)),
                AlertAction::Close {
                    issue_repository,
                    number,
                    ..
                } => github
                    .comment_issue(
                        issue_repository,
                        *number,
                        "Recovered: the latest analysis no longer raises this alert.",
                    )
                    .and_then(|()| github.close_issue(issue_repository, *number))
                    .map(|()| Some(*number)),
                AlertAction::CloseDuplicate {
                    issue_repository,
                    number,
                    kept,
                    ..
                } => github
                    .comment_issue(
                        issue_repository,
                        *number,
                        &format!("Duplicate of #{kept}, which tracks this alert."),
                    )
                    .and_then(|()| github.close_issue(issue_repository, *number))
                    .map(|()| Some(*number)),
            };
            match result {
                Ok(number) => AlertOutcome {
                    action: action.clone(),
                    number,
                    ok: true,
                    error: None,
                },
                Err(error) => AlertOutcome {
                    action: action.clone(),
                    number: None,
                    ok: false,
                    error: Some(error.to_string()),
                },
            }
        })
        .collect()
}

/// The notification an alert change sends through `notify:` rules: the
/// repository stands where a release's environment would, the fingerprint
/// threads it.
/// `web_root` is where issue pages live (`https://github.com`).
pub fn notification(outcome: &AlertOutcome, web_root: &str) -> Option<Notification> {
    let severity = |severity: Severity| match severity {
        Severity::Critical => NotifySeverity::Critical,
        Severity::High => NotifySeverity::High,
        Severity::Medium => NotifySeverity::Medium,
        Severity::Low => NotifySeverity::Low,
    };
    let (event, alert, repository, number) = match &outcome.action {
        AlertAction::Open {
            issue_repository,
            alert,
        } => (
            NotifyEvent::MonitorAlert,
            alert,
            issue_repository,
            outcome.number,
        ),
        AlertAction::Update {
            issue_repository,
            number,
            alert,
            comment: Some(_),
        } => (
            NotifyEvent::MonitorAlert,
            alert,
            issue_repository,
            Some(*number),
        ),
        AlertAction::Close {
            issue_repository,
            number,
            fingerprint,
        } => {
            let subject = fingerprint.split('|').next().unwrap_or_default();
            let notification =
                Notification::new(NotifyEvent::MonitorRecovered, subject, fingerprint)
                    .title(format!("{subject} recovered: {fingerprint}"))
                    .text("The latest analysis no longer raises this alert; its issue is closed.")
                    .link(
                        "alert issue",
                        format!("{web_root}/{issue_repository}/issues/{number}"),
                    );
            return Some(notification);
        }
        AlertAction::Update { comment: None, .. } | AlertAction::CloseDuplicate { .. } => {
            return None;
        }
    };
    let mut notification = Notification::new(event, alert.repository.clone(), alert.fingerprint())
        .severity(severity(alert.severity))
        .title(alert.title.clone())
        .text(alert.body.clone());
    if let Some(number) = number {
        notification = notification.link(
            "alert issue",
            format!("{web_root}/{repository}/issues/{number}"),
        );
    }
    Some(notification)
}
