//! `weft monitor`: the ecosystem monitor. `collect` brings GitHub's
//! activity into the store; `report`, `health` and `failures` read it;
//! `stale` and `alert` act on it; `dispatch` sends events; `analyze-logs`
//! and `rules` work offline.

mod actions;
mod jobs;
mod logs;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use weft_github::{GitHub, GitHubSettings};
use weft_monitor::{MonitorError, MonitorSettings, RuleSet};
use weft_store::Store;

use super::Context;
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub(crate) struct MonitorArgs {
    /// The store that keeps what was collected (default: WORKSPACE/.weft/state.db;
    /// `postgres://…` for a team)
    #[arg(long, global = true, env = "WEFT_STORE", value_name = "URL")]
    store: Option<String>,
    /// The GitHub API root [default: weft.yaml's `github.api_url`, else https://api.github.com]
    #[arg(long, global = true, value_name = "URL")]
    api_url: Option<String>,
    #[command(subcommand)]
    command: MonitorCommand,
}

#[derive(Debug, Subcommand)]
enum MonitorCommand {
    /// Bring the repositories' events, runs, failed jobs' logs, pull requests, branches and
    /// releases into the store
    #[command(
        long_about = "Collect every repository of weft.yaml's `monitor.repositories` (or \
--repositories) into the store: events, workflow runs and the logs of failed jobs (classified at \
once by the failure rules), pull requests and issues with their timelines, branches and releases. \
A first collection reaches back 30 days; later ones continue from where the last stopped, asking \
with ETags, so a repository with nothing new costs only free 304 answers.\n\nEvery call shares one \
rate-limit budget. When it is spent, the collection waits for the reset, up to `monitor.max_wait` \
(15m); past that it stops with what it has and says so.\n\nThe token comes from the variable named \
by weft.yaml's `github.token_env` (GITHUB_TOKEN).\n\nExit codes: 0 collected; 2 bad input; 3 \
GitHub unreachable, a repository missing or a permission lacking (named), or the collection \
stopped early."
    )]
    Collect(jobs::CollectArgs),
    /// Write the ecosystem report: ecosystem_analysis.json, ecosystem_summary.md, index.html
    #[command(
        long_about = "Write the report of everything collected: ecosystem_analysis.json (each \
repository's score, band, probes and evidence, the failures of the window with their classified \
logs, recommendations and the scores of earlier reports), ecosystem_summary.md, and index.html, \
one self-contained page (no script, no external asset) for GitHub Pages. Reads the store: run \
`weft monitor collect` first.\n\nExit codes: 0 written; 1 an issue at or above --fail-on; 2 bad \
input or nothing collected; 3 the store or the output directory failed."
    )]
    Report(jobs::ReportArgs),
    /// A repository's health score, with every deduction and its evidence
    #[command(
        long_about = "Score each repository 0-100 from weighted probes (weft.yaml's \
`monitor.health.weights`): CI success, time to first human response, pull-request closure, stale \
pull requests, recent activity, release cadence and open critical failures. A probe that cannot \
be computed (no CI, no releases) is not applicable: its weight goes to the others, and a \
repository with no applicable probe is `unavailable`, never 0. Bands: healthy 80-100, warning \
60-79, critical 0-59.\n\nReads the store: run `weft monitor collect` first.\n\nExit codes: 0 \
done; 1 a repository is critical (with --fail-on-critical); 2 bad input; 3 the store failed."
    )]
    Health(jobs::HealthArgs),
    /// Failed runs of the window, their jobs' logs classified
    Failures(jobs::FailuresArgs),
    /// Stale pull requests and branches: label, comment, close, delete (or --dry-run)
    #[command(
        long_about = "Find the pull requests and branches nobody worked on (staleness counts from \
the last human activity: a bot's comment or weft's own label never resets it) and act: label and \
comment a newly stale pull request, close one marked `days_until_close` days ago, take the label \
off one a person came back to, delete a merged or never-proposed branch past both thresholds \
(asking GitHub again just before). The default branch, protected branches and branches of open \
pull requests are never touched. Writes stale_analysis.json.\n\n--dry-run lists every action and \
changes nothing; the same run without it carries out exactly that list.\n\nExit codes: 0 done; 2 \
bad input or nothing collected; 3 GitHub refused an action (the others still ran)."
    )]
    Stale(actions::StaleArgs),
    /// Open, update and close alert issues from the latest analysis
    #[command(
        long_about = "Keep one GitHub issue per repository, alert type (critical, ecosystem, \
stale, maintenance) and rule, found again by a fingerprint hidden in its body: open it when the \
alert is raised, update its body in place when it changes (one comment only when the severity \
rose), close it with a comment when the alert clears. Changes also go through weft.yaml's \
`notify:` rules as monitor_alert and monitor_recovered.\n\nExit codes: 0 done; 2 bad input or \
nothing collected; 3 GitHub refused a change."
    )]
    Alert(actions::AlertArgs),
    /// Send repository_dispatch events or fan out workflow_dispatch, limits checked first
    Dispatch(actions::DispatchArgs),
    #[command(flatten)]
    Logs(LogsCommand),
}

#[derive(Debug, Subcommand)]
enum LogsCommand {
    /// Classify CI failure logs: the rule each failure matches, with context and suggestions
    #[command(
        long_about = "Read CI logs (any size, streamed once) and report every line a failure rule \
matches: its rule, category and severity, where it is, two lines of context on each side, and the \
rule's suggestions with the match's values filled in. Failure lines no rule knows are grouped by a \
normalised template (times, hashes, numbers, paths masked) with counts, to write new rules from.\n\n\
Rules: the built-in set, after `--rules FILE` or weft.yaml's `monitor.rules` when given (those are \
tried first; `--no-builtin` leaves the built-in set out). `weft monitor rules list` shows them.\n\n\
Exit codes: 0 done (or no finding at or above --fail-on), 1 a finding at or above --fail-on, 2 a \
log or the rules cannot be read."
    )]
    AnalyzeLogs(logs::AnalyzeArgs),
    /// The failure-log rules: list them, or test each against its own examples
    #[command(subcommand)]
    Rules(logs::RulesCommand),
}

pub(crate) fn run(context: &Context, args: MonitorArgs) -> anyhow::Result<Outcome> {
    let root = context.workspace(None);
    let session = || Session::open(context, &root, args.store.clone(), args.api_url.clone());
    match args.command {
        MonitorCommand::Collect(a) => jobs::collect(&session()?, &a),
        MonitorCommand::Report(a) => jobs::report(&session()?, &a),
        MonitorCommand::Health(a) => jobs::health(&session()?, &a),
        MonitorCommand::Failures(a) => jobs::failures(&session()?, &a),
        MonitorCommand::Stale(a) => actions::stale(&session()?, &a),
        MonitorCommand::Alert(a) => actions::alert(&session()?, &a),
        MonitorCommand::Dispatch(a) => actions::dispatch(&session()?, &a),
        MonitorCommand::Logs(LogsCommand::AnalyzeLogs(a)) => logs::analyze(context, &a),
        MonitorCommand::Logs(LogsCommand::Rules(logs::RulesCommand::Test(a))) => {
            logs::test(context, &a)
        }
        MonitorCommand::Logs(LogsCommand::Rules(logs::RulesCommand::List(a))) => {
            logs::list(context, &a)
        }
    }
}

/// What the GitHub-facing commands share: the workspace, its settings, the
/// store and a client.
#[derive(Debug)]
struct Session {
    root: PathBuf,
    config: weft_model::config::WorkspaceConfig,
    settings: MonitorSettings,
    store_url: String,
    github: GitHub,
    rules: Arc<RuleSet>,
    runtime: tokio::runtime::Runtime,
}

impl Session {
    fn open(
        context: &Context,
        root: &Path,
        store: Option<String>,
        api_url: Option<String>,
    ) -> anyhow::Result<Session> {
        let loaded = weft_model::config::load(root)
            .map_err(|error| UsageError::new(format!("weft.yaml: {error}")))?;
        let config = loaded.config;
        let settings = MonitorSettings::from_config(&config.monitor);
        let mut github = GitHubSettings::from_env(
            api_url.as_deref().or(config.github.api_url.as_deref()),
            config.github.token_env.as_deref(),
        );
        github.max_wait = settings.max_wait;
        let rules = logs::rules(context, None, true)?;
        Ok(Session {
            root: root.to_path_buf(),
            config,
            settings,
            store_url: store.unwrap_or_else(|| root.join(".weft/state.db").display().to_string()),
            github: GitHub::new(github),
            rules: Arc::new(rules),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?,
        })
    }

    fn store(&self) -> anyhow::Result<Store> {
        let policy = super::coordination::local_policy(&self.root)?;
        if !self.store_url.contains("://")
            && let Some(parent) = Path::new(&self.store_url).parent()
        {
            fs_err::create_dir_all(parent)?;
        }
        Ok(self
            .runtime
            .block_on(Store::open(&self.store_url, policy))?)
    }

    /// The output directory: `--output-dir`, weft.yaml's
    /// `monitor.output_dir`, or `reports`, under the workspace.
    fn output_dir(&self, explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
        let dir = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => self.root.join(
                self.config
                    .monitor
                    .output_dir
                    .as_deref()
                    .unwrap_or("reports"),
            ),
        };
        fs_err::create_dir_all(&dir)?;
        Ok(dir)
    }
}

/// A monitor error as the command line reports it: bad input is exit 2,
/// GitHub or the store exit 3 (a permission named when that is why).
fn failure(error: MonitorError) -> anyhow::Error {
    if !error.is_input() {
        return error.into();
    }
    let hint = error.hint();
    let usage = UsageError::new(error.to_string());
    match hint {
        Some(hint) => usage.with_hint(hint).into(),
        None => usage.into(),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    weft_model::config::parse_duration(text)
}
