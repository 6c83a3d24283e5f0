//! Test support for weft: temporary workspaces built fluently, and a
//! generator of large synthetic workspaces for benchmarks.

mod synthetic;
mod workspace;

pub use synthetic::{SyntheticSpec, generate};
pub use workspace::Workspace;
