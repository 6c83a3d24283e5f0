//! weft's analyses of the workspace model: the service graph, dependency
//! cycles, deployment plans, explanations of dependencies and impact, and the
//! repository-level graph.
//!
//! Synchronous and pure: every analysis reads a [`weft_model::Model`] and
//! returns plain, sorted, serialisable values.

mod cycles;
mod explain;
mod graph;
mod plan;
mod repository_graph;

pub use cycles::{Cut, Cycle, Hop, break_cycles, strongly_connected_components};
pub use explain::{Explanation, Impact, Link, explain, explain_graph};
pub use graph::{GraphEdge, GraphError, ServiceGraph};
pub use plan::{Phase, Plan, PlanSettings, plan, plan_graph};
pub use repository_graph::{RepositoryEdge, repository_edges};
