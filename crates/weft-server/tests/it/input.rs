//! Bad input: every mistake gets a 4xx in the JSON error shape and changes
//! nothing (leases, resources, queues, counts, events and operations are
//! compared before and after).

use axum::http::Method;
use serde_json::{Value, json};

use crate::support::{Harness, Reply};

/// A body limit small enough to exceed cheaply.
const LIMIT: usize = 1024;

/// A store with one lease on `lock:held`, and its id.
async fn harness() -> (Harness, String) {
    let harness = Harness::new(|settings| settings.body_limit = LIMIT).await;
    let reply = harness
        .post(
            "/api/v1/leases",
            &json!({"resource": "lock:held", "ttl": "10m", "holder": {"repository": "alice"}}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    (harness, id)
}

/// Sends `request`, checks the error, and checks that nothing changed.
async fn rejected<F: Future<Output = Reply>>(
    harness: &Harness,
    what: &str,
    status: u16,
    code: &str,
    request: F,
) -> Value {
    let before = harness.snapshot().await;
    let reply = request.await;
    assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.text);
    let error = reply.error(status, code);
    let after = harness.snapshot().await;
    assert_eq!(before, after, "{what} changed the state");
    error
}

fn acquire(body: Value) -> Value {
    let mut request = json!({"resource": "lock:new", "holder": {"repository": "bob"}});
    for (key, value) in body.as_object().unwrap() {
        request[key] = value.clone();
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_rejected_without_effect() {
    let (h, _) = harness().await;
    let raw =
        |body: &'static str| h.send_raw(Method::POST, "/api/v1/leases", "application/json", body);
    let error = rejected(
        &h,
        "malformed JSON",
        400,
        "malformed_json",
        raw("{\"resource\":"),
    )
    .await;
    assert!(!error["message"].as_str().unwrap().is_empty());
    rejected(
        &h,
        "not JSON at all",
        400,
        "malformed_json",
        raw("resource=lock:a"),
    )
    .await;
    rejected(&h, "an empty body", 400, "malformed_json", raw("")).await;
    let error = rejected(
        &h,
        "unknown field",
        400,
        "invalid_body",
        h.post("/api/v1/leases", &acquire(json!({"colour": "red"}))),
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("colour"),
        "{error}"
    );
    let error = rejected(
        &h,
        "wrong type",
        400,
        "invalid_body",
        h.post("/api/v1/leases", &acquire(json!({"weight": "heavy"}))),
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("weight"),
        "{error}"
    );
    rejected(
        &h,
        "missing resource",
        400,
        "invalid_body",
        h.post("/api/v1/leases", &json!({"ttl": "1m"})),
    )
    .await;
    rejected(
        &h,
        "an array",
        400,
        "invalid_body",
        h.post("/api/v1/leases", &json!([1, 2])),
    )
    .await;
    rejected(
        &h,
        "unknown holder field",
        400,
        "invalid_body",
        h.post(
            "/api/v1/leases",
            &acquire(json!({"holder": {"repository": "bob", "pid": 4}})),
        ),
    )
    .await;
    rejected(
        &h,
        "unknown mode",
        400,
        "invalid_body",
        h.post("/api/v1/leases", &acquire(json!({"mode": "sometimes"}))),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lease_requests_are_rejected_without_effect() {
    let (h, _) = harness().await;
    let field = |error: &Value, field: &str| {
        assert_eq!(error["details"]["field"], field, "{error}");
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("negative TTL", json!({"ttl_ms": -5}), "invalid", "ttl"),
        ("zero TTL", json!({"ttl_ms": 0}), "invalid", "ttl"),
        (
            "TTL beyond max_ttl",
            json!({"ttl": "48h"}),
            "invalid",
            "ttl",
        ),
        (
            "TTL in ms beyond max_ttl",
            json!({"ttl_ms": 1_000_000_000_000_i64}),
            "invalid",
            "ttl",
        ),
        (
            "both ttl and ttl_ms",
            json!({"ttl": "1m", "ttl_ms": 60_000}),
            "invalid",
            "",
        ),
        ("bad duration", json!({"ttl": "soon"}), "invalid", "ttl"),
        (
            "bad wait duration",
            json!({"wait": "a while"}),
            "invalid",
            "wait",
        ),
        ("negative wait", json!({"wait_ms": -1}), "invalid", "wait"),
        (
            "wait beyond the maximum",
            json!({"wait": "400d"}),
            "invalid",
            "wait",
        ),
        (
            "both wait and wait_ms",
            json!({"wait": "1s", "wait_ms": 5}),
            "invalid",
            "",
        ),
        (
            "weight 0",
            json!({"mode": "shared", "weight": 0, "capacity": 4}),
            "invalid",
            "weight",
        ),
        (
            "negative weight",
            json!({"mode": "shared", "weight": -3}),
            "invalid",
            "weight",
        ),
        (
            "weight on an exclusive lease",
            json!({"weight": 2, "capacity": 4}),
            "invalid",
            "weight",
        ),
        (
            "weight above the capacity",
            json!({"mode": "shared", "weight": 5, "capacity": 4}),
            "invalid",
            "weight",
        ),
        ("capacity 0", json!({"capacity": 0}), "invalid", "capacity"),
        (
            "unknown class",
            json!({"class": "urgent-ish"}),
            "unknown_class",
            "",
        ),
        (
            "priority and class",
            json!({"priority": 5, "class": "default"}),
            "invalid",
            "priority",
        ),
        (
            "priority out of range",
            json!({"priority": 2_000_000}),
            "invalid",
            "priority",
        ),
        (
            "bad resource type",
            json!({"resource": "bad type!:x"}),
            "invalid",
            "resource",
        ),
        (
            "empty identifier",
            json!({"resource": "port:"}),
            "invalid",
            "resource",
        ),
        (
            "control character",
            json!({"resource": "lock:a\u{7}b"}),
            "invalid",
            "resource",
        ),
    ];
    for (what, body, code, expected_field) in cases {
        let error = rejected(
            &h,
            what,
            400,
            code,
            h.post("/api/v1/leases", &acquire(body)),
        )
        .await;
        if !expected_field.is_empty() {
            field(&error, expected_field);
        }
        if code == "unknown_class" {
            let message = error["message"].as_str().unwrap();
            assert!(
                message.contains("urgent-ish") && message.contains("default"),
                "{message}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_things_are_404_without_effect() {
    let (h, _) = harness().await;
    let error = rejected(
        &h,
        "unknown resource",
        404,
        "not_found",
        h.get("/api/v1/resources/lock%3Anope"),
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("lock:nope"),
        "{error}"
    );
    rejected(
        &h,
        "unknown resource queue",
        404,
        "not_found",
        h.get("/api/v1/resources/lock%3Anope/queue"),
    )
    .await;
    rejected(
        &h,
        "force-release of an unknown resource",
        404,
        "not_found",
        h.post(
            "/api/v1/resources/lock%3Anope/force-release",
            &json!({"reason": "why not"}),
        ),
    )
    .await;
    rejected(
        &h,
        "unknown lease",
        404,
        "not_found",
        h.get("/api/v1/leases/no-such-lease"),
    )
    .await;
    rejected(
        &h,
        "renew an unknown lease",
        404,
        "not_found",
        h.post("/api/v1/leases/no-such-lease/renew", &json!({})),
    )
    .await;
    rejected(
        &h,
        "release an unknown lease",
        404,
        "not_found",
        h.send(Method::DELETE, "/api/v1/leases/no-such-lease", None, None),
    )
    .await;
    rejected(
        &h,
        "finish an unknown operation",
        404,
        "not_found",
        h.post(
            "/api/v1/operations/nope/finish",
            &json!({"status": "succeeded"}),
        ),
    )
    .await;
    rejected(
        &h,
        "acknowledge an unknown alert",
        404,
        "not_found",
        h.send(Method::POST, "/api/v1/alerts/nope/acknowledge", None, None),
    )
    .await;
    for uri in [
        "/api/v1/nope",
        "/nope",
        "/api/v2/leases",
        "/api/coordination/nope",
    ] {
        rejected(&h, uri, 404, "not_found", h.get(uri)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_renewals_and_releases_leave_the_lease_alone() {
    let (h, id) = harness().await;
    let renew = format!("/api/v1/leases/{id}/renew");
    let error = rejected(
        &h,
        "renew with a negative TTL",
        400,
        "invalid",
        h.post(&renew, &json!({"ttl_ms": -1})),
    )
    .await;
    assert_eq!(error["details"]["field"], "ttl");
    rejected(
        &h,
        "renew beyond max_ttl",
        400,
        "invalid",
        h.post(&renew, &json!({"ttl": "30d"})),
    )
    .await;
    rejected(
        &h,
        "renew with both",
        400,
        "invalid",
        h.post(&renew, &json!({"ttl": "1m", "ttl_ms": 1})),
    )
    .await;
    rejected(
        &h,
        "renew with an unknown field",
        400,
        "invalid_body",
        h.post(&renew, &json!({"ttl_s": 5})),
    )
    .await;
    rejected(
        &h,
        "renew with malformed JSON",
        400,
        "malformed_json",
        h.send_raw(Method::POST, &renew, "application/json", "{ttl"),
    )
    .await;
    rejected(
        &h,
        "force-release without a reason",
        400,
        "invalid",
        h.post(
            "/api/v1/resources/lock%3Aheld/force-release",
            &json!({"reason": "  "}),
        ),
    )
    .await;
    rejected(
        &h,
        "force-release with no body",
        400,
        "invalid_body",
        h.post("/api/v1/resources/lock%3Aheld/force-release", &json!({})),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_mistakes_are_rejected_without_effect() {
    let (h, id) = harness().await;
    let big =
        json!({"resource": "lock:big", "holder": {"labels": {"padding": "x".repeat(2 * LIMIT)}}});
    rejected(
        &h,
        "oversized acquire",
        413,
        "body_too_large",
        h.post("/api/v1/leases", &big),
    )
    .await;
    rejected(
        &h,
        "oversized renew",
        413,
        "body_too_large",
        h.post(
            &format!("/api/v1/leases/{id}/renew"),
            &json!({"ttl": "x".repeat(2 * LIMIT)}),
        ),
    )
    .await;
    rejected(
        &h,
        "oversized cleanup",
        413,
        "body_too_large",
        h.post(
            "/api/v1/cleanup",
            &json!({"retention": "x".repeat(2 * LIMIT)}),
        ),
    )
    .await;
    rejected(
        &h,
        "text/plain",
        415,
        "unsupported_media_type",
        h.send_raw(
            Method::POST,
            "/api/v1/leases",
            "text/plain",
            r#"{"resource":"lock:a"}"#,
        ),
    )
    .await;
    rejected(
        &h,
        "form encoded",
        415,
        "unsupported_media_type",
        h.send_raw(
            Method::POST,
            "/api/v1/leases",
            "application/x-www-form-urlencoded",
            "resource=lock:a",
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_are_rejected() {
    let (h, _) = harness().await;
    for uri in [
        "/api/v1/operations?status=nope",
        "/api/v1/operations?limit=many",
        "/api/v1/operations?hours=-1",
        "/api/v1/operations?colour=red",
        "/api/v1/alerts?severity=apocalyptic",
        "/api/v1/alerts?acknowledged=perhaps",
        "/api/v1/events?since=yesterday",
        "/api/coordination/operations?status=nope",
        "/api/coordination/metrics?format=xml",
        "/api/v1/analysis/dependencies?transitive=yes",
    ] {
        let error = rejected(&h, uri, 400, "invalid_query", h.get(uri)).await;
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    let error = rejected(
        &h,
        "cleanup with a bad retention",
        400,
        "invalid",
        h.post("/api/v1/cleanup", &json!({"retention": "forever"})),
    )
    .await;
    assert_eq!(error["details"]["field"], "retention");
    rejected(
        &h,
        "finish with an active status",
        400,
        "invalid",
        h.post("/api/v1/operations/x/finish", &json!({"status": "active"})),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_a_json_error() {
    let (h, _) = harness().await;
    rejected(
        &h,
        "PUT /api/v1/leases",
        405,
        "method_not_allowed",
        h.send(Method::PUT, "/api/v1/leases", None, None),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_path_segment_is_a_json_error() {
    let (h, _) = harness().await;
    rejected(
        &h,
        "GET /api/v1/leases/%FF",
        400,
        "invalid_path",
        h.get("/api/v1/leases/%FF"),
    )
    .await;
}
