//! The GitHub-issue channel against weft-testkit's fake GitHub.

use std::time::Duration;

use weft_github::{GitHub, GitHubSettings};
use weft_notify::{Notification, Notifier, NotifyEvent, ServiceVersion, fingerprint_marker};
use weft_testkit::github::{FakeGitHub, Repository};

use crate::support::{env, notify_config, quick};

const CONFIG: &str = r#"notify:
  channels:
    incidents: {github_issue: {repository: acme/ops, labels: [incident, weft]}}
  rules:
    release-failures:
      events: [deployment_failed, rollback_failed, gate_failed]
      channels: [incidents]
      when: {environment: production}
"#;

fn failed(deployment: &str, service: &str) -> Notification {
    Notification::new(NotifyEvent::GateFailed, "production", deployment)
        .service_version(ServiceVersion {
            name: service.to_string(),
            version: "2.0.0".into(),
            previous_version: Some("1.9.0".into()),
            failed: true,
        })
        .service("web", "3.1.0")
}

/// A fake hosting `acme/ops`, and a client of it that does not retry by
/// itself (so the channel's own retries show).
fn github(token: &str) -> (FakeGitHub, GitHub) {
    let fake = FakeGitHub::start();
    fake.add_repository(Repository::new("acme/ops"));
    let client = GitHub::new(GitHubSettings {
        api_url: fake.url().to_string(),
        token: Some(token.to_string()),
        token_env: "GITHUB_TOKEN".to_string(),
        max_wait: Duration::from_secs(5),
        retries: 0,
    });
    (fake, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_open_one_issue_per_service_and_recovery_closes_it() {
    let (fake, client) = github(weft_testkit::github::DEFAULT_TOKEN);
    let notifier =
        Notifier::new(&notify_config(CONFIG), &env(&[]), Some(&client)).with_settings(quick());

    let deliveries = notifier.notify(&failed("d-1", "api")).await;
    assert!(deliveries[0].ok, "{deliveries:?}");
    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "only the failed service: {issues:?}");
    assert_eq!(issues[0].repository, "acme/ops");
    assert_eq!(issues[0].title, "[weft] production/api: gate failed");
    assert_eq!(issues[0].labels, ["incident", "weft"]);
    assert!(
        issues[0]
            .body
            .contains("<!-- weft:fingerprint=production/api -->")
    );
    assert_eq!(
        fingerprint_marker("production/api"),
        "<!-- weft:fingerprint=production/api -->"
    );
    assert!(issues[0].body.contains("`api` 1.9.0 → 2.0.0 — failed"));

    // The same incident again: a comment, not a second issue.
    let deliveries = notifier.notify(&failed("d-2", "api")).await;
    assert!(deliveries[0].ok);
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].comments.len(), 1);
    assert!(issues[0].comments[0].contains("Deployment: `d-2`"));

    // Another service's failure is another incident; a 502 is retried
    // without opening a duplicate.
    fake.fail_next("/repos/acme/ops/issues", 1, 502);
    let deliveries = notifier.notify(&failed("d-2", "worker")).await;
    assert!(deliveries[0].ok, "{deliveries:?}");
    assert_eq!(deliveries[0].attempts, 2);
    assert_eq!(fake.issues().len(), 2);

    // Staging is not the rule's environment.
    let staging = Notification::new(NotifyEvent::GateFailed, "staging", "d-3").service("api", "2");
    assert!(notifier.notify(&staging).await.is_empty());

    // Recovery: no rule routes it, yet the open incidents of its services close.
    let recovered = Notification::new(NotifyEvent::RollbackSucceeded, "production", "d-2")
        .service("api", "1.9.0")
        .service("worker", "1.0.0");
    let deliveries = notifier.notify(&recovered).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert!(deliveries[0].ok);
    assert_eq!(deliveries[0].channel, "incidents");
    let issues = fake.issues();
    assert!(issues.iter().all(|i| !i.open), "{issues:?}");
    assert_eq!(issues[0].state_reason.as_deref(), Some("completed"));
    assert!(
        issues[0]
            .comments
            .last()
            .unwrap()
            .starts_with("Recovered: rollback succeeded in deployment `d-2`.")
    );

    // Nothing open: nothing to record.
    let again = Notification::new(NotifyEvent::DeploymentSucceeded, "production", "d-4")
        .service("api", "2.0.1");
    assert!(notifier.notify(&again).await.is_empty());

    // A new failure after recovery opens a new issue.
    notifier.notify(&failed("d-5", "api")).await;
    let issues = fake.issues();
    assert_eq!(issues.len(), 3);
    assert!(issues[2].open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_fails_at_once_and_test_only_lists() {
    let notifier = Notifier::new(&notify_config(CONFIG), &env(&[]), None).with_settings(quick());
    assert_eq!(notifier.problems().len(), 1);
    let deliveries = notifier.notify(&failed("d-1", "api")).await;
    assert!(!deliveries[0].ok);

    let (fake, client) = github("ghp_not_the_token");
    let notifier =
        Notifier::new(&notify_config(CONFIG), &env(&[]), Some(&client)).with_settings(quick());
    let deliveries = notifier.notify(&failed("d-1", "api")).await;
    assert!(!deliveries[0].ok);
    assert_eq!(deliveries[0].attempts, 1, "a bad token is not retried");
    let error = deliveries[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("GITHUB_TOKEN"), "{error}");
    assert!(!error.contains("ghp_not_the_token"), "{error}");

    let (fake_ok, client) = github(weft_testkit::github::DEFAULT_TOKEN);
    let notifier = Notifier::new(&notify_config(CONFIG), &env(&[]), Some(&client));
    let delivery = notifier.notify_test("incidents").await.unwrap();
    assert!(delivery.ok, "{delivery:?}");
    assert!(fake_ok.issues().is_empty());
    assert!(fake.issues().is_empty());
}
