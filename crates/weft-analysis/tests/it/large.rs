//! Large graphs: the analyses run on 10,000 services without recursing or
//! crawling. No timing asserts; a regression shows as a slow or crashing test.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;

use weft_analysis::{PlanSettings, ServiceGraph, break_cycles, explain, plan, repository_edges};

use crate::support::{model, number, service_id};

/// A small deterministic pseudo-random generator (64-bit linear congruential).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let bound = u64::try_from(bound).unwrap_or(u64::MAX);
        usize::try_from((self.0 >> 33) % bound).unwrap_or(0)
    }
}

const NODES: usize = 10_000;

#[test]
fn random_dag_with_a_few_cycles() {
    let mut random = Lcg(7);
    let mut edges: Vec<(usize, usize, u8)> = Vec::new();
    while edges.len() < 30_000 {
        let from = 1 + random.below(NODES - 1);
        let to = random.below(from);
        edges.push((from, to, u8::try_from(random.below(256)).unwrap_or(0)));
    }
    // A few edges pointing up close cycles; one is a self-loop.
    for _ in 0..5 {
        let to = 1 + random.below(NODES - 1);
        let from = random.below(to);
        edges.push((from, to, 1));
    }
    edges.push((42, 42, 2));
    let model = model(NODES, &edges);

    let graph = ServiceGraph::new(&model);
    let (cycles, cuts) = break_cycles(&graph);
    assert!(!cycles.is_empty());
    assert_eq!(cycles.len(), cuts.len());

    let full = plan(&model, &PlanSettings::default()).expect("plan");
    assert_eq!(full.order.len(), NODES);
    assert_eq!(full.cut_edges, cuts);
    let cut_pairs: BTreeSet<(usize, usize)> = cuts
        .iter()
        .map(|cut| (number(&cut.from), number(&cut.to)))
        .collect();
    let mut phase_of = vec![0; NODES];
    for phase in &full.phases {
        for service in &phase.services {
            phase_of[number(service)] = phase.phase;
        }
    }
    for &(from, to, _) in &edges {
        if !cut_pairs.contains(&(from, to)) {
            assert!(
                phase_of[to] < phase_of[from],
                "{from} → {to} is out of order"
            );
        }
    }
    assert_eq!(full.critical_path.len(), full.phases.len());

    let narrow = plan(
        &model,
        &PlanSettings {
            targets: vec![service_id(NODES - 1), service_id(NODES / 2)],
            include_dependencies: true,
            max_parallel: NonZeroUsize::new(8),
        },
    )
    .expect("plan");
    assert!(narrow.phases.iter().all(|phase| phase.services.len() <= 8));

    let explanation = explain(&model, &service_id(NODES / 2)).expect("explain");
    assert!(!explanation.dependencies.is_empty() || !explanation.dependents.is_empty());
    assert!(!repository_edges(&model).is_empty());
}

/// A random graph, not a DAG: most services fall into one strongly connected
/// component that takes thousands of cuts to break. Smaller than the DAG so
/// the suite stays quick in debug builds.
#[test]
fn random_graph_with_one_giant_component_is_made_acyclic() {
    const GIANT: usize = 4_000;
    let mut random = Lcg(11);
    let edges: Vec<(usize, usize, u8)> = (0..3 * GIANT)
        .map(|_| {
            let from = random.below(GIANT);
            let to = random.below(GIANT);
            (from, to, u8::try_from(random.below(256)).unwrap_or(0))
        })
        .collect();
    let model = model(GIANT, &edges);
    let full = plan(&model, &PlanSettings::default()).expect("plan");
    assert_eq!(full.order.len(), GIANT);
    assert!(
        full.cycles
            .iter()
            .any(|cycle| cycle.component.len() > 1_000)
    );
}
