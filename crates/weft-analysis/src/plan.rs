//! Deployment plans: which services to start, in which phases, and the
//! longest chain of dependencies among them.

use std::collections::VecDeque;
use std::num::NonZeroUsize;

use serde::Serialize;
use weft_model::{Model, ServiceId};

use crate::cycles::{Cut, Cycle, CycleBreaking, break_cycles_among};
use crate::graph::{GraphError, ServiceGraph};

/// What to plan, resolved from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSettings {
    /// The services to deploy; empty means every service.
    pub targets: Vec<ServiceId>,
    /// Also deploy everything the targets transitively depend on (the default);
    /// `false` plans only the targets (`--no-deps`).
    pub include_dependencies: bool,
    /// At most this many services per phase; wider phases are split.
    pub max_parallel: Option<NonZeroUsize>,
}

impl Default for PlanSettings {
    fn default() -> Self {
        PlanSettings {
            targets: Vec::new(),
            include_dependencies: true,
            max_parallel: None,
        }
    }
}

/// Services that can start together, once every earlier phase is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    /// 1-based.
    pub phase: usize,
    /// Sorted.
    pub services: Vec<ServiceId>,
}

/// A deployment plan; its JSON form is a documented contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub phases: Vec<Phase>,
    /// The phases flattened: a valid start order.
    pub order: Vec<ServiceId>,
    /// The cycles among the planned services; the plan ignores their cuts.
    pub cycles: Vec<Cycle>,
    /// The edges the plan ignored to break the cycles, one per cycle.
    pub cut_edges: Vec<Cut>,
    /// A longest chain of dependencies, dependency first.
    pub critical_path: Vec<ServiceId>,
}

impl Plan {
    /// The number of services in the plan.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Plans the deployment of a model's services.
pub fn plan(model: &Model, settings: &PlanSettings) -> Result<Plan, GraphError> {
    plan_graph(&ServiceGraph::new(model), settings)
}

/// Plans the deployment of a graph's services.
///
/// How it works: the planned subset is the targets and, unless
/// `include_dependencies` is off, everything they transitively depend on;
/// only edges inside the subset count. Kahn's algorithm layers the subset
/// by longest path: a service's level is one more than the highest level of
/// its dependencies, so level 1 has no dependencies. Should that leave
/// services without a level, the subset has cycles: they are broken by
/// cutting their weakest edges, and the subset is layered again without
/// them. Each level is a phase, split into consecutive chunks when wider
/// than `max_parallel`.
pub fn plan_graph(graph: &ServiceGraph<'_>, settings: &PlanSettings) -> Result<Plan, GraphError> {
    let members = subset(graph, settings)?;
    let mut in_subset = vec![false; graph.len()];
    for &node in &members {
        in_subset[node] = true;
    }
    let inside = |position: usize| {
        let edge = graph.edge(position);
        in_subset[edge.from] && in_subset[edge.to]
    };
    // Layering finds out whether the subset is acyclic, as nearly every
    // workspace is: only when it is not are cycles sought and cut, and the
    // subset layered again without the cut edges.
    let (mut levels, acyclic) = longest_path_levels(graph, &members, &inside);
    let breaking = if acyclic {
        CycleBreaking::default()
    } else {
        break_cycles_among(graph, &members)
    };
    let active = |position: usize| {
        !breaking.removed.get(position).copied().unwrap_or(false) && inside(position)
    };
    if !acyclic {
        levels = longest_path_levels(graph, &members, &active).0;
    }
    let phases = phases(graph, &members, &levels, settings.max_parallel);
    let order = phases
        .iter()
        .flat_map(|phase| phase.services.iter().cloned())
        .collect();
    let critical_path = critical_path(graph, &members, &levels, &active);
    let cut_edges = breaking
        .cycles
        .iter()
        .map(|cycle| cycle.cut.clone())
        .collect();
    Ok(Plan {
        phases,
        order,
        cycles: breaking.cycles,
        cut_edges,
        critical_path,
    })
}

/// The planned nodes, in node order.
fn subset(graph: &ServiceGraph<'_>, settings: &PlanSettings) -> Result<Vec<usize>, GraphError> {
    if settings.targets.is_empty() {
        return Ok((0..graph.len()).collect());
    }
    let mut targets = settings
        .targets
        .iter()
        .map(|target| graph.require_node(target))
        .collect::<Result<Vec<usize>, GraphError>>()?;
    if settings.include_dependencies {
        return Ok(graph.dependency_closure(&targets));
    }
    targets.sort_unstable();
    targets.dedup();
    Ok(targets)
}

/// Per node, the number of services on the longest dependency chain ending at
/// it (1 for no dependencies); 0 outside `members`. And whether every member
/// got its level, which is whether the `active` edges among them are acyclic.
fn longest_path_levels(
    graph: &ServiceGraph<'_>,
    members: &[usize],
    active: &impl Fn(usize) -> bool,
) -> (Vec<usize>, bool) {
    let mut levels = vec![0; graph.len()];
    let mut waiting_on = vec![0_usize; graph.len()];
    let mut ready = VecDeque::new();
    for &node in members {
        waiting_on[node] = graph
            .outgoing(node)
            .iter()
            .filter(|&&position| active(position))
            .count();
        if waiting_on[node] == 0 {
            levels[node] = 1;
            ready.push_back(node);
        }
    }
    while let Some(node) = ready.pop_front() {
        for &position in graph.incoming(node) {
            if !active(position) {
                continue;
            }
            let dependent = graph.edge(position).from;
            levels[dependent] = levels[dependent].max(levels[node] + 1);
            waiting_on[dependent] -= 1;
            if waiting_on[dependent] == 0 {
                ready.push_back(dependent);
            }
        }
    }
    // A member on or behind a cycle gets no level: the caller cuts the
    // cycles and layers again. After the cuts every member has one; should
    // one not, it goes last rather than missing from the plan.
    let highest = members.iter().map(|&node| levels[node]).max().unwrap_or(0);
    let mut acyclic = true;
    for &node in members {
        if waiting_on[node] > 0 {
            levels[node] = highest + 1;
            acyclic = false;
        }
    }
    (levels, acyclic)
}

fn phases(
    graph: &ServiceGraph<'_>,
    members: &[usize],
    levels: &[usize],
    max_parallel: Option<NonZeroUsize>,
) -> Vec<Phase> {
    let highest = members.iter().map(|&node| levels[node]).max().unwrap_or(0);
    let mut by_level: Vec<Vec<ServiceId>> = vec![Vec::new(); highest];
    // Members are in node order, which is id order: each level comes out sorted.
    for &node in members {
        by_level[levels[node] - 1].push(graph.id(node).clone());
    }
    let width = max_parallel.map_or(usize::MAX, NonZeroUsize::get);
    let mut phases = Vec::new();
    for level in by_level {
        let mut level = level.into_iter().peekable();
        while level.peek().is_some() {
            phases.push(Phase {
                phase: phases.len() + 1,
                services: level.by_ref().take(width).collect(),
            });
        }
    }
    phases
}

/// A longest chain, dependency first: from the highest-level node (smallest id
/// on ties) down through dependencies one level lower (smallest id first).
fn critical_path(
    graph: &ServiceGraph<'_>,
    members: &[usize],
    levels: &[usize],
    active: &impl Fn(usize) -> bool,
) -> Vec<ServiceId> {
    let mut top: Option<usize> = None;
    for &node in members {
        if top.is_none_or(|top| levels[node] > levels[top]) {
            top = Some(node);
        }
    }
    let Some(mut node) = top else {
        return Vec::new();
    };
    let mut chain = vec![node];
    while levels[node] > 1 {
        // Outgoing edges are sorted by target, so the first match has the smallest id.
        let next = graph
            .outgoing(node)
            .iter()
            .filter(|&&position| active(position))
            .map(|&position| graph.edge(position).to)
            .find(|&dependency| levels[dependency] + 1 == levels[node]);
        let Some(next) = next else {
            break;
        };
        chain.push(next);
        node = next;
    }
    chain.reverse();
    chain.iter().map(|&node| graph.id(node).clone()).collect()
}

#[cfg(test)]
mod tests {
    use weft_model::EdgeKind::*;

    use super::*;
    use crate::graph::tests::{id, model};

    fn ids(names: &[&str]) -> Vec<ServiceId> {
        names.iter().map(|name| id(name)).collect()
    }

    fn phase_lists(plan: &Plan) -> Vec<Vec<ServiceId>> {
        plan.phases
            .iter()
            .map(|phase| phase.services.clone())
            .collect()
    }

    fn stack() -> Model {
        // web → api → {db, cache}; worker → db (soft); proxy → web (optional).
        model(
            &["web", "api", "db", "cache", "worker", "proxy"],
            &[
                ("web", "api", Required),
                ("api", "db", Required),
                ("api", "cache", Optional),
                ("worker", "db", Soft),
                ("proxy", "web", Optional),
            ],
        )
    }

    #[test]
    fn phases_layer_by_longest_path() {
        let plan = plan(&stack(), &PlanSettings::default()).expect("plan");
        assert_eq!(
            phase_lists(&plan),
            [
                ids(&["cache", "db"]),
                ids(&["api", "worker"]),
                ids(&["web"]),
                ids(&["proxy"])
            ]
        );
        assert_eq!(plan.phases[3].phase, 4);
        assert_eq!(
            plan.order,
            ids(&["cache", "db", "api", "worker", "web", "proxy"])
        );
        assert_eq!(plan.critical_path, ids(&["cache", "api", "web", "proxy"]));
        assert!(plan.cycles.is_empty());
        assert_eq!(plan.len(), 6);
    }

    #[test]
    fn targets_pull_in_their_dependencies() {
        let settings = PlanSettings {
            targets: vec![id("web")],
            ..PlanSettings::default()
        };
        let plan = plan(&stack(), &settings).expect("plan");
        assert_eq!(
            phase_lists(&plan),
            [ids(&["cache", "db"]), ids(&["api"]), ids(&["web"])]
        );
    }

    #[test]
    fn no_dependencies_plans_only_the_targets() {
        let settings = PlanSettings {
            targets: vec![id("web"), id("db"), id("web")],
            include_dependencies: false,
            max_parallel: None,
        };
        let plan = plan(&stack(), &settings).expect("plan");
        assert_eq!(phase_lists(&plan), [ids(&["db", "web"])]);
        assert_eq!(plan.critical_path, ids(&["db"]));
    }

    #[test]
    fn max_parallel_splits_wide_phases() {
        let settings = PlanSettings {
            max_parallel: NonZeroUsize::new(1),
            ..PlanSettings::default()
        };
        let plan = plan(&stack(), &settings).expect("plan");
        let numbers: Vec<usize> = plan.phases.iter().map(|phase| phase.phase).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
        assert_eq!(
            plan.order,
            ids(&["cache", "db", "api", "worker", "web", "proxy"])
        );
    }

    #[test]
    fn unknown_target_is_an_error() {
        let settings = PlanSettings {
            targets: vec![id("nope")],
            ..PlanSettings::default()
        };
        assert_eq!(
            plan(&stack(), &settings),
            Err(GraphError::UnknownService {
                service: id("nope")
            })
        );
    }

    #[test]
    fn cycles_are_cut_and_reported() {
        let model = model(
            &["a", "b", "c"],
            &[
                ("a", "b", Required),
                ("b", "a", Soft),
                ("c", "c", Required),
                ("c", "a", Required),
            ],
        );
        let plan = plan(&model, &PlanSettings::default()).expect("plan");
        assert_eq!(plan.cycles.len(), 2);
        assert_eq!(
            plan.cut_edges,
            [
                Cut {
                    from: id("b"),
                    to: id("a")
                },
                Cut {
                    from: id("c"),
                    to: id("c")
                }
            ]
        );
        assert_eq!(phase_lists(&plan), [ids(&["b"]), ids(&["a"]), ids(&["c"])]);
    }

    #[test]
    fn only_edges_inside_the_subset_count() {
        // The cycle through `b` is outside the planned subset.
        let model = model(
            &["a", "b", "c"],
            &[("b", "a", Required), ("a", "c", Soft), ("c", "b", Required)],
        );
        let settings = PlanSettings {
            targets: vec![id("a"), id("c")],
            include_dependencies: false,
            max_parallel: None,
        };
        let plan = plan(&model, &settings).expect("plan");
        assert!(plan.cycles.is_empty());
        assert_eq!(phase_lists(&plan), [ids(&["c"]), ids(&["a"])]);
    }

    #[test]
    fn json_shape_is_the_documented_contract() {
        let model = model(&["a", "b"], &[("a", "b", Required), ("b", "a", Soft)]);
        let plan = plan(&model, &PlanSettings::default()).expect("plan");
        let json = serde_json::to_value(&plan).expect("serialize");
        assert_eq!(json["phases"][0]["phase"], 1);
        assert_eq!(json["phases"][0]["services"][0], "repo/b");
        assert_eq!(json["order"], serde_json::json!(["repo/b", "repo/a"]));
        assert_eq!(
            json["cycles"][0]["path"],
            serde_json::json!(["repo/a", "repo/b"])
        );
        assert_eq!(
            json["cycles"][0]["cut"],
            serde_json::json!({"from": "repo/b", "to": "repo/a"})
        );
        assert_eq!(json["cycles"][0]["severity"], "error");
        assert_eq!(json["cycles"][0]["hops"][1]["kind"], "soft");
        assert_eq!(
            json["cycles"][0]["hops"][1]["provenance"][0]["rule"],
            "compose-depends-on"
        );
        assert_eq!(
            json["cycles"][0]["component"],
            serde_json::json!(["repo/a", "repo/b"])
        );
        assert_eq!(json["cut_edges"][0]["from"], "repo/b");
        assert_eq!(
            json["critical_path"],
            serde_json::json!(["repo/b", "repo/a"])
        );
    }

    #[test]
    fn empty_model_gives_an_empty_plan() {
        let plan = plan(&Model::default(), &PlanSettings::default()).expect("plan");
        assert!(plan.is_empty());
        assert!(plan.phases.is_empty());
        assert!(plan.critical_path.is_empty());
    }
}
