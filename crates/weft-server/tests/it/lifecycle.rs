//! Leases over a real socket with the blocking client, from threads:
//! acquire, conflict, a long poll woken by a push on release, renew,
//! release, timeout, force-release, and a waiter that hangs up.

use std::net::Shutdown;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_client::{AcquireBody, Client, ClientError};

use crate::support::{
    ADMIN, EventStream, RawResponse, TestServer, WRITE, eventually, http, raw_request, tokens,
};

fn body(resource: &str, holder: &str, wait_ms: i64) -> AcquireBody {
    AcquireBody {
        resource: resource.to_owned(),
        wait_ms: Some(wait_ms),
        holder: json!({"repository": holder}),
        ..AcquireBody::default()
    }
}

/// The queue of `resource`, from `GET /api/v1/resources/{id}/queue`.
fn queue(client: &Client, resource: &str) -> Vec<Value> {
    let path = format!("/api/v1/resources/{}/queue", weft_client::encode(resource));
    client.get(&path).unwrap()["queue"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn api_error(error: ClientError) -> (u16, String, String, Value) {
    match error {
        ClientError::Api(failure) => (
            failure.status,
            failure.code,
            failure.message,
            failure.details,
        ),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn a_lease_is_granted_refused_pushed_to_a_waiter_renewed_and_released() {
    let server = TestServer::start(|settings| settings.tokens = tokens());
    let writer = server.client(Some(WRITE));
    let authorization = format!("Bearer {WRITE}");

    // The first claim on a new resource: 201, token 1.
    let (status, text) = http(
        server.address,
        "POST",
        "/api/v1/leases",
        &[("Authorization", &authorization)],
        Some(
            r#"{"resource": "lock:deploy", "wait": "0", "ttl": "1m", "holder": {"repository": "alice", "run_id": "7"}}"#,
        ),
    );
    assert_eq!(status, 201, "{text}");
    let alice: weft_client::Lease = serde_json::from_str(&text).unwrap();
    assert_eq!(alice.token, 1);
    assert_eq!(alice.resource, "lock:deploy");
    assert_eq!(alice.ttl_ms, 60_000);

    // A second claim that does not wait: 409 `conflict` naming the holder.
    let (status, code, message, details) =
        api_error(writer.acquire(&body("lock:deploy", "bob", 0)).unwrap_err());
    assert_eq!((status, code.as_str()), (409, "conflict"), "{message}");
    assert!(
        message.contains("alice") && message.contains("token 1"),
        "{message}"
    );
    assert_eq!(
        details["holders"][0]["holder"]["repository"], "alice",
        "{details}"
    );
    assert_eq!(details["holders"][0]["token"], 1, "{details}");
    assert_eq!(details["resource"], "lock:deploy");

    // A waiter blocks in a long poll, and is granted by a push as soon as
    // alice releases: well before the 2 s safety tick could find it.
    let waiting = {
        let client = server.client(Some(WRITE));
        std::thread::spawn(move || {
            let lease = client.acquire(&body("lock:deploy", "bob", 30_000));
            (lease, Instant::now())
        })
    };
    eventually("bob in the queue", Duration::from_secs(30), || {
        (queue(&writer, "lock:deploy").len() == 1).then_some(())
    });
    let released_at = Instant::now();
    let released = writer.release(&alice.id).unwrap();
    assert_eq!(released.id, alice.id);
    let (bob, granted_at) = waiting.join().unwrap();
    let bob = bob.unwrap();
    let latency = granted_at.duration_since(released_at);
    assert!(
        latency < Duration::from_millis(1500),
        "the waiter was granted {latency:?} after the release: polled, not pushed"
    );
    assert_eq!(bob.token, 2);
    assert_eq!(bob.holder["repository"], "bob");
    assert!(queue(&writer, "lock:deploy").is_empty());

    // Renew: same lease, same token, a later expiry.
    let renewed = writer.renew(&bob.id, Some(1_800_000)).unwrap();
    assert_eq!((renewed.id.as_str(), renewed.token), (bob.id.as_str(), 2));
    assert_eq!(renewed.ttl_ms, 1_800_000);
    assert!(
        renewed.expires_at > bob.expires_at,
        "{renewed:?} vs {bob:?}"
    );
    let shown = writer.get(&format!("/api/v1/leases/{}", bob.id)).unwrap();
    assert_eq!(shown["expires_at"], renewed.expires_at.as_str());

    // Release: the lease is gone. A second release (as after a lost answer)
    // gets the same answer and changes nothing; an unknown lease is a 404.
    let released = writer.release(&bob.id).unwrap();
    assert!(writer.leases().unwrap().is_empty());
    assert_eq!(writer.release(&bob.id).unwrap(), released);
    assert!(writer.leases().unwrap().is_empty());
    let (status, code, _, _) = api_error(
        writer
            .release("5f0c6a52-4d7e-4a8e-9d55-1f1b0c1e2d3a")
            .unwrap_err(),
    );
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, _, _, _) = api_error(writer.renew(&bob.id, None).unwrap_err());
    assert_eq!(status, 404);

    // Tokens keep increasing on the resource.
    let carol = writer.acquire(&body("lock:deploy", "carol", 0)).unwrap();
    assert_eq!(carol.token, 3);
    writer.release(&carol.id).unwrap();
}

#[test]
fn a_wait_that_runs_out_is_a_timeout_naming_the_holder() {
    let server = TestServer::start(|_| {});
    let client = server.client(None);
    let dave = client.acquire(&body("port:8080", "dave", 0)).unwrap();
    let started = Instant::now();
    let error = client.acquire(&body("port:8080", "eve", 300)).unwrap_err();
    let waited = started.elapsed();
    assert!(error.is_taken(), "{error:?}");
    let (status, code, message, details) = api_error(error);
    assert_eq!((status, code.as_str()), (409, "timeout"), "{message}");
    assert!(message.contains("dave"), "{message}");
    assert!(message.contains("port:8080"), "{message}");
    assert_eq!(
        details["holders"][0]["holder"]["repository"], "dave",
        "{details}"
    );
    assert_eq!(details["holders"][0]["id"], dave.id.as_str());
    assert!(details["waited_ms"].as_i64().unwrap() >= 300, "{details}");
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    // The waiter left the queue; dave still holds.
    assert!(queue(&client, "port:8080").is_empty());
    assert_eq!(client.leases().unwrap().len(), 1);
    let metrics = http(server.address, "GET", "/metrics", &[], None).1;
    assert!(metrics.contains("weft_wait_timeouts_total 1"), "{metrics}");
}

#[test]
fn force_release_needs_admin_and_is_recorded_with_its_reason() {
    let server = TestServer::start(|settings| settings.tokens = tokens());
    let writer = server.client(Some(WRITE));
    let admin = server.client(Some(ADMIN));
    let held = writer
        .acquire(&body("branch:origin/main", "frank", 0))
        .unwrap();

    let (status, code, _, _) = api_error(
        writer
            .force_release("branch:origin/main", "mine now")
            .unwrap_err(),
    );
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert_eq!(writer.leases().unwrap().len(), 1);

    // A waiter is granted by the force-release.
    let waiting = {
        let client = server.client(Some(WRITE));
        std::thread::spawn(move || {
            client
                .acquire(&body("branch:origin/main", "grace", 30_000))
                .unwrap()
        })
    };
    eventually("grace in the queue", Duration::from_secs(30), || {
        (queue(&writer, "branch:origin/main").len() == 1).then_some(())
    });
    let answer = admin
        .force_release("branch:origin/main", "runner 12 died holding it")
        .unwrap();
    assert_eq!(answer["resource"], "branch:origin/main");
    assert_eq!(answer["released"][0]["id"], held.id.as_str(), "{answer}");
    let grace = waiting.join().unwrap();
    assert_eq!(grace.token, held.token + 1);

    // The old lease is void: renewing or releasing it is a 404.
    let (status, _, _, _) = api_error(writer.renew(&held.id, None).unwrap_err());
    assert_eq!(status, 404);

    // The audit trail: an event with the reason and who did it, and an
    // operation.
    let mut events = EventStream::open(server.address, Some(0), Some(ADMIN));
    let frames = events.until("force_release", Duration::from_secs(30));
    let forced = frames.last().unwrap();
    assert_eq!(
        forced.data["resource"], "branch:origin/main",
        "{:?}",
        forced
    );
    assert_eq!(
        forced.data["data"]["reason"], "runner 12 died holding it",
        "{:?}",
        forced
    );
    assert_eq!(forced.data["data"]["actor"], "admin", "{:?}", forced);
    assert_eq!(forced.data["data"]["leases"][0]["lease"], held.id.as_str());
    let operations = admin.get("/api/v1/operations?type=force_release").unwrap();
    let operation = &operations["operations"][0];
    assert_eq!(operation["status"], "succeeded", "{operations}");
    assert_eq!(operation["result"]["reason"], "runner 12 died holding it");
    writer.release(&grace.id).unwrap();
}

#[test]
fn a_waiter_that_hangs_up_leaves_the_queue() {
    let server = TestServer::start(|_| {});
    let client = server.client(None);
    let holder = client
        .acquire(&body("lock:shared-runner", "henry", 0))
        .unwrap();

    let stream = raw_request(
        server.address,
        "POST",
        "/api/v1/leases",
        &[],
        Some(
            r#"{"resource": "lock:shared-runner", "wait": "60s", "holder": {"repository": "ivy"}}"#,
        ),
    );
    let waiting = |client: &Client| {
        client
            .queues()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .any(|resource| {
                resource["queue"]
                    .as_array()
                    .is_some_and(|q| q.iter().any(|w| w["holder"]["repository"] == "ivy"))
            })
    };
    eventually("ivy in the queue", Duration::from_secs(30), || {
        waiting(&client).then_some(())
    });

    // Hang up without reading the answer.
    stream.shutdown(Shutdown::Both).unwrap();
    drop(stream);
    eventually("ivy to leave the queue", Duration::from_secs(10), || {
        (!waiting(&client)).then_some(())
    });
    let operations = client
        .get("/api/v1/operations?type=claim&status=conflict")
        .unwrap();
    assert!(
        operations["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["holder"]["repository"] == "ivy" && o["error"] == "waiter went away"),
        "{operations}"
    );

    // The release grants nobody: the departed waiter gets no lease.
    client.release(&holder.id).unwrap();
    assert!(client.leases().unwrap().is_empty());
    let next = client
        .acquire(&body("lock:shared-runner", "jack", 0))
        .unwrap();
    assert_eq!(next.token, holder.token + 1);
}

#[test]
fn a_granted_long_poll_answers_201_on_the_wire() {
    let server = TestServer::start(|_| {});
    let client = server.client(None);
    let holder = client.acquire(&body("lock:wire", "kate", 0)).unwrap();
    let stream = raw_request(
        server.address,
        "POST",
        "/api/v1/leases",
        &[],
        Some(r#"{"resource": "lock:wire", "wait": "60s", "holder": {"repository": "liam"}}"#),
    );
    eventually("liam in the queue", Duration::from_secs(30), || {
        (queue(&client, "lock:wire").len() == 1).then_some(())
    });
    client.release(&holder.id).unwrap();
    let response = RawResponse::read_head(stream);
    assert_eq!(response.status, 201);
    let lease: Value = serde_json::from_str(&response.body()).unwrap();
    assert_eq!(lease["holder"]["repository"], "liam");
    assert_eq!(lease["token"], holder.token + 1);
}

#[test]
fn a_graceful_shutdown_takes_waiters_out_of_the_queue() {
    let server = TestServer::start(|_| {});
    let client = server.client(None);
    client.acquire(&body("lock:draining", "mia", 0)).unwrap();
    let stream = raw_request(
        server.address,
        "POST",
        "/api/v1/leases",
        &[],
        Some(r#"{"resource": "lock:draining", "wait": "10m", "holder": {"repository": "noah"}}"#),
    );
    eventually("noah in the queue", Duration::from_secs(30), || {
        (queue(&client, "lock:draining").len() == 1).then_some(())
    });
    // The long poll is still open while the server shuts down.
    let directory = server.stop();
    drop(stream);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stats = runtime.block_on(async {
        let store = crate::support::open_store(directory.path()).await;
        store.stats().await.unwrap()
    });
    assert_eq!(stats.leases, 1, "{stats:?}");
    assert_eq!(
        stats.waiters, 0,
        "a waiter outlived the server that served it: {stats:?}"
    );
}
