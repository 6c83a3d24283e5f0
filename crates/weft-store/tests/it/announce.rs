//! On PostgreSQL a batch of claims and releases tells every replica what it
//! granted and recorded with a `NOTIFY` delivered at its commit: what the
//! payload holds, and the overflow past PostgreSQL's 8000 bytes.

use std::time::Duration;

use sqlx::postgres::PgListener;
use weft_store::{AcquireRequest, Attempt, Holder, Lease, LeasePolicy, Mode, ResourceId, Store};

use crate::backends::{Backend, database};

const CHANNEL: &str = "weft_coordination";

fn claim(resource: &str, mode: Mode, wait_ms: i64, who: String) -> AcquireRequest {
    AcquireRequest {
        resource: ResourceId::parse(resource).expect("resource id"),
        mode,
        weight: 1,
        wait_ms: Some(wait_ms),
        capacity: Some(1_000),
        holder: Holder {
            run_id: Some(who),
            ..Holder::default()
        },
        ..AcquireRequest::default()
    }
}

/// The lease `claim` is granted at once.
async fn granted(store: &Store, claim: &AcquireRequest) -> Lease {
    match store.try_acquire(claim).await.expect("claim").value {
        Attempt::Granted(lease) => *lease,
        other => panic!("expected a grant, got {other:?}"),
    }
}

/// The next payload that `wanted` accepts, within 10 s.
async fn next_payload(
    listener: &mut PgListener,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let notification = tokio::time::timeout_at(deadline, listener.recv())
            .await
            .expect("the payload is announced")
            .expect("a notification");
        let payload: serde_json::Value =
            serde_json::from_str(notification.payload()).expect("a JSON payload");
        if wanted(&payload) {
            return payload;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_announces_its_grants_and_events() {
    let Some((url, _guard)) = database(Backend::Postgres, "announce") else {
        return;
    };
    let store = Store::open(&url, LeasePolicy::default())
        .await
        .expect("open store");
    let mut listener = PgListener::connect(&url).await.expect("connect");
    listener.listen(CHANNEL).await.expect("listen");

    // One waiter, queued with no wait attached in this process: its row
    // holds the grant, and the replicas are told to wake it.
    let resource = "lock:announce";
    let held = granted(&store, &claim(resource, Mode::Exclusive, 0, "a".to_owned())).await;
    let waiter = match store
        .try_acquire(&claim(resource, Mode::Exclusive, 60_000, "b".to_owned()))
        .await
        .expect("claim")
        .value
    {
        Attempt::Queued { waiter, .. } => waiter,
        other => panic!("expected to queue, got {other:?}"),
    };
    let released = store.release(&held.id).await.expect("release");
    let payload = next_payload(&mut listener, |p| {
        p["granted"].as_array().is_some_and(|g| !g.is_empty())
    })
    .await;
    assert_eq!(payload["granted"], serde_json::json!([waiter]));
    let ids: Vec<i64> = released.events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 2, "the release and the grant");
    assert_eq!(payload["events"], serde_json::json!(ids));
    assert_eq!(released.granted.len(), 1);

    // Too many grants to list in 8000 bytes: listeners look at everything.
    let wide = "lock:announce-wide";
    let blocker = granted(
        &store,
        &claim(wide, Mode::Exclusive, 0, "blocker".to_owned()),
    )
    .await;
    for n in 0..250 {
        let queued = store
            .try_acquire(&claim(wide, Mode::Shared, 60_000, format!("s{n}")))
            .await
            .expect("claim")
            .value;
        assert!(matches!(queued, Attempt::Queued { .. }), "{queued:?}");
    }
    let released = store.release(&blocker.id).await.expect("release");
    assert_eq!(released.granted.len(), 250, "one release grants them all");
    let payload = next_payload(&mut listener, |p| p["overflow"] == true).await;
    let origin = payload["origin"].clone();
    assert!(origin.is_i64(), "marked with the store's origin: {payload}");
    assert_eq!(
        payload,
        serde_json::json!({"overflow": true, "origin": origin})
    );
}
