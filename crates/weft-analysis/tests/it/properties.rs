//! Property tests: the analyses agree with simple independent algorithms on
//! random graphs with random edge kinds, cycles and self-loops.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;

use proptest::prelude::*;
use weft_analysis::{
    Impact, PlanSettings, ServiceGraph, break_cycles, explain, plan, repository_edges,
};
use weft_model::{EdgeKind, Model, Severity};

use crate::support::{
    has_topological_order, kind, longest_chain, model, number, reachable, service_id,
    shortest_cycle_length,
};

/// A node count and `(from, to, kind code)` edges among those nodes.
fn random_graph() -> impl Strategy<Value = (usize, Vec<(usize, usize, u8)>)> {
    (1_usize..=30).prop_flat_map(|node_count| {
        let edge = (0..node_count, 0..node_count, 0_u8..=255);
        (
            Just(node_count),
            prop::collection::vec(edge, 0..=node_count * 3),
        )
    })
}

fn pairs(edges: &[(usize, usize, u8)]) -> Vec<(usize, usize)> {
    edges.iter().map(|&(from, to, _)| (from, to)).collect()
}

fn without(edges: &[(usize, usize)], cuts: &BTreeSet<(usize, usize)>) -> Vec<(usize, usize)> {
    edges
        .iter()
        .copied()
        .filter(|pair| !cuts.contains(pair))
        .collect()
}

fn all_nodes(node_count: usize) -> BTreeSet<usize> {
    (0..node_count).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_cycle_is_reported_exactly_when_no_topological_order_exists(
        (node_count, edges) in random_graph()
    ) {
        let model = model(node_count, &edges);
        let (cycles, cuts) = break_cycles(&ServiceGraph::new(&model));
        let acyclic = has_topological_order(&all_nodes(node_count), &pairs(&edges));
        prop_assert_eq!(cycles.is_empty(), acyclic);
        prop_assert_eq!(cycles.len(), cuts.len());

        let cut_pairs: BTreeSet<(usize, usize)> =
            cuts.iter().map(|cut| (number(&cut.from), number(&cut.to))).collect();
        prop_assert_eq!(cut_pairs.len(), cuts.len(), "an edge is cut twice");
        prop_assert!(has_topological_order(
            &all_nodes(node_count),
            &without(&pairs(&edges), &cut_pairs)
        ));
    }

    #[test]
    fn reported_cycles_are_real_and_shortest((node_count, edges) in random_graph()) {
        let model = model(node_count, &edges);
        let (cycles, _) = break_cycles(&ServiceGraph::new(&model));
        let all_pairs = pairs(&edges);
        let mut earlier_cuts: BTreeSet<(usize, usize)> = BTreeSet::new();
        for cycle in &cycles {
            let path: Vec<usize> = cycle.path.iter().map(number).collect();
            prop_assert!(!path.is_empty());
            prop_assert_eq!(cycle.hops.len(), path.len());
            let remaining = without(&all_pairs, &earlier_cuts);
            for (step, hop) in cycle.hops.iter().enumerate() {
                let from = path[step];
                let to = path[(step + 1) % path.len()];
                prop_assert_eq!(number(&hop.from), from);
                prop_assert_eq!(number(&hop.to), to);
                prop_assert!(remaining.contains(&(from, to)), "hop {from} → {to} is no edge");
                let strongest = edges
                    .iter()
                    .filter(|&&(edge_from, edge_to, _)| (edge_from, edge_to) == (from, to))
                    .map(|&(_, _, code)| kind(code))
                    .max();
                prop_assert_eq!(Some(hop.kind), strongest);
                prop_assert!(!hop.provenance.is_empty());
            }
            // The path visits each node once.
            let distinct: BTreeSet<usize> = path.iter().copied().collect();
            prop_assert_eq!(distinct.len(), path.len());

            // No shorter cycle through the first node, nor through any member
            // of a small component, in the graph left by earlier cuts.
            let shortest = shortest_cycle_length(node_count, &remaining, path[0]);
            prop_assert_eq!(shortest, Some(path.len()));
            let component: Vec<usize> = cycle.component.iter().map(number).collect();
            prop_assert!(cycle.component.windows(2).all(|pair| pair[0] < pair[1]));
            // The component is the strongly connected component of the first
            // node: what it reaches and what reaches it.
            let reversed: Vec<(usize, usize)> = remaining.iter().map(|&(from, to)| (to, from)).collect();
            let forward = reachable(&[path[0]], &remaining);
            let backward = reachable(&[path[0]], &reversed);
            let expected: BTreeSet<usize> = forward.intersection(&backward).copied().collect();
            let found: BTreeSet<usize> = component.iter().copied().collect();
            prop_assert_eq!(found, expected);
            for node in &path {
                prop_assert!(component.contains(node));
            }
            for &member in &component {
                let length = shortest_cycle_length(node_count, &remaining, member);
                prop_assert!(length.is_some_and(|length| length >= path.len()));
            }

            // The cut is the weakest hop.
            let cut = cycle
                .hops
                .iter()
                .find(|hop| hop.from == cycle.cut.from && hop.to == cycle.cut.to);
            prop_assert!(cut.is_some(), "the cut is not a hop of its cycle");
            if let Some(cut) = cut {
                for hop in &cycle.hops {
                    prop_assert!(
                        (cut.kind, cut.explicit, cut.evidence())
                            <= (hop.kind, hop.explicit, hop.evidence())
                    );
                }
            }
            let all_soft = cycle.hops.iter().all(|hop| hop.kind == EdgeKind::Soft);
            let expected = if all_soft { Severity::Warning } else { Severity::Error };
            prop_assert_eq!(cycle.severity, expected);

            earlier_cuts.insert((number(&cycle.cut.from), number(&cycle.cut.to)));
        }
    }

    #[test]
    fn plans_respect_every_edge_they_keep(
        (node_count, edges) in random_graph(),
        chosen in prop::collection::vec(any::<bool>(), 30),
        include_dependencies in any::<bool>(),
        max_parallel in prop::option::of(1_usize..=5),
    ) {
        let model = model(node_count, &edges);
        let targets: Vec<usize> = (0..node_count).filter(|&node| chosen[node]).collect();
        let settings = PlanSettings {
            targets: targets.iter().map(|&node| service_id(node)).collect(),
            include_dependencies,
            max_parallel: max_parallel.and_then(NonZeroUsize::new),
        };
        let plan = plan(&model, &settings).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let all_pairs = pairs(&edges);

        // The subset: every node, or the targets, or their closure.
        let expected: BTreeSet<usize> = if targets.is_empty() {
            all_nodes(node_count)
        } else if include_dependencies {
            reachable(&targets, &all_pairs)
        } else {
            targets.iter().copied().collect()
        };
        let planned: Vec<usize> = plan.order.iter().map(number).collect();
        let planned_set: BTreeSet<usize> = planned.iter().copied().collect();
        prop_assert_eq!(planned.len(), planned_set.len(), "a service is planned twice");
        prop_assert_eq!(&planned_set, &expected);

        // Phases: numbered from 1, sorted, within max_parallel, flattening to the order.
        let mut phase_of: BTreeMap<usize, usize> = BTreeMap::new();
        for (index, phase) in plan.phases.iter().enumerate() {
            prop_assert_eq!(phase.phase, index + 1);
            prop_assert!(!phase.services.is_empty());
            prop_assert!(phase.services.windows(2).all(|pair| pair[0] < pair[1]));
            if let Some(width) = max_parallel {
                prop_assert!(phase.services.len() <= width);
            }
            for service in &phase.services {
                phase_of.insert(number(service), phase.phase);
            }
        }
        let flattened: Vec<usize> = plan
            .phases
            .iter()
            .flat_map(|phase| phase.services.iter().map(number))
            .collect();
        prop_assert_eq!(&flattened, &planned);

        // Every edge inside the subset that was not cut orders the phases.
        let inside: Vec<(usize, usize)> = all_pairs
            .iter()
            .copied()
            .filter(|(from, to)| expected.contains(from) && expected.contains(to))
            .collect();
        let cut_pairs: BTreeSet<(usize, usize)> = plan
            .cut_edges
            .iter()
            .map(|cut| (number(&cut.from), number(&cut.to)))
            .collect();
        let kept = without(&inside, &cut_pairs);
        for &(from, to) in &kept {
            prop_assert!(phase_of[&to] < phase_of[&from], "{from} → {to} is out of order");
        }
        prop_assert_eq!(plan.cycles.is_empty(), has_topological_order(&expected, &inside));
        prop_assert!(has_topological_order(&expected, &kept));

        // The critical path is a chain of kept edges, and a longest one.
        let chain: Vec<usize> = plan.critical_path.iter().map(number).collect();
        for pair in chain.windows(2) {
            prop_assert!(kept.contains(&(pair[1], pair[0])), "{} → {} is no kept edge", pair[1], pair[0]);
        }
        prop_assert_eq!(chain.len(), longest_chain(&expected, &kept));
        if max_parallel.is_none() {
            prop_assert_eq!(chain.len(), plan.phases.len());
        }
    }

    #[test]
    fn explanations_follow_real_edges((node_count, edges) in random_graph(), start in 0_usize..30) {
        let start = start % node_count;
        let model = model(node_count, &edges);
        let explanation = explain(&model, &service_id(start))
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        let forward = pairs(&edges);
        let backward: Vec<(usize, usize)> = forward.iter().map(|&(from, to)| (to, from)).collect();

        for (links, direction) in [(&explanation.dependencies, &forward), (&explanation.dependents, &backward)] {
            let mut expected = reachable(&[start], direction);
            expected.remove(&start);
            let found: BTreeSet<usize> = links.iter().map(|link| number(&link.service)).collect();
            prop_assert_eq!(found.len(), links.len());
            prop_assert_eq!(&found, &expected);

            for link in links.iter() {
                prop_assert_eq!(link.depth + 1, link.path.len());
                prop_assert_eq!(link.edges.len(), link.depth);
                prop_assert_eq!(number(&link.path[0]), start);
                prop_assert_eq!(link.path.last(), Some(&link.service));
                let weakest = link.edges.iter().map(|edge| edge.kind).min();
                prop_assert_eq!(Some(link.kind), weakest);
                // The strongest kind any chain gives.
                let end = number(&link.service);
                let strongest = [EdgeKind::Required, EdgeKind::Optional, EdgeKind::Soft]
                    .into_iter()
                    .find(|&threshold| {
                        let strong: Vec<(usize, usize)> = edges
                            .iter()
                            .zip(direction.iter())
                            .filter(|((_, _, code), _)| kind(*code) >= threshold)
                            .map(|(_, &pair)| pair)
                            .collect();
                        reachable(&[start], &strong).contains(&end)
                    });
                prop_assert_eq!(Some(link.kind), strongest);
            }
        }
        for link in &explanation.dependents {
            prop_assert_eq!(link.impact, Some(Impact::of(link.kind)));
            for (step, edge) in link.edges.iter().enumerate() {
                prop_assert_eq!(&edge.to, &link.path[step]);
                prop_assert_eq!(&edge.from, &link.path[step + 1]);
            }
        }
        for link in &explanation.dependencies {
            prop_assert_eq!(link.impact, None);
            for (step, edge) in link.edges.iter().enumerate() {
                prop_assert_eq!(&edge.from, &link.path[step]);
                prop_assert_eq!(&edge.to, &link.path[step + 1]);
            }
        }
    }

    #[test]
    fn repository_edges_count_every_crossing((node_count, edges) in random_graph()) {
        let model: Model = model(node_count, &edges);
        let mut expected: BTreeMap<(String, String), (EdgeKind, usize)> = BTreeMap::new();
        for &(from, to, code) in &edges {
            let (from, to) = (format!("r{}", from % 3), format!("r{}", to % 3));
            if from != to {
                let entry = expected.entry((from, to)).or_insert((kind(code), 0));
                entry.0 = entry.0.max(kind(code));
                entry.1 += 1;
            }
        }
        let found: BTreeMap<(String, String), (EdgeKind, usize)> = repository_edges(&model)
            .into_iter()
            .map(|edge| ((edge.from, edge.to), (edge.kind, edge.edges)))
            .collect();
        prop_assert_eq!(found, expected);
    }
}
