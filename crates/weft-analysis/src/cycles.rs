//! Dependency cycles: strongly connected components (Tarjan's algorithm), the
//! shortest cycle through each, and the weakest edge to cut to break it.

use serde::Serialize;
use weft_model::{EdgeKind, Provenance, ServiceId, Severity};

use crate::graph::{Goal, PathSearch, Reach, ServiceGraph};

/// One step of a cycle: `from` needs `to`. Parallel edges between the same two
/// services are merged into one hop: the strongest kind, every provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    pub from: ServiceId,
    pub to: ServiceId,
    pub kind: EdgeKind,
    pub provenance: Vec<Provenance>,
    /// Set when any of the merged edges comes from `weft.yaml`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub explicit: bool,
}

impl Hop {
    /// The weight of the strongest evidence behind the hop.
    pub fn evidence(&self) -> u8 {
        self.provenance
            .iter()
            .map(|provenance| provenance.rule.evidence_weight())
            .max()
            .unwrap_or(0)
    }
}

/// The edge (every edge from `from` to `to`) suggested for removal to break a cycle.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Cut {
    pub from: ServiceId,
    pub to: ServiceId,
}

/// A dependency cycle, with where each of its edges was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cycle {
    /// The services of the cycle in dependency order: each needs the next, and
    /// the last needs the first (which is not repeated at the end).
    pub path: Vec<ServiceId>,
    /// One hop per service of `path`, the last one closing the cycle.
    pub hops: Vec<Hop>,
    /// The weakest hop: the suggested edge to remove.
    pub cut: Cut,
    /// `warning` when every hop is soft (an ordering preference), else `error`.
    pub severity: Severity,
    /// Every member of the strongly connected component the cycle was found
    /// in, sorted.
    pub component: Vec<ServiceId>,
}

/// The strongly connected components with a cycle: several services, or one
/// service that needs itself. Members sorted, components sorted by first member.
pub fn strongly_connected_components(graph: &ServiceGraph<'_>) -> Vec<Vec<ServiceId>> {
    let nodes: Vec<usize> = (0..graph.len()).collect();
    let labels = vec![0; graph.len()];
    let removed = vec![false; graph.edges().len()];
    let mut tarjan = Tarjan::new(graph.len());
    let mut components = tarjan.components(graph, &nodes, &labels, &removed);
    components.sort_by_key(|component| component.first().copied());
    components
        .iter()
        .map(|component| {
            component
                .iter()
                .map(|&node| graph.id(node).clone())
                .collect()
        })
        .collect()
}

/// Finds every cycle of the graph and the cuts that make it acyclic.
///
/// Each returned [`Cut`] is the `cut` of the cycle at the same position.
/// See [`break_cycles_among`] for how it works.
pub fn break_cycles(graph: &ServiceGraph<'_>) -> (Vec<Cycle>, Vec<Cut>) {
    let nodes: Vec<usize> = (0..graph.len()).collect();
    let breaking = break_cycles_among(graph, &nodes);
    let cuts = breaking
        .cycles
        .iter()
        .map(|cycle| cycle.cut.clone())
        .collect();
    (breaking.cycles, cuts)
}

/// The cycles found among a set of nodes, and which edges were cut (none
/// at all when `removed` is empty).
#[derive(Debug, Clone, Default)]
pub(crate) struct CycleBreaking {
    pub(crate) cycles: Vec<Cycle>,
    /// Per edge index: whether a cut removed it.
    pub(crate) removed: Vec<bool>,
}

/// Label of nodes outside the analysed set.
const OUTSIDE: usize = usize::MAX;
/// Marks a node not yet reached by Tarjan's algorithm.
const UNVISITED: usize = usize::MAX;
/// Components up to this size pick, as the start of their reported cycle, the
/// member with the shortest cycle; larger ones start at their smallest id.
const SMALL_COMPONENT: usize = 64;

/// Breaks every cycle among `nodes`, counting only edges between them.
///
/// How it works: Tarjan's algorithm splits the nodes into strongly connected
/// components; each component with a cycle is a round's work item. For each
/// item, a breadth-first search inside the component finds the shortest cycle
/// through a start node, the cycle is reported and its weakest hop is cut; the
/// parts of the component still cyclic (see [`split_after_cut`]) become next
/// round's items. Every item cuts at least one edge, so the loop ends, and
/// only what is still cyclic is searched again.
///
/// Nodes carry a component label; an edge is followed only when both ends
/// carry the same label and no cut removed it, which confines each search to
/// its component without building subgraphs.
pub(crate) fn break_cycles_among(graph: &ServiceGraph<'_>, nodes: &[usize]) -> CycleBreaking {
    let mut removed = vec![false; graph.edges().len()];
    let mut labels = vec![OUTSIDE; graph.len()];
    for &node in nodes {
        labels[node] = 0;
    }
    let mut tarjan = Tarjan::new(graph.len());
    let mut search = PathSearch::new(graph.len());
    let mut cycles = Vec::new();
    let mut next_label = 1;
    let mut pending = tarjan.components(graph, nodes, &labels, &removed);

    while !pending.is_empty() {
        pending.sort_by_key(|component| component.first().copied());
        let mut next_round = Vec::new();
        for component in pending {
            for &node in &component {
                labels[node] = next_label;
            }
            next_label += 1;
            let Some(path) = shortest_cycle_in(&mut search, graph, &component, &labels, &removed)
            else {
                // Unreachable for a strongly connected component; skipping it
                // still ends the loop.
                continue;
            };
            let (cycle, cut_from, cut_to) = describe_cycle(graph, &path, &component, &removed);
            for position in graph.edges_between(cut_from, cut_to) {
                removed[position] = true;
            }
            cycles.push(cycle);
            next_round.extend(split_after_cut(
                graph,
                &mut tarjan,
                &mut search,
                component,
                (cut_from, cut_to),
                &labels,
                &removed,
            ));
        }
        pending = next_round;
    }
    CycleBreaking { cycles, removed }
}

/// Most crossing edges [`split_after_cut`] checks before it falls back on
/// Tarjan's algorithm.
const CROSSING_CHECKS: usize = 64;

/// The parts of a strongly connected component still cyclic once every edge
/// `u → v` of `cut` is removed.
///
/// How it works: the component stays strongly connected exactly when `u`
/// still reaches `v`, which a bidirectional search answers cheaply. When it
/// does not, the side of the search that ran out first has found a whole
/// strongly connected part: everything `u` reaches (nothing there reaches
/// `v`, and everything reaches `u`), or everything that reaches `v` (which
/// `v` reaches). The rest of the component is strongly connected too when
/// each node where an edge crosses between the two still reaches `v` (for the
/// part of `u`), or is still reached from `u` (for the part of `v`): any path
/// that needed the cut edge can then go through that node instead. Only when
/// a check fails, or there are too many to make, does Tarjan's algorithm run
/// again on the whole component.
fn split_after_cut(
    graph: &ServiceGraph<'_>,
    tarjan: &mut Tarjan,
    search: &mut PathSearch,
    component: Vec<usize>,
    (from, to): (usize, usize),
    labels: &[usize],
    removed: &[bool],
) -> Vec<Vec<usize>> {
    let allowed = |position: usize| traversable(graph, position, labels, removed);
    let is_cyclic = |part: &[usize]| match part {
        [] => false,
        [node] => graph.edges_between(*node, *node).any(allowed),
        _ => true,
    };
    if from == to {
        return if is_cyclic(&component) {
            vec![component]
        } else {
            Vec::new()
        };
    }
    let (part, part_of_source) = match search.reach(graph, from, to, allowed) {
        Reach::Connected => return vec![component],
        Reach::FromSource(part) => (part, true),
        Reach::ToTarget(part) => (part, false),
    };
    let in_part = |node: usize| part.binary_search(&node).is_ok();

    // The nodes of the rest at the end of an edge crossing into or out of the part.
    let mut crossings: Vec<usize> = Vec::new();
    for &node in &part {
        let adjacent = if part_of_source {
            graph.incoming(node)
        } else {
            graph.outgoing(node)
        };
        for &position in adjacent {
            let edge = graph.edge(position);
            let other = if part_of_source { edge.from } else { edge.to };
            if allowed(position) && !in_part(other) {
                crossings.push(other);
            }
        }
    }
    crossings.sort_unstable();
    crossings.dedup();
    let rest_is_connected = crossings.len() <= CROSSING_CHECKS
        && crossings.iter().all(|&crossing| {
            let (source, target) = if part_of_source {
                (crossing, to)
            } else {
                (from, crossing)
            };
            source == target || search.reach(graph, source, target, allowed) == Reach::Connected
        });
    if !rest_is_connected {
        return tarjan.components(graph, &component, labels, removed);
    }
    let rest: Vec<usize> = component
        .into_iter()
        .filter(|&node| !in_part(node))
        .collect();
    let mut parts: Vec<Vec<usize>> = [part, rest]
        .into_iter()
        .filter(|part| is_cyclic(part))
        .collect();
    parts.sort_by_key(|part| part.first().copied());
    parts
}

fn traversable(
    graph: &ServiceGraph<'_>,
    position: usize,
    labels: &[usize],
    removed: &[bool],
) -> bool {
    let edge = graph.edge(position);
    !removed[position] && labels[edge.from] != OUTSIDE && labels[edge.from] == labels[edge.to]
}

/// Builds the reported cycle for a node path, and picks its cut.
fn describe_cycle(
    graph: &ServiceGraph<'_>,
    path: &[usize],
    component: &[usize],
    removed: &[bool],
) -> (Cycle, usize, usize) {
    let mut hops = Vec::with_capacity(path.len());
    let mut weakest: Option<(usize, usize, usize)> = None;
    for (step, &from) in path.iter().enumerate() {
        let to = path[(step + 1) % path.len()];
        let hop = merged_hop(graph, from, to, removed);
        let is_weaker = match weakest {
            None => true,
            Some((index, _, _)) => cut_key(&hop) < cut_key(&hops[index]),
        };
        hops.push(hop);
        if is_weaker {
            weakest = Some((step, from, to));
        }
    }
    let (cut_step, cut_from, cut_to) = weakest.unwrap_or((0, path[0], path[0]));
    let cut = Cut {
        from: hops[cut_step].from.clone(),
        to: hops[cut_step].to.clone(),
    };
    let severity = if hops.iter().all(|hop| hop.kind == EdgeKind::Soft) {
        Severity::Warning
    } else {
        Severity::Error
    };
    let cycle = Cycle {
        path: path.iter().map(|&node| graph.id(node).clone()).collect(),
        hops,
        cut,
        severity,
        component: component
            .iter()
            .map(|&node| graph.id(node).clone())
            .collect(),
    };
    (cycle, cut_from, cut_to)
}

/// Orders hops from the best to the worst to cut: weakest kind, inferred
/// before explicit, weakest evidence, then by ids.
fn cut_key(hop: &Hop) -> (EdgeKind, bool, u8, &ServiceId, &ServiceId) {
    (hop.kind, hop.explicit, hop.evidence(), &hop.from, &hop.to)
}

fn merged_hop(graph: &ServiceGraph<'_>, from: usize, to: usize, removed: &[bool]) -> Hop {
    let mut kind = EdgeKind::Soft;
    let mut explicit = false;
    let mut provenance = Vec::new();
    for position in graph
        .edges_between(from, to)
        .filter(|&position| !removed[position])
    {
        let edge = graph.edge(position).edge;
        kind = kind.max(edge.kind);
        explicit |= edge.explicit;
        provenance.extend(edge.provenance.iter().cloned());
    }
    provenance.sort();
    provenance.dedup();
    Hop {
        from: graph.id(from).clone(),
        to: graph.id(to).clone(),
        kind,
        provenance,
        explicit,
    }
}

/// Tarjan's strongly connected components, iterative, with buffers reused
/// between runs.
///
/// How it works: an explicit call stack of `(node, next outgoing edge)` frames
/// replaces recursion. A frame advances one edge at a time: an unvisited
/// target gets a discovery number and a frame of its own; a target still on
/// the component stack lowers the frame's low-link. A finished frame passes
/// its low-link to its parent, and when its low-link equals its own discovery
/// number it is the root of a component, which is popped off the component stack.
#[derive(Debug)]
struct Tarjan {
    discovery: Vec<usize>,
    low_link: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    calls: Vec<(usize, usize)>,
}

impl Tarjan {
    fn new(node_count: usize) -> Self {
        Tarjan {
            discovery: vec![UNVISITED; node_count],
            low_link: vec![0; node_count],
            on_stack: vec![false; node_count],
            stack: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// The components with a cycle among `members`, which must share one
    /// label; each sorted. Leaves the buffers clean for the next run.
    fn components(
        &mut self,
        graph: &ServiceGraph<'_>,
        members: &[usize],
        labels: &[usize],
        removed: &[bool],
    ) -> Vec<Vec<usize>> {
        let mut found = Vec::new();
        let mut counter = 0;
        for &root in members {
            if self.discovery[root] != UNVISITED {
                continue;
            }
            self.enter(root, &mut counter);
            while let Some(&(node, cursor)) = self.calls.last() {
                let outgoing = graph.outgoing(node);
                if let Some(&position) = outgoing.get(cursor) {
                    if let Some(frame) = self.calls.last_mut() {
                        frame.1 += 1;
                    }
                    if !traversable(graph, position, labels, removed) {
                        continue;
                    }
                    let to = graph.edge(position).to;
                    if self.discovery[to] == UNVISITED {
                        self.enter(to, &mut counter);
                    } else if self.on_stack[to] {
                        self.low_link[node] = self.low_link[node].min(self.discovery[to]);
                    }
                    continue;
                }
                self.calls.pop();
                if let Some(&(parent, _)) = self.calls.last() {
                    self.low_link[parent] = self.low_link[parent].min(self.low_link[node]);
                }
                if self.low_link[node] == self.discovery[node] {
                    let mut component = Vec::new();
                    while let Some(member) = self.stack.pop() {
                        self.on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    let self_loop = || {
                        graph
                            .edges_between(node, node)
                            .any(|position| traversable(graph, position, labels, removed))
                    };
                    if component.len() > 1 || self_loop() {
                        component.sort_unstable();
                        found.push(component);
                    }
                }
            }
        }
        for &node in members {
            self.discovery[node] = UNVISITED;
        }
        found
    }

    fn enter(&mut self, node: usize, counter: &mut usize) {
        self.discovery[node] = *counter;
        self.low_link[node] = *counter;
        *counter += 1;
        self.on_stack[node] = true;
        self.stack.push(node);
        self.calls.push((node, 0));
    }
}

/// The cycle reported for a component: the shortest through the member with
/// the shortest cycle (smallest id on ties) when the component is small, else
/// the shortest through its smallest id.
fn shortest_cycle_in(
    search: &mut PathSearch,
    graph: &ServiceGraph<'_>,
    component: &[usize],
    labels: &[usize],
    removed: &[bool],
) -> Option<Vec<usize>> {
    let allowed = |position: usize| traversable(graph, position, labels, removed);
    if component.len() > SMALL_COMPONENT {
        let &start = component.first()?;
        return search.path(graph, start, start, Goal::Shortest, allowed);
    }
    let mut best: Option<Vec<usize>> = None;
    for &start in component {
        let Some(path) = search.path(graph, start, start, Goal::Shortest, allowed) else {
            continue;
        };
        if best.as_ref().is_none_or(|best| path.len() < best.len()) {
            let shortest_possible = path.len() == 1;
            best = Some(path);
            if shortest_possible {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use weft_model::{EdgeKind::*, Model, Rule};

    use super::*;
    use crate::graph::tests::{edge_with, id, model};

    fn ids(names: &[&str]) -> Vec<ServiceId> {
        names.iter().map(|name| id(name)).collect()
    }

    fn cycles_of(model: &Model) -> (Vec<Cycle>, Vec<Cut>) {
        break_cycles(&ServiceGraph::new(model))
    }

    #[test]
    fn acyclic_graph_has_no_cycles() {
        let model = model(
            &["a", "b", "c"],
            &[("a", "b", Required), ("b", "c", Required), ("a", "c", Soft)],
        );
        let (cycles, cuts) = cycles_of(&model);
        assert!(cycles.is_empty());
        assert!(cuts.is_empty());
        assert!(strongly_connected_components(&ServiceGraph::new(&model)).is_empty());
    }

    #[test]
    fn self_loop_is_a_cycle_of_one() {
        let model = model(&["a", "b"], &[("a", "a", Optional), ("b", "a", Required)]);
        let (cycles, cuts) = cycles_of(&model);
        assert_eq!(cycles.len(), 1);
        let cycle = &cycles[0];
        assert_eq!(cycle.path, ids(&["a"]));
        assert_eq!(cycle.hops.len(), 1);
        assert_eq!(
            cycle.cut,
            Cut {
                from: id("a"),
                to: id("a")
            }
        );
        assert_eq!(cycle.severity, Severity::Error);
        assert_eq!(cycle.component, ids(&["a"]));
        assert_eq!(cuts.len(), 1);
        assert_eq!(cuts[0], cycle.cut);
    }

    #[test]
    fn cuts_the_weakest_hop_and_reports_the_path() {
        let model = model(
            &["api", "db", "auth"],
            &[
                ("api", "auth", Required),
                ("auth", "db", Required),
                ("db", "api", Soft),
            ],
        );
        let (cycles, _) = cycles_of(&model);
        assert_eq!(cycles.len(), 1);
        let cycle = &cycles[0];
        assert_eq!(cycle.path, ids(&["api", "auth", "db"]));
        let hops: Vec<(&str, &str)> = cycle
            .hops
            .iter()
            .map(|hop| (hop.from.as_str(), hop.to.as_str()))
            .collect();
        assert_eq!(
            hops,
            [
                ("repo/api", "repo/auth"),
                ("repo/auth", "repo/db"),
                ("repo/db", "repo/api")
            ]
        );
        assert_eq!(
            cycle.cut,
            Cut {
                from: id("db"),
                to: id("api")
            }
        );
        assert_eq!(cycle.severity, Severity::Error);
        assert_eq!(cycle.component, ids(&["api", "auth", "db"]));
        assert_eq!(cycle.hops[0].provenance.len(), 1);
    }

    #[test]
    fn all_soft_cycle_is_a_warning() {
        let model = model(&["a", "b"], &[("a", "b", Soft), ("b", "a", Soft)]);
        let (cycles, _) = cycles_of(&model);
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].severity, Severity::Warning);
    }

    #[test]
    fn ties_on_kind_fall_to_explicitness_then_evidence() {
        let mut model = model(&["a", "b", "c"], &[]);
        let mut explicit = edge_with("a", "b", Required, Rule::ConfigReference);
        explicit.explicit = true;
        model.edges = vec![
            explicit,
            edge_with("b", "c", Required, Rule::WeftYaml),
            edge_with("c", "a", Required, Rule::NginxProxyPass),
        ];
        let (cycles, _) = cycles_of(&model);
        assert_eq!(
            cycles[0].cut,
            Cut {
                from: id("c"),
                to: id("a")
            }
        );

        model.edges[2] = edge_with("c", "a", Required, Rule::WeftYaml);
        let (cycles, _) = cycles_of(&model);
        assert_eq!(
            cycles[0].cut,
            Cut {
                from: id("b"),
                to: id("c")
            }
        );
    }

    #[test]
    fn reports_the_shortest_cycle_of_a_small_component() {
        // a → b → c → d → a, plus the shortcut c ⇄ d.
        let model = model(
            &["a", "b", "c", "d"],
            &[
                ("a", "b", Required),
                ("b", "c", Required),
                ("c", "d", Required),
                ("d", "a", Required),
                ("d", "c", Soft),
            ],
        );
        let (cycles, cuts) = cycles_of(&model);
        assert_eq!(cycles[0].path, ids(&["c", "d"]));
        assert_eq!(
            cycles[0].cut,
            Cut {
                from: id("d"),
                to: id("c")
            }
        );
        assert_eq!(cycles[0].component, ids(&["a", "b", "c", "d"]));
        // The next round finds the long cycle, now in a smaller component.
        assert_eq!(cycles.len(), 2);
        assert_eq!(cycles[1].path, ids(&["a", "b", "c", "d"]));
        assert_eq!(cuts.len(), 2);
    }

    #[test]
    fn parallel_edges_merge_into_one_hop_and_one_cut() {
        let mut model = model(
            &["a", "b"],
            &[("a", "b", Soft), ("a", "b", Required), ("b", "a", Optional)],
        );
        model.edges[0].provenance[0].line = 7;
        let (cycles, _) = cycles_of(&model);
        assert_eq!(cycles.len(), 1);
        let hop = &cycles[0].hops[0];
        assert_eq!(hop.kind, Required);
        assert_eq!(hop.provenance.len(), 2);
        assert_eq!(
            cycles[0].cut,
            Cut {
                from: id("b"),
                to: id("a")
            }
        );
    }

    #[test]
    fn independent_components_are_reported_in_id_order() {
        let model = model(
            &["x", "y", "a", "b"],
            &[
                ("x", "y", Required),
                ("y", "x", Required),
                ("b", "a", Required),
                ("a", "b", Optional),
            ],
        );
        let graph = ServiceGraph::new(&model);
        let (cycles, _) = break_cycles(&graph);
        let components: Vec<Vec<ServiceId>> =
            cycles.iter().map(|cycle| cycle.component.clone()).collect();
        assert_eq!(components, [ids(&["a", "b"]), ids(&["x", "y"])]);
        assert_eq!(strongly_connected_components(&graph), components);
    }

    #[test]
    fn long_chain_does_not_recurse() {
        let names: Vec<String> = (0..50_000).map(|number| format!("s{number:05}")).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut edges: Vec<(&str, &str, EdgeKind)> = name_refs
            .windows(2)
            .map(|pair| (pair[0], pair[1], Required))
            .collect();
        edges.push((name_refs[names.len() - 1], name_refs[0], Soft));
        let model = model(&name_refs, &edges);
        let (cycles, _) = cycles_of(&model);
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].path.len(), 50_000);
        assert_eq!(cycles[0].cut.to, id("s00000"));
    }
}
