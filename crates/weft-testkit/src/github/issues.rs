//! The issue endpoints: list (by state, labels and `since`, sorted, paged;
//! pull requests included, as on GitHub), create, get, update (close) and
//! comment, and a conversation's comments. They work on pull requests'
//! numbers too.

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::actions::parse_body;
use super::clock::parse_time;
use super::error::ApiError;
use super::paging::{Page, param};
use super::state::{Shared, State as FakeState, lock};
use super::stored_issue::{StoredComment, StoredIssue};
use super::user::User;

const LIST_DOCS: &str = "https://docs.github.com/rest/issues/issues#list-repository-issues";
const CREATE_DOCS: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
const GET_DOCS: &str = "https://docs.github.com/rest/issues/issues#get-an-issue";
const UPDATE_DOCS: &str = "https://docs.github.com/rest/issues/issues#update-an-issue";
const COMMENT_DOCS: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";
const COMMENTS_DOCS: &str = "https://docs.github.com/rest/issues/comments#list-issue-comments";

/// The repository's `owner/name` as hosted, or 404.
pub(crate) fn hosted_name(
    state: &FakeState,
    owner: &str,
    repo: &str,
    docs: &'static str,
) -> Result<String, ApiError> {
    state
        .repository(owner, repo)
        .map(|r| r.repository.full_name())
        .ok_or_else(|| ApiError::not_found(docs))
}

pub(crate) fn string_field(
    body: &Map<String, Value>,
    key: &str,
    docs: &'static str,
) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(ApiError::invalid_request(
            &format!("For 'properties/{key}', {other} is not a string."),
            docs,
        )),
    }
}

pub(crate) fn labels_field(
    body: &Map<String, Value>,
    docs: &'static str,
) -> Result<Option<Vec<String>>, ApiError> {
    match body.get("labels") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(name) => Ok(name.clone()),
                Value::Object(label) => label
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::invalid_request("Label objects need a name.", docs)),
                other => Err(ApiError::invalid_request(
                    &format!("For 'items', {other} is not a string or an object."),
                    docs,
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(ApiError::invalid_request(
            &format!("For 'properties/labels', {other} is not an array."),
            docs,
        )),
    }
}

/// A `since` parameter: an ISO 8601 time, or 422.
pub(crate) fn since_param(
    query: &[(String, String)],
    docs: &'static str,
) -> Result<Option<SystemTime>, ApiError> {
    param(query, "since")
        .map(|text| {
            parse_time(text).ok_or_else(|| {
                ApiError::invalid_request(
                    &format!("For 'since', \"{text}\" is not a date-time."),
                    docs,
                )
            })
        })
        .transpose()
}

/// `GET /repos/{owner}/{repo}/issues`: issues and pull requests (these with
/// `pull_request`), by `state` (`open` by default, `closed`, `all`),
/// `labels` (comma-separated, all required), `creator` and `since` (updated
/// at or after); sorted by `sort` (`created` by default, `updated`,
/// `comments`) in `direction` (`desc` by default), paged.
pub(crate) async fn list_issues(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let wanted_state = param(&query, "state").unwrap_or("open");
    if !matches!(wanted_state, "open" | "closed" | "all") {
        return Err(ApiError::invalid_request(
            &format!("For 'state', \"{wanted_state}\" is not one of open, closed, all."),
            LIST_DOCS,
        ));
    }
    let sort = param(&query, "sort").unwrap_or("created");
    if !matches!(sort, "created" | "updated" | "comments") {
        return Err(ApiError::invalid_request(
            &format!("For 'sort', \"{sort}\" is not one of created, updated, comments."),
            LIST_DOCS,
        ));
    }
    let ascending = param(&query, "direction") == Some("asc");
    let since = since_param(&query, LIST_DOCS)?;
    let labels: Vec<&str> = param(&query, "labels")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let creator = param(&query, "creator");
    let page = Page::from_query(&query);
    let state = lock(&shared);
    let repository = hosted_name(&state, &owner, &repo, LIST_DOCS)?;
    let mut issues: Vec<&StoredIssue> = state
        .issues
        .iter()
        .filter(|i| i.repository == repository)
        .filter(|i| wanted_state == "all" || i.state() == wanted_state)
        .filter(|i| {
            labels
                .iter()
                .all(|l| i.labels.iter().any(|have| have.eq_ignore_ascii_case(l)))
        })
        .filter(|i| creator.is_none_or(|c| i.author.login.eq_ignore_ascii_case(c)))
        .filter(|i| since.is_none_or(|since| i.updated >= since))
        .collect();
    let key = |issue: &StoredIssue| -> (SystemTime, usize) {
        match sort {
            "updated" => (issue.updated, 0),
            "comments" => (SystemTime::UNIX_EPOCH, issue.comments.len()),
            _ => (issue.created, 0),
        }
    };
    issues.sort_by(|a, b| key(a).cmp(&key(b)).then(a.number.cmp(&b.number)));
    if !ascending {
        issues.reverse();
    }
    let total = issues.len();
    let items = page
        .slice(issues)
        .into_iter()
        .map(|i| i.json(&state.base))
        .collect();
    let url = format!("{}/repos/{owner}/{repo}/issues", state.base);
    Ok(page.respond(items, total, &url, &query))
}

/// `POST /repos/{owner}/{repo}/issues`: 201 with the issue; 422 without a
/// title.
pub(crate) async fn create_issue(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body, CREATE_DOCS)?;
    let title = string_field(&body, "title", CREATE_DOCS)?
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_request("\"title\" wasn't supplied.", CREATE_DOCS))?;
    let text = string_field(&body, "body", CREATE_DOCS)?.unwrap_or_default();
    let labels = labels_field(&body, CREATE_DOCS)?.unwrap_or_default();
    let mut state = lock(&shared);
    let repository = hosted_name(&state, &owner, &repo, CREATE_DOCS)?;
    let number = state
        .issues
        .iter()
        .filter(|i| i.repository == repository)
        .map(|i| i.number)
        .max()
        .unwrap_or(0)
        + 1;
    let id = 2_000_000_000 + state.next_number();
    let now = SystemTime::now();
    let user = User::token();
    let mut issue = StoredIssue {
        id,
        repository,
        number,
        title,
        body: text,
        author: user.clone(),
        labels: Vec::new(),
        assignees: Vec::new(),
        milestone: None,
        closed: None,
        comments: Vec::new(),
        timeline: Vec::new(),
        pull: None,
        created: now,
        updated: now,
    };
    issue.label(&labels, &user, now, &mut state.ids);
    let json = issue.json(&state.base);
    state.issues.push(issue);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// Issue or pull request `number` of `repository`, or 404.
pub(crate) fn find_issue<'s>(
    issues: &'s mut [StoredIssue],
    repository: &str,
    number: &str,
    docs: &'static str,
) -> Result<&'s mut StoredIssue, ApiError> {
    issues
        .iter_mut()
        .find(|i| i.repository == repository && i.number.to_string() == number)
        .ok_or_else(|| ApiError::not_found(docs))
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}`
pub(crate) async fn get_issue(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let repository = hosted_name(state, &owner, &repo, GET_DOCS)?;
    let issue = find_issue(&mut state.issues, &repository, &number, GET_DOCS)?;
    Ok(Json(issue.json(&state.base)).into_response())
}

/// `PATCH /repos/{owner}/{repo}/issues/{issue_number}`: title, body, labels,
/// `state` and `state_reason`.
pub(crate) async fn update_issue(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body, UPDATE_DOCS)?;
    let title = string_field(&body, "title", UPDATE_DOCS)?;
    let text = string_field(&body, "body", UPDATE_DOCS)?;
    let labels = labels_field(&body, UPDATE_DOCS)?;
    let new_state = string_field(&body, "state", UPDATE_DOCS)?;
    let reason = match string_field(&body, "state_reason", UPDATE_DOCS)?.as_deref() {
        None | Some("completed") => "completed",
        Some("not_planned") => "not_planned",
        Some("duplicate") => "duplicate",
        Some("reopened") => "reopened",
        Some(other) => {
            return Err(ApiError::invalid_request(
                &format!("For 'properties/state_reason', \"{other}\" is not a possible value."),
                UPDATE_DOCS,
            ));
        }
    };
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let repository = hosted_name(state, &owner, &repo, UPDATE_DOCS)?;
    let issue = find_issue(&mut state.issues, &repository, &number, UPDATE_DOCS)?;
    let now = SystemTime::now();
    let user = User::token();
    match new_state.as_deref() {
        Some("closed") => issue.close(reason, &user, now, &mut state.ids),
        None => {}
        Some("open") => issue.reopen(&user, now, &mut state.ids),
        Some(other) => {
            return Err(ApiError::invalid_request(
                &format!("For 'properties/state', \"{other}\" is not a possible value."),
                UPDATE_DOCS,
            ));
        }
    }
    if let Some(title) = title {
        issue.title = title;
    }
    if let Some(text) = text {
        issue.body = text;
    }
    if let Some(labels) = labels {
        issue.set_labels(&labels, &user, now, &mut state.ids);
    }
    issue.updated = now;
    Ok(Json(issue.json(&state.base)).into_response())
}

/// `POST /repos/{owner}/{repo}/issues/{issue_number}/comments`: 201 with the
/// comment.
pub(crate) async fn create_comment(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body, COMMENT_DOCS)?;
    let text = string_field(&body, "body", COMMENT_DOCS)?
        .ok_or_else(|| ApiError::invalid_request("\"body\" wasn't supplied.", COMMENT_DOCS))?;
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let repository = hosted_name(state, &owner, &repo, COMMENT_DOCS)?;
    let issue = find_issue(&mut state.issues, &repository, &number, COMMENT_DOCS)?;
    let comment = issue
        .comment(text, &User::token(), SystemTime::now(), &mut state.ids)
        .clone();
    let json = issue.comment_json(&state.base, &comment);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}/comments`: oldest
/// first, `since` (updated at or after), paged.
pub(crate) async fn list_comments(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let since = since_param(&query, COMMENTS_DOCS)?;
    let page = Page::from_query(&query);
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let repository = hosted_name(state, &owner, &repo, COMMENTS_DOCS)?;
    let issue = find_issue(&mut state.issues, &repository, &number, COMMENTS_DOCS)?;
    let mut comments: Vec<&StoredComment> = issue
        .comments
        .iter()
        .filter(|c| since.is_none_or(|since| c.created >= since))
        .collect();
    comments.sort_by_key(|c| (c.created, c.id));
    let total = comments.len();
    let items = page
        .slice(comments)
        .into_iter()
        .map(|c| issue.comment_json(&state.base, c))
        .collect();
    let url = format!(
        "{}/repos/{owner}/{repo}/issues/{number}/comments",
        state.base
    );
    Ok(page.respond(items, total, &url, &query))
}
