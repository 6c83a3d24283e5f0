//! The service graph: the model's services as dense node indices and its
//! edges as adjacency lists, the shared base of every graph analysis.

use foldhash::{HashMap, HashMapExt};

use weft_model::{Edge, Model, Service, ServiceId};

/// A service named to an analysis that the model does not contain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("no service `{service}` in the workspace model")]
    UnknownService { service: ServiceId },
}

/// One edge of the graph: the model's edge and its endpoints as node indices.
#[derive(Debug, Clone, Copy)]
pub struct GraphEdge<'model> {
    pub from: usize,
    pub to: usize,
    pub edge: &'model Edge,
}

/// The services of a [`Model`] and the edges between them.
///
/// Nodes are numbered `0..len()` in the order of their service ids, so node
/// order is id order and every walk over the graph is deterministic. Edges
/// whose endpoints are not services of the model are left out; parallel edges
/// (the same `from` and `to`) are kept, each with its own index. Adjacency
/// lists hold edge indices, sorted by the node at their other end, then by
/// edge index.
#[derive(Debug, Clone)]
pub struct ServiceGraph<'model> {
    services: Vec<&'model Service>,
    index: HashMap<&'model ServiceId, usize>,
    edges: Vec<GraphEdge<'model>>,
    outgoing: Adjacency,
    incoming: Adjacency,
}

/// Each node's list of edge indices, all in one vector: node `n`'s list is
/// `positions[starts[n]..starts[n + 1]]`.
#[derive(Debug, Clone)]
struct Adjacency {
    starts: Vec<usize>,
    positions: Vec<usize>,
}

impl Adjacency {
    /// Lists `positions` (edge indices) under the node `node_of` gives each,
    /// keeping their order within a node.
    fn new(nodes: usize, positions: &[usize], node_of: impl Fn(usize) -> usize) -> Self {
        let mut starts = vec![0; nodes + 1];
        for &position in positions {
            starts[node_of(position) + 1] += 1;
        }
        for node in 0..nodes {
            starts[node + 1] += starts[node];
        }
        let mut next = starts.clone();
        let mut listed = vec![0; positions.len()];
        for &position in positions {
            let node = node_of(position);
            listed[next[node]] = position;
            next[node] += 1;
        }
        Adjacency {
            starts,
            positions: listed,
        }
    }

    fn of(&self, node: usize) -> &[usize] {
        &self.positions[self.starts[node]..self.starts[node + 1]]
    }
}

impl<'model> ServiceGraph<'model> {
    pub fn new(model: &'model Model) -> Self {
        let mut services: Vec<&Service> = model.services.iter().collect();
        // A model's services come sorted by id, each once: then there is
        // nothing to do. Else a stable sort keeps the first of two services
        // that share an id.
        if !services.windows(2).all(|pair| pair[0].id < pair[1].id) {
            services.sort_by(|left, right| left.id.cmp(&right.id));
            services.dedup_by(|later, earlier| later.id == earlier.id);
        }
        let mut index: HashMap<&ServiceId, usize> = HashMap::with_capacity(services.len());
        for (node, service) in services.iter().enumerate() {
            index.insert(&service.id, node);
        }

        // A model's edges come sorted by `from`: look each `from` up once.
        let mut last_from: Option<(&ServiceId, Option<usize>)> = None;
        let mut edges: Vec<GraphEdge<'model>> = Vec::with_capacity(model.edges.len());
        for edge in &model.edges {
            let from = match last_from {
                Some((id, node)) if *id == edge.from => node,
                _ => {
                    let node = index.get(&edge.from).copied();
                    last_from = Some((&edge.from, node));
                    node
                }
            };
            if let (Some(from), Some(&to)) = (from, index.get(&edge.to)) {
                edges.push(GraphEdge { from, to, edge });
            }
        }

        // Each list sorted by the node at its other end, then by edge
        // index, without comparing: edges listed by `from` in edge order,
        // relisted by `to` in that order (so sorted by `from`, then edge),
        // and relisted by `from` in that order again.
        let nodes = services.len();
        let in_order: Vec<usize> = (0..edges.len()).collect();
        let by_from = Adjacency::new(nodes, &in_order, |position| edges[position].from);
        let incoming = Adjacency::new(nodes, &by_from.positions, |position| edges[position].to);
        let outgoing = Adjacency::new(nodes, &incoming.positions, |position| edges[position].from);

        ServiceGraph {
            services,
            index,
            edges,
            outgoing,
            incoming,
        }
    }

    /// The number of services (nodes).
    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The node of a service id.
    pub fn node(&self, id: &ServiceId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The node of a service id, or [`GraphError::UnknownService`].
    pub fn require_node(&self, id: &ServiceId) -> Result<usize, GraphError> {
        self.node(id).ok_or_else(|| GraphError::UnknownService {
            service: id.clone(),
        })
    }

    pub fn service(&self, node: usize) -> &'model Service {
        self.services[node]
    }

    pub fn id(&self, node: usize) -> &'model ServiceId {
        &self.services[node].id
    }

    /// Every edge whose endpoints are both services of the model.
    pub fn edges(&self) -> &[GraphEdge<'model>] {
        &self.edges
    }

    pub fn edge(&self, position: usize) -> &GraphEdge<'model> {
        &self.edges[position]
    }

    /// Indices of the edges leaving `node`: what it depends on.
    pub fn outgoing(&self, node: usize) -> &[usize] {
        self.outgoing.of(node)
    }

    /// Indices of the edges entering `node`: what depends on it.
    pub fn incoming(&self, node: usize) -> &[usize] {
        self.incoming.of(node)
    }

    /// Indices of every edge from `from` to `to` (parallel edges included).
    pub fn edges_between(&self, from: usize, to: usize) -> impl Iterator<Item = usize> + '_ {
        self.outgoing(from)
            .iter()
            .copied()
            .filter(move |&position| self.edges[position].to == to)
    }

    /// `starts` and everything they transitively depend on, in node order.
    pub fn dependency_closure(&self, starts: &[usize]) -> Vec<usize> {
        let mut reached = vec![false; self.len()];
        let mut stack: Vec<usize> = Vec::new();
        for &start in starts {
            if !reached[start] {
                reached[start] = true;
                stack.push(start);
            }
        }
        while let Some(node) = stack.pop() {
            for &position in self.outgoing(node) {
                let to = self.edges[position].to;
                if !reached[to] {
                    reached[to] = true;
                    stack.push(to);
                }
            }
        }
        (0..self.len()).filter(|&node| reached[node]).collect()
    }
}

/// Whether a [`PathSearch`] wants a shortest path or any path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Goal {
    Shortest,
    Any,
}

/// Bidirectional breadth-first search over the edges a filter allows, with
/// buffers reused between searches.
///
/// How it works: one search walks forward from the source, the other
/// backward from the target, each a whole level at a time, always growing
/// the smaller frontier. A node discovered by both sides joins two halves of
/// a path. After `F` forward and `B` backward levels every path of at most
/// `F + B` edges has such a node, so a path found of length at most
/// `F + B + 1` is a shortest one. When one side runs out of nodes, it has
/// seen everything it can reach and the best path found is final. A cycle
/// through a node is a path from the node to itself with at least one edge:
/// both sides start there, and the start is not counted as a meeting.
#[derive(Debug)]
pub(crate) struct PathSearch {
    forward: SearchSide,
    backward: SearchSide,
}

#[derive(Debug)]
struct SearchSide {
    distance: Vec<usize>,
    parent: Vec<usize>,
    touched: Vec<usize>,
    frontier: Vec<usize>,
    next: Vec<usize>,
    levels: usize,
}

const UNREACHED: usize = usize::MAX;

impl SearchSide {
    fn new(node_count: usize) -> Self {
        SearchSide {
            distance: vec![UNREACHED; node_count],
            parent: vec![UNREACHED; node_count],
            touched: Vec::new(),
            frontier: Vec::new(),
            next: Vec::new(),
            levels: 0,
        }
    }

    fn start(&mut self, node: usize) {
        self.distance[node] = 0;
        self.parent[node] = node;
        self.touched.push(node);
        self.frontier.push(node);
    }

    fn reset(&mut self) {
        for node in self.touched.drain(..) {
            self.distance[node] = UNREACHED;
            self.parent[node] = UNREACHED;
        }
        self.frontier.clear();
        self.next.clear();
        self.levels = 0;
    }

    /// Discovers the next level; records in `best` the shortest join with
    /// `other` as `(length, meeting node)`.
    fn expand(
        &mut self,
        other: &SearchSide,
        graph: &ServiceGraph<'_>,
        forward: bool,
        goal: Goal,
        allowed: &impl Fn(usize) -> bool,
        best: &mut Option<(usize, usize)>,
    ) {
        let frontier = std::mem::take(&mut self.frontier);
        'level: for &node in &frontier {
            let adjacent = if forward {
                graph.outgoing(node)
            } else {
                graph.incoming(node)
            };
            for &position in adjacent {
                if !allowed(position) {
                    continue;
                }
                let edge = graph.edge(position);
                let neighbour = if forward { edge.to } else { edge.from };
                if self.distance[neighbour] != UNREACHED {
                    continue;
                }
                self.distance[neighbour] = self.distance[node] + 1;
                self.parent[neighbour] = node;
                self.touched.push(neighbour);
                self.next.push(neighbour);
                if other.distance[neighbour] != UNREACHED {
                    let length = self.distance[neighbour] + other.distance[neighbour];
                    if best.is_none_or(|(shortest, _)| length < shortest) {
                        *best = Some((length, neighbour));
                    }
                    if goal == Goal::Any {
                        break 'level;
                    }
                }
            }
        }
        self.frontier = std::mem::replace(&mut self.next, frontier);
        self.next.clear();
        self.levels += 1;
    }
}

impl PathSearch {
    pub(crate) fn new(node_count: usize) -> Self {
        PathSearch {
            forward: SearchSide::new(node_count),
            backward: SearchSide::new(node_count),
        }
    }

    /// The nodes of a path from `source` to `target` along allowed edges,
    /// both included; when they are the same node, a cycle through it, the
    /// node not repeated at the end.
    pub(crate) fn path(
        &mut self,
        graph: &ServiceGraph<'_>,
        source: usize,
        target: usize,
        goal: Goal,
        allowed: impl Fn(usize) -> bool,
    ) -> Option<Vec<usize>> {
        let cycle = source == target;
        if cycle && graph.edges_between(source, source).any(&allowed) {
            return Some(vec![source]);
        }
        let best = self.run(graph, source, target, goal, &allowed);
        let path = best.map(|(_, meeting)| {
            let mut path = vec![meeting];
            let mut node = meeting;
            while node != source {
                node = self.forward.parent[node];
                path.push(node);
            }
            path.reverse();
            let mut node = meeting;
            while node != target {
                node = self.backward.parent[node];
                path.push(node);
            }
            if cycle {
                path.pop();
            }
            path
        });
        self.forward.reset();
        self.backward.reset();
        path
    }

    /// Whether `source` reaches `target` (two different nodes); when not,
    /// the side that ran out first and every node it reached, sorted.
    pub(crate) fn reach(
        &mut self,
        graph: &ServiceGraph<'_>,
        source: usize,
        target: usize,
        allowed: impl Fn(usize) -> bool,
    ) -> Reach {
        let reach = if self
            .run(graph, source, target, Goal::Any, &allowed)
            .is_some()
        {
            Reach::Connected
        } else if self.forward.frontier.is_empty() {
            let mut reached = self.forward.touched.clone();
            reached.sort_unstable();
            Reach::FromSource(reached)
        } else {
            let mut reached = self.backward.touched.clone();
            reached.sort_unstable();
            Reach::ToTarget(reached)
        };
        self.forward.reset();
        self.backward.reset();
        reach
    }

    /// Runs both sides until they meet for good or one runs out; returns
    /// the best `(length, meeting node)` and leaves the sides for the caller
    /// to read and reset.
    fn run(
        &mut self,
        graph: &ServiceGraph<'_>,
        source: usize,
        target: usize,
        goal: Goal,
        allowed: &impl Fn(usize) -> bool,
    ) -> Option<(usize, usize)> {
        self.forward.start(source);
        self.backward.start(target);
        let mut best: Option<(usize, usize)> = None;
        if source == target {
            // Both sides take a first step, so that a meeting needs an edge.
            self.forward
                .expand(&self.backward, graph, true, goal, allowed, &mut best);
            self.backward
                .expand(&self.forward, graph, false, goal, allowed, &mut best);
        }
        loop {
            if let Some((length, _)) = best
                && (goal == Goal::Any || length <= self.forward.levels + self.backward.levels + 1)
            {
                break;
            }
            if self.forward.frontier.is_empty() || self.backward.frontier.is_empty() {
                break;
            }
            if self.forward.frontier.len() <= self.backward.frontier.len() {
                self.forward
                    .expand(&self.backward, graph, true, goal, allowed, &mut best);
            } else {
                self.backward
                    .expand(&self.forward, graph, false, goal, allowed, &mut best);
            }
        }
        best
    }
}

/// The answer of [`PathSearch::reach`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    Connected,
    /// Everything the source reaches (the target is not among them).
    FromSource(Vec<usize>),
    /// Everything that reaches the target (the source is not among them).
    ToTarget(Vec<usize>),
}

#[cfg(test)]
pub(crate) mod tests {
    use weft_model::{EdgeKind, Provenance, Rule, Span};

    use super::*;

    pub(crate) fn service(id: &str) -> Service {
        let (repository, name) = id.split_once('/').unwrap_or(("repo", id));
        Service {
            id: ServiceId::new(repository, name),
            repository: repository.to_string(),
            name: name.to_string(),
            sources: vec!["compose"],
            image: None,
            command: None,
            aliases: Vec::new(),
            provenance: Vec::new(),
        }
    }

    pub(crate) fn id(text: &str) -> ServiceId {
        let (repository, name) = text.split_once('/').unwrap_or(("repo", text));
        ServiceId::new(repository, name)
    }

    pub(crate) fn edge_with(from: &str, to: &str, kind: EdgeKind, rule: Rule) -> Edge {
        Edge {
            from: id(from),
            to: id(to),
            kind,
            provenance: vec![Provenance::new("f.yml", Span::default(), rule)],
            explicit: false,
        }
    }

    pub(crate) fn edge(from: &str, to: &str, kind: EdgeKind) -> Edge {
        edge_with(from, to, kind, Rule::ComposeDependsOn)
    }

    /// A model of the named services (plain names live in repository `repo`)
    /// and `(from, to, kind)` edges.
    pub(crate) fn model(services: &[&str], edges: &[(&str, &str, EdgeKind)]) -> Model {
        Model {
            services: services.iter().map(|name| service(name)).collect(),
            edges: edges
                .iter()
                .map(|&(from, to, kind)| edge(from, to, kind))
                .collect(),
            ..Model::default()
        }
    }

    #[test]
    fn nodes_follow_id_order_and_dangling_edges_are_ignored() {
        let model = model(
            &["c", "a", "b", "a"],
            &[
                ("c", "a", EdgeKind::Required),
                ("a", "missing", EdgeKind::Required),
                ("c", "b", EdgeKind::Soft),
            ],
        );
        let graph = ServiceGraph::new(&model);
        assert_eq!(graph.len(), 3);
        let ids: Vec<&str> = (0..graph.len())
            .map(|node| graph.id(node).as_str())
            .collect();
        assert_eq!(ids, ["repo/a", "repo/b", "repo/c"]);
        assert_eq!(graph.edges().len(), 2);
        let c = graph.node(&id("c")).expect("c is a service");
        let targets: Vec<usize> = graph
            .outgoing(c)
            .iter()
            .map(|&position| graph.edge(position).to)
            .collect();
        assert_eq!(targets, [0, 1]);
        assert_eq!(graph.incoming(0).len(), 1);
        assert!(graph.require_node(&id("missing")).is_err());
    }

    #[test]
    fn path_search_finds_shortest_paths_cycles_and_reach() {
        // a → b → c → d → a, plus a → c; e → a.
        let model = model(
            &["a", "b", "c", "d", "e"],
            &[
                ("a", "b", EdgeKind::Required),
                ("b", "c", EdgeKind::Required),
                ("c", "d", EdgeKind::Required),
                ("d", "a", EdgeKind::Required),
                ("a", "c", EdgeKind::Soft),
                ("e", "a", EdgeKind::Soft),
            ],
        );
        let graph = ServiceGraph::new(&model);
        let mut search = PathSearch::new(graph.len());
        let everything = |_: usize| true;
        assert_eq!(
            search.path(&graph, 0, 3, Goal::Shortest, everything),
            Some(vec![0, 2, 3])
        );
        assert_eq!(
            search.path(&graph, 0, 0, Goal::Shortest, everything),
            Some(vec![0, 2, 3])
        );
        assert_eq!(
            search.path(&graph, 1, 1, Goal::Shortest, everything),
            Some(vec![1, 2, 3, 0])
        );
        assert_eq!(search.path(&graph, 4, 4, Goal::Shortest, everything), None);
        assert_eq!(search.path(&graph, 0, 4, Goal::Any, everything), None);
        assert_eq!(
            search.reach(&graph, 0, 4, everything),
            Reach::ToTarget(vec![4])
        );
        assert_eq!(search.reach(&graph, 4, 1, everything), Reach::Connected);
        let no_soft = |position: usize| graph.edge(position).edge.kind != EdgeKind::Soft;
        assert_eq!(
            search.path(&graph, 0, 3, Goal::Shortest, no_soft),
            Some(vec![0, 1, 2, 3])
        );
        // Without d → a, nothing reaches a but e.
        let no_return =
            |position: usize| graph.edge(position).to != 0 || graph.edge(position).from == 4;
        assert_eq!(
            search.reach(&graph, 3, 0, no_return),
            Reach::FromSource(vec![3])
        );
    }

    #[test]
    fn closure_follows_every_kind() {
        let model = model(
            &["a", "b", "c", "d"],
            &[
                ("a", "b", EdgeKind::Soft),
                ("b", "c", EdgeKind::Optional),
                ("d", "a", EdgeKind::Required),
            ],
        );
        let graph = ServiceGraph::new(&model);
        assert_eq!(graph.dependency_closure(&[0]), [0, 1, 2]);
        assert_eq!(graph.dependency_closure(&[3]), [0, 1, 2, 3]);
        assert_eq!(graph.edges_between(0, 1).count(), 1);
        assert_eq!(graph.edges_between(1, 0).count(), 0);
    }
}
