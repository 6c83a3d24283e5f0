//! Explanations: why a service waits for others (its dependencies) and what
//! happens to others if it goes down (its dependents), edge by edge with provenance.

use std::collections::VecDeque;

use serde::Serialize;
use weft_model::{Edge, EdgeKind, Model, ServiceId};

use crate::graph::{GraphError, ServiceGraph};

/// What happens to a dependent when the explained service goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// Only soft edges lead to it: it keeps running.
    Unaffected,
    /// It needs the service optionally: it runs degraded.
    Degraded,
    /// It requires the service, directly or through required edges only.
    Breaks,
}

impl Impact {
    /// The impact on a dependent whose effective edge kind is `kind`.
    pub fn of(kind: EdgeKind) -> Self {
        match kind {
            EdgeKind::Required => Impact::Breaks,
            EdgeKind::Optional => Impact::Degraded,
            EdgeKind::Soft => Impact::Unaffected,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Impact::Breaks => "breaks",
            Impact::Degraded => "degraded",
            Impact::Unaffected => "unaffected",
        }
    }
}

/// A service reached from the explained one, and the chain of edges to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub service: ServiceId,
    /// The number of hops of `path`: 1 for a direct edge.
    pub depth: usize,
    /// The weakest kind along `path`.
    pub kind: EdgeKind,
    /// From the explained service to this one, both included.
    pub path: Vec<ServiceId>,
    /// One edge per hop of `path`, in the same order, each with its provenance.
    /// For dependents the edges point back along the path (the dependent needs
    /// the service before it).
    pub edges: Vec<Edge>,
    /// For dependents only: what the explained service going down does to this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
}

/// Everything a service transitively depends on, and everything that
/// transitively depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub service: ServiceId,
    /// Sorted by depth, then id.
    pub dependencies: Vec<Link>,
    /// Sorted by depth, then id.
    pub dependents: Vec<Link>,
}

/// Explains one service of a model.
pub fn explain(model: &Model, service: &ServiceId) -> Result<Explanation, GraphError> {
    explain_graph(&ServiceGraph::new(model), service)
}

/// Explains one service of a graph.
pub fn explain_graph(
    graph: &ServiceGraph<'_>,
    service: &ServiceId,
) -> Result<Explanation, GraphError> {
    let start = graph.require_node(service)?;
    let dependencies = links(graph, start, Direction::Dependencies);
    let mut dependents = links(graph, start, Direction::Dependents);
    for link in &mut dependents {
        link.impact = Some(Impact::of(link.kind));
    }
    Ok(Explanation {
        service: service.clone(),
        dependencies,
        dependents,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Follow edges forward, to what a service needs.
    Dependencies,
    /// Follow edges backward, to what needs a service.
    Dependents,
}

const UNREACHED: usize = usize::MAX;

/// Every service reached from `start` in one direction, each with the
/// strongest chain to it.
///
/// How it works: three breadth-first searches, the first following only
/// required edges, the second required and optional ones, the last every
/// edge. A service takes its link from the first search that reaches it, so
/// its kind is the strongest any chain gives (the one that decides whether a
/// dependent breaks), and its path is a shortest chain of that kind.
fn links(graph: &ServiceGraph<'_>, start: usize, direction: Direction) -> Vec<Link> {
    let mut linked = vec![false; graph.len()];
    linked[start] = true;
    let mut parent = vec![UNREACHED; graph.len()];
    let mut reached = Vec::new();
    let mut queue = VecDeque::new();
    let mut found = Vec::new();

    for threshold in [EdgeKind::Required, EdgeKind::Optional, EdgeKind::Soft] {
        parent[start] = start;
        reached.push(start);
        queue.push_back(start);
        while let Some(node) = queue.pop_front() {
            for &position in adjacent(graph, node, direction) {
                let (kind, neighbour) = step(graph, position, direction);
                if kind >= threshold && parent[neighbour] == UNREACHED {
                    parent[neighbour] = node;
                    reached.push(neighbour);
                    queue.push_back(neighbour);
                }
            }
        }
        for &node in &reached {
            if !linked[node] {
                linked[node] = true;
                found.push(link(graph, &parent, start, node, threshold, direction));
            }
        }
        for node in reached.drain(..) {
            parent[node] = UNREACHED;
        }
    }
    found.sort_by(|left, right| (left.depth, &left.service).cmp(&(right.depth, &right.service)));
    found
}

fn adjacent<'graph>(
    graph: &'graph ServiceGraph<'_>,
    node: usize,
    direction: Direction,
) -> &'graph [usize] {
    match direction {
        Direction::Dependencies => graph.outgoing(node),
        Direction::Dependents => graph.incoming(node),
    }
}

/// The kind of an edge and the node it leads to in `direction`.
fn step(graph: &ServiceGraph<'_>, position: usize, direction: Direction) -> (EdgeKind, usize) {
    let edge = graph.edge(position);
    match direction {
        Direction::Dependencies => (edge.edge.kind, edge.to),
        Direction::Dependents => (edge.edge.kind, edge.from),
    }
}

fn link(
    graph: &ServiceGraph<'_>,
    parent: &[usize],
    start: usize,
    end: usize,
    threshold: EdgeKind,
    direction: Direction,
) -> Link {
    let mut chain = vec![end];
    let mut node = end;
    while node != start {
        node = parent[node];
        chain.push(node);
    }
    chain.reverse();

    let mut kind = EdgeKind::Required;
    let mut edges = Vec::with_capacity(chain.len().saturating_sub(1));
    for pair in chain.windows(2) {
        let (from, to) = match direction {
            Direction::Dependencies => (pair[0], pair[1]),
            Direction::Dependents => (pair[1], pair[0]),
        };
        // The strongest of parallel edges, then explicit, then the first.
        let best = graph
            .edges_between(from, to)
            .map(|position| graph.edge(position).edge)
            .filter(|edge| edge.kind >= threshold)
            .reduce(|best, edge| {
                if (edge.kind, edge.explicit) > (best.kind, best.explicit) {
                    edge
                } else {
                    best
                }
            });
        if let Some(edge) = best {
            kind = kind.min(edge.kind);
            edges.push(edge.clone());
        }
    }
    Link {
        service: graph.id(end).clone(),
        depth: chain.len() - 1,
        kind,
        path: chain.iter().map(|&node| graph.id(node).clone()).collect(),
        edges,
        impact: None,
    }
}

#[cfg(test)]
mod tests {
    use weft_model::EdgeKind::*;

    use super::*;
    use crate::graph::tests::{id, model};

    fn ids(names: &[&str]) -> Vec<ServiceId> {
        names.iter().map(|name| id(name)).collect()
    }

    fn summary(links: &[Link]) -> Vec<(String, usize, EdgeKind)> {
        links
            .iter()
            .map(|link| (link.service.to_string(), link.depth, link.kind))
            .collect()
    }

    fn stack() -> Model {
        // web → api → {db, cache}; worker → api (soft); proxy → web (optional).
        model(
            &["web", "api", "db", "cache", "worker", "proxy"],
            &[
                ("web", "api", Required),
                ("api", "db", Required),
                ("api", "cache", Optional),
                ("worker", "api", Soft),
                ("proxy", "web", Optional),
            ],
        )
    }

    #[test]
    fn dependencies_carry_depth_kind_path_and_edges() {
        let explanation = explain(&stack(), &id("web")).expect("explain");
        assert_eq!(
            summary(&explanation.dependencies),
            [
                ("repo/api".to_string(), 1, Required),
                ("repo/cache".to_string(), 2, Optional),
                ("repo/db".to_string(), 2, Required),
            ]
        );
        let db = &explanation.dependencies[2];
        assert_eq!(db.path, ids(&["web", "api", "db"]));
        assert_eq!(db.edges.len(), 2);
        assert_eq!(db.edges[0].from, id("web"));
        assert_eq!(db.edges[1].to, id("db"));
        assert_eq!(db.impact, None);
        assert_eq!(
            summary(&explanation.dependents),
            [("repo/proxy".to_string(), 1, Optional)]
        );
    }

    #[test]
    fn dependents_say_what_breaks() {
        let explanation = explain(&stack(), &id("db")).expect("explain");
        assert!(explanation.dependencies.is_empty());
        let impacts: Vec<(&str, Option<Impact>)> = explanation
            .dependents
            .iter()
            .map(|link| (link.service.as_str(), link.impact))
            .collect();
        assert_eq!(
            impacts,
            [
                ("repo/api", Some(Impact::Breaks)),
                ("repo/web", Some(Impact::Breaks)),
                ("repo/worker", Some(Impact::Unaffected)),
                ("repo/proxy", Some(Impact::Degraded)),
            ]
        );
        let proxy = &explanation.dependents[3];
        assert_eq!(proxy.path, ids(&["db", "api", "web", "proxy"]));
        assert_eq!(proxy.edges[0].from, id("api"));
        assert_eq!(proxy.edges[0].to, id("db"));
        assert_eq!(proxy.edges[2].from, id("proxy"));
    }

    #[test]
    fn a_strong_chain_wins_over_a_short_weak_one() {
        let model = model(
            &["a", "b", "c"],
            &[("a", "c", Soft), ("a", "b", Required), ("b", "c", Required)],
        );
        let explanation = explain(&model, &id("c")).expect("explain");
        let a = explanation
            .dependents
            .iter()
            .find(|link| link.service == id("a"))
            .expect("a depends on c");
        assert_eq!(a.kind, Required);
        assert_eq!(a.depth, 2);
        assert_eq!(a.impact, Some(Impact::Breaks));
    }

    #[test]
    fn parallel_edges_pick_the_strongest() {
        let model = model(&["a", "b"], &[("a", "b", Soft), ("a", "b", Optional)]);
        let explanation = explain(&model, &id("a")).expect("explain");
        assert_eq!(explanation.dependencies[0].kind, Optional);
        assert_eq!(explanation.dependencies[0].edges[0].kind, Optional);
    }

    #[test]
    fn cycles_do_not_list_the_service_itself() {
        let model = model(
            &["a", "b"],
            &[("a", "b", Required), ("b", "a", Required), ("a", "a", Soft)],
        );
        let explanation = explain(&model, &id("a")).expect("explain");
        assert_eq!(
            summary(&explanation.dependencies),
            [("repo/b".to_string(), 1, Required)]
        );
        assert_eq!(
            summary(&explanation.dependents),
            [("repo/b".to_string(), 1, Required)]
        );
    }

    #[test]
    fn unknown_service_is_an_error() {
        assert!(matches!(
            explain(&stack(), &id("nope")),
            Err(GraphError::UnknownService { .. })
        ));
    }

    #[test]
    fn json_names_impact_only_on_dependents() {
        let explanation = explain(&stack(), &id("api")).expect("explain");
        let json = serde_json::to_value(&explanation).expect("serialize");
        assert!(json["dependencies"][0].get("impact").is_none());
        assert_eq!(json["dependents"][0]["impact"], "breaks");
        assert_eq!(json["dependents"][0]["kind"], "required");
    }
}
