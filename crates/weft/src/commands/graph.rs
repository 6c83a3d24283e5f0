//! `weft graph`: every service and edge, the repository graph, and cycles.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use weft_analysis::{Cycle, RepositoryEdge, ServiceGraph, break_cycles, repository_edges};
use weft_model::{Diagnostic, Edge, EdgeKind, Model, Repository, Service, Severity};

use super::{Context, render_provenance};
use crate::cli::{GraphArgs, GraphFormat};
use crate::console::{self, Style};
use crate::exit::Outcome;

#[derive(Debug, Serialize)]
struct Report<'m> {
    workspace: &'m str,
    repositories: &'m [Repository],
    services: &'m [Service],
    edges: &'m [Edge],
    repository_edges: &'m [RepositoryEdge],
    cycles: &'m [Cycle],
    diagnostics: &'m [Diagnostic],
}

pub(crate) fn run(context: &Context, args: GraphArgs) -> anyhow::Result<Outcome> {
    let root = context.workspace(args.directory.as_deref());
    let model = context.discover_once(&root)?;
    let graph = ServiceGraph::new(model);
    let (cycles, _) = break_cycles(&graph);
    let repository_edges = repository_edges(model);
    match args.format {
        GraphFormat::Json => console::json(&Report {
            workspace: &model.name,
            repositories: &model.repositories,
            services: &model.services,
            edges: &model.edges,
            repository_edges: &repository_edges,
            cycles: &cycles,
            diagnostics: &model.diagnostics,
        })?,
        GraphFormat::Dot if args.repositories => {
            console::out(&repository_dot(model, &repository_edges))
        }
        GraphFormat::Dot => console::out(&dot(model, &cycles)),
        GraphFormat::Mermaid if args.repositories => {
            console::out(&repository_mermaid(model, &repository_edges))
        }
        GraphFormat::Mermaid => console::out(&mermaid(model, &cycles)),
        GraphFormat::Text => {
            console::out(&text(model, &repository_edges, &cycles));
            if let Some(summary) = console::diagnostic_summary(&model.diagnostics) {
                console::note(&console::paint_note(&summary));
            }
        }
    }
    Ok(super::with_config_errors(
        if cycles.iter().any(|c| c.severity == Severity::Error) {
            Outcome::Problems
        } else {
            Outcome::Clean
        },
        model,
    ))
}

fn kind_style(kind: EdgeKind) -> Style {
    match kind {
        EdgeKind::Required => Style::Bold,
        EdgeKind::Optional => Style::Cyan,
        EdgeKind::Soft => Style::Dim,
    }
}

fn text(model: &Model, repository_edges: &[RepositoryEdge], cycles: &[Cycle]) -> String {
    let mut out = format!(
        "{}: {} repositories, {} services, {} edges\n",
        console::paint(Style::Bold, &model.name),
        model.repositories.len(),
        model.services.len(),
        model.edges.len()
    );
    let mut outgoing: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for edge in &model.edges {
        outgoing.entry(edge.from.as_str()).or_default().push(edge);
    }
    let width = model
        .edges
        .iter()
        .map(|e| e.to.as_str().len())
        .max()
        .unwrap_or(0);
    let mut repository = "";
    for service in &model.services {
        if service.repository != repository {
            repository = &service.repository;
            out.push_str(&format!("\n{}\n", console::paint(Style::Bold, repository)));
        }
        out.push_str(&format!(
            "  {}  {}\n",
            service.id,
            console::paint(Style::Dim, service.sources.join(", "))
        ));
        for edge in outgoing.get(service.id.as_str()).into_iter().flatten() {
            out.push_str(&format!(
                "    → {:width$}  {:8}  {}\n",
                edge.to.as_str(),
                console::paint(kind_style(edge.kind), edge.kind.as_str()),
                render_provenance(&edge.provenance, 2),
            ));
        }
    }
    if !repository_edges.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            console::paint(Style::Bold, "repositories")
        ));
        let width = repository_edges
            .iter()
            .map(|e| e.from.len())
            .max()
            .unwrap_or(0);
        for edge in repository_edges {
            out.push_str(&format!(
                "  {:width$} → {}  {} ({} edge{})\n",
                edge.from,
                edge.to,
                edge.kind,
                edge.edges,
                if edge.edges == 1 { "" } else { "s" }
            ));
        }
    }
    out.push_str(&render_cycles(cycles));
    out
}

/// Cycles with their path, each hop's provenance and the suggested cut.
pub(crate) fn render_cycles(cycles: &[Cycle]) -> String {
    if cycles.is_empty() {
        return String::new();
    }
    let mut out = format!("\n{}\n", console::paint(Style::Bold, "cycles"));
    for cycle in cycles {
        let label = match cycle.severity {
            Severity::Error => console::paint(Style::Red, "error"),
            _ => console::paint(Style::Yellow, "warning (soft edges only)"),
        };
        let mut path: Vec<&str> = cycle.path.iter().map(|s| s.as_str()).collect();
        if let Some(first) = path.first().copied() {
            path.push(first);
        }
        out.push_str(&format!("  {label}: {}\n", path.join(" → ")));
        for hop in &cycle.hops {
            out.push_str(&format!(
                "    {} → {}  {}  {}\n",
                hop.from,
                hop.to,
                hop.kind,
                render_provenance(&hop.provenance, 1)
            ));
        }
        out.push_str(&format!(
            "    {} {} → {}\n",
            console::paint(Style::Cyan, "suggested cut:"),
            cycle.cut.from,
            cycle.cut.to
        ));
    }
    out
}

/// The services of each repository, repositories in name order.
fn services_by_repository(model: &Model) -> BTreeMap<&str, Vec<&Service>> {
    let mut by_repository: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
    for service in &model.services {
        by_repository
            .entry(&service.repository)
            .or_default()
            .push(service);
    }
    by_repository
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Edges as (from, to) ids.
type EdgeSet<'c> = BTreeSet<(&'c str, &'c str)>;

/// The edges on a cycle, and the suggested cuts.
fn cycle_edges(cycles: &[Cycle]) -> (EdgeSet<'_>, EdgeSet<'_>) {
    let on_cycle = cycles
        .iter()
        .flat_map(|c| c.hops.iter().map(|h| (h.from.as_str(), h.to.as_str())))
        .collect();
    let cuts = cycles
        .iter()
        .map(|c| (c.cut.from.as_str(), c.cut.to.as_str()))
        .collect();
    (on_cycle, cuts)
}

/// Graphviz: a cluster per repository; required edges solid, optional
/// dashed, soft dotted; cycle edges red, suggested cuts labelled.
fn dot(model: &Model, cycles: &[Cycle]) -> String {
    let (on_cycle, cuts) = cycle_edges(cycles);
    let mut out = String::from(
        "digraph weft {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    let by_repository = services_by_repository(model);
    for (index, (repository, services)) in by_repository.iter().enumerate() {
        out.push_str(&format!(
            "  subgraph cluster_{index} {{\n    label={};\n    style=rounded;\n",
            quote(repository)
        ));
        for service in services {
            out.push_str(&format!(
                "    {} [label={}];\n",
                quote(service.id.as_str()),
                quote(&service.name)
            ));
        }
        out.push_str("  }\n");
    }
    for edge in &model.edges {
        let key = (edge.from.as_str(), edge.to.as_str());
        let style = match edge.kind {
            EdgeKind::Required => "solid",
            EdgeKind::Optional => "dashed",
            EdgeKind::Soft => "dotted",
        };
        let mut attributes = vec![
            format!("style={style}"),
            format!("tooltip={}", quote(edge.kind.as_str())),
        ];
        if on_cycle.contains(&key) {
            attributes.push("color=red".to_string());
        }
        if cuts.contains(&key) {
            attributes.push("label=\"cut\"".to_string());
            attributes.push("fontcolor=red".to_string());
            attributes.push("constraint=false".to_string());
        }
        out.push_str(&format!(
            "  {} -> {} [{}];\n",
            quote(edge.from.as_str()),
            quote(edge.to.as_str()),
            attributes.join(", ")
        ));
    }
    out.push_str("}\n");
    out
}

fn repository_dot(model: &Model, edges: &[RepositoryEdge]) -> String {
    let mut out = String::from(
        "digraph weft {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
    );
    for repository in &model.repositories {
        out.push_str(&format!("  {};\n", quote(&repository.name)));
    }
    for edge in edges {
        out.push_str(&format!(
            "  {} -> {} [label={}];\n",
            quote(&edge.from),
            quote(&edge.to),
            quote(&format!("{} ({})", edge.kind, edge.edges))
        ));
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart: `==>` required, `-->` optional, `-.->` soft; cycle
/// edges red, suggested cuts labelled.
fn mermaid(model: &Model, cycles: &[Cycle]) -> String {
    let (on_cycle, cuts) = cycle_edges(cycles);
    let node: BTreeMap<&str, usize> = model
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut out = String::from("flowchart LR\n");
    let by_repository = services_by_repository(model);
    for (index, (repository, services)) in by_repository.iter().enumerate() {
        out.push_str(&format!(
            "  subgraph r{index}[\"{}\"]\n",
            mermaid_text(repository)
        ));
        for service in services {
            out.push_str(&format!(
                "    n{}[\"{}\"]\n",
                node[service.id.as_str()],
                mermaid_text(&service.name)
            ));
        }
        out.push_str("  end\n");
    }
    let mut red = Vec::new();
    let mut link = 0;
    for edge in &model.edges {
        let (Some(from), Some(to)) = (node.get(edge.from.as_str()), node.get(edge.to.as_str()))
        else {
            continue;
        };
        let key = (edge.from.as_str(), edge.to.as_str());
        let arrow = match edge.kind {
            EdgeKind::Required => "==>",
            EdgeKind::Optional => "-->",
            EdgeKind::Soft => "-.->",
        };
        let label = if cuts.contains(&key) {
            format!("{} (cut)", edge.kind)
        } else {
            edge.kind.to_string()
        };
        out.push_str(&format!("  n{from} {arrow}|{label}| n{to}\n"));
        if on_cycle.contains(&key) {
            red.push(link.to_string());
        }
        link += 1;
    }
    if !red.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:#d00,color:#d00\n",
            red.join(",")
        ));
    }
    out
}

fn repository_mermaid(model: &Model, edges: &[RepositoryEdge]) -> String {
    let node: BTreeMap<&str, usize> = model
        .repositories
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let mut out = String::from("flowchart LR\n");
    for repository in &model.repositories {
        out.push_str(&format!(
            "  r{}[\"{}\"]\n",
            node[repository.name.as_str()],
            mermaid_text(&repository.name)
        ));
    }
    for edge in edges {
        if let (Some(from), Some(to)) = (node.get(edge.from.as_str()), node.get(edge.to.as_str())) {
            out.push_str(&format!(
                "  r{from} -->|{} ({})| r{to}\n",
                edge.kind, edge.edges
            ));
        }
    }
    out
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}
