//! The repository endpoints: the repository itself and `repository_dispatch`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::actions::parse_body;
use super::error::ApiError;
use super::state::{RepositoryDispatch, Shared, lock};

const REPOSITORY_DOCS: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";
const DISPATCH_DOCS: &str =
    "https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event";
/// GitHub's limits on a `repository_dispatch` event.
const MAX_EVENT_TYPE_CHARACTERS: usize = 100;
const MAX_PAYLOAD_KEYS: usize = 10;
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// `GET /repos/{owner}/{repo}`
pub(crate) async fn get_repository(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let state = lock(&shared);
    let repository = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(REPOSITORY_DOCS))?;
    Ok(Json(repository.full_json(&state.base)).into_response())
}

/// `POST /repos/{owner}/{repo}/dispatches`: 204, or 422 past GitHub's limits
/// (an `event_type` of 1 to 100 characters; a `client_payload` object of at
/// most 10 top-level keys and under 64 KB).
pub(crate) async fn create_dispatch_event(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body, DISPATCH_DOCS)?;
    let mut state = lock(&shared);
    let repository = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(DISPATCH_DOCS))?
        .repository
        .full_name();
    let invalid = |detail: String| ApiError::invalid_request(&detail, DISPATCH_DOCS);
    let event_type = match body.get("event_type") {
        None => return Err(invalid("\"event_type\" wasn't supplied.".into())),
        Some(Value::String(event_type)) => event_type.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "For 'properties/event_type', {other} is not a string."
            )));
        }
    };
    let characters = event_type.chars().count();
    if characters == 0 || characters > MAX_EVENT_TYPE_CHARACTERS {
        return Err(invalid(format!(
            "For 'properties/event_type', \"{event_type}\" is {} (between 1 and \
             {MAX_EVENT_TYPE_CHARACTERS} characters).",
            if characters == 0 {
                "too short"
            } else {
                "too long"
            }
        )));
    }
    let client_payload = match body.get("client_payload") {
        None => Value::Object(serde_json::Map::new()),
        Some(Value::Object(payload)) => {
            if payload.len() > MAX_PAYLOAD_KEYS {
                return Err(invalid(format!(
                    "For 'properties/client_payload', {} properties is more than the \
                     maximum of {MAX_PAYLOAD_KEYS}.",
                    payload.len()
                )));
            }
            Value::Object(payload.clone())
        }
        Some(other) => {
            return Err(invalid(format!(
                "For 'properties/client_payload', {other} is not an object."
            )));
        }
    };
    let size = client_payload.to_string().len();
    if size >= MAX_PAYLOAD_BYTES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("client_payload is {size} bytes; it must be less than 64KB"),
            DISPATCH_DOCS,
        ));
    }
    state.repository_dispatches.push(RepositoryDispatch {
        repository,
        event_type,
        client_payload,
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}
