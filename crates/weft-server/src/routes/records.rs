//! Operations, alerts and cleanup.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_store::{AlertFilter, OperationFilter, OperationStatus};

use crate::auth::{AdminScope, Authorized, ReadScope, WriteScope};
use crate::error::ApiError;
use crate::extract::{Body, BodyOrDefault, Id, Params};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperationQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    hours: Option<f64>,
    limit: Option<i64>,
}

impl OperationQuery {
    pub(crate) fn filter(self) -> Result<OperationFilter, ApiError> {
        let status = match self.status.as_deref() {
            None | Some("") | Some("all") => None,
            Some(text) => Some(OperationStatus::parse(text).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("status `{text}`: expected active, succeeded, failed or conflict"),
                )
            })?),
        };
        Ok(OperationFilter {
            status,
            kind: self.kind,
            since_ms: hours_ms(self.hours)?,
            limit: self.limit,
        })
    }
}

fn hours_ms(hours: Option<f64>) -> Result<Option<i64>, ApiError> {
    match hours {
        Some(h) if !(0.0..=24.0 * 366.0).contains(&h) => Err(ApiError::bad_request(
            "invalid_query",
            "hours must be between 0 and 8784",
        )),
        Some(h) => Ok(Some((h * 3_600_000.0) as i64)),
        None => Ok(None),
    }
}

pub(crate) async fn operations(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Params(query): Params<OperationQuery>,
) -> Result<Json<Value>, ApiError> {
    let operations = state
        .coordinator
        .store()
        .operations(&query.filter()?)
        .await?;
    Ok(Json(json!({"operations": operations})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    #[serde(rename = "type")]
    kind: String,
    resource: Option<String>,
}

/// Starts tracking an operation another tool runs (a deployment).
pub(crate) async fn start_operation(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    Body(body): Body<StartBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = state
        .coordinator
        .store()
        .start_operation(&body.kind, body.resource.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "status": "active"})),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FinishBody {
    status: String,
    result: Option<Value>,
    error: Option<String>,
}

pub(crate) async fn finish_operation(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    Id(id): Id,
    Body(body): Body<FinishBody>,
) -> Result<Json<Value>, ApiError> {
    let status = match OperationStatus::parse(&body.status) {
        Some(OperationStatus::Active) | None => {
            return Err(ApiError::bad_request(
                "invalid",
                "status must be succeeded, failed or conflict",
            ));
        }
        Some(status) => status,
    };
    let store = state.coordinator.store();
    let known = store
        .operations(&OperationFilter {
            status: Some(OperationStatus::Active),
            limit: Some(10_000),
            ..OperationFilter::default()
        })
        .await?
        .into_iter()
        .find(|o| o.id == id);
    let Some(operation) = known else {
        return Err(ApiError::not_found(format!("no active operation `{id}`")));
    };
    let (event, duration_ms) = store
        .finish_operation(&id, status, body.result, body.error.as_deref())
        .await?;
    state.coordinator.metrics().operation(
        &operation.kind,
        status.as_str(),
        duration_ms as f64 / 1000.0,
    );
    state.coordinator.publish(vec![event]);
    Ok(Json(json!({"id": id, "status": status})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertQuery {
    pub(crate) hours: Option<f64>,
    pub(crate) severity: Option<String>,
    pub(crate) acknowledged: Option<bool>,
}

impl AlertQuery {
    pub(crate) fn filter(self) -> Result<AlertFilter, ApiError> {
        if let Some(severity) = &self.severity
            && !["warning", "critical"].contains(&severity.as_str())
        {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("severity `{severity}`: expected warning or critical"),
            ));
        }
        Ok(AlertFilter {
            hours: hours_ms(self.hours)?.map(|ms| ms as f64 / 3_600_000.0),
            severity: self.severity,
            acknowledged: self.acknowledged,
        })
    }
}

pub(crate) async fn alerts(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Params(query): Params<AlertQuery>,
) -> Result<Json<Value>, ApiError> {
    // Evaluate now, so the answer is current rather than up to 15 s old.
    state.coordinator.evaluate_alerts().await?;
    let alerts = state.coordinator.store().alerts(&query.filter()?).await?;
    Ok(Json(json!({"alerts": alerts})))
}

pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    authorized: Authorized<WriteScope>,
    Id(id): Id,
) -> Result<Json<weft_store::Alert>, ApiError> {
    Ok(Json(
        state
            .coordinator
            .acknowledge_alert(&id, &authorized.caller.0)
            .await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CleanupBody {
    /// Keep records younger than this (default: the configured retention).
    retention: Option<String>,
}

pub(crate) async fn cleanup(
    State(state): State<AppState>,
    _: Authorized<AdminScope>,
    BodyOrDefault(body): BodyOrDefault<CleanupBody>,
) -> Result<Json<weft_store::CleanupReport>, ApiError> {
    let retention = body
        .retention
        .as_deref()
        .map(|text| super::duration_ms("retention", text))
        .transpose()?;
    Ok(Json(state.coordinator.store().cleanup(retention).await?))
}
