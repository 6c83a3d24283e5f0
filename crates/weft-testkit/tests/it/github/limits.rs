//! Credentials, rate limits, injected errors, `repository_dispatch`, the
//! repository and the request log.

use std::time::Duration;

use serde_json::{Value, json};
use weft_testkit::github::Repository;

use super::{dispatch, get, get_url, github, now_epoch, poll, post};

#[test]
fn only_the_accepted_tokens_get_in_by_either_scheme() {
    let github = github();
    let url = format!("{}/repos/octo/app", github.url());
    let missing = get_url(&url, &[]);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["message"], "Requires authentication");
    let wrong = get_url(&url, &[("Authorization", "Bearer ghp_wrong")]);
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json(),
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
    );
    assert_eq!(wrong.header("x-ratelimit-limit"), Some("60"));
    for scheme in ["Bearer", "token"] {
        let reply = get_url(
            &url,
            &[("Authorization", &format!("{scheme} {}", github.token()))],
        );
        assert_eq!(reply.status, 200, "{scheme}");
    }
    github.accept_token("ghs_installation");
    let reply = get_url(&url, &[("Authorization", "Bearer ghs_installation")]);
    assert_eq!(reply.status, 200);
}

#[test]
fn a_spent_primary_budget_is_a_403_until_the_reset_then_refills() {
    let github = github();
    github.set_rate_limit(100);
    let reply = get(&github, "/repos/octo/app");
    assert_eq!(reply.number("x-ratelimit-limit"), 100);
    assert_eq!(reply.number("x-ratelimit-remaining"), 99);
    assert_eq!(reply.number("x-ratelimit-used"), 1);
    assert_eq!(reply.header("x-ratelimit-resource"), Some("core"));

    github.exhaust_rate_limit(Duration::from_millis(1500));
    let limited = get(&github, "/repos/octo/app");
    assert_eq!(limited.status, 403);
    assert_eq!(limited.number("x-ratelimit-remaining"), 0);
    let reset = limited.number("x-ratelimit-reset");
    assert!((now_epoch()..=now_epoch() + 3).contains(&reset), "{reset}");
    let error = limited.json();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for ")
    );
    assert_eq!(
        error["documentation_url"],
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    );
    assert_eq!(get(&github, "/repos/octo/app/actions/runs").status, 403);

    let refilled = poll("the budget to refill", || {
        let reply = get(&github, "/repos/octo/app");
        (reply.status == 200).then_some(reply)
    });
    assert!(now_epoch() >= reset, "not before the announced reset");
    assert_eq!(refilled.number("x-ratelimit-remaining"), 99);
    assert!(refilled.number("x-ratelimit-reset") > reset);
}

#[test]
fn a_secondary_limit_answers_with_retry_after_then_lets_go() {
    let github = github();
    for status in [403, 429] {
        github.secondary_rate_limit(2, Duration::from_secs(3), status);
        for _ in 0..2 {
            let reply = get(&github, "/repos/octo/app");
            assert_eq!(reply.status, status);
            assert_eq!(reply.header("retry-after"), Some("3"));
            assert!(reply.number("x-ratelimit-remaining") > 0);
            let message = reply.json()["message"].as_str().unwrap().to_string();
            assert!(message.contains("secondary rate limit"), "{message}");
        }
        assert_eq!(get(&github, "/repos/octo/app").status, 200);
    }
}

#[test]
fn injected_server_errors_hit_only_their_path() {
    let github = github();
    github.fail_next("/repos/octo/app", 2, 502);
    assert_eq!(get(&github, "/repos/octo/app/actions/runs").status, 200);
    let failed = get(&github, "/repos/octo/app");
    assert_eq!(failed.status, 502);
    assert_eq!(failed.json()["message"], "Server Error");
    assert_eq!(get(&github, "/repos/octo/app").status, 502);
    assert_eq!(get(&github, "/repos/octo/app").status, 200);
    github.fail_next("/repos/octo/app", 1, 503);
    assert_eq!(get(&github, "/repos/octo/app").status, 503);
    assert_eq!(get(&github, "/repos/octo/app").status, 200);
}

#[test]
fn repository_dispatch_enforces_githubs_limits() {
    let github = github();
    let path = "/repos/octo/app/dispatches";
    let send = |body: Value| post(&github, path, &body.to_string());
    let keys = |n: usize| {
        (0..n)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect::<serde_json::Map<_, _>>()
    };

    assert_eq!(
        send(json!({"event_type": "e".repeat(100), "client_payload": keys(10)})).status,
        204
    );
    assert_eq!(send(json!({"event_type": "e".repeat(101)})).status, 422);
    assert_eq!(send(json!({"event_type": ""})).status, 422);
    assert_eq!(send(json!({"client_payload": {}})).status, 422);
    assert_eq!(
        send(json!({"event_type": "deploy", "client_payload": keys(11)})).status,
        422
    );
    assert_eq!(
        send(json!({"event_type": "deploy", "client_payload": "text"})).status,
        422
    );
    // `{"blob":"…"}` is 11 bytes around the blob: under 64 KB, then at it.
    let under =
        send(json!({"event_type": "deploy", "client_payload": {"blob": "x".repeat(65_524)}}));
    assert_eq!(under.status, 204);
    let at = send(json!({"event_type": "deploy", "client_payload": {"blob": "x".repeat(65_525)}}));
    assert_eq!(at.status, 422);
    assert!(at.json()["message"].as_str().unwrap().contains("64KB"));
    assert_eq!(
        post(
            &github,
            "/repos/octo/none/dispatches",
            "{\"event_type\":\"x\"}"
        )
        .status,
        404
    );

    let accepted = github.repository_dispatches();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0].repository, "octo/app");
    assert_eq!(accepted[0].event_type, "e".repeat(100));
    assert_eq!(accepted[0].client_payload["k9"], 9);
}

#[test]
fn the_repository_answers_with_its_default_branch() {
    let github = github();
    github.add_repository(
        Repository::new("octo/site")
            .default_branch("trunk")
            .private(true)
            .archived(true),
    );
    let site = get(&github, "/repos/Octo/Site").json();
    assert_eq!(site["full_name"], "octo/site");
    assert_eq!(site["default_branch"], "trunk");
    assert_eq!(site["private"], true);
    assert_eq!(site["archived"], true);
    assert_eq!(site["html_url"], "https://github.com/octo/site");
    let missing = get(&github, "/repos/octo/none");
    assert_eq!(missing.status, 404);
    assert_eq!(get(&github, "/nowhere").status, 404);
    let reply = get(&github, "/repos/octo/app");
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(reply.header("x-github-request-id").is_some());
}

#[test]
fn every_request_is_counted_and_logged() {
    let github = github();
    let run = dispatch(&github, "slow.yml", json!({}));
    get(&github, &format!("/repos/octo/app/actions/runs/{run}"));
    get_url(&format!("{}/repos/octo/app", github.url()), &[]);
    assert_eq!(github.requests(), 3);
    assert_eq!(github.requests_to("/repos/octo/app"), 1);
    let log = github.request_log();
    assert_eq!(log[0].method, "POST");
    assert_eq!(
        log[0].path,
        "/repos/octo/app/actions/workflows/slow.yml/dispatches"
    );
    assert!(log[0].authorization);
    assert_eq!(
        (log[1].status, log[2].status, log[2].authorization),
        (200, 401, false)
    );
}
