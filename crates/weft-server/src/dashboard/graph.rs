//! The graph view: every service by repository in a layered drawing (see
//! [`super::layered`]), edges coloured by kind, cycles and conflicts marked,
//! and each service's explanation — what it waits for and what breaks
//! without it — with links to the lines the edges were read from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use weft_analysis::{Analysis, Conflict, Explanation, Plan};
use weft_model::{EdgeKind, Model, Provenance, ServiceId};

use super::layered::{Layering, place};
use super::page::{Fragment, Page, View, require_read, trouble};
use super::session::Viewer;
use crate::state::AppState;

/// Above this many services the drawing gives way to the lists.
const MAX_DRAWN: usize = 1_500;
const NODE_WIDTH: usize = 190;
const NODE_HEIGHT: usize = 26;
const COLUMN_PITCH: usize = 290;
const ROW_PITCH: usize = 36;
const MARGIN: usize = 24;
const TOP: usize = 30;

/// Colours told apart in light and dark themes, one per repository.
const PALETTE: [&str; 10] = [
    "#2563eb", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4f46e5", "#65a30d",
    "#0d9488", "#7c3aed",
];

/// The workspace with its plan and conflicts: as the server holds it while
/// it watches the files, else read now, off the async runtime.
pub(crate) async fn load_analysis(state: &AppState) -> Result<Arc<Analysis>, String> {
    if let Some(analysis) = state.model.current() {
        return Ok(analysis);
    }
    let root = state.settings.workspace.clone();
    tokio::task::spawn_blocking(move || {
        let model = weft_discover::discover(&root)
            .map_err(|error| format!("cannot read the server's workspace: {error}"))?;
        Analysis::of(model)
            .map(Arc::new)
            .map_err(|error| error.to_string())
    })
    .await
    .map_err(|error| error.to_string())?
}

/// Where a provenance points, as a link to the source view.
pub(crate) fn source_link(provenance: &Provenance) -> Markup {
    html! {
        a.mono href={ "/source/" (weft_github::encode_path(&provenance.file)) "#L" (provenance.line) } {
            (provenance.location())
        }
        " " span.muted { "(" (provenance.rule.as_str()) ")" }
    }
}

fn service_href(id: &str) -> String {
    format!("/graph/service/{}", weft_github::encode_path(id))
}

pub(crate) async fn view(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
) -> Response {
    if let Some(redirect) = require_read(&viewer, "/", fragment) {
        return redirect;
    }
    let since = state.coordinator.store().last_event_id().await.ok();
    // Drawing thousands of services is work for a blocking thread, not
    // for the ones answering leases.
    let drawn = match load_analysis(&state).await {
        Ok(analysis) => tokio::task::spawn_blocking(move || body(&analysis))
            .await
            .map_err(|error| error.to_string()),
        Err(message) => Err(message),
    };
    let body = drawn.unwrap_or_else(|message| html! { h1 { "Graph" } (trouble(&message)) });
    // The server watches the files: any change to the model, by a
    // resolution applied here or an edit anywhere, sends a `model` event.
    Page::new(View::Graph, "Graph", body)
        .live(&["model", "operation:resolution"])
        .since(since)
        .render(&viewer, fragment)
}

fn body(analysis: &Analysis) -> Markup {
    let Analysis {
        model,
        plan,
        conflicts,
    } = analysis;
    let in_conflict: BTreeSet<&str> = conflicts
        .iter()
        .flat_map(|c| c.claims.iter().map(|claim| claim.service.as_str()))
        .collect();
    let in_cycle: BTreeSet<&str> = plan
        .cycles
        .iter()
        .flat_map(|c| c.path.iter().map(ServiceId::as_str))
        .collect();
    let mut by_repository: BTreeMap<&str, Vec<&weft_model::Service>> = BTreeMap::new();
    for service in &model.services {
        by_repository
            .entry(service.repository.as_str())
            .or_default()
            .push(service);
    }
    let colours: HashMap<&str, &str> = by_repository
        .keys()
        .enumerate()
        .map(|(i, r)| (*r, PALETTE[i % PALETTE.len()]))
        .collect();
    html! {
        h1 { "Graph" }
        p.lead {
            (model.services.len()) " services in " (model.repositories.len()) " repositories, "
            (model.edges.len()) " edges, " (plan.phases.len()) " phases; "
            span class=(if plan.cycles.is_empty() { "good" } else { "bad" }) { (plan.cycles.len()) " cycles" } ", "
            span class=(if conflicts.is_empty() { "good" } else { "bad" }) { (conflicts.len()) " conflicts" } "."
        }
        div.legend {
            @for (repository, colour) in by_repository.keys().map(|r| (*r, colours[r])) {
                span { svg.swatch width="12" height="12" aria-hidden="true" { rect width="12" height="12" rx="3" fill=(colour) {} } (repository) }
            }
        }
        div.legend {
            span { span.line-sample.required {} "required" }
            span { span.line-sample.optional {} "optional" }
            span { span.line-sample.soft {} "soft" }
            span { span.line-sample.cycle {} "in a cycle (dashed: the edge cut to plan)" }
            span.bad { "red outline: in a cycle" }
            span.warn { "orange dashed outline and dot: in a conflict" }
        }
        @if model.services.len() > MAX_DRAWN {
            p.notice { "The workspace has " (model.services.len()) " services; the drawing stops at " (MAX_DRAWN) ". The lists below have every one." }
        } @else if model.services.is_empty() {
            p.notice { "No services found in the workspace." }
        } @else {
            div.graph tabindex="0" aria-label="The service graph; each service links to its explanation" {
                (PreEscaped(svg(model, plan, &in_conflict, &in_cycle, &colours)))
            }
        }
        (conflict_list(conflicts))
        @if !plan.cycles.is_empty() {
            h2 { "Cycles" }
            ul {
                @for cycle in &plan.cycles {
                    li {
                        @for (i, service) in cycle.path.iter().enumerate() {
                            @if i > 0 { " → " }
                            a href=(service_href(service.as_str())) { (service.as_str()) }
                        }
                        " — planned by cutting " code { (cycle.cut.from.as_str()) " → " (cycle.cut.to.as_str()) }
                    }
                }
            }
        }
        h2 { "Services by repository" }
        div.cards {
            @for (repository, services) in &by_repository {
                section.card {
                    h3 { (repository) }
                    ul.plain {
                        @for service in services {
                            li {
                                a href=(service_href(service.id.as_str())) { (service.name) }
                                @if in_cycle.contains(service.id.as_str()) { " " span.badge.bad { "cycle" } }
                                @if in_conflict.contains(service.id.as_str()) { " " span.badge.warn { "conflict" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn conflict_list(conflicts: &[Conflict]) -> Markup {
    html! {
        h2 #conflicts { "Conflicts" }
        @if conflicts.is_empty() {
            p.good { "No shared resource is claimed twice." }
        } @else {
            div.table-wrap {
                table.conflicts {
                    thead { tr { th { "conflict" } th { "resource" } th { "what" } th { "claims" } } }
                    tbody {
                        @for conflict in conflicts {
                            tr.conflict data-conflict=(conflict.id) {
                                td { span.badge.warn { (conflict.kind.as_str()) } br; code { (conflict.id) } }
                                td.mono { (conflict.resource) }
                                td { (conflict.message) }
                                td {
                                    ul.plain {
                                        @for claim in &conflict.claims {
                                            li {
                                                a href=(service_href(&claim.service)) { (claim.service) } " · "
                                                (source_link(&claim.provenance))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { "Fixes: " code { "weft resolve" } " shows and applies them." }
        }
    }
}

/// The drawing, as SVG text (every name escaped).
fn svg(
    model: &Model,
    plan: &Plan,
    in_conflict: &BTreeSet<&str>,
    in_cycle: &BTreeSet<&str>,
    colours: &HashMap<&str, &str>,
) -> String {
    let index: HashMap<&str, usize> = model
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut columns: Vec<Vec<usize>> = plan
        .phases
        .iter()
        .map(|phase| {
            let mut members: Vec<usize> = phase
                .services
                .iter()
                .filter_map(|s| index.get(s.as_str()).copied())
                .collect();
            members.sort_by(|a, b| {
                let (a, b) = (&model.services[*a], &model.services[*b]);
                (&a.repository, &a.name).cmp(&(&b.repository, &b.name))
            });
            members
        })
        .collect();
    // A service the plan left out (it should not) still gets drawn.
    let placed: BTreeSet<usize> = columns.iter().flatten().copied().collect();
    let missing: Vec<usize> = (0..model.services.len())
        .filter(|i| !placed.contains(i))
        .collect();
    if !missing.is_empty() {
        columns.push(missing);
    }
    let edges: Vec<(usize, usize, &weft_model::Edge)> = model
        .edges
        .iter()
        .filter_map(|e| Some((*index.get(e.from.as_str())?, *index.get(e.to.as_str())?, e)))
        .collect();
    let placement = place(
        &Layering {
            columns: columns.clone(),
            edges: edges.iter().map(|(a, b, _)| (*a, *b)).collect(),
        },
        model.services.len(),
    );
    let cycle_hops: BTreeSet<(&str, &str)> = plan
        .cycles
        .iter()
        .flat_map(|c| c.hops.iter().map(|h| (h.from.as_str(), h.to.as_str())))
        .collect();
    let cuts: BTreeSet<(&str, &str)> = plan
        .cut_edges
        .iter()
        .map(|c| (c.from.as_str(), c.to.as_str()))
        .collect();
    let x = |node: usize| MARGIN + placement.column[node] * COLUMN_PITCH;
    let y = |node: usize| TOP + placement.row[node] * ROW_PITCH;
    let width = MARGIN * 2 + columns.len().saturating_sub(1) * COLUMN_PITCH + NODE_WIDTH;
    let height = TOP + placement.rows * ROW_PITCH + MARGIN;
    let mut out = String::with_capacity(256 * (model.services.len() + edges.len()));
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Service graph: {} services in {} phases">"#,
        model.services.len(),
        columns.len()
    );
    out.push_str(r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>"#);
    for c in 0..columns.len() {
        let label = if c < plan.phases.len() {
            format!("phase {}", plan.phases[c].phase)
        } else {
            "unplanned".to_owned()
        };
        let _ = write!(
            out,
            r#"<text class="layer-label" x="{}" y="16">{label}</text>"#,
            MARGIN + c * COLUMN_PITCH
        );
    }
    // Edges under the nodes. An edge runs from the service that needs to
    // what it needs: leftwards, since dependencies start first.
    for (from, to, edge) in &edges {
        let key = (edge.from.as_str(), edge.to.as_str());
        let mut class = String::from(edge.kind.as_str());
        if cuts.contains(&key) {
            class.push_str(" cut");
        } else if cycle_hops.contains(&key) {
            class.push_str(" cycle");
        }
        let (fy, ty) = (
            (y(*from) + NODE_HEIGHT / 2) as i64,
            (y(*to) + NODE_HEIGHT / 2) as i64,
        );
        let path = match placement.column[*from].cmp(&placement.column[*to]) {
            std::cmp::Ordering::Greater => {
                let (sx, ex) = (x(*from) as i64, (x(*to) + NODE_WIDTH) as i64);
                let bend = (sx - ex) / 2;
                format!(
                    "M{sx},{fy} C{},{fy} {},{ty} {ex},{ty}",
                    sx - bend,
                    ex + bend
                )
            }
            std::cmp::Ordering::Less => {
                let (sx, ex) = ((x(*from) + NODE_WIDTH) as i64, x(*to) as i64);
                let bend = (ex - sx) / 2;
                format!(
                    "M{sx},{fy} C{},{fy} {},{ty} {ex},{ty}",
                    sx + bend,
                    ex - bend
                )
            }
            std::cmp::Ordering::Equal => {
                let sx = (x(*from) + NODE_WIDTH) as i64;
                let reach = 40 + (fy - ty).abs() / 6;
                format!(
                    "M{sx},{fy} C{},{fy} {},{ty} {sx},{ty}",
                    sx + reach,
                    sx + reach
                )
            }
        };
        let title = format!(
            "{} needs {} ({})",
            edge.from.as_str(),
            edge.to.as_str(),
            edge.kind.as_str()
        );
        let _ = write!(
            out,
            r#"<path class="edge {class}" d="{path}" marker-end="url(#arrow)" data-from="{}" data-to="{}"><title>{}</title></path>"#,
            escape(edge.from.as_str()),
            escape(edge.to.as_str()),
            escape(&title)
        );
    }
    for (node, service) in model.services.iter().enumerate() {
        let id = service.id.as_str();
        let mut class = String::from("node");
        if in_cycle.contains(id) {
            class.push_str(" cycle");
        }
        if in_conflict.contains(id) {
            class.push_str(" conflict");
        }
        let colour = colours
            .get(service.repository.as_str())
            .copied()
            .unwrap_or(PALETTE[0]);
        let label: String = if service.name.chars().count() > 24 {
            let mut short: String = service.name.chars().take(23).collect();
            short.push('…');
            short
        } else {
            service.name.clone()
        };
        let _ = write!(
            out,
            r#"<a class="{class}" href="{}" data-service="{}"><title>{}</title><rect x="{}" y="{}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="5" stroke="{colour}"/><rect x="{}" y="{}" width="5" height="{NODE_HEIGHT}" rx="2" fill="{colour}"/><text x="{}" y="{}">{}</text>{}</a>"#,
            escape(&service_href(id)),
            escape(id),
            escape(id),
            x(node),
            y(node),
            x(node),
            y(node),
            x(node) + 12,
            y(node) + 17,
            escape(&label),
            if in_conflict.contains(id) {
                format!(
                    r#"<circle class="conflict-dot" cx="{}" cy="{}" r="5"><title>in a conflict</title></circle>"#,
                    x(node) + NODE_WIDTH - 10,
                    y(node) + NODE_HEIGHT / 2
                )
            } else {
                String::new()
            }
        );
    }
    out.push_str("</svg>");
    out
}

/// Escapes text for SVG/HTML text and attribute values.
fn escape(text: &str) -> String {
    maud::html! { (text) }.into_string().replace('"', "&quot;")
}

pub(crate) async fn service(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
    Path(name): Path<String>,
) -> Response {
    let path = service_href(&name);
    if let Some(redirect) = require_read(&viewer, &path, fragment) {
        return redirect;
    }
    let explained = match load_analysis(&state).await {
        Ok(analysis) => tokio::task::spawn_blocking(move || {
            let model = &analysis.model;
            let id = model
                .lookup(&name)
                .map(|s| s.id.clone())
                .map_err(|error| error.to_string())?;
            let explanation =
                weft_analysis::explain(model, &id).map_err(|error| error.to_string())?;
            let service = model.service(&id).cloned();
            Ok::<_, String>((service, explanation))
        })
        .await
        .map_err(|error| error.to_string())
        .and_then(|r| r),
        Err(message) => Err(message),
    };
    let (title, body) = match explained {
        Ok((service, explanation)) => (
            explanation.service.as_str().to_owned(),
            explanation_body(service.as_ref(), &explanation),
        ),
        Err(message) => (
            "Service".to_owned(),
            html! { h1 { "Service" } (trouble(&message)) p { a href="/" { "Back to the graph" } } },
        ),
    };
    Page::new(View::Graph, title, body).render(&viewer, fragment)
}

fn explanation_body(service: Option<&weft_model::Service>, explanation: &Explanation) -> Markup {
    html! {
        p { a href="/" { "← Graph" } }
        h1 { (explanation.service.as_str()) }
        @if let Some(service) = service {
            p.lead {
                "Repository " strong { (service.repository) }
                @if !service.sources.is_empty() { "; read from " (service.sources.join(", ")) }
                @if let Some(image) = &service.image { "; image " code { (image) } }
                @if let Some(command) = &service.command { "; command " code { (command) } }
            }
        }
        h2 { "What it waits for (" (explanation.dependencies.len()) ")" }
        (links(&explanation.dependencies, false))
        h2 { "What breaks without it (" (explanation.dependents.len()) ")" }
        (links(&explanation.dependents, true))
    }
}

fn links(links: &[weft_analysis::Link], dependents: bool) -> Markup {
    html! {
        @if links.is_empty() {
            p.muted { "Nothing." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th { "service" } th.num { "hops" } th { "kind" }
                        @if dependents { th { "impact" } }
                        th { "path and where each edge was read" }
                    } }
                    tbody {
                        @for link in links {
                            tr {
                                td { a href=(service_href(link.service.as_str())) { (link.service.as_str()) } }
                                td.num { (link.depth) }
                                td { span class={ "badge " (kind_class(link.kind)) } { (link.kind.as_str()) } }
                                @if dependents {
                                    td { (link.impact.map_or("", weft_analysis::Impact::as_str)) }
                                }
                                td {
                                    ul.plain {
                                        @for edge in &link.edges {
                                            li {
                                                code { (edge.from.as_str()) " → " (edge.to.as_str()) }
                                                @for provenance in &edge.provenance {
                                                    br; (source_link(provenance))
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn kind_class(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Required => "bad",
        EdgeKind::Optional => "warn",
        EdgeKind::Soft => "muted",
    }
}
