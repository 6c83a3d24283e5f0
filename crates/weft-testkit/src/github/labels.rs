//! An issue's or pull request's labels: list, add
//! (`POST /repos/{owner}/{repo}/issues/{issue_number}/labels`) and remove
//! one (`DELETE …/labels/{name}`), each change a `labeled` or `unlabeled`
//! event of the token's user on the timeline.

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::issues::{find_issue, hosted_name, labels_field};
use super::state::{Shared, lock};
use super::user::User;

const LIST_DOCS: &str = "https://docs.github.com/rest/issues/labels#list-labels-for-an-issue";
const ADD_DOCS: &str = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue";
const REMOVE_DOCS: &str = "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue";

/// `GET /repos/{owner}/{repo}/issues/{issue_number}/labels`
pub(crate) async fn list_labels(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let repository = hosted_name(state, &owner, &repo, LIST_DOCS)?;
    let issue = find_issue(&mut state.issues, &repository, &number, LIST_DOCS)?;
    Ok(Json(issue.labels_json(&state.base)).into_response())
}

/// `POST /repos/{owner}/{repo}/issues/{issue_number}/labels`: `{"labels":
/// [...]}` or a bare array; 200 with all the labels it has now.
pub(crate) async fn add_labels(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON", ADD_DOCS))?;
    let object = match value {
        Value::Array(items) => {
            let mut object = serde_json::Map::new();
            object.insert("labels".into(), Value::Array(items));
            object
        }
        Value::Object(object) => object,
        other => {
            return Err(ApiError::invalid_request(
                &format!("For 'links/0/schema', {other} is not an object or an array."),
                ADD_DOCS,
            ));
        }
    };
    let labels = labels_field(&object, ADD_DOCS)?
        .ok_or_else(|| ApiError::invalid_request("\"labels\" wasn't supplied.", ADD_DOCS))?;
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let repository = hosted_name(state, &owner, &repo, ADD_DOCS)?;
    let issue = find_issue(&mut state.issues, &repository, &number, ADD_DOCS)?;
    let now = SystemTime::now();
    issue.label(&labels, &User::token(), now, &mut state.ids);
    issue.updated = now;
    Ok(Json(issue.labels_json(&state.base)).into_response())
}

/// `DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}`: 200
/// with the labels left; 404 `Label does not exist` when it is not on.
pub(crate) async fn remove_label(
    State(shared): State<Shared>,
    Path((owner, repo, number, name)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let repository = hosted_name(state, &owner, &repo, REMOVE_DOCS)?;
    let issue = find_issue(&mut state.issues, &repository, &number, REMOVE_DOCS)?;
    let now = SystemTime::now();
    if !issue.unlabel(&name, &User::token(), now, &mut state.ids) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Label does not exist",
            REMOVE_DOCS,
        ));
    }
    issue.updated = now;
    Ok(Json(issue.labels_json(&state.base)).into_response())
}
