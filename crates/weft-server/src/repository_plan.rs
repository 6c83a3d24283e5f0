//! The seed's repository-level view of the workspace: which repositories
//! depend on which (with the service edges behind each dependency), their
//! cycles, the order and phases to deploy them in, and the conflicts among a
//! set of them.
//!
//! How it works: weft-analysis's `repository_edges` summarises the service
//! edges that cross between repositories. For order, phases and cycles the
//! repositories become a model of their own (one "service" per repository,
//! one edge per crossing service edge, with its kind and provenance), and
//! weft-analysis's deployment plan runs on it: so phases are layered by
//! longest path, and a cycle is cut at its weakest edge and rated exactly as
//! `weft plan` does for services.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::num::NonZeroUsize;

use weft_analysis::{Conflict, Cycle, Plan, PlanSettings, RepositoryEdge, repository_edges};
use weft_model::{Edge, Model, Service, ServiceId};

/// The repositories of a model and the dependencies between them.
#[derive(Debug)]
pub(crate) struct RepositoryGraph<'model> {
    /// Every repository, in workspace order.
    repositories: Vec<String>,
    edges: Vec<RepositoryEdge>,
    /// (from, to) → the service edges that make up that repository edge.
    crossings: BTreeMap<(String, String), Vec<&'model Edge>>,
    /// The repositories as services, for the planner.
    as_model: Model,
}

/// A deployment of some repositories, phase by phase.
#[derive(Debug)]
pub(crate) struct RepositoryPlan {
    /// Each phase's repositories (sorted), dependencies first.
    pub(crate) phases: Vec<Vec<String>>,
    /// Cycles that pass through at least one of the planned repositories.
    pub(crate) cycles: Vec<Cycle>,
}

impl<'model> RepositoryGraph<'model> {
    pub(crate) fn new(model: &'model Model) -> Self {
        let mut repository_of: HashMap<&ServiceId, &str> = HashMap::new();
        for service in &model.services {
            repository_of
                .entry(&service.id)
                .or_insert(service.repository.as_str());
        }
        // The same filter as `repository_edges`: both ends services of the
        // model, in different repositories.
        let mut crossings: BTreeMap<(String, String), Vec<&Edge>> = BTreeMap::new();
        for edge in &model.edges {
            let (Some(&from), Some(&to)) =
                (repository_of.get(&edge.from), repository_of.get(&edge.to))
            else {
                continue;
            };
            if from != to {
                crossings
                    .entry((from.to_owned(), to.to_owned()))
                    .or_default()
                    .push(edge);
            }
        }
        let mut repositories: Vec<String> = Vec::new();
        for name in model
            .repositories
            .iter()
            .map(|r| r.name.as_str())
            .chain(model.services.iter().map(|s| s.repository.as_str()))
        {
            if !repositories.iter().any(|known| known == name) {
                repositories.push(name.to_owned());
            }
        }
        let as_model = Model {
            services: repositories
                .iter()
                .map(|name| Service {
                    id: ServiceId::from(name.as_str()),
                    repository: name.clone(),
                    name: name.clone(),
                    sources: Vec::new(),
                    image: None,
                    command: None,
                    aliases: Vec::new(),
                    provenance: Vec::new(),
                })
                .collect(),
            edges: crossings
                .iter()
                .flat_map(|((from, to), edges)| {
                    edges.iter().map(move |edge| Edge {
                        from: ServiceId::from(from.as_str()),
                        to: ServiceId::from(to.as_str()),
                        kind: edge.kind,
                        provenance: edge.provenance.clone(),
                        explicit: edge.explicit,
                    })
                })
                .collect(),
            ..Model::default()
        };
        RepositoryGraph {
            repositories,
            edges: repository_edges(model),
            crossings,
            as_model,
        }
    }

    /// Every repository, in workspace order.
    pub(crate) fn repositories(&self) -> &[String] {
        &self.repositories
    }

    /// The names that are not repositories of the workspace.
    pub(crate) fn unknown<'a>(&self, names: &'a [String]) -> Vec<&'a str> {
        names
            .iter()
            .filter(|name| !self.repositories.contains(name))
            .map(String::as_str)
            .collect()
    }

    /// What `repository` depends on directly, each with the service edges
    /// behind it, sorted by the repository depended on.
    pub(crate) fn direct(&self, repository: &str) -> Vec<(&RepositoryEdge, &[&'model Edge])> {
        self.edges
            .iter()
            .filter(|edge| edge.from == repository)
            .map(|edge| {
                let services = self
                    .crossings
                    .get(&(edge.from.clone(), edge.to.clone()))
                    .map_or(&[][..], Vec::as_slice);
                (edge, services)
            })
            .collect()
    }

    /// Every repository `repository` reaches through dependencies, itself
    /// left out (even on a cycle back to it), sorted.
    pub(crate) fn transitive(&self, repository: &str) -> Vec<String> {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([repository]);
        while let Some(next) = queue.pop_front() {
            for edge in self.edges.iter().filter(|edge| edge.from == next) {
                if seen.insert(edge.to.as_str()) {
                    queue.push_back(edge.to.as_str());
                }
            }
        }
        seen.remove(repository);
        seen.into_iter().map(str::to_owned).collect()
    }

    /// Plans the deployment of `named` (every repository when empty), one
    /// repository a phase with `max_parallel` 1.
    ///
    /// The plan runs on the named repositories and everything they depend
    /// on, so a dependency through a repository that is not named still
    /// orders them; the phases then keep only the named repositories
    /// (renumbered, empty ones dropped). `named` must be known repositories.
    pub(crate) fn plan(
        &self,
        named: &[String],
        max_parallel: Option<NonZeroUsize>,
    ) -> RepositoryPlan {
        let settings = PlanSettings {
            targets: named
                .iter()
                .map(|name| ServiceId::from(name.as_str()))
                .collect(),
            include_dependencies: true,
            max_parallel,
        };
        let wanted: BTreeSet<&str> = if named.is_empty() {
            self.repositories.iter().map(String::as_str).collect()
        } else {
            named.iter().map(String::as_str).collect()
        };
        // Every target is a service of `as_model`, so planning cannot fail;
        // should it, the plan is empty rather than a panic.
        let plan: Plan = weft_analysis::plan(&self.as_model, &settings).unwrap_or_else(|error| {
            tracing::error!(%error, "repository plan failed");
            Plan {
                phases: Vec::new(),
                order: Vec::new(),
                cycles: Vec::new(),
                cut_edges: Vec::new(),
                critical_path: Vec::new(),
            }
        });
        let phases = plan
            .phases
            .iter()
            .map(|phase| {
                phase
                    .services
                    .iter()
                    .map(|id| id.as_str().to_owned())
                    .filter(|name| wanted.contains(name.as_str()))
                    .collect::<Vec<_>>()
            })
            .filter(|phase| !phase.is_empty())
            .collect();
        let cycles = plan
            .cycles
            .into_iter()
            .filter(|cycle| cycle.path.iter().any(|id| wanted.contains(id.as_str())))
            .collect();
        RepositoryPlan { phases, cycles }
    }
}

impl RepositoryPlan {
    /// The planned repositories in deployment order.
    pub(crate) fn order(&self) -> Vec<String> {
        self.phases.iter().flatten().cloned().collect()
    }
}

/// A cycle as the seed writes it: `["a", "b", "a"]`, each needing the next.
pub(crate) fn cycle_path(cycle: &Cycle) -> Vec<String> {
    let mut path: Vec<String> = cycle.path.iter().map(|id| id.as_str().to_owned()).collect();
    if let Some(first) = path.first().cloned() {
        path.push(first);
    }
    path
}

/// How many of the cycle's repositories are in `named`.
pub(crate) fn named_in_cycle(cycle: &Cycle, named: &BTreeSet<&str>) -> usize {
    cycle
        .path
        .iter()
        .filter(|id| named.contains(id.as_str()))
        .count()
}

/// The conflicts between the `named` repositories: at least two of the
/// conflict's claims come from them, or every claim does (a conflict of one
/// claim, such as an external network nothing creates).
pub(crate) fn conflicts_among(conflicts: Vec<Conflict>, named: &BTreeSet<&str>) -> Vec<Conflict> {
    conflicts
        .into_iter()
        .filter(|conflict| {
            let inside = conflict
                .claims
                .iter()
                .filter(|claim| named.contains(claim.repository.as_str()))
                .count();
            inside >= 2 || (inside >= 1 && inside == conflict.claims.len())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use weft_model::{EdgeKind, Provenance, Repository, Rule, Span};

    use super::*;

    fn model(services: &[&str], edges: &[(&str, &str, EdgeKind)]) -> Model {
        let service = |id: &str| {
            let (repository, name) = id.split_once('/').unwrap_or(("repo", id));
            Service {
                id: ServiceId::new(repository, name),
                repository: repository.to_owned(),
                name: name.to_owned(),
                sources: Vec::new(),
                image: None,
                command: None,
                aliases: Vec::new(),
                provenance: Vec::new(),
            }
        };
        let services: Vec<Service> = services.iter().map(|id| service(id)).collect();
        let mut repositories: Vec<Repository> = Vec::new();
        for service in &services {
            if !repositories.iter().any(|r| r.name == service.repository) {
                repositories.push(Repository {
                    name: service.repository.clone(),
                    path: service.repository.clone(),
                });
            }
        }
        Model {
            repositories,
            edges: edges
                .iter()
                .map(|(from, to, kind)| Edge {
                    from: ServiceId::from(*from),
                    to: ServiceId::from(*to),
                    kind: *kind,
                    provenance: vec![Provenance::new(
                        "weft.yaml",
                        Span::default(),
                        Rule::WeftYaml,
                    )],
                    explicit: true,
                })
                .collect(),
            services,
            ..Model::default()
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_chain_and_an_independent_repository_make_three_phases() {
        let model = model(
            &["a/api", "b/queue", "c/store", "d/batch"],
            &[
                ("a/api", "b/queue", EdgeKind::Required),
                ("b/queue", "c/store", EdgeKind::Required),
            ],
        );
        let graph = RepositoryGraph::new(&model);
        let plan = graph.plan(&[], None);
        assert_eq!(
            plan.phases,
            [names(&["c", "d"]), names(&["b"]), names(&["a"])]
        );
        assert_eq!(graph.transitive("a"), names(&["b", "c"]));
        assert_eq!(graph.direct("a")[0].1.len(), 1);
        let one_by_one = graph.plan(&[], NonZeroUsize::new(1));
        assert_eq!(one_by_one.order(), names(&["c", "d", "b", "a"]));
        assert_eq!(one_by_one.phases.len(), 4);
    }

    #[test]
    fn a_repository_not_named_still_orders_the_named_ones() {
        let model = model(
            &["a/api", "b/queue", "c/store"],
            &[
                ("a/api", "b/queue", EdgeKind::Soft),
                ("b/queue", "c/store", EdgeKind::Soft),
            ],
        );
        let graph = RepositoryGraph::new(&model);
        let plan = graph.plan(&names(&["a", "c"]), None);
        assert_eq!(plan.phases, [names(&["c"]), names(&["a"])]);
    }

    #[test]
    fn repository_cycles_are_cut_and_reported() {
        let model = model(
            &["x/one", "x/two", "y/one", "y/two"],
            &[
                ("x/one", "y/one", EdgeKind::Required),
                ("y/two", "x/two", EdgeKind::Soft),
            ],
        );
        let graph = RepositoryGraph::new(&model);
        let plan = graph.plan(&[], None);
        assert_eq!(plan.cycles.len(), 1);
        assert_eq!(cycle_path(&plan.cycles[0]), names(&["x", "y", "x"]));
        assert_eq!(plan.cycles[0].cut.from.as_str(), "y");
        assert_eq!(plan.order(), names(&["y", "x"]));
    }
}
