//! The issue endpoints weft's incident channel uses: list (by state and
//! labels, paged), create, get, update (close) and comment, with the `issue`
//! and `issue-comment` objects GitHub answers.

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::actions::parse_body;
use super::clock::rfc3339;
use super::error::ApiError;
use super::paging::Page;
use super::repository::{HTML_ROOT, user_json};
use super::state::{Shared, State as FakeState, lock};

const LIST_DOCS: &str = "https://docs.github.com/rest/issues/issues#list-repository-issues";
const CREATE_DOCS: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
const GET_DOCS: &str = "https://docs.github.com/rest/issues/issues#get-an-issue";
const UPDATE_DOCS: &str = "https://docs.github.com/rest/issues/issues#update-an-issue";
const COMMENT_DOCS: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";

/// The user the fake's token belongs to: the author of what it creates.
const USER: (&str, u64) = ("weft-bot", 9_000_001);

/// An issue as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct StoredIssue {
    pub(crate) id: u64,
    pub(crate) repository: String,
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) labels: Vec<String>,
    pub(crate) closed: Option<(SystemTime, &'static str)>,
    pub(crate) comments: Vec<StoredComment>,
    pub(crate) created: SystemTime,
    pub(crate) updated: SystemTime,
}

#[derive(Debug, Clone)]
pub(crate) struct StoredComment {
    pub(crate) id: u64,
    pub(crate) body: String,
    pub(crate) created: SystemTime,
}

/// An issue as a test reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `owner/name`.
    pub repository: String,
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub open: bool,
    /// `completed`, `not_planned`… when closed.
    pub state_reason: Option<String>,
    /// The comments' bodies, oldest first.
    pub comments: Vec<String>,
}

impl StoredIssue {
    pub(crate) fn view(&self) -> Issue {
        Issue {
            repository: self.repository.clone(),
            number: self.number,
            title: self.title.clone(),
            body: self.body.clone(),
            labels: self.labels.clone(),
            open: self.closed.is_none(),
            state_reason: self.closed.map(|(_, reason)| reason.to_string()),
            comments: self.comments.iter().map(|c| c.body.clone()).collect(),
        }
    }

    fn json(&self, base: &str) -> Value {
        let api = format!("{base}/repos/{}/issues/{}", self.repository, self.number);
        let repository_url = format!("{base}/repos/{}", self.repository);
        let labels: Vec<Value> = self
            .labels
            .iter()
            .map(|name| label_json(base, &self.repository, name))
            .collect();
        let user = user_json(base, USER.0, USER.1);
        json!({
            "id": self.id,
            "node_id": format!("I_kwDO{:010X}", self.id),
            "url": api,
            "repository_url": repository_url,
            "labels_url": format!("{api}/labels{{/name}}"),
            "comments_url": format!("{api}/comments"),
            "events_url": format!("{api}/events"),
            "html_url": format!("{HTML_ROOT}/{}/issues/{}", self.repository, self.number),
            "number": self.number,
            "state": if self.closed.is_some() { "closed" } else { "open" },
            "state_reason": self.closed.map(|(_, reason)| reason),
            "title": self.title,
            "body": self.body,
            "user": user,
            "labels": labels,
            "assignee": null,
            "assignees": [],
            "milestone": null,
            "locked": false,
            "active_lock_reason": null,
            "comments": self.comments.len(),
            "closed_at": self.closed.map(|(at, _)| rfc3339(at)),
            "closed_by": self.closed.map(|_| user_json(base, USER.0, USER.1)),
            "created_at": rfc3339(self.created),
            "updated_at": rfc3339(self.updated),
            "author_association": "MEMBER",
        })
    }
}

fn label_json(base: &str, repository: &str, name: &str) -> Value {
    let id = name.bytes().fold(5_000_000u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b)) % 1_000_000_000
    });
    json!({
        "id": id,
        "node_id": format!("LA_kwDO{id:010X}"),
        "url": format!("{base}/repos/{repository}/labels/{name}"),
        "name": name,
        "description": null,
        "color": "d73a4a",
        "default": false,
    })
}

fn comment_json(base: &str, issue: &StoredIssue, comment: &StoredComment) -> Value {
    let issue_url = format!("{base}/repos/{}/issues/{}", issue.repository, issue.number);
    json!({
        "id": comment.id,
        "node_id": format!("IC_kwDO{:010X}", comment.id),
        "url": format!("{base}/repos/{}/issues/comments/{}", issue.repository, comment.id),
        "html_url": format!(
            "{HTML_ROOT}/{}/issues/{}#issuecomment-{}",
            issue.repository, issue.number, comment.id
        ),
        "issue_url": issue_url,
        "body": comment.body,
        "user": user_json(base, USER.0, USER.1),
        "created_at": rfc3339(comment.created),
        "updated_at": rfc3339(comment.created),
        "author_association": "MEMBER",
    })
}

/// The repository's `owner/name` as hosted, or 404.
fn hosted_name(
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

fn string_field(
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

fn labels_field(
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

/// `GET /repos/{owner}/{repo}/issues`: `state` (`open` by default, `closed`,
/// `all`) and `labels` (comma-separated, all required), newest first, paged.
pub(crate) async fn list_issues(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let value = |name: &str| {
        query
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.as_str())
    };
    let wanted_state = value("state").unwrap_or("open");
    if !matches!(wanted_state, "open" | "closed" | "all") {
        return Err(ApiError::invalid_request(
            &format!("For 'state', \"{wanted_state}\" is not one of open, closed, all."),
            LIST_DOCS,
        ));
    }
    let labels: Vec<&str> = value("labels")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let page = Page::from_query(&query);
    let state = lock(&shared);
    let repository = hosted_name(&state, &owner, &repo, LIST_DOCS)?;
    let mut issues: Vec<&StoredIssue> = state
        .issues
        .iter()
        .filter(|i| i.repository == repository)
        .filter(|i| match wanted_state {
            "open" => i.closed.is_none(),
            "closed" => i.closed.is_some(),
            _ => true,
        })
        .filter(|i| {
            labels
                .iter()
                .all(|l| i.labels.iter().any(|have| have.eq_ignore_ascii_case(l)))
        })
        .collect();
    issues.sort_by_key(|i| std::cmp::Reverse(i.number));
    let total = issues.len();
    let items: Vec<Value> = page
        .slice(issues)
        .into_iter()
        .map(|i| i.json(&state.base))
        .collect();
    let url = format!("{}/repos/{owner}/{repo}/issues", state.base);
    let mut response = Json(Value::Array(items)).into_response();
    if let Some(link) = page.link(total, &url, &query)
        && let Ok(value) = HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
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
    let issue = StoredIssue {
        id,
        repository,
        number,
        title,
        body: text,
        labels,
        closed: None,
        comments: Vec::new(),
        created: now,
        updated: now,
    };
    let json = issue.json(&state.base);
    state.issues.push(issue);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

fn find_issue<'s>(
    state: &'s mut FakeState,
    owner: &str,
    repo: &str,
    number: &str,
    docs: &'static str,
) -> Result<&'s mut StoredIssue, ApiError> {
    let repository = hosted_name(state, owner, repo, docs)?;
    state
        .issues
        .iter_mut()
        .find(|i| i.repository == repository && i.number.to_string() == number)
        .ok_or_else(|| ApiError::not_found(docs))
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}`
pub(crate) async fn get_issue(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let mut state = lock(&shared);
    let base = state.base.clone();
    let issue = find_issue(&mut state, &owner, &repo, &number, GET_DOCS)?;
    Ok(Json(issue.json(&base)).into_response())
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
    let mut state = lock(&shared);
    let base = state.base.clone();
    let issue = find_issue(&mut state, &owner, &repo, &number, UPDATE_DOCS)?;
    let now = SystemTime::now();
    match new_state.as_deref() {
        Some("closed") if issue.closed.is_none() => issue.closed = Some((now, reason)),
        None | Some("closed") => {}
        Some("open") => issue.closed = None,
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
        issue.labels = labels;
    }
    issue.updated = now;
    Ok(Json(issue.json(&base)).into_response())
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
    let mut state = lock(&shared);
    let id = 3_000_000_000 + state.next_number();
    let base = state.base.clone();
    let issue = find_issue(&mut state, &owner, &repo, &number, COMMENT_DOCS)?;
    let now = SystemTime::now();
    let comment = StoredComment {
        id,
        body: text,
        created: now,
    };
    let json = comment_json(&base, issue, &comment);
    issue.comments.push(comment);
    issue.updated = now;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}
