//! The workspace analysis, run on the server's workspace: dependencies,
//! conflicts, the deployment plan, and conflict resolution (dry run unless
//! asked, and then only with `admin`). Each call is a tracked operation.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use weft_analysis::{Conflict, PlanSettings, ResolveSettings, find_conflicts, plan_resolutions};
use weft_model::{Edge, Model};
use weft_store::OperationStatus;
use weft_store::metrics::Metrics;

use crate::auth::{Authorized, ReadScope, Scope, WriteScope, authorize};
use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::state::AppState;

/// Runs `work` on the workspace as read now, off the async runtime, as an
/// operation of `kind`: for work that writes files from what it read.
pub(crate) async fn tracked<T: Send + 'static>(
    state: &AppState,
    kind: &'static str,
    work: impl FnOnce(&Model, PathBuf) -> Result<(T, Value), ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tracked_with_id(state, kind, work)
        .await
        .map(|(_, value)| value)
}

/// [`tracked`] for work that only reads: on the model the server holds
/// while it watches the files, when it holds one.
pub(crate) async fn tracked_read<T: Send + 'static>(
    state: &AppState,
    kind: &'static str,
    work: impl FnOnce(&Model, PathBuf) -> Result<(T, Value), ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    run_tracked(state, kind, state.model.current(), work)
        .await
        .map(|(_, value)| value)
}

/// [`tracked`], also answering the operation's id. The operation succeeds
/// with `work`'s summary as its result, or ends `conflict` when `work` answers
/// 409 and `failed` on any other error.
pub(crate) async fn tracked_with_id<T: Send + 'static>(
    state: &AppState,
    kind: &'static str,
    work: impl FnOnce(&Model, PathBuf) -> Result<(T, Value), ApiError> + Send + 'static,
) -> Result<(String, T), ApiError> {
    run_tracked(state, kind, None, work).await
}

async fn run_tracked<T: Send + 'static>(
    state: &AppState,
    kind: &'static str,
    held: Option<std::sync::Arc<weft_analysis::Analysis>>,
    work: impl FnOnce(&Model, PathBuf) -> Result<(T, Value), ApiError> + Send + 'static,
) -> Result<(String, T), ApiError> {
    let store = state.coordinator.store();
    let operation = store.start_operation(kind, None).await?;
    let root = state.settings.workspace.clone();
    let result = tokio::task::spawn_blocking(move || {
        if let Some(analysis) = held {
            return work(&analysis.model, root);
        }
        let model = weft_discover::discover(&root).map_err(|error| {
            ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "workspace",
                format!("cannot read the server's workspace: {error}"),
            )
        })?;
        work(&model, root)
    })
    .await
    .map_err(|error| ApiError::internal(&error))?;
    let (status, summary, message) = match &result {
        Ok((_, summary)) => (OperationStatus::Succeeded, Some(summary.clone()), None),
        Err(error) if error.status == axum::http::StatusCode::CONFLICT => {
            (OperationStatus::Conflict, None, Some(error.message.clone()))
        }
        Err(error) => (OperationStatus::Failed, None, Some(error.message.clone())),
    };
    let (event, duration_ms) = store
        .finish_operation(&operation, status, summary, message.as_deref())
        .await?;
    state
        .coordinator
        .metrics()
        .operation(kind, status.as_str(), duration_ms as f64 / 1000.0);
    state.coordinator.publish(vec![event]);
    result.map(|(value, _)| (operation, value))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DependencyQuery {
    /// Comma-separated repository names (default: all).
    pub(crate) repositories: Option<String>,
    #[serde(alias = "includeTransitive")]
    pub(crate) include_transitive: Option<bool>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ServiceDependencies {
    pub(crate) service: String,
    pub(crate) repository: String,
    pub(crate) dependencies: Vec<Edge>,
    /// With `include_transitive`: everything reached through the edges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transitive: Option<Vec<String>>,
}

pub(crate) fn dependencies_of(
    model: &Model,
    query: &DependencyQuery,
) -> Result<Vec<ServiceDependencies>, ApiError> {
    let wanted: Option<BTreeSet<String>> = query.repositories.as_deref().map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect()
    });
    if let Some(wanted) = &wanted {
        let known: BTreeSet<&str> = model.repositories.iter().map(|r| r.name.as_str()).collect();
        let unknown: Vec<&String> = wanted
            .iter()
            .filter(|r| !known.contains(r.as_str()))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::bad_request(
                "unknown_repository",
                format!("no repository named {unknown:?} in the workspace"),
            )
            .with_details(json!({"known": known})));
        }
    }
    let mut outgoing: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for edge in &model.edges {
        outgoing.entry(edge.from.as_str()).or_default().push(edge);
    }
    Ok(model
        .services
        .iter()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.repository)))
        .map(|service| {
            let direct: Vec<Edge> = outgoing
                .get(service.id.as_str())
                .map(|edges| edges.iter().map(|e| (*e).clone()).collect())
                .unwrap_or_default();
            let transitive = query.include_transitive.unwrap_or(false).then(|| {
                let mut seen = BTreeSet::new();
                let mut queue: VecDeque<&str> = VecDeque::from([service.id.as_str()]);
                while let Some(next) = queue.pop_front() {
                    for edge in outgoing.get(next).into_iter().flatten() {
                        if seen.insert(edge.to.as_str().to_owned()) {
                            queue.push_back(edge.to.as_str());
                        }
                    }
                }
                seen.remove(service.id.as_str());
                seen.into_iter().collect()
            });
            ServiceDependencies {
                service: service.id.as_str().to_owned(),
                repository: service.repository.clone(),
                dependencies: direct,
                transitive,
            }
        })
        .collect())
}

pub(crate) async fn dependencies(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Params(query): Params<DependencyQuery>,
) -> Result<Json<Value>, ApiError> {
    let services = tracked_read(&state, "analysis", move |model, _| {
        let services = dependencies_of(model, &query)?;
        let summary = json!({"analysis": "dependencies", "services": services.len()});
        Ok((services, summary))
    })
    .await?;
    Ok(Json(json!({"services": services})))
}

pub(crate) async fn conflicts(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
) -> Result<Json<Value>, ApiError> {
    let metrics_state = state.clone();
    let conflicts = tracked_read(&state, "analysis", |model, _| {
        let conflicts = find_conflicts(model);
        let summary = json!({"analysis": "conflicts", "conflicts": conflicts.len()});
        Ok((conflicts, summary))
    })
    .await?;
    Metrics::add(
        &metrics_state.coordinator.metrics().conflicts_found,
        conflicts.len() as u64,
    );
    Ok(Json(json!({"conflicts": conflicts})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanQuery {
    /// Comma-separated services (default: all).
    pub(crate) services: Option<String>,
}

pub(crate) fn plan_of(model: &Model, services: &[String]) -> Result<weft_analysis::Plan, ApiError> {
    let targets = services
        .iter()
        .map(|name| {
            model
                .lookup(name)
                .map(|s| s.id.clone())
                .map_err(|error| ApiError::bad_request("unknown_service", error.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let settings = PlanSettings {
        targets,
        ..PlanSettings::default()
    };
    weft_analysis::plan(model, &settings).map_err(|error| ApiError::internal(&error))
}

pub(crate) async fn plan(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Params(query): Params<PlanQuery>,
) -> Result<Json<weft_analysis::Plan>, ApiError> {
    let services: Vec<String> = query
        .services
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let plan = tracked_read(&state, "analysis", move |model, _| {
        let plan = plan_of(model, &services)?;
        let summary = json!({"analysis": "plan", "phases": plan.phases.len()});
        Ok((plan, summary))
    })
    .await?;
    Ok(Json(plan))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveBody {
    #[serde(default)]
    pub(crate) conflicts: Vec<String>,
    pub(crate) strategy: Option<String>,
    /// Default true: show the edits without writing them.
    #[serde(alias = "dryRun")]
    pub(crate) dry_run: Option<bool>,
    /// The seed alias: the type each named conflict is said to have (its
    /// `type`, or its id's kebab-case prefix); a mismatch is refused.
    #[serde(skip)]
    pub(crate) expected_types: Vec<(String, String)>,
    /// The seed alias: with a strategy, a named conflict the strategy does
    /// not fit is skipped (listed in `skipped`) instead of refusing them all.
    #[serde(skip)]
    pub(crate) skip_unfitting: bool,
}

/// The conflicts to hand to the resolver, and its settings: every conflict
/// and the ids as given, or (`skip_unfitting` with ids and a strategy) just
/// the named conflicts with no ids, so the resolver skips those the strategy
/// does not fit.
fn selection(
    found: Vec<Conflict>,
    body: ResolveBody,
) -> Result<(Vec<Conflict>, ResolveSettings), ApiError> {
    let unknown = |id: &str, found: &[Conflict]| {
        let error = weft_analysis::ResolveError::UnknownConflict {
            id: id.to_owned(),
            known: found.iter().map(|c| c.id.clone()).take(20).collect(),
        };
        ApiError::bad_request("invalid", error.to_string())
    };
    for (id, given) in &body.expected_types {
        let conflict = found
            .iter()
            .find(|c| &c.id == id)
            .ok_or_else(|| unknown(id, &found))?;
        let prefix = id.split_once(':').map_or(id.as_str(), |(prefix, _)| prefix);
        if given != conflict.kind.as_str() && given != prefix {
            return Err(ApiError::bad_request(
                "invalid",
                format!(
                    "conflict `{id}` is of type `{}`, not `{given}`",
                    conflict.kind.as_str()
                ),
            )
            .with_details(json!({"conflict": id, "type": conflict.kind.as_str()})));
        }
    }
    if !(body.skip_unfitting && body.strategy.is_some() && !body.conflicts.is_empty()) {
        let settings = ResolveSettings {
            conflicts: body.conflicts,
            strategy: body.strategy,
        };
        return Ok((found, settings));
    }
    let mut selected: Vec<Conflict> = Vec::new();
    for id in &body.conflicts {
        let conflict = found
            .iter()
            .find(|c| &c.id == id)
            .ok_or_else(|| unknown(id, &found))?;
        if !selected.iter().any(|c| &c.id == id) {
            selected.push(conflict.clone());
        }
    }
    let settings = ResolveSettings {
        conflicts: Vec::new(),
        strategy: body.strategy,
    };
    Ok((selected, settings))
}

/// Plans (and with `dry_run: false`, applies) resolutions.
pub(crate) async fn resolve_with(
    state: &AppState,
    headers: &HeaderMap,
    body: ResolveBody,
) -> Result<Value, ApiError> {
    let apply = !body.dry_run.unwrap_or(true);
    if apply {
        authorize(state, headers, Scope::Admin, false)?;
    }
    let result = tracked(state, "resolution", move |model, root| {
        let (conflicts, settings) = selection(find_conflicts(model), body)?;
        let read = |file: &str| std::fs::read_to_string(root.join(file));
        let plan =
            plan_resolutions(model, &conflicts, &settings, &read).map_err(|error| match error {
                weft_analysis::ResolveError::UnknownConflict { .. }
                | weft_analysis::ResolveError::UnknownStrategy { .. } => {
                    ApiError::bad_request("invalid", error.to_string())
                }
                other => ApiError::internal(&other),
            })?;
        let diff = plan.unified_diff();
        if apply {
            plan.apply(&root)
                .map_err(|error| ApiError::internal(&error))?;
        }
        let automatic = plan.resolutions.iter().filter(|r| r.automatic).count();
        let summary = json!({"resolutions": plan.resolutions.len(), "automatic": automatic,
                             "skipped": plan.skipped.len(), "applied": apply});
        Ok((
            (
                json!({"applied": apply, "dry_run": !apply, "resolutions": plan.resolutions,
                       "skipped": plan.skipped, "diff": diff}),
                automatic,
            ),
            summary,
        ))
    })
    .await?;
    if apply {
        Metrics::add(
            &state.coordinator.metrics().conflicts_resolved,
            result.1 as u64,
        );
    }
    Ok(result.0)
}

pub(crate) async fn resolve(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    headers: HeaderMap,
    Body(body): Body<ResolveBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(resolve_with(&state, &headers, body).await?))
}
