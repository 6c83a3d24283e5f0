//! `weft deploy`: release services across repositories, look at releases,
//! and roll back. Plans come from weft-deploy; state from the local store.

mod artifact;
mod release;
mod render;
mod show;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use weft_model::Model;
use weft_model::config::Strategy;
use weft_store::{AlertThresholds, Coordinator, CoordinatorMode, Store};

use super::Context;
use crate::cli::Format;
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// The store that keeps releases and manifests (default: WORKSPACE/.weft/state.db;
    /// `postgres://…` for a team)
    #[arg(long, global = true, env = "WEFT_STORE", value_name = "URL")]
    store: Option<String>,
    #[command(subcommand)]
    command: DeployCommand,
}

#[derive(Debug, Subcommand)]
enum DeployCommand {
    /// Show what a release would do: phases, steps, gates, versions
    #[command(
        long_about = "Plan a release of ENV: the services named with --set (or, with --all, every \
service with a `deploy:` in weft.yaml), in the order the workspace graph's required edges and \
`deploy.depends_on` give, cut into phases by the strategy. Services not named keep their version. \
Nothing is changed.\n\nExit code 2 when the release cannot be planned (an unknown service or \
environment, a cycle)."
    )]
    Plan(ReleaseArgs),
    /// Release: run each service's steps, check its gates, roll back on failure
    #[command(
        long_about = "Release ENV: hold the environment's lease, run every service's steps and \
gates phase by phase, and, when anything fails (a step, a gate, the canary analysis, SIGINT or \
SIGTERM), roll every changed service back in reverse order to its version in the last successful \
release (with `rollback: auto`). The deployment id is printed first; `weft deploy status ID --follow` \
watches it from another terminal.\n\nExit codes: 0 released; 1 the release failed (rolled back, or the \
rollback failed: the output says which) or the environment is taken; 2 bad input; 3 the store failed."
    )]
    Run(RunArgs),
    /// Show a release: phases, services, steps, gates and timings
    Status(StatusArgs),
    /// Why a release waits or failed: the lease holder, the gate, the step's output
    Explain(ExplainArgs),
    /// The releases of an environment, newest first, with their versions
    History(HistoryArgs),
    /// What changed between two releases: versions, strategy, outcome
    Diff(DiffArgs),
    /// Return an environment to a recorded release
    #[command(
        long_about = "Roll ENV back to a recorded release: by default the last successful release \
before the current one, or, when the latest release was interrupted or failed without rolling \
back, the current manifest. Each service whose version differs (or that the unfinished release \
touched) runs its `rollback` steps (or its steps again) with WEFT_ROLLBACK=1 and the recorded \
version, then its gates.\n\nExit codes: 0 restored; 1 the rollback failed or nothing to roll back \
to; 2 bad input; 3 the store failed."
    )]
    Rollback(RollbackArgs),
    /// Files a release carries: put, get (digest checked), list
    #[command(subcommand)]
    Artifact(artifact::ArtifactCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PlanFormat {
    Text,
    Json,
    /// A Mermaid flowchart of the phases
    Mermaid,
}

/// What to release: the environment and the services with their versions.
#[derive(Debug, Args)]
struct Selection {
    /// The environment, as named under `environments:` in weft.yaml
    environment: String,
    /// A service and the version to release (repeat for more)
    #[arg(long = "set", value_name = "SERVICE=VERSION", value_parser = parse_assignment)]
    set: Vec<(String, String)>,
    /// Redeploy every service with a `deploy:`, at its current version unless --set says otherwise
    #[arg(long)]
    all: bool,
    /// Release again the versions a recorded deployment left
    #[arg(long, value_name = "ID")]
    from_manifest: Option<String>,
    /// Override the environment's strategy
    #[arg(long, value_enum)]
    strategy: Option<StrategyArg>,
}

#[derive(Debug, Args)]
struct ReleaseArgs {
    #[command(flatten)]
    selection: Selection,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StrategyArg {
    Sequential,
    Parallel,
    Canary,
}

impl From<StrategyArg> for Strategy {
    fn from(value: StrategyArg) -> Self {
        match value {
            StrategyArg::Sequential => Strategy::Sequential,
            StrategyArg::Parallel => Strategy::Parallel,
            StrategyArg::Canary => Strategy::Canary,
        }
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    selection: Selection,
    /// Print exactly what would run, and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Start the release in the background: print its deployment id once it
    /// is recorded, and leave (watch it with `weft deploy status ID --follow`)
    #[arg(long, conflicts_with = "dry_run")]
    detach: bool,
    /// How long to wait for the environment while another release holds it (default: fail at once)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0")]
    wait: Duration,
    /// Print every step's output, not only a failed step's
    #[arg(long, short)]
    verbose: bool,
    /// Run the release on a `weft serve` (its workspace and store) instead
    /// of here; several replicas' URLs, comma-separated, to fail over
    /// between them. WEFT_TOKEN is the bearer token
    #[arg(long, env = "WEFT_SERVER", value_name = "URL[,URL...]")]
    server: Option<String>,
    #[arg(long, env = "WEFT_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    token: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// A deployment id (default: the newest release)
    id: Option<String>,
    /// Keep printing as the release goes on, until it ends
    #[arg(long)]
    follow: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// An environment (its newest release) or a deployment id
    target: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct HistoryArgs {
    environment: String,
    /// How many releases to show
    #[arg(long, default_value_t = 20)]
    limit: i64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct DiffArgs {
    from: String,
    to: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct RollbackArgs {
    environment: String,
    /// The release to return to (default: the last successful one before the current)
    #[arg(long, value_name = "ID")]
    to: Option<String>,
    /// Print what would run, and change nothing
    #[arg(long)]
    dry_run: bool,
    /// How long to wait for the environment while another release holds it
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0")]
    wait: Duration,
    #[arg(long, short)]
    verbose: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(service, _)| !service.is_empty())
        .map(|(service, version)| (service.to_string(), version.to_string()))
        .ok_or_else(|| format!("`{text}` is not SERVICE=VERSION"))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    weft_model::config::parse_duration(text)
}

pub(crate) fn run(context: &Context, args: DeployArgs) -> anyhow::Result<Outcome> {
    let root = context.workspace(None);
    let session = Session {
        root: root.clone(),
        store_url: args
            .store
            .clone()
            .unwrap_or_else(|| root.join(".weft/state.db").display().to_string()),
    };
    match args.command {
        DeployCommand::Plan(args) => release::plan(context, &session, args),
        DeployCommand::Run(args) => release::run(context, &session, args),
        DeployCommand::Rollback(args) => release::rollback(context, &session, args),
        DeployCommand::Status(args) => show::status(&session, args),
        DeployCommand::Explain(args) => show::explain(&session, args),
        DeployCommand::History(args) => show::history(&session, args),
        DeployCommand::Diff(args) => show::diff(&session, args),
        DeployCommand::Artifact(command) => artifact::run(context, &session, command),
    }
}

/// Where a deploy command works: the workspace and its store.
#[derive(Debug)]
struct Session {
    root: PathBuf,
    store_url: String,
}

impl Session {
    fn runtime(&self) -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?)
    }

    async fn coordinator(&self) -> anyhow::Result<Coordinator> {
        let policy = super::coordination::local_policy(&self.root)?;
        if !self.store_url.contains("://")
            && let Some(parent) = Path::new(&self.store_url).parent()
        {
            fs_err::create_dir_all(parent)?;
        }
        let store = Store::open(&self.store_url, policy).await?;
        Ok(Coordinator::start(store, CoordinatorMode::Local, AlertThresholds::default()).await?)
    }

    /// Where releases keep their artifacts.
    fn artifacts_root(&self) -> PathBuf {
        // Absolute: steps run in their repositories and see it as
        // WEFT_ARTIFACTS_DIR.
        std::path::absolute(&self.root)
            .unwrap_or_else(|_| self.root.clone())
            .join(".weft/artifacts")
    }

    /// The workspace, with weft.yaml errors as bad input.
    /// Where releases keep their artifacts, as weft.yaml's `artifacts:` says.
    fn artifacts(
        &self,
        config: &weft_model::config::ArtifactsConfig,
    ) -> anyhow::Result<weft_deploy::artifacts::Artifacts> {
        weft_deploy::artifacts::Artifacts::configured(self.artifacts_root(), config).map_err(
            |error| {
                UsageError::new(error.to_string())
                    .with_hint("see `artifacts:` in the README's \"Releasing across repositories\"")
                    .into()
            },
        )
    }

    fn model(&self, context: &Context) -> anyhow::Result<Model> {
        let model = context.discover(&self.root)?;
        if super::config_errors(&model).next().is_some() {
            return Err(UsageError::new("weft.yaml has errors (above)").into());
        }
        Ok(model)
    }
}
