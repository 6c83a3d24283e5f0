//! The GitHub Actions endpoints: workflow dispatch, runs (dispatched ones
//! and a fixture's past ones), a run's jobs and a job's logs.

use std::time::{Instant, SystemTime};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::filter::RunFilter;
use super::paging::Page;
use super::repository::{HostedRepository, object_id};
use super::run::{Phase, Run};
use super::state::{LogGrant, Shared, State as FakeState, lock};

const DISPATCH_DOCS: &str =
    "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event";
const RUN_DOCS: &str = "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run";
const RUNS_DOCS: &str =
    "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository";
const JOBS_DOCS: &str =
    "https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run";
const LOGS_DOCS: &str =
    "https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run";
/// GitHub's cap on `workflow_dispatch` inputs.
const MAX_INPUTS: usize = 25;

/// The body as JSON: 400 `Problems parsing JSON` as GitHub answers when not.
pub(crate) fn parse_body(body: &Bytes, docs: &'static str) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON", docs))?;
    match value {
        Value::Object(object) => Ok(object),
        other => Err(ApiError::invalid_request(
            &format!("For 'links/0/schema', {other} is not an object."),
            docs,
        )),
    }
}

fn hosted<'s>(
    state: &'s FakeState,
    owner: &str,
    repo: &str,
    docs: &'static str,
) -> Result<&'s HostedRepository, ApiError> {
    state
        .repository(owner, repo)
        .ok_or_else(|| ApiError::not_found(docs))
}

/// `POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches`
pub(crate) async fn dispatch_workflow(
    State(shared): State<Shared>,
    Path((owner, repo, workflow_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body, DISPATCH_DOCS)?;
    let mut state = lock(&shared);
    let repository = hosted(&state, &owner, &repo, DISPATCH_DOCS)?;
    let index = repository
        .repository
        .workflows
        .iter()
        .zip(&repository.workflow_ids)
        .position(|(w, id)| w.file == workflow_id || id.to_string() == workflow_id)
        .ok_or_else(|| ApiError::not_found(DISPATCH_DOCS))?;
    let workflow = repository.repository.workflows[index].clone();
    let workflow_id = repository.workflow_ids[index];
    let full_name = repository.repository.full_name();
    let invalid = |detail: String| ApiError::invalid_request(&detail, DISPATCH_DOCS);

    if let Some(key) = body
        .keys()
        .find(|k| !["ref", "inputs", "return_run_details"].contains(&k.as_str()))
    {
        return Err(invalid(format!("\"{key}\" is not a permitted key.")));
    }
    if body.contains_key("return_run_details") && !state.run_details_supported {
        // Older GitHub Enterprise Server does not know the key at all.
        return Err(invalid(
            "\"return_run_details\" is not a permitted key.".into(),
        ));
    }
    let return_run_details = match body.get("return_run_details") {
        None => false,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => {
            return Err(invalid(format!(
                "For 'properties/return_run_details', {other} is not a boolean."
            )));
        }
    };
    let git_ref = match body.get("ref") {
        None => return Err(invalid("\"ref\" wasn't supplied.".into())),
        Some(Value::String(git_ref)) => git_ref.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "For 'properties/ref', {other} is not a string."
            )));
        }
    };
    let inputs = match body.get("inputs") {
        None => Map::new(),
        Some(Value::Object(inputs)) => inputs.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "For 'properties/inputs', {other} is not an object."
            )));
        }
    };
    if inputs.len() > MAX_INPUTS {
        return Err(invalid(format!(
            "For 'properties/inputs', {} properties is more than the maximum of {MAX_INPUTS}.",
            inputs.len()
        )));
    }
    if let Some(declared) = &workflow.inputs {
        let unexpected: Vec<&String> = inputs.keys().filter(|k| !declared.contains(k)).collect();
        if !unexpected.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Unexpected inputs provided: {}", json!(unexpected)),
                DISPATCH_DOCS,
            ));
        }
    }
    let branch = git_ref.strip_prefix("refs/heads/").unwrap_or(&git_ref);
    if !repository.has_branch(branch) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("No ref found for: {git_ref}"),
            DISPATCH_DOCS,
        ));
    }
    let branch = branch.to_string();

    let number = state.next_number();
    let run_number = 1 + state
        .runs
        .iter()
        .filter(|r| r.workflow_id == workflow_id)
        .count() as u64;
    let display_title = match inputs.get("correlation_id") {
        Some(Value::String(id)) => format!("{} {id}", workflow.name),
        Some(Value::Null) | None => workflow.name.clone(),
        Some(other) => format!("{} {other}", workflow.name),
    };
    let run = Run {
        id: 12_000_000_000 + number,
        job_id: 34_000_000_000 + number,
        run_number,
        head_sha: object_id(&format!("{full_name} {branch}")),
        repository: full_name,
        workflow_id,
        workflow_file: workflow.file.clone(),
        workflow_name: workflow.name.clone(),
        head_branch: branch,
        inputs,
        display_title,
        conclusion: workflow.conclusion,
        duration: workflow.duration,
        dispatched: Instant::now(),
        dispatched_at: SystemTime::now(),
        log: workflow.log.clone(),
        event: "workflow_dispatch".to_string(),
        job_name: workflow.name.clone(),
        past: false,
    };
    let details = json!({
        "workflow_run_id": run.id,
        "run_url": format!("{}/repos/{}/actions/runs/{}", state.base, run.repository, run.id),
        "html_url": run.html_url(),
    });
    state.runs.push(run);
    Ok(if return_run_details {
        (StatusCode::OK, Json(details)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

/// `GET /repos/{owner}/{repo}/actions/runs`, newest first (by creation).
pub(crate) async fn list_runs(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let filter = RunFilter::from_query(&query).map_err(|bad| {
        ApiError::invalid_request(&format!("Invalid created parameter: {}", bad.0), RUNS_DOCS)
    })?;
    let page = Page::from_query(&query);
    let state = lock(&shared);
    let repository = hosted(&state, &owner, &repo, RUNS_DOCS)?;
    let full_name = repository.repository.full_name();
    let now = Instant::now();
    let mut runs: Vec<&Run> = state
        .runs
        .iter()
        .filter(|r| r.repository == full_name && filter.matches(r, now))
        .collect();
    runs.sort_by(|a, b| b.dispatched_at.cmp(&a.dispatched_at).then(b.id.cmp(&a.id)));
    let total = runs.len();
    let items: Vec<Value> = page
        .slice(runs)
        .into_iter()
        .map(|r| r.json(&state.base, repository, now))
        .collect();
    let url = format!("{}/repos/{owner}/{repo}/actions/runs", state.base);
    let mut response = Json(json!({"total_count": total, "workflow_runs": items})).into_response();
    if let Some(link) = page.link(total, &url, &query)
        && let Ok(value) = HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

fn find_run<'s>(
    state: &'s FakeState,
    repository: &HostedRepository,
    run_id: &str,
    docs: &'static str,
) -> Result<&'s Run, ApiError> {
    let full_name = repository.repository.full_name();
    state
        .runs
        .iter()
        .find(|r| r.repository == full_name && r.id.to_string() == run_id)
        .ok_or_else(|| ApiError::not_found(docs))
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}`
pub(crate) async fn get_run(
    State(shared): State<Shared>,
    Path((owner, repo, run_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let state = lock(&shared);
    let repository = hosted(&state, &owner, &repo, RUN_DOCS)?;
    let run = find_run(&state, repository, &run_id, RUN_DOCS)?;
    Ok(Json(run.json(&state.base, repository, Instant::now())).into_response())
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs`: one job per run.
pub(crate) async fn list_jobs(
    State(shared): State<Shared>,
    Path((owner, repo, run_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let state = lock(&shared);
    let repository = hosted(&state, &owner, &repo, JOBS_DOCS)?;
    let run = find_run(&state, repository, &run_id, JOBS_DOCS)?;
    let job = run.job_json(&state.base, Instant::now());
    Ok(Json(json!({"total_count": 1, "jobs": [job]})).into_response())
}

/// `GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs`: 302 to a
/// short-lived URL that needs no token, once the run has completed.
pub(crate) async fn job_logs(
    State(shared): State<Shared>,
    Path((owner, repo, job_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let mut state = lock(&shared);
    let repository = hosted(&state, &owner, &repo, LOGS_DOCS)?;
    let full_name = repository.repository.full_name();
    let run = state
        .runs
        .iter()
        .find(|r| r.repository == full_name && r.job_id.to_string() == job_id)
        .ok_or_else(|| ApiError::not_found(LOGS_DOCS))?;
    if run.phase(Instant::now()) != Phase::Completed {
        return Err(ApiError::not_found(LOGS_DOCS));
    }
    let job_id = run.job_id;
    let token: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
    let location = format!("{}/_logs/{job_id}?token={token}", state.base);
    let expires = Instant::now() + state.log_url_lifetime;
    state.log_grants.insert(token, LogGrant { job_id, expires });
    let location = HeaderValue::from_str(&location)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Server Error", LOGS_DOCS))?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}
