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
nothing.\n\nExit code 1 when conflicts remain that need a manual decision."
    )]
    Resolve(ResolveArgs),
    /// Validate weft.yaml and every input file
    #[command(
        long_about = "Validate weft.yaml and every input file weft reads, and print each problem \
with its file, line, column and a hint.\n\nExit code 2 when any error is found."
    )]
    Check(CheckArgs),
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
pub(crate) struct ResolveArgs {
    /// Conflicts to resolve, by id (from `weft conflicts`) [default: all]. A first argument that is a
    /// directory is taken as the workspace.
    #[arg(value_name = "CONFLICT_ID")]
    pub(crate) conflicts: Vec<String>,
    /// Use this strategy instead of each conflict's preferred one
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
