//! `workflow` steps against a GitHub on 127.0.0.1: the run's conclusion
//! decides the step, the run's URL lands in the manifest, and a server
//! without run details is handled by correlation.

use std::time::Duration;

use weft_deploy::{Plan, Release, ReleaseRequest, Signals};
use weft_github::{GitHub, GitHubSettings};
use weft_store::{DeploymentKind, DeploymentStatus, Holder, StepStatus};
use weft_testkit::github::{Conclusion, FakeGitHub, Repository, Workflow};

use crate::support::Fixture;

const STEP: &str = "      steps:\n        - workflow: {repository: acme/app, file: deploy.yml, ref: main, inputs: {version: \"${WEFT_VERSION}\"}}\n";

/// A fake hosting `acme/app`, whose `deploy.yml` runs take `run` and end
/// with `conclusion`.
fn github(run: Duration, conclusion: Conclusion) -> FakeGitHub {
    let fake = FakeGitHub::start();
    fake.add_repository(Repository::new("acme/app").workflow(workflow(run, conclusion)));
    fake
}

fn workflow(run: Duration, conclusion: Conclusion) -> Workflow {
    Workflow::new("deploy.yml")
        .duration(run)
        .conclusion(conclusion)
}

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
        api_url: fake.url().to_string(),
        token: Some(fake.token().to_string()),
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
            notifier: None,
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
    let fake = github(Duration::from_millis(2500), Conclusion::Success);
    let fixture = Fixture::new("  prod: {}", &[("app", &[], STEP)]);
    let (outcome, record) = release(&fixture, &fake, "1.0").await;
    assert_eq!(
        outcome.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        outcome.failure
    );
    assert_eq!(record.steps[0].status, StepStatus::Succeeded);
    let run = &fake.runs()[0];
    assert_eq!(run.inputs["version"], "1.0");
    let output = &record.steps[0].output_tail;
    for line in [
        format!("dispatched deploy.yml in acme/app: run {}", run.id),
        format!("run {}: queued", run.id),
        format!("run {}: in_progress", run.id),
        format!("run {}: completed", run.id),
        "concluded success".to_string(),
    ] {
        assert!(output.contains(&line), "no `{line}` in:\n{output}");
    }
    let url = record.services[0].run_url.as_deref().unwrap_or_default();
    assert!(
        url.starts_with("https://") && url.ends_with(&format!("/acme/app/actions/runs/{}", run.id)),
        "{url}"
    );
    // Polled at most about once a second, unchanged answers as free 304s.
    let path = format!("/repos/acme/app/actions/runs/{}", run.id);
    let polls: Vec<u16> = fake
        .request_log()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect();
    assert!(
        (3..=5).contains(&polls.len()),
        "{polls:?} polls of a 2.5 s run"
    );
    assert!(polls.contains(&304), "{polls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_concludes_failure_fails_the_release() {
    let fake = github(Duration::from_millis(200), Conclusion::Success);
    let fixture = Fixture::new("  prod: {}", &[("app", &[], STEP)]);
    let (first, _) = release(&fixture, &fake, "1.0").await;
    assert_eq!(first.status, DeploymentStatus::Succeeded);
    fake.add_workflow(
        "acme/app",
        workflow(Duration::from_millis(200), Conclusion::Failure),
    );
    let (outcome, record) = release(&fixture, &fake, "2.0").await;
    assert_eq!(
        outcome.status,
        DeploymentStatus::RollbackFailed,
        "the rollback's run fails too: {:?}",
        outcome.failure
    );
    let runs = fake.runs();
    assert_eq!(runs.len(), 3, "the release, its failed run, the rollback's");
    let failed = format!("workflow run {} concluded failure", runs[1].id);
    assert!(
        outcome
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains(&failed),
        "{:?}",
        outcome.failure
    );
    assert_eq!(record.steps[0].status, StepStatus::Failed);
    // The rollback dispatched the previous version.
    assert_eq!(runs[1].inputs["version"], "2.0");
    assert_eq!(runs[2].inputs["version"], "1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_run_details_is_followed_by_correlation() {
    let fake = github(Duration::from_millis(200), Conclusion::Success);
    fake.set_run_details_supported(false);
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
    let correlation = fake.runs()[0].inputs["correlation_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        correlation.starts_with(&outcome.deployment),
        "{correlation}"
    );
}
