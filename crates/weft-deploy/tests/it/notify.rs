//! Notifications of real releases: what each channel hears and when, the
//! deliveries on the deployment's record, and escalations kept in the store
//! that go out once, and only for an environment still unresolved.

use std::time::{Duration, Instant};

use serde_json::Value;
use weft_deploy::notify::send_due_escalations;
use weft_store::DeploymentStatus;
use weft_testkit::http::RecordingServer;

use crate::support::Fixture;

/// Adds `notify:` to the fixture's weft.yaml: every event to `/all`,
/// failures in prod to `/failures`, escalated after `escalate` to `/pager`.
fn with_notify(fixture: &Fixture, hooks: &RecordingServer, escalate: &str) {
    let path = fixture.workspace.path("weft.yaml");
    let mut yaml = fs_err::read_to_string(&path).unwrap();
    yaml.push_str(&format!(
        r#"notify:
  channels:
    all: {{webhook: {{url: "{all}"}}}}
    failures: {{webhook: {{url: "{failures}"}}}}
    pager: {{webhook: {{url: "{pager}"}}}}
  rules:
    everything:
      events: [deployment_started, deployment_succeeded, deployment_failed, rollback_started, rollback_succeeded, rollback_failed, gate_failed, manual_intervention_required]
      channels: [all]
    prod-failures:
      events: [deployment_failed, rollback_failed, manual_intervention_required]
      channels: [failures]
      when: {{environment: prod}}
      escalate_after: {escalate}
      escalate_to: [pager]
"#,
        all = hooks.url("/all"),
        failures = hooks.url("/failures"),
        pager = hooks.url("/pager"),
    ));
    fs_err::write(&path, yaml).unwrap();
}

fn events(hooks: &RecordingServer, path: &str) -> Vec<(String, String)> {
    hooks
        .requests_to(path)
        .iter()
        .map(|r| {
            let body: Value = r.json();
            (
                body["event"].as_str().unwrap().to_string(),
                body["deployment"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(deployment: &str, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (n.to_string(), deployment.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_release_is_told_event_by_event_and_its_rollback_resolves_it() {
    let hooks = RecordingServer::start(&[]);
    let fixture = Fixture::new(
        "  prod: {rollback: auto}",
        &[("db", &[], ""), ("api", &["db"], "")],
    );
    with_notify(&fixture, &hooks, "300ms");
    let coordinator = fixture.coordinator().await;

    let (first, _) = fixture
        .release(&coordinator, "prod", &[("db", "1"), ("api", "1")])
        .await;
    assert_eq!(first.status, DeploymentStatus::Succeeded);
    assert_eq!(
        events(&hooks, "/all"),
        pairs(
            &first.deployment,
            &["deployment_started", "deployment_succeeded"]
        )
    );

    let (failed, _) = fixture
        .release(&coordinator, "prod", &[("db", "2"), ("api", "bad-2")])
        .await;
    assert_eq!(failed.status, DeploymentStatus::RolledBack);
    assert_eq!(
        events(&hooks, "/all")[2..],
        pairs(
            &failed.deployment,
            &[
                "deployment_started",
                "gate_failed",
                "deployment_failed",
                "rollback_started",
                "rollback_succeeded",
            ]
        )
    );
    // The failed service is marked as the one that failed.
    let gate = hooks.requests_to("/all")[3].json();
    let failed_services: Vec<&str> = gate["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["failed"] == true)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed_services, ["api/api"]);
    assert!(gate["text"].as_str().unwrap().contains("gate"), "{gate}");
    assert_eq!(
        events(&hooks, "/failures"),
        pairs(&failed.deployment, &["deployment_failed"])
    );

    // Every delivery is on the deployment's record.
    let record = coordinator
        .store()
        .deployment(&failed.deployment)
        .await
        .unwrap()
        .unwrap();
    let told: Vec<(&str, &str)> = record
        .notifications
        .iter()
        .map(|n| {
            assert!(n.ok && n.attempts == 1, "{n:?}");
            (n.event.as_str(), n.channel.as_str())
        })
        .collect();
    assert_eq!(
        told,
        [
            ("deployment_started", "all"),
            ("gate_failed", "all"),
            ("deployment_failed", "all"),
            ("deployment_failed", "failures"),
            ("rollback_started", "all"),
            ("rollback_succeeded", "all"),
        ]
    );

    // The rollback resolved prod: its escalation never goes out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notifier = weft_deploy::notify::notifier(&fixture.model().config).unwrap();
    assert_eq!(
        send_due_escalations(coordinator.store(), &notifier).await,
        0
    );
    assert!(hooks.requests_to("/pager").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolved_environment_escalates_once_after_the_delay() {
    let hooks = RecordingServer::start(&[]);
    let fixture = Fixture::new("  prod: {rollback: manual}", &[("api", &[], "")]);
    with_notify(&fixture, &hooks, "1s");
    let coordinator = fixture.coordinator().await;
    let notifier = weft_deploy::notify::notifier(&fixture.model().config).unwrap();

    let (first, _) = fixture.release(&coordinator, "prod", &[("api", "1")]).await;
    assert_eq!(first.status, DeploymentStatus::Succeeded);
    let failed_at = Instant::now();
    let (failed, _) = fixture
        .release(&coordinator, "prod", &[("api", "bad-2")])
        .await;
    assert_eq!(failed.status, DeploymentStatus::Failed);
    assert_eq!(
        events(&hooks, "/failures"),
        pairs(
            &failed.deployment,
            &["deployment_failed", "manual_intervention_required"]
        )
    );
    let manual = hooks.requests_to("/failures")[1].json();
    assert!(
        manual["text"]
            .as_str()
            .unwrap()
            .contains("weft deploy rollback prod"),
        "{manual}"
    );
    // A second failure of the same incident does not arm a second escalation.
    let (again, _) = fixture
        .release(&coordinator, "prod", &[("api", "bad-3")])
        .await;
    assert_eq!(again.status, DeploymentStatus::Failed);

    // Two senders at once (a CLI and `weft serve`, say): one escalation,
    // sent once, not before its time.
    let deadline = failed_at + Duration::from_secs(10);
    let mut sent = 0;
    while sent == 0 {
        assert!(Instant::now() < deadline, "no escalation within 10 s");
        let (a, b) = tokio::join!(
            send_due_escalations(coordinator.store(), &notifier),
            send_due_escalations(coordinator.store(), &notifier)
        );
        sent = a + b;
        if sent == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(failed_at.elapsed() >= Duration::from_secs(1));
    assert_eq!(sent, 1);
    let pages = hooks.requests_to("/pager");
    assert_eq!(pages.len(), 1);
    let page = pages[0].json();
    assert_eq!(page["deployment"], Value::from(failed.deployment.clone()));
    assert!(
        page["title"]
            .as_str()
            .unwrap()
            .starts_with("Unresolved after 1s: "),
        "{page}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        send_due_escalations(coordinator.store(), &notifier).await,
        0
    );
    assert_eq!(hooks.requests_to("/pager").len(), 1);
    // The escalation is on the record of the release that armed it.
    let record = coordinator
        .store()
        .deployment(&failed.deployment)
        .await
        .unwrap()
        .unwrap();
    assert!(
        record
            .notifications
            .iter()
            .any(|n| n.escalation && n.channel == "pager" && n.ok),
        "{:?}",
        record.notifications
    );

    // A success resolves prod; a later failure is a new incident with its
    // own escalation.
    let (fixed, _) = fixture.release(&coordinator, "prod", &[("api", "4")]).await;
    assert_eq!(fixed.status, DeploymentStatus::Succeeded);
    let (broken, _) = fixture
        .release(&coordinator, "prod", &[("api", "bad-5")])
        .await;
    assert_eq!(broken.status, DeploymentStatus::Failed);
    assert!(
        coordinator
            .store()
            .next_escalation_due(Some("prod"))
            .await
            .unwrap()
            .is_some()
    );
    let (recovered, _) = fixture.release(&coordinator, "prod", &[("api", "6")]).await;
    assert_eq!(recovered.status, DeploymentStatus::Succeeded);
    assert_eq!(
        coordinator
            .store()
            .next_escalation_due(Some("prod"))
            .await
            .unwrap(),
        None
    );
}
