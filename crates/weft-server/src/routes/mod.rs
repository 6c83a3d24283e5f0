//! The routes: `/api/v1/…`, the seed's `/api/coordination/…` aliases,
//! `/metrics`, and the dashboard's pages.

mod analysis;
mod deployments;
mod events;
mod health;
mod leases;
mod records;
mod resources;
mod seed;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;

/// Every route, without a socket: tests call it with `oneshot`.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.body_limit;
    let v1 = Router::new()
        .route("/health", get(health::health))
        .route("/health/detailed", get(health::detailed))
        .route("/resources", get(resources::list).post(resources::register))
        .route("/resources/{id}", get(resources::show))
        .route("/resources/{id}/queue", get(resources::queue))
        .route(
            "/resources/{id}/force-release",
            post(resources::force_release),
        )
        .route("/queue", get(resources::queues))
        .route("/leases", get(leases::list).post(leases::acquire))
        .route("/leases/{id}", get(leases::show).delete(leases::release))
        .route("/leases/{id}/renew", post(leases::renew))
        .route(
            "/operations",
            get(records::operations).post(records::start_operation),
        )
        .route("/operations/{id}/finish", post(records::finish_operation))
        .route("/alerts", get(records::alerts))
        .route("/alerts/{id}/acknowledge", post(records::acknowledge))
        .route("/cleanup", post(records::cleanup))
        .route("/events", get(events::stream))
        .route(
            "/deployments",
            get(deployments::list).post(deployments::start),
        )
        .route("/deployments/{id}", get(deployments::show))
        .route("/analysis/dependencies", get(analysis::dependencies))
        .route("/analysis/conflicts", get(analysis::conflicts))
        .route("/analysis/plan", get(analysis::plan))
        .route("/analysis/resolve", post(analysis::resolve));
    let seed = Router::new()
        .route("/dependencies", get(seed::dependencies))
        .route("/coordinate-deployment", post(seed::coordinate_deployment))
        .route("/resource-conflicts", get(seed::resource_conflicts))
        .route("/resolve-conflicts", post(seed::resolve_conflicts))
        .route("/metrics", get(seed::metrics))
        .route("/alerts", get(seed::alerts))
        .route("/health", get(health::health))
        .route("/health/detailed", get(health::detailed))
        .route("/operations", get(seed::operations))
        .route("/cleanup", post(seed::cleanup));
    Router::new()
        .nest("/api/v1", v1)
        .nest("/api/coordination", seed)
        .route("/metrics", get(crate::metrics::prometheus))
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method (see the README's API table)",
    )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; the API is under /api/v1/ (see the README)")
}

/// `10m`, `30s`, `500ms` → milliseconds.
pub(crate) fn duration_ms(field: &'static str, text: &str) -> Result<i64, ApiError> {
    weft_model::config::parse_duration(text)
        .map_err(|message| {
            ApiError::bad_request("invalid", format!("{field}: {message}"))
                .with_details(serde_json::json!({"field": field}))
        })
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration given as text (`ttl: "10m"`) or milliseconds (`ttl_ms`).
pub(crate) fn either_ms(
    field: &'static str,
    text: Option<&str>,
    ms: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    match (text, ms) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "invalid",
            format!("give `{field}` or `{field}_ms`, not both"),
        )),
        (Some(text), None) => duration_ms(field, text).map(Some),
        (None, ms) => Ok(ms),
    }
}
