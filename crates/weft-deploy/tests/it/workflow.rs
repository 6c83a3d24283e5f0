//! `workflow` steps against a GitHub on 127.0.0.1: the run's conclusion
//! decides the step, the run's URL lands in the manifest, and a server
//! without run details is handled by correlation.

use std::time::Duration;

use weft_deploy::{Plan, Release, ReleaseRequest, Signals};
use weft_github::{GitHub, GitHubSettings};
use weft_store::{DeploymentKind, DeploymentStatus, Holder, StepStatus};
use weft_testkit::fake_github::{FakeGitHub, TOKEN};

use crate::support::Fixture;

const STEP: &str = "      steps:\n        - workflow: {repository: acme/app, file: deploy.yml, ref: main, inputs: {version: \"${WEFT_VERSION}\"}}\n";

async fn release(
    fixture: &Fixture,
    fake: &FakeGitHub,
    version: &str,
) -> (weft_deploy::Outcome, weft_store::DeploymentRecord) {
    let coordinator = fixture.coordinator().await;
    let live = weft_deploy::manifest::live_state(coordinator.store(), "prod")
        .await
        .unwrap();
    let plan = Plan::build(
        &fixture.model(),
        &ReleaseRequest {
            environment: "prod".into(),
            set: vec![("app".into(), version.into())],
            ..ReleaseRequest::default()
        },
        &live.versions,
    )
    .unwrap();
    let github = GitHub::new(GitHubSettings {
        api_url: fake.url.clone(),
        token: Some(TOKEN.to_string()),
        token_env: "GITHUB_TOKEN".to_string(),
        max_wait: Duration::from_secs(5),
        retries: 1,
    });
    let (sender, _receiver) = tokio::sync::mpsc::unbounded_channel();
    let outcome = weft_deploy::engine::run(
        &coordinator,
        Release {
            plan,
            kind: DeploymentKind::Release,
            rollback_of: None,
            who: serde_json::json!({}),
            holder: Holder::default(),
            wait: Duration::ZERO,
            github: Some(github),
            artifacts: None,
        },
        sender,
        Signals::none(),
    )
    .await
    .unwrap();
    let record = coordinator
        .store()
        .deployment(&outcome.deployment)
        .await
        .unwrap()
        .unwrap();
    (outcome, record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_step_waits_for_its_run_and_records_where_it_ran() {
    let fake = FakeGitHub::start();
    fake.with(|s| s.run_duration = Duration::from_millis(2500));
    let fixture = Fixture::new("  prod: {}", &[("app", &[], STEP)]);
    let (outcome, record) = release(&fixture, &fake, "1.0").await;
    assert_eq!(
        outcome.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        outcome.failure
    );
    assert_eq!(record.steps[0].status, StepStatus::Succeeded);
    let output = &record.steps[0].output_tail;
    for line in [
        "dispatched deploy.yml in acme/app: run 1000",
        "run 1000: queued",
        "run 1000: in_progress",
        "run 1000: completed",
        "concluded success",
    ] {
        assert!(output.contains(line), "no `{line}` in:\n{output}");
    }
    assert_eq!(
        record.services[0].run_url.as_deref(),
        Some("https://github.example/acme/app/actions/runs/1000")
    );
    let sent = fake.state.lock().unwrap().dispatches[0].clone();
    assert_eq!(sent["inputs"]["version"], "1.0");
    // Polled at most about once a second, unchanged answers as free 304s.
    let polls: Vec<u16> = fake
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/actions/runs/1000"))
        .map(|s| s.status)
        .collect();
    assert!(
        (3..=5).contains(&polls.len()),
        "{polls:?} polls of a 2.5 s run"
    );
    assert!(polls.contains(&304), "{polls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_concludes_failure_fails_the_release() {
    let fake = FakeGitHub::start();
    fake.with(|s| s.run_duration = Duration::from_millis(200));
    let fixture = Fixture::new("  prod: {}", &[("app", &[], STEP)]);
    let (first, _) = release(&fixture, &fake, "1.0").await;
    assert_eq!(first.status, DeploymentStatus::Succeeded);
    fake.with(|s| s.conclusion = "failure".into());
    let (outcome, record) = release(&fixture, &fake, "2.0").await;
    assert_eq!(
        outcome.status,
        DeploymentStatus::RollbackFailed,
        "the rollback's run fails too: {:?}",
        outcome.failure
    );
    assert!(
        outcome
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("workflow run 1001 concluded failure"),
        "{:?}",
        outcome.failure
    );
    assert_eq!(record.steps[0].status, StepStatus::Failed);
    // The rollback dispatched the previous version.
    let sent = fake.state.lock().unwrap().dispatches.clone();
    assert_eq!(sent.last().unwrap()["inputs"]["version"], "1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_run_details_is_followed_by_correlation() {
    let fake = FakeGitHub::start();
    fake.with(|s| {
        s.no_run_details = true;
        s.run_duration = Duration::from_millis(200);
    });
    let fixture = Fixture::new("  prod: {}", &[("app", &[], STEP)]);
    let (outcome, record) = release(&fixture, &fake, "1.0").await;
    assert_eq!(
        outcome.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        outcome.failure
    );
    assert!(
        record.steps[0]
            .output_tail
            .contains("found by its correlation id")
    );
    let sent = fake.state.lock().unwrap().dispatches[0].clone();
    let correlation = sent["inputs"]["correlation_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        correlation.starts_with(&outcome.deployment),
        "{correlation}"
    );
}
