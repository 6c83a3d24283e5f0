//! Resolving conflicts: each strategy turns a conflict into edits of the
//! exact source spans that caused it (keeping comments and formatting), shown
//! as unified diffs and written only on request.

mod edit;
mod plan;
mod scalar;
mod strategies;

pub use edit::{FileChange, FileEdit};
pub use plan::{
    Resolution, ResolutionPlan, ResolveError, ResolveSettings, SkippedConflict, plan_resolutions,
};
