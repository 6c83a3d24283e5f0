//! Claims, the queue, expiry, capacity, priorities and bad input.

use std::time::{Duration, Instant};

use weft_store::{
    AcquireError, AcquireRequest, Attempt, Holder, LeasePolicy, Mode, ResourceId, Store,
    StoreError, WaitState,
};

use crate::backends::{Backend, coordinator, store};
use crate::on_both_backends;

fn holder(name: &str) -> Holder {
    Holder {
        repository: Some(format!("acme/{name}")),
        workflow: Some("deploy".to_owned()),
        run_id: Some(name.to_owned()),
        ..Holder::default()
    }
}

/// Waits (up to 10 s) until `resource` has at least `length` waiters.
async fn until_queued(store: &Store, resource: &ResourceId, length: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.resource(resource).await.expect("view").queue.len() < length {
        assert!(
            Instant::now() < deadline,
            "{resource} never had {length} waiters"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn request(resource: &str, who: &str) -> AcquireRequest {
    AcquireRequest {
        resource: ResourceId::parse(resource).expect("resource id"),
        weight: 1,
        holder: holder(who),
        wait_ms: Some(0),
        ..AcquireRequest::default()
    }
}

async fn exclusive_grant_conflict_release(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let first = match store
        .try_acquire(&request("branch:origin/main", "a"))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    assert_eq!(first.token, 1);
    match store
        .try_acquire(&request("branch:origin/main", "b"))
        .await
        .expect("claim")
        .value
    {
        Attempt::Conflict { holders, .. } => {
            assert_eq!(holders.len(), 1);
            assert_eq!(holders[0].holder.run_id.as_deref(), Some("a"));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    store.release(&first.id).await.expect("release");
    let second = match store
        .try_acquire(&request("branch:origin/main", "b"))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    assert_eq!(second.token, 2, "tokens strictly increase per resource");
    // A second resource has its own tokens.
    match store
        .try_acquire(&request("port:8080", "c"))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => assert_eq!(lease.token, 1),
        other => panic!("expected a grant, got {other:?}"),
    }
    // Released twice (a release asked again): the same answer, and it
    // changes nothing.
    let again = store.release(&first.id).await.expect("release asked again");
    assert_eq!(again.value.lease.id, first.id);
    assert!(again.events.is_empty(), "{:?}", again.events);
    let view = store
        .resource(&ResourceId::parse("branch:origin/main").expect("id"))
        .await
        .expect("view");
    assert_eq!(view.holders.len(), 1);
    assert_eq!(view.resource.fence, 2);
}
on_both_backends!(grant_conflict_release, exclusive_grant_conflict_release);

async fn waiter_is_woken(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store).await;
    let mut events = coordinator.subscribe();
    let held = coordinator
        .acquire(&request("env:staging", "a"))
        .await
        .expect("grant");
    let waiting = {
        let coordinator = coordinator.clone();
        tokio::spawn(async move {
            let mut wait = request("env:staging", "b");
            wait.wait_ms = Some(60_000);
            let lease = coordinator.acquire(&wait).await;
            (lease, Instant::now())
        })
    };
    // Wait until b is queued.
    let resource = ResourceId::parse("env:staging").expect("id");
    until_queued(coordinator.store(), &resource, 1).await;
    let released_at = Instant::now();
    coordinator.release(&held.id).await.expect("release");
    let (lease, granted_at) = waiting.await.expect("join");
    let lease = lease.expect("b is granted");
    assert_eq!(lease.token, held.token + 1);
    // The safety-net tick is 2 s: a grant well before it was pushed.
    let latency = granted_at - released_at;
    assert!(
        latency < Duration::from_millis(1500),
        "woken after {latency:?}"
    );
    // The changes reach the event stream, in order (on PostgreSQL through
    // the NOTIFY every replica hears, this one included).
    let mut kinds = Vec::new();
    while kinds.len() < 4 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("the events are published")
            .expect("event");
        if event.resource.as_deref() == Some("env:staging") {
            kinds.push(event.kind);
        }
    }
    assert_eq!(kinds, ["grant", "queued", "release", "grant"]);
    coordinator.shutdown();
}
on_both_backends!(wake_without_polling, waiter_is_woken);

async fn expiry_reaps_and_grants(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store).await;
    let mut short = request("volume:pgdata", "crashed");
    short.ttl_ms = Some(300);
    let stale = coordinator.acquire(&short).await.expect("grant");
    let mut wait = request("volume:pgdata", "next");
    wait.wait_ms = Some(30_000);
    // Nobody releases: the reaper must expire the lease and grant `next`.
    let lease = tokio::time::timeout(Duration::from_secs(10), coordinator.acquire(&wait))
        .await
        .expect("granted before the test's deadline")
        .expect("grant");
    assert!(lease.token > stale.token);
    assert_eq!(lease.holder.run_id.as_deref(), Some("next"));
    // The old holder is fenced: renewing or releasing says it expired.
    assert!(matches!(
        coordinator.renew(&stale.id, None).await,
        Err(StoreError::UnknownLease(_) | StoreError::LeaseExpired { .. })
    ));
    let events = coordinator
        .store()
        .events_after(0, 1000)
        .await
        .expect("events");
    assert!(events.iter().any(|e| e.kind == "expire"
        && e.data.get("lease").and_then(|l| l.as_str()) == Some(stale.id.as_str())));
    coordinator.shutdown();
}
on_both_backends!(expiry, expiry_reaps_and_grants);

async fn renew_extends(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let mut claim = request("lock:renewed", "a");
    claim.ttl_ms = Some(400);
    let lease = match store.try_acquire(&claim).await.expect("claim").value {
        Attempt::Granted(lease) => lease,
        other => panic!("{other:?}"),
    };
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let renewed = store.renew(&lease.id, None).await.expect("renew").value;
        assert_eq!(renewed.token, lease.token);
    }
    // 800 ms after a 400 ms TTL, still held.
    assert_eq!(store.leases().await.expect("leases").len(), 1);
    let view = store.resource(&claim.resource).await.expect("view");
    assert_eq!(view.holders[0].id, lease.id);
}
on_both_backends!(renew, renew_extends);

async fn priority_then_arrival(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store).await;
    let held = coordinator
        .acquire(&request("branch:main", "holder"))
        .await
        .expect("grant");
    let mut handles = Vec::new();
    // Arrival order: default, high, refresh, high2; grant order must be
    // high, high2 (100, by arrival), refresh (40), default (20).
    for (who, class) in [
        ("default", "default"),
        ("high", "cv-enhancement"),
        ("refresh", "watch-me-work-refresh"),
        ("high2", "cv-enhancement"),
    ] {
        let client = coordinator.clone();
        let mut wait = request("branch:main", who);
        wait.wait_ms = Some(60_000);
        wait.class = Some(class.to_owned());
        handles.push(tokio::spawn(async move {
            let coordinator = client;
            let lease = coordinator.acquire(&wait).await.expect("grant");
            // Hold briefly, then pass it on.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let token = lease.token;
            coordinator.release(&lease.id).await.expect("release");
            (lease.holder.run_id.unwrap_or_default(), token)
        }));
        // Distinct arrival times.
        let resource = ResourceId::parse("branch:main").expect("id");
        until_queued(coordinator.store(), &resource, handles.len()).await;
    }
    let queue = coordinator
        .store()
        .resource(&ResourceId::parse("branch:main").expect("id"))
        .await
        .expect("view")
        .queue;
    let order: Vec<_> = queue
        .iter()
        .map(|e| e.holder.run_id.clone().unwrap_or_default())
        .collect();
    assert_eq!(order, ["high", "high2", "refresh", "default"]);
    assert_eq!(
        queue.iter().map(|e| e.position).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    coordinator.release(&held.id).await.expect("release");
    let mut granted = Vec::new();
    for handle in handles {
        granted.push(handle.await.expect("join"));
    }
    granted.sort_by_key(|(_, token)| *token);
    let order: Vec<_> = granted.into_iter().map(|(who, _)| who).collect();
    assert_eq!(order, ["high", "high2", "refresh", "default"]);
    coordinator.shutdown();
}
on_both_backends!(priority, priority_then_arrival);

async fn aging_lifts_old_waiters(backend: Backend, test: &str) {
    let policy = LeasePolicy {
        aging_interval_ms: 100,
        aging_step: 50,
        ..LeasePolicy::default()
    };
    let Some((store, _guard)) = store(backend, test, policy).await else {
        return;
    };
    let held = store
        .try_acquire(&request("lock:aging", "holder"))
        .await
        .expect("claim");
    assert!(matches!(held.value, Attempt::Granted(_)));
    let mut low = request("lock:aging", "old-low");
    low.wait_ms = Some(60_000);
    low.priority = Some(0);
    assert!(matches!(
        store.try_acquire(&low).await.expect("queue").value,
        Attempt::Queued { .. }
    ));
    // 300 ms of waiting earns 150: more than a fresh 100.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let mut high = request("lock:aging", "new-high");
    high.wait_ms = Some(60_000);
    high.priority = Some(100);
    assert!(matches!(
        store.try_acquire(&high).await.expect("queue").value,
        Attempt::Queued { .. }
    ));
    let queue = store.resource(&low.resource).await.expect("view").queue;
    assert_eq!(
        queue[0].holder.run_id.as_deref(),
        Some("old-low"),
        "{queue:?}"
    );
    assert!(queue[0].effective_priority > queue[1].effective_priority);
}
on_both_backends!(aging, aging_lifts_old_waiters);

async fn shared_weights_and_capacity(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let resource = ResourceId::parse("environment:staging").expect("id");
    store
        .register_resource(
            &resource,
            Some(3),
            Some(serde_json::json!({"owner": "platform"})),
        )
        .await
        .expect("register");
    let shared = |who: &str, weight: i64| AcquireRequest {
        mode: Mode::Shared,
        weight,
        ..request("environment:staging", who)
    };
    let a = store.try_acquire(&shared("a", 2)).await.expect("a").value;
    let b = store.try_acquire(&shared("b", 1)).await.expect("b").value;
    let (Attempt::Granted(a), Attempt::Granted(_b)) = (a, b) else {
        panic!("both fit in 3");
    };
    assert!(matches!(
        store.try_acquire(&shared("c", 1)).await.expect("c").value,
        Attempt::Conflict { .. }
    ));
    // An exclusive waiter queues; a shared request behind it waits too,
    // though it would fit once a is gone: no starving the big request.
    let mut exclusive = request("environment:staging", "x");
    exclusive.wait_ms = Some(60_000);
    assert!(matches!(
        store.try_acquire(&exclusive).await.expect("x").value,
        Attempt::Queued { .. }
    ));
    let mut small = shared("d", 1);
    small.wait_ms = Some(60_000);
    store.release(&a.id).await.expect("release a");
    assert!(matches!(
        store.try_acquire(&small).await.expect("d").value,
        Attempt::Queued { .. }
    ));
    let view = store.resource(&resource).await.expect("view");
    assert_eq!(view.used, 1);
    assert_eq!(view.resource.capacity, 3);
    assert_eq!(view.resource.metadata["owner"], "platform");
    assert_eq!(view.queue.len(), 2);
    // A weight over the capacity is bad input.
    assert!(matches!(
        store.try_acquire(&shared("huge", 4)).await,
        Err(StoreError::Invalid {
            field: "weight",
            ..
        })
    ));
}
on_both_backends!(capacity, shared_weights_and_capacity);

async fn timeout_names_the_holder(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store).await;
    let _held = coordinator
        .acquire(&request("domain:shop.example.com", "blocker"))
        .await
        .expect("grant");
    let mut wait = request("domain:shop.example.com", "late");
    wait.wait_ms = Some(300);
    match coordinator.acquire(&wait).await {
        Err(error @ AcquireError::Timeout { .. }) => {
            let message = error.to_string();
            assert!(message.contains("acme/blocker"), "{message}");
            assert!(message.contains("timed out"), "{message}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The waiter left the queue.
    let view = coordinator
        .store()
        .resource(&wait.resource)
        .await
        .expect("view");
    assert!(view.queue.is_empty());
    let operations = coordinator
        .store()
        .operations(&weft_store::OperationFilter::default())
        .await
        .expect("operations");
    assert!(operations.iter().any(|o| o.kind == "claim"
        && o.status == weft_store::OperationStatus::Conflict
        && o.error.as_deref() == Some("wait timed out")));
    coordinator.shutdown();
}
on_both_backends!(timeout, timeout_names_the_holder);

async fn dropped_waiter_leaves_queue(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store).await;
    let held = coordinator
        .acquire(&request("lock:drop", "holder"))
        .await
        .expect("grant");
    let mut wait = request("lock:drop", "impatient");
    wait.wait_ms = Some(60_000);
    // The client goes away after 200 ms.
    let result = tokio::time::timeout(Duration::from_millis(200), coordinator.acquire(&wait)).await;
    assert!(result.is_err());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let view = coordinator
            .store()
            .resource(&wait.resource)
            .await
            .expect("view");
        if view.queue.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned waiter stayed queued"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Release: nobody is granted, as nobody waits.
    coordinator.release(&held.id).await.expect("release");
    assert!(
        coordinator
            .store()
            .leases()
            .await
            .expect("leases")
            .is_empty()
    );
    coordinator.shutdown();
}
on_both_backends!(dropped_waiter, dropped_waiter_leaves_queue);

async fn bad_input_changes_nothing(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let before = store.stats().await.expect("stats");
    let cases: Vec<(AcquireRequest, &str)> = vec![
        (
            AcquireRequest {
                ttl_ms: Some(-5),
                ..request("lock:x", "a")
            },
            "ttl",
        ),
        (
            AcquireRequest {
                ttl_ms: Some(0),
                ..request("lock:x", "a")
            },
            "ttl",
        ),
        (
            AcquireRequest {
                ttl_ms: Some(i64::MAX),
                ..request("lock:x", "a")
            },
            "ttl",
        ),
        (
            AcquireRequest {
                wait_ms: Some(-1),
                ..request("lock:x", "a")
            },
            "wait",
        ),
        (
            AcquireRequest {
                weight: 0,
                ..request("lock:x", "a")
            },
            "weight",
        ),
        (
            AcquireRequest {
                weight: 2,
                ..request("lock:x", "a")
            },
            "weight",
        ),
        (
            AcquireRequest {
                class: Some("nope".into()),
                ..request("lock:x", "a")
            },
            "class",
        ),
        (
            AcquireRequest {
                class: Some("default".into()),
                priority: Some(1),
                ..request("lock:x", "a")
            },
            "priority",
        ),
        (
            AcquireRequest {
                capacity: Some(0),
                ..request("lock:x", "a")
            },
            "capacity",
        ),
    ];
    for (bad, what) in cases {
        let error = store.try_acquire(&bad).await.expect_err(what);
        assert!(error.is_input(), "{what}: {error}");
    }
    assert!(ResourceId::parse("bad type:x").is_err());
    assert!(ResourceId::parse("port:").is_err());
    assert!(matches!(
        store.renew("no-such-lease", None).await,
        Err(StoreError::UnknownLease(_))
    ));
    assert!(matches!(
        store
            .force_release(&ResourceId::parse("lock:x").expect("id"), "  ", "admin")
            .await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        store.stats().await.expect("stats"),
        before,
        "bad input changed the store"
    );
}
on_both_backends!(bad_input, bad_input_changes_nothing);

async fn force_release_is_audited(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store).await;
    let stuck = coordinator
        .acquire(&request("branch:release", "stuck"))
        .await
        .expect("grant");
    let waiting = {
        let coordinator = coordinator.clone();
        tokio::spawn(async move {
            let mut wait = request("branch:release", "next");
            wait.wait_ms = Some(60_000);
            coordinator.acquire(&wait).await
        })
    };
    let resource = ResourceId::parse("branch:release").expect("id");
    until_queued(coordinator.store(), &resource, 1).await;
    let forced = coordinator
        .force_release(&resource, "runner died during deploy", "ops@example.com")
        .await
        .expect("force");
    assert_eq!(forced.released.len(), 1);
    let next = waiting
        .await
        .expect("join")
        .expect("granted after the force-release");
    assert!(next.token > stuck.token);
    let events = coordinator
        .store()
        .events_after(0, 1000)
        .await
        .expect("events");
    let audit = events
        .iter()
        .find(|e| e.kind == "force_release")
        .expect("audit event");
    assert_eq!(audit.data["reason"], "runner died during deploy");
    assert_eq!(audit.data["actor"], "ops@example.com");
    assert_eq!(audit.data["leases"][0]["lease"], stuck.id.as_str());
    coordinator.shutdown();
}
on_both_backends!(force_release, force_release_is_audited);

/// A claim asked again with its request id (its connection was cut, or its
/// answer lost) takes back its place in the queue, its grant, or its lease;
/// nobody else can use the id.
async fn claim_asked_again_keeps_its_place(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let resource = "branch:origin/main";
    let id = "6f1c2a0e-8a4b-4c1e-9d2f-0b5a7c3e1d42";
    let waiting = |who: &str, request_id: Option<&str>| AcquireRequest {
        wait_ms: Some(60_000),
        request: request_id.map(str::to_owned),
        ..request(resource, who)
    };
    let queued = |attempt: Attempt| match attempt {
        Attempt::Queued {
            waiter, position, ..
        } => (waiter, position),
        other => panic!("expected to queue, got {other:?}"),
    };
    let held = match store
        .try_acquire(&request(resource, "a"))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    // b queues first, with its id in any case; c after it.
    let b = store
        .try_acquire(&waiting("b", Some(&id.to_uppercase())))
        .await
        .expect("claim");
    assert_eq!(queued(b.value), (id.to_owned(), 1));
    let c = store.try_acquire(&waiting("c", None)).await.expect("claim");
    let (c_waiter, c_position) = queued(c.value);
    assert_eq!(c_position, 2);
    // b asks again: the same place, not behind c.
    let again = store
        .try_acquire(&waiting("b", Some(id)))
        .await
        .expect("claim");
    assert_eq!(queued(again.value), (id.to_owned(), 1));
    // Nobody else can take b's id, and an id is a UUID.
    for bad in [waiting("c", Some(id)), waiting("b", Some("retry-1"))] {
        assert!(
            matches!(
                store.try_acquire(&bad).await,
                Err(StoreError::Invalid {
                    field: "request",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    // a releases: b is granted, not c, and its grant waits for it.
    store.release(&held.id).await.expect("release");
    let again = store
        .try_acquire(&waiting("b", Some(id)))
        .await
        .expect("claim");
    assert_eq!(queued(again.value).0, id);
    let lease = match store.collect(id).await.expect("collect") {
        WaitState::Granted(lease) => lease,
        other => panic!("expected b's grant, got {other:?}"),
    };
    assert_eq!(
        (lease.id.as_str(), lease.holder.run_id.as_deref()),
        (id, Some("b"))
    );
    // The answer was lost: asked once more, b gets the same lease, not a second.
    match store
        .try_acquire(&waiting("b", Some(id)))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(again) => {
            assert_eq!((again.id, again.token), (lease.id.clone(), lease.token))
        }
        other => panic!("expected b's lease again, got {other:?}"),
    }
    assert!(matches!(
        store.collect(&c_waiter).await.expect("collect"),
        WaitState::Waiting
    ));
    // Granted at once: the lease takes the request's id, and asked again is
    // the same lease.
    let at_once = "0b5a7c3e-1d42-4c1e-9d2f-6f1c2a0e8a4b";
    let first = AcquireRequest {
        request: Some(at_once.to_owned()),
        ..request("port:8080", "d")
    };
    let mut tokens = Vec::new();
    for _ in 0..2 {
        match store.try_acquire(&first).await.expect("claim").value {
            Attempt::Granted(lease) => {
                assert_eq!(lease.id, at_once);
                tokens.push(lease.token);
            }
            other => panic!("expected a grant, got {other:?}"),
        }
    }
    assert_eq!(tokens, [1, 1]);
}

on_both_backends!(asked_again, claim_asked_again_keeps_its_place);

/// Two waits on one request id at once (the client asked again while its
/// first connection was still open): both answer with the claim's one lease,
/// neither times out, and the place is one.
async fn two_waits_on_one_request_id_share_the_lease(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store.clone()).await;
    let resource = "branch:origin/main";
    let held = coordinator
        .acquire(&request(resource, "a"))
        .await
        .expect("claim");
    let claim = AcquireRequest {
        wait_ms: Some(30_000),
        request: Some("9d2f6f1c-2a0e-4c1e-8a4b-0b5a7c3e1d42".to_owned()),
        ..request(resource, "b")
    };
    let first = tokio::spawn({
        let coordinator = coordinator.clone();
        let claim = claim.clone();
        async move { coordinator.acquire(&claim).await }
    });
    until_queued(&store, &claim.resource, 1).await;
    let second = tokio::spawn({
        let coordinator = coordinator.clone();
        let claim = claim.clone();
        async move { coordinator.acquire(&claim).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let view = store.resource(&claim.resource).await.expect("view");
    assert_eq!(view.queue.len(), 1, "one place: {:?}", view.queue);
    coordinator.release(&held.id).await.expect("release");
    let first = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first wait answers")
        .expect("join")
        .expect("the first wait gets the lease");
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second wait answers")
        .expect("join")
        .expect("the second wait gets the lease");
    assert_eq!((&first.id, first.token), (&second.id, second.token));
    assert_eq!(first.id, "9d2f6f1c-2a0e-4c1e-8a4b-0b5a7c3e1d42");
}

on_both_backends!(
    two_waits_one_request,
    two_waits_on_one_request_id_share_the_lease
);

/// Claims and releases that arrive while a transaction is running share the
/// next one (group commit), and each is still decided on its own: a claim
/// refused for its input, or a release of an unknown lease, changes nothing
/// for the others in its batch.
async fn arrivals_share_a_transaction(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let held = match store
        .try_acquire(&request("lock:held", "owner"))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    // Another connection holds the write lock (SQLite) or the resources
    // table (PostgreSQL): the next batch waits for it, and everything that
    // arrives meanwhile queues for the batch after.
    let mut blocker = {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(store.url())
            .await
            .expect("connect")
    };
    let lock = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN; LOCK TABLE resources IN EXCLUSIVE MODE",
    };
    sqlx::raw_sql(lock)
        .execute(&mut blocker)
        .await
        .expect("lock");
    let first = tokio::spawn({
        let store = store.clone();
        async move { store.try_acquire(&request("lock:first", "first")).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    // Taken from the queue, and blocked.
    while !(store.batch_stats().running && store.batch_stats().waiting == 0) {
        assert!(Instant::now() < deadline, "the first batch never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut claims = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        claims.push(tokio::spawn(async move {
            store
                .try_acquire(&request("lock:shared", &format!("c{i}")))
                .await
        }));
    }
    for i in 0..8 {
        let store = store.clone();
        claims.push(tokio::spawn(async move {
            store
                .try_acquire(&request(&format!("lock:own-{i}"), &format!("o{i}")))
                .await
        }));
    }
    let too_heavy = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .try_acquire(&AcquireRequest {
                    mode: Mode::Shared,
                    weight: 3,
                    capacity: Some(2),
                    ..request("pool:runners", "heavy")
                })
                .await
        }
    });
    let release = tokio::spawn({
        let store = store.clone();
        let id = held.id.clone();
        async move { store.release(&id).await }
    });
    let unknown = tokio::spawn({
        let store = store.clone();
        async move { store.release("no-such-lease").await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.batch_stats().waiting < 19 {
        assert!(Instant::now() < deadline, "the claims never queued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sqlx::raw_sql("COMMIT")
        .execute(&mut blocker)
        .await
        .expect("unlock");

    assert!(matches!(
        first.await.expect("join").expect("claim").value,
        Attempt::Granted(_)
    ));
    let mut shared = Vec::new();
    for (index, claim) in claims.into_iter().enumerate() {
        let attempt = claim.await.expect("join").expect("claim").value;
        if index < 8 {
            shared.push(attempt);
        } else {
            match attempt {
                Attempt::Granted(lease) => assert_eq!(lease.token, 1),
                other => panic!("expected a grant, got {other:?}"),
            }
        }
    }
    // One of the eight in the same batch is granted, the others refused.
    let granted: Vec<_> = shared
        .iter()
        .filter_map(|a| match a {
            Attempt::Granted(lease) => Some(lease),
            _ => None,
        })
        .collect();
    assert_eq!(granted.len(), 1, "{shared:?}");
    assert_eq!(granted[0].token, 1);
    assert_eq!(
        shared
            .iter()
            .filter(|a| matches!(a, Attempt::Conflict { holders, .. } if holders.len() == 1))
            .count(),
        7,
        "{shared:?}"
    );
    assert!(matches!(
        too_heavy.await.expect("join"),
        Err(StoreError::Invalid {
            field: "weight",
            ..
        })
    ));
    assert!(
        store
            .resource(&ResourceId::parse("pool:runners").expect("id"))
            .await
            .is_err(),
        "a refused claim creates nothing"
    );
    assert_eq!(
        release
            .await
            .expect("join")
            .expect("release")
            .value
            .lease
            .id,
        held.id
    );
    assert!(matches!(
        unknown.await.expect("join"),
        Err(StoreError::UnknownLease(_))
    ));
    let stats = store.batch_stats();
    assert_eq!(stats.waiting, 0);
    assert_eq!(stats.size_sum, 1 + 1 + 19, "every operation counted once");
    assert_eq!(stats.commit.count, 3, "three batches: held, first, the 19");
    assert_eq!(stats.size_counts[4], 2, "two batches of at most 16");
    assert_eq!(stats.size_counts[5], 3, "and one of 17 to 32");
}
on_both_backends!(group_commit, arrivals_share_a_transaction);

/// A release asked again (its first answer lost to a restart or a dropped
/// connection) gets the same answer, not "no lease"; and changes nothing.
async fn a_release_asked_again_gets_the_same_answer(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let lease = match store
        .try_acquire(&request("lock:release", "a"))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    let first = store.release(&lease.id).await.expect("release");
    assert_eq!(first.events.len(), 1, "{:?}", first.events);
    let again = store.release(&lease.id).await.expect("release asked again");
    assert_eq!(again.value.lease, first.value.lease);
    assert!(
        again.events.is_empty(),
        "nothing happens twice: {:?}",
        again.events
    );
    // Meanwhile the lock went to someone else, who keeps it.
    let next = match store
        .try_acquire(&request("lock:release", "b"))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    assert_eq!(next.token, lease.token + 1);
    assert_eq!(
        store
            .release(&lease.id)
            .await
            .expect("asked a third time")
            .value
            .lease
            .id,
        lease.id
    );
    let view = store
        .resource(&ResourceId::parse("lock:release").expect("id"))
        .await
        .expect("view");
    assert_eq!(view.holders.len(), 1);
    assert_eq!(view.holders[0].id, next.id);
    // A lease never granted is still unknown.
    assert!(matches!(
        store.release("never-granted").await,
        Err(StoreError::UnknownLease(_))
    ));
}
on_both_backends!(
    release_asked_again,
    a_release_asked_again_gets_the_same_answer
);

/// Whatever a holder is called reaches the database as data: PostgreSQL's
/// lease engine writes its arguments into its statements as literals.
async fn quotes_and_backslashes_are_data(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let odd = r"o'brien \' '' \\ ); DROP TABLE leases; -- $1 é";
    let mut first = request("lock:odd", "a");
    first.holder.run_id = Some(odd.to_owned());
    first
        .holder
        .labels
        .insert(odd.to_owned(), format!("{odd}\n\t\""));
    let held = match store.try_acquire(&first).await.expect("claim").value {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    assert_eq!(held.holder, first.holder);
    // Queued, then granted by the release: through the waiters' rows too.
    let mut second = request("lock:odd", "b");
    second.holder.workflow = Some(odd.to_owned());
    second.wait_ms = Some(60_000);
    let waiter = match store.try_acquire(&second).await.expect("claim").value {
        Attempt::Queued { waiter, .. } => waiter,
        other => panic!("expected to queue, got {other:?}"),
    };
    let released = store.release(&held.id).await.expect("release");
    assert_eq!(released.granted.len(), 1);
    assert_eq!(released.granted[0].waiter, waiter);
    assert_eq!(released.granted[0].lease.holder, second.holder);
    let leases = store.leases().await.expect("leases");
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].holder, second.holder);
}
on_both_backends!(odd_holders, quotes_and_backslashes_are_data);
