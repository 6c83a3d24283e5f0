//! The fake's bodies against GitHub's OpenAPI description.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use weft_testkit::github::{OpenApiDocument, OpenApiError, Workflow};

use super::{RUN, Reply, dispatch, get, get_url, github, patch, poll, post, wait_completed};

/// GitHub's OpenAPI description, or `None` (with a SKIP line) when
/// `WEFT_OCTOKIT_OPENAPI` is unset, unless `WEFT_REQUIRE_OPENAPI=1`.
pub(super) fn openapi() -> Option<OpenApiDocument> {
    let Some(path) = std::env::var_os("WEFT_OCTOKIT_OPENAPI").filter(|p| !p.is_empty()) else {
        assert!(
            std::env::var("WEFT_REQUIRE_OPENAPI").as_deref() != Ok("1"),
            "WEFT_REQUIRE_OPENAPI=1 but WEFT_OCTOKIT_OPENAPI is unset"
        );
        println!(
            "SKIP: WEFT_OCTOKIT_OPENAPI is unset (the path of \
             @octokit/openapi's generated/api.github.com.json)"
        );
        return None;
    };
    Some(OpenApiDocument::load(&path).unwrap_or_else(|e| panic!("{e}: {path:?}")))
}

/// The body as the checker takes it: `None` when empty.
fn body(reply: &Reply) -> Option<Value> {
    (!reply.text.is_empty()).then(|| reply.json())
}

pub(super) fn conforms(document: &OpenApiDocument, method: &str, template: &str, reply: &Reply) {
    if let Err(error) =
        document.check_response(method, template, reply.status, body(reply).as_ref())
    {
        panic!("{error}\n{reply:?}");
    }
}

pub(super) fn conforms_to(document: &OpenApiDocument, schema: &str, reply: &Reply) {
    let schema = document.component_schema(schema).unwrap();
    let mismatches = document.check(schema, &reply.json());
    assert!(mismatches.is_empty(), "{mismatches:?}\n{reply:?}");
}

#[test]
fn the_fakes_bodies_match_githubs_openapi_description() {
    let Some(document) = openapi() else { return };
    println!(
        "@octokit/openapi describes api.github.com {:?}",
        document.version()
    );
    let github = github();
    let dispatches = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches";
    let path = "/repos/octo/app/actions/workflows/deploy.yml/dispatches";
    let details =
        json!({"ref": "main", "inputs": {"correlation_id": "c"}, "return_run_details": true});
    let reply = post(&github, path, &details.to_string());
    conforms(&document, "POST", dispatches, &reply);
    let run = reply.json()["workflow_run_id"].as_u64().unwrap();
    conforms(
        &document,
        "POST",
        dispatches,
        &post(&github, path, "{\"ref\":\"main\"}"),
    );
    conforms_to(&document, "validation-error", &post(&github, path, "{}"));
    let failed = dispatch(&github, "fail.yml", json!({}));
    wait_completed(&github, failed);
    github.add_workflow(
        "octo/app",
        Workflow::new("long.yml").duration(Duration::from_secs(8)),
    );
    let long = dispatch(&github, "long.yml", json!({}));

    // Each phase of a run, and of its job.
    let mut phases = BTreeMap::new();
    poll("the runs' phases", || {
        for id in [run, failed, long] {
            let reply = get(&github, &format!("/repos/octo/app/actions/runs/{id}"));
            conforms(&document, "GET", RUN, &reply);
            let jobs = get(&github, &format!("/repos/octo/app/actions/runs/{id}/jobs"));
            conforms(&document, "GET", &format!("{RUN}/jobs"), &jobs);
            let status = reply.json()["status"].as_str().unwrap().to_string();
            phases.insert(status, ());
        }
        (phases.len() == 3).then_some(())
    });
    let runs = get(&github, "/repos/octo/app/actions/runs?per_page=1");
    assert!(runs.header("link").is_some());
    conforms(
        &document,
        "GET",
        "/repos/{owner}/{repo}/actions/runs",
        &runs,
    );
    let job = github
        .runs()
        .into_iter()
        .find(|r| r.id == failed)
        .unwrap()
        .job_id;
    let logs = get(&github, &format!("/repos/octo/app/actions/jobs/{job}/logs"));
    conforms(
        &document,
        "GET",
        "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs",
        &logs,
    );

    conforms(
        &document,
        "GET",
        "/repos/{owner}/{repo}",
        &get(&github, "/repos/octo/app"),
    );
    conforms(
        &document,
        "GET",
        "/repos/{owner}/{repo}",
        &get(&github, "/repos/octo/none"),
    );
    let repository_dispatch = "/repos/{owner}/{repo}/dispatches";
    for body in [json!({"event_type": "go"}), json!({"event_type": ""})] {
        let reply = post(&github, "/repos/octo/app/dispatches", &body.to_string());
        conforms(&document, "POST", repository_dispatch, &reply);
    }
    let reply = post(
        &github,
        "/repos/octo/none/dispatches",
        "{\"event_type\":\"go\"}",
    );
    conforms(&document, "POST", repository_dispatch, &reply);

    // Refusals outside any operation's list are `basic-error`s.
    conforms_to(
        &document,
        "basic-error",
        &get_url(&format!("{}/repos/octo/app", github.url()), &[]),
    );
    github.secondary_rate_limit(1, Duration::from_secs(1), 429);
    conforms_to(&document, "basic-error", &get(&github, "/repos/octo/app"));
    github.fail_next("/repos/octo/app", 1, 503);
    conforms_to(&document, "basic-error", &get(&github, "/repos/octo/app"));
    github.exhaust_rate_limit(Duration::from_secs(60));
    let limited = get(&github, "/repos/octo/app");
    assert_eq!(limited.status, 403);
    conforms(&document, "GET", "/repos/{owner}/{repo}", &limited);
}

#[test]
fn the_fakes_issue_bodies_match_githubs_openapi_description() {
    let Some(document) = openapi() else { return };
    let github = github();
    let issues = "/repos/{owner}/{repo}/issues";
    let issue = "/repos/{owner}/{repo}/issues/{issue_number}";
    let opened = post(
        &github,
        "/repos/octo/app/issues",
        &json!({"title": "[weft] production/api: release failed", "body": "b", "labels": ["incident"]})
            .to_string(),
    );
    assert_eq!(opened.status, 201, "{opened:?}");
    conforms(&document, "POST", issues, &opened);
    let number = opened.json()["number"].as_u64().unwrap();
    let untitled = post(&github, "/repos/octo/app/issues", "{\"body\":\"b\"}");
    assert_eq!(untitled.status, 422);
    conforms(&document, "POST", issues, &untitled);
    conforms(
        &document,
        "GET",
        issues,
        &get(&github, "/repos/octo/app/issues?labels=incident"),
    );
    let comment = post(
        &github,
        &format!("/repos/octo/app/issues/{number}/comments"),
        "{\"body\":\"still failing\"}",
    );
    assert_eq!(comment.status, 201, "{comment:?}");
    conforms(
        &document,
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        &comment,
    );
    let closed = patch(
        &github,
        &format!("/repos/octo/app/issues/{number}"),
        "{\"state\":\"closed\",\"state_reason\":\"completed\"}",
    );
    assert_eq!(closed.status, 200, "{closed:?}");
    assert_eq!(closed.json()["state"], "closed");
    conforms(&document, "PATCH", issue, &closed);
    conforms(
        &document,
        "GET",
        issue,
        &get(&github, &format!("/repos/octo/app/issues/{number}")),
    );
    conforms(
        &document,
        "GET",
        issue,
        &get(&github, "/repos/octo/app/issues/999"),
    );
}

#[test]
fn githubs_openapi_description_catches_a_broken_run() {
    let Some(document) = openapi() else { return };
    let github = github();
    let run = dispatch(&github, "fail.yml", json!({}));
    let good = get(&github, &format!("/repos/octo/app/actions/runs/{run}")).json();
    document
        .check_response("GET", RUN, 200, Some(&good))
        .unwrap();

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("head_sha");
    let mut mistyped = good.clone();
    mistyped["id"] = json!(run.to_string());
    let mut nested = good;
    nested["repository"]["owner"]
        .as_object_mut()
        .unwrap()
        .remove("login");
    for (broken, expected) in [
        (missing, "the required property `head_sha` is missing"),
        (mistyped, "/id: expected integer"),
        (
            nested,
            "/repository/owner: the required property `login` is missing",
        ),
    ] {
        match document.check_response("GET", RUN, 200, Some(&broken)) {
            Err(OpenApiError::Mismatch { mismatches, .. }) => {
                let all: Vec<String> = mismatches.iter().map(ToString::to_string).collect();
                assert!(all.iter().any(|m| m.contains(expected)), "{all:?}");
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
}
