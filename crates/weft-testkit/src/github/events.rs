//! A repository's events, `GET /repos/{owner}/{repo}/events`, made up on
//! each request from what the fake knows, as GitHub's would be:
//! `PullRequestEvent` (opened, closed, reopened), `IssuesEvent` (likewise),
//! `IssueCommentEvent`, `PullRequestReviewEvent`, `PushEvent` per branch
//! head, `CreateEvent` per branch, `DeleteEvent` per branch deleted through
//! the API, `ReleaseEvent` per published release and filler `WatchEvent`s.
//!
//! Like GitHub's, the list holds only events of the last 30 days and at
//! most 300 of them, newest first, paged; and ids (numbers in strings) grow
//! with time.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::clock::{ago, epoch_seconds, rfc3339};
use super::error::ApiError;
use super::paging::Page;
use super::pulls::minimal_json;
use super::repository::HostedRepository;
use super::state::{Shared, lock};
use super::stored_issue::{StoredIssue, TimelineKind};
use super::timeline::review_json;
use super::user::User;

const EVENTS_DOCS: &str = "https://docs.github.com/rest/activity/events#list-repository-events";
/// GitHub's window and cap.
const MAX_AGE: Duration = Duration::from_secs(30 * 86_400);
const MAX_EVENTS: usize = 300;

/// A filler `WatchEvent` (someone starred the repository).
#[derive(Debug, Clone)]
pub(crate) struct WatchEvent {
    pub(crate) id: u64,
    pub(crate) login: String,
    pub(crate) at: SystemTime,
}

struct Event {
    kind: &'static str,
    actor: User,
    at: SystemTime,
    payload: Value,
    /// What the event is about (an issue's id, a comment's…), so that its
    /// id stays the same from one request to the next.
    subject: u64,
}

/// Every event of the repository, in no order.
fn all_events(hosted: &HostedRepository, issues: &[&StoredIssue], base: &str) -> Vec<Event> {
    let mut events = Vec::new();
    let mut push = |kind, actor: &User, at, subject, payload| {
        events.push(Event {
            kind,
            actor: actor.clone(),
            at,
            payload,
            subject,
        });
    };
    for issue in issues {
        let (kind, key, subject) = match &issue.pull {
            Some(pull) => (
                "PullRequestEvent",
                "pull_request",
                minimal_json(issue, pull, hosted, base),
            ),
            None => ("IssuesEvent", "issue", issue.json(base)),
        };
        let payload = |action: &str| {
            let mut payload = json!({"action": action, key: subject});
            if issue.is_pull() {
                payload["number"] = json!(issue.number);
            }
            payload
        };
        push(
            kind,
            &issue.author,
            issue.created,
            issue.id,
            payload("opened"),
        );
        for entry in &issue.timeline {
            match &entry.kind {
                TimelineKind::Closed => {
                    push(kind, &entry.actor, entry.at, entry.id, payload("closed"));
                }
                TimelineKind::Reopened => {
                    push(kind, &entry.actor, entry.at, entry.id, payload("reopened"));
                }
                TimelineKind::Reviewed { .. } => {
                    let review = json!({
                        "action": "created",
                        "review": review_json(issue, entry, base),
                        "pull_request": subject,
                    });
                    let kind = "PullRequestReviewEvent";
                    push(kind, &entry.actor, entry.at, entry.id, review);
                }
                _ => {}
            }
        }
        for comment in &issue.comments {
            let payload = json!({
                "action": "created",
                "issue": issue.json(base),
                "comment": issue.comment_json(base, comment),
            });
            let kind = "IssueCommentEvent";
            push(kind, &comment.author, comment.created, comment.id, payload);
        }
    }
    let default = &hosted.repository.default_branch;
    for branch in &hosted.branches {
        let full_ref = format!("refs/heads/{}", branch.name);
        if let Some(commit) = hosted.commits.iter().find(|c| c.sha == branch.sha) {
            let payload = json!({
                "repository_id": hosted.id,
                "push_id": 20_000_000_000 + hash(&commit.sha) % 9_000_000_000,
                "ref": full_ref,
                "head": commit.sha,
                "before": commit.parent.clone().unwrap_or_else(|| "0".repeat(40)),
            });
            push(
                "PushEvent",
                &branch.pusher,
                commit.at,
                hash(&commit.sha),
                payload,
            );
        }
        if &branch.name != default {
            let payload = json!({
                "ref": branch.name,
                "ref_type": "branch",
                "full_ref": full_ref,
                "master_branch": default,
                "pusher_type": "user",
            });
            let subject = hash(&branch.name);
            push(
                "CreateEvent",
                &branch.pusher,
                branch.created,
                subject,
                payload,
            );
        }
    }
    for deleted in &hosted.deleted_branches {
        let payload = json!({
            "ref": deleted.name,
            "ref_type": "branch",
            "full_ref": format!("refs/heads/{}", deleted.name),
            "pusher_type": "user",
        });
        let subject = hash(&deleted.name);
        push("DeleteEvent", &User::token(), deleted.at, subject, payload);
    }
    let full_name = hosted.repository.full_name();
    for release in hosted.releases.iter().filter(|r| !r.draft) {
        let payload = json!({"action": "published", "release": release.json(base, &full_name)});
        push(
            "ReleaseEvent",
            &release.author,
            release.created,
            release.id,
            payload,
        );
    }
    for watch in &hosted.watch_events {
        events.push(Event {
            kind: "WatchEvent",
            actor: User::new(&watch.login, false),
            at: watch.at,
            payload: json!({"action": "started"}),
            subject: watch.id,
        });
    }
    events
}

fn hash(seed: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    seed.hash(&mut hasher);
    hasher.finish()
}

/// The events oldest first, each with its id. Like GitHub's, ids grow with
/// time: the second of the event times 10 000, plus its rank among the
/// events of that second (by instant, then a hash of the event, so an
/// event's id stays the same from one request to the next).
fn numbered(events: Vec<Event>) -> Vec<(String, Event)> {
    let mut keyed: Vec<(u64, Event)> = events
        .into_iter()
        .map(|event| {
            let seed = format!("{} {}", event.kind, event.subject);
            (hash(&seed), event)
        })
        .collect();
    keyed.sort_by(|(a_hash, a), (b_hash, b)| a.at.cmp(&b.at).then(a_hash.cmp(b_hash)));
    let mut numbered = Vec::with_capacity(keyed.len());
    let mut previous = (0, 0);
    for (_, event) in keyed {
        let second = epoch_seconds(event.at);
        let rank = if previous.0 == second {
            previous.1 + 1
        } else {
            0
        };
        previous = (second, rank);
        numbered.push(((second * 10_000 + rank).to_string(), event));
    }
    numbered
}

/// `GET /repos/{owner}/{repo}/events`
pub(crate) async fn list_events(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&query);
    let state = lock(&shared);
    let hosted = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(EVENTS_DOCS))?;
    let full_name = hosted.repository.full_name();
    let issues: Vec<&StoredIssue> = state
        .issues
        .iter()
        .filter(|i| i.repository == full_name)
        .collect();
    let base = &state.base;
    let oldest = ago(SystemTime::now(), MAX_AGE);
    let mut events = numbered(all_events(hosted, &issues, base));
    events.retain(|(_, e)| e.at >= oldest);
    events.reverse();
    events.truncate(MAX_EVENTS);
    let repo_json = json!({
        "id": hosted.id,
        "name": full_name,
        "url": format!("{base}/repos/{full_name}"),
    });
    let public = !hosted.repository.private;
    let total = events.len();
    let items = page
        .slice(events)
        .into_iter()
        .map(|(id, event)| {
            json!({
                "id": id,
                "type": event.kind,
                "actor": event.actor.actor_json(base),
                "repo": repo_json,
                "payload": event.payload,
                "public": public,
                "created_at": rfc3339(event.at),
            })
        })
        .collect();
    let url = format!("{base}/repos/{owner}/{repo}/events");
    Ok(page.respond(items, total, &url, &query))
}
