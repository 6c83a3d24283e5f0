//! The dashboard's pages through the router: signing in, what a session
//! may do on the API, forms from another site, cached assets, and the
//! source view staying inside the model's files.

use axum::body::Body;
use axum::http::{Method, Request};

use crate::support::{ADMIN, Harness, READ, Reply, tokens};

const HOST: &str = "127.0.0.1:7700";
const ORIGIN: &str = "http://127.0.0.1:7700";

async fn with_tokens() -> Harness {
    Harness::new(|settings| settings.tokens = tokens()).await
}

fn form(uri: &str, body: &str, cookie: Option<&str>, origin: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("host", HOST)
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().uri(uri).header("host", HOST);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::empty()).unwrap()
}

/// Signs in with `secret`; answers the `name=value` cookie.
async fn sign_in(harness: &Harness, secret: &str) -> String {
    let reply = harness
        .call(form(
            "/login",
            &format!("token={secret}&next=/leases"),
            None,
            ORIGIN,
        ))
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(reply.headers["location"], "/leases");
    let cookie = reply.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

/// The hidden form key a page carries for its forms.
fn form_key(page: &Reply) -> String {
    let marker = "name=\"form_key\" value=\"";
    let start = page.text.find(marker).expect("a form key") + marker.len();
    page.text[start..start + 32].to_owned()
}

#[tokio::test]
async fn without_a_session_the_views_ask_for_a_token() {
    let harness = with_tokens().await;
    for view in [
        "/",
        "/services",
        "/leases",
        "/releases",
        "/alerts",
        "/health",
    ] {
        let reply = harness.call(get(view, None)).await;
        assert_eq!(reply.status, 303, "{view}");
        let location = reply.headers["location"].to_str().unwrap();
        assert!(location.starts_with("/login?next="), "{view}: {location}");
        let fragment = Request::builder()
            .uri(view)
            .header("x-weft-fragment", "1")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            harness.call(fragment).await.status,
            401,
            "{view} as a fragment"
        );
    }
    // An unknown token signs nobody in, and says so.
    let reply = harness
        .call(form("/login", "token=guess", None, ORIGIN))
        .await;
    assert_eq!(reply.status, 303);
    assert!(
        reply.headers["location"]
            .to_str()
            .unwrap()
            .contains("failed=1")
    );
    assert!(reply.headers.get("set-cookie").is_none());
    // A sign-in from another site sets no cookie.
    let reply = harness
        .call(form(
            "/login",
            &format!("token={READ}"),
            None,
            "http://evil.example",
        ))
        .await;
    assert_eq!(reply.status, 403);
    assert!(reply.headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn a_session_reads_the_api_but_changes_nothing_through_it() {
    let harness = with_tokens().await;
    let cookie = sign_in(&harness, ADMIN).await;
    // The page's event stream authenticates with the cookie.
    let stream = harness.call(get("/api/v1/events", Some(&cookie))).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        harness
            .call(get("/api/v1/leases", Some(&cookie)))
            .await
            .status,
        200
    );
    // Changing anything takes a bearer token, even for an admin session.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/leases")
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"resource": "lock:x"}"#))
        .unwrap();
    assert_eq!(harness.call(request).await.status, 401);
    // A made-up session is nobody.
    let stream = harness
        .call(get("/api/v1/events", Some("weft_session=forged")))
        .await;
    assert_eq!(stream.status, 401);
}

#[tokio::test]
async fn force_release_needs_admin_the_form_key_and_this_origin() {
    let harness = with_tokens().await;
    let coordinator = &harness.state.coordinator;
    let lease = coordinator
        .acquire(&weft_store::AcquireRequest {
            resource: weft_store::ResourceId::parse("lock:deploy").unwrap(),
            weight: 1,
            ttl_ms: Some(600_000),
            ..weft_store::AcquireRequest::default()
        })
        .await
        .unwrap();

    // A read session sees the holder and no form; posting anyway is refused.
    let reader = sign_in(&harness, READ).await;
    let page = harness.call(get("/leases", Some(&reader))).await;
    assert!(page.text.contains(&lease.id), "{}", page.text);
    assert!(!page.text.contains("force-release"), "{}", page.text);
    let key = form_key(&page);
    let reply = harness
        .call(form(
            "/leases/force-release",
            &format!("resource=lock:deploy&reason=r&form_key={key}"),
            Some(&reader),
            ORIGIN,
        ))
        .await;
    assert_eq!(reply.status, 403);

    let admin = sign_in(&harness, ADMIN).await;
    let page = harness.call(get("/leases", Some(&admin))).await;
    assert!(
        page.text.contains("form class=\"inline force-release\""),
        "{}",
        page.text
    );
    let key = form_key(&page);
    // From another site, or without the key: refused, the lease stays.
    for (origin, body) in [
        (
            "http://evil.example",
            format!("resource=lock:deploy&reason=r&form_key={key}"),
        ),
        (ORIGIN, "resource=lock:deploy&reason=r".to_owned()),
        (
            ORIGIN,
            "resource=lock:deploy&reason=r&form_key=0000".to_owned(),
        ),
    ] {
        let reply = harness
            .call(form("/leases/force-release", &body, Some(&admin), origin))
            .await;
        assert_eq!(reply.status, 403, "{origin} {body}");
    }
    assert_eq!(
        harness
            .state
            .coordinator
            .store()
            .leases()
            .await
            .unwrap()
            .len(),
        1
    );
    // With all three: released, and the reason is in the audit trail.
    let reply = harness
        .call(form(
            "/leases/force-release",
            &format!("resource=lock:deploy&reason=stuck+runner&form_key={key}"),
            Some(&admin),
            ORIGIN,
        ))
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(
        reply.headers["location"],
        "/leases?released=lock%3Adeploy&count=1"
    );
    assert!(
        harness
            .state
            .coordinator
            .store()
            .leases()
            .await
            .unwrap()
            .is_empty()
    );
    let events = harness
        .state
        .coordinator
        .store()
        .events_after(0, 100)
        .await
        .unwrap();
    let forced = events
        .iter()
        .find(|e| e.kind == "force_release")
        .expect("recorded");
    assert!(
        forced.data.to_string().contains("stuck runner"),
        "{}",
        forced.data
    );
    assert!(forced.data.to_string().contains("admin"), "{}", forced.data);

    // Signing out ends the session.
    let reply = harness
        .call(form(
            "/logout",
            &format!("form_key={key}"),
            Some(&admin),
            ORIGIN,
        ))
        .await;
    assert_eq!(reply.status, 303);
    assert_eq!(harness.call(get("/leases", Some(&admin))).await.status, 303);
}

#[tokio::test]
async fn assets_are_cached_by_digest() {
    let harness = Harness::new(|_| {}).await;
    let page = harness.call(get("/leases", None)).await;
    assert_eq!(page.status, 200);
    let start = page.text.find("/assets/dashboard.js?v=").unwrap();
    let url = &page.text[start..start + "/assets/dashboard.js?v=".len() + 16];
    let asset = harness.call(get(url, None)).await;
    assert_eq!(asset.status, 200);
    assert!(
        asset.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        asset.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = asset.headers["etag"].to_str().unwrap().to_owned();
    let again = Request::builder()
        .uri(url)
        .header("if-none-match", &etag)
        .body(Body::empty())
        .unwrap();
    let again = harness.call(again).await;
    assert_eq!(again.status, 304);
    assert!(again.text.is_empty());
    assert_eq!(
        harness.call(get("/assets/nothing.js", None)).await.status,
        404
    );
    // Pages are never cached, and allow nothing from elsewhere.
    assert_eq!(page.headers["cache-control"], "no-store");
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
}

#[tokio::test]
async fn the_source_view_shows_only_files_the_model_was_read_from() {
    let harness = Harness::new(|_| {}).await;
    let root = &harness.state.settings.workspace;
    fs_err::create_dir_all(root.join("api")).unwrap();
    fs_err::write(
        root.join("api/compose.yaml"),
        "services:\n  api:\n    image: api\n    depends_on: [db]\n  db:\n    image: postgres\n",
    )
    .unwrap();
    fs_err::write(root.join("api/secret.txt"), "hunter2\n").unwrap();
    // A repository that is a link to a directory outside the workspace:
    // the model reads it, the source view does not show it.
    let outside = tempfile::tempdir().unwrap();
    fs_err::write(
        outside.path().join("compose.yaml"),
        "services:\n  web:\n    image: web # hunter2\n    ports: [\"8080:80\"]\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("web")).unwrap();
    let page = harness.call(get("/source/api/compose.yaml", None)).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("id=\"L4\""), "{}", page.text);
    assert!(page.text.contains("depends_on"), "{}", page.text);
    let linked = harness.call(get("/source/web/compose.yaml", None)).await;
    assert!(!linked.text.contains("hunter2"), "{}", linked.text);
    assert!(
        linked.text.contains("is outside the workspace"),
        "{}",
        linked.text
    );
    for other in [
        "/source/api/secret.txt",
        "/source/api/../api/secret.txt",
        "/source/%2e%2e/etc/passwd",
    ] {
        let page = harness.call(get(other, None)).await;
        assert!(
            !page.text.contains("hunter2") && !page.text.contains("root:"),
            "{other}: {}",
            page.text
        );
        assert!(
            page.text
                .contains("not a file the workspace model was read from"),
            "{other}: {}",
            page.text
        );
    }
}

#[tokio::test]
async fn a_session_is_good_on_another_replica_and_after_a_restart() {
    let first = with_tokens().await;
    let cookie = sign_in(&first, READ).await;
    // Another server with the same tokens (a replica, or this one
    // restarted) reads the session; one whose token changed does not.
    let second = with_tokens().await;
    let page = second.call(get("/leases", Some(&cookie))).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("reader · read"), "{}", page.text);
    let rotated = Harness::new(|settings| {
        settings.tokens = tokens();
        settings.tokens[0].secret = "a-new-secret".to_owned();
    })
    .await;
    assert_eq!(
        rotated.call(get("/leases", Some(&cookie))).await.status,
        303
    );
}
