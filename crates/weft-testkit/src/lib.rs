//! Test support for weft: temporary workspaces built fluently, a generator
//! of large synthetic workspaces for benchmarks, and the `weft-test-service`
//! binary that supervisor tests launch as a child process; and, in `github`,
//! a fake of GitHub's REST API on 127.0.0.1 with the check of its bodies
//! against GitHub's OpenAPI description; in `http`, a recording HTTP server.

pub mod github;
pub mod http;
mod postgres;
mod synthetic;
mod test_service;
mod workspace;

pub use postgres::Postgres;
pub use synthetic::{SyntheticSpec, generate};
pub use test_service::{ensure_test_service, test_service_path};
pub use workspace::Workspace;
