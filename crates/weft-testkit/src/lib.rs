//! Test support for weft: temporary workspaces built fluently, a generator
//! of large synthetic workspaces for benchmarks, the `weft-test-service`
//! binary that supervisor tests launch as a child process, and real or fake
//! servers on 127.0.0.1: `github`, a fake of GitHub's REST API checked
//! against GitHub's OpenAPI description; `http`, a recording HTTP server;
//! `s3`, moto as an S3-compatible server; `prometheus`, a real Prometheus
//! server; and `browser`, headless Chromium for weft's pages.

pub mod browser;
pub mod github;
pub mod http;
mod postgres;
pub mod prometheus;
pub mod s3;
mod synthetic;
mod test_service;
mod workspace;

pub use postgres::Postgres;
pub use synthetic::{SyntheticSpec, generate};
pub use test_service::{ensure_test_service, test_service_path};
pub use workspace::Workspace;
