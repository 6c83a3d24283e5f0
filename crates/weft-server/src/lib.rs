//! `weft serve`: leases, locks and resource claims over HTTP, with
//! operations, alerts, an event stream, Prometheus metrics and the
//! workspace analysis, on top of a [`weft_store::Coordinator`]; and the
//! dashboard, a live page of all of it, at `/`.

mod auth;
mod dashboard;
mod error;
mod extract;
mod live;
mod metrics;
mod monitor;
mod repository_plan;
mod routes;
mod serve;
mod settings;
mod state;

pub use auth::{Scope, Token};
pub use error::ApiError;
pub use routes::router;
pub use serve::{ServeError, serve};
pub use settings::{ServeSettings, Tls};
pub use state::AppState;
