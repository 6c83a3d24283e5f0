//! `weft check`: validate weft.yaml and every input file.

use serde::Serialize;
use weft_model::{Diagnostic, Severity};

use super::Context;
use crate::cli::{CheckArgs, Format};
use crate::console::{self, Style};
use crate::exit::Outcome;

#[derive(Debug, Serialize)]
struct Report<'m> {
    workspace: &'m str,
    repositories: usize,
    services: usize,
    edges: usize,
    errors: usize,
    warnings: usize,
    diagnostics: &'m [Diagnostic],
}

pub(crate) fn run(context: &Context, args: CheckArgs) -> anyhow::Result<Outcome> {
    let root = context.workspace(args.directory.as_deref());
    let model = context.discover_once(&root)?;
    let count = |severity| {
        model
            .diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    };
    let report = Report {
        workspace: &model.name,
        repositories: model.repositories.len(),
        services: model.services.len(),
        edges: model.edges.len(),
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        diagnostics: &model.diagnostics,
    };
    match args.format {
        Format::Json => console::json(&report)?,
        Format::Text => {
            console::diagnostics(&model.diagnostics, args.verbose);
            let verdict = if report.errors > 0 {
                console::paint(Style::Red, "invalid")
            } else {
                console::paint(Style::Green, "ok")
            };
            console::out(&format!(
                "{verdict}: {} repositories, {} services, {} edges; {} errors, {} warnings\n",
                report.repositories, report.services, report.edges, report.errors, report.warnings
            ));
        }
    }
    Ok(if report.errors > 0 {
        Outcome::BadInput
    } else {
        Outcome::Clean
    })
}
