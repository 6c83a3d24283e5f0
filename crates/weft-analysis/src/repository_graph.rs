//! The repository graph: which repositories depend on which, summarised from
//! the service edges that cross between them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use weft_model::{EdgeKind, Model, ServiceId};

/// Some service of `from` needs some service of `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RepositoryEdge {
    pub from: String,
    pub to: String,
    /// The strongest kind among the crossing service edges.
    pub kind: EdgeKind,
    /// How many service edges cross from `from` to `to`.
    pub edges: usize,
}

/// The dependencies between repositories, sorted by `from`, then `to`.
///
/// Edges inside one repository, and edges whose endpoints are not services
/// of the model, are left out.
pub fn repository_edges(model: &Model) -> Vec<RepositoryEdge> {
    let mut repository_of: HashMap<&ServiceId, &str> = HashMap::new();
    for service in &model.services {
        repository_of
            .entry(&service.id)
            .or_insert(service.repository.as_str());
    }
    let mut crossings: BTreeMap<(&str, &str), (EdgeKind, usize)> = BTreeMap::new();
    for edge in &model.edges {
        let (Some(&from), Some(&to)) = (repository_of.get(&edge.from), repository_of.get(&edge.to))
        else {
            continue;
        };
        if from == to {
            continue;
        }
        let entry = crossings.entry((from, to)).or_insert((edge.kind, 0));
        entry.0 = entry.0.max(edge.kind);
        entry.1 += 1;
    }
    crossings
        .into_iter()
        .map(|((from, to), (kind, edges))| RepositoryEdge {
            from: from.to_string(),
            to: to.to_string(),
            kind,
            edges,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use weft_model::EdgeKind::*;

    use super::*;
    use crate::graph::tests::model;

    #[test]
    fn summarises_crossing_edges_per_repository_pair() {
        let model = model(
            &["shop/web", "shop/api", "data/db", "data/cache", "ops/proxy"],
            &[
                ("shop/web", "shop/api", Required),
                ("shop/api", "data/db", Optional),
                ("shop/web", "data/cache", Required),
                ("ops/proxy", "shop/web", Soft),
                ("ops/proxy", "ops/missing", Required),
                ("data/db", "shop/api", Soft),
            ],
        );
        let edges = repository_edges(&model);
        let summary: Vec<(&str, &str, EdgeKind, usize)> = edges
            .iter()
            .map(|edge| (edge.from.as_str(), edge.to.as_str(), edge.kind, edge.edges))
            .collect();
        assert_eq!(
            summary,
            [
                ("data", "shop", Soft, 1),
                ("ops", "shop", Soft, 1),
                ("shop", "data", Required, 2),
            ]
        );
    }

    #[test]
    fn one_repository_has_no_repository_edges() {
        let model = model(&["a", "b"], &[("a", "b", Required), ("b", "a", Required)]);
        assert!(repository_edges(&model).is_empty());
    }
}
