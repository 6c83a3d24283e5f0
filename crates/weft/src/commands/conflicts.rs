//! `weft conflicts`: shared resources that services collide on.

use serde::Serialize;
use weft_analysis::{Conflict, find_conflicts};
use weft_model::{Diagnostic, Severity};

use super::Context;
use crate::cli::{ConflictsArgs, Format};
use crate::console::{self, Style};
use crate::exit::Outcome;

#[derive(Debug, Serialize)]
struct Report<'a> {
    conflicts: &'a [Conflict],
    diagnostics: &'a [Diagnostic],
}

pub(crate) fn run(context: &Context, args: ConflictsArgs) -> anyhow::Result<Outcome> {
    let root = context.workspace(args.directory.as_deref());
    let model = context.discover_once(&root)?;
    let conflicts = find_conflicts(model);
    match args.format {
        Format::Json => console::json(&Report {
            conflicts: &conflicts,
            diagnostics: &model.diagnostics,
        })?,
        Format::Text => {
            console::out(&render(&conflicts));
            if let Some(summary) = console::diagnostic_summary(&model.diagnostics) {
                console::note(&console::paint_note(&summary));
            }
        }
    }
    Ok(super::with_config_errors(
        if conflicts.is_empty() {
            Outcome::Clean
        } else {
            Outcome::Problems
        },
        model,
    ))
}

/// Conflicts grouped by type, each with its claims and strategies.
pub(crate) fn render(conflicts: &[Conflict]) -> String {
    if conflicts.is_empty() {
        return format!("{} no conflicts\n", console::paint(Style::Green, "✓"));
    }
    let mut text = String::new();
    for conflict in conflicts {
        let severity = console::severity(conflict.severity);
        text.push_str(&format!(
            "{severity} {}\n",
            console::paint(Style::Bold, &conflict.id)
        ));
        text.push_str(&format!("  {}\n", conflict.message));
        let width = conflict
            .claims
            .iter()
            .map(|c| c.service.len())
            .max()
            .unwrap_or(0);
        for claim in &conflict.claims {
            let detail = claim
                .detail
                .as_deref()
                .map(|d| format!("  {d}"))
                .unwrap_or_default();
            text.push_str(&format!(
                "    {:width$}  {}{}\n",
                claim.service,
                console::paint(Style::Dim, claim.provenance.location()),
                detail,
            ));
        }
        let strategies: Vec<String> = conflict
            .strategies
            .iter()
            .map(|s| {
                if s.automatic {
                    format!("{} (auto)", s.name)
                } else {
                    s.name.to_string()
                }
            })
            .collect();
        text.push_str(&format!(
            "  {} {}\n\n",
            console::paint(Style::Cyan, "fix:"),
            strategies.join(", ")
        ));
    }
    let errors = conflicts
        .iter()
        .filter(|c| c.severity == Severity::Error)
        .count();
    text.push_str(&format!(
        "{} conflicts ({errors} errors, {} warnings); `weft resolve` shows the fixes\n",
        conflicts.len(),
        conflicts.len() - errors
    ));
    text
}
