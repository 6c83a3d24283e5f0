//! The routes: the API behind its gate, and the log download URL beside it,
//! all recorded.

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::error::{ApiError, REST_DOCS};
use serde_json::{Value, json};

use super::state::{Shared, lock};
use super::{
    actions, branches, commit, events, gate, issues, labels, logs, pulls, releases, repos, timeline,
};

pub(crate) fn router(shared: Shared) -> Router {
    let api = Router::new()
        .route("/repos/{owner}/{repo}", get(repos::get_repository))
        .route(
            "/repos/{owner}/{repo}/dispatches",
            post(repos::create_dispatch_event),
        )
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
            post(actions::dispatch_workflow),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs",
            get(actions::list_runs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}",
            get(actions::get_run),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
            get(actions::list_jobs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs",
            get(actions::job_logs),
        )
        .route(
            "/repos/{owner}/{repo}/issues",
            get(issues::list_issues).post(issues::create_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}",
            get(issues::get_issue).patch(issues::update_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            get(issues::list_comments).post(issues::create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}/timeline",
            get(timeline::list_timeline),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            get(labels::list_labels).post(labels::add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
            delete(labels::remove_label),
        )
        .route("/orgs/{org}/repos", get(repos::list_org_repositories))
        .route(
            "/users/{username}/repos",
            get(repos::list_user_repositories),
        )
        .route("/repos/{owner}/{repo}/events", get(events::list_events))
        .route("/repos/{owner}/{repo}/pulls", get(pulls::list_pulls))
        .route(
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            get(pulls::get_pull).patch(pulls::update_pull),
        )
        .route(
            "/repos/{owner}/{repo}/branches",
            get(branches::list_branches),
        )
        .route(
            "/repos/{owner}/{repo}/branches/{*branch}",
            get(branches::get_branch),
        )
        .route(
            "/repos/{owner}/{repo}/git/refs/heads/{*branch}",
            delete(branches::delete_branch),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{*ref}",
            get(commit::get_commit),
        )
        .route(
            "/repos/{owner}/{repo}/releases",
            get(releases::list_releases),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(from_fn_with_state(shared.clone(), gate::api_gate));
    Router::new()
        .route("/_logs/{job_id}", get(logs::download))
        .merge(api)
        .layer(from_fn_with_state(shared.clone(), gate::record))
        // Not GitHub's, and not recorded: what a benchmark reads at the end.
        .route("/_stats", get(stats))
        .with_state(shared)
}

/// How many requests the fake answered, and how many were 304s.
async fn stats(State(shared): State<Shared>) -> Json<Value> {
    let state = lock(&shared);
    let not_modified = state.requests.iter().filter(|r| r.status == 304).count();
    Json(json!({"requests": state.requests.len(), "not_modified": not_modified}))
}

/// GitHub answers unknown paths and methods with a 404.
async fn not_found() -> ApiError {
    ApiError::not_found(REST_DOCS)
}
