//! `weft plan`: deployment phases, critical path, and what cycles forced.

use serde::Serialize;
use weft_analysis::{Cut, Cycle, Phase, PlanSettings, plan};
use weft_model::{Diagnostic, ServiceId, Severity};

use super::Context;
use super::graph::render_cycles;
use crate::cli::{Format, PlanArgs};
use crate::console::{self, Style};
use crate::exit::Outcome;

#[derive(Debug, Serialize)]
struct Report<'p> {
    workspace: &'p str,
    phases: &'p [Phase],
    order: &'p [ServiceId],
    cycles: &'p [Cycle],
    cut_edges: &'p [Cut],
    critical_path: &'p [ServiceId],
    diagnostics: &'p [Diagnostic],
}

pub(crate) fn run(context: &Context, args: PlanArgs) -> anyhow::Result<Outcome> {
    let (root, names) = context.split_workspace(&args.services)?;
    let model = context.discover_once(&root)?;
    let targets = names
        .iter()
        .map(|name| context.lookup(model, name))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let settings = PlanSettings {
        targets,
        include_dependencies: !args.no_deps,
        max_parallel: args.max_parallel,
    };
    let plan = plan(model, &settings)?;
    match args.format {
        Format::Json => console::json(&Report {
            workspace: &model.name,
            phases: &plan.phases,
            order: &plan.order,
            cycles: &plan.cycles,
            cut_edges: &plan.cut_edges,
            critical_path: &plan.critical_path,
            diagnostics: &model.diagnostics,
        })?,
        Format::Text => {
            let mut out = format!(
                "{}: {} in {}\n\n",
                console::paint(Style::Bold, format!("Deployment plan for {}", model.name)),
                console::count(plan.order.len(), "service"),
                console::count(plan.phases.len(), "phase")
            );
            let width = plan.phases.len().to_string().len();
            for phase in &plan.phases {
                let services: Vec<&str> = phase.services.iter().map(|s| s.as_str()).collect();
                out.push_str(&format!(
                    "{} {:>width$}  {}\n",
                    console::paint(Style::Cyan, "phase"),
                    phase.phase,
                    services.join(", ")
                ));
            }
            if plan.critical_path.len() > 1 {
                let path: Vec<&str> = plan.critical_path.iter().map(|s| s.as_str()).collect();
                out.push_str(&format!(
                    "\n{} {} ({} steps)\n",
                    console::paint(Style::Bold, "critical path:"),
                    path.join(" → "),
                    path.len()
                ));
            }
            if !plan.cut_edges.is_empty() {
                out.push_str(&format!(
                    "\n{} ordered with {} suggested cut{} removed to break cycles:\n",
                    console::paint(Style::Yellow, "note:"),
                    plan.cut_edges.len(),
                    if plan.cut_edges.len() == 1 { "" } else { "s" }
                ));
                for cut in &plan.cut_edges {
                    out.push_str(&format!("  {} → {}\n", cut.from, cut.to));
                }
            }
            out.push_str(&render_cycles(&plan.cycles));
            console::out(&out);
            if let Some(summary) = console::diagnostic_summary(&model.diagnostics) {
                console::note(&console::paint_note(&summary));
            }
        }
    }
    Ok(super::with_config_errors(
        if plan.cycles.iter().any(|c| c.severity == Severity::Error) {
            Outcome::Problems
        } else {
            Outcome::Clean
        },
        model,
    ))
}
