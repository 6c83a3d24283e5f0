//! The repository endpoints: the repository itself, an owner's
//! repositories and `repository_dispatch`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::actions::parse_body;
use super::error::ApiError;
use super::paging::{Page, param};
use super::repository::HostedRepository;
use super::state::{RepositoryDispatch, Shared, lock};

const REPOSITORY_DOCS: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";
const ORG_DOCS: &str = "https://docs.github.com/rest/repos/repos#list-organization-repositories";
const USER_DOCS: &str = "https://docs.github.com/rest/repos/repos#list-repositories-for-a-user";
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
    let open = state.open_issues(&repository.repository.full_name());
    Ok(Json(repository.full_json(&state.base, open)).into_response())
}

/// `GET /orgs/{org}/repos`: 404 when no hosted repository has that owner.
pub(crate) async fn list_org_repositories(
    State(shared): State<Shared>,
    Path(org): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    list_owned(&shared, &org, &query, "created", "orgs", ORG_DOCS)
}

/// `GET /users/{username}/repos`: 404 when no hosted repository has that
/// owner.
pub(crate) async fn list_user_repositories(
    State(shared): State<Shared>,
    Path(user): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    list_owned(&shared, &user, &query, "full_name", "users", USER_DOCS)
}

/// The repositories of `owner` as a list gives them (`minimal-repository`
/// objects with most of a full one's fields), by `type` (`all`, `public`,
/// `private`, `sources`…), `sort` (`created`, `updated`, `pushed`,
/// `full_name`) and `direction` (`asc` for `full_name`, else `desc`), paged.
fn list_owned(
    shared: &Shared,
    owner: &str,
    query: &[(String, String)],
    default_sort: &str,
    collection: &str,
    docs: &'static str,
) -> Result<Response, ApiError> {
    let sort = param(query, "sort").unwrap_or(default_sort);
    if !matches!(sort, "created" | "updated" | "pushed" | "full_name") {
        return Err(ApiError::invalid_request(
            &format!("For 'sort', \"{sort}\" is not one of created, updated, pushed, full_name."),
            docs,
        ));
    }
    let default_direction = if sort == "full_name" { "asc" } else { "desc" };
    let descending = param(query, "direction").unwrap_or(default_direction) == "desc";
    let kind = param(query, "type").unwrap_or("all");
    let page = Page::from_query(query);
    let state = lock(shared);
    let mut owned: Vec<&HostedRepository> = state
        .repositories
        .iter()
        .filter(|r| r.repository.owner.eq_ignore_ascii_case(owner))
        .collect();
    if owned.is_empty() {
        return Err(ApiError::not_found(docs));
    }
    owned.retain(|r| match kind {
        "public" => !r.repository.private,
        "private" => r.repository.private,
        "forks" => false,
        _ => true,
    });
    owned.sort_by(|a, b| match sort {
        "full_name" => a
            .repository
            .full_name()
            .to_ascii_lowercase()
            .cmp(&b.repository.full_name().to_ascii_lowercase()),
        "pushed" => a.pushed_at.cmp(&b.pushed_at).then(a.id.cmp(&b.id)),
        _ => a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)),
    });
    if descending {
        owned.reverse();
    }
    let total = owned.len();
    let items = page
        .slice(owned)
        .into_iter()
        .map(|r| {
            let open = state.open_issues(&r.repository.full_name());
            let mut object = r.full_json(&state.base, open);
            if let Value::Object(fields) = &mut object {
                for key in ["network_count", "subscribers_count", "temp_clone_token"] {
                    fields.remove(key);
                }
            }
            object
        })
        .collect();
    let url = format!("{}/{collection}/{owner}/repos", state.base);
    Ok(page.respond(items, total, &url, query))
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
