//! Test support for weft: temporary workspaces built fluently, a generator
//! of large synthetic workspaces for benchmarks, and the `weft-test-service`
//! binary that supervisor tests launch as a child process, and a small fake
//! GitHub API for the GitHub client and `workflow` steps.

pub mod fake_github;
mod postgres;
mod synthetic;
mod test_service;
mod workspace;

pub use postgres::Postgres;
pub use synthetic::{SyntheticSpec, generate};
pub use test_service::{ensure_test_service, test_service_path};
pub use workspace::Workspace;
