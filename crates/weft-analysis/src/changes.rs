//! What changed between two analyses of a workspace: the difference an edit
//! made to its services, edges, conflicts, cycles and deployment phases.
//! `weft watch` prints it and `weft serve` sends it as `model` events.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};
use serde::Serialize;
use weft_model::{EdgeKind, Model, ServiceId};

use crate::{Conflict, GraphError, Plan, PlanSettings, find_conflicts, plan};

/// Models of this many services or more are planned and searched for
/// conflicts at once; below it, a thread costs more than it saves.
const PARALLEL_FROM: usize = 2_000;

/// A model with its deployment plan and conflicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Shared with whoever holds the model, not copied.
    pub model: Arc<Model>,
    pub plan: Plan,
    pub conflicts: Vec<Conflict>,
}

impl Analysis {
    /// Plans every service of `model` and finds its conflicts: on a large
    /// model, the two at once on two threads.
    pub fn of(model: impl Into<Arc<Model>>) -> Result<Self, GraphError> {
        let model = model.into();
        let parallel = model.services.len() >= PARALLEL_FROM
            && std::thread::available_parallelism().is_ok_and(|cores| cores.get() > 1);
        let (plan, conflicts) = if parallel {
            std::thread::scope(|scope| {
                let conflicts = std::thread::Builder::new()
                    .name("weft-conflicts".to_string())
                    .spawn_scoped(scope, || find_conflicts(&model));
                let plan = plan(&model, &PlanSettings::default());
                // Without a thread to be had, this one finds them too.
                let conflicts = match conflicts {
                    Ok(handle) => handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    Err(_) => find_conflicts(&model),
                };
                (plan, conflicts)
            })
        } else {
            let plan = plan(&model, &PlanSettings::default())?;
            (Ok(plan), find_conflicts(&model))
        };
        let plan = plan?;
        Ok(Analysis {
            model,
            plan,
            conflicts,
        })
    }

    /// What changed from `before` to `self`. Only what differs is copied.
    pub fn changes_since(&self, before: &Analysis) -> Changes {
        let edge = |(from, to, kind): (&ServiceId, &ServiceId, EdgeKind)| EdgeChange {
            from: from.clone(),
            to: to.clone(),
            kind,
        };
        let (old_conflicts, new_conflicts) = (conflicts_by_id(before), conflicts_by_id(self));
        let mut conflict_changes = ConflictChanges::default();
        for (id, conflict) in &new_conflicts {
            match old_conflicts.get(id) {
                None => conflict_changes.added.push((*conflict).clone()),
                Some(old) if old != conflict => {
                    conflict_changes.changed.push((*conflict).clone());
                }
                Some(_) => {}
            }
        }
        conflict_changes.removed = old_conflicts
            .keys()
            .filter(|id| !new_conflicts.contains_key(*id))
            .map(|id| (*id).to_string())
            .collect();

        let phases = phase_changes(&before.plan, &self.plan);
        Changes {
            services: Delta::between(service_ids(before), service_ids(self), |id| id.clone()),
            edges: Delta::between(edge_keys(before), edge_keys(self), edge),
            cycles: Delta::between(cycle_paths(before), cycle_paths(self), |path| path.clone()),
            conflicts: conflict_changes,
            phases,
            phase_count: (before.plan.phases.len() != self.plan.phases.len())
                .then_some([before.plan.phases.len(), self.plan.phases.len()]),
            diagnostics: (before.model.diagnostics != self.model.diagnostics)
                .then_some([before.model.diagnostics.len(), self.model.diagnostics.len()]),
        }
    }
}

fn service_ids(analysis: &Analysis) -> Vec<&ServiceId> {
    analysis.model.services.iter().map(|s| &s.id).collect()
}

fn edge_keys(analysis: &Analysis) -> Vec<(&ServiceId, &ServiceId, EdgeKind)> {
    analysis
        .model
        .edges
        .iter()
        .map(|e| (&e.from, &e.to, e.kind))
        .collect()
}

fn cycle_paths(analysis: &Analysis) -> Vec<&Vec<ServiceId>> {
    analysis.plan.cycles.iter().map(|c| &c.path).collect()
}

fn conflicts_by_id(analysis: &Analysis) -> BTreeMap<&str, &Conflict> {
    analysis
        .conflicts
        .iter()
        .map(|c| (c.id.as_str(), c))
        .collect()
}

/// Each service of the plan and its phase.
fn phases(plan: &Plan) -> impl Iterator<Item = (&ServiceId, usize)> {
    plan.phases
        .iter()
        .flat_map(|phase| phase.services.iter().map(move |s| (s, phase.phase)))
}

/// The services whose phase differs (or that are in one plan only), by
/// service. Looked up by hash rather than sorted: a plan lists every
/// service, and few of them change. A plan lists each service once (its
/// graph has one node per id), which the counting below relies on.
fn phase_changes(before: &Plan, after: &Plan) -> Vec<PhaseChange> {
    let old: HashMap<&ServiceId, usize> = phases(before).collect();
    let mut changes = Vec::new();
    let mut kept = 0;
    for (service, to) in phases(after) {
        let from = old.get(service).copied();
        kept += usize::from(from.is_some());
        if from != Some(to) {
            changes.push(PhaseChange {
                service: service.clone(),
                from,
                to: Some(to),
            });
        }
    }
    if kept < old.len() {
        let new: HashSet<&ServiceId> = phases(after).map(|(service, _)| service).collect();
        for (service, from) in phases(before) {
            if !new.contains(service) {
                changes.push(PhaseChange {
                    service: service.clone(),
                    from: Some(from),
                    to: None,
                });
            }
        }
    }
    changes.sort_unstable_by(|a, b| a.service.cmp(&b.service));
    changes
}

/// Values that appeared and disappeared, each sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delta<T> {
    pub added: Vec<T>,
    pub removed: Vec<T>,
}

impl<T> Default for Delta<T> {
    fn default() -> Self {
        Delta {
            added: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl<T> Delta<T> {
    /// What is in `after` and not `before`, and the other way round, each
    /// made a `T` by `own`. Sorts both lists (models keep their services
    /// and edges sorted already, so this is a pass over each).
    fn between<K: Ord + Copy>(mut before: Vec<K>, mut after: Vec<K>, own: impl Fn(K) -> T) -> Self {
        before.sort_unstable();
        after.sort_unstable();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        let (mut old, mut new) = (before.into_iter().peekable(), after.into_iter().peekable());
        loop {
            match (old.peek(), new.peek()) {
                (Some(a), Some(b)) => match a.cmp(b) {
                    std::cmp::Ordering::Less => removed.push(own(old.next().expect("peeked"))),
                    std::cmp::Ordering::Greater => added.push(own(new.next().expect("peeked"))),
                    std::cmp::Ordering::Equal => {
                        old.next();
                        new.next();
                    }
                },
                (Some(_), None) => removed.push(own(old.next().expect("peeked"))),
                (None, Some(_)) => added.push(own(new.next().expect("peeked"))),
                (None, None) => break,
            }
        }
        Delta { added, removed }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// An edge as a change names it: a kind that changed is one edge removed
/// and one added.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EdgeChange {
    pub from: ServiceId,
    pub to: ServiceId,
    pub kind: EdgeKind,
}

/// Conflicts that appeared, changed (the same id, other claims or
/// severity) or went away (by id).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConflictChanges {
    pub added: Vec<Conflict>,
    pub changed: Vec<Conflict>,
    pub removed: Vec<String>,
}

impl ConflictChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// A service whose deployment phase changed; `null` where it was or is not
/// in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseChange {
    pub service: ServiceId,
    pub from: Option<usize>,
    pub to: Option<usize>,
}

/// Everything [`Analysis::changes_since`] found; its JSON form is a
/// documented contract (`docs/json.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    pub services: Delta<ServiceId>,
    pub edges: Delta<EdgeChange>,
    /// Cycles by their path.
    pub cycles: Delta<Vec<ServiceId>>,
    pub conflicts: ConflictChanges,
    /// Services whose phase changed, by id.
    pub phases: Vec<PhaseChange>,
    /// `[before, after]` when the number of phases changed.
    pub phase_count: Option<[usize; 2]>,
    /// `[before, after]` counts when the diagnostics changed.
    pub diagnostics: Option<[usize; 2]>,
}

impl Changes {
    /// Whether the edit changed nothing the analyses show.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.edges.is_empty()
            && self.cycles.is_empty()
            && self.conflicts.is_empty()
            && self.phases.is_empty()
            && self.phase_count.is_none()
            && self.diagnostics.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::tests::service;
    use weft_model::{Claim, Edge, Provenance, Resource, Rule, Span};

    fn provenance() -> Provenance {
        Provenance::new("a/compose.yaml", Span::default(), Rule::ComposeService)
    }

    fn edge(from: &str, to: &str, kind: EdgeKind) -> Edge {
        Edge {
            from: ServiceId::from(from),
            to: ServiceId::from(to),
            kind,
            provenance: vec![provenance()],
            explicit: false,
        }
    }

    fn port(service: &str, port: u16) -> Claim {
        Claim {
            service: service.to_string(),
            repository: "a".to_string(),
            resource: Resource::HostPort {
                platform: weft_model::Platform::Docker,
                protocol: weft_model::Protocol::Tcp,
                host_ip: None,
                start: port,
                end: port,
            },
            provenance: provenance(),
        }
    }

    fn analysis(services: &[&str], edges: Vec<Edge>, claims: Vec<Claim>) -> Analysis {
        Analysis::of(Model {
            services: services.iter().map(|s| service(s)).collect(),
            edges,
            claims,
            ..Model::default()
        })
        .expect("analysis")
    }

    #[test]
    fn an_unchanged_model_has_no_changes() {
        let one = analysis(
            &["a/web", "a/db"],
            vec![edge("a/web", "a/db", EdgeKind::Required)],
            vec![],
        );
        assert!(one.changes_since(&one.clone()).is_empty());
    }

    #[test]
    fn services_edges_phases_and_conflicts_are_told_apart() {
        let before = analysis(
            &["a/web", "a/db"],
            vec![edge("a/web", "a/db", EdgeKind::Optional)],
            vec![port("a/web", 8080)],
        );
        let after = analysis(
            &["a/web", "a/db", "a/cache"],
            vec![
                edge("a/web", "a/db", EdgeKind::Required),
                edge("a/db", "a/cache", EdgeKind::Required),
            ],
            vec![port("a/web", 8080), port("a/cache", 8080)],
        );
        let changes = after.changes_since(&before);
        assert_eq!(changes.services.added, [ServiceId("a/cache".into())]);
        assert!(changes.services.removed.is_empty());
        // A kind that changed is one edge out and one in.
        assert_eq!(changes.edges.added.len(), 2);
        assert_eq!(
            changes.edges.removed,
            [EdgeChange {
                from: ServiceId("a/web".into()),
                to: ServiceId("a/db".into()),
                kind: EdgeKind::Optional,
            }]
        );
        assert_eq!(changes.conflicts.added.len(), 1, "{changes:?}");
        assert_eq!(changes.phase_count, Some([2, 3]));
        let moved: Vec<(&str, Option<usize>, Option<usize>)> = changes
            .phases
            .iter()
            .map(|p| (p.service.as_str(), p.from, p.to))
            .collect();
        assert_eq!(
            moved,
            [
                ("a/cache", None, Some(1)),
                ("a/db", Some(1), Some(2)),
                ("a/web", Some(2), Some(3)),
            ]
        );
        // And back: the same changes the other way round.
        let back = before.changes_since(&after);
        assert_eq!(back.services.removed, [ServiceId("a/cache".into())]);
        assert_eq!(
            back.conflicts.removed,
            [changes.conflicts.added[0].id.clone()]
        );
        assert!(!back.is_empty());
    }
}
