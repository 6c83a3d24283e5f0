//! `/api/v1/deployments`: releases through the server. `POST` plans a
//! release of the server's workspace and starts it (the same request as
//! `weft deploy run`), answering with the deployment id as soon as it is
//! recorded; `GET` lists releases or shows one, as `weft deploy status` does.
//! Their `deployment`, `step` and `gate` events go out on `/api/v1/events`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use weft_deploy::{DeployError, Plan, Progress, Release, ReleaseRequest, Signals};
use weft_model::config::Strategy;
use weft_store::{DeploymentKind, Holder};

use crate::auth::{Authorized, ReadScope, WriteScope};
use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::state::AppState;

/// The longest a release may wait for its environment.
const MAX_WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleaseBody {
    environment: String,
    /// Service → version.
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    all: bool,
    strategy: Option<String>,
    from_manifest: Option<String>,
    #[serde(default)]
    dry_run: bool,
    /// Milliseconds to wait for the environment (default 0: refuse at once).
    #[serde(default)]
    wait_ms: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    environment: Option<String>,
    limit: Option<i64>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let deployments = state
        .coordinator
        .store()
        .deployments(query.environment.as_deref(), query.limit.unwrap_or(50))
        .await?;
    Ok(axum::Json(json!({"deployments": deployments})).into_response())
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.coordinator.store().deployment(&id).await? {
        Some(record) => Ok(axum::Json(record).into_response()),
        None => Err(ApiError::not_found(format!("no deployment `{id}`"))),
    }
}

pub(crate) async fn start(
    State(state): State<AppState>,
    _: Authorized<WriteScope>,
    Body(body): Body<ReleaseBody>,
) -> Result<Response, ApiError> {
    let strategy = match body.strategy.as_deref() {
        None => None,
        Some(text) => Some(Strategy::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid",
                format!("strategy `{text}` is not sequential, parallel or canary"),
            )
        })?),
    };
    let wait = Duration::from_millis(body.wait_ms);
    if wait > MAX_WAIT {
        return Err(ApiError::bad_request(
            "invalid",
            "wait_ms must be at most one hour",
        ));
    }
    let store = state.coordinator.store().clone();
    let live = weft_deploy::manifest::live_state(&store, &body.environment).await?;
    let from_manifest = match &body.from_manifest {
        Some(id) => match store.deployment(id).await? {
            Some(record) if record.environment == body.environment => Some(record.versions),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid",
                    format!("no deployment `{id}` of environment `{}`", body.environment),
                ));
            }
        },
        None => None,
    };
    let request = ReleaseRequest {
        environment: body.environment.clone(),
        set: body.set.clone().into_iter().collect(),
        all: body.all,
        strategy,
        from_manifest,
    };
    let root = state.settings.workspace.clone();
    let current = live.versions.clone();
    let root_for_artifacts = state.settings.workspace.clone();
    let (plan, notifier, artifacts) =
        tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let model = weft_discover::discover(&root).map_err(|error| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "workspace",
                    format!("cannot read the server's workspace: {error}"),
                )
            })?;
            let plan = Plan::build(&model, &request, &current).map_err(|error| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plan", error.to_string())
            })?;
            let artifacts = weft_deploy::artifacts::Artifacts::configured(
                std::path::absolute(&root_for_artifacts)
                    .unwrap_or_else(|_| root_for_artifacts.clone())
                    .join(".weft/artifacts"),
                &model.config.artifacts,
            )
            .map_err(|error| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "artifacts",
                    error.to_string(),
                )
            })?;
            Ok((
                plan,
                weft_deploy::notify::notifier(&model.config),
                artifacts,
            ))
        })
        .await
        .map_err(|error| ApiError::internal(&error))??;
    if body.dry_run {
        return Ok(axum::Json(json!({"dry_run": true, "plan": plan})).into_response());
    }
    let release = Release {
        plan,
        kind: DeploymentKind::Release,
        rollback_of: None,
        who: json!({"via": "weft serve"}),
        holder: Holder {
            labels: [("via".to_string(), "weft serve".to_string())]
                .into_iter()
                .collect(),
            ..Holder::default()
        },
        wait,
        github: None,
        artifacts: Some(artifacts),
        notifier,
    };
    let (progress, mut events) = tokio::sync::mpsc::unbounded_channel();
    let coordinator = state.coordinator.clone();
    let environment = body.environment.clone();
    let mut job = tokio::spawn(async move {
        weft_deploy::engine::run(&coordinator, release, progress, Signals::none()).await
    });
    // Answer once the deployment is recorded (or the release could not start).
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Progress::Started { deployment }) => {
                    // Keep draining progress so the release never blocks on it.
                    tokio::spawn(async move { while events.recv().await.is_some() {} });
                    return Ok((
                        StatusCode::ACCEPTED,
                        axum::Json(json!({
                            "deployment": deployment,
                            "environment": environment,
                            "status": "running",
                            "links": {"self": format!("/api/v1/deployments/{deployment}")},
                        })),
                    )
                        .into_response());
                }
                Some(_) => {}
                None => break,
            },
            joined = &mut job => return Err(start_error(joined, &environment)),
        }
    }
    Err(start_error(job.await, &environment))
}

fn start_error(
    joined: Result<Result<weft_deploy::Outcome, DeployError>, tokio::task::JoinError>,
    environment: &str,
) -> ApiError {
    match joined {
        Ok(Err(DeployError::Busy { source, .. })) => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("environment `{environment}` is being released: {source}"),
        ),
        Ok(Err(DeployError::Plan(error))) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plan", error.to_string())
        }
        Ok(Err(error)) => ApiError::internal(&error),
        Ok(Ok(outcome)) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!(
                "release {} ended before it was announced",
                outcome.deployment
            ),
        )
        .with_details(Value::String(outcome.status.as_str().to_string())),
        Err(error) => ApiError::internal(&error),
    }
}
