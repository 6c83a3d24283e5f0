//! Bearer scopes: each endpoint class answers 401 without a token, 403 with
//! too small a scope and 2xx with enough; `open_health` opens health and
//! metrics only; error bodies never carry a secret.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};

use crate::support::{ADMIN, Harness, READ, Reply, WRITE, tokens};

const SECRETS: [&str; 4] = [READ, WRITE, ADMIN, BOGUS];
const BOGUS: &str = "n0t-a-real-secret-but-still-private";

/// One endpoint and the scope it needs.
struct Endpoint {
    method: Method,
    /// `{n}` is replaced by a counter, so each successful call has a fresh
    /// resource.
    uri: &'static str,
    body: Option<Value>,
    needs: usize,
}

fn endpoint(method: Method, uri: &'static str, body: Option<Value>, needs: usize) -> Endpoint {
    Endpoint {
        method,
        uri,
        body,
        needs,
    }
}

/// The scopes in order, with the name and secret of the token that has
/// exactly that scope.
const SCOPES: [(&str, &str, &str); 3] = [
    ("read", "reader", READ),
    ("write", "writer", WRITE),
    ("admin", "admin", ADMIN),
];

fn assert_no_secret(reply: &Reply) {
    for secret in SECRETS {
        assert!(
            !reply.text.contains(secret),
            "an error body shows a secret: {}",
            reply.text
        );
    }
}

fn endpoints() -> Vec<Endpoint> {
    let (read, write, admin) = (0, 1, 2);
    vec![
        endpoint(Method::GET, "/api/v1/health", None, read),
        endpoint(Method::GET, "/api/v1/health/detailed", None, read),
        endpoint(Method::GET, "/metrics", None, read),
        endpoint(Method::GET, "/api/coordination/metrics", None, read),
        endpoint(Method::GET, "/api/v1/leases", None, read),
        endpoint(Method::GET, "/api/v1/resources", None, read),
        endpoint(Method::GET, "/api/v1/resources/lock%3Aheld", None, read),
        endpoint(
            Method::GET,
            "/api/v1/resources/lock%3Aheld/queue",
            None,
            read,
        ),
        endpoint(Method::GET, "/api/v1/queue", None, read),
        endpoint(Method::GET, "/api/v1/operations", None, read),
        endpoint(Method::GET, "/api/coordination/operations", None, read),
        endpoint(Method::GET, "/api/v1/alerts", None, read),
        endpoint(Method::GET, "/api/v1/events", None, read),
        endpoint(
            Method::POST,
            "/api/v1/leases",
            Some(json!({"resource": "lock:fresh-{n}", "wait": "0"})),
            write,
        ),
        endpoint(
            Method::POST,
            "/api/v1/resources",
            Some(json!({"resource": "port:{n}", "capacity": 2})),
            write,
        ),
        endpoint(
            Method::POST,
            "/api/v1/operations",
            Some(json!({"type": "deployment", "resource": "lock:{n}"})),
            write,
        ),
        endpoint(Method::POST, "/api/v1/cleanup", None, admin),
        endpoint(Method::POST, "/api/coordination/cleanup", None, admin),
        endpoint(
            Method::POST,
            "/api/v1/resources/lock%3Aheld/force-release",
            Some(json!({"reason": "the runner is gone"})),
            admin,
        ),
    ]
}

async fn call(harness: &Harness, endpoint: &Endpoint, token: Option<&str>, n: usize) -> Reply {
    let uri = endpoint.uri.replace("{n}", &n.to_string());
    let body = endpoint
        .body
        .as_ref()
        .map(|b| serde_json::from_str(&b.to_string().replace("{n}", &n.to_string())).unwrap());
    harness
        .send(endpoint.method.clone(), &uri, token, body.as_ref())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_class_needs_its_scope() {
    let harness = Harness::new(|settings| settings.tokens = tokens()).await;
    let held = harness
        .send(
            Method::POST,
            "/api/v1/leases",
            Some(WRITE),
            Some(&json!({"resource": "lock:held"})),
        )
        .await;
    assert_eq!(held.status, 201, "{}", held.text);
    let mut n = 0;
    for endpoint in endpoints() {
        let what = format!("{} {}", endpoint.method, endpoint.uri);
        n += 1;
        let anonymous = call(&harness, &endpoint, None, n).await;
        let error = anonymous.error(401, "unauthorized");
        assert!(
            error["message"].as_str().unwrap().contains("Bearer"),
            "{what}: {error}"
        );
        assert!(
            anonymous
                .headers
                .get("content-type")
                .is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
            "{what}"
        );
        assert_no_secret(&anonymous);
        n += 1;
        let unknown = call(&harness, &endpoint, Some(BOGUS), n).await;
        unknown.error(401, "unauthorized");
        assert_no_secret(&unknown);
        for (index, (scope, name, secret)) in SCOPES.iter().enumerate() {
            n += 1;
            let reply = call(&harness, &endpoint, Some(secret), n).await;
            if index < endpoint.needs {
                let error = reply.error(403, "forbidden");
                let needed = SCOPES[endpoint.needs].0;
                assert_eq!(
                    error["message"],
                    format!("token `{name}` lacks the `{needed}` scope"),
                    "{what} with the {scope} token"
                );
                assert_no_secret(&reply);
            } else {
                assert!(
                    reply.status.is_success(),
                    "{what} with the {scope} token: {} {}",
                    reply.status,
                    reply.text
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_names_the_token_and_the_scope_not_the_secret() {
    let harness = Harness::new(|settings| settings.tokens = tokens()).await;
    let reply = harness
        .send(Method::POST, "/api/v1/cleanup", Some(WRITE), None)
        .await;
    let error = reply.error(403, "forbidden");
    assert_eq!(
        error["message"], "token `writer` lacks the `admin` scope",
        "{error}"
    );
    assert_no_secret(&reply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_resolutions_needs_admin_even_through_a_write_route() {
    let harness = Harness::new(|settings| settings.tokens = tokens()).await;
    for uri in [
        "/api/v1/analysis/resolve",
        "/api/coordination/resolve-conflicts",
    ] {
        let reply = harness
            .send(
                Method::POST,
                uri,
                Some(WRITE),
                Some(&json!({"dryRun": false})),
            )
            .await;
        reply.error(403, "forbidden");
        assert_no_secret(&reply);
        let reply = harness
            .send(Method::POST, uri, Some(READ), Some(&json!({})))
            .await;
        reply.error(403, "forbidden");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_schemes_and_malformed_headers_are_unauthorized() {
    let harness = Harness::new(|settings| settings.tokens = tokens()).await;
    for header in [
        format!("Basic {ADMIN}"),
        format!("Token {ADMIN}"),
        format!("Bearer{ADMIN}"),
        "Bearer ".to_owned(),
        ADMIN.to_owned(),
        format!("Bearer {ADMIN}x"),
        format!("Bearer {}", &ADMIN[..ADMIN.len() - 1]),
    ] {
        let request = Request::builder()
            .uri("/api/v1/leases")
            .header("authorization", &header)
            .body(Body::empty())
            .unwrap();
        let reply = harness.call(request).await;
        reply.error(401, "unauthorized");
        assert_no_secret(&reply);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let harness = Harness::new(|settings| settings.tokens = tokens()).await;
    let request = Request::builder()
        .uri("/api/v1/leases")
        .header("authorization", format!("bearer {READ}"))
        .body(Body::empty())
        .unwrap();
    let reply = harness.call(request).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_health_opens_health_and_metrics_only() {
    let harness = Harness::new(|settings| {
        settings.tokens = tokens();
        settings.open_health = true;
    })
    .await;
    for uri in [
        "/api/v1/health",
        "/api/v1/health/detailed",
        "/metrics",
        "/api/coordination/metrics",
        "/api/coordination/health/detailed",
    ] {
        let reply = harness.get(uri).await;
        assert_eq!(reply.status, 200, "{uri}: {}", reply.text);
    }
    assert_eq!(harness.get("/api/v1/health").await.json()["status"], "ok");
    for uri in [
        "/api/v1/leases",
        "/api/v1/resources",
        "/api/v1/queue",
        "/api/v1/operations",
        "/api/v1/events",
        "/api/coordination/operations",
    ] {
        let reply = harness.get(uri).await;
        reply.error(401, "unauthorized");
    }
    let write = harness
        .post("/api/v1/leases", &json!({"resource": "lock:x"}))
        .await;
    write.error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_everything_is_open() {
    let harness = Harness::new(|_| {}).await;
    let reply = harness
        .send(Method::POST, "/api/v1/cleanup", None, None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = harness
        .post("/api/v1/leases", &json!({"resource": "lock:x"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_off_loopback_needs_a_token() {
    let harness = Harness::new(|settings| settings.listen = "0.0.0.0:0".parse().unwrap()).await;
    let result = weft_server::serve(harness.state.clone(), async {}, |address| {
        panic!("listened on {address} without a token")
    })
    .await;
    assert!(
        matches!(result, Err(weft_server::ServeError::NoTokenOffLoopback(_))),
        "{result:?}"
    );
}
