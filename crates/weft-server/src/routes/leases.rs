//! Leases: acquire (optionally waiting), renew, release, list.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use weft_store::{AcquireRequest, Holder, Lease, Mode, ResourceId};

use super::either_ms;
use crate::auth::{Authorized, ReadScope, WriteScope};
use crate::error::ApiError;
use crate::extract::{Body, BodyOrDefault, Id};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcquireBody {
    resource: String,
    #[serde(default)]
    mode: Mode,
    weight: Option<i64>,
    priority: Option<i64>,
    class: Option<String>,
    ttl: Option<String>,
    ttl_ms: Option<i64>,
    /// How long to wait when taken (default 30m; `0` to fail at once).
    wait: Option<String>,
    wait_ms: Option<i64>,
    #[serde(default)]
    holder: Holder,
    /// The capacity to give the resource if this creates it.
    capacity: Option<i64>,
    /// The client's id for this claim (a UUID, the same on every try): a
    /// claim asked again takes back its place in the queue or its lease.
    request: Option<String>,
}

impl AcquireBody {
    pub(crate) fn into_request(self) -> Result<AcquireRequest, ApiError> {
        Ok(AcquireRequest {
            resource: ResourceId::parse(&self.resource)?,
            mode: self.mode,
            weight: self.weight.unwrap_or(1),
            priority: self.priority,
            class: self.class,
            ttl_ms: either_ms("ttl", self.ttl.as_deref(), self.ttl_ms)?,
            wait_ms: either_ms("wait", self.wait.as_deref(), self.wait_ms)?,
            holder: self.holder,
            capacity: self.capacity,
            request: self.request,
        })
    }
}

/// Grants at once (201), or waits in the queue up to `wait` and grants
/// (201), or answers 409 with the holders (`conflict` when not waiting,
/// `timeout` when the wait ran out). A client that disconnects while
/// waiting leaves the queue, unless its claim has a `request` id: then its
/// place is kept for a while, for the client to ask again with it.
pub(crate) async fn acquire(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    Body(body): Body<AcquireBody>,
) -> Result<(StatusCode, Json<Lease>), ApiError> {
    let request = body.into_request()?;
    let lease = state.coordinator.acquire(&request).await?;
    Ok((StatusCode::CREATED, Json(lease)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenewBody {
    ttl: Option<String>,
    ttl_ms: Option<i64>,
}

pub(crate) async fn renew(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    Id(id): Id,
    BodyOrDefault(body): BodyOrDefault<RenewBody>,
) -> Result<Json<Lease>, ApiError> {
    let ttl = either_ms("ttl", body.ttl.as_deref(), body.ttl_ms)?;
    Ok(Json(state.coordinator.renew(&id, ttl).await?))
}

pub(crate) async fn release(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    Id(id): Id,
) -> Result<Json<serde_json::Value>, ApiError> {
    let released = state.coordinator.release(&id).await?;
    Ok(Json(serde_json::json!({"released": released.lease})))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let leases = state.coordinator.store().leases().await?;
    Ok(Json(serde_json::json!({"leases": leases})))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Id(id): Id,
) -> Result<Json<Lease>, ApiError> {
    Ok(Json(state.coordinator.store().lease(&id).await?))
}
