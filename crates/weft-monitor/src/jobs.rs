//! The monitor's jobs over the store, shared by the command line and
//! `weft serve`'s schedule: the ecosystem analysis and its files, the stale
//! job and the alert job. GitHub calls run on blocking threads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use weft_github::GitHub;
use weft_notify::{Delivery, Notifier};
use weft_store::{MonitorItem, Store};

use crate::alerts::{Alert, AlertAction, AlertInput, AlertOutcome};
use crate::collect::{CollectReport, CollectRequest, Progress};
use crate::error::MonitorError;
use crate::health::{Health, health, open_critical};
use crate::items::{Activity, ThreadItem};
use crate::report::{EcosystemAnalysis, TrendPoint};
use crate::rules::RuleSet;
use crate::settings::{MonitorSettings, StaleSettings};
use crate::snapshot::Snapshot;
use crate::stale::{ActionOutcome, Marks, StaleAction, StaleAnalysis, StaleSummary};

/// The names of the report's files.
pub const REPORT_FILES: [&str; 3] = [
    "ecosystem_analysis.json",
    "ecosystem_summary.md",
    "index.html",
];

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, MonitorError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| MonitorError::Internal(error.to_string()))
}

/// The store's snapshot of `scope` (or everything collected), now.
pub async fn snapshot(
    store: &Store,
    settings: &MonitorSettings,
    scope: Option<&[String]>,
) -> Result<Snapshot, MonitorError> {
    let now = weft_store::time::now_ms();
    let snapshot = Snapshot::load(store, scope, now - settings.window_ms(), now).await?;
    if snapshot.repositories.values().all(|r| r.info.is_none()) {
        return Err(MonitorError::NothingCollected(
            scope.map(|list| list.join(", ")),
        ));
    }
    Ok(snapshot)
}

/// Each repository's stale summary.
pub fn stale_summaries(analysis: &StaleAnalysis) -> BTreeMap<String, StaleSummary> {
    let mut summaries: BTreeMap<String, StaleSummary> = BTreeMap::new();
    for pull in &analysis.stale_prs {
        let s = summaries.entry(pull.repository.clone()).or_default();
        s.total_stale_prs += 1;
        s.oldest_pr_days = s.oldest_pr_days.max(pull.days_inactive);
    }
    for branch in &analysis.stale_branches {
        let s = summaries.entry(branch.repository.clone()).or_default();
        s.total_stale_branches += 1;
        s.oldest_branch_days = s.oldest_branch_days.max(branch.days_inactive);
    }
    summaries
}

/// The ecosystem analysis of `scope` (or everything collected), with the
/// stored trends.
pub async fn ecosystem(
    store: &Store,
    settings: &MonitorSettings,
    scope: Option<&[String]>,
) -> Result<(Snapshot, EcosystemAnalysis), MonitorError> {
    let snapshot = snapshot(store, settings, scope).await?;
    let marks = marks(store, &snapshot).await?;
    let stale = crate::stale::analyse(
        snapshot.repositories.values(),
        &settings.stale,
        &marks,
        snapshot.now,
        true,
    );
    let trends = store
        .monitor_collections(30)
        .await?
        .iter()
        .rev()
        .filter_map(|c| {
            let scores = c.summary.get("scores")?.as_object()?;
            Some(TrendPoint {
                at: weft_store::time::rfc3339(c.finished_at.unwrap_or(c.started_at)),
                scores: scores
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().and_then(|s| u32::try_from(s).ok())))
                    .collect(),
            })
        })
        .collect();
    let analysis = crate::report::analyse(&snapshot, settings, &stale_summaries(&stale), trends);
    Ok((snapshot, analysis))
}

/// Writes the three report files into `dir` and records the scores for
/// the trends.
pub async fn write_report(
    store: &Store,
    analysis: &EcosystemAnalysis,
    dir: &Path,
) -> Result<(), MonitorError> {
    let json = serde_json::to_string_pretty(analysis)
        .map_err(|error| MonitorError::Internal(error.to_string()))?
        + "\n";
    let texts = [
        json,
        crate::report::markdown(analysis),
        crate::html::html(analysis),
    ];
    let dir = dir.to_path_buf();
    // File writes block: off the runtime.
    blocking(move || -> Result<(), MonitorError> {
        let write_error = |path: &Path, error: std::io::Error| MonitorError::Write {
            path: path.display().to_string(),
            message: error.to_string(),
        };
        fs_err::create_dir_all(&dir).map_err(|e| write_error(&dir, e))?;
        for (name, text) in REPORT_FILES.iter().zip(texts) {
            let path = dir.join(name);
            fs_err::write(&path, text).map_err(|e| write_error(&path, e))?;
        }
        Ok(())
    })
    .await??;
    let scores: serde_json::Map<String, serde_json::Value> = analysis
        .domains
        .iter()
        .map(|(name, d)| (name.clone(), serde_json::json!(d.health_score)))
        .collect();
    store
        .monitor_record_scores(&serde_json::Value::Object(scores))
        .await?;
    Ok(())
}

/// When weft marked each pull request of the snapshot stale.
async fn marks(store: &Store, snapshot: &Snapshot) -> Result<Marks, MonitorError> {
    let mut marks = Marks::new();
    for name in snapshot.repositories.keys() {
        for (number, at) in store.monitor_stale_marks(name).await? {
            marks.insert((name.clone(), number), at);
        }
    }
    Ok(marks)
}

/// The stale job: plans, and unless `dry_run` carries the plan out and
/// keeps what it did in the store (so the next plan, even before the next
/// collection, starts from it).
pub async fn stale(
    store: &Store,
    github: &GitHub,
    settings: &MonitorSettings,
    stale: &StaleSettings,
    scope: Option<&[String]>,
    dry_run: bool,
) -> Result<(StaleAnalysis, Vec<ActionOutcome>), MonitorError> {
    let snapshot = snapshot(store, settings, scope).await?;
    let marks = marks(store, &snapshot).await?;
    let analysis = crate::stale::analyse(
        snapshot.repositories.values(),
        stale,
        &marks,
        snapshot.now,
        dry_run,
    );
    if dry_run {
        return Ok((analysis, Vec::new()));
    }
    let (client, actions) = (github.clone(), analysis.actions.clone());
    let outcomes = blocking(move || crate::stale::execute(&client, &actions)).await?;
    for outcome in outcomes.iter().filter(|o| o.ok && o.skipped.is_none()) {
        record(store, &snapshot, &outcome.action, &stale.label).await?;
    }
    Ok((analysis, outcomes))
}

async fn record(
    store: &Store,
    snapshot: &Snapshot,
    action: &StaleAction,
    label: &str,
) -> Result<(), MonitorError> {
    let now = weft_store::time::now_ms();
    let repository = action.repository();
    let pull = |number: u64| -> Option<ThreadItem> {
        snapshot
            .repositories
            .get(repository)?
            .pulls
            .iter()
            .find(|p| p.number == number)
            .cloned()
    };
    let mut changed = None;
    match action {
        StaleAction::Mark { number, .. } => {
            store.monitor_mark_stale(repository, *number, now).await?;
            changed = pull(*number).map(|mut pull| {
                pull.labels.push(label.to_string());
                pull.activity.push(Activity {
                    kind: "labeled".to_string(),
                    actor: String::new(),
                    bot: false,
                    at: now,
                    label: Some(label.to_string()),
                    weft: true,
                    url: String::new(),
                });
                pull
            });
        }
        StaleAction::Unmark { number, .. } => {
            store.monitor_unmark_stale(repository, *number).await?;
            changed = pull(*number).map(|mut pull| {
                pull.labels.retain(|l| l != label);
                pull
            });
        }
        StaleAction::Close { number, .. } => {
            store.monitor_unmark_stale(repository, *number).await?;
            changed = pull(*number).map(|mut pull| {
                pull.state = "closed".to_string();
                pull.closed_at = Some(now);
                pull
            });
        }
        StaleAction::DeleteBranch { branch, .. } => {
            store
                .monitor_remove(repository, "branch", std::slice::from_ref(branch))
                .await?;
        }
    }
    if let Some(pull) = changed {
        let item = MonitorItem {
            repository: repository.to_string(),
            kind: "pull".to_string(),
            key: pull.number.to_string(),
            at: pull.updated_at,
            body: serde_json::to_value(&pull)
                .map_err(|error| MonitorError::Internal(error.to_string()))?,
        };
        store.monitor_put(&[item], &[]).await?;
    }
    Ok(())
}

/// The monitor's verdict on what was collected, from the store alone (no
/// GitHub call): each repository's health and the alerts that should be
/// open.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub snapshot: Snapshot,
    pub analysis: EcosystemAnalysis,
    /// By repository.
    pub healths: BTreeMap<String, Health>,
    pub alerts: Vec<Alert>,
}

/// Assesses `scope` (or everything collected).
pub async fn assess(
    store: &Store,
    settings: &MonitorSettings,
    scope: Option<&[String]>,
) -> Result<Assessment, MonitorError> {
    let (snapshot, analysis) = ecosystem(store, settings, scope).await?;
    let healths: BTreeMap<String, Health> = snapshot
        .repositories
        .iter()
        .map(|(name, data)| (name.clone(), health(data, settings, snapshot.now)))
        .collect();
    let inputs: Vec<AlertInput<'_>> = snapshot
        .repositories
        .iter()
        .map(|(name, data)| AlertInput {
            health: &healths[name],
            critical: open_critical(data, snapshot.now),
            stale: analysis
                .domains
                .get(name)
                .map(|d| d.stale.clone())
                .unwrap_or_default(),
        })
        .collect();
    let alerts = crate::alerts::alerts(&inputs, &settings.alerts);
    Ok(Assessment {
        snapshot,
        analysis,
        healths,
        alerts,
    })
}

/// What the alert job raised and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRun {
    pub alerts: Vec<Alert>,
    pub actions: Vec<AlertAction>,
    pub outcomes: Vec<AlertOutcome>,
    /// What `notify:` rules delivered: `monitor_alert` for an opened alert
    /// or a risen severity, `monitor_recovered` for a closed one.
    pub notifications: Vec<Delivery>,
    pub dry_run: bool,
}

/// The alert job over `scope` (or everything collected); `notifier` tells
/// weft.yaml's `notify:` rules of what changed.
pub async fn alert(
    store: &Store,
    github: &GitHub,
    settings: &MonitorSettings,
    notifier: Option<&Notifier>,
    scope: Option<&[String]>,
    dry_run: bool,
) -> Result<AlertRun, MonitorError> {
    let Assessment {
        snapshot, alerts, ..
    } = assess(store, settings, scope).await?;
    let analysed: BTreeSet<String> = snapshot.repositories.keys().cloned().collect();
    let targets: BTreeSet<String> = analysed
        .iter()
        .map(|r| crate::alerts::target(r, &settings.alerts))
        .collect();
    let labels = settings.alerts.labels.clone();
    let client = github.clone();
    let open = blocking(move || crate::alerts::open_alerts(&client, &targets, &labels)).await??;
    let actions = crate::alerts::plan(&alerts, &open, &analysed, &settings.alerts);
    let outcomes = if dry_run {
        Vec::new()
    } else {
        let (client, planned, labels) = (
            github.clone(),
            actions.clone(),
            settings.alerts.labels.clone(),
        );
        blocking(move || crate::alerts::execute(&client, &planned, &labels)).await?
    };
    let mut notifications = Vec::new();
    if let Some(notifier) = notifier {
        for outcome in outcomes.iter().filter(|o| o.ok) {
            if let Some(notification) = crate::alerts::notification(outcome, &github.web_root()) {
                notifications.extend(notifier.notify(&notification).await);
            }
        }
    }
    Ok(AlertRun {
        alerts,
        actions,
        outcomes,
        notifications,
        dry_run,
    })
}

/// What one scheduled run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledRun {
    pub collect: CollectReport,
    pub report_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_actions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_actions: Option<usize>,
}

/// What `weft serve` runs on the schedule: collect and report, and the
/// stale and alert jobs when weft.yaml configures them (`run_stale`;
/// `alerts`, with the notifier of `notify:` if any).
pub async fn scheduled(
    store: &Store,
    github: &GitHub,
    settings: &MonitorSettings,
    rules: Arc<RuleSet>,
    report_dir: &Path,
    run_stale: bool,
    alerts: Option<Option<&Notifier>>,
) -> Result<ScheduledRun, MonitorError> {
    let request = CollectRequest {
        repositories: None,
        since: None,
    };
    let quiet = |_: Progress| {};
    let collect = crate::collect::collect(store, github, settings, rules, &request, &quiet).await?;
    let (_, analysis) = ecosystem(store, settings, None).await?;
    write_report(store, &analysis, report_dir).await?;
    // Only what this run collected is acted on: a repository that failed
    // has old data, and stale decisions on it could be wrong.
    let collected: Vec<String> = collect
        .repositories
        .iter()
        .filter(|r| {
            !collect.skipped.contains(r) && !collect.failed.iter().any(|f| &f.repository == *r)
        })
        .cloned()
        .collect();
    let mut run = ScheduledRun {
        collect,
        report_dir: report_dir.display().to_string(),
        stale_actions: None,
        alert_actions: None,
    };
    if collected.is_empty() {
        return Ok(run);
    }
    if run_stale {
        let scope = Some(collected.as_slice());
        let (analysis, _) = stale(store, github, settings, &settings.stale, scope, false).await?;
        run.stale_actions = Some(analysis.actions.len());
    }
    if let Some(notifier) = alerts {
        let done = alert(store, github, settings, notifier, Some(&collected), false).await?;
        run.alert_actions = Some(done.actions.len());
    }
    Ok(run)
}
