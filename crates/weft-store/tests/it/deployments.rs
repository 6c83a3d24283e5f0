//! Deployment records: written as they happen, read back whole, the last
//! successful manifest, interrupted runs, and the events they emit.

use std::collections::BTreeMap;

use weft_store::{
    DeploymentKind, DeploymentStatus, LeasePolicy, NewDeployment, NewDeploymentService,
    ServiceState, Stage, StepStatus, Store, Verdict,
};

use crate::backends::{Backend, database, store};
use crate::on_both_backends;

fn new(environment: &str, versions: &[(&str, &str)]) -> NewDeployment {
    NewDeployment {
        environment: environment.to_string(),
        kind: DeploymentKind::Release,
        strategy: "sequential".to_string(),
        plan: serde_json::json!({"phases": versions.len()}),
        services: versions
            .iter()
            .enumerate()
            .map(|(phase, (service, version))| NewDeploymentService {
                service: (*service).to_string(),
                version: (*version).to_string(),
                previous_version: None,
                phase: u32::try_from(phase + 1).expect("phase"),
            })
            .collect(),
        versions: versions
            .iter()
            .map(|(s, v)| ((*s).to_string(), (*v).to_string()))
            .collect::<BTreeMap<_, _>>(),
        who: serde_json::json!({"user": "test"}),
        rollback_of: None,
        host: "test-host".to_string(),
        pid: 4242,
    }
}

async fn a_release_is_recorded_as_it_happens(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let events_before = store.last_event_id().await.expect("events");
    let created = store
        .create_deployment(&new("prod", &[("db/db", "1.0"), ("api/api", "2.0")]))
        .await
        .expect("create");
    assert!(
        created.id.starts_with("d-") && created.id.len() == 14,
        "{}",
        created.id
    );
    assert_eq!(created.status, DeploymentStatus::Running);
    let states: Vec<(&str, ServiceState, u32)> = created
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.state, s.phase))
        .collect();
    assert_eq!(
        states,
        [
            ("db/db", ServiceState::Pending, 1),
            ("api/api", ServiceState::Pending, 2)
        ]
    );
    let id = created.id.clone();
    store
        .set_service_state(&id, "db/db", ServiceState::Deploying, None)
        .await
        .expect("state");
    let step = store
        .start_step(&id, "db/db", Stage::Deploy, 0, "run", "run `./deploy.sh`")
        .await
        .expect("step");
    // Output is kept to its last 256 KiB: write 300 KiB in lines.
    let line = format!("{}\n", "x".repeat(1023));
    for _ in 0..300 {
        store.append_step_output(step, &line).await.expect("output");
    }
    store
        .append_step_output(step, "the end\n")
        .await
        .expect("output");
    store
        .finish_step(step, StepStatus::Succeeded, Some(0), 1, None)
        .await
        .expect("finish");
    for verdict in [Verdict::Inconclusive, Verdict::Fail, Verdict::Pass] {
        store
            .record_observation(
                &id,
                "db/db",
                Stage::Deploy,
                0,
                "http /health",
                verdict,
                "seen",
                weft_store::time::now_ms(),
            )
            .await
            .expect("observation");
    }
    store
        .set_service_state(&id, "db/db", ServiceState::Deployed, Some("healthy"))
        .await
        .expect("state");
    store
        .set_deployment_status(&id, DeploymentStatus::Succeeded, None)
        .await
        .expect("status");

    let record = store.deployment(&id).await.expect("read").expect("found");
    assert_eq!(record.status, DeploymentStatus::Succeeded);
    assert!(record.finished.is_some() && record.duration_ms.is_some());
    assert_eq!(record.versions["api/api"], "2.0");
    assert_eq!(record.who["user"], "test");
    let db = &record.services[0];
    assert_eq!(
        (db.state, db.detail.as_deref()),
        (ServiceState::Deployed, Some("healthy"))
    );
    assert!(db.started.is_some() && db.finished.is_some());
    assert_eq!(record.services[1].state, ServiceState::Pending);
    let recorded = &record.steps[0];
    assert_eq!(
        (recorded.status, recorded.exit_code, recorded.attempts),
        (StepStatus::Succeeded, Some(0), 1)
    );
    assert!(recorded.output_tail.ends_with("the end\n"));
    assert_eq!(recorded.output_tail.len(), 4096);
    let output = store
        .step_output(step)
        .await
        .expect("output")
        .expect("kept");
    assert_eq!(output.len(), 256 * 1024);
    assert!(output.ends_with("the end\n"));
    let verdicts: Vec<Verdict> = record.observations.iter().map(|o| o.verdict).collect();
    assert_eq!(
        verdicts,
        [Verdict::Inconclusive, Verdict::Fail, Verdict::Pass]
    );
    // Every change was an event on the stream.
    let events = store
        .events_after(events_before, 100)
        .await
        .expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "gate").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "step").count(), 2);
    assert!(kinds.iter().filter(|k| **k == "deployment").count() >= 4);
    // Unknown ids are bad input, not silent.
    assert!(
        store
            .set_deployment_status("d-nothing", DeploymentStatus::Failed, None)
            .await
            .is_err()
    );
    assert!(store.deployment("d-nothing").await.expect("read").is_none());
}
on_both_backends!(
    a_release_is_recorded_as_it_happens_,
    a_release_is_recorded_as_it_happens
);

async fn manifests_history_and_interruptions(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let finish = |store: &Store, id: String, status| {
        let store = store.clone();
        async move {
            store
                .set_deployment_status(&id, status, None)
                .await
                .expect("status");
            id
        }
    };
    let first = finish(
        &store,
        store
            .create_deployment(&new("prod", &[("a/a", "1")]))
            .await
            .expect("create")
            .id,
        DeploymentStatus::Succeeded,
    )
    .await;
    let second = finish(
        &store,
        store
            .create_deployment(&new("prod", &[("a/a", "2")]))
            .await
            .expect("create")
            .id,
        DeploymentStatus::Succeeded,
    )
    .await;
    let failed = finish(
        &store,
        store
            .create_deployment(&new("prod", &[("a/a", "3")]))
            .await
            .expect("create")
            .id,
        DeploymentStatus::RolledBack,
    )
    .await;
    let other = finish(
        &store,
        store
            .create_deployment(&new("staging", &[("a/a", "9")]))
            .await
            .expect("create")
            .id,
        DeploymentStatus::Succeeded,
    )
    .await;
    let running = store
        .create_deployment(&new("prod", &[("a/a", "4")]))
        .await
        .expect("create")
        .id;

    let live = store
        .last_successful("prod", None)
        .await
        .expect("live")
        .expect("one");
    assert_eq!(live.id, second);
    let before = store
        .last_successful("prod", Some(&second))
        .await
        .expect("before")
        .expect("one");
    assert_eq!(before.id, first);
    assert!(
        store
            .last_successful("prod", Some(&first))
            .await
            .expect("none")
            .is_none()
    );
    assert_eq!(
        store
            .last_successful("staging", None)
            .await
            .expect("staging")
            .map(|d| d.id),
        Some(other)
    );

    let history: Vec<String> = store
        .deployments(Some("prod"), 10)
        .await
        .expect("history")
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(history, [running.clone(), failed, second, first]);
    assert_eq!(store.deployments(None, 2).await.expect("all").len(), 2);
    let summary = &store.deployments(Some("prod"), 1).await.expect("latest")[0];
    assert_eq!(summary.services.get("a/a").map(String::as_str), Some("4"));

    let open = store
        .running_deployments(Some("prod"))
        .await
        .expect("running");
    assert_eq!(open.len(), 1);
    let step = store
        .start_step(&running, "a/a", Stage::Deploy, 0, "run", "run `sleep 60`")
        .await
        .expect("step");
    assert!(
        store
            .mark_interrupted(&running, "its process is gone")
            .await
            .expect("mark")
    );
    assert!(
        !store
            .mark_interrupted(&running, "again")
            .await
            .expect("mark twice")
    );
    let record = store
        .deployment(&running)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(record.status, DeploymentStatus::Interrupted);
    assert_eq!(
        record.error.as_deref(),
        Some("interrupted: its process is gone")
    );
    assert_eq!(record.steps[0].id, step);
    assert_eq!(record.steps[0].status, StepStatus::Cancelled);
    assert!(
        store
            .running_deployments(Some("prod"))
            .await
            .expect("running")
            .is_empty()
    );
    // An interrupted release is not a manifest.
    assert_eq!(
        store
            .last_successful("prod", None)
            .await
            .expect("live")
            .map(|d| d.id),
        Some(live.id)
    );
}
on_both_backends!(
    manifests_history_and_interruptions_,
    manifests_history_and_interruptions
);

async fn records_survive_a_reopen(backend: Backend, test: &str) {
    let Some((url, _guard)) = database(backend, test) else {
        return;
    };
    let store = Store::open(&url, LeasePolicy::default())
        .await
        .expect("open");
    let id = store
        .create_deployment(&new("prod", &[("a/a", "1")]))
        .await
        .expect("create")
        .id;
    store
        .set_deployment_status(&id, DeploymentStatus::Succeeded, None)
        .await
        .expect("status");
    store.close().await;
    let store = Store::open(&url, LeasePolicy::default())
        .await
        .expect("reopen");
    let record = store.deployment(&id).await.expect("read").expect("kept");
    assert_eq!(record.status, DeploymentStatus::Succeeded);
    assert_eq!(store.schema_version().await.expect("version"), 7);
}
on_both_backends!(records_survive_a_reopen_, records_survive_a_reopen);
