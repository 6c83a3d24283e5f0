//! `weft explain SERVICE`: what it waits for and what breaks without it.

use serde::Serialize;
use weft_analysis::{Explanation, Link, explain};
use weft_model::{Diagnostic, Service};

use super::{Context, render_provenance};
use crate::cli::{ExplainArgs, Format};
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

#[derive(Debug, Serialize)]
struct Report<'e> {
    service: &'e Service,
    dependencies: &'e [Link],
    dependents: &'e [Link],
    diagnostics: &'e [Diagnostic],
}

pub(crate) fn run(context: &Context, args: ExplainArgs) -> anyhow::Result<Outcome> {
    let (root, names) = context.split_workspace(&args.service)?;
    let [name] = names.as_slice() else {
        return Err(UsageError::new("name exactly one service to explain")
            .with_hint("weft explain [WORKSPACE] SERVICE")
            .into());
    };
    let model = context.discover_once(&root)?;
    let id = context.lookup(model, name)?;
    let explanation = explain(model, &id)?;
    let service = model
        .service(&id)
        .ok_or_else(|| anyhow::anyhow!("service {id} vanished from the model"))?;
    match args.format {
        Format::Json => console::json(&Report {
            service,
            dependencies: &explanation.dependencies,
            dependents: &explanation.dependents,
            diagnostics: &model.diagnostics,
        })?,
        Format::Text => console::out(&text(service, &explanation)),
    }
    Ok(super::with_config_errors(Outcome::Clean, model))
}

fn text(service: &Service, explanation: &Explanation) -> String {
    let mut out = console::paint(Style::Bold, service.id.as_str());
    if let Some(image) = &service.image {
        out.push_str(&format!(
            "  {}",
            console::paint(Style::Dim, format!("image {image}"))
        ));
    }
    out.push('\n');
    let declared: Vec<String> = service.provenance.iter().map(|p| p.location()).collect();
    out.push_str(&format!("  declared in {}\n", declared.join(", ")));
    out.push_str(&format!(
        "\n{} ({})\n",
        console::paint(Style::Bold, "waits for"),
        if explanation.dependencies.is_empty() {
            "nothing".to_string()
        } else {
            explanation.dependencies.len().to_string()
        }
    ));
    out.push_str(&links(&explanation.dependencies, false));
    out.push_str(&format!(
        "\n{} ({})\n",
        console::paint(Style::Bold, "needed by"),
        if explanation.dependents.is_empty() {
            "nothing".to_string()
        } else {
            explanation.dependents.len().to_string()
        }
    ));
    out.push_str(&links(&explanation.dependents, true));
    out
}

fn links(links: &[Link], dependents: bool) -> String {
    let width = links
        .iter()
        .map(|l| l.service.as_str().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for link in links {
        let impact = match (dependents, link.impact) {
            (true, Some(impact)) => {
                let style = match impact.as_str() {
                    "breaks" => Style::Red,
                    "degraded" => Style::Yellow,
                    _ => Style::Dim,
                };
                format!(
                    "  {}",
                    console::paint(style, format!("{:10}", impact.as_str()))
                )
            }
            _ => String::new(),
        };
        let via = if link.depth > 1 {
            let path: Vec<&str> = link.path.iter().map(|s| s.as_str()).collect();
            format!("via {}", path.join(" → "))
        } else {
            "direct".to_string()
        };
        out.push_str(&format!(
            "  {:width$}{impact}  {:8}  {via}\n",
            link.service.as_str(),
            link.kind.as_str()
        ));
        for edge in &link.edges {
            out.push_str(&format!(
                "      {} → {}: {}\n",
                edge.from,
                edge.to,
                console::paint(Style::Dim, render_provenance(&edge.provenance, 3))
            ));
        }
    }
    out
}
