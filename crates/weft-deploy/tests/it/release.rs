//! Releases on a real SQLite store: order, gates, rollback in reverse order
//! to the exact previous versions, canary analysis, inconclusive gates,
//! fresh status only, and one release per environment at a time.

use std::time::Duration;

use weft_deploy::{DeployError, Plan, Progress, Release, ReleaseRequest, Signals};
use weft_store::{DeploymentKind, DeploymentStatus, Holder, ServiceState, Stage, Verdict};

use crate::support::{Fixture, by_name};

fn chain(environment: &str) -> Fixture {
    Fixture::new(
        environment,
        &[
            ("s1", &[], ""),
            ("s2", &["s1"], ""),
            ("s3", &["s2"], ""),
            ("s4", &["s3"], ""),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_failure_in_phase_three_of_four_rolls_back_three_two_one_to_the_exact_previous_versions()
 {
    let fixture = chain("  prod: {strategy: sequential}");
    let coordinator = fixture.coordinator().await;
    let all_one = [("s1", "1.0"), ("s2", "1.0"), ("s3", "1.0"), ("s4", "1.0")];
    let (first, _) = fixture.release(&coordinator, "prod", &all_one).await;
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.failure
    );
    assert_eq!(
        fixture.log(),
        [
            "deploy s1 1.0",
            "deploy s2 1.0",
            "deploy s3 1.0",
            "deploy s4 1.0"
        ]
    );
    fixture.clear_log();

    let (second, events) = fixture
        .release(
            &coordinator,
            "prod",
            &[
                ("s1", "2.0"),
                ("s2", "2.0"),
                ("s3", "bad-2.0"),
                ("s4", "2.0"),
            ],
        )
        .await;
    assert_eq!(second.status, DeploymentStatus::RolledBack);
    assert!(
        second
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("s3/s3: gate"),
        "{:?}",
        second.failure
    );
    assert_eq!(
        fixture.log(),
        [
            "deploy s1 2.0",
            "deploy s2 2.0",
            "deploy s3 bad-2.0",
            "rollback s3 1.0",
            "rollback s2 1.0",
            "rollback s1 1.0",
        ]
    );
    for service in ["s1", "s2", "s3", "s4"] {
        assert_eq!(fixture.state(service).as_deref(), Some("1.0"), "{service}");
    }
    assert!(second.left_as_is.is_empty());
    let rolled_back: Vec<(&str, ServiceState)> = second
        .services
        .iter()
        .map(|(s, st)| (s.as_str(), *st))
        .collect();
    assert_eq!(
        rolled_back,
        [
            ("s1/s1", ServiceState::RolledBack),
            ("s2/s2", ServiceState::RolledBack),
            ("s3/s3", ServiceState::RolledBack)
        ]
    );
    assert!(events.iter().any(|e| matches!(e, Progress::RollingBack { services, .. } if services == &["s3/s3", "s2/s2", "s1/s1"])));

    // The store says the same, and the manifest to go back to is still the first.
    let store = coordinator.store();
    let record = store.deployment(&second.deployment).await.unwrap().unwrap();
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    let rollback_steps: Vec<&str> = record
        .steps
        .iter()
        .filter(|s| s.stage == Stage::Rollback)
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(rollback_steps, ["s3/s3", "s2/s2", "s1/s1"]);
    let live = weft_deploy::manifest::live_state(store, "prod")
        .await
        .unwrap();
    assert_eq!(
        live.manifest.as_ref().map(|m| m.id.as_str()),
        Some(first.deployment.as_str())
    );
    assert_eq!(
        by_name(&live.versions).get("s3").map(String::as_str),
        Some("1.0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_without_an_earlier_version_are_left_as_they_are_and_listed() {
    let fixture = chain("  prod: {}");
    let coordinator = fixture.coordinator().await;
    let (outcome, _) = fixture
        .release(&coordinator, "prod", &[("s1", "1.0"), ("s2", "bad-1.0")])
        .await;
    assert_eq!(outcome.status, DeploymentStatus::RolledBack);
    assert_eq!(outcome.left_as_is, ["s2/s2", "s1/s1"]);
    assert_eq!(fixture.log(), ["deploy s1 1.0", "deploy s2 bad-1.0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_rollback_stops_at_the_failure() {
    let fixture = chain("  prod: {rollback: manual}");
    let coordinator = fixture.coordinator().await;
    fixture
        .release(&coordinator, "prod", &[("s1", "1.0")])
        .await;
    fixture.clear_log();
    let (outcome, _) = fixture
        .release(&coordinator, "prod", &[("s1", "bad-2.0")])
        .await;
    assert_eq!(outcome.status, DeploymentStatus::Failed);
    assert_eq!(fixture.log(), ["deploy s1 bad-2.0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_that_fails_during_analysis_aborts_the_whole_release() {
    // c's gate is an exec check that fails once `break` exists.
    let gate = "      steps:\n        - run: sh ../deploy.sh\n      gates:\n        - exec: test ! -f ../break-$WEFT_VERSION\n          interval: 50ms\n";
    let fixture = Fixture::new(
        "  prod: {strategy: canary, canary: [c], analysis: 3s}",
        &[("c", &[], gate), ("other", &[], "")],
    );
    let coordinator = fixture.coordinator().await;
    let (baseline, _) = fixture
        .release(&coordinator, "prod", &[("c", "1.0"), ("other", "1.0")])
        .await;
    assert_eq!(
        baseline.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        baseline.failure
    );
    fixture.clear_log();
    let breaker = {
        let path = fixture.workspace.path("break-2.0");
        let log = fixture.workspace.path("log");
        std::thread::spawn(move || {
            // Break the canary once it is deployed and under analysis.
            crate::support::eventually(Duration::from_secs(10), || {
                fs_err::read_to_string(&log).is_ok_and(|l| l.contains("deploy c 2.0"))
            });
            std::thread::sleep(Duration::from_millis(400));
            fs_err::write(path, "now").unwrap();
        })
    };
    let (outcome, events) = fixture
        .release(&coordinator, "prod", &[("c", "2.0"), ("other", "2.0")])
        .await;
    breaker.join().unwrap();
    assert_eq!(outcome.status, DeploymentStatus::RolledBack);
    assert!(
        outcome
            .failure
            .as_deref()
            .unwrap_or_default()
            .starts_with("canary analysis"),
        "{:?}",
        outcome.failure
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Progress::Analysis { .. }))
    );
    // The rest never went out.
    assert_eq!(fixture.log(), ["deploy c 2.0", "rollback c 1.0"]);
    assert_eq!(fixture.state("other").as_deref(), Some("1.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inconclusive_gate_pauses_the_release_and_fails_at_its_timeout() {
    // Nothing listens on port 9 of 127.0.0.1: Prometheus is unreachable.
    let gate = "      steps:\n        - run: sh ../deploy.sh\n      gates:\n        - prometheus: {url: \"http://127.0.0.1:9\", query: up, max: 1}\n          interval: 100ms\n          timeout: 1s\n";
    let fixture = Fixture::new("  prod: {}", &[("m", &[], gate)]);
    let coordinator = fixture.coordinator().await;
    let store = coordinator.store().clone();
    let watcher = tokio::spawn(async move {
        // The release shows as paused while the gate cannot decide.
        for _ in 0..200 {
            if let Ok(running) = store.running_deployments(Some("prod")).await
                && running.iter().any(|d| d.status == DeploymentStatus::Paused)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    });
    let (outcome, _) = fixture.release(&coordinator, "prod", &[("m", "1.0")]).await;
    assert!(watcher.await.unwrap(), "the release was never paused");
    assert_eq!(outcome.status, DeploymentStatus::RolledBack);
    assert!(
        outcome
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("no verdict"),
        "{:?}",
        outcome.failure
    );
    let record = coordinator
        .store()
        .deployment(&outcome.deployment)
        .await
        .unwrap()
        .unwrap();
    assert!(!record.observations.is_empty());
    assert!(
        record
            .observations
            .iter()
            .all(|o| o.verdict == Verdict::Inconclusive)
    );
    assert!(
        record.observations[0].message.contains("unreachable"),
        "{}",
        record.observations[0].message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_judge_only_status_observed_after_the_steps_finished() {
    // The old version stays healthy while the step takes 600 ms to switch.
    let slow = "      steps:\n        - run: sleep 0.6; sh ../deploy.sh\n      gates:\n        - http: \"http://127.0.0.1:PORT/s\"\n          json: {pointer: /version, equals: \"${WEFT_VERSION}\"}\n          interval: 20ms\n          timeout: 3s\n";
    let fixture = Fixture::new("  prod: {}", &[("s", &[], "")]);
    let port = fixture.health.port.to_string();
    let yaml = fixture.workspace.read("weft.yaml");
    let start = yaml.find("      steps:").unwrap();
    fixture.workspace.write(
        "weft.yaml",
        &format!("{}{}", &yaml[..start], slow.replace("PORT", &port)),
    );
    let coordinator = fixture.coordinator().await;
    fixture.release(&coordinator, "prod", &[("s", "1.0")]).await;
    let (outcome, _) = fixture.release(&coordinator, "prod", &[("s", "2.0")]).await;
    assert_eq!(
        outcome.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        outcome.failure
    );
    let record = coordinator
        .store()
        .deployment(&outcome.deployment)
        .await
        .unwrap()
        .unwrap();
    let finished = record.steps[0].finished.clone().expect("the step finished");
    assert!(!record.observations.is_empty());
    for observation in &record.observations {
        assert!(
            observation.at >= finished,
            "observed at {} before the step finished at {finished}",
            observation.at
        );
        assert_eq!(
            observation.verdict,
            Verdict::Pass,
            "{}",
            observation.message
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_release_of_an_environment_is_refused_naming_the_first() {
    let slow = "      steps:\n        - run: sleep 1; sh ../deploy.sh\n";
    let fixture = Fixture::new("  prod: {}", &[("s", &[], slow)]);
    let coordinator = fixture.coordinator().await;
    let model = fixture.model();
    let plan = |version: &str| {
        Plan::build(
            &model,
            &ReleaseRequest {
                environment: "prod".into(),
                set: vec![("s".into(), version.into())],
                ..ReleaseRequest::default()
            },
            &Default::default(),
        )
        .unwrap()
    };
    let first = {
        let coordinator = coordinator.clone();
        let plan = plan("1.0");
        tokio::spawn(async move {
            crate::support::run(&coordinator, plan, DeploymentKind::Release, Signals::none()).await
        })
    };
    // Wait until the first holds the environment.
    let store = coordinator.store().clone();
    for _ in 0..200 {
        if !store
            .running_deployments(Some("prod"))
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (sender, _receiver) = tokio::sync::mpsc::unbounded_channel();
    let second = weft_deploy::engine::run(
        &coordinator,
        Release {
            plan: plan("2.0"),
            kind: DeploymentKind::Release,
            rollback_of: None,
            who: serde_json::json!({}),
            holder: Holder::default(),
            wait: Duration::ZERO,
            github: None,
            artifacts: None,
            notifier: None,
        },
        sender,
        Signals::none(),
    )
    .await;
    match second {
        Err(DeployError::Busy {
            environment,
            source,
        }) => {
            assert_eq!(environment, "prod");
            assert!(source.to_string().contains("pid"), "{source}");
        }
        other => panic!("expected the environment to be busy, got {other:?}"),
    }
    let (outcome, _) = first.await.unwrap();
    assert_eq!(outcome.status, DeploymentStatus::Succeeded);
    assert_eq!(fixture.log(), ["deploy s 1.0"]);
}

/// Each request's first line and body.
type Captured = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// An HTTP server on 127.0.0.1 that answers `status` and keeps each
/// request's first line and body.
fn capture_server(status: u16) -> (u16, Captured) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
                    break;
                }
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            keep.lock().unwrap().push((
                first.trim().to_string(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_steps_post_their_body_and_fail_on_an_error_status() {
    let (ok_port, ok_seen) = capture_server(202);
    let (bad_port, bad_seen) = capture_server(500);
    let step = |port: u16| {
        format!(
            "      retries: 1\n      steps:\n        - webhook: {{url: \"http://127.0.0.1:{port}/deploy?token=s3cret\", body: {{service: \"${{WEFT_SERVICE}}\", version: \"${{WEFT_VERSION}}\", count: 2}}}}\n"
        )
    };
    let fixture = Fixture::new(
        "  prod: {}",
        &[
            ("hooked", &[], &step(ok_port)),
            ("broken", &[], &step(bad_port)),
        ],
    );
    let coordinator = fixture.coordinator().await;
    let (outcome, _) = fixture
        .release(&coordinator, "prod", &[("hooked", "1.0")])
        .await;
    assert_eq!(
        outcome.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        outcome.failure
    );
    let seen = ok_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "POST /deploy?token=s3cret HTTP/1.1");
    let body: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"service": "hooked", "version": "1.0", "count": 2})
    );
    // The recorded step shows the URL without its query.
    let record = coordinator
        .store()
        .deployment(&outcome.deployment)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !record.steps[0].description.contains("s3cret"),
        "{}",
        record.steps[0].description
    );
    assert!(
        !record.steps[0].output_tail.contains("s3cret"),
        "{}",
        record.steps[0].output_tail
    );

    let (failed, _) = fixture
        .release(&coordinator, "prod", &[("broken", "1.0")])
        .await;
    assert_eq!(failed.status, DeploymentStatus::RolledBack);
    assert!(
        failed
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("HTTP 500"),
        "{:?}",
        failed.failure
    );
    assert!(
        !failed
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("s3cret")
    );
    // Tried once more after the failure (retries: 1).
    assert_eq!(bad_seen.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_whose_lease_is_force_released_stops_without_rolling_back() {
    let slow = "      steps:\n        - run: sleep 1; sh ../deploy.sh\n";
    let fixture = Fixture::new(
        "  prod: {strategy: sequential}",
        &[("first", &[], slow), ("second", &["first"], slow)],
    );
    let coordinator = fixture.coordinator().await;
    let (baseline, _) = fixture
        .release(&coordinator, "prod", &[("first", "1.0"), ("second", "1.0")])
        .await;
    assert_eq!(baseline.status, DeploymentStatus::Succeeded);
    fixture.clear_log();
    let breaker = {
        let coordinator = coordinator.clone();
        tokio::spawn(async move {
            // While `first` runs, an admin takes the environment away.
            for _ in 0..500 {
                let running = coordinator
                    .store()
                    .running_deployments(Some("prod"))
                    .await
                    .unwrap();
                if !running.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let resource = weft_deploy::recover::environment_resource("prod").unwrap();
            coordinator
                .force_release(&resource, "emergency", "admin")
                .await
                .unwrap();
        })
    };
    let (outcome, _) = fixture
        .release(&coordinator, "prod", &[("first", "2.0"), ("second", "2.0")])
        .await;
    breaker.await.unwrap();
    assert_eq!(
        outcome.status,
        DeploymentStatus::Failed,
        "{:?}",
        outcome.failure
    );
    assert!(
        outcome
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("lost the environment's lease"),
        "{:?}",
        outcome.failure
    );
    // `second` never went out, and nothing was rolled back.
    assert_eq!(fixture.log(), ["deploy first 2.0"]);
}
