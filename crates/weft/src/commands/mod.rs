//! One module per subcommand, each a `run` that calls the library.

mod check;
pub(crate) mod ci;
pub(crate) mod claim;
mod conflicts;
mod coordination;
pub(crate) mod deploy;
mod down;
mod explain;
mod graph;
mod launch;
pub(crate) mod lock;
mod logs;
pub(crate) mod monitor;
pub(crate) mod notify;
mod plan;
pub(crate) mod push;
mod push_lock;
mod resolve;
mod schema;
pub(crate) mod serve;
mod status;
mod up;
mod watch;
mod why;

use std::path::{Path, PathBuf};

use weft_model::{Diagnostic, Model, Provenance, ServiceId, Severity};

use crate::console;

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
    /// that is a directory as the workspace when `-w` is not given. An
    /// argument written as a path that does not exist is an error rather
    /// than a service name.
    fn split_workspace(&self, arguments: &[String]) -> anyhow::Result<(PathBuf, Vec<String>)> {
        match arguments.split_first() {
            Some((first, rest))
                if self.workspace.is_none() && !first.is_empty() && Path::new(first).is_dir() =>
            {
                Ok((PathBuf::from(first), rest.to_vec()))
            }
            Some((first, _))
                if self.workspace.is_none()
                    && ["/", "./", "../", "~"].iter().any(|p| first.starts_with(p)) =>
            {
                Err(
                    UsageError::new(format!("workspace `{first}` does not exist"))
                        .with_hint(
                            "give an existing directory, with -w DIR or as the first argument",
                        )
                        .into(),
                )
            }
            _ => Ok((self.workspace(None), arguments.to_vec())),
        }
    }

    /// Reads the workspace. Errors in weft.yaml (a missing repository, a
    /// dependency on no service) are printed at once: the analysis still
    /// runs, but the command then exits 2 (see [`with_config_errors`]).
    fn discover(&self, root: &Path) -> anyhow::Result<Model> {
        let model = weft_discover::discover(root)?;
        report_config_errors(&model);
        Ok(model)
    }

    /// [`discover`](Self::discover), for a command that answers and exits:
    /// the model, and every file's text and facts it was built from, are
    /// kept until the process exits, which gives the whole address space
    /// back at once. On 1,000 repositories × 10 services, freeing the
    /// model piece by piece took 5–10 ms of `weft plan`'s 130, after its
    /// answer was written; freeing the facts, on a thread of their own
    /// beside the analysis, a twelfth of its CPU. (At that size the peak is
    /// the same; at 10 times it, 4% higher, with memory the analysis no
    /// longer reuses.) Not for a command that reads the workspace again, or
    /// that goes on running.
    fn discover_once(&self, root: &Path) -> anyhow::Result<&'static Model> {
        let workspace = Box::leak(Box::new(weft_discover::Workspace::open(root)?));
        let model = workspace.model();
        report_config_errors(model);
        Ok(model)
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

/// Prints the model's errors in `weft.yaml` (see [`Context::discover`]).
fn report_config_errors(model: &Model) {
    let errors: Vec<Diagnostic> = config_errors(model).cloned().collect();
    console::diagnostics(&errors, false);
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
        Command::Watch(args) => watch::run(&context, args),
        Command::Schema => schema::run(),
        Command::Up(args) => up::run(&context, args),
        Command::Status(args) => status::run(&context, args),
        Command::Logs(args) => logs::run(&context, args),
        Command::Why(args) => why::run(&context, args),
        Command::Restart(args) => launch::control(&context, args, launch::Verb::Restart),
        Command::Stop(args) => launch::control(&context, args, launch::Verb::Stop),
        Command::Start(args) => launch::control(&context, args, launch::Verb::Start),
        Command::Down(_) => down::run(&context),
        Command::Push(args) => push::run(&context, args),
        Command::Serve(args) => serve::run(&context, args),
        Command::Lock(args) => lock::run(&context, args),
        Command::Claim(args) => claim::run(&context, args),
        Command::Deploy(args) => deploy::run(&context, args),
        Command::Notify(args) => notify::run(&context, args),
        Command::Monitor(args) => monitor::run(&context, args),
        Command::Ci(args) => ci::run(&context, args),
    }
}

/// A `--server` value (one URL, or several replicas' comma-separated),
/// trimmed: `None` when it is empty (an exported `WEFT_SERVER=` means no
/// server), else checked that each URL is http(s). `hint` says how to give
/// one.
pub(crate) fn server_list<'a>(
    value: Option<&'a str>,
    hint: &str,
) -> Result<Option<&'a str>, UsageError> {
    let Some(list) = value.map(str::trim).filter(|list| !list.is_empty()) else {
        return Ok(None);
    };
    let mut urls = weft_client::server_urls(list).peekable();
    if urls.peek().is_none() {
        return Err(UsageError::new(format!("server `{list}` names no URL")).with_hint(hint));
    }
    match urls.find(|url| !(url.starts_with("http://") || url.starts_with("https://"))) {
        Some(url) => {
            Err(UsageError::new(format!("server `{url}` is not an http(s) URL")).with_hint(hint))
        }
        None => Ok(Some(list)),
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

/// Errors in weft.yaml itself.
pub(crate) fn config_errors(model: &Model) -> impl Iterator<Item = &Diagnostic> {
    model.diagnostics.iter().filter(|d| {
        d.severity == Severity::Error && d.file.as_deref() == Some(weft_model::config::FILE_NAME)
    })
}

/// A command's outcome, made "bad input" (2) when weft.yaml has errors.
pub(crate) fn with_config_errors(outcome: Outcome, model: &Model) -> Outcome {
    if config_errors(model).next().is_some() {
        Outcome::BadInput
    } else {
        outcome
    }
}
