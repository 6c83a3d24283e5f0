//! Builds models from node numbers and edge lists, and answers graph
//! questions with deliberately simple algorithms to check the analyses against.

use std::collections::{BTreeSet, VecDeque};

use weft_model::{Edge, EdgeKind, Model, Provenance, Rule, Service, ServiceId, Span};

/// Node `number`'s id: `r{number % 3}/s{number:05}`.
pub(crate) fn service_id(number: usize) -> ServiceId {
    ServiceId::new(&repository(number), &format!("s{number:05}"))
}

fn repository(number: usize) -> String {
    format!("r{}", number % 3)
}

/// The node number of an id made by [`service_id`].
pub(crate) fn number(id: &ServiceId) -> usize {
    id.as_str()
        .rsplit_once("/s")
        .and_then(|(_, digits)| digits.parse().ok())
        .unwrap_or(usize::MAX)
}

pub(crate) fn kind(code: u8) -> EdgeKind {
    match code % 3 {
        0 => EdgeKind::Soft,
        1 => EdgeKind::Optional,
        _ => EdgeKind::Required,
    }
}

/// A rule whose evidence weight varies with `code`, to exercise cut choices.
fn rule(code: u8) -> Rule {
    match code % 4 {
        0 => Rule::ComposeDependsOn,
        1 => Rule::ConfigReference,
        2 => Rule::KubernetesSecretKeyRef,
        _ => Rule::TraefikRouter,
    }
}

/// A model of `node_count` services and `(from, to, kind code)` edges.
pub(crate) fn model(node_count: usize, edges: &[(usize, usize, u8)]) -> Model {
    Model {
        services: (0..node_count)
            .map(|number| Service {
                id: service_id(number),
                repository: repository(number),
                name: format!("s{number:05}"),
                sources: vec!["compose"],
                image: None,
                command: None,
                aliases: Vec::new(),
                provenance: Vec::new(),
            })
            .collect(),
        edges: edges
            .iter()
            .enumerate()
            .map(|(line, &(from, to, code))| Edge {
                from: service_id(from),
                to: service_id(to),
                kind: kind(code),
                provenance: vec![Provenance::new(
                    "f.yml",
                    Span::default(),
                    rule(code.wrapping_add(u8::try_from(line % 7).unwrap_or(0))),
                )],
                explicit: code % 5 == 0,
            })
            .collect(),
        ..Model::default()
    }
}

/// Whether the edges among `nodes` admit a topological order: peel off nodes
/// with no remaining dependency until none is left, or none can be peeled.
pub(crate) fn has_topological_order(nodes: &BTreeSet<usize>, edges: &[(usize, usize)]) -> bool {
    let mut remaining = nodes.clone();
    loop {
        let free: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&node| {
                !edges
                    .iter()
                    .any(|&(from, to)| from == node && remaining.contains(&to))
            })
            .collect();
        if free.is_empty() {
            return remaining.is_empty();
        }
        for node in free {
            remaining.remove(&node);
        }
    }
}

/// The length of a shortest cycle through `start`, by plain breadth-first search.
pub(crate) fn shortest_cycle_length(
    node_count: usize,
    edges: &[(usize, usize)],
    start: usize,
) -> Option<usize> {
    let mut distance = vec![usize::MAX; node_count];
    distance[start] = 0;
    let mut queue = VecDeque::from([start]);
    let mut best: Option<usize> = None;
    while let Some(node) = queue.pop_front() {
        for &(from, to) in edges {
            if from != node {
                continue;
            }
            if to == start {
                let length = distance[node] + 1;
                best = Some(best.map_or(length, |best| best.min(length)));
            } else if distance[to] == usize::MAX {
                distance[to] = distance[node] + 1;
                queue.push_back(to);
            }
        }
    }
    best
}

/// Everything reachable from `starts` (included) along the edges.
pub(crate) fn reachable(starts: &[usize], edges: &[(usize, usize)]) -> BTreeSet<usize> {
    let mut reached: BTreeSet<usize> = starts.iter().copied().collect();
    let mut stack: Vec<usize> = starts.to_vec();
    while let Some(node) = stack.pop() {
        for &(from, to) in edges {
            if from == node && reached.insert(to) {
                stack.push(to);
            }
        }
    }
    reached
}

/// The number of services on a longest chain of an acyclic edge set, by
/// relaxing every edge once per node.
pub(crate) fn longest_chain(nodes: &BTreeSet<usize>, edges: &[(usize, usize)]) -> usize {
    let mut length = vec![1_usize; nodes.iter().max().map_or(0, |&max| max + 1)];
    for _ in 0..nodes.len() {
        for &(from, to) in edges {
            length[from] = length[from].max(length[to] + 1);
        }
    }
    nodes.iter().map(|&node| length[node]).max().unwrap_or(0)
}
