//! An issue's or pull request's timeline,
//! `GET /repos/{owner}/{repo}/issues/{issue_number}/timeline`: its comments
//! (`commented`), commits (`committed`, without an actor, as GitHub's),
//! reviews (`reviewed`), labels (`labeled`, `unlabeled`), and `closed`,
//! `reopened` and `merged`, oldest first, paged.

use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::clock::rfc3339;
use super::error::ApiError;
use super::issues::{find_issue, hosted_name};
use super::paging::Page;
use super::state::{Shared, lock};
use super::stored_issue::{StoredIssue, TimelineEntry, TimelineKind};

const TIMELINE_DOCS: &str =
    "https://docs.github.com/rest/issues/timeline#list-timeline-events-for-an-issue";

/// A review's object (as the `review` of a `PullRequestReviewEvent`); its
/// `state` in lower case, as the timeline and events give it.
pub(crate) fn review_json(issue: &StoredIssue, entry: &TimelineEntry, base: &str) -> Value {
    let TimelineKind::Reviewed {
        state,
        body,
        commit,
    } = &entry.kind
    else {
        return Value::Null;
    };
    let pull_url = format!("{base}/repos/{}/pulls/{}", issue.repository, issue.number);
    let html = format!("{}#pullrequestreview-{}", issue.html_url(), entry.id);
    json!({
        "id": entry.id,
        "node_id": format!("PRR_kwDO{:010X}", entry.id),
        "user": entry.actor.json(base),
        "body": body,
        "commit_id": commit,
        "submitted_at": rfc3339(entry.at),
        "state": state.to_ascii_lowercase(),
        "html_url": html,
        "pull_request_url": pull_url,
        "author_association": issue.association(&entry.actor),
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
    })
}

/// One timeline event.
fn entry_json(issue: &StoredIssue, entry: &TimelineEntry, base: &str) -> Value {
    let api = format!("{base}/repos/{}", issue.repository);
    let event = |name: &str, commit: Option<&str>| {
        json!({
            "id": entry.id,
            "node_id": format!("IE_kwDO{:010X}", entry.id),
            "url": format!("{api}/issues/events/{}", entry.id),
            "actor": entry.actor.json(base),
            "event": name,
            "commit_id": commit,
            "commit_url": commit.map(|sha| format!("{api}/commits/{sha}")),
            "created_at": rfc3339(entry.at),
            "performed_via_github_app": null,
        })
    };
    match &entry.kind {
        TimelineKind::Committed(commit) => commit.timeline_json(base, &issue.repository),
        TimelineKind::Reviewed { .. } => {
            let mut review = review_json(issue, entry, base);
            review["event"] = Value::String("reviewed".into());
            review
        }
        TimelineKind::Labeled(label) | TimelineKind::Unlabeled(label) => {
            let name = if matches!(entry.kind, TimelineKind::Labeled(_)) {
                "labeled"
            } else {
                "unlabeled"
            };
            let mut object = event(name, None);
            object["label"] = json!({"name": label, "color": "d73a4a"});
            object
        }
        TimelineKind::Closed => {
            let mut object = event("closed", None);
            let reason = issue.closed.as_ref().map(|c| c.reason);
            object["state_reason"] = json!(reason.filter(|_| !issue.is_pull()));
            object
        }
        TimelineKind::Reopened => event("reopened", None),
        TimelineKind::Merged { commit } => event("merged", Some(commit)),
    }
}

/// `GET /repos/{owner}/{repo}/issues/{issue_number}/timeline`
pub(crate) async fn list_timeline(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&query);
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let repository = hosted_name(state, &owner, &repo, TIMELINE_DOCS)?;
    let issue = find_issue(&mut state.issues, &repository, &number, TIMELINE_DOCS)?;
    let base = &state.base;
    let mut items: Vec<(SystemTime, Value)> = issue
        .comments
        .iter()
        .map(|comment| {
            let mut object = issue.comment_json(base, comment);
            object["event"] = Value::String("commented".into());
            object["actor"] = comment.author.json(base);
            (comment.created, object)
        })
        .chain(
            issue
                .timeline
                .iter()
                .map(|entry| (entry.at, entry_json(issue, entry, base))),
        )
        .collect();
    items.sort_by_key(|(at, _)| *at);
    let total = items.len();
    let items = page
        .slice(items)
        .into_iter()
        .map(|(_, item)| item)
        .collect();
    let url = format!("{base}/repos/{owner}/{repo}/issues/{number}/timeline");
    Ok(page.respond(items, total, &url, &query))
}
