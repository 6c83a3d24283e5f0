//! The coordination seed's `/api/coordination/…` aliases, with its camelCase
//! shapes, on a two-repository workspace: `infra` (db on 5432, proxy on
//! 8080) and `app` (web on 8080, DATABASE_URL pointing at db).

use axum::http::Method;
use serde_json::{Value, json};
use weft_testkit::Workspace;

use crate::support::{Harness, seed_workspace};

async fn harness() -> (Harness, Workspace) {
    let workspace = seed_workspace();
    let root = workspace.root().to_path_buf();
    let harness = Harness::new(move |settings| settings.workspace = root).await;
    (harness, workspace)
}

fn ok(reply: &crate::support::Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    if body.get("success").is_some() {
        assert_eq!(body["success"], true, "{body}");
    }
    body
}

fn names(values: &Value) -> Vec<String> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {values}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_both_formats() {
    let (h, _workspace) = harness().await;
    let lease = h
        .post("/api/v1/leases", &json!({"resource": "lock:a"}))
        .await;
    assert_eq!(lease.status, 201);
    let conflict = h
        .post(
            "/api/v1/leases",
            &json!({"resource": "lock:a", "wait": "0"}),
        )
        .await;
    assert_eq!(conflict.status, 409);

    for uri in [
        "/api/coordination/metrics",
        "/api/coordination/metrics?format=json",
    ] {
        let body = ok(&h.get(uri).await);
        assert_eq!(body["activeLeases"], 1, "{body}");
        assert_eq!(body["waiters"], 0, "{body}");
        assert_eq!(body["resources"], 1, "{body}");
        assert!(body["conflictRate"].as_f64().unwrap() > 0.0, "{body}");
        assert!(body["failureRate"].is_number(), "{body}");
        let operations = body["operations"].as_array().unwrap();
        assert!(
            operations
                .iter()
                .any(|o| o["type"] == "claim" && o["status"] == "conflict" && o["count"] == 1),
            "{body}"
        );
        assert!(body["wakeLatencyMs"].get("p50").is_some(), "{body}");
    }
    let prometheus = h.get("/api/coordination/metrics?format=prometheus").await;
    assert_eq!(prometheus.status, 200);
    assert!(
        prometheus.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        prometheus.headers
    );
    assert!(
        prometheus
            .text
            .contains("# TYPE weft_leases_active gauge\nweft_leases_active 1\n"),
        "{}",
        prometheus.text
    );
    let plain = h.get("/metrics").await;
    let strip = |text: &str| {
        text.lines()
            .filter(|l| {
                !l.starts_with("weft_uptime_seconds") && !l.starts_with("weft_process_resident")
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&prometheus.text), strip(&plain.text));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_operations_alerts_and_cleanup() {
    let (h, _workspace) = harness().await;
    let detailed = ok(&h.get("/api/coordination/health/detailed").await);
    assert_eq!(detailed["status"], "ok", "{detailed}");
    assert_eq!(detailed["store"]["backend"], "sqlite", "{detailed}");
    assert_eq!(detailed["store"]["reachable"], true, "{detailed}");
    assert_eq!(detailed, {
        let mut v1 = ok(&h.get("/api/v1/health/detailed").await);
        v1["uptime_seconds"] = detailed["uptime_seconds"].clone();
        v1["memory"] = detailed["memory"].clone();
        v1
    });

    // One operation active, one finished.
    let started = h
        .post(
            "/api/v1/operations",
            &json!({"type": "deployment", "resource": "lock:prod"}),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let active_id = started.json()["id"].as_str().unwrap().to_owned();
    let other = h
        .post("/api/v1/operations", &json!({"type": "deployment"}))
        .await
        .json();
    let finished = h
        .post(
            &format!(
                "/api/v1/operations/{}/finish",
                other["id"].as_str().unwrap()
            ),
            &json!({"status": "failed", "error": "image pull failed"}),
        )
        .await;
    assert_eq!(finished.status, 200, "{}", finished.text);

    let active = ok(&h.get("/api/coordination/operations?status=active").await);
    assert_eq!(active["total"], 1, "{active}");
    assert_eq!(
        active["operations"][0]["id"],
        active_id.as_str(),
        "{active}"
    );
    assert_eq!(active["operations"][0]["type"], "deployment");
    assert_eq!(active["operations"][0]["resource"], "lock:prod");
    let failed = ok(&h
        .get("/api/coordination/operations?status=failed&type=deployment")
        .await);
    assert_eq!(failed["total"], 1, "{failed}");
    assert_eq!(failed["operations"][0]["error"], "image pull failed");
    let all = ok(&h.get("/api/coordination/operations").await);
    assert_eq!(all["total"], 2, "{all}");

    let alerts = ok(&h.get("/api/coordination/alerts").await);
    assert_eq!(
        alerts["total"],
        alerts["alerts"].as_array().unwrap().len(),
        "{alerts}"
    );
    let alerts = ok(&h
        .get("/api/coordination/alerts?hours=1&severity=critical&acknowledged=false")
        .await);
    assert!(alerts["alerts"].is_array(), "{alerts}");

    // Cleanup with no body keeps everything younger than the configured
    // retention (a week); with a retention of 1 ms, the operation still
    // active is marked abandoned, and both go.
    let cleaned = ok(&h
        .send(Method::POST, "/api/coordination/cleanup", None, None)
        .await);
    assert_eq!(cleaned["cleaned"]["operations"], 0, "{cleaned}");
    assert_eq!(cleaned["cleaned"]["abandoned_operations"], 0, "{cleaned}");
    assert_eq!(ok(&h.get("/api/coordination/operations").await)["total"], 2);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let cleaned = ok(&h
        .post("/api/coordination/cleanup", &json!({"retention": "1ms"}))
        .await);
    assert_eq!(cleaned["cleaned"]["abandoned_operations"], 1, "{cleaned}");
    assert_eq!(cleaned["cleaned"]["operations"], 2, "{cleaned}");
    assert!(
        cleaned["cleaned"]["events"].as_u64().unwrap() >= 1,
        "{cleaned}"
    );
    assert_eq!(ok(&h.get("/api/coordination/operations").await)["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_across_repositories() {
    let (h, _workspace) = harness().await;
    let body = ok(&h
        .get("/api/coordination/dependencies?repositories=app&includeTransitive=true")
        .await);
    assert_eq!(
        body,
        json!({
            "success": true,
            "includeTransitive": true,
            "dependencies": [{
                "service": "app/web",
                "repository": "app",
                "dependsOn": [{
                    "service": "infra/db",
                    "type": "soft",
                    "source": "app/docker-compose.yml:6:21 (compose-environment)",
                }],
                "transitiveDependencies": ["infra/db"],
            }],
        })
    );

    let all = ok(&h.get("/api/coordination/dependencies").await);
    assert_eq!(all["includeTransitive"], false);
    assert_eq!(all["dependencies"].as_array().unwrap().len(), 3, "{all}");
    assert!(
        all["dependencies"][0]["transitiveDependencies"].is_null(),
        "{all}"
    );
    let both = ok(&h
        .get("/api/coordination/dependencies?repositories=app,infra")
        .await);
    assert_eq!(both["dependencies"].as_array().unwrap().len(), 3, "{both}");

    let unknown = h
        .get("/api/coordination/dependencies?repositories=nope")
        .await;
    let error = unknown.error(400, "unknown_repository");
    assert!(
        error["message"].as_str().unwrap().contains("nope"),
        "{error}"
    );
    let operations = ok(&h.get("/api/v1/operations?type=analysis").await);
    let statuses: Vec<&str> = operations["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "succeeded").count(),
        3,
        "{operations}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "failed").count(),
        1,
        "{operations}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_phases_put_db_before_web() {
    let (h, _workspace) = harness().await;
    let body = ok(&h
        .post("/api/coordination/coordinate-deployment", &json!({}))
        .await);
    assert_eq!(
        body,
        json!({
            "success": true,
            "phases": [
                {"phase": 1, "services": ["infra/db", "infra/proxy"], "parallel": true},
                {"phase": 2, "services": ["app/web"], "parallel": false},
            ],
            "deploymentOrder": ["infra/db", "infra/proxy", "app/web"],
            "criticalPath": ["infra/db", "app/web"],
            "cycles": [],
        })
    );

    // An empty body is the whole workspace too; a repository narrows it to
    // its services and what they need.
    let empty = ok(&h
        .send(
            Method::POST,
            "/api/coordination/coordinate-deployment",
            None,
            None,
        )
        .await);
    assert_eq!(empty["deploymentOrder"], body["deploymentOrder"]);
    let app = ok(&h
        .post(
            "/api/coordination/coordinate-deployment",
            &json!({"repositories": ["app"]}),
        )
        .await);
    let app_order = names(&app["deploymentOrder"]);
    assert!(app_order.contains(&"app/web".to_owned()), "{app}");
    assert!(!app_order.contains(&"infra/proxy".to_owned()), "{app}");

    let unknown = h
        .post(
            "/api/coordination/coordinate-deployment",
            &json!({"repositories": ["nope"]}),
        )
        .await;
    unknown.error(400, "unknown_repository");
    let unknown = h
        .post(
            "/api/coordination/coordinate-deployment",
            &json!({"services": ["nope"]}),
        )
        .await;
    unknown.error(400, "unknown_service");
    let unknown = h
        .post(
            "/api/coordination/coordinate-deployment",
            &json!({"service": ["web"]}),
        )
        .await;
    unknown.error(400, "invalid_body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_conflicts_and_a_dry_run_resolution() {
    let (h, workspace) = harness().await;
    let body = ok(&h.get("/api/coordination/resource-conflicts").await);
    assert_eq!(body["total"], 1, "only the port 8080 conflict: {body}");
    let port = &body["conflicts"][0];
    assert_eq!(port["id"], "port:docker/tcp/8080", "{port}");
    assert_eq!(port["type"], "port", "{port}");
    assert_eq!(port["resource"], "tcp/8080", "{port}");
    let claimants: Vec<&str> = port["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"].as_str().unwrap())
        .collect();
    assert_eq!(claimants, ["app/web", "infra/proxy"], "{port}");
    assert_eq!(
        port["claims"][0]["provenance"]["file"],
        "app/docker-compose.yml"
    );
    assert!(
        port["strategies"].as_array().is_some_and(|s| !s.is_empty()),
        "{port}"
    );
    let v1 = ok(&h.get("/api/v1/analysis/conflicts").await);
    assert_eq!(v1["conflicts"], body["conflicts"]);

    let before = (
        workspace.read("infra/docker-compose.yml"),
        workspace.read("app/docker-compose.yml"),
    );
    let id = port["id"].as_str().unwrap();
    let dry = ok(&h
        .post(
            "/api/coordination/resolve-conflicts",
            &json!({"conflictIds": [id]}),
        )
        .await);
    assert_eq!(dry["dryRun"], true, "{dry}");
    let resolutions = dry["resolutions"].as_array().unwrap();
    assert_eq!(resolutions.len(), 1, "{dry}");
    assert_eq!(resolutions[0]["conflict"], id);
    assert_eq!(resolutions[0]["automatic"], true, "{dry}");
    let edit = &resolutions[0]["edits"][0];
    assert_eq!(edit["file"], "infra/docker-compose.yml", "{dry}");
    assert_eq!(edit["before"], "8080", "{dry}");
    let diff = dry["diff"].as_str().unwrap();
    assert!(
        diff.contains("--- a/infra/docker-compose.yml")
            && diff.contains("-    ports: [\"8080:80\"]"),
        "{diff}"
    );
    let after = (
        workspace.read("infra/docker-compose.yml"),
        workspace.read("app/docker-compose.yml"),
    );
    assert_eq!(before, after, "a dry run wrote files");
    let explicit = ok(&h
        .post(
            "/api/coordination/resolve-conflicts",
            &json!({"dryRun": true}),
        )
        .await);
    assert_eq!(explicit["dryRun"], true);
    let empty = ok(&h
        .send(
            Method::POST,
            "/api/coordination/resolve-conflicts",
            None,
            None,
        )
        .await);
    assert_eq!(empty["resolutions"], explicit["resolutions"]);

    let unknown = h
        .post(
            "/api/coordination/resolve-conflicts",
            &json!({"conflictIds": ["port:nope"]}),
        )
        .await;
    unknown.error(400, "invalid");
    let resolutions = ok(&h.get("/api/v1/operations?type=resolution").await);
    assert_eq!(
        resolutions["operations"].as_array().unwrap().len(),
        4,
        "{resolutions}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_workspace_is_a_422_and_a_failed_operation() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("not-there");
    let h = Harness::new(move |settings| settings.workspace = missing).await;
    let reply = h.get("/api/coordination/resource-conflicts").await;
    reply.error(422, "workspace");
    let operations = ok(&h
        .get("/api/v1/operations?type=analysis&status=failed")
        .await);
    assert_eq!(
        operations["operations"].as_array().unwrap().len(),
        1,
        "{operations}"
    );
}
