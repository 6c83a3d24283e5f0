//! The pull request endpoints: list (by state, head and base, sorted,
//! paged), get and update (close, reopen), with the `pull-request-simple`,
//! `pull-request` and `pull-request-minimal` objects.

use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::actions::parse_body;
use super::clock::rfc3339;
use super::error::ApiError;
use super::issues::{find_issue, string_field};
use super::paging::{Page, param};
use super::repository::HostedRepository;
use super::state::{Shared, lock};
use super::stored_issue::{PullPart, StoredIssue};
use super::user::User;

const LIST_DOCS: &str = "https://docs.github.com/rest/pulls/pulls#list-pull-requests";
const GET_DOCS: &str = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request";
const UPDATE_DOCS: &str = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request";

/// A pull request's own id, unlike its issue's.
pub(crate) fn pull_id(issue: &StoredIssue) -> u64 {
    issue.id + 500_000_000
}

/// The `pull-request-minimal` object of events.
pub(crate) fn minimal_json(
    issue: &StoredIssue,
    pull: &PullPart,
    hosted: &HostedRepository,
    base: &str,
) -> Value {
    let api = format!("{base}/repos/{}", issue.repository);
    let repo = json!({"id": hosted.id, "url": api, "name": hosted.repository.name});
    json!({
        "id": pull_id(issue),
        "number": issue.number,
        "url": format!("{api}/pulls/{}", issue.number),
        "head": {"ref": pull.head, "sha": pull.head_sha, "repo": repo},
        "base": {"ref": pull.base, "sha": pull.base_sha, "repo": repo},
    })
}

/// A pull request's `head` or `base`.
fn end_json(hosted: &HostedRepository, base: &str, open: usize, name: &str, sha: &str) -> Value {
    json!({
        "label": format!("{}:{name}", hosted.repository.owner),
        "ref": name,
        "sha": sha,
        "user": hosted.owner_json(base),
        "repo": hosted.full_json(base, open),
    })
}

/// The `pull-request-simple` object of a list.
pub(crate) fn simple_json(
    issue: &StoredIssue,
    pull: &PullPart,
    hosted: &HostedRepository,
    base: &str,
    open: usize,
) -> Value {
    let api = format!("{base}/repos/{}", issue.repository);
    let url = format!("{api}/pulls/{}", issue.number);
    let issue_url = format!("{api}/issues/{}", issue.number);
    let html = issue.html_url();
    let statuses = format!("{api}/statuses/{}", pull.head_sha);
    let id = pull_id(issue);
    let assignees: Vec<Value> = issue.assignees.iter().map(|a| a.json(base)).collect();
    let link = |href: &str| json!({"href": href});
    json!({
        "url": url,
        "id": id,
        "node_id": format!("PR_kwDO{id:010X}"),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_url,
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{issue_url}/comments"),
        "statuses_url": statuses,
        "number": issue.number,
        "state": issue.state(),
        "locked": false,
        "title": issue.title,
        "user": issue.author.json(base),
        "body": issue.body,
        "labels": issue.labels_json(base),
        "milestone": issue.milestone_json(base),
        "active_lock_reason": null,
        "created_at": rfc3339(issue.created),
        "updated_at": rfc3339(issue.updated),
        "closed_at": issue.closed.as_ref().map(|c| rfc3339(c.at)),
        "merged_at": pull.merged.map(rfc3339),
        "merge_commit_sha": pull.merged.map(|_| pull.head_sha.clone()),
        "assignee": assignees.first(),
        "assignees": assignees,
        "requested_reviewers": [],
        "requested_teams": [],
        "head": end_json(hosted, base, open, &pull.head, &pull.head_sha),
        "base": end_json(hosted, base, open, &pull.base, &pull.base_sha),
        "_links": {
            "self": link(&url),
            "html": link(&html),
            "issue": link(&issue_url),
            "comments": link(&format!("{issue_url}/comments")),
            "review_comments": link(&format!("{url}/comments")),
            "review_comment": link(&format!("{api}/pulls/comments{{/number}}")),
            "commits": link(&format!("{url}/commits")),
            "statuses": link(&statuses),
        },
        "author_association": issue.association(&issue.author),
        "auto_merge": null,
        "draft": pull.draft,
    })
}

/// The `pull-request` object of one pull request.
fn full_json(
    issue: &StoredIssue,
    pull: &PullPart,
    hosted: &HostedRepository,
    base: &str,
    open: usize,
) -> Value {
    let mut object = simple_json(issue, pull, hosted, base, open);
    let merged_by = pull
        .merged
        .and(issue.closed.as_ref())
        .map(|c| c.by.json(base));
    let open_mergeable = issue.closed.is_none();
    let extra = json!({
        "merged": pull.merged.is_some(),
        "mergeable": open_mergeable.then_some(true),
        "rebaseable": open_mergeable.then_some(true),
        "mergeable_state": if open_mergeable { "clean" } else { "unknown" },
        "merged_by": merged_by,
        "comments": issue.comments.len(),
        "review_comments": 0,
        "maintainer_can_modify": false,
        "commits": pull.commits,
        "additions": 10 * pull.commits,
        "deletions": 2 * pull.commits,
        "changed_files": pull.commits,
    });
    if let (Value::Object(object), Value::Object(extra)) = (&mut object, extra) {
        object.extend(extra);
    }
    object
}

/// `GET /repos/{owner}/{repo}/pulls`: `state` (`open` by default, `closed`,
/// `all`), `head` (`owner:branch`), `base`, `sort` (`created` by default,
/// `updated`, `popularity`, `long-running`) and `direction` (`desc` for
/// `created`, else `asc`), paged.
pub(crate) async fn list_pulls(
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
    if !matches!(sort, "created" | "updated" | "popularity" | "long-running") {
        return Err(ApiError::invalid_request(
            &format!(
                "For 'sort', \"{sort}\" is not one of created, updated, popularity, long-running."
            ),
            LIST_DOCS,
        ));
    }
    let default_direction = if sort == "created" { "desc" } else { "asc" };
    let descending = param(&query, "direction").unwrap_or(default_direction) == "desc";
    let head = param(&query, "head").map(|h| h.split_once(':').map_or(h, |(_, branch)| branch));
    let base_branch = param(&query, "base");
    let page = Page::from_query(&query);
    let state = lock(&shared);
    let hosted = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(LIST_DOCS))?;
    let full_name = hosted.repository.full_name();
    let mut pulls: Vec<(&StoredIssue, &PullPart)> = state
        .issues
        .iter()
        .filter(|i| i.repository == full_name)
        .filter_map(|i| Some((i, i.pull.as_ref()?)))
        .filter(|(i, _)| wanted_state == "all" || i.state() == wanted_state)
        .filter(|(_, p)| head.is_none_or(|h| p.head == h))
        .filter(|(_, p)| base_branch.is_none_or(|b| p.base == b))
        .collect();
    let key = |issue: &StoredIssue| -> (SystemTime, usize) {
        match sort {
            "updated" => (issue.updated, 0),
            "popularity" => (SystemTime::UNIX_EPOCH, issue.comments.len()),
            _ => (issue.created, 0),
        }
    };
    pulls.sort_by(|(a, _), (b, _)| key(a).cmp(&key(b)).then(a.number.cmp(&b.number)));
    if descending {
        pulls.reverse();
    }
    let open = state.open_issues(&full_name);
    let total = pulls.len();
    let items = page
        .slice(pulls)
        .into_iter()
        .map(|(i, p)| simple_json(i, p, hosted, &state.base, open))
        .collect();
    let url = format!("{}/repos/{owner}/{repo}/pulls", state.base);
    Ok(page.respond(items, total, &url, &query))
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}`
pub(crate) async fn get_pull(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let state = lock(&shared);
    let hosted = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(GET_DOCS))?;
    let full_name = hosted.repository.full_name();
    let issue = state
        .issues
        .iter()
        .find(|i| i.repository == full_name && i.number.to_string() == number);
    let Some((issue, pull)) = issue.and_then(|i| Some((i, i.pull.as_ref()?))) else {
        return Err(ApiError::not_found(GET_DOCS));
    };
    let open = state.open_issues(&full_name);
    Ok(Json(full_json(issue, pull, hosted, &state.base, open)).into_response())
}

/// `PATCH /repos/{owner}/{repo}/pulls/{pull_number}`: `title`, `body` and
/// `state` (`closed` closes it unmerged, `open` reopens it).
pub(crate) async fn update_pull(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body, UPDATE_DOCS)?;
    let title = string_field(&body, "title", UPDATE_DOCS)?;
    let text = string_field(&body, "body", UPDATE_DOCS)?;
    let new_state = string_field(&body, "state", UPDATE_DOCS)?;
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let full_name = state
        .repository(&owner, &repo)
        .map(|r| r.repository.full_name())
        .ok_or_else(|| ApiError::not_found(UPDATE_DOCS))?;
    let issue = find_issue(&mut state.issues, &full_name, &number, UPDATE_DOCS)?;
    if !issue.is_pull() {
        return Err(ApiError::not_found(UPDATE_DOCS));
    }
    let now = SystemTime::now();
    let user = User::token();
    match new_state.as_deref() {
        Some("closed") => issue.close("completed", &user, now, &mut state.ids),
        Some("open") => issue.reopen(&user, now, &mut state.ids),
        None => {}
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
    issue.updated = now;
    let issue = issue.clone();
    let Some(pull) = &issue.pull else {
        return Err(ApiError::not_found(UPDATE_DOCS));
    };
    let open = state.open_issues(&full_name);
    let hosted = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(UPDATE_DOCS))?;
    Ok(Json(full_json(&issue, pull, hosted, &state.base, open)).into_response())
}
