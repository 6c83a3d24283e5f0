//! weft's analyses of the workspace model: the service graph, dependency
//! cycles, deployment plans, explanations of dependencies and impact, the
//! repository-level graph, shared-resource conflicts and their resolution.
//!
//! Synchronous and pure: every analysis reads a [`weft_model::Model`] and
//! returns plain, sorted, serialisable values.

mod changes;
pub mod conflicts;
mod cycles;
mod explain;
mod graph;
mod plan;
mod repository_graph;
pub mod resolve;

pub use changes::{Analysis, Changes, ConflictChanges, Delta, EdgeChange, PhaseChange};
pub use conflicts::{
    Conflict, ConflictClaim, ConflictKind, STRATEGIES, StrategyOption, find_conflicts,
};
pub use cycles::{Cut, Cycle, Hop, break_cycles, strongly_connected_components};
pub use explain::{Explanation, Impact, Link, explain, explain_graph};
pub use graph::{GraphEdge, GraphError, ServiceGraph};
pub use plan::{Phase, Plan, PlanSettings, plan, plan_graph};
pub use repository_graph::{RepositoryEdge, repository_edges};
pub use resolve::{
    Resolution, ResolutionPlan, ResolveError, ResolveSettings, SkippedConflict, plan_resolutions,
};
