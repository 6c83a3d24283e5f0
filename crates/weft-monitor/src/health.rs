//! The health score: 0–100 per repository from weighted probes, each of
//! which explains itself.
//!
//! How it works: each probe looks at the collected items of the health
//! window and gives a score from 0 to 100, or says it is *not applicable*
//! (no CI runs, no releases, nothing opened): then its weight goes to the
//! others, in proportion, instead of counting as zero. The repository's
//! score is the weighted mean over the applicable probes; with none it is
//! `unavailable`, never 0. What a probe's score lacks of 100, times its
//! share of the weight, is the points it deducted, and each deduction
//! names the items behind it with their links.

use serde::Serialize;

use crate::items::ThreadItem;
use crate::rules::Severity;
use crate::settings::{DAY_MS, MonitorSettings};
use crate::snapshot::RepositoryData;

const HOUR_MS: i64 = 3_600_000;
/// Evidence links kept per probe.
const EVIDENCE_KEPT: usize = 10;

/// The seed's bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// 80–100.
    Healthy,
    /// 60–79.
    Warning,
    /// 0–59.
    Critical,
    /// No probe applied.
    Unavailable,
}

impl Band {
    pub fn of(score: Option<u32>) -> Band {
        match score {
            None => Band::Unavailable,
            Some(80..) => Band::Healthy,
            Some(60..) => Band::Warning,
            Some(_) => Band::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Healthy => "healthy",
            Band::Warning => "warning",
            Band::Critical => "critical",
            Band::Unavailable => "unavailable",
        }
    }
}

/// An item behind a deduction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub title: String,
    pub url: String,
}

/// One probe's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    /// `ci_success`, `response_time`, `pr_closure`, `stale`, `activity`,
    /// `releases` or `alerts`: the key of its weight.
    pub name: &'static str,
    pub weight: u32,
    pub applicable: bool,
    /// 0–100; `None` when not applicable.
    pub score: Option<f64>,
    /// Its share of the weight of the applicable probes (0–1).
    pub share: f64,
    /// Points it took off the repository's score.
    pub deducted: f64,
    /// What it measured, or why it does not apply.
    pub detail: String,
    pub evidence: Vec<Evidence>,
}

/// A repository's health.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub repository: String,
    pub url: String,
    /// `None`: unavailable.
    pub score: Option<u32>,
    pub band: Band,
    pub probes: Vec<Probe>,
}

struct Verdict {
    score: Option<f64>,
    detail: String,
    evidence: Vec<Evidence>,
}

fn not_applicable(detail: impl Into<String>) -> Verdict {
    Verdict {
        score: None,
        detail: detail.into(),
        evidence: Vec::new(),
    }
}

/// 100 at `good` or better, 0 at `bad` or worse, linear between.
fn linear(value: f64, good: f64, bad: f64) -> f64 {
    if value <= good {
        100.0
    } else if value >= bad {
        0.0
    } else {
        100.0 * (bad - value) / (bad - good)
    }
}

fn evidence(title: impl Into<String>, url: &str) -> Evidence {
    Evidence {
        title: title.into(),
        url: url.to_string(),
    }
}

/// Scores `data` at `now` (Unix ms).
pub fn health(data: &RepositoryData, settings: &MonitorSettings, now: i64) -> Health {
    let since = now - settings.window_ms();
    let w = settings.weights;
    let verdicts = [
        ("ci_success", w.ci_success, ci_success(data, since)),
        (
            "response_time",
            w.response_time,
            response_time(data, &settings.stale.label, since, now),
        ),
        ("pr_closure", w.pr_closure, pr_closure(data, since)),
        ("stale", w.stale, stale(data, settings, now)),
        (
            "activity",
            w.activity,
            activity(data, &settings.stale.label, now),
        ),
        ("releases", w.releases, releases(data, now)),
        ("alerts", w.alerts, alerts(data, now)),
    ];
    let total: f64 = verdicts
        .iter()
        .filter(|(_, weight, v)| v.score.is_some() && *weight > 0)
        .map(|(_, weight, _)| f64::from(*weight))
        .sum();
    let mut sum = 0.0;
    let probes: Vec<Probe> = verdicts
        .into_iter()
        .map(|(name, weight, verdict)| {
            let applies = verdict.score.is_some() && weight > 0 && total > 0.0;
            let share = if applies {
                f64::from(weight) / total
            } else {
                0.0
            };
            let score = verdict.score.map(|s| (s * 10.0).round() / 10.0);
            let deducted = score.map_or(0.0, |s| ((100.0 - s) * share * 10.0).round() / 10.0);
            if applies {
                sum += share * score.unwrap_or(0.0);
            }
            Probe {
                name,
                weight,
                applicable: verdict.score.is_some(),
                score,
                share: (share * 1000.0).round() / 1000.0,
                deducted,
                detail: verdict.detail,
                evidence: verdict.evidence,
            }
        })
        .collect();
    let score = (total > 0.0).then(|| sum.round().clamp(0.0, 100.0) as u32);
    Health {
        repository: data.name.clone(),
        url: data.html_url(),
        band: Band::of(score),
        score,
        probes,
    }
}

/// Completed runs of the window that succeeded, of those that succeeded
/// or failed.
fn ci_success(data: &RepositoryData, since: i64) -> Verdict {
    let counted: Vec<_> = data
        .runs
        .iter()
        .filter(|r| r.created_at >= since && r.counts())
        .collect();
    if counted.is_empty() {
        return not_applicable("no completed workflow runs in the window");
    }
    let failed: Vec<_> = counted.iter().filter(|r| r.failed()).collect();
    let passed = counted.len() - failed.len();
    Verdict {
        score: Some(100.0 * passed as f64 / counted.len() as f64),
        detail: format!("{passed} of {} completed runs succeeded", counted.len()),
        evidence: failed
            .iter()
            .rev()
            .take(EVIDENCE_KEPT)
            .map(|r| {
                evidence(
                    format!("{} failed on {}", r.name, r.head_branch),
                    &r.html_url,
                )
            })
            .collect(),
    }
}

/// How fast people other than the author respond to what people open:
/// within a day is full marks, a week or more (or no answer after a week)
/// none. Items under a day old without an answer are not due yet.
fn response_time(data: &RepositoryData, stale_label: &str, since: i64, now: i64) -> Verdict {
    let mut scored: Vec<(f64, &ThreadItem, Option<i64>)> = Vec::new();
    for thread in data.pulls.iter().chain(&data.issues) {
        if thread.author_bot || thread.created_at < since {
            continue;
        }
        let waited = match thread.first_human_response(stale_label) {
            Some(response) => response.at - thread.created_at,
            None => {
                let end = thread.closed_at.unwrap_or(now);
                if end - thread.created_at < 24 * HOUR_MS && thread.is_open() {
                    continue;
                }
                end - thread.created_at
            }
        };
        let hours = waited as f64 / HOUR_MS as f64;
        let answered = thread.first_human_response(stale_label).map(|r| r.at);
        scored.push((linear(hours, 24.0, 168.0), thread, answered));
    }
    if scored.is_empty() {
        return not_applicable("nothing opened by a person in the window to respond to");
    }
    let mean = scored.iter().map(|(s, _, _)| s).sum::<f64>() / scored.len() as f64;
    let answered = scored.iter().filter(|(_, _, a)| a.is_some()).count();
    let mut slow: Vec<_> = scored.iter().filter(|(s, _, _)| *s < 100.0).collect();
    slow.sort_by(|a, b| a.0.total_cmp(&b.0));
    Verdict {
        score: Some(mean),
        detail: format!(
            "{answered} of {} issues and pull requests got a human response; {} took over a day",
            scored.len(),
            slow.len()
        ),
        evidence: slow
            .iter()
            .take(EVIDENCE_KEPT)
            .map(|(_, thread, answered)| {
                let waited = answered.map_or_else(
                    || "no response yet".to_string(),
                    |at| {
                        format!(
                            "first response after {} h",
                            (at - thread.created_at) / HOUR_MS
                        )
                    },
                );
                evidence(
                    format!("#{} {}: {waited}", thread.number, thread.title),
                    &thread.html_url,
                )
            })
            .collect(),
    }
}

/// Pull requests closed in the window against those opened in it.
fn pr_closure(data: &RepositoryData, since: i64) -> Verdict {
    let opened = data.pulls.iter().filter(|p| p.created_at >= since).count();
    let closed = data
        .pulls
        .iter()
        .filter(|p| p.closed_at.is_some_and(|at| at >= since))
        .count();
    if opened == 0 && closed == 0 {
        return not_applicable("no pull requests opened or closed in the window");
    }
    let ratio = if opened == 0 {
        1.0
    } else {
        (closed as f64 / opened as f64).min(1.0)
    };
    Verdict {
        score: Some(100.0 * ratio),
        detail: format!("pull requests in the window: {closed} closed, {opened} opened"),
        evidence: data
            .pulls
            .iter()
            .filter(|p| p.created_at >= since && p.is_open())
            .take(EVIDENCE_KEPT)
            .map(|p| {
                evidence(
                    format!("#{} {} is still open", p.number, p.title),
                    &p.html_url,
                )
            })
            .collect(),
    }
}

/// Open pull requests that are not stale.
fn stale(data: &RepositoryData, settings: &MonitorSettings, now: i64) -> Verdict {
    let open: Vec<_> = data
        .pulls
        .iter()
        .filter(|p| p.is_open() && !crate::stale::exempt(p, &settings.stale))
        .collect();
    if open.is_empty() {
        return not_applicable("no open pull requests that can go stale");
    }
    let stale: Vec<_> = open
        .iter()
        .filter(|p| {
            let (days, _) = settings.stale.thresholds(&p.labels);
            now - p.last_human_activity(&settings.stale.label) >= i64::from(days) * DAY_MS
        })
        .collect();
    Verdict {
        score: Some(100.0 * (1.0 - stale.len() as f64 / open.len() as f64)),
        detail: format!(
            "{} of {} open pull requests are stale",
            stale.len(),
            open.len()
        ),
        evidence: stale
            .iter()
            .take(EVIDENCE_KEPT)
            .map(|p| {
                let days = (now - p.last_human_activity(&settings.stale.label)) / DAY_MS;
                evidence(
                    format!(
                        "#{} {}: no human activity for {days} days",
                        p.number, p.title
                    ),
                    &p.html_url,
                )
            })
            .collect(),
    }
}

/// How recently a person did something: within a week is full marks, a
/// month or more none.
fn activity(data: &RepositoryData, stale_label: &str, now: i64) -> Verdict {
    let mut last: Option<(i64, String, String)> = None;
    let mut consider = |at: i64, what: String, url: String| {
        if at > 0 && last.as_ref().is_none_or(|(l, _, _)| at > *l) {
            last = Some((at, what, url));
        }
    };
    if let Some(info) = &data.info {
        consider(info.pushed_at, "a push".into(), info.html_url.clone());
    }
    for event in data.events.iter().filter(|e| !e.bot) {
        consider(
            event.at,
            format!("{} by {}", event.kind, event.actor),
            data.html_url(),
        );
    }
    for thread in data.pulls.iter().chain(&data.issues) {
        if !thread.author_bot {
            consider(
                thread.created_at,
                format!("#{} opened by {}", thread.number, thread.author),
                thread.html_url.clone(),
            );
        }
        for a in thread.human_activity(stale_label) {
            consider(
                a.at,
                format!("{} on #{} by {}", a.kind, thread.number, a.actor),
                thread.html_url.clone(),
            );
        }
    }
    let Some((at, what, url)) = last else {
        return not_applicable("nothing collected yet");
    };
    let days = (now - at) as f64 / DAY_MS as f64;
    let score = linear(days, 7.0, 30.0);
    Verdict {
        score: Some(score),
        detail: format!("last human activity {:.0} days ago: {what}", days.floor()),
        evidence: if score < 100.0 {
            vec![evidence(what, &url)]
        } else {
            Vec::new()
        },
    }
}

/// How recently a release was published: within a month is full marks,
/// six months or more none. Never released: not applicable.
fn releases(data: &RepositoryData, now: i64) -> Verdict {
    let Some(latest) = data
        .releases
        .iter()
        .filter(|r| !r.draft)
        .max_by_key(|r| r.published_at)
    else {
        return not_applicable("no releases");
    };
    let days = (now - latest.published_at) as f64 / DAY_MS as f64;
    let score = linear(days, 30.0, 180.0);
    Verdict {
        score: Some(score),
        detail: format!("latest release {} {:.0} days ago", latest.tag, days.floor()),
        evidence: if score < 100.0 {
            vec![evidence(
                format!("release {}", latest.tag),
                &latest.html_url,
            )]
        } else {
            Vec::new()
        },
    }
}

/// Critical failures of the last week that no later success of the same
/// workflow on the same branch cleared: each costs half the probe.
fn alerts(data: &RepositoryData, now: i64) -> Verdict {
    if data.runs.is_empty() {
        return not_applicable("no workflow runs");
    }
    let open = open_critical(data, now);
    Verdict {
        score: Some((100.0 - 50.0 * open.len() as f64).max(0.0)),
        detail: format!("{} open critical failures", open.len()),
        evidence: open
            .iter()
            .take(EVIDENCE_KEPT)
            .map(|(rule, url)| evidence(format!("critical: {rule}"), url))
            .collect(),
    }
}

/// The critical findings of the last week not cleared by a later success:
/// (rule, the job's URL), one per rule.
pub fn open_critical(data: &RepositoryData, now: i64) -> Vec<(String, String)> {
    let mut open: Vec<(String, String)> = Vec::new();
    for job in &data.jobs {
        let Some(run) = data.runs.iter().find(|r| r.id == job.run_id) else {
            continue;
        };
        if !run.failed() || now - run.created_at > 7 * DAY_MS {
            continue;
        }
        let cleared = data.runs.iter().any(|later| {
            later.name == run.name
                && later.head_branch == run.head_branch
                && later.created_at > run.created_at
                && later.conclusion.as_deref() == Some("success")
        });
        if cleared {
            continue;
        }
        for finding in job
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Critical)
        {
            if !open.iter().any(|(rule, _)| *rule == finding.rule) {
                open.push((finding.rule.clone(), job.html_url.clone()));
            }
        }
    }
    open
}
