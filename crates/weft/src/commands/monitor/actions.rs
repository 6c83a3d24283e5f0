//! `weft monitor stale`, `alert` and `dispatch`: the commands that change
//! things on GitHub, each with a plan printed first (`--dry-run` stops
//! there).

use clap::Args;
use serde_json::{Value, json};
use weft_monitor::alerts::AlertAction;

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

pub(super) fn stale(session: &Session, args: &StaleArgs) -> anyhow::Result<Outcome> {
    let store = session.store()?;
    let mut settings = session.settings.stale.clone();
    if let Some(days) = args.days_until_stale {
        settings.days_until_stale = days;
    }
    if let Some(days) = args.days_until_close {
        settings.days_until_close = days;
    }
    let (analysis, outcomes) = session
        .runtime
        .block_on(weft_monitor::jobs::stale(
            &store,
            &session.github,
            &session.settings,
            &settings,
            args.repository.as_ref().map(std::slice::from_ref),
            args.dry_run,
        ))
        .map_err(super::failure)?;
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
                dry_run_note(args.dry_run)
            ));
            console::out(&text);
        }
    }
    Ok(settled(outcomes.iter().all(|o| o.ok)))
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
    let notifier = weft_notify::Notifier::for_workspace(&session.config);
    let run = session
        .runtime
        .block_on(weft_monitor::jobs::alert(
            &store,
            &session.github,
            &session.settings,
            notifier.as_ref(),
            None,
            args.dry_run,
        ))
        .map_err(super::failure)?;
    let (alerts, actions, outcomes) = (&run.alerts, &run.actions, &run.outcomes);
    match args.format {
        Format::Json => console::json(&run)?,
        Format::Text => {
            let mut text = String::new();
            let verb = if args.dry_run { "would" } else { "did" };
            for action in actions {
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
                    AlertAction::CloseDuplicate {
                        issue_repository,
                        number,
                        kept,
                        ..
                    } => format!("close {issue_repository}#{number} (a duplicate of #{kept})"),
                };
                text.push_str(&format!("{verb}: {line}\n"));
            }
            for delivery in &run.notifications {
                text.push_str(&format!(
                    "notified {}: {}\n",
                    delivery.channel,
                    if delivery.ok {
                        "delivered".to_string()
                    } else {
                        delivery.error.clone().unwrap_or_default()
                    }
                ));
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
                dry_run_note(args.dry_run)
            ));
            console::out(&text);
        }
    }
    Ok(settled(outcomes.iter().all(|o| o.ok)))
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
            let dispatched = match session.github.dispatch_workflow(&request) {
                Ok(dispatched) => dispatched,
                Err(error) => return Err(partly_sent(&sent, error)),
            };
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
            if let Err(error) =
                session
                    .github
                    .repository_dispatch(repository, &event_type, &payload)
            {
                return Err(partly_sent(&sent, error));
            }
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

fn dry_run_note(dry_run: bool) -> &'static str {
    if dry_run {
        " (dry run: nothing changed)"
    } else {
        ""
    }
}

/// Exit 3 when a change GitHub was asked for did not happen.
fn settled(all_done: bool) -> Outcome {
    if all_done {
        Outcome::Clean
    } else {
        Outcome::Internal
    }
}

/// A dispatch that failed part-way: what was sent already is said first, so
/// a retry can leave those repositories out.
fn partly_sent(sent: &[Value], error: weft_github::GitHubError) -> anyhow::Error {
    if !sent.is_empty() {
        let repositories: Vec<&str> = sent
            .iter()
            .filter_map(|s| s["repository"].as_str())
            .collect();
        console::note(&format!(
            "sent before the failure: {} (leave them out of a retry)",
            repositories.join(", ")
        ));
    }
    super::failure(error.into())
}
