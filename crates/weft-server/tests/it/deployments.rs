//! `/api/v1/deployments`: a release started through the server runs to its
//! end, shows in the list and the record, puts its events on the live
//! stream and its figures on `/metrics`; bad requests change nothing.

use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::json;
use weft_testkit::Workspace;

use crate::support::{Harness, WRITE, tokens};

fn workspace() -> Workspace {
    Workspace::new()
        .file("a/README.md", "repository a\n")
        .file(
            "weft.yaml",
            "repositories: {a: {}}\nenvironments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps:\n        - run: 'echo \"$WEFT_VERSION\" > version; [ \"$WEFT_VERSION\" != slow ] || sleep 2'\n      gates:\n        - exec: test -s version\n          interval: 50ms\n",
        )
}

async fn wait_for_status(harness: &Harness, id: &str, wanted: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = harness.get(&format!("/api/v1/deployments/{id}")).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
        let record = reply.json();
        if record["status"] == wanted {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "still {} waiting for {wanted}",
            record["status"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_through_the_server_runs_streams_and_counts() {
    let workspace = workspace();
    let root = workspace.root().to_path_buf();
    let harness = Harness::new(move |settings| settings.workspace = root).await;
    let mut live = harness.state.coordinator.subscribe();
    let started = harness
        .post(
            "/api/v1/deployments",
            &json!({"environment": "prod", "set": {"a": "1.0"}}),
        )
        .await;
    assert_eq!(started.status.as_u16(), 202, "{}", started.text);
    let id = started.json()["deployment"].as_str().unwrap().to_string();
    let record = wait_for_status(&harness, &id, "succeeded").await;
    assert_eq!(record["versions"]["a/a"], "1.0");
    assert_eq!(record["services"][0]["state"], "deployed");
    assert_eq!(record["steps"][0]["status"], "succeeded");
    assert_eq!(record["observations"][0]["verdict"], "pass");
    assert_eq!(workspace.read("a/version").trim(), "1.0");

    // The live stream carried the release's own events.
    let mut kinds = std::collections::BTreeSet::new();
    while let Ok(event) = live.try_recv() {
        if event.data.to_string().contains(&id) || event.kind != "deployment" {
            kinds.insert(event.kind.clone());
        }
    }
    for kind in ["deployment", "step", "gate"] {
        assert!(
            kinds.contains(kind),
            "no `{kind}` event on the stream: {kinds:?}"
        );
    }

    let list = harness
        .get("/api/v1/deployments?environment=prod")
        .await
        .json();
    assert_eq!(list["deployments"][0]["id"], id.as_str());
    assert_eq!(list["deployments"][0]["status"], "succeeded");

    let metrics = harness.get("/metrics").await;
    assert!(
        metrics
            .text
            .contains("weft_deployments_total{environment=\"prod\",status=\"succeeded\"} 1"),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("weft_deployment_duration_seconds_count{environment=\"prod\"} 1")
    );

    // A dry run plans and changes nothing.
    let dry = harness
        .post(
            "/api/v1/deployments",
            &json!({"environment": "prod", "set": {"a": "2.0"}, "dry_run": true}),
        )
        .await;
    assert_eq!(dry.status.as_u16(), 200, "{}", dry.text);
    assert_eq!(dry.json()["plan"]["services"][0]["version"], "2.0");
    assert_eq!(workspace.read("a/version").trim(), "1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_releases_are_refused_and_one_environment_runs_one_release() {
    let workspace = workspace();
    let root = workspace.root().to_path_buf();
    let harness = Harness::new(move |settings| settings.workspace = root).await;
    let unknown = harness
        .post(
            "/api/v1/deployments",
            &json!({"environment": "staging", "set": {"a": "1"}}),
        )
        .await;
    unknown.error(422, "plan");
    let strategy = harness
        .post(
            "/api/v1/deployments",
            &json!({"environment": "prod", "set": {"a": "1"}, "strategy": "rolling"}),
        )
        .await;
    strategy.error(400, "invalid");
    let field = harness
        .post(
            "/api/v1/deployments",
            &json!({"environment": "prod", "versions": {}}),
        )
        .await;
    assert_eq!(field.status.as_u16(), 400, "{}", field.text);
    let list = harness.get("/api/v1/deployments").await.json();
    assert_eq!(list["deployments"].as_array().map(Vec::len), Some(0));

    let slow = harness
        .post(
            "/api/v1/deployments",
            &json!({"environment": "prod", "set": {"a": "slow"}}),
        )
        .await;
    assert_eq!(slow.status.as_u16(), 202, "{}", slow.text);
    let second = harness
        .post(
            "/api/v1/deployments",
            &json!({"environment": "prod", "set": {"a": "2.0"}}),
        )
        .await;
    second.error(409, "conflict");
    let id = slow.json()["deployment"].as_str().unwrap().to_string();
    wait_for_status(&harness, &id, "succeeded").await;
    harness
        .get("/api/v1/deployments/d-nothing")
        .await
        .error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_a_release_needs_the_write_scope() {
    let workspace = workspace();
    let root = workspace.root().to_path_buf();
    let harness = Harness::new(move |settings| {
        settings.workspace = root;
        settings.tokens = tokens();
    })
    .await;
    let body = json!({"environment": "prod", "set": {"a": "1.0"}});
    let anonymous = harness
        .send(Method::POST, "/api/v1/deployments", None, Some(&body))
        .await;
    anonymous.error(401, "unauthorized");
    let reader = harness
        .send(
            Method::POST,
            "/api/v1/deployments",
            Some(crate::support::READ),
            Some(&body),
        )
        .await;
    reader.error(403, "forbidden");
    let writer = harness
        .send(
            Method::POST,
            "/api/v1/deployments",
            Some(WRITE),
            Some(&body),
        )
        .await;
    assert_eq!(writer.status.as_u16(), 202, "{}", writer.text);
}
