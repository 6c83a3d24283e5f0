//! weft's analyses over the workspace model: conflicts and their resolution
//! (the dependency graph, cycles, plans and explanations live beside them).
//!
//! Synchronous and pure: no network, no database.

pub mod conflicts;

pub use conflicts::{Conflict, ConflictClaim, ConflictKind, StrategyOption, find_conflicts};
pub mod resolve;

pub use resolve::{Resolution, ResolutionPlan, ResolveError, ResolveSettings, plan_resolutions};
