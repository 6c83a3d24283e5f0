//! The coordination seed's `/api/coordination/…` aliases against the seed's
//! documented requests and responses, field by field (docs/json.md,
//! "Coordination API aliases"), on real temp workspaces:
//!
//! - the seed's two repositories, `infra` (db on 5432, proxy on 8080) and
//!   `app` (web on 8080, DATABASE_URL pointing at db): one port conflict and
//!   one repository dependency `app → infra`;
//! - a chain `a → b → c` (weft.yaml `required` edges) and an independent `d`;
//! - two repositories `x` and `y` that need each other.

use axum::http::Method;
use serde_json::{Value, json};
use weft_testkit::Workspace;

use crate::support::{Harness, READ, TestServer, WRITE, http, seed_workspace, tokens};

async fn harness_on(workspace: &Workspace) -> Harness {
    let root = workspace.root().to_path_buf();
    Harness::new(move |settings| settings.workspace = root).await
}

async fn harness() -> (Harness, Workspace) {
    let workspace = seed_workspace();
    let harness = harness_on(&workspace).await;
    (harness, workspace)
}

/// `a` (api) needs `b` (queue), which needs `c` (store); `d` (batch) needs
/// nothing.
fn chain_workspace() -> Workspace {
    Workspace::new()
        .file("a/docker-compose.yml", "services:\n  api: {image: api}\n")
        .file("b/docker-compose.yml", "services:\n  queue: {image: queue}\n")
        .file("c/docker-compose.yml", "services:\n  store: {image: store}\n")
        .file("d/docker-compose.yml", "services:\n  batch: {image: batch}\n")
        .file(
            "weft.yaml",
            "services:\n  api: {depends_on: {queue: required}}\n  queue: {depends_on: {store: required}}\n",
        )
}

/// `x/first` needs `y/second` and `y/third` needs `x/fourth`, both `KIND`.
fn cycle_config(kind: &str) -> String {
    format!(
        "services:\n  first: {{depends_on: {{second: {kind}}}}}\n  third: {{depends_on: {{fourth: {kind}}}}}\n"
    )
}

fn cycle_workspace(kind: &str) -> Workspace {
    Workspace::new()
        .file(
            "x/docker-compose.yml",
            "services:\n  first: {image: first}\n  fourth: {image: fourth}\n",
        )
        .file(
            "y/docker-compose.yml",
            "services:\n  second: {image: second}\n  third: {image: third}\n",
        )
        .file("weft.yaml", &cycle_config(kind))
}

fn ok(reply: &crate::support::Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    if body.get("success").is_some() {
        assert_eq!(body["success"], true, "{body}");
    }
    body
}

/// An object's keys, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn sorted(mut list: Vec<&str>) -> Vec<&str> {
    list.sort_unstable();
    list
}

/// Records a finished operation of `kind` on `resource`.
async fn record(h: &Harness, kind: &str, resource: &str, status: &str) {
    let started = h
        .post(
            "/api/v1/operations",
            &json!({"type": kind, "resource": resource}),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let id = started.json()["id"].as_str().unwrap().to_owned();
    let finished = h
        .post(
            &format!("/api/v1/operations/{id}/finish"),
            &json!({"status": status}),
        )
        .await;
    assert_eq!(finished.status, 200, "{}", finished.text);
}

async fn coordinate(h: &Harness, body: &Value) -> crate::support::Reply {
    h.post("/api/coordination/coordinate-deployment", body)
        .await
}

const DEPENDENCY_KEYS: [&str; 6] = [
    "circularDependencies",
    "deploymentOrder",
    "directDependencies",
    "metadata",
    "repositories",
    "transitiveDependencies",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_answer_the_seed_shape_by_repository() {
    let (h, _workspace) = harness().await;
    let body = ok(&h
        .get("/api/coordination/dependencies?repositories=app,infra&includeTransitive=true")
        .await);
    assert_eq!(keys(&body), DEPENDENCY_KEYS, "{body}");
    assert_eq!(body["repositories"], json!(["app", "infra"]));
    assert_eq!(
        body["directDependencies"],
        json!({
            "app": [{
                "repository": "infra",
                "type": "soft",
                "edges": 1,
                "services": [{
                    "from": "app/web",
                    "to": "infra/db",
                    "type": "soft",
                    "provenance": [{
                        "file": "app/docker-compose.yml",
                        "line": 6,
                        "column": 21,
                        "rule": "compose-environment",
                    }],
                }],
            }],
            "infra": [],
        })
    );
    assert_eq!(
        body["transitiveDependencies"],
        json!({"app": ["infra"], "infra": []})
    );
    assert_eq!(body["circularDependencies"], json!([]));
    assert_eq!(body["deploymentOrder"], json!(["infra", "app"]));
    let metadata = &body["metadata"];
    assert_eq!(
        keys(metadata),
        [
            "analyzedAt",
            "cutEdges",
            "dependencyCount",
            "includeTransitive",
            "repositoryCount",
            "serviceDependencyCount",
        ],
        "{metadata}"
    );
    assert_eq!(metadata["repositoryCount"], 2);
    assert_eq!(metadata["dependencyCount"], 1);
    assert_eq!(metadata["serviceDependencyCount"], 1);
    assert_eq!(metadata["includeTransitive"], true);
    assert_eq!(metadata["cutEdges"], json!([]));
    assert!(
        metadata["analyzedAt"]
            .as_str()
            .is_some_and(|at| at.contains('T') && at.ends_with('Z')),
        "{metadata}"
    );

    // Without includeTransitive the map is there and empty; one repository
    // named keeps its dependencies outside the request, and the order lists
    // only what was named.
    let app = ok(&h
        .get("/api/coordination/dependencies?repositories=app")
        .await);
    assert_eq!(keys(&app), DEPENDENCY_KEYS, "{app}");
    assert_eq!(app["repositories"], json!(["app"]));
    assert_eq!(app["transitiveDependencies"], json!({}));
    assert_eq!(app["metadata"]["includeTransitive"], false);
    assert_eq!(
        app["directDependencies"]["app"][0]["repository"], "infra",
        "{app}"
    );
    assert_eq!(app["deploymentOrder"], json!(["app"]));

    // No parameter: every repository of the workspace.
    let all = ok(&h.get("/api/coordination/dependencies").await);
    assert_eq!(
        sorted(
            all["repositories"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect()
        ),
        ["app", "infra"]
    );
    assert_eq!(all["deploymentOrder"], json!(["infra", "app"]));

    let unknown = h
        .get("/api/coordination/dependencies?repositories=app,nope")
        .await;
    let error = unknown.error(400, "unknown_repository");
    assert!(
        error["message"].as_str().unwrap().contains("`nope`"),
        "{error}"
    );
    assert_eq!(error["details"]["unknown"], json!(["nope"]));
    h.get("/api/coordination/dependencies?include_transitive=maybe")
        .await
        .error(400, "invalid_query");

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
async fn dependencies_order_a_chain_and_list_repository_cycles() {
    let chain = chain_workspace();
    let h = harness_on(&chain).await;
    let body = ok(&h
        .get("/api/coordination/dependencies?includeTransitive=true")
        .await);
    assert_eq!(body["deploymentOrder"], json!(["c", "d", "b", "a"]));
    assert_eq!(
        body["transitiveDependencies"],
        json!({"a": ["b", "c"], "b": ["c"], "c": [], "d": []})
    );
    let a = &body["directDependencies"]["a"];
    assert_eq!(a.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(a[0]["repository"], "b");
    assert_eq!(a[0]["type"], "required");
    assert_eq!(a[0]["services"][0]["from"], "a/api");
    assert_eq!(a[0]["services"][0]["to"], "b/queue");
    assert_eq!(a[0]["services"][0]["explicit"], true);
    assert_eq!(
        a[0]["services"][0]["provenance"][0]["rule"], "weft-yaml",
        "{body}"
    );
    assert_eq!(body["circularDependencies"], json!([]));
    // Named out of order, the order is still the dependencies'; `b`, not
    // named, still puts `c` before `a`.
    let named = ok(&h
        .get("/api/coordination/dependencies?repositories=a,c")
        .await);
    assert_eq!(named["deploymentOrder"], json!(["c", "a"]));
    assert_eq!(named["repositories"], json!(["a", "c"]));

    let cycle = cycle_workspace("required");
    let h = harness_on(&cycle).await;
    let body = ok(&h
        .get("/api/coordination/dependencies?repositories=x,y&includeTransitive=true")
        .await);
    assert_eq!(body["circularDependencies"], json!([["x", "y", "x"]]));
    assert_eq!(
        body["transitiveDependencies"],
        json!({"x": ["y"], "y": ["x"]})
    );
    // The order ignores the cycle's cut edge, named in the metadata.
    let cut = &body["metadata"]["cutEdges"];
    assert_eq!(cut.as_array().unwrap().len(), 1, "{body}");
    let order: Vec<&str> = body["deploymentOrder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    // With the cut edge (`from` needs `to`) ignored, only `to` needs
    // `from`: `from` goes first.
    assert_eq!(
        order,
        [
            cut[0]["from"].as_str().unwrap(),
            cut[0]["to"].as_str().unwrap()
        ]
    );
}

const COORDINATION_KEYS: [&str; 8] = [
    "circularDependencies",
    "conflicts",
    "createdAt",
    "estimates",
    "id",
    "phases",
    "repositories",
    "status",
];

fn phase(number: u64, repositories: &[&str], parallel: bool, seconds: u64) -> Value {
    json!({"phase": number, "repositories": repositories, "parallel": parallel,
           "estimatedDuration": seconds})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinate_deployment_phases_a_chain_and_an_independent_repository() {
    let workspace = chain_workspace();
    let h = harness_on(&workspace).await;
    let body = ok(&coordinate(
        &h,
        &json!({
            "repositories": ["a", "b", "c", "d"],
            "options": {"allowParallel": true, "ignoreConflicts": false, "timeout": 3600},
        }),
    )
    .await);
    assert_eq!(keys(&body), ["coordination", "deployment"], "{body}");
    let coordination = &body["coordination"];
    assert_eq!(keys(coordination), COORDINATION_KEYS, "{body}");
    assert_eq!(coordination["status"], "ready");
    assert_eq!(coordination["repositories"], json!(["a", "b", "c", "d"]));
    // No deployment recorded yet: every repository takes the default 45 s.
    assert_eq!(
        coordination["phases"],
        json!([
            phase(1, &["c", "d"], true, 45),
            phase(2, &["b"], false, 45),
            phase(3, &["a"], false, 45),
        ])
    );
    assert_eq!(coordination["conflicts"], json!([]));
    assert_eq!(coordination["circularDependencies"], json!([]));
    assert_eq!(
        coordination["estimates"]["a"],
        json!({"estimatedDuration": 45, "samples": 0, "source": "default"})
    );
    assert_eq!(
        body["deployment"],
        json!({"totalPhases": 3, "parallelizable": 1, "estimatedDuration": 135,
               "timeout": 3600, "exceedsTimeout": false})
    );

    // The coordination is an operation, found by its id.
    let id = coordination["id"].as_str().unwrap();
    let operations = ok(&h
        .get("/api/coordination/operations?type=coordination")
        .await);
    assert_eq!(operations["total"], 1, "{operations}");
    assert_eq!(operations["operations"][0]["id"], id);
    assert_eq!(operations["operations"][0]["status"], "succeeded");
    assert_eq!(operations["operations"][0]["result"]["phases"], 3);

    // Not parallel: one repository a phase, in the same order.
    let serial = ok(&coordinate(
        &h,
        &json!({"repositories": ["d", "c", "b", "a"], "options": {"allowParallel": false, "timeout": 100}}),
    )
    .await);
    assert_eq!(
        serial["coordination"]["phases"],
        json!([
            phase(1, &["c"], false, 45),
            phase(2, &["d"], false, 45),
            phase(3, &["b"], false, 45),
            phase(4, &["a"], false, 45),
        ])
    );
    assert_eq!(
        serial["deployment"],
        json!({"totalPhases": 4, "parallelizable": 0, "estimatedDuration": 180,
               "timeout": 100, "exceedsTimeout": true})
    );

    // Recorded deployments replace the default: succeeded `deployment`
    // operations naming the repository (its name, or `repository:NAME`);
    // failed ones and other types do not count.
    record(&h, "deployment", "repository:a", "succeeded").await;
    record(&h, "deployment", "a", "succeeded").await;
    record(&h, "deployment", "b", "succeeded").await;
    record(&h, "deployment", "repository:d", "failed").await;
    record(&h, "analysis", "repository:d", "succeeded").await;
    let estimated = ok(&coordinate(&h, &json!({"repositories": ["a", "b", "c", "d"]})).await);
    let estimates = &estimated["coordination"]["estimates"];
    // The test deployments took milliseconds: an estimate is at least 1 s.
    assert_eq!(
        estimates["a"],
        json!({"estimatedDuration": 1, "samples": 2, "source": "recorded"})
    );
    assert_eq!(estimates["b"]["samples"], 1, "{estimates}");
    assert_eq!(estimates["d"]["source"], "default", "{estimates}");
    assert_eq!(
        estimated["coordination"]["phases"],
        json!([
            phase(1, &["c", "d"], true, 45),
            phase(2, &["b"], false, 1),
            phase(3, &["a"], false, 1),
        ])
    );
    assert_eq!(estimated["deployment"]["estimatedDuration"], 47);
    assert!(estimated["deployment"].get("timeout").is_none());

    // A subset: `b` is not deployed but still orders `c` before `a`. An
    // empty body is every repository.
    let subset = ok(&coordinate(&h, &json!({"repositories": ["a", "c"]})).await);
    assert_eq!(
        subset["coordination"]["phases"],
        json!([phase(1, &["c"], false, 45), phase(2, &["a"], false, 1)])
    );
    let empty = ok(&h
        .send(
            Method::POST,
            "/api/coordination/coordinate-deployment",
            None,
            None,
        )
        .await);
    assert_eq!(
        empty["coordination"]["repositories"],
        json!(["a", "b", "c", "d"])
    );
    assert_eq!(empty["deployment"]["totalPhases"], 3);

    coordinate(&h, &json!({"repositories": ["a", "nope"]}))
        .await
        .error(400, "unknown_repository");
    coordinate(
        &h,
        &json!({"repositories": ["a"], "options": {"timeout": 0}}),
    )
    .await
    .error(400, "invalid");
    coordinate(
        &h,
        &json!({"repositories": ["a"], "options": {"parallel": true}}),
    )
    .await
    .error(400, "invalid_body");
    coordinate(&h, &json!({"services": ["a/api"]}))
        .await
        .error(400, "invalid_body");
}

#[test]
fn coordinate_deployment_over_a_real_socket() {
    let workspace = chain_workspace();
    let root = workspace.root().to_path_buf();
    let server = TestServer::start(move |settings| settings.workspace = root);
    let request = json!({
        "repositories": ["repo-that-is-not-there"],
        "options": {"allowParallel": true, "ignoreConflicts": false, "timeout": 3600},
    });
    let (status, text) = http(
        server.address,
        "POST",
        "/api/coordination/coordinate-deployment",
        &[],
        Some(&request.to_string()),
    );
    assert_eq!(status, 400, "{text}");
    let request = json!({
        "repositories": ["a", "b", "c", "d"],
        "options": {"allowParallel": false, "ignoreConflicts": false, "timeout": 3600},
    });
    let (status, text) = http(
        server.address,
        "POST",
        "/api/coordination/coordinate-deployment",
        &[],
        Some(&request.to_string()),
    );
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let order: Vec<&str> = body["coordination"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["repositories"][0].as_str().unwrap())
        .collect();
    assert_eq!(order, ["c", "d", "b", "a"], "{body}");
    assert_eq!(body["deployment"]["estimatedDuration"], 180, "{body}");
    let (status, text) = http(
        server.address,
        "GET",
        "/api/coordination/dependencies?repositories=a,b,c,d&includeTransitive=true",
        &[],
        None,
    );
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["deploymentOrder"], json!(["c", "d", "b", "a"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinate_deployment_reports_conflicts_unless_ignored() {
    let (h, _workspace) = harness().await;
    let refused = coordinate(&h, &json!({"repositories": ["app", "infra"]})).await;
    let error = refused.error(409, "resource_conflicts");
    assert_eq!(
        error["message"],
        "resource conflicts detected: port:docker/tcp/8080"
    );
    assert_eq!(
        error["details"]["conflicts"][0]["id"],
        "port:docker/tcp/8080"
    );
    assert_eq!(error["details"]["conflicts"][0]["type"], "port");
    let recorded = ok(&h
        .get("/api/v1/operations?type=coordination&status=conflict")
        .await);
    assert_eq!(
        recorded["operations"].as_array().unwrap().len(),
        1,
        "{recorded}"
    );

    let ignored = ok(&coordinate(
        &h,
        &json!({"repositories": ["app", "infra"], "options": {"ignoreConflicts": true}}),
    )
    .await);
    let coordination = &ignored["coordination"];
    assert_eq!(coordination["status"], "ready");
    assert_eq!(
        coordination["phases"],
        json!([
            phase(1, &["infra"], false, 45),
            phase(2, &["app"], false, 45)
        ])
    );
    assert_eq!(coordination["conflicts"][0]["id"], "port:docker/tcp/8080");
    assert_eq!(ignored["deployment"]["totalPhases"], 2);

    // `app` alone: its port clashes with `infra`, which is not deployed, so
    // there is no conflict between the named repositories.
    let app = ok(&coordinate(&h, &json!({"repositories": ["app"]})).await);
    assert_eq!(
        app["coordination"]["phases"],
        json!([phase(1, &["app"], false, 45)])
    );
    assert_eq!(app["coordination"]["conflicts"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinate_deployment_refuses_a_cycle_of_required_repositories() {
    let workspace = cycle_workspace("required");
    let h = harness_on(&workspace).await;
    let refused = coordinate(&h, &json!({"repositories": ["x", "y"]})).await;
    let error = refused.error(422, "circular_dependencies");
    assert_eq!(
        error["message"],
        "circular dependencies detected: x -> y -> x"
    );
    assert_eq!(
        error["details"]["circularDependencies"],
        json!([["x", "y", "x"]])
    );
    let failed = ok(&h
        .get("/api/v1/operations?type=coordination&status=failed")
        .await);
    assert_eq!(
        failed["operations"].as_array().unwrap().len(),
        1,
        "{failed}"
    );
    // One of the two alone is no cycle among the named.
    let x = ok(&coordinate(&h, &json!({"repositories": ["x"]})).await);
    assert_eq!(
        x["coordination"]["phases"],
        json!([phase(1, &["x"], false, 45)])
    );

    // Soft edges only order by preference: the cycle is cut at its weakest
    // edge, as `weft plan` does, and listed.
    workspace.write("weft.yaml", &cycle_config("soft"));
    let soft = ok(&coordinate(&h, &json!({"repositories": ["x", "y"]})).await);
    assert_eq!(
        soft["coordination"]["circularDependencies"],
        json!([["x", "y", "x"]])
    );
    assert_eq!(soft["deployment"]["totalPhases"], 2, "{soft}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_conflicts_between_the_named_repositories() {
    let (h, _workspace) = harness().await;
    let body = ok(&h.get("/api/coordination/resource-conflicts").await);
    assert_eq!(
        keys(&body),
        ["conflicts", "repositories", "success", "total"],
        "{body}"
    );
    assert_eq!(body["total"], 1, "only the port 8080 conflict: {body}");
    let port = &body["conflicts"][0];
    assert_eq!(
        keys(port),
        [
            "claims",
            "id",
            "message",
            "resource",
            "severity",
            "strategies",
            "type"
        ]
    );
    assert_eq!(port["id"], "port:docker/tcp/8080", "{port}");
    assert_eq!(port["type"], "port", "{port}");
    assert_eq!(port["resource"], "tcp/8080", "{port}");
    assert_eq!(port["severity"], "error", "{port}");
    let claimants: Vec<&str> = port["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"].as_str().unwrap())
        .collect();
    assert_eq!(claimants, ["app/web", "infra/proxy"], "{port}");
    assert_eq!(port["claims"][0]["repository"], "app");
    assert_eq!(
        port["claims"][0]["provenance"]["file"],
        "app/docker-compose.yml"
    );
    assert_eq!(port["strategies"][0]["name"], "port-reassignment", "{port}");
    let v1 = ok(&h.get("/api/v1/analysis/conflicts").await);
    assert_eq!(v1["conflicts"], body["conflicts"]);

    let both = ok(&h
        .get("/api/coordination/resource-conflicts?repositories=app,infra")
        .await);
    assert_eq!(both["repositories"], json!(["app", "infra"]));
    assert_eq!(both["conflicts"], body["conflicts"]);
    let app = ok(&h
        .get("/api/coordination/resource-conflicts?repositories=app")
        .await);
    assert_eq!(app["repositories"], json!(["app"]));
    assert_eq!(app["total"], 0, "{app}");
    assert_eq!(app["conflicts"], json!([]));
    h.get("/api/coordination/resource-conflicts?repositories=nope")
        .await
        .error(400, "unknown_repository");
    h.get("/api/coordination/resource-conflicts?repository=app")
        .await
        .error(400, "invalid_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_conflicts_takes_the_seed_request() {
    let (h, workspace) = harness().await;
    // A second conflict of another type: both infra/proxy and app/web are
    // named `edge`.
    workspace.write(
        "infra/docker-compose.yml",
        "services:\n  db:\n    image: postgres:16\n    ports: [\"5432:5432\"]\n  proxy:\n    image: nginx\n    container_name: edge\n    ports: [\"8080:80\"]\n",
    );
    workspace.write(
        "app/docker-compose.yml",
        "services:\n  web:\n    image: web\n    container_name: edge\n    ports: [\"8080:3000\"]\n    environment:\n      DATABASE_URL: postgres://db:5432/app\n",
    );
    let conflicts = ok(&h.get("/api/coordination/resource-conflicts").await);
    let ids: Vec<&str> = conflicts["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["container-name:edge", "port:docker/tcp/8080"]);
    let before = (
        workspace.read("infra/docker-compose.yml"),
        workspace.read("app/docker-compose.yml"),
    );

    // The seed's request: the strategy fits the port conflict, not the
    // container name, which is skipped.
    let dry = ok(&h
        .post(
            "/api/coordination/resolve-conflicts",
            &json!({
                "conflicts": [
                    {"id": "port:docker/tcp/8080", "type": "port"},
                    {"id": "container-name:edge", "type": "container-name"},
                ],
                "resolutionStrategy": "port-reassignment",
                "dryRun": true,
            }),
        )
        .await);
    assert_eq!(
        keys(&dry),
        [
            "applied",
            "diff",
            "dryRun",
            "resolutions",
            "skipped",
            "success"
        ],
        "{dry}"
    );
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["applied"], false);
    let resolutions = dry["resolutions"].as_array().unwrap();
    assert_eq!(resolutions.len(), 1, "{dry}");
    assert_eq!(resolutions[0]["conflict"], "port:docker/tcp/8080");
    assert_eq!(resolutions[0]["strategy"], "port-reassignment");
    assert_eq!(resolutions[0]["automatic"], true, "{dry}");
    let edit = &resolutions[0]["edits"][0];
    assert_eq!(edit["file"], "infra/docker-compose.yml", "{dry}");
    assert_eq!(edit["before"], "8080", "{dry}");
    let skipped = dry["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{dry}");
    assert_eq!(skipped[0]["conflict"], "container-name:edge");
    assert_eq!(skipped[0]["type"], "container_name");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("container-rename")),
        "{dry}"
    );
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

    // A type that is not the conflict's, and an unknown id, are refused.
    let wrong = h
        .post(
            "/api/coordination/resolve-conflicts",
            &json!({"conflicts": [{"id": "port:docker/tcp/8080", "type": "nginx-domain"}]}),
        )
        .await;
    let error = wrong.error(400, "invalid");
    assert_eq!(error["details"]["type"], "port", "{error}");
    h.post(
        "/api/coordination/resolve-conflicts",
        &json!({"conflicts": [{"id": "port:nope", "type": "port"}]}),
    )
    .await
    .error(400, "invalid");
    h.post(
        "/api/coordination/resolve-conflicts",
        &json!({"conflicts": ["port:docker/tcp/8080"]}),
    )
    .await
    .error(400, "invalid_body");
    // This alias's earlier shape still works; dry run is the default.
    let earlier = ok(&h
        .post(
            "/api/coordination/resolve-conflicts",
            &json!({"conflictIds": ["port:docker/tcp/8080"]}),
        )
        .await);
    assert_eq!(earlier["dryRun"], true);
    assert_eq!(earlier["resolutions"], dry["resolutions"]);

    // dryRun false writes (no token is configured, so the caller is admin),
    // and the port conflict is gone.
    let applied = ok(&h
        .post(
            "/api/coordination/resolve-conflicts",
            &json!({
                "conflicts": [{"id": "port:docker/tcp/8080", "type": "port"}],
                "resolutionStrategy": "port-reassignment",
                "dryRun": false,
            }),
        )
        .await);
    assert_eq!(applied["applied"], true, "{applied}");
    assert_eq!(applied["dryRun"], false, "{applied}");
    assert_ne!(workspace.read("infra/docker-compose.yml"), before.0);
    let left = ok(&h.get("/api/coordination/resource-conflicts").await);
    assert_eq!(left["total"], 1, "{left}");
    assert_eq!(left["conflicts"][0]["id"], "container-name:edge");

    let resolutions = ok(&h.get("/api/v1/operations?type=resolution").await);
    assert_eq!(
        resolutions["operations"].as_array().unwrap().len(),
        5,
        "{resolutions}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_both_formats_over_a_time_range() {
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
        "/api/coordination/metrics?format=json&timeRange=24",
    ] {
        let body = ok(&h.get(uri).await);
        assert_eq!(
            keys(&body),
            [
                "activeLeases",
                "activeOperations",
                "alertsFiring",
                "averageResolutionMs",
                "conflictRate",
                "conflictsFound",
                "conflictsResolved",
                "expiries",
                "failureRate",
                "grants",
                "memory",
                "operationDurationsMs",
                "operations",
                "releases",
                "resources",
                "timeRange",
                "waiters",
                "wakeLatencyMs",
            ],
            "{uri}: {body}"
        );
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
        let claims = &body["operationDurationsMs"]["claim"];
        assert_eq!(claims["count"], 2, "{body}");
        assert!(claims["average"].is_number(), "{body}");
        assert!(body["wakeLatencyMs"].get("p50").is_some(), "{body}");
        assert!(
            body["memory"]["residentBytes"].as_u64().unwrap() > 0,
            "{body}"
        );
    }
    // The rates cover timeRange hours; by default the alert window (15 min).
    let default = ok(&h.get("/api/coordination/metrics").await);
    assert_eq!(default["timeRange"], 0.25);
    let day = ok(&h.get("/api/coordination/metrics?timeRange=24").await);
    assert_eq!(day["timeRange"], 24.0);
    for bad in [
        "timeRange=0",
        "timeRange=-1",
        "timeRange=soon",
        "format=xml",
    ] {
        h.get(&format!("/api/coordination/metrics?{bad}"))
            .await
            .error(400, "invalid_query");
    }

    let prometheus = h
        .get("/api/coordination/metrics?format=prometheus&timeRange=24")
        .await;
    assert_eq!(prometheus.status, 200);
    assert!(
        prometheus.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0"),
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
async fn alerts_filter_by_hours_severity_and_acknowledgement() {
    let (h, _workspace) = harness().await;
    // A claim that found its resource taken (conflict rate 1/2: a warning)
    // and a failed operation (failure rate: critical).
    assert_eq!(
        h.post("/api/v1/leases", &json!({"resource": "lock:a"}))
            .await
            .status,
        201
    );
    assert_eq!(
        h.post(
            "/api/v1/leases",
            &json!({"resource": "lock:a", "wait": "0"})
        )
        .await
        .status,
        409
    );
    record(&h, "deployment", "repository:app", "failed").await;

    let all = ok(&h.get("/api/coordination/alerts?hours=24").await);
    assert_eq!(keys(&all), ["alerts", "success", "total"]);
    assert_eq!(all["total"], 2, "{all}");
    let alert = &all["alerts"][0];
    assert_eq!(
        keys(alert),
        [
            "acknowledged",
            "acknowledged_at",
            "acknowledged_by",
            "created_at",
            "id",
            "message",
            "resolved_at",
            "rule",
            "severity",
            "subject",
            "threshold",
            "value",
        ],
        "{alert}"
    );
    assert_eq!(alert["acknowledged"], false);
    let rule_of = |body: &Value| -> Vec<String> {
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_owned())
            .collect()
    };

    // The seed's severities map onto weft's: high is critical, medium and
    // low are warning.
    for (severity, rule) in [
        ("high", "failure_rate"),
        ("critical", "failure_rate"),
        ("medium", "conflict_rate"),
        ("low", "conflict_rate"),
        ("warning", "conflict_rate"),
    ] {
        let body = ok(&h
            .get(&format!("/api/coordination/alerts?severity={severity}"))
            .await);
        assert_eq!(rule_of(&body), [rule], "{severity}: {body}");
        assert_eq!(body["total"], 1);
    }
    h.get("/api/coordination/alerts?severity=urgent")
        .await
        .error(400, "invalid_query");

    let critical = ok(&h.get("/api/coordination/alerts?severity=high").await);
    let id = critical["alerts"][0]["id"].as_str().unwrap();
    let acknowledged = h
        .post(&format!("/api/v1/alerts/{id}/acknowledge"), &json!({}))
        .await;
    assert_eq!(acknowledged.status, 200, "{}", acknowledged.text);
    let yes = ok(&h
        .get("/api/coordination/alerts?hours=1&acknowledged=true")
        .await);
    assert_eq!(rule_of(&yes), ["failure_rate"], "{yes}");
    assert_eq!(yes["alerts"][0]["acknowledged"], true);
    let no = ok(&h
        .get("/api/coordination/alerts?hours=1&severity=medium&acknowledged=false")
        .await);
    assert_eq!(rule_of(&no), ["conflict_rate"], "{no}");
    let none = ok(&h
        .get("/api/coordination/alerts?severity=high&acknowledged=false")
        .await);
    assert_eq!(none["total"], 0, "{none}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_operations_and_cleanup() {
    let (h, _workspace) = harness().await;
    let basic = ok(&h.get("/api/coordination/health").await);
    assert_eq!(basic, json!({"status": "ok"}));
    let detailed = ok(&h.get("/api/coordination/health/detailed").await);
    assert_eq!(
        keys(&detailed),
        [
            "active_leases",
            "active_operations",
            "event_subscribers",
            "memory",
            "model",
            "resources",
            "status",
            "store",
            "unacknowledged_alerts",
            "uptime_seconds",
            "version",
            "waiters",
        ],
        "{detailed}"
    );
    assert_eq!(detailed["status"], "ok", "{detailed}");
    assert_eq!(detailed["store"]["backend"], "sqlite", "{detailed}");
    assert_eq!(detailed["store"]["reachable"], true, "{detailed}");
    assert!(detailed["memory"]["resident_bytes"].as_u64().unwrap() > 0);
    // The harness does not run `serve`, which watches the workspace.
    assert_eq!(detailed["model"], json!({"watching": false}), "{detailed}");
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
    let detailed = ok(&h.get("/api/coordination/health/detailed").await);
    assert_eq!(detailed["active_operations"], 1, "{detailed}");

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
async fn each_alias_needs_the_scope_of_what_it_does() {
    let workspace = chain_workspace();
    let root = workspace.root().to_path_buf();
    let h = Harness::new(move |settings| {
        settings.workspace = root;
        settings.tokens = tokens();
        settings.open_health = true;
    })
    .await;
    for uri in [
        "/api/coordination/dependencies",
        "/api/coordination/resource-conflicts",
        "/api/coordination/alerts",
    ] {
        h.get(uri).await.error(401, "unauthorized");
        let reply = h.send(Method::GET, uri, Some(READ), None).await;
        assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
    }
    let body = json!({"repositories": ["a"]});
    let uri = "/api/coordination/coordinate-deployment";
    h.send(Method::POST, uri, Some(READ), Some(&body))
        .await
        .error(403, "forbidden");
    let reply = h.send(Method::POST, uri, Some(WRITE), Some(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Health is open with open_health, as under /api/v1.
    assert_eq!(h.get("/api/coordination/health").await.status, 200);
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
