//! Resources: register, look at holders and queues, force-release.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_store::{ResourceId, ResourceView};

use crate::auth::{AdminScope, Authorized, ReadScope, WriteScope};
use crate::error::ApiError;
use crate::extract::{Body, Id};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    resource: String,
    capacity: Option<i64>,
    metadata: Option<Value>,
}

pub(crate) async fn register(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    Body(body): Body<RegisterBody>,
) -> Result<Json<ResourceView>, ApiError> {
    let id = ResourceId::parse(&body.resource)?;
    let store = state.coordinator.store();
    store
        .register_resource(&id, body.capacity, body.metadata)
        .await?;
    Ok(Json(store.resource(&id).await?))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
) -> Result<Json<Value>, ApiError> {
    let resources = state.coordinator.store().resources(None).await?;
    Ok(Json(json!({"resources": resources})))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Id(id): Id,
) -> Result<Json<ResourceView>, ApiError> {
    let id = ResourceId::parse(&id)?;
    Ok(Json(state.coordinator.store().resource(&id).await?))
}

pub(crate) async fn queue(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Id(id): Id,
) -> Result<Json<Value>, ApiError> {
    let id = ResourceId::parse(&id)?;
    let view = state.coordinator.store().resource(&id).await?;
    Ok(Json(json!({
        "resource": view.resource.id,
        "capacity": view.resource.capacity,
        "used": view.used,
        "holders": view.holders,
        "queue": view.queue,
    })))
}

/// Every resource someone holds or waits for: the emergency view.
pub(crate) async fn queues(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
) -> Result<Json<Value>, ApiError> {
    let busy: Vec<ResourceView> = state
        .coordinator
        .store()
        .resources(None)
        .await?
        .into_iter()
        .filter(|view| !view.holders.is_empty() || !view.queue.is_empty())
        .collect();
    Ok(Json(json!({"resources": busy})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForceBody {
    reason: String,
}

pub(crate) async fn force_release(
    State(state): State<AppState>,
    authorized: Authorized<AdminScope>,
    Id(id): Id,
    Body(body): Body<ForceBody>,
) -> Result<Json<Value>, ApiError> {
    let id = ResourceId::parse(&id)?;
    // A resource nobody ever claimed is a 404, not a silent no-op.
    state.coordinator.store().resource(&id).await?;
    let forced = state
        .coordinator
        .force_release(&id, &body.reason, &authorized.caller.0)
        .await?;
    tracing::warn!(resource = %id, by = %authorized.caller.0, reason = %body.reason, "force-release");
    Ok(Json(json!({"resource": id, "released": forced.released})))
}
