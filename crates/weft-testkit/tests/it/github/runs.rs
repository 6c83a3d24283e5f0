//! Workflow dispatch, runs and their statuses, ETags, paging, filters, jobs
//! and logs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use weft_testkit::github::Workflow;

use super::{dispatch, get, get_url, github, links, poll, post, wait_completed};

#[test]
fn a_dispatch_with_run_details_answers_200_and_the_run_moves_through_its_statuses() {
    let github = github();
    let path = "/repos/octo/app/actions/workflows/deploy.yml/dispatches";
    let body =
        json!({"ref": "main", "inputs": {"correlation_id": "c-1"}, "return_run_details": true});
    let reply = post(&github, path, &body.to_string());
    assert_eq!(reply.status, 200, "{reply:?}");
    let details = reply.json();
    let id = details["workflow_run_id"].as_u64().unwrap();
    assert!(
        id > u64::from(u32::MAX),
        "run ids outgrow 32 bits, as GitHub's do"
    );
    let run_url = format!("{}/repos/octo/app/actions/runs/{id}", github.url());
    assert_eq!(details["run_url"], run_url.as_str());
    assert_eq!(
        details["html_url"],
        format!("https://github.com/octo/app/actions/runs/{id}").as_str()
    );

    let mut seen: Vec<String> = Vec::new();
    let run = poll("the run to complete", || {
        let run = get_url(
            &run_url,
            &[("Authorization", &format!("Bearer {}", github.token()))],
        );
        let run = run.json();
        let status = run["status"].as_str().unwrap().to_string();
        if status == "completed" {
            assert_eq!(run["conclusion"], "success");
        } else {
            assert_eq!(run["conclusion"], Value::Null, "{run}");
        }
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        (status == "completed").then_some(run)
    });
    assert_eq!(seen, ["queued", "in_progress", "completed"]);
    assert_eq!(run["id"], id);
    assert_eq!(run["event"], "workflow_dispatch");
    assert_eq!(run["head_branch"], "main");
    assert_eq!(run["name"], "Deploy");
    assert_eq!(run["display_title"], "Deploy c-1");
    assert_eq!(run["path"], ".github/workflows/deploy.yml");
    assert_eq!(run["run_number"], 1);
    assert_eq!(run["repository"]["full_name"], "octo/app");
    assert_eq!(run["jobs_url"], format!("{run_url}/jobs").as_str());
    assert_eq!(run["logs_url"], format!("{run_url}/logs").as_str());
    assert!(run["workflow_id"].is_u64());
    assert!(run.get("inputs").is_none(), "GitHub does not return inputs");
    let created = run["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    assert!(run["updated_at"].as_str().unwrap() >= created);
}

#[test]
fn a_dispatch_without_run_details_answers_204_and_the_run_is_found_by_its_correlation_id() {
    let github = github();
    let path = "/repos/octo/app/actions/workflows/slow.yml/dispatches";
    let body =
        json!({"ref": "refs/heads/release", "inputs": {"correlation_id": "abc-42", "tier": "web"}});
    let reply = post(&github, path, &body.to_string());
    assert_eq!(reply.status, 204);
    assert_eq!(reply.text, "");

    let runs = get(
        &github,
        "/repos/octo/app/actions/runs?event=workflow_dispatch&branch=release",
    );
    let runs = runs.json();
    assert_eq!(runs["total_count"], 1);
    let run = &runs["workflow_runs"][0];
    assert!(run["display_title"].as_str().unwrap().contains("abc-42"));
    assert_eq!(run["head_branch"], "release");
    assert_eq!(run["status"], "queued");

    let dispatched = github.runs();
    assert_eq!(dispatched.len(), 1);
    assert_eq!(dispatched[0].id, run["id"].as_u64().unwrap());
    assert_eq!(dispatched[0].workflow, "slow.yml");
    assert_eq!(dispatched[0].inputs["tier"], "web");
    assert_eq!(dispatched[0].inputs["correlation_id"], "abc-42");
}

#[test]
fn dispatches_github_refuses_are_refused_as_github_does() {
    let github = github();
    github.add_workflow(
        "octo/app",
        Workflow::new("typed.yml").inputs(["correlation_id"]),
    );
    let to = |workflow: &str| format!("/repos/octo/app/actions/workflows/{workflow}/dispatches");
    let cases = [
        (to("missing.yml"), json!({"ref": "main"}), 404, "Not Found"),
        (
            "/repos/octo/nothing/actions/workflows/deploy.yml/dispatches".into(),
            json!({"ref": "main"}),
            404,
            "Not Found",
        ),
        (
            to("deploy.yml"),
            json!({"inputs": {}}),
            422,
            "\"ref\" wasn't supplied.",
        ),
        (
            to("deploy.yml"),
            json!({"ref": "nope"}),
            422,
            "No ref found for: nope",
        ),
        (
            to("deploy.yml"),
            json!({"ref": "main", "extra": 1}),
            422,
            "\"extra\" is not a permitted key.",
        ),
        (
            to("typed.yml"),
            json!({"ref": "main", "inputs": {"other": "x"}}),
            422,
            "Unexpected inputs provided: [\"other\"]",
        ),
    ];
    for (path, body, status, message) in cases {
        let reply = post(&github, &path, &body.to_string());
        assert_eq!(reply.status, status, "{path} {body}: {reply:?}");
        let error = reply.json();
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{error}"
        );
        assert!(
            error["documentation_url"]
                .as_str()
                .unwrap()
                .starts_with("https://docs.github.com/")
        );
    }
    let reply = post(&github, &to("deploy.yml"), "{not json");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["message"], "Problems parsing JSON");
    assert!(github.runs().is_empty(), "refused dispatches create no run");
    let declared = json!({"ref": "main", "inputs": {"correlation_id": "x"}});
    assert_eq!(
        post(&github, &to("typed.yml"), &declared.to_string()).status,
        204
    );
}

#[test]
fn return_run_details_is_a_422_where_it_is_not_supported() {
    let github = github();
    github.set_run_details_supported(false);
    let path = "/repos/octo/app/actions/workflows/deploy.yml/dispatches";
    let reply = post(
        &github,
        path,
        &json!({"ref": "main", "return_run_details": true}).to_string(),
    );
    assert_eq!(reply.status, 422);
    let error = reply.json();
    assert_eq!(
        error["message"],
        "Invalid request.\n\n\"return_run_details\" is not a permitted key."
    );
    assert_eq!(error["status"], "422");
    assert!(github.runs().is_empty());
    let reply = post(&github, path, &json!({"ref": "main"}).to_string());
    assert_eq!(reply.status, 204, "the older form still works");
    assert_eq!(github.runs().len(), 1);
}

#[test]
fn a_matching_if_none_match_gets_a_304_that_does_not_spend_the_budget() {
    let github = github();
    github.accept_token("ghp_other");
    let run = dispatch(&github, "slow.yml", json!({}));
    let url = format!("{}/repos/octo/app/actions/runs/{run}", github.url());
    let bearer = format!("Bearer {}", github.token());
    let first = get_url(&url, &[("Authorization", &bearer)]);
    assert_eq!(first.status, 200);
    let etag = first.header("etag").unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let remaining = first.number("x-ratelimit-remaining");

    let cached = get_url(
        &url,
        &[("Authorization", &bearer), ("If-None-Match", &etag)],
    );
    assert_eq!(cached.status, 304);
    assert_eq!(cached.text, "");
    assert_eq!(cached.header("etag"), Some(etag.as_str()));
    assert_eq!(
        cached.number("x-ratelimit-remaining"),
        remaining,
        "a 304 is free"
    );
    assert_eq!(github.not_modified(), 1);

    let other = get_url(
        &url,
        &[
            ("Authorization", "Bearer ghp_other"),
            ("If-None-Match", &etag),
        ],
    );
    assert_eq!(other.status, 200, "ETags differ per token");
    assert_ne!(other.header("etag"), Some(etag.as_str()));
    assert_eq!(other.number("x-ratelimit-remaining"), remaining - 1);

    let stale = get_url(
        &url,
        &[("Authorization", &bearer), ("If-None-Match", "W/\"old\"")],
    );
    assert_eq!(stale.status, 200);
    assert_eq!(
        github.requests_to(&format!("/repos/octo/app/actions/runs/{run}")),
        4
    );
}

#[test]
fn the_etag_changes_when_the_run_does() {
    let github = github();
    let run = dispatch(&github, "deploy.yml", json!({}));
    let path = format!("/repos/octo/app/actions/runs/{run}");
    let first = get(&github, &path);
    let completed = wait_completed(&github, run);
    let last = get(&github, &path);
    assert_eq!(last.json(), completed);
    if first.json()["status"] != "completed" {
        assert_ne!(first.header("etag"), last.header("etag"));
    }
}

#[test]
fn lists_page_newest_first_with_link_headers() {
    let github = github();
    let ids: Vec<u64> = (0..5)
        .map(|_| dispatch(&github, "fail.yml", json!({})))
        .collect();
    let first = get(
        &github,
        "/repos/octo/app/actions/runs?event=workflow_dispatch&per_page=2",
    );
    assert_eq!(first.json()["total_count"], 5);
    let rels = links(&first);
    let base = format!(
        "{}/repos/octo/app/actions/runs?event=workflow_dispatch&per_page=2&page=",
        github.url()
    );
    assert_eq!(
        rels,
        BTreeMap::from([
            ("next".to_string(), format!("{base}2")),
            ("last".to_string(), format!("{base}3")),
        ])
    );

    let mut seen = Vec::new();
    let mut page = Some(first);
    let mut pages = 0;
    while let Some(reply) = page {
        pages += 1;
        let body = reply.json();
        assert_eq!(body["total_count"], 5);
        seen.extend(
            body["workflow_runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_u64().unwrap()),
        );
        let rels = links(&reply);
        if pages == 2 {
            assert_eq!(
                rels.keys().collect::<Vec<_>>(),
                ["first", "last", "next", "prev"]
            );
            assert_eq!(rels["prev"], format!("{base}1"));
        }
        page = rels.get("next").map(|url| {
            get_url(
                url,
                &[("Authorization", &format!("Bearer {}", github.token()))],
            )
        });
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<u64> = ids.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);
    let single = get(&github, "/repos/octo/app/actions/runs");
    assert_eq!(single.header("link"), None, "one page, no Link");
    assert_eq!(single.json()["workflow_runs"].as_array().unwrap().len(), 5);
}

#[test]
fn the_run_list_filters_as_githubs_does() {
    let github = github();
    let failed = dispatch(&github, "fail.yml", json!({}));
    let body = json!({"ref": "release"}).to_string();
    assert_eq!(
        post(
            &github,
            "/repos/octo/app/actions/workflows/slow.yml/dispatches",
            &body
        )
        .status,
        204
    );
    wait_completed(&github, failed);
    let count = |query: &str| {
        let reply = get(&github, &format!("/repos/octo/app/actions/runs?{query}"));
        assert_eq!(reply.status, 200, "{query}: {reply:?}");
        reply.json()["total_count"].as_u64().unwrap()
    };
    assert_eq!(count("branch=release"), 1);
    assert_eq!(count("branch=main"), 1);
    assert_eq!(count("status=completed"), 1);
    assert_eq!(count("status=failure"), 1);
    assert_eq!(count("status=queued"), 1);
    assert_eq!(count("status=success"), 0);
    assert_eq!(count("event=push"), 0);
    assert_eq!(count("created=%3E%3D2000-01-01"), 2);
    assert_eq!(count("created=%3C2000-01-01"), 0);
    assert_eq!(count("created=2000-01-01..*"), 2);
    let bad = get(&github, "/repos/octo/app/actions/runs?created=yesterday");
    assert_eq!(bad.status, 422);
}

#[test]
fn jobs_and_a_log_behind_a_302_that_needs_no_token() {
    let github = github();
    let run = dispatch(&github, "fail.yml", json!({}));
    github.set_run_log(run, "step 1\nstep 2 failed\n");
    wait_completed(&github, run);
    let jobs = get(&github, &format!("/repos/octo/app/actions/runs/{run}/jobs")).json();
    assert_eq!(jobs["total_count"], 1);
    let job = &jobs["jobs"][0];
    assert_eq!(job["run_id"], run);
    assert_eq!(job["status"], "completed");
    assert_eq!(job["conclusion"], "failure");
    assert!(job["completed_at"].is_string() && job["started_at"].is_string());
    assert_eq!(job["steps"].as_array().unwrap().len(), 3);
    let job_id = job["id"].as_u64().unwrap();

    let redirect = get(
        &github,
        &format!("/repos/octo/app/actions/jobs/{job_id}/logs"),
    );
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.text, "");
    let location = redirect.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/_logs/{job_id}?", github.url())),
        "{location}"
    );

    let log = get_url(&location, &[]);
    assert_eq!(log.status, 200);
    assert_eq!(log.text, "step 1\nstep 2 failed\n");
    assert!(
        log.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let downloads: Vec<_> = github
        .request_log()
        .into_iter()
        .filter(|r| r.path.starts_with("/_logs/"))
        .collect();
    assert_eq!(downloads.len(), 1);
    assert!(!downloads[0].authorization, "the token stayed home");
    assert!(downloads[0].query.as_deref().unwrap().starts_with("token="));

    let leaked = get_url(&location, &[("Authorization", "Bearer leaked")]);
    assert_eq!(leaked.status, 200, "the URL needs no token, and takes any");
    assert!(
        github.request_log().last().unwrap().authorization,
        "but a leak is recorded"
    );
    let forged = get_url(
        &format!("{}/_logs/{job_id}?token=forged", github.url()),
        &[],
    );
    assert_eq!(forged.status, 403);
}

#[test]
fn logs_are_404_until_the_run_completes_and_their_url_expires_with_410() {
    let github = github();
    github.set_log_url_lifetime(Duration::from_millis(100));
    let slow = dispatch(&github, "slow.yml", json!({}));
    let job = github
        .runs()
        .into_iter()
        .find(|r| r.id == slow)
        .unwrap()
        .job_id;
    let early = get(&github, &format!("/repos/octo/app/actions/jobs/{job}/logs"));
    assert_eq!(early.status, 404);
    assert_eq!(early.json()["message"], "Not Found");
    assert_eq!(
        get(&github, "/repos/octo/app/actions/jobs/1/logs").status,
        404
    );

    let fast = dispatch(&github, "fail.yml", json!({}));
    wait_completed(&github, fast);
    let job = github
        .runs()
        .into_iter()
        .find(|r| r.id == fast)
        .unwrap()
        .job_id;
    let location = get(&github, &format!("/repos/octo/app/actions/jobs/{job}/logs"));
    let location = location.header("location").unwrap().to_string();
    poll("the log URL to expire", || {
        (get_url(&location, &[]).status == 410).then_some(())
    });
}
