//! Headers, ETags, paging, limits, retries and log redirects.

use std::time::{Duration, Instant};

use weft_github::{Fetched, GitHub, GitHubError, GitHubSettings};
use weft_testkit::github::{FakeGitHub, Repository, Workflow};

pub(crate) fn client(fake: &FakeGitHub, token: Option<&str>) -> GitHub {
    GitHub::new(GitHubSettings {
        api_url: fake.url().to_string(),
        token: token.map(str::to_string),
        token_env: "GITHUB_TOKEN".to_string(),
        max_wait: Duration::from_secs(5),
        retries: 2,
    })
}

/// A fake hosting `acme/app` with a `deploy.yml` whose runs take `run`.
pub(crate) fn github(run: Duration) -> FakeGitHub {
    let fake = FakeGitHub::start();
    fake.add_repository(
        Repository::new("acme/app").workflow(Workflow::new("deploy.yml").duration(run)),
    );
    fake
}

pub(crate) fn statuses(fake: &FakeGitHub) -> Vec<u16> {
    fake.request_log().iter().map(|r| r.status).collect()
}

#[test]
fn an_unchanged_run_is_a_free_304_from_the_cache() {
    let fake = github(Duration::from_secs(60));
    let github = client(&fake, Some(fake.token()));
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
    assert_eq!(dispatched.run_id, fake.runs()[0].id);
    let first = github.workflow_run("acme/app", dispatched.run_id).unwrap();
    assert!(first.is_fresh());
    let remaining = github.budget().remaining.unwrap();
    let second = github.workflow_run("acme/app", dispatched.run_id).unwrap();
    assert!(matches!(second, Fetched::NotModified(_)));
    assert_eq!(second.into_inner().status.as_deref(), Some("queued"));
    assert_eq!(github.budget().not_modified, 1);
    // A 304 costs nothing of the budget, by the client's count and GitHub's.
    assert_eq!(github.budget().remaining, Some(remaining));
    assert_eq!(fake.rate_limit_remaining(), remaining);
    assert_eq!(statuses(&fake), [200, 200, 304]);
}

#[test]
fn lists_are_followed_through_link_headers() {
    let fake = github(Duration::from_secs(60));
    for n in 0..5 {
        let inputs = std::collections::BTreeMap::new();
        client(&fake, Some(fake.token()))
            .dispatch_workflow(&weft_github::WorkflowDispatch {
                repository: "acme/app",
                workflow: "deploy.yml",
                git_ref: Some("main"),
                inputs: &inputs,
                correlation_id: &format!("c-{n}"),
                find_timeout: Duration::from_secs(5),
            })
            .unwrap();
    }
    let before = fake.requests();
    let github = client(&fake, Some(fake.token()));
    let runs = github
        .get_all(
            "/repos/acme/app/actions/runs?per_page=2",
            Some("workflow_runs"),
        )
        .unwrap();
    let mut ids: Vec<u64> = runs.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    let mut dispatched: Vec<u64> = fake.runs().iter().map(|r| r.id).collect();
    dispatched.sort_unstable();
    assert_eq!(ids, dispatched);
    // Three pages of two, each asked for once.
    assert_eq!(fake.requests() - before, 3);
}

#[test]
fn a_secondary_limit_is_waited_out_and_5xx_retried() {
    let fake = github(Duration::from_secs(1));
    fake.fail_next("/repos/acme/app", 1, 502);
    let github = client(&fake, Some(fake.token()));
    let repository = github.get("/repos/acme/app").unwrap().into_inner();
    assert_eq!(repository["default_branch"], "main");
    assert_eq!(statuses(&fake), [502, 200]);

    fake.secondary_rate_limit(1, Duration::from_secs(1), 403);
    let started = Instant::now();
    github.get("/repos/acme/app").unwrap();
    // retry-after: 1 was honoured before the next request, which was
    // conditional on the ETag of the first answer.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(statuses(&fake)[2..], [403, 304]);
}

#[test]
fn a_spent_budget_waits_for_the_reset_and_resumes() {
    let fake = github(Duration::from_secs(1));
    fake.exhaust_rate_limit(Duration::from_millis(1500));
    let github = client(&fake, Some(fake.token()));
    let started = Instant::now();
    let repository = github.get("/repos/acme/app").unwrap().into_inner();
    assert_eq!(repository["full_name"], "acme/app");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    // Exactly one request went into the limit; the next waited for the reset.
    assert_eq!(statuses(&fake), [403, 200]);

    // A reset further away than the longest wait stops cleanly, and no
    // further request is sent into the known limit.
    fake.exhaust_rate_limit(Duration::from_secs(30));
    let error = github.get("/repos/acme/app").unwrap_err();
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
    let sent = fake.requests();
    let again = github.get("/repos/acme/app").unwrap_err();
    assert!(matches!(again, GitHubError::RateLimited { .. }), "{again}");
    assert_eq!(fake.requests(), sent);
}

#[test]
fn job_logs_follow_the_redirect_without_the_token() {
    let fake = github(Duration::from_secs(1));
    let github = client(&fake, Some(fake.token()));
    let inputs = std::collections::BTreeMap::new();
    let dispatched = github
        .dispatch_workflow(&weft_github::WorkflowDispatch {
            repository: "acme/app",
            workflow: "deploy.yml",
            git_ref: None,
            inputs: &inputs,
            correlation_id: "c-1",
            find_timeout: Duration::from_secs(5),
        })
        .unwrap();
    fake.set_run_log(dispatched.run_id, "line 1\nline 2\n");
    let job = fake.runs()[0].job_id;
    // Logs exist once the run has completed; before, a 404 is no log yet.
    assert_eq!(github.job_log("acme/app", job).unwrap(), None);
    while fake.runs()[0].status != "completed" {
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = fake.requests();
    let log = github.job_log("acme/app", job).unwrap();
    assert_eq!(log.as_deref(), Some("line 1\nline 2\n"));
    let seen = &fake.request_log()[before..];
    assert_eq!(seen.len(), 2);
    assert!(seen[0].authorization && seen[0].status == 302);
    assert!(seen[1].path.starts_with("/_logs/"));
    assert!(!seen[1].authorization, "the token went to the download URL");
}

#[test]
fn a_bad_token_names_its_variable() {
    let fake = github(Duration::from_secs(1));
    let github = client(&fake, Some("wrong"));
    let error = github.get("/repos/acme/app").unwrap_err();
    assert!(matches!(error, GitHubError::Unauthorized { .. }), "{error}");
    assert!(error.to_string().contains("GITHUB_TOKEN"), "{error}");
    assert!(error.is_environment());
    let missing = client(&fake, Some(fake.token()))
        .get("/repos/acme/app/nothing")
        .unwrap_err();
    assert!(matches!(missing, GitHubError::NotFound { .. }), "{missing}");
}
