//! The coordination seed's paths, kept as aliases under
//! `/api/coordination/…` with the seed's camelCase request and response
//! shapes. Each delegates to the `/api/v1/` implementation.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::analysis::{self, DependencyQuery, ResolveBody, tracked};
use super::records::{self, AlertQuery, OperationQuery};
use crate::auth::{AdminScope, Authorized, HealthAccess, ReadScope, WriteScope};
use crate::error::ApiError;
use crate::extract::{BodyOrDefault, Params};
use crate::state::AppState;

pub(crate) async fn dependencies(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Params(query): Params<DependencyQuery>,
) -> Result<Json<Value>, ApiError> {
    let include = query.include_transitive.unwrap_or(false);
    let services = tracked(&state, "analysis", move |model, _| {
        let services = analysis::dependencies_of(&model, &query)?;
        let summary = json!({"analysis": "dependencies", "services": services.len()});
        Ok((services, summary))
    })
    .await?;
    let dependencies: Vec<Value> = services
        .iter()
        .map(|s| {
            json!({
                "service": s.service,
                "repository": s.repository,
                "dependsOn": s.dependencies.iter().map(|e| json!({
                    "service": e.to.as_str(),
                    "type": e.kind,
                    "source": e.provenance.first().map(ToString::to_string),
                })).collect::<Vec<_>>(),
                "transitiveDependencies": s.transitive,
            })
        })
        .collect();
    Ok(Json(json!({
        "success": true,
        "includeTransitive": include,
        "dependencies": dependencies,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DeploymentBody {
    #[serde(default)]
    services: Vec<String>,
    /// Accepted for the seed's shape; the plan covers the named services
    /// (or all of them).
    #[serde(default)]
    repositories: Vec<String>,
}

pub(crate) async fn coordinate_deployment(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    BodyOrDefault(body): BodyOrDefault<DeploymentBody>,
) -> Result<Json<Value>, ApiError> {
    let services = body.services;
    let repositories = body.repositories;
    let plan = tracked(&state, "deployment_plan", move |model, _| {
        let mut names = services;
        for repository in &repositories {
            if !model.repositories.iter().any(|r| &r.name == repository) {
                return Err(ApiError::bad_request(
                    "unknown_repository",
                    format!("no repository named `{repository}`"),
                ));
            }
            names.extend(
                model
                    .services
                    .iter()
                    .filter(|s| &s.repository == repository)
                    .map(|s| s.id.as_str().to_owned()),
            );
        }
        let plan = analysis::plan_of(&model, &names)?;
        let summary = json!({"phases": plan.phases.len(), "services": plan.order.len()});
        Ok((plan, summary))
    })
    .await?;
    Ok(Json(json!({
        "success": true,
        "phases": plan.phases.iter().map(|p| json!({
            "phase": p.phase,
            "services": p.services,
            "parallel": p.services.len() > 1,
        })).collect::<Vec<_>>(),
        "deploymentOrder": plan.order,
        "criticalPath": plan.critical_path,
        "cycles": plan.cycles,
    })))
}

pub(crate) async fn resource_conflicts(
    state: State<AppState>,
    authorized: Authorized<ReadScope>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = analysis::conflicts(state, authorized).await?;
    let total = body["conflicts"].as_array().map_or(0, Vec::len);
    Ok(Json(
        json!({"success": true, "total": total, "conflicts": body["conflicts"]}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedResolveBody {
    #[serde(default, alias = "conflicts")]
    conflict_ids: Vec<String>,
    strategy: Option<String>,
    dry_run: Option<bool>,
}

pub(crate) async fn resolve_conflicts(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    headers: HeaderMap,
    BodyOrDefault(body): BodyOrDefault<SeedResolveBody>,
) -> Result<Json<Value>, ApiError> {
    let result = analysis::resolve_with(
        &state,
        &headers,
        ResolveBody {
            conflicts: body.conflict_ids,
            strategy: body.strategy,
            dry_run: body.dry_run,
        },
    )
    .await?;
    Ok(Json(json!({
        "success": true,
        "dryRun": result["dry_run"],
        "resolutions": result["resolutions"],
        "diff": result["diff"],
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsQuery {
    format: Option<String>,
}

pub(crate) async fn metrics(
    State(state): State<AppState>,
    access: HealthAccess,
    Params(query): Params<MetricsQuery>,
) -> Result<Response, ApiError> {
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(crate::metrics::json(&state).await?).into_response()),
        Some("prometheus") => Ok(crate::metrics::prometheus(State(state), access)
            .await
            .into_response()),
        Some(other) => Err(ApiError::bad_request(
            "invalid_query",
            format!("format `{other}`: expected json or prometheus"),
        )),
    }
}

pub(crate) async fn alerts(
    state: State<AppState>,
    authorized: Authorized<ReadScope>,
    query: Params<AlertQuery>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = records::alerts(state, authorized, query).await?;
    let total = body["alerts"].as_array().map_or(0, Vec::len);
    Ok(Json(
        json!({"success": true, "total": total, "alerts": body["alerts"]}),
    ))
}

pub(crate) async fn operations(
    state: State<AppState>,
    authorized: Authorized<ReadScope>,
    query: Params<OperationQuery>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = records::operations(state, authorized, query).await?;
    let total = body["operations"].as_array().map_or(0, Vec::len);
    Ok(Json(
        json!({"success": true, "total": total, "operations": body["operations"]}),
    ))
}

pub(crate) async fn cleanup(
    state: State<AppState>,
    authorized: Authorized<AdminScope>,
    BodyOrDefault(body): BodyOrDefault<records::CleanupBody>,
) -> Result<Json<Value>, ApiError> {
    let Json(report) = records::cleanup(state, authorized, BodyOrDefault(body)).await?;
    Ok(Json(json!({"success": true, "cleaned": report})))
}
