//! `weft monitor stale`, `alert` and `dispatch`: the commands that change
//! things on GitHub, each with a plan printed first (`--dry-run` stops
//! there).

use std::collections::{BTreeMap, BTreeSet};

use clap::Args;
use serde_json::{Value, json};
use weft_monitor::alerts::{AlertAction, AlertInput};
use weft_monitor::items::{Activity, ThreadItem};
use weft_monitor::snapshot::Snapshot;
use weft_monitor::stale::{Marks, StaleAction};
use weft_store::{MonitorItem, Store};

use super::Session;
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub(super) struct StaleArgs {
    /// List what would be done and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Days without human activity before a pull request or branch is stale
    /// [default: weft.yaml's `monitor.stale.days_until_stale`, else 30]
    #[arg(long, value_name = "N")]
    days_until_stale: Option<u32>,
    /// Days after marking before a pull request closes (and after staleness
    /// before a branch is deleted) [default: `monitor.stale.days_until_close`, else 7]
    #[arg(long, value_name = "N")]
    days_until_close: Option<u32>,
    /// Only this repository (`owner/name`)
    #[arg(long = "repo", value_name = "REPO")]
    repository: Option<String>,
    /// Where stale_analysis.json goes [default: the report directory]
    #[arg(long, value_name = "DIR")]
    output_dir: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn load(session: &Session, store: &Store, only: Option<&str>) -> anyhow::Result<Snapshot> {
    let now = weft_store::time::now_ms();
    let list = only.map(|r| vec![r.to_string()]);
    let snapshot = session
        .runtime
        .block_on(Snapshot::load(
            store,
            list.as_deref(),
            now - session.settings.window_ms(),
            now,
        ))
        .map_err(super::failure)?;
    if snapshot.repositories.values().all(|r| r.info.is_none()) {
        return Err(UsageError::new("nothing collected yet")
            .with_hint("run `weft monitor collect` first")
            .into());
    }
    Ok(snapshot)
}

pub(super) fn stale(session: &Session, args: &StaleArgs) -> anyhow::Result<Outcome> {
    let store = session.store()?;
    let snapshot = load(session, &store, args.repository.as_deref())?;
    let mut settings = session.settings.stale.clone();
    if let Some(days) = args.days_until_stale {
        settings.days_until_stale = days;
    }
    if let Some(days) = args.days_until_close {
        settings.days_until_close = days;
    }
    let mut marks = Marks::new();
    for name in snapshot.repositories.keys() {
        for (number, at) in session.runtime.block_on(store.monitor_stale_marks(name))? {
            marks.insert((name.clone(), number), at);
        }
    }
    let analysis = weft_monitor::stale::analyse(
        snapshot.repositories.values(),
        &settings,
        &marks,
        snapshot.now,
        args.dry_run,
    );
    let outcomes = if args.dry_run {
        Vec::new()
    } else {
        let outcomes = weft_monitor::stale::execute(&session.github, &analysis.actions);
        for outcome in outcomes.iter().filter(|o| o.ok) {
            record(session, &store, &snapshot, &outcome.action, &settings.label)?;
        }
        outcomes
    };
    let dir = session.output_dir(args.output_dir.as_deref())?;
    let mut document = serde_json::to_value(&analysis)?;
    if !args.dry_run {
        document["outcomes"] = serde_json::to_value(&outcomes)?;
    }
    fs_err::write(
        dir.join("stale_analysis.json"),
        serde_json::to_string_pretty(&document)? + "\n",
    )?;
    match args.format {
        Format::Json => console::json(&document)?,
        Format::Text => {
            let mut text = String::new();
            for pull in &analysis.stale_prs {
                text.push_str(&format!(
                    "stale PR     {}#{} {} ({} days without human activity)\n",
                    pull.repository, pull.number, pull.title, pull.days_inactive
                ));
            }
            for branch in &analysis.stale_branches {
                text.push_str(&format!(
                    "stale branch {} {} ({} days, {})\n",
                    branch.repository, branch.name, branch.days_inactive, branch.reason
                ));
            }
            let verb = if args.dry_run { "would" } else { "did" };
            for action in &analysis.actions {
                let failed = outcomes
                    .iter()
                    .find(|o| &o.action == action)
                    .and_then(|o| o.error.clone());
                match failed {
                    Some(error) => text.push_str(&format!(
                        "{} {}: {error}\n",
                        console::paint(Style::Red, "failed"),
                        action.describe()
                    )),
                    None => text.push_str(&format!("{verb}: {}\n", action.describe())),
                }
            }
            text.push_str(&format!(
                "{}, {}, {}{}\n",
                console::count(analysis.stale_prs.len(), "stale pull request"),
                console::count(analysis.stale_branches.len(), "stale branch"),
                console::count(analysis.actions.len(), "action"),
                if args.dry_run {
                    " (dry run: nothing changed)"
                } else {
                    ""
                }
            ));
            console::out(&text);
        }
    }
    Ok(if outcomes.iter().any(|o| !o.ok) {
        Outcome::Internal
    } else {
        Outcome::Clean
    })
}

/// Keeps what an action did in the store, so the next plan (before the next
/// collection) starts from it.
fn record(
    session: &Session,
    store: &Store,
    snapshot: &Snapshot,
    action: &StaleAction,
    label: &str,
) -> anyhow::Result<()> {
    let now = weft_store::time::now_ms();
    let repository = action.repository().to_string();
    let pull = |number: u64| -> Option<ThreadItem> {
        snapshot
            .repositories
            .get(&repository)?
            .pulls
            .iter()
            .find(|p| p.number == number)
            .cloned()
    };
    let put = |pull: ThreadItem| -> anyhow::Result<()> {
        let item = MonitorItem {
            repository: repository.clone(),
            kind: "pull".to_string(),
            key: pull.number.to_string(),
            at: pull.updated_at,
            body: serde_json::to_value(&pull)?,
        };
        session.runtime.block_on(store.monitor_put(&[item], &[]))?;
        Ok(())
    };
    match action {
        StaleAction::Mark { number, .. } => {
            session
                .runtime
                .block_on(store.monitor_mark_stale(&repository, *number, now))?;
            if let Some(mut pull) = pull(*number) {
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
                put(pull)?;
            }
        }
        StaleAction::Unmark { number, .. } => {
            session
                .runtime
                .block_on(store.monitor_unmark_stale(&repository, *number))?;
            if let Some(mut pull) = pull(*number) {
                pull.labels.retain(|l| l != label);
                put(pull)?;
            }
        }
        StaleAction::Close { number, .. } => {
            session
                .runtime
                .block_on(store.monitor_unmark_stale(&repository, *number))?;
            if let Some(mut pull) = pull(*number) {
                pull.state = "closed".to_string();
                pull.closed_at = Some(now);
                put(pull)?;
            }
        }
        StaleAction::DeleteBranch { branch, .. } => {
            session.runtime.block_on(store.monitor_remove(
                &repository,
                "branch",
                std::slice::from_ref(branch),
            ))?;
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(super) struct AlertArgs {
    /// List what would be opened, updated and closed, and change nothing
    #[arg(long)]
    dry_run: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(super) fn alert(session: &Session, args: &AlertArgs) -> anyhow::Result<Outcome> {
    let store = session.store()?;
    let snapshot = load(session, &store, None)?;
    let analysis = super::jobs::analysis(session, &store)?;
    let healths: BTreeMap<String, weft_monitor::health::Health> = snapshot
        .repositories
        .iter()
        .map(|(name, data)| {
            (
                name.clone(),
                weft_monitor::health::health(data, &session.settings, snapshot.now),
            )
        })
        .collect();
    let inputs: Vec<AlertInput<'_>> = snapshot
        .repositories
        .iter()
        .map(|(name, data)| AlertInput {
            health: &healths[name],
            critical: weft_monitor::health::open_critical(data, snapshot.now),
            stale: analysis
                .domains
                .get(name)
                .map(|d| d.stale.clone())
                .unwrap_or_default(),
        })
        .collect();
    let alerts = weft_monitor::alerts::alerts(&inputs, &session.settings.alerts);
    let analysed: BTreeSet<String> = snapshot.repositories.keys().cloned().collect();
    let targets: BTreeSet<String> = analysed
        .iter()
        .map(|r| weft_monitor::alerts::target(r, &session.settings.alerts))
        .collect();
    let labels = &session.settings.alerts.labels;
    let open = weft_monitor::alerts::open_alerts(&session.github, &targets, labels)
        .map_err(|e| super::failure(e.into()))?;
    let actions = weft_monitor::alerts::plan(&alerts, &open, &analysed, &session.settings.alerts);
    let outcomes = if args.dry_run {
        Vec::new()
    } else {
        weft_monitor::alerts::execute(&session.github, &actions, labels)
    };
    match args.format {
        Format::Json => console::json(&json!({
            "alerts": alerts,
            "actions": actions,
            "outcomes": outcomes,
            "dry_run": args.dry_run,
        }))?,
        Format::Text => {
            let mut text = String::new();
            let verb = if args.dry_run { "would" } else { "did" };
            for action in &actions {
                let line = match action {
                    AlertAction::Open {
                        issue_repository,
                        alert,
                    } => {
                        format!("open in {issue_repository}: {}", alert.title)
                    }
                    AlertAction::Update {
                        issue_repository,
                        number,
                        alert,
                        comment,
                    } => format!(
                        "update {issue_repository}#{number}: {}{}",
                        alert.title,
                        if comment.is_some() {
                            " (severity rose: one comment)"
                        } else {
                            ""
                        }
                    ),
                    AlertAction::Close {
                        issue_repository,
                        number,
                        fingerprint,
                    } => {
                        format!("close {issue_repository}#{number} (recovered: {fingerprint})")
                    }
                };
                text.push_str(&format!("{verb}: {line}\n"));
            }
            for outcome in outcomes.iter().filter(|o| !o.ok) {
                text.push_str(&format!(
                    "{} {}\n",
                    console::paint(Style::Red, "failed:"),
                    outcome.error.as_deref().unwrap_or_default()
                ));
            }
            text.push_str(&format!(
                "{} raised, {}{}\n",
                console::count(alerts.len(), "alert"),
                console::count(actions.len(), "change"),
                if args.dry_run {
                    " (dry run: nothing changed)"
                } else {
                    ""
                }
            ));
            console::out(&text);
        }
    }
    Ok(if outcomes.iter().any(|o| !o.ok) {
        Outcome::Internal
    } else {
        Outcome::Clean
    })
}

#[derive(Debug, Args)]
pub(super) struct DispatchArgs {
    /// The repository_dispatch event type: ecosystem-alert, domain-failure, workflow-complete,
    /// fixer-analysis, or your own (at most 100 characters)
    #[arg(value_name = "EVENT_TYPE", required_unless_present = "workflow")]
    event_type: Option<String>,
    /// Repositories to send to (repeat, or comma-separate)
    #[arg(
        long = "repo",
        value_delimiter = ',',
        required = true,
        value_name = "REPO"
    )]
    repositories: Vec<String>,
    /// The client_payload: a JSON object of at most 10 top-level keys, under 64 KB
    #[arg(long, value_name = "JSON")]
    payload: Option<String>,
    /// Fan out workflow_dispatch of this workflow file instead
    #[arg(long, value_name = "FILE", conflicts_with = "event_type")]
    workflow: Option<String>,
    /// The branch or tag to run the workflow on [default: each repository's default branch]
    #[arg(long = "ref", value_name = "REF", requires = "workflow")]
    reference: Option<String>,
    /// A workflow input, KEY=VALUE (repeat; at most 25)
    #[arg(long = "input", value_name = "KEY=VALUE", requires = "workflow")]
    inputs: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(super) fn dispatch(session: &Session, args: &DispatchArgs) -> anyhow::Result<Outcome> {
    let bad = |message: String| -> anyhow::Error {
        UsageError::new(message)
            .with_hint("GitHub's limits: an event type of 1-100 characters, a client_payload object of at most 10 top-level keys and under 64 KB, at most 25 workflow inputs")
            .into()
    };
    let mut sent = Vec::new();
    if let Some(workflow) = &args.workflow {
        let mut inputs = std::collections::BTreeMap::new();
        for input in &args.inputs {
            let (key, value) = input
                .split_once('=')
                .ok_or_else(|| bad(format!("--input `{input}` is not KEY=VALUE")))?;
            inputs.insert(key.to_string(), value.to_string());
        }
        weft_github::workflows::check_workflow_inputs(&inputs).map_err(|e| bad(e.to_string()))?;
        for repository in &args.repositories {
            let correlation = uuid::Uuid::new_v4().to_string();
            let request = weft_github::WorkflowDispatch {
                repository,
                workflow,
                git_ref: args.reference.as_deref(),
                inputs: &inputs,
                correlation_id: &correlation,
                find_timeout: std::time::Duration::from_secs(30),
            };
            let dispatched = session
                .github
                .dispatch_workflow(&request)
                .map_err(|e| super::failure(e.into()))?;
            sent.push(json!({"repository": repository, "workflow": workflow, "run_id": dispatched.run_id, "html_url": dispatched.html_url}));
        }
    } else {
        let event_type = args.event_type.clone().unwrap_or_default();
        let payload: Value = match &args.payload {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| bad(format!("--payload is not JSON: {e}")))?,
            None => json!({}),
        };
        weft_github::workflows::check_repository_dispatch(&event_type, &payload)
            .map_err(|e| bad(e.to_string()))?;
        for repository in &args.repositories {
            session
                .github
                .repository_dispatch(repository, &event_type, &payload)
                .map_err(|e| super::failure(e.into()))?;
            sent.push(json!({"repository": repository, "event_type": event_type}));
        }
    }
    match args.format {
        Format::Json => console::json(&json!({"sent": sent}))?,
        Format::Text => {
            let mut text = String::new();
            for item in &sent {
                text.push_str(&format!("sent {item}\n"));
            }
            console::out(&text);
        }
    }
    Ok(Outcome::Clean)
}
