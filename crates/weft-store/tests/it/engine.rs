//! The lease engine's connection and what its batches publish.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::Connection;
use weft_store::{AcquireRequest, Attempt, Holder, LeasePolicy, Mode, ResourceId, Store};

use crate::backends::{Backend, coordinator, database, store};
use crate::on_both_backends;

fn claim(resource: &str, who: &str, wait_ms: i64) -> AcquireRequest {
    AcquireRequest {
        resource: ResourceId::parse(resource).expect("resource id"),
        mode: Mode::Exclusive,
        weight: 1,
        wait_ms: Some(wait_ms),
        holder: Holder {
            run_id: Some(who.to_owned()),
            ..Holder::default()
        },
        ..AcquireRequest::default()
    }
}

/// The ids of the next `count` events published on `events`, by `deadline`.
async fn published(
    events: &mut tokio::sync::broadcast::Receiver<weft_store::Event>,
    count: usize,
    deadline: tokio::time::Instant,
) -> Vec<i64> {
    let mut published = Vec::with_capacity(count);
    while published.len() < count {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("every event is published")
            .expect("the stream is open");
        published.push(event.id);
    }
    published
}

/// A store on the database at `url`, with the default policy.
async fn open(url: &str) -> Store {
    Store::open(url, LeasePolicy::default())
        .await
        .expect("open store")
}

/// Takes and gives back `resource` once, through the engine.
async fn cycle(store: &Store, resource: &str) {
    let lease = match store
        .try_acquire(&claim(resource, "cycle", 0))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    store.release(&lease.id).await.expect("release");
}

/// The engine keeps its PostgreSQL connection between batches. One that
/// went away meanwhile (here killed; a restarted server does the same) is
/// replaced, and the claim that found it gone still succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_engine_connection_is_replaced() {
    let Some((url, _guard)) = database(Backend::Postgres, "engine-dead-connection") else {
        return;
    };
    let store = open(&url).await;
    cycle(&store, "lock:engine").await;
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    // Its last query prepares or runs the engine's statements (one that
    // prepares runs them past the 1 kB of it the view shows).
    let engine = "SELECT pid FROM pg_stat_activity
                  WHERE query LIKE '%weft\\_engine\\_%' AND pid <> pg_backend_pid()";
    let before: Vec<i32> = sqlx::query_scalar(engine)
        .fetch_all(&mut admin)
        .await
        .expect("engine backends");
    assert_eq!(before.len(), 1, "one engine connection, kept: {before:?}");
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(before[0])
        .fetch_one(&mut admin)
        .await
        .expect("terminate");
    assert!(killed);
    // Until the backend is gone, its row still shows.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sqlx::query_scalar::<_, i32>("SELECT pid FROM pg_stat_activity WHERE pid = $1")
        .bind(before[0])
        .fetch_optional(&mut admin)
        .await
        .expect("activity")
        .is_some()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the backend lingers"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    cycle(&store, "lock:engine").await;
    let after: Vec<i32> = sqlx::query_scalar(engine)
        .fetch_all(&mut admin)
        .await
        .expect("engine backends");
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "a new connection");
    assert!(store.leases().await.expect("leases").is_empty());
}

/// A server publishes every event of the lease engine's batches once, in
/// id order, on PostgreSQL (its listener, from the batches' own memory)
/// as on SQLite (its tail): the same events the store holds.
async fn events_are_published_once_in_order(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store.clone()).await;
    let mut events = coordinator.subscribe();
    // Claims and releases on several resources, and a grant to a waiter.
    for round in 0..10 {
        cycle(&store, &format!("lock:order-{}", round % 3)).await;
    }
    let held = match store
        .try_acquire(&claim("lock:order-queue", "a", 0))
        .await
        .expect("claim")
        .value
    {
        Attempt::Granted(lease) => lease,
        other => panic!("expected a grant, got {other:?}"),
    };
    let waiting = {
        let coordinator = coordinator.clone();
        tokio::spawn(async move {
            coordinator
                .acquire(&claim("lock:order-queue", "b", 30_000))
                .await
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store
        .resource(&ResourceId::parse("lock:order-queue").expect("id"))
        .await
        .expect("view")
        .queue
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "b never queued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    coordinator.release(&held.id).await.expect("release");
    let lease = waiting.await.expect("join").expect("b is granted");
    coordinator.release(&lease.id).await.expect("release");

    let stored: Vec<i64> = store
        .events_after(0, 1000)
        .await
        .expect("events")
        .iter()
        .map(|e| e.id)
        .collect();
    assert!(stored.len() > 20, "{stored:?}");
    assert_eq!(published(&mut events, stored.len(), deadline).await, stored);
    // And nothing more.
    let extra = tokio::time::timeout(Duration::from_millis(300), events.recv()).await;
    assert!(extra.is_err(), "published again: {extra:?}");
    coordinator.shutdown();
}
on_both_backends!(published_once_in_order, events_are_published_once_in_order);

/// The engine reads what its lock let through, which takes read committed:
/// a database whose transactions default to another level runs it all the
/// same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stricter_default_isolation_is_overridden() {
    let Some((url, _guard)) = database(Backend::Postgres, "engine-isolation") else {
        return;
    };
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut admin)
        .await
        .expect("database name");
    sqlx::raw_sql(&format!(
        "ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'serializable'"
    ))
    .execute(&mut admin)
    .await
    .expect("alter database");
    let store = open(&url).await;
    let mut connection = sqlx::PgConnection::connect(&url).await.expect("connect");
    let level: String = sqlx::query_scalar("SHOW default_transaction_isolation")
        .fetch_one(&mut connection)
        .await
        .expect("show");
    assert_eq!(level, "serializable");
    for _ in 0..3 {
        cycle(&store, "lock:isolation").await;
    }
    assert!(store.leases().await.expect("leases").is_empty());
}

/// On SQLite the write-ahead log is checkpointed beside the engine's
/// commits, which must not keep it from starting again from its beginning
/// (a checkpoint made while the engine writes never lets it): it stays
/// short however many batches there were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_log_is_checkpointed() {
    let Some((store, _guard)) =
        store(Backend::Sqlite, "engine-checkpoint", LeasePolicy::default()).await
    else {
        return;
    };
    for round in 0..200 {
        cycle(&store, &format!("lock:log-{}", round % 8)).await;
    }
    let url = store.url().to_owned();
    // Frames now in the log: those written since it last started again.
    let mut connection = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("connect");
    let (_busy, frames, _copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut connection)
            .await
            .expect("checkpoint");
    assert!(
        frames < 2_000,
        "the log was not checkpointed: {frames} frames"
    );
}

/// A server whose listener lost its connection reads what it missed once
/// it listens again: another server's events committed meanwhile are
/// published all the same, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_lost_its_connection_catches_up() {
    let Some((url, _guard)) = database(Backend::Postgres, "engine-listener-lost") else {
        return;
    };
    let here = open(&url).await;
    let coordinator = coordinator(here.clone()).await;
    let mut events = coordinator.subscribe();
    let elsewhere = open(&url).await;
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .expect("terminate the listener");
    assert_eq!(killed, [true], "one listener");
    // Committed by the other server while this one's listener is gone or
    // coming back.
    for _ in 0..3 {
        cycle(&elsewhere, "lock:elsewhere").await;
    }
    let stored: Vec<i64> = here
        .events_after(0, 1000)
        .await
        .expect("events")
        .iter()
        .map(|e| e.id)
        .collect();
    assert!(stored.len() >= 6, "{stored:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    assert_eq!(published(&mut events, stored.len(), deadline).await, stored);
    coordinator.shutdown();
}

/// The grant `store` answers a claim of `resource` that does not wait.
async fn take(store: &Store, resource: &str, who: &str) -> Attempt {
    store
        .try_acquire(&claim(resource, who, 0))
        .await
        .expect("claim")
        .value
}

fn granted(attempt: Attempt) -> weft_store::Lease {
    match attempt {
        Attempt::Granted(lease) => *lease,
        other => panic!("expected a grant, got {other:?}"),
    }
}

/// A batch over resources the engine's connection locked before is decided
/// from what it kept of them and written in one round trip, which checks
/// first that nothing changed them (see the engine's `cache.rs`). What
/// another replica (on SQLite, another store on the same file), or a
/// renewal, changed in between is seen: the batch is loaded and decided
/// again, and decides what it would have decided without the cache.
async fn a_batch_from_the_cache_sees_what_others_changed(backend: Backend, test: &str) {
    let Some((url, _guard)) = database(backend, test) else {
        return;
    };
    let here = open(&url).await;
    let elsewhere = open(&url).await;
    // On PostgreSQL, the engine uses its cache within a second of its
    // connection's last commit: a batch on another resource just before the
    // one that matters makes sure of it, whatever the other replica took
    // meanwhile. (On SQLite, where any commit by another connection fails
    // the check, that batch would be the one to find the cache stale.)
    let fresh = || async {
        if backend == Backend::Postgres {
            cycle(&here, "lock:other").await;
        }
    };

    // Taken and given back twice here: the second time from the cache.
    cycle(&here, "lock:shared").await;
    let first = granted(take(&here, "lock:shared", "here").await);
    here.release(&first.id).await.expect("release");
    let used = here.batch_stats().from_cache;
    assert!(
        used >= 2,
        "the claim and the release came from the cache: {used}"
    );

    // The other replica takes it. Here, the cache still says it is free:
    // the claim must find it taken.
    let theirs = granted(take(&elsewhere, "lock:shared", "elsewhere").await);
    assert!(
        theirs.token > first.token,
        "{} after {}",
        theirs.token,
        first.token
    );
    fresh().await;
    match take(&here, "lock:shared", "here").await {
        Attempt::Conflict { holders, .. } => {
            assert_eq!(holders.len(), 1);
            assert_eq!(holders[0].id, theirs.id);
        }
        other => panic!("a claim here must see the other replica's lease, got {other:?}"),
    }
    assert_eq!(here.batch_stats().cache_stale, 1);

    // Renewed there, then given back there: here, the lease it saw is
    // gone, and the next grant's token follows theirs.
    elsewhere
        .renew(&theirs.id, Some(120_000))
        .await
        .expect("renew");
    elsewhere.release(&theirs.id).await.expect("release");
    let again = granted(take(&here, "lock:shared", "here").await);
    assert!(
        again.token > theirs.token,
        "{} after {}",
        again.token,
        theirs.token
    );
    here.release(&again.id).await.expect("release");

    // A lease kept here and given back by the other replica (its row
    // deleted): the cache says the resource is taken, and it is free.
    cycle(&here, "lock:deleted").await;
    let mine = granted(take(&here, "lock:deleted", "here").await);
    elsewhere.release(&mine.id).await.expect("release there");
    fresh().await;
    let stale = here.batch_stats().cache_stale;
    let next = granted(take(&here, "lock:deleted", "here-next").await);
    assert!(
        next.token > mine.token,
        "{} after {}",
        next.token,
        mine.token
    );
    assert_eq!(here.batch_stats().cache_stale, stale + 1);
    here.release(&next.id).await.expect("release");

    // A renewal here, outside the engine, is seen too. Taken for 2 s and
    // renewed for a minute: past the 2 s, a claim decided from what the
    // engine kept would find the lease expired and take the resource from
    // its holder.
    cycle(&here, "lock:renewed").await;
    let short = granted(
        here.try_acquire(&AcquireRequest {
            ttl_ms: Some(2_000),
            ..claim("lock:renewed", "here", 0)
        })
        .await
        .expect("claim")
        .value,
    );
    here.renew(&short.id, Some(60_000))
        .await
        .expect("renew here");
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    fresh().await;
    let stale = here.batch_stats().cache_stale;
    match take(&here, "lock:renewed", "here-too").await {
        Attempt::Conflict { holders, .. } => assert_eq!(holders[0].id, short.id),
        other => panic!("the renewed lease is still held, got {other:?}"),
    }
    assert_eq!(here.batch_stats().cache_stale, stale + 1);
    here.release(&short.id).await.expect("release");
    assert!(here.leases().await.expect("leases").is_empty());
    assert!(elsewhere.leases().await.expect("leases").is_empty());
}

on_both_backends!(
    a_batch_from_the_cache_sees_what_others_changed,
    a_batch_from_the_cache_sees_what_others_changed
);

/// The first batch from the cache whose check finds a row changed is also
/// the first to use its write: on PostgreSQL, the check is part of that
/// write, which the failed round trip prepared all the same. The next
/// batch of the same kind from the cache must run it, not prepare it
/// again (which PostgreSQL refuses).
async fn a_failed_check_leaves_its_write_ready(backend: Backend, test: &str) {
    let Some((url, _guard)) = database(backend, test) else {
        return;
    };
    let here = open(&url).await;
    let elsewhere = open(&url).await;
    // Taken here, renewed by the other replica: the release here, the
    // first one decided from the cache, finds the lease changed.
    let lease = granted(take(&here, "lock:first", "here").await);
    elsewhere
        .renew(&lease.id, Some(120_000))
        .await
        .expect("renew there");
    // On PostgreSQL, the cache is used within a second of the connection's
    // last commit: a claim on a resource new here makes sure of it (a
    // release would prepare the write this test is about).
    if backend == Backend::Postgres {
        granted(take(&here, "lock:fresh", "here").await);
    }
    here.release(&lease.id).await.expect("release");
    assert_eq!(here.batch_stats().cache_stale, 1);
    // The same kind of release on another resource, from the cache.
    let next = granted(take(&here, "lock:second", "here").await);
    let used = here.batch_stats().from_cache;
    here.release(&next.id)
        .await
        .expect("release from the cache");
    assert_eq!(here.batch_stats().from_cache, used + 1, "from the cache");
    assert_eq!(here.batch_stats().cache_stale, 1);
}

on_both_backends!(
    a_failed_check_leaves_its_write_ready,
    a_failed_check_leaves_its_write_ready
);

/// The request id of the claim asked again below.
const REQUEST: &str = "5f0c1a2e-9b7d-4c3e-8a61-2d4f6e8b9c01";

/// A waiter granted a lease it has not collected shares its id with the
/// lease. Asked again by that id, the claim only renews the waiter's
/// heartbeat: the lease row is not written, and the next batch from the
/// cache must still find it as it was kept (not as changed by someone).
async fn a_claim_asked_again_keeps_the_cache_good(backend: Backend, test: &str) {
    let Some((url, _guard)) = database(backend, test) else {
        return;
    };
    let store = open(&url).await;
    cycle(&store, "lock:again").await;
    let holder = granted(take(&store, "lock:again", "holder").await);
    let waiting = AcquireRequest {
        request: Some(REQUEST.to_owned()),
        ..claim("lock:again", "waiter", 60_000)
    };
    let queued = store.try_acquire(&waiting).await.expect("claim").value;
    assert!(matches!(queued, Attempt::Queued { .. }), "{queued:?}");
    // Given back: the waiter is granted, in its row, for its client to find.
    store.release(&holder.id).await.expect("release");
    let again = store
        .try_acquire(&waiting)
        .await
        .expect("claim again")
        .value;
    assert!(
        matches!(&again, Attempt::Queued { waiter, .. } if waiter == REQUEST),
        "{again:?}"
    );
    let stats = store.batch_stats();
    match take(&store, "lock:again", "someone").await {
        Attempt::Conflict { holders, .. } => assert_eq!(holders[0].id, REQUEST),
        other => panic!("the granted waiter holds the lease, got {other:?}"),
    }
    let after = store.batch_stats();
    assert_eq!(after.from_cache, stats.from_cache + 1, "from the cache");
    assert_eq!(after.cache_stale, 0, "and the cache was good");
}

on_both_backends!(
    a_claim_asked_again_keeps_the_cache_good,
    a_claim_asked_again_keeps_the_cache_good
);

/// A claim whose request id names a lease, or a waiter, on another resource
/// is refused, and the row stays where it is, when the engine decides the
/// claim from what it kept of its own resource too: the other resource's
/// rows are not in the batch, so the check must look for them. (Granted,
/// the claim's lease would take the row's id; a lease written under it
/// would move to the claim's resource.)
async fn a_request_id_used_elsewhere_is_refused_from_the_cache(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let with_id = |resource: &str, wait_ms: i64| AcquireRequest {
        request: Some(REQUEST.to_owned()),
        ..claim(resource, "holder", wait_ms)
    };
    for queued in [false, true] {
        // The lease on lock:a: the id's own, or (queued) someone else's,
        // with the id waiting for it.
        let before = if queued {
            let first = granted(take(&store, "lock:a", "first").await);
            let waiting = store
                .try_acquire(&with_id("lock:a", 60_000))
                .await
                .expect("claim")
                .value;
            assert!(matches!(waiting, Attempt::Queued { .. }), "{waiting:?}");
            first
        } else {
            let claimed = store.try_acquire(&with_id("lock:a", 0)).await;
            granted(claimed.expect("claim").value)
        };
        // A resource of its own each time: on PostgreSQL, one whose check
        // failed is not kept for a second.
        let other = format!("lock:b-{queued}");
        let kept = store.batch_stats().from_cache;
        cycle(&store, &other).await;
        cycle(&store, &other).await;
        let stats = store.batch_stats();
        assert!(stats.from_cache >= kept + 2, "{other} is kept: {stats:?}");
        let refused = store.try_acquire(&with_id(&other, 0)).await;
        assert!(
            matches!(
                refused,
                Err(weft_store::StoreError::Invalid {
                    field: "request",
                    ..
                })
            ),
            "queued {queued}: {refused:?}"
        );
        assert_eq!(
            store.batch_stats().cache_stale,
            stats.cache_stale + 1,
            "queued {queued}: decided from the cache, whose check failed"
        );
        let leases = store.leases().await.expect("leases");
        assert_eq!(leases.len(), 1, "queued {queued}: {leases:?}");
        assert_eq!(leases[0].id, before.id);
        assert_eq!(leases[0].resource.to_string(), "lock:a");
        // Given back: with the id waiting, it is granted lock:a.
        store.release(&before.id).await.expect("release");
        if queued {
            let leases = store.leases().await.expect("leases");
            assert_eq!(leases.len(), 1, "{leases:?}");
            assert_eq!(leases[0].id, REQUEST);
            assert_eq!(leases[0].resource.to_string(), "lock:a");
            store.release(REQUEST).await.expect("release");
        }
    }
}

on_both_backends!(
    a_request_id_used_elsewhere_is_refused_from_the_cache,
    a_request_id_used_elsewhere_is_refused_from_the_cache
);

/// Leases given back over an hour ago are forgotten while releases go on:
/// at most 256 at a time, and by the engine every so often, not in every
/// batch (once 128 have been given back since it last forgot, or a second
/// after: see `Forgetting`); those given back within the hour are kept.
async fn old_released_leases_are_forgotten(backend: Backend, test: &str) {
    let Some((url, _guard)) = database(backend, test) else {
        return;
    };
    let store = open(&url).await;
    cycle(&store, "lock:forget").await;
    let mut admin = sqlx::AnyConnection::connect(&url).await.expect("connect");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    let long_ago = i64::try_from(now.as_millis()).expect("ms") - 2 * 60 * 60 * 1000;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
         INSERT INTO released_leases (id, lease, released_at)
         SELECT 'old-' || i, '[]', $1 FROM n",
    )
    .bind(long_ago)
    .execute(&mut admin)
    .await
    .expect("leases given back long ago");
    let count = |sql: &'static str| {
        let url = url.clone();
        async move {
            let mut admin = sqlx::AnyConnection::connect(&url).await.expect("connect");
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut admin)
                .await
                .expect("count")
        }
    };
    let old = "SELECT COUNT(*) FROM released_leases WHERE id LIKE 'old-%'";
    let mut left = count(old).await;
    assert_eq!(left, 600);
    let mut cycles = 1;
    // The last cycle that forgot: its number, and when it began.
    let mut forgot: Option<(i64, Instant)> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while left > 0 {
        assert!(
            Instant::now() < deadline,
            "{left} of 600 still remembered after {cycles} releases"
        );
        let began = Instant::now();
        cycle(&store, "lock:forget").await;
        cycles += 1;
        let now_left = count(old).await;
        assert!(
            (0..=256).contains(&(left - now_left)),
            "one batch forgot {} ({left} → {now_left})",
            left - now_left
        );
        if now_left < left {
            if let Some((cycle, at)) = forgot {
                assert!(
                    cycles - cycle >= 128 || at.elapsed() >= Duration::from_millis(990),
                    "forgot again {} releases and {:?} after",
                    cycles - cycle,
                    at.elapsed()
                );
            }
            forgot = Some((cycles, began));
        }
        left = now_left;
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM released_leases WHERE id NOT LIKE 'old-%'").await,
        cycles,
        "every lease given back within the hour is remembered"
    );
}
on_both_backends!(
    old_released_leases_forgotten,
    old_released_leases_are_forgotten
);
