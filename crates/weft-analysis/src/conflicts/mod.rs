//! Shared-resource conflicts: host ports, domains and routes, container
//! names, networks and subnets, named volumes, `shared_env` values, and
//! external networks or volumes that no repository creates.
//!
//! Each conflict has a stable id (`port:docker/tcp/8080`), so that
//! `weft resolve ID` and CI baselines can name it across runs.

mod detect;
mod network;
mod types;

pub use detect::find_conflicts;
pub use types::{Conflict, ConflictClaim, ConflictKind, STRATEGIES, StrategyOption};
