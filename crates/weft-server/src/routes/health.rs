//! Health: a cheap liveness answer, and a detailed one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::auth::HealthAccess;
use crate::state::AppState;

pub(crate) async fn health(
    State(state): State<AppState>,
    _: HealthAccess,
) -> (StatusCode, Json<Value>) {
    match state.coordinator.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(error) => {
            tracing::error!(%error, "store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "store": "unreachable"})),
            )
        }
    }
}

pub(crate) async fn detailed(
    State(state): State<AppState>,
    _: HealthAccess,
) -> (StatusCode, Json<Value>) {
    let store = state.coordinator.store();
    let stats = store.stats().await;
    let reachable = stats.is_ok();
    let stats = stats.unwrap_or_default();
    let local = state.coordinator.stats();
    let body = json!({
        "status": if reachable { "ok" } else { "unavailable" },
        "store": {
            "backend": store.backend().as_str(),
            "url": store.url(),
            "reachable": reachable,
        },
        "uptime_seconds": state.started.elapsed().as_secs(),
        "resources": stats.resources,
        "active_leases": stats.leases,
        "waiters": stats.waiters,
        "active_operations": stats.active_operations,
        "unacknowledged_alerts": stats.unacknowledged_alerts,
        "event_subscribers": local.subscribers,
        "model": match state.model.current() {
            Some(analysis) => json!({
                "watching": true,
                "services": analysis.model.services.len(),
                "edges": analysis.model.edges.len(),
                "conflicts": analysis.conflicts.len(),
                "phases": analysis.plan.phases.len(),
            }),
            None => json!({"watching": false}),
        },
        "memory": {"resident_bytes": crate::metrics::resident_bytes()},
        "version": env!("CARGO_PKG_VERSION"),
    });
    let status = if reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
