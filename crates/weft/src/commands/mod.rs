//! One module per subcommand, each a `run` that calls the library.

mod check;
mod conflicts;
mod explain;
mod graph;
mod plan;
mod resolve;
mod schema;

use std::path::{Path, PathBuf};

use weft_model::{Model, Provenance, ServiceId};

use crate::exit::UsageError;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;

/// What every command gets: the global options.
#[derive(Debug)]
pub(crate) struct Context {
    workspace: Option<PathBuf>,
}

impl Context {
    /// The workspace: a positional directory if given, else `-w`, else `.`.
    fn workspace(&self, positional: Option<&Path>) -> PathBuf {
        positional
            .map(Path::to_path_buf)
            .or_else(|| self.workspace.clone())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// For commands whose positionals are names: takes a leading argument
    /// that is a directory as the workspace when `-w` is not given.
    fn split_workspace(&self, arguments: &[String]) -> (PathBuf, Vec<String>) {
        match arguments.split_first() {
            Some((first, rest))
                if self.workspace.is_none() && Path::new(first).is_dir() && !first.is_empty() =>
            {
                (PathBuf::from(first), rest.to_vec())
            }
            _ => (self.workspace(None), arguments.to_vec()),
        }
    }

    fn discover(&self, root: &Path) -> anyhow::Result<Model> {
        Ok(weft_discover::discover(root)?)
    }

    /// A service named on the command line, by id or unique plain name.
    fn lookup(&self, model: &Model, name: &str) -> anyhow::Result<ServiceId> {
        model.lookup(name).map(|service| service.id.clone()).map_err(|error| {
            UsageError::new(error.to_string())
                .with_hint("`weft graph` lists every service id; write repository/service when a name repeats")
                .into()
        })
    }
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let context = Context {
        workspace: cli.global.workspace,
    };
    match cli.command {
        Command::Check(args) => check::run(&context, args),
        Command::Graph(args) => graph::run(&context, args),
        Command::Plan(args) => plan::run(&context, args),
        Command::Explain(args) => explain::run(&context, args),
        Command::Conflicts(args) => conflicts::run(&context, args),
        Command::Resolve(args) => resolve::run(&context, args),
        Command::Schema => schema::run(),
    }
}

/// The first `shown` provenance entries as `file:line:col (rule)`, and how
/// many more there are.
pub(crate) fn render_provenance(provenance: &[Provenance], shown: usize) -> String {
    let mut parts: Vec<String> = provenance
        .iter()
        .take(shown)
        .map(|p| p.to_string())
        .collect();
    if provenance.len() > shown {
        parts.push(format!("+{} more", provenance.len() - shown));
    }
    parts.join(", ")
}
