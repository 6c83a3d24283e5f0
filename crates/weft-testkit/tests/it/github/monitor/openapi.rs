//! The bodies of what `weft monitor` reads and does, against GitHub's
//! OpenAPI description.
//!
//! An event's `payload` is a `oneOf` in the description whose options
//! overlap (`PublicEvent` takes any object, `WatchEvent` any with an
//! `action`), so no payload matches exactly one: events are checked with
//! that one complaint set aside, and each payload against the schema its
//! `type` names.

use weft_testkit::github::OpenApiDocument;

use super::ecosystem;
use crate::github::openapi::{conforms, conforms_to, openapi};
use crate::github::{Reply, delete, get, patch, post};

fn check_events(document: &OpenApiDocument, reply: &Reply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    let event = document.component_schema("event").unwrap();
    for item in reply.json().as_array().unwrap() {
        let mismatches: Vec<_> = document
            .check(event, item)
            .into_iter()
            .filter(|m| !(m.pointer == "/payload" && m.message.contains("not exactly one")))
            .collect();
        assert!(mismatches.is_empty(), "{mismatches:?}\n{item}");
        let kind = item["type"].as_str().unwrap();
        let schema = match kind {
            "PullRequestEvent" => "pull-request-event",
            "PullRequestReviewEvent" => "pull-request-review-event",
            "IssuesEvent" => "issues-event",
            "IssueCommentEvent" => "issue-comment-event",
            "PushEvent" => "push-event",
            "CreateEvent" => "create-event",
            "DeleteEvent" => "delete-event",
            "ReleaseEvent" => "release-event",
            "WatchEvent" => "watch-event",
            other => panic!("an event type the fake does not make: {other}"),
        };
        let schema = document.component_schema(schema).unwrap();
        let mismatches = document.check(schema, &item["payload"]);
        assert!(mismatches.is_empty(), "{kind}: {mismatches:?}\n{item}");
    }
}

#[test]
fn the_monitors_bodies_match_githubs_openapi_description() {
    let Some(document) = openapi() else { return };
    let github = ecosystem();
    let check = |method: &str, template: &str, reply: &Reply| {
        conforms(&document, method, template, reply);
    };
    let repos = "/repos/{owner}/{repo}";

    check("GET", "/orgs/{org}/repos", &get(&github, "/orgs/eco/repos"));
    // Answers the description does not list are `basic-error`s.
    conforms_to(
        &document,
        "basic-error",
        &get(&github, "/orgs/nobody/repos"),
    );
    check(
        "GET",
        "/users/{username}/repos",
        &get(&github, "/users/eco/repos"),
    );
    check(
        "GET",
        &format!("{repos}/actions/runs"),
        &get(&github, "/repos/eco/lib/actions/runs"),
    );
    let runs = get(&github, "/repos/eco/lib/actions/runs?status=failure").json();
    let failed = runs["workflow_runs"][0]["id"].as_u64().unwrap();
    check(
        "GET",
        &format!("{repos}/actions/runs/{{run_id}}/jobs"),
        &get(
            &github,
            &format!("/repos/eco/lib/actions/runs/{failed}/jobs"),
        ),
    );

    let pulls = format!("{repos}/pulls");
    let pull = format!("{repos}/pulls/{{pull_number}}");
    check(
        "GET",
        &pulls,
        &get(&github, "/repos/eco/lib/pulls?state=all"),
    );
    for number in [1, 2, 3, 5, 99] {
        check(
            "GET",
            &pull,
            &get(&github, &format!("/repos/eco/lib/pulls/{number}")),
        );
    }
    let issues = format!("{repos}/issues");
    let issue = format!("{repos}/issues/{{issue_number}}");
    check(
        "GET",
        &issues,
        &get(&github, "/repos/eco/lib/issues?state=all"),
    );
    check("GET", &issue, &get(&github, "/repos/eco/lib/issues/2"));

    let comments = format!("{issue}/comments");
    check(
        "POST",
        &comments,
        &post(
            &github,
            "/repos/eco/lib/issues/1/comments",
            "{\"body\":\"Stale.\"}",
        ),
    );
    for number in [1, 2, 4, 99] {
        let path = format!("/repos/eco/lib/issues/{number}/comments");
        check("GET", &comments, &get(&github, &path));
    }
    let labels = format!("{issue}/labels");
    check(
        "POST",
        &labels,
        &post(
            &github,
            "/repos/eco/lib/issues/1/labels",
            "{\"labels\":[\"stale\"]}",
        ),
    );
    check(
        "GET",
        &labels,
        &get(&github, "/repos/eco/lib/issues/1/labels"),
    );
    let label = format!("{issue}/labels/{{name}}");
    for name in ["enhancement", "enhancement"] {
        let path = format!("/repos/eco/lib/issues/1/labels/{name}");
        check("DELETE", &label, &delete(&github, &path));
    }
    check(
        "PATCH",
        &pull,
        &patch(&github, "/repos/eco/lib/pulls/1", "{\"state\":\"closed\"}"),
    );
    let timeline = format!("{issue}/timeline");
    for number in [1, 2, 3, 4, 5] {
        let path = format!("/repos/eco/lib/issues/{number}/timeline");
        check("GET", &timeline, &get(&github, &path));
    }

    check(
        "GET",
        &format!("{repos}/branches"),
        &get(&github, "/repos/eco/lib/branches"),
    );
    let branch = format!("{repos}/branches/{{branch}}");
    for name in ["main", "old-feature", "nope"] {
        check(
            "GET",
            &branch,
            &get(&github, &format!("/repos/eco/lib/branches/{name}")),
        );
    }
    let commit = format!("{repos}/commits/{{ref}}");
    for reference in ["main", "pr-1", "0123456789abcdef"] {
        let path = format!("/repos/eco/lib/commits/{reference}");
        check("GET", &commit, &get(&github, &path));
    }
    let git_ref = format!("{repos}/git/refs/{{ref}}");
    check(
        "DELETE",
        &git_ref,
        &delete(&github, "/repos/eco/lib/git/refs/heads/old-feature"),
    );
    let missing = delete(&github, "/repos/eco/lib/git/refs/heads/old-feature");
    assert_eq!(missing.status, 422);
    conforms_to(&document, "basic-error", &missing);
    check(
        "GET",
        &format!("{repos}/releases"),
        &get(&github, "/repos/eco/lib/releases"),
    );

    github.add_events("eco/lib", 5, std::time::Duration::from_secs(10));
    check_events(
        &document,
        &get(&github, "/repos/eco/lib/events?per_page=100"),
    );
    conforms_to(
        &document,
        "basic-error",
        &get(&github, "/repos/eco/none/events"),
    );

    github.deny("/repos/eco/lib/pulls", "pull_requests=read");
    let denied = get(&github, "/repos/eco/lib/pulls");
    assert_eq!(denied.status, 403);
    conforms_to(&document, "basic-error", &denied);
}
