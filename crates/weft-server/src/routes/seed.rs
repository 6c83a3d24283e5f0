//! The coordination seed's paths, kept as aliases under
//! `/api/coordination/…` with the seed's camelCase request and response
//! shapes (docs/json.md, "Coordination API aliases", lists every field).
//! Dependencies and deployment coordination work at repository level, as the
//! seed does; the rest delegates to the `/api/v1/` implementation.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use weft_analysis::find_conflicts;
use weft_model::Severity;
use weft_store::metrics::Metrics;
use weft_store::time::{now_ms, rfc3339};
use weft_store::{OperationFilter, OperationStatus};

use super::analysis::{self, DependencyQuery, ResolveBody, tracked_read, tracked_with_id};
use super::records::{self, AlertQuery, OperationQuery};
use crate::auth::{AdminScope, Authorized, HealthAccess, ReadScope, WriteScope};
use crate::error::ApiError;
use crate::extract::{BodyOrDefault, Params};
use crate::repository_plan::{RepositoryGraph, conflicts_among, cycle_path, named_in_cycle};
use crate::state::AppState;

/// A repository's deployment estimate, in seconds, when the store has no
/// finished deployment of it: the seed's own figure for a one-repository
/// phase (its example phase says 45, which is also what its reference
/// implementation gives one repository: 30 s a phase plus 15 s a
/// repository).
pub(crate) const DEFAULT_DEPLOYMENT_SECONDS: u64 = 45;

/// How many of a repository's most recent deployments the estimate reads.
const ESTIMATE_SAMPLES: usize = 20;

/// `a,b , c,a` → `[a, b, c]`: trimmed, empty names dropped, first kept.
fn repository_list(text: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in text.unwrap_or_default().split(',').map(str::trim) {
        if !name.is_empty() && !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// The named repositories, checked against the workspace; every repository
/// when none is named.
fn known_repositories(
    graph: &RepositoryGraph<'_>,
    named: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    if named.is_empty() {
        return Ok(graph.repositories().to_vec());
    }
    let unknown = graph.unknown(&named);
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|name| format!("`{name}`")).collect();
        return Err(ApiError::bad_request(
            "unknown_repository",
            format!("no repository named {} in the workspace", list.join(", ")),
        )
        .with_details(json!({"unknown": unknown, "known": graph.repositories()})));
    }
    Ok(named)
}

pub(crate) async fn dependencies(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Params(query): Params<DependencyQuery>,
) -> Result<Json<Value>, ApiError> {
    let include = query.include_transitive.unwrap_or(false);
    let named = repository_list(query.repositories.as_deref());
    let body = tracked_read(&state, "analysis", move |model, _| {
        let graph = RepositoryGraph::new(model);
        let named = known_repositories(&graph, named)?;
        let plan = graph.plan(&named, None);
        let mut direct = Map::new();
        let mut transitive = Map::new();
        let (mut repository_edges, mut service_edges) = (0, 0);
        for repository in &named {
            let dependencies: Vec<Value> = graph
                .direct(repository)
                .into_iter()
                .map(|(edge, services)| {
                    repository_edges += 1;
                    service_edges += services.len();
                    json!({
                        "repository": edge.to,
                        "type": edge.kind.as_str(),
                        "edges": edge.edges,
                        "services": services.iter().map(|e| service_edge(e)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            direct.insert(repository.clone(), Value::from(dependencies));
            if include {
                transitive.insert(repository.clone(), json!(graph.transitive(repository)));
            }
        }
        let circular: Vec<Vec<String>> = plan.cycles.iter().map(cycle_path).collect();
        let cuts: Vec<Value> = plan
            .cycles
            .iter()
            .map(|c| json!({"from": c.cut.from, "to": c.cut.to}))
            .collect();
        let summary = json!({"analysis": "repository_dependencies", "repositories": named.len(),
                             "dependencies": repository_edges, "cycles": circular.len()});
        let body = json!({
            "repositories": named,
            "directDependencies": direct,
            "transitiveDependencies": transitive,
            "circularDependencies": circular,
            "deploymentOrder": plan.order(),
            "metadata": {
                "analyzedAt": rfc3339(now_ms()),
                "repositoryCount": named.len(),
                "dependencyCount": repository_edges,
                "serviceDependencyCount": service_edges,
                "includeTransitive": include,
                "cutEdges": cuts,
            },
        });
        Ok((body, summary))
    })
    .await?;
    Ok(Json(body))
}

/// One service edge behind a repository dependency.
fn service_edge(edge: &weft_model::Edge) -> Value {
    let mut value = json!({
        "from": edge.from.as_str(),
        "to": edge.to.as_str(),
        "type": edge.kind.as_str(),
        "provenance": edge.provenance,
    });
    if edge.explicit {
        value["explicit"] = Value::Bool(true);
    }
    value
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DeploymentBody {
    /// Default: every repository.
    #[serde(default)]
    repositories: Vec<String>,
    #[serde(default)]
    options: DeploymentOptions,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeploymentOptions {
    /// Default true.
    allow_parallel: Option<bool>,
    #[serde(default)]
    ignore_conflicts: bool,
    /// Seconds the whole deployment may take.
    timeout: Option<u64>,
}

/// A repository's deployment estimate.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    seconds: u64,
    samples: usize,
}

/// Each repository's estimate from recorded deployments: the median of its
/// most recent finished ones, rounded up to a whole second (at least 1), or
/// [`DEFAULT_DEPLOYMENT_SECONDS`] with none. A deployment names a repository
/// when it is a succeeded operation of type `deployment` whose `resource` is
/// the repository's name or `repository:NAME`.
fn estimates(recorded: &[(String, i64)], repositories: &[String]) -> BTreeMap<String, Estimate> {
    repositories
        .iter()
        .map(|name| {
            let prefixed = format!("repository:{name}");
            let mut durations: Vec<i64> = recorded
                .iter()
                .filter(|(resource, _)| resource == name || *resource == prefixed)
                .map(|(_, ms)| *ms)
                .take(ESTIMATE_SAMPLES)
                .collect();
            durations.sort_unstable();
            let estimate = match durations.get(durations.len() / 2) {
                Some(&median) => Estimate {
                    seconds: u64::try_from(median.max(0))
                        .unwrap_or(0)
                        .div_ceil(1000)
                        .max(1),
                    samples: durations.len(),
                },
                None => Estimate {
                    seconds: DEFAULT_DEPLOYMENT_SECONDS,
                    samples: 0,
                },
            };
            (name.clone(), estimate)
        })
        .collect()
}

/// `(resource, duration_ms)` of the finished deployments, newest first.
async fn recorded_deployments(state: &AppState) -> Result<Vec<(String, i64)>, ApiError> {
    let operations = state
        .coordinator
        .store()
        .operations(&OperationFilter {
            status: Some(OperationStatus::Succeeded),
            kind: Some("deployment".to_owned()),
            since_ms: None,
            limit: Some(10_000),
        })
        .await?;
    Ok(operations
        .into_iter()
        .filter_map(|o| Some((o.resource?, o.duration_ms?)))
        .collect())
}

pub(crate) async fn coordinate_deployment(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    BodyOrDefault(body): BodyOrDefault<DeploymentBody>,
) -> Result<Json<Value>, ApiError> {
    let options = body.options;
    if options.timeout == Some(0) {
        return Err(ApiError::bad_request(
            "invalid",
            "options.timeout: give the seconds the deployment may take, at least 1",
        )
        .with_details(json!({"field": "options.timeout"})));
    }
    let allow_parallel = options.allow_parallel.unwrap_or(true);
    let ignore_conflicts = options.ignore_conflicts;
    let recorded = recorded_deployments(&state).await?;
    let requested = body.repositories;
    let (id, mut coordination) = tracked_with_id(&state, "coordination", move |model, _| {
        let graph = RepositoryGraph::new(model);
        let mut named: Vec<String> = Vec::new();
        for name in requested {
            if !named.contains(&name) {
                named.push(name);
            }
        }
        let named = known_repositories(&graph, named)?;
        let max_parallel = if allow_parallel {
            None
        } else {
            NonZeroUsize::new(1)
        };
        let plan = graph.plan(&named, max_parallel);
        let named_set: BTreeSet<&str> = named.iter().map(String::as_str).collect();
        let among: Vec<_> = plan
            .cycles
            .iter()
            .filter(|cycle| named_in_cycle(cycle, &named_set) >= 2)
            .collect();
        let blocking: Vec<Vec<String>> = among
            .iter()
            .filter(|cycle| cycle.severity == Severity::Error)
            .map(|cycle| cycle_path(cycle))
            .collect();
        if !blocking.is_empty() {
            let text: Vec<String> = blocking.iter().map(|path| path.join(" -> ")).collect();
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "circular_dependencies",
                format!("circular dependencies detected: {}", text.join(", ")),
            )
            .with_details(json!({"circularDependencies": blocking})));
        }
        let conflicts = conflicts_among(find_conflicts(model), &named_set);
        if !conflicts.is_empty() && !ignore_conflicts {
            let ids: Vec<&str> = conflicts.iter().map(|c| c.id.as_str()).collect();
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "resource_conflicts",
                format!("resource conflicts detected: {}", ids.join(", ")),
            )
            .with_details(json!({"conflicts": conflicts})));
        }
        let estimates = estimates(&recorded, &named);
        let phases: Vec<Value> = plan
            .phases
            .iter()
            .enumerate()
            .map(|(index, repositories)| {
                let seconds = repositories
                    .iter()
                    .filter_map(|name| estimates.get(name))
                    .map(|e| e.seconds)
                    .max()
                    .unwrap_or(0);
                json!({
                    "phase": index + 1,
                    "repositories": repositories,
                    "parallel": allow_parallel && repositories.len() > 1,
                    "estimatedDuration": seconds,
                })
            })
            .collect();
        let per_repository: Map<String, Value> = estimates
            .iter()
            .map(|(name, estimate)| {
                let source = if estimate.samples > 0 {
                    "recorded"
                } else {
                    "default"
                };
                let value = json!({"estimatedDuration": estimate.seconds,
                                   "samples": estimate.samples, "source": source});
                (name.clone(), value)
            })
            .collect();
        let summary = json!({"repositories": named, "phases": phases.len(),
                             "conflicts_ignored": conflicts.len()});
        let coordination = json!({
            "status": "ready",
            "phases": phases,
            "repositories": named,
            "conflicts": conflicts,
            "circularDependencies": among.iter().map(|c| cycle_path(c)).collect::<Vec<_>>(),
            "estimates": per_repository,
            "createdAt": rfc3339(now_ms()),
        });
        Ok((coordination, summary))
    })
    .await?;
    coordination["id"] = Value::String(id);
    let phases = coordination["phases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total: u64 = phases
        .iter()
        .filter_map(|p| p["estimatedDuration"].as_u64())
        .sum();
    let mut deployment = json!({
        "totalPhases": phases.len(),
        "parallelizable": phases.iter().filter(|p| p["parallel"] == true).count(),
        "estimatedDuration": total,
    });
    if let Some(timeout) = options.timeout {
        deployment["timeout"] = json!(timeout);
        deployment["exceedsTimeout"] = json!(total > timeout);
    }
    Ok(Json(
        json!({"coordination": coordination, "deployment": deployment}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConflictQuery {
    /// Comma-separated repository names (default: all).
    repositories: Option<String>,
}

pub(crate) async fn resource_conflicts(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Params(query): Params<ConflictQuery>,
) -> Result<Json<Value>, ApiError> {
    let named = repository_list(query.repositories.as_deref());
    let (repositories, conflicts) = tracked_read(&state, "analysis", move |model, _| {
        let graph = RepositoryGraph::new(model);
        let filter = !named.is_empty();
        let named = known_repositories(&graph, named)?;
        let mut conflicts = find_conflicts(model);
        if filter {
            conflicts = conflicts_among(conflicts, &named.iter().map(String::as_str).collect());
        }
        let summary = json!({"analysis": "conflicts", "conflicts": conflicts.len()});
        Ok(((named, conflicts), summary))
    })
    .await?;
    Metrics::add(
        &state.coordinator.metrics().conflicts_found,
        conflicts.len() as u64,
    );
    Ok(Json(json!({
        "success": true,
        "repositories": repositories,
        "total": conflicts.len(),
        "conflicts": conflicts,
    })))
}

/// A conflict named in the seed's resolve request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConflictReference {
    id: String,
    /// Checked against the conflict's `type` (or its id's prefix) when given.
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedResolveBody {
    #[serde(default)]
    conflicts: Vec<ConflictReference>,
    /// This alias's earlier shape: ids alone.
    #[serde(default)]
    conflict_ids: Vec<String>,
    #[serde(alias = "strategy")]
    resolution_strategy: Option<String>,
    /// Default true; `false` writes the edits and needs `admin`.
    dry_run: Option<bool>,
}

pub(crate) async fn resolve_conflicts(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    headers: HeaderMap,
    BodyOrDefault(body): BodyOrDefault<SeedResolveBody>,
) -> Result<Json<Value>, ApiError> {
    let mut ids = body.conflict_ids;
    let mut expected_types = Vec::new();
    for conflict in body.conflicts {
        if let Some(kind) = conflict.kind {
            expected_types.push((conflict.id.clone(), kind));
        }
        ids.push(conflict.id);
    }
    let result = analysis::resolve_with(
        &state,
        &headers,
        ResolveBody {
            conflicts: ids,
            strategy: body.resolution_strategy,
            dry_run: body.dry_run,
            expected_types,
            skip_unfitting: true,
        },
    )
    .await?;
    Ok(Json(json!({
        "success": true,
        "dryRun": result["dry_run"],
        "applied": result["applied"],
        "resolutions": result["resolutions"],
        "skipped": result["skipped"],
        "diff": result["diff"],
    })))
}

/// The seed's `timeRange` and `hours`: more than 0, at most a leap year.
fn hours_ms(field: &'static str, hours: Option<f64>) -> Result<Option<i64>, ApiError> {
    match hours {
        Some(h) if !(h > 0.0 && h <= 24.0 * 366.0) => Err(ApiError::bad_request(
            "invalid_query",
            format!("{field} must be more than 0 and at most 8784 (hours)"),
        )),
        Some(h) => Ok(Some((h * 3_600_000.0) as i64)),
        None => Ok(None),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct MetricsQuery {
    format: Option<String>,
    /// Hours the rates cover (default: the alert window).
    time_range: Option<f64>,
}

pub(crate) async fn metrics(
    State(state): State<AppState>,
    access: HealthAccess,
    Params(query): Params<MetricsQuery>,
) -> Result<Response, ApiError> {
    let window_ms = hours_ms("timeRange", query.time_range)?;
    match query.format.as_deref() {
        None | Some("json") => {
            Ok(Json(crate::metrics::json(&state, window_ms).await?).into_response())
        }
        // Prometheus counters are cumulative: a scraper picks its own range.
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
    Params(mut query): Params<AlertQuery>,
) -> Result<Json<Value>, ApiError> {
    // weft rates alerts `warning` or `critical`; the seed's scale maps onto
    // them.
    query.severity = query.severity.map(|severity| match severity.as_str() {
        "low" | "medium" => "warning".to_owned(),
        "high" => "critical".to_owned(),
        _ => severity,
    });
    let Json(body) = records::alerts(state, authorized, Params(query)).await?;
    let alerts: Vec<Value> = body["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut alert| {
            alert["acknowledged"] = Value::Bool(!alert["acknowledged_at"].is_null());
            alert
        })
        .collect();
    Ok(Json(
        json!({"success": true, "total": alerts.len(), "alerts": alerts}),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_lists_are_trimmed_and_deduplicated() {
        assert_eq!(repository_list(Some(" b,a,, b ")), ["b", "a"]);
        assert!(repository_list(None).is_empty());
    }

    #[test]
    fn estimates_take_the_median_of_recent_deployments_or_the_default() {
        let recorded = vec![
            ("repository:a".to_owned(), 30_000),
            ("a".to_owned(), 10_001),
            ("a".to_owned(), 90_000),
            ("ab".to_owned(), 500_000),
            ("b".to_owned(), 2),
        ];
        let names = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let estimates = estimates(&recorded, &names);
        assert_eq!(estimates["a"].seconds, 30);
        assert_eq!(estimates["a"].samples, 3);
        assert_eq!(estimates["b"].seconds, 1);
        assert_eq!(estimates["c"].seconds, DEFAULT_DEPLOYMENT_SECONDS);
        assert_eq!(estimates["c"].samples, 0);
    }

    #[test]
    fn hours_must_be_positive() {
        assert!(hours_ms("hours", Some(0.0)).is_err());
        assert!(hours_ms("hours", Some(f64::NAN)).is_err());
        assert_eq!(hours_ms("hours", Some(1.5)).ok(), Some(Some(5_400_000)));
    }
}
