//! Headers, ETags, paging, limits, retries and log redirects.

use std::time::{Duration, Instant};

use weft_github::{Fetched, GitHub, GitHubError, GitHubSettings};
use weft_testkit::fake_github::{FakeGitHub, TOKEN};

pub(crate) fn client(fake: &FakeGitHub, token: Option<&str>) -> GitHub {
    GitHub::new(GitHubSettings {
        api_url: fake.url.clone(),
        token: token.map(str::to_string),
        token_env: "GITHUB_TOKEN".to_string(),
        max_wait: Duration::from_secs(5),
        retries: 2,
    })
}

#[test]
fn an_unchanged_run_is_a_free_304_from_the_cache() {
    let fake = FakeGitHub::start();
    fake.with(|s| s.run_duration = Duration::from_secs(60));
    let github = client(&fake, Some(TOKEN));
    let inputs = std::collections::BTreeMap::new();
    let dispatched = github
        .dispatch_workflow(&weft_github::WorkflowDispatch {
            repository: "acme/app",
            workflow: "deploy.yml",
            git_ref: Some("main"),
            inputs: &inputs,
            correlation_id: "c-1",
            find_timeout: Duration::from_secs(5),
        })
        .unwrap();
    assert_eq!(dispatched.run_id, 1000);
    let first = github.workflow_run("acme/app", 1000).unwrap();
    assert!(first.is_fresh());
    let remaining = github.budget().remaining.unwrap();
    let second = github.workflow_run("acme/app", 1000).unwrap();
    assert!(matches!(second, Fetched::NotModified(_)));
    assert_eq!(second.into_inner().status.as_deref(), Some("queued"));
    assert_eq!(github.budget().not_modified, 1);
    // A 304 costs nothing of the budget.
    assert_eq!(github.budget().remaining, Some(remaining));
    // ETags are per token: another token's client asks afresh.
    let statuses: Vec<u16> = fake.seen().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [200, 200, 304]);
    let other = GitHub::new(GitHubSettings {
        token: Some(TOKEN.to_string()),
        ..github.settings().clone()
    });
    assert!(other.workflow_run("acme/app", 1000).unwrap().is_fresh());
}

#[test]
fn lists_are_followed_through_link_headers() {
    let fake = FakeGitHub::start();
    fake.with(|s| s.pulls = 5);
    let github = client(&fake, Some(TOKEN));
    let pulls = github
        .get_all("/repos/acme/app/pulls?state=open", None)
        .unwrap();
    let numbers: Vec<u64> = pulls
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    assert_eq!(fake.seen().len(), 3);
}

#[test]
fn a_secondary_limit_is_waited_out_and_5xx_retried() {
    let fake = FakeGitHub::start();
    fake.with(|s| {
        s.secondary = 1;
        s.failures = 1;
    });
    let github = client(&fake, Some(TOKEN));
    let started = Instant::now();
    let repository = github.get("/repos/acme/app").unwrap().into_inner();
    assert_eq!(repository["default_branch"], "main");
    // retry-after: 1 was honoured before the next request.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = fake.seen().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [502, 403, 200]);
}

#[test]
fn a_spent_budget_waits_for_the_reset_and_resumes() {
    let fake = FakeGitHub::start();
    fake.with(|s| s.exhausted_until = Some(Instant::now() + Duration::from_millis(1500)));
    let github = client(&fake, Some(TOKEN));
    let started = Instant::now();
    let repository = github.get("/repos/acme/app").unwrap().into_inner();
    assert_eq!(repository["full_name"], "acme/app");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    // Exactly one request went into the limit; the next waited for the reset.
    let statuses: Vec<u16> = fake.seen().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [403, 200]);

    // A reset further away than the longest wait stops cleanly, and no
    // further request is sent into the known limit.
    fake.with(|s| s.exhausted_until = Some(Instant::now() + Duration::from_secs(30)));
    let error = github.get("/repos/acme/other").unwrap_err();
    assert!(
        matches!(
            error,
            GitHubError::RateLimited {
                max_wait_secs: 5,
                ..
            }
        ),
        "{error}"
    );
    let sent = fake.seen().len();
    let again = github.get("/repos/acme/other").unwrap_err();
    assert!(matches!(again, GitHubError::RateLimited { .. }), "{again}");
    assert_eq!(fake.seen().len(), sent);
}

#[test]
fn job_logs_follow_the_redirect_without_the_token() {
    let fake = FakeGitHub::start();
    let github = client(&fake, Some(TOKEN));
    let log = github.job_log("acme/app", 7).unwrap();
    assert_eq!(log.as_deref(), Some("line 1\nline 2\n"));
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].authorized && seen[0].status == 302);
    assert!(seen[1].path.starts_with("/_logs/"));
    assert!(!seen[1].authorized, "the token went to the download URL");
}

#[test]
fn a_bad_token_names_its_variable() {
    let fake = FakeGitHub::start();
    let github = client(&fake, Some("wrong"));
    let error = github.get("/repos/acme/app").unwrap_err();
    assert!(matches!(error, GitHubError::Unauthorized { .. }), "{error}");
    assert!(error.to_string().contains("GITHUB_TOKEN"), "{error}");
    assert!(error.is_environment());
    let missing = client(&fake, Some(TOKEN))
        .get("/repos/acme/app/nothing")
        .unwrap_err();
    assert!(matches!(missing, GitHubError::NotFound { .. }), "{missing}");
}
