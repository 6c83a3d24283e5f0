//! `weft push`: land local commits on a busy branch (lock, fetch, rebase by
//! path policy, push, retry, roll back); `weft push status` and `weft push
//! cleanup`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use weft_model::config::{ConfigError, PushConfig};
use weft_push::{
    CleanupReport, ErrorClass, Interrupt, LockMode, PolicySource, Progress, PushError, PushFailure,
    PushOutcome, PushReport, PushRequest, PushSettings, PushStatus, Pusher,
};

use super::Context;
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

const PUSH_ABOUT: &str = "\
Commit what is staged (or named with --add), or take the existing local commits, and land them on the \
remote branch:

1. take the push lock of the branch: a lock ref on the remote (refs/weft/locks/<branch>) taken with an \
atomic push under --force-with-lease; an expired lock is taken over, a live one waited for;
2. fetch, and rebase the local commits onto the remote branch, resolving conflicts by the path \
policies of weft.yaml (push.policies: glob -> mine | theirs | union | fail | {regenerate: COMMAND}); \
without a matching glob, data files keep mine and everything else theirs. Mine and theirs are the \
pusher's: weft handles git's swapped sides during a rebase;
3. push the branch and release the lock in one atomic push: never a force over others' commits, and a \
holder whose lock was taken over lands nothing; a rejected or failed push goes back to 2 with \
exponential backoff and full jitter;
4. release the lock, always. On failure, or on SIGINT/SIGTERM, the branch, index and working tree are \
put back exactly as they were.

Exit codes: 0 landed (or nothing to push), 1 the push failed (a conflict under `fail`, the lock not \
obtained, retries exhausted), 2 bad input (configuration, arguments, a repository in the middle of a \
rebase), 3 git or the file system failed, 130/143 interrupted.";

const PUSH_AFTER: &str = "\
Examples:
  weft push --add data/ -m \"Nightly data\"     stage data/, commit and land it
  weft push                                  land the local commits of the current branch
  weft push --branch main --retries 8 --format json
  weft push status                           who holds the push lock, who waits, recent pushes
  weft push cleanup                          repair what a killed run left";

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    long_about = PUSH_ABOUT,
    after_help = PUSH_AFTER
)]
pub(crate) struct PushArgs {
    #[command(subcommand)]
    command: Option<PushCommand>,
    #[command(flatten)]
    land: LandArgs,
}

#[derive(Debug, Subcommand)]
enum PushCommand {
    /// Who holds the push lock of each branch, who waits, and this clone's recent pushes
    Status(StatusArgs),
    /// Repair what a killed `weft push` left here, and delete expired locks on the remote
    Cleanup(CleanupArgs),
}

#[derive(Debug, Args)]
struct LandArgs {
    /// The remote [default: push.remote in weft.yaml, else origin]
    #[arg(long, value_name = "REMOTE")]
    remote: Option<String>,
    /// The remote branch [default: push.branch, else the current branch]
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,
    /// The message of the commit of staged changes [default: Update <paths>]
    #[arg(long, short, value_name = "MESSAGE")]
    message: Option<String>,
    /// Stage these paths (new, changed and deleted files) before committing
    #[arg(long, value_name = "PATH", num_args = 1..)]
    add: Vec<String>,
    /// Priority asked of the coordination server; higher is served first
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "class",
        allow_negative_numbers = true
    )]
    priority: Option<i64>,
    /// Priority class asked of the coordination server [default: push.classes[$GITHUB_WORKFLOW]]
    #[arg(long, value_name = "NAME")]
    class: Option<String>,
    /// Attempts after the first [default: push.retries, else 5]
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// How long the lock lives before others may take it over, such as 10m (renewed while pushing)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    lock_ttl: Option<Duration>,
    /// How long to wait for the lock, such as 30m
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    lock_wait: Option<Duration>,
    /// Push without the lock; recorded under refs/weft/emergency/<branch>, and still never forces
    #[arg(long)]
    emergency: bool,
    /// Land only our own commits: neither let the lock holder land ours while we wait, nor land
    /// those of the waiters when we hold the lock [default: push.batch, else batching on]
    #[arg(long)]
    no_batch: bool,
    /// The coordination server that grants the lock, or several replicas' comma-separated
    /// [default: the lock ref on the remote]
    #[arg(long, value_name = "URL[,URL...]", env = "WEFT_SERVER")]
    server: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// The remote [default: push.remote in weft.yaml, else origin]
    #[arg(long, value_name = "REMOTE")]
    remote: Option<String>,
    /// How many of this clone's recent pushes to show
    #[arg(long, value_name = "N", default_value_t = 10)]
    recent: usize,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct CleanupArgs {
    /// The remote [default: push.remote in weft.yaml, else origin]
    #[arg(long, value_name = "REMOTE")]
    remote: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    weft_model::config::parse_duration(text)
}

pub(crate) fn run(context: &Context, args: PushArgs) -> anyhow::Result<Outcome> {
    let directory = context.workspace(None);
    let Some((root, config)) = open(&directory)? else {
        return Ok(Outcome::BadInput);
    };
    match args.command {
        Some(PushCommand::Status(status_args)) => status(&root, &config, status_args),
        Some(PushCommand::Cleanup(cleanup_args)) => cleanup(&root, &config, cleanup_args),
        None => land(&root, &config, args.land),
    }
}

/// The repository holding `directory`, and the `push:` section of the
/// weft.yaml in `directory` (or at the repository root). `None` when
/// weft.yaml is invalid (its diagnostic is printed).
fn open(directory: &Path) -> anyhow::Result<Option<(PathBuf, PushConfig)>> {
    let (root, _) = weft_push::locate(directory).map_err(usage)?;
    let config_directory = if directory.join(weft_model::config::FILE_NAME).is_file() {
        directory.to_path_buf()
    } else {
        root.clone()
    };
    match weft_model::config::load(&config_directory) {
        Ok(loaded) => {
            console::diagnostics(&loaded.warnings, false);
            Ok(Some((root, loaded.config.push)))
        }
        Err(ConfigError::Invalid { diagnostic }) => {
            console::diagnostics(&[*diagnostic], false);
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

fn usage(error: PushError) -> anyhow::Error {
    match error.class() {
        ErrorClass::BadInput => UsageError::new(error.to_string()).into(),
        _ => error.into(),
    }
}

fn remote_of(remote: Option<String>, config: &PushConfig) -> String {
    remote
        .or_else(|| config.remote.clone())
        .unwrap_or_else(|| "origin".to_string())
}

fn land(root: &Path, config: &PushConfig, args: LandArgs) -> anyhow::Result<Outcome> {
    let request = PushRequest {
        remote: args.remote,
        branch: args.branch,
        message: args.message,
        add: args.add,
        priority: args.priority,
        class: args.class,
        retries: args.retries,
        lock_ttl: args.lock_ttl,
        lock_wait: args.lock_wait,
        emergency: args.emergency,
        batch: args.no_batch.then_some(false),
    };
    let settings = PushSettings::resolve(config, request)
        .map_err(|error| UsageError::new(error.to_string()))?;
    let server = super::server_list(
        args.server.as_deref(),
        "e.g. --server http://127.0.0.1:7700, or unset WEFT_SERVER",
    )?;
    let lock = match server {
        _ if args.emergency => LockMode::None,
        Some(url) => LockMode::External(Box::new(super::push_lock::ServerLock::new(
            url,
            std::env::var("WEFT_TOKEN").ok().filter(|t| !t.is_empty()),
        ))),
        None => LockMode::Git,
    };
    let interrupt = Interrupt::from_signals()?;
    let pusher = Pusher::open(root, settings, lock)
        .map_err(usage)?
        .with_interrupt(interrupt)
        .on_progress(|progress| {
            if let Some(line) = describe(progress) {
                console::note(&console::paint_note(&line));
            }
        });
    match pusher.run() {
        Ok(report) => {
            match args.format {
                Format::Json => console::json(&report)?,
                Format::Text => console::out(&format!("{}\n", summary(&report))),
            }
            Ok(Outcome::Clean)
        }
        Err(failure) => failed(failure, args.format),
    }
}

fn failed(failure: PushFailure, format: Format) -> anyhow::Result<Outcome> {
    let class = failure.error.class();
    let restored = failure
        .report
        .failure
        .as_ref()
        .map(|f| f.restored.clone())
        .unwrap_or_default();
    if format == Format::Json {
        console::json(&failure.report)?;
    }
    console::error(&anyhow::Error::new(failure));
    if restored == "restored" {
        console::note("the branch, index and working tree are as they were before weft push");
    } else if !restored.is_empty() {
        console::note(&restored);
    }
    Ok(match class {
        ErrorClass::Failed => Outcome::Problems,
        ErrorClass::BadInput => Outcome::BadInput,
        ErrorClass::Internal => Outcome::Internal,
        ErrorClass::Interrupted(signal) => std::process::exit(128 + signal),
    })
}

fn short(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// One progress line, or nothing for steps not worth a line.
fn describe(progress: &Progress) -> Option<String> {
    Some(match progress {
        Progress::Recovered(recovery) => format!(
            "repaired what a killed weft push (pid {}) left: {}",
            recovery.pid,
            recovery.actions.join("; ")
        ),
        Progress::Committed { sha, subject } => format!("committed {} {subject}", short(sha)),
        Progress::SetAside => "set uncommitted changes aside for the rebase".to_string(),
        Progress::Waiting { holder, expires_in } => format!(
            "waiting for the push lock, held by {holder} (expires in {})",
            seconds(*expires_in)
        ),
        Progress::TakingOver { holder } => {
            format!("the push lock of {holder} has expired; taking it over")
        }
        Progress::Locked {
            mode,
            token,
            waited,
        } => {
            let token = token.map(|t| format!(" (token {t})")).unwrap_or_default();
            let what = if *mode == "external" {
                "got the push lease"
            } else {
                "took the push lock"
            };
            if waited.as_millis() >= 100 {
                format!("{what}{token} after {}", seconds(*waited))
            } else {
                format!("{what}{token}")
            }
        }
        Progress::NoLock => "--emergency: pushing without the push lock".to_string(),
        Progress::Fetched { upstream } => match upstream {
            Some(sha) => format!("fetched {}", short(sha)),
            None => "the remote branch does not exist yet".to_string(),
        },
        Progress::Resolved(resolution) => {
            let source = match &resolution.source {
                PolicySource::Rule(glob) => format!("`{glob}` in push.policies"),
                PolicySource::DefaultData => "default for data files".to_string(),
                PolicySource::DefaultCode => "default for code".to_string(),
            };
            format!(
                "conflict on {} resolved by `{}` ({source}): {}",
                resolution.path, resolution.policy, resolution.outcome
            )
        }
        Progress::Rebased { commits } => {
            format!(
                "{} on top of the remote branch",
                console::count(*commits, "commit")
            )
        }
        Progress::Landing { .. } => return None,
        Progress::Landed { commits, head } => {
            format!(
                "landed {} at {}",
                console::count(*commits, "commit"),
                short(head)
            )
        }
        Progress::NothingToPush => "nothing to push: the remote branch has HEAD".to_string(),
        Progress::Batched { by, commits } => format!(
            "{} landed by the lock holder while we waited: {by}",
            console::count(*commits, "commit")
        ),
        Progress::LandedForOthers { waiters, commits } => format!(
            "landed {} of {} waiting in line with ours",
            console::count(*commits, "commit"),
            console::count(*waiters, "pusher")
        ),
        Progress::Retrying {
            attempt,
            reason,
            wait,
        } => format!(
            "attempt {attempt} failed ({reason}); trying again in {}",
            seconds(*wait)
        ),
        Progress::Fenced { by } => format!("the push lock was taken over by {by}"),
        Progress::Released => "released the push lock".to_string(),
        Progress::Restored => {
            "put the branch, index and working tree back as they were".to_string()
        }
        Progress::Stashed { name } => {
            format!("uncommitted changes conflict with what landed; they are in {name}")
        }
    })
}

/// The last line of a push, for people.
fn summary(report: &PushReport) -> String {
    let target = format!("{}/{}", report.remote, report.branch);
    let took = seconds(Duration::from_millis(report.duration_ms));
    match report.outcome {
        PushOutcome::Landed => {
            let attempts = if report.attempts > 0 {
                format!("{}, ", console::count(report.attempts as usize, "attempt"))
            } else {
                String::new()
            };
            let mut text = format!(
                "{} {} on {target} at {} ({attempts}{took}",
                console::paint(Style::Green, "landed"),
                console::count(report.landed.len(), "commit"),
                report.head.as_deref().map(short).unwrap_or_default(),
            );
            if report.lock.waited_ms >= 100 {
                text.push_str(&format!(
                    ", {} waiting for the lock",
                    seconds(Duration::from_millis(report.lock.waited_ms))
                ));
            }
            if let Some(by) = &report.lock.batched_by {
                text.push_str(&format!(", landed by the lock holder {by}"));
            }
            if !report.batched.is_empty() {
                text.push_str(&format!(
                    ", with the commits of {} waiting",
                    console::count(report.batched.len(), "pusher")
                ));
            }
            if !report.conflicts.is_empty() {
                text.push_str(&format!(
                    ", {} resolved",
                    console::count(report.conflicts.len(), "conflict")
                ));
            }
            text.push(')');
            if report.emergency {
                text.push_str(" without the lock (--emergency)");
            }
            text
        }
        PushOutcome::NothingToPush => format!("nothing to push: {target} is up to date"),
        PushOutcome::Failed => format!(
            "{} to push to {target}",
            console::paint(Style::Red, "failed")
        ),
    }
}

fn status(root: &Path, config: &PushConfig, args: StatusArgs) -> anyhow::Result<Outcome> {
    let remote = remote_of(args.remote, config);
    let status = weft_push::status(root, &remote, args.recent).map_err(usage)?;
    match args.format {
        Format::Json => console::json(&status)?,
        Format::Text => console::out(&render_status(&status)),
    }
    Ok(Outcome::Clean)
}

/// `12s`, `4m`, `2h`.
fn span(milliseconds: u64) -> String {
    let seconds = milliseconds / 1000;
    if seconds < 120 {
        format!("{seconds}s")
    } else if seconds < 7200 {
        format!("{}m", seconds / 60)
    } else {
        format!("{}h", seconds / 3600)
    }
}

fn render_status(status: &PushStatus) -> String {
    let mut text = String::new();
    if status.locks.is_empty() {
        text.push_str(&format!("no push lock is held on {}\n", status.remote));
    } else {
        text.push_str(&format!("push locks on {}:\n", status.remote));
        for lock in &status.locks {
            let holder = lock.record.as_ref().map_or_else(
                || {
                    format!(
                        "an unreadable record ({})",
                        lock.error.as_deref().unwrap_or("?")
                    )
                },
                |record| format!("{} (token {})", record.holder, record.token),
            );
            let when = if lock.expired {
                console::paint(
                    Style::Yellow,
                    format!(
                        "expired {} ago; taken over by the next push, or deleted by `weft push cleanup`",
                        span(lock.expires_in_ms.unsigned_abs())
                    ),
                )
            } else {
                format!("expires in {}", span(lock.expires_in_ms.unsigned_abs()))
            };
            text.push_str(&format!(
                "  {}  held by {holder}, {when}\n",
                console::paint(Style::Bold, &lock.branch)
            ));
        }
    }
    if !status.waiters.is_empty() {
        text.push_str("in line:\n");
        for waiter in &status.waiters {
            let line = match (&waiter.record, &waiter.receipt) {
                (Some(record), _) => format!(
                    "  {}  {} for {}{}\n",
                    record.branch,
                    record.holder,
                    span(status.now.saturating_sub(record.since)),
                    if waiter.stale { " (stale)" } else { "" }
                ),
                (None, Some(receipt)) => format!(
                    "  {}  receipt: {} of a waiter landed by {} {} ago{}\n",
                    receipt.branch,
                    console::count(receipt.commits.len(), "commit"),
                    receipt.landed_by,
                    span(status.now.saturating_sub(receipt.at)),
                    if waiter.stale {
                        " (stale; `weft push cleanup` deletes it)"
                    } else {
                        ""
                    }
                ),
                (None, None) => format!("  {} (unreadable)\n", waiter.reference),
            };
            text.push_str(&line);
        }
    }
    if let Some(run) = &status.local_run {
        text.push_str(&if run.alive {
            format!(
                "this clone: weft push (pid {}) is running: {} step on {}\n",
                run.pid,
                run.step.name(),
                run.branch
            )
        } else {
            format!(
                "this clone: a killed weft push (pid {}) left its state; `weft push cleanup` repairs it\n",
                run.pid
            )
        });
    }
    if !status.recent.is_empty() {
        text.push_str("recent pushes from this clone:\n");
        for entry in status.recent.iter().rev() {
            let outcome = match entry.outcome.as_str() {
                "landed" => console::paint(
                    Style::Green,
                    format!("landed {}", console::count(entry.landed, "commit")),
                ),
                "failed" => console::paint(Style::Red, "failed"),
                other => other.replace('_', " "),
            };
            text.push_str(&format!(
                "  {} ago  {}/{}  {outcome}  {} in {}{}{}\n",
                span(status.now.saturating_sub(entry.at)),
                entry.remote,
                entry.branch,
                console::count(entry.attempts as usize, "attempt"),
                span(entry.duration_ms),
                if entry.lock_waited_ms >= 1000 {
                    format!(", waited {}", span(entry.lock_waited_ms))
                } else {
                    String::new()
                },
                if entry.emergency { ", --emergency" } else { "" },
            ));
            if let Some(error) = &entry.error {
                text.push_str(&format!("      {error}\n"));
            }
        }
    }
    text
}

fn cleanup(root: &Path, config: &PushConfig, args: CleanupArgs) -> anyhow::Result<Outcome> {
    let remote = remote_of(args.remote, config);
    let report: CleanupReport = weft_push::cleanup(root, &remote).map_err(usage)?;
    match args.format {
        Format::Json => console::json(&json!({
            "remote": remote,
            "recovered": report.recovered,
            "actions": report.actions,
        }))?,
        Format::Text => {
            let mut text = String::new();
            if let Some(recovery) = &report.recovered {
                text.push_str(&format!(
                    "repaired a weft push (pid {}) killed during its {} step:\n",
                    recovery.pid,
                    recovery.step.name()
                ));
                for action in &recovery.actions {
                    text.push_str(&format!("  {action}\n"));
                }
            }
            for action in &report.actions {
                text.push_str(&format!("{action}\n"));
            }
            if text.is_empty() {
                text.push_str("nothing to clean up\n");
            }
            console::out(&text);
        }
    }
    Ok(Outcome::Clean)
}
