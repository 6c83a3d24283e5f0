//! Command-line arguments. Argument structs stay here, at the edge; commands
//! turn them into library settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str =
    "See a system that spans many repositories as one: services, dependencies, shared resources";

const LONG_ABOUT: &str = "\
weft reads every repository of a workspace (docker compose files, Kubernetes manifests, .env and config \
files, nginx and Traefik routing) into one model of services, dependency edges and shared resources, and \
answers questions about the whole: what depends on what, in which order to deploy, why a service waits for \
another, and which ports, domains, names and networks collide.

A workspace is a directory with a weft.yaml listing its repositories, or, without one, a directory whose \
sub-directories are the repositories.

Exit codes: 0 clean, 1 problems found (a cycle, a conflict), 2 bad input or configuration, 3 internal error.";

const AFTER_HELP: &str = "\
Examples:
  weft plan examples/homelab            deployment phases of a workspace
  weft graph -w ~/src/shop --format dot | dot -Tsvg > shop.svg
  weft explain api                      why api waits for what, and what breaks without it
  weft conflicts --format json          ports, domains, names and networks that collide
  weft resolve --apply                  fix what can be fixed automatically";

#[derive(Debug, Parser)]
#[command(name = "weft", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The workspace directory [default: the current directory]
    #[arg(
        short = 'w',
        long,
        global = true,
        value_name = "DIR",
        env = "WEFT_WORKSPACE"
    )]
    pub(crate) workspace: Option<PathBuf>,
    /// When to colour text output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub(crate) color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Text,
    Json,
    /// Graphviz, for `dot -Tsvg`
    Dot,
    /// A Mermaid flowchart, for Markdown
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the dependency graph of every service, with cycles
    #[command(
        long_about = "Show the dependency graph: every service, every edge with its kind (required, \
optional, soft) and where it was read from, the repository-level graph, and cycles with the edge to cut.\n\n\
Exit code 1 when a cycle of required or optional edges exists."
    )]
    Graph(GraphArgs),
    /// Show the deployment plan: phases that can run in parallel
    #[command(
        long_about = "Show the deployment plan: phases of services that can be deployed in parallel, \
each after every phase it depends on, and the critical path. Name services to plan only them (and, unless \
--no-deps, what they depend on).\n\nWith cycles, the suggested cut edges are removed to order the rest, and \
the plan says so. Exit code 1 when a cycle of required or optional edges exists."
    )]
    Plan(PlanArgs),
    /// Explain one service: what it waits for and what breaks without it
    #[command(
        long_about = "Explain one service: its direct and transitive dependencies (why it waits for \
each) and dependents (what breaks if it goes down), each edge with the file, line and rule it came from."
    )]
    Explain(ExplainArgs),
    /// Find resources that services collide on
    #[command(
        long_about = "Find shared-resource conflicts across repositories: host ports, domains and \
routes (including rules shadowed by another on the same proxy), container names, networks and subnets, \
named volumes, shared_env variables, and external networks or volumes nobody creates. Each conflict has a \
stable id, every claim with its provenance, and the strategies that can resolve it.\n\nExit code 1 when any \
conflict is found."
    )]
    Conflicts(ConflictsArgs),
    /// Resolve conflicts by editing the files that cause them
    #[command(
        long_about = "Resolve conflicts by editing the source files in place (keeping comments and \
formatting) or by writing override files. Without --apply, prints the edits as unified diffs and changes \
nothing.\n\nExit code 1 when conflicts remain that need a manual decision, or that --strategy does not fit."
    )]
    Resolve(ResolveArgs),
    /// Keep the model in memory and print what each saved file changes
    #[command(
        long_about = "Read the workspace once, then watch its repositories and print, for each saved \
file, what it changed: services and edges added or removed, conflicts that appeared, changed or went \
away, cycles, and services whose deployment phase moved. Only the repository holding the file is read \
again, with any whose compose files include it (weft.yaml reads everything again); directories discovery \
skips (.git, node_modules, target…) are not watched.\n\n\
With --format json, one JSON object per line: a `ready` line, then a `change` line per batch of saved \
files (or an `error` line when weft.yaml no longer reads; the last good model stays). See docs/json.md. \
Runs until interrupted.\n\n\
Exit codes: 2 the workspace or its weft.yaml does not read at the start, 3 the file watcher failed (a \
repository that cannot be watched, the system's watch limit).",
        after_help = "Examples:\n  weft watch\n  weft watch -w examples/homelab --format json | jq -c .changes.conflicts"
    )]
    Watch(WatchArgs),
    /// Validate weft.yaml and every input file
    #[command(
        long_about = "Validate weft.yaml and every input file weft reads, and print each problem \
with its file, line, column and a hint.\n\nExit code 2 when any error is found."
    )]
    Check(CheckArgs),
    /// Start services in dependency order, with probes, ports and restarts
    #[command(long_about = UP_ABOUT, after_help = UP_AFTER)]
    Up(UpArgs),
    /// Show the state of every service weft up started
    #[command(
        long_about = "Show the state of every service the workspace's supervisor runs: state, pid, ports, \
ready since, restarts and the last probe result, and the critical chain of the start-up. Works from any \
shell; when the supervisor was killed, says so and kills what it left behind.\n\n\
Exit code 1 when a service has failed, 3 when no supervisor runs."
    )]
    Status(StatusArgs),
    /// Print services' output, and follow it
    #[command(
        long_about = "Print the output of services (all by default) from their log files under \
.weft/logs, interleaved by time, each line prefixed with its service. With -f, keep following the live \
output of the running supervisor."
    )]
    Logs(LogsArgs),
    /// Explain what a service waits on, or why it failed
    #[command(
        long_about = "Explain a service of the running supervisor: its state and why, each dependency \
with its kind, condition and whether it is met, the path of dependencies that blocks it down to the \
cause, its last probe result and its last lines of output."
    )]
    Why(WhyArgs),
    /// Restart services (their dependents react per `on_restart`)
    Restart(ServicesArgs),
    /// Stop services, leaving the rest running
    Stop(ServicesArgs),
    /// Start services stopped with `weft stop` again
    Start(ServicesArgs),
    /// Stop everything, dependents before what they need
    #[command(
        long_about = "Stop every service of the running supervisor in reverse dependency order: each \
gets its stop signal (or stop command), a grace period (stop_timeout, default 10s), then SIGKILL to its \
whole process group. The supervisor exits once everything is stopped."
    )]
    Down(DownArgs),
    /// Land local commits on a busy branch: lock, rebase with path policies, retry, roll back
    Push(crate::commands::push::PushArgs),
    /// Check CI workflows that push: concurrency, retries, permissions
    Ci(crate::commands::ci::CiArgs),
    /// Run the coordination server and the dashboard: leases, locks, claims, metrics, events
    #[command(
        long_about = "Run the coordination server: a REST API under /api/v1/ for leases, locks and \
resource claims (priority queues, capacity, TTL, fencing tokens), operations, alerts, a Server-Sent Events \
stream at /api/v1/events, Prometheus metrics at /metrics, and the workspace analysis.\n\nIt keeps the \
workspace's model in memory and watches its repositories: a saved file is read again, and the services, \
edges and conflicts it adds or removes go out as a `model` event on the stream (as `weft watch` prints \
them).\n\nIt also serves \
the dashboard at / (http://127.0.0.1:7700/ by default): the workspace graph, the stack `weft up` runs, \
leases and queues, releases, alerts and repository health, updated live.\n\nWithout a token \
(weft.yaml coordination.server.tokens, or WEFT_ADMIN_TOKEN) it listens on loopback only. With PostgreSQL \
(--store postgres://…) several replicas can share one database."
    )]
    Serve(crate::commands::serve::ServeArgs),
    /// Take, renew, release and list leases; run a command under a lock
    #[command(
        long_about = "Leases on a resource, from a weft server (--server or WEFT_SERVER) or, without \
one, from the workspace's local store (.weft/state.db) shared by every weft process on this machine.\n\n\
Exit codes: 0 done, 1 the resource stayed taken, 2 bad input, 3 the server or store failed."
    )]
    Lock(crate::commands::lock::LockArgs),
    /// Release services across repositories: plans, gates, rollback, history
    #[command(
        long_about = "Release services that live in several repositories as one set: in dependency \
order, each step gated on health, rolled back in reverse order when anything fails. Environments, \
steps and gates are configured in weft.yaml (`environments:` and each service's `deploy:`); releases \
and their manifests are kept in the store (WORKSPACE/.weft/state.db by default).\n\n\
Exit codes: 0 done, 1 the release failed (or was rolled back), 2 bad input, 3 the store failed."
    )]
    Deploy(crate::commands::deploy::DeployArgs),
    /// Check the release notification channels: `weft notify test CHANNEL`
    #[command(
        long_about = "The channels of weft.yaml's `notify:` tell people how releases go: Slack (incoming webhook), email (SMTP), GitHub issues (one per environment and service, closed on recovery) and signed webhooks, routed by `notify.rules`. `weft notify test CHANNEL` sends one a test message."
    )]
    Notify(crate::commands::notify::NotifyArgs),
    /// Watch an organisation's repositories on GitHub: health, CI failures, stale items, alerts
    #[command(
        long_about = "The ecosystem monitor, over weft.yaml's `monitor.repositories` (owner/name \
or an organisation glob). Start with `weft monitor collect` (GitHub's activity into the store, \
ETags and cursors kept, so a repeat costs only 304s); then `health` (scores with the evidence \
behind every deducted point), `failures` (failed jobs, their logs classified), `report` (JSON, \
Markdown and a self-contained HTML page), `stale` (label, close, delete; --dry-run first) and \
`alert` (one issue per repository, type and rule). `dispatch` sends repository_dispatch or fans \
out workflow_dispatch. Offline, `analyze-logs` classifies CI logs with the failure rules and \
`rules test` checks every rule against its own examples. `weft serve` runs collect and report on \
`monitor.schedule`."
    )]
    Monitor(crate::commands::monitor::MonitorArgs),
    /// Claim a typed shared resource: a port, a domain, an environment…
    #[command(
        long_about = "Claim TYPE:ID (port 8080, domain shop.example.com, environment staging…) as \
`weft lock acquire` does, or hold it while a command runs (`weft claim port 8080 -- ./serve`)."
    )]
    Claim(crate::commands::claim::ClaimCommandArgs),
    /// Print the JSON Schema of weft.yaml
    #[command(
        long_about = "Print the JSON Schema of weft.yaml, for editor completion and validation \
(for example with the YAML language server: `# yaml-language-server: $schema=weft.schema.json`)."
    )]
    Schema,
}

#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// The workspace directory (same as -w)
    #[arg(value_name = "WORKSPACE")]
    pub(crate) directory: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub(crate) format: GraphFormat,
    /// Draw repositories instead of services (dot and mermaid)
    #[arg(long)]
    pub(crate) repositories: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Services to plan: `repository/service`, or a plain name when unique [default: all]. A first
    /// argument that is a directory is taken as the workspace.
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    /// Plan only the named services, without what they depend on
    #[arg(long)]
    pub(crate) no_deps: bool,
    /// Split phases wider than N services
    #[arg(long, value_name = "N")]
    pub(crate) max_parallel: Option<std::num::NonZeroUsize>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The service: `repository/service`, or a plain name when unique. A first argument that is a
    /// directory is taken as the workspace.
    #[arg(value_name = "SERVICE", required = true, num_args = 1..=2)]
    pub(crate) service: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ConflictsArgs {
    /// The workspace directory (same as -w)
    #[arg(value_name = "WORKSPACE")]
    pub(crate) directory: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The workspace directory (same as -w)
    #[arg(value_name = "WORKSPACE")]
    pub(crate) directory: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// How long the files must be quiet before a batch of changes is read (editors write a file
    /// in several steps)
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = parse_duration)]
    pub(crate) debounce: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// Conflicts to resolve, by id (from `weft conflicts`) [default: all]. A first argument that is a
    /// directory is taken as the workspace.
    #[arg(value_name = "CONFLICT_ID")]
    pub(crate) conflicts: Vec<String>,
    /// Use this strategy instead of each conflict's preferred one. Without CONFLICT_IDs it is applied
    /// to every conflict that offers it; the others are skipped and left untouched
    #[arg(long, value_name = "NAME")]
    pub(crate) strategy: Option<String>,
    /// Write the edits (default: print them as a unified diff)
    #[arg(long)]
    pub(crate) apply: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The workspace directory (same as -w)
    #[arg(value_name = "WORKSPACE")]
    pub(crate) directory: Option<PathBuf>,
    /// Also show notes (templates skipped, unset variables, unresolved names)
    #[arg(long, short)]
    pub(crate) verbose: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

const UP_ABOUT: &str = "\
Start the services of the workspace (those with a command: from weft.yaml or a Procfile) in dependency \
order. Each waits until what it needs meets its condition (started, ready or completed_successfully); an \
optional dependency that fails lets it start degraded, a required one stops it. Each runs in its own process \
group with its allocated ports (PORT, WEFT_PORT_<NAME>) and discovery variables (<DEPENDENCY>_HOST, _PORT, \
_URL), is probed for readiness and liveness for as long as it runs, and is restarted per its policy.

In the foreground, output is streamed with a prefix per service; Ctrl-C stops everything in reverse \
dependency order (a second Ctrl-C kills at once). With --detach a supervisor keeps running in the \
background; `weft status`, `logs`, `why`, `restart`, `stop` and `down` talk to it over .weft/weft.sock.

Exit code with --wait: 0 when every requested service is ready, 1 when one failed or the timeout passed \
(the blocked path is printed), 2 for bad configuration, 3 when the supervisor could not run.";

const UP_AFTER: &str = "\
Examples:
  weft up                         everything, in the foreground
  weft up api --detach --wait     api and what it needs, in the background; exit once ready (CI)
  weft up --no-deps web           only web
  weft status; weft logs -f api; weft why web; weft down";

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Services to start [default: all with a command], with what they need. A first argument that
    /// is a directory is taken as the workspace.
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    /// Start only the named services, not their dependencies
    #[arg(long)]
    pub(crate) no_deps: bool,
    /// Run the supervisor in the background and return
    #[arg(long, short)]
    pub(crate) detach: bool,
    /// Return once every requested service is ready (exit 0) or cannot be (exit 1); implies --detach
    #[arg(long)]
    pub(crate) wait: bool,
    /// How long --wait waits, such as 90s or 5m
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub(crate) timeout: std::time::Duration,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Run as the background supervisor (used by --detach)
    #[arg(long, hide = true)]
    pub(crate) supervise: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Services to show [default: all]
    #[arg(value_name = "SERVICE")]
    pub(crate) services: Vec<String>,
    /// Keep following the live output
    #[arg(long, short)]
    pub(crate) follow: bool,
    /// Only lines from this long ago, such as 10m or 2h
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) since: Option<std::time::Duration>,
    /// Show the last N lines of each service
    #[arg(long, short = 'n', value_name = "N")]
    pub(crate) tail: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct WhyArgs {
    /// The service
    #[arg(value_name = "SERVICE")]
    pub(crate) service: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ServicesArgs {
    /// The services
    #[arg(value_name = "SERVICE", required = true)]
    pub(crate) services: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DownArgs {}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    weft_model::config::parse_duration(text)
}
