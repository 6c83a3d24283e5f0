//! The monitor on `weft serve`: collect and report (and the stale and
//! alert jobs, when weft.yaml configures them) on `monitor.schedule`.
//!
//! How it works: the next run's time lives in the store
//! (`weft_monitor::schedule` explains the claim). The loop sleeps until it
//! (at most 30 s at a time, so a time another replica moved is seen),
//! claims the run, and reads weft.yaml afresh for it, so its repositories,
//! rules and token are current. A run that fails is logged and recorded;
//! the schedule goes on.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use weft_github::{GitHub, GitHubSettings};
use weft_model::config::WorkspaceConfig as Config;
use weft_monitor::schedule::Schedule;
use weft_monitor::{MonitorError, MonitorSettings, RuleSet};
use weft_store::Store;

use crate::state::AppState;

/// The schedule's name in the store.
const JOB: &str = "monitor";
/// The longest sleep between looks at the stored time.
const LOOK_EVERY: Duration = Duration::from_secs(30);

fn load(root: &Path) -> Option<Config> {
    match weft_model::config::load(root) {
        Ok(loaded) => Some(loaded.config),
        Err(error) => {
            tracing::warn!(%error, "cannot read weft.yaml for the monitor's schedule");
            None
        }
    }
}

/// Runs the monitor on its schedule, while weft.yaml lists repositories.
pub(crate) async fn run_schedule(state: AppState) {
    let root = state.settings.workspace.clone();
    let Some(config) = load(&root) else { return };
    if config.monitor.repositories.is_empty() {
        return;
    }
    let settings = MonitorSettings::from_config(&config.monitor);
    let schedule = match Schedule::parse(&settings.schedule) {
        Ok(schedule) => schedule,
        Err(error) => {
            tracing::error!(%error, "the monitor will not run on a schedule");
            return;
        }
    };
    let store = state.coordinator.store().clone();
    let now = weft_store::time::now_ms();
    let first = match schedule.next_after(now) {
        Ok(first) => first,
        Err(error) => {
            tracing::error!(%error, "the monitor will not run on a schedule");
            return;
        }
    };
    if let Err(error) = store
        .monitor_schedule_init(JOB, schedule.expression(), first)
        .await
    {
        tracing::error!(%error, "cannot keep the monitor's schedule in the store");
        return;
    }
    tracing::info!(
        schedule = schedule.expression(),
        "the monitor runs on a schedule"
    );
    loop {
        let due = match store.monitor_schedule(JOB).await {
            Ok(Some(record)) => record.next_at,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot read the monitor's schedule");
                tokio::time::sleep(LOOK_EVERY).await;
                continue;
            }
        };
        let now = weft_store::time::now_ms();
        if due > now {
            let wait = Duration::from_millis(u64::try_from(due - now).unwrap_or(0));
            tokio::time::sleep(wait.min(LOOK_EVERY)).await;
            continue;
        }
        let Ok(next) = schedule.next_after(now) else {
            return;
        };
        match store.monitor_schedule_claim(JOB, due, next).await {
            Ok(true) => {}
            // Another replica took it.
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(%error, "cannot claim the monitor's scheduled run");
                tokio::time::sleep(LOOK_EVERY).await;
                continue;
            }
        }
        // Collecting, analysing and writing the reports: work for a
        // blocking thread (its requests still go through the runtime),
        // not for the threads answering leases.
        let run = {
            let (root, store) = (root.clone(), store.clone());
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || runtime.block_on(run_once(&root, &store)))
                .await
                .unwrap_or_else(|error| Err(MonitorError::Invalid(error.to_string())))
        };
        let outcome = match run {
            Ok(summary) => {
                tracing::info!(%summary, "the monitor's scheduled run finished");
                format!("ok: {summary}")
            }
            Err(error) => {
                tracing::warn!(%error, "the monitor's scheduled run failed");
                format!("failed: {error}")
            }
        };
        if let Err(error) = store.monitor_schedule_finished(JOB, &outcome).await {
            tracing::warn!(%error, "cannot record the monitor's scheduled run");
        }
    }
}

/// weft.yaml as it is now, and the rules it names.
fn read_settings(root: &Path) -> Result<(Config, RuleSet), MonitorError> {
    let config =
        load(root).ok_or_else(|| MonitorError::Invalid("weft.yaml cannot be read".into()))?;
    let rules = match &config.monitor.rules {
        Some(path) => {
            let file = root.join(path);
            let text = fs_err::read_to_string(&file).map_err(|error| {
                MonitorError::Invalid(format!("cannot read the rules: {error}"))
            })?;
            RuleSet::with_builtin(&file.display().to_string(), &text)
                .map_err(|error| MonitorError::Invalid(error.to_string()))?
        }
        None => RuleSet::builtin(),
    };
    Ok((config, rules))
}

/// One scheduled run, with weft.yaml as it is now.
async fn run_once(root: &Path, store: &Store) -> Result<String, MonitorError> {
    let (config, rules) = read_settings(root)?;
    let settings = MonitorSettings::from_config(&config.monitor);
    let mut github = GitHubSettings::from_env(
        config.github.api_url.as_deref(),
        config.github.token_env.as_deref(),
    );
    github.max_wait = settings.max_wait;
    let report_dir = root.join(config.monitor.output_dir.as_deref().unwrap_or("reports"));
    let notifier = weft_notify::Notifier::for_workspace(&config);
    let alerts = config.monitor.alerts.is_some().then_some(notifier.as_ref());
    let run = weft_monitor::jobs::scheduled(
        store,
        &GitHub::new(github),
        &settings,
        Arc::new(rules),
        &report_dir,
        config.monitor.stale.is_some(),
        alerts,
    )
    .await?;
    let failed: Vec<&str> = run
        .collect
        .failed
        .iter()
        .map(|f| f.repository.as_str())
        .collect();
    Ok(format!(
        "{} repositories, {} requests ({} answered 304){}{}",
        run.collect.repositories.len(),
        run.collect.requests,
        run.collect.not_modified,
        if failed.is_empty() {
            String::new()
        } else {
            format!("; not collected: {}", failed.join(", "))
        },
        run.collect
            .stopped
            .as_ref()
            .map(|s| format!("; stopped early: {s}"))
            .unwrap_or_default()
    ))
}
