//! Crash safety of the real `weft serve` binary: clients loop on one
//! exclusive resource while a server is SIGKILLed and restarted on the same
//! port and store; on SQLite, and with two replicas on one PostgreSQL
//! database.
//!
//! How it works: each of eight client threads (half of them given every
//! replica's URL, their own first, as `--server URL1,URL2` gives them, to
//! fail over; the others only their own) loops acquire
//! (wait 60 s, TTL 5 s) → hold briefly → release, appending `enter TOKEN`
//! to a shared log when it gets a lease and `exit TOKEN` just before it
//! releases (so a release can never let another client's `enter` land
//! before this `exit`). A request that fails in transport is retried; a
//! lease whose release fails simply expires. The test itself also takes
//! the lease, with a long TTL, and holds it across the kill: the restarted
//! server must still know it (same id, same token), renew it and release
//! it, and grant nobody else meanwhile; the waiting clients, asking again
//! with their request ids at the restarted server or at the replica they
//! fail over to, keep their places (the same queue, in the same order),
//! and the head is granted at once when the test lets go. Every client
//! must hold the lease again after the restart. Then the log must show no
//! two confirmed holds overlapping and tokens strictly increasing across
//! the whole run. A hold counts as confirmed when its client ended it well
//! within its TTL, so a client stalled past its TTL by a loaded machine
//! cannot fake an overlap.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_client::{AcquireBody, Client, ClientError};
use weft_testkit::Postgres;

use crate::process::WeftServe;
use crate::support::eventually;

const RESOURCE: &str = "lock:crash-test";
const CLIENTS: usize = 8;
const CLIENT_TTL_MS: i64 = 5_000;
/// Holds logged before the kill, and after the test's own hold ends.
const HOLDS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Enter,
    /// The end of a hold; `confirmed` when it ended well within its TTL.
    Exit {
        confirmed: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    step: Step,
    token: i64,
    client: usize,
}

#[derive(Debug, Default)]
struct Shared {
    log: Mutex<Vec<Entry>>,
    stop: AtomicBool,
    /// Anything a client did not expect (5xx, bad requests).
    unexpected: Mutex<Vec<String>>,
    /// The clients granted a lease by a server other than the first of
    /// their list.
    failed_over: Mutex<BTreeSet<usize>>,
}

impl Shared {
    fn push(&self, step: Step, token: i64, client: usize) {
        self.log.lock().unwrap().push(Entry {
            step,
            token,
            client,
        });
    }

    fn holds(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e.step, Step::Exit { .. }))
            .count()
    }
}

fn claim(holder: &str, ttl_ms: i64) -> AcquireBody {
    AcquireBody {
        resource: RESOURCE.to_owned(),
        ttl_ms: Some(ttl_ms),
        wait_ms: Some(60_000),
        holder: json!({"repository": holder}),
        ..AcquireBody::default()
    }
}

fn transient(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Transport { .. } | ClientError::Decode(_)
    )
}

/// One client: acquire, hold briefly, release, until told to stop.
fn client_loop(id: usize, url: &str, shared: &Shared) {
    let client = Client::new(url, None);
    let body = claim(&format!("client-{id}"), CLIENT_TTL_MS);
    let ttl = Duration::from_millis(CLIENT_TTL_MS.unsigned_abs());
    let mut round = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        round += 1;
        let lease = match client.acquire(&body) {
            Ok(lease) => lease,
            // Past the client's own retries (it rides out a restart).
            Err(error) if transient(&error) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(error) if error.is_taken() => continue,
            Err(error) => {
                shared
                    .unexpected
                    .lock()
                    .unwrap()
                    .push(format!("client {id} acquire: {error:?}"));
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let got = Instant::now();
        if client.url() != client.urls()[0] {
            shared.failed_over.lock().unwrap().insert(id);
        }
        shared.push(Step::Enter, lease.token, id);
        std::thread::sleep(Duration::from_millis(2 + (round + id as u64) % 8));
        let confirmed = got.elapsed() < ttl / 2;
        shared.push(Step::Exit { confirmed }, lease.token, id);
        match client.release(&lease.id) {
            Ok(_) => {}
            Err(error) if transient(&error) => {}
            // Expired while held, or the release reached a server that
            // died before answering and the retry found it gone.
            Err(ClientError::Api(failure)) if [404, 410].contains(&failure.status) => {}
            Err(error) => shared
                .unexpected
                .lock()
                .unwrap()
                .push(format!("client {id} release: {error:?}")),
        }
    }
}

/// Asserts that confirmed holds never overlap and that tokens strictly
/// increase, over the whole log.
fn check_log(log: &[Entry]) {
    let unconfirmed: Vec<i64> = log
        .iter()
        .filter(|e| e.step == Step::Exit { confirmed: false })
        .map(|e| e.token)
        .collect();
    let mut holding: Option<Entry> = None;
    let mut last_token = 0;
    for (index, entry) in log.iter().enumerate() {
        let context = || {
            let from = index.saturating_sub(6);
            format!("{:#?}", &log[from..(index + 3).min(log.len())])
        };
        if entry.step == Step::Enter {
            assert!(
                entry.token > last_token,
                "token {} after token {last_token} at entry {index}: {}",
                entry.token,
                context()
            );
            last_token = entry.token;
        }
        if unconfirmed.contains(&entry.token) {
            continue;
        }
        match (entry.step, holding) {
            (Step::Enter, None) => holding = Some(*entry),
            (Step::Enter, Some(held)) => panic!(
                "client {} entered with token {} while client {} held token {} (entry {index}): {}",
                entry.client,
                entry.token,
                held.client,
                held.token,
                context()
            ),
            (Step::Exit { .. }, Some(held)) if held.token == entry.token => holding = None,
            (Step::Exit { .. }, _) => panic!(
                "exit of token {} that was not the one held ({holding:?}) at entry {index}: {}",
                entry.token,
                context()
            ),
        }
    }
}

/// Whether client `id` is given every replica's URL, not only its own.
fn fails_over(id: usize) -> bool {
    id % 4 >= 2
}

/// Each client's confirmed holds after the test's own (the one held
/// across the restart).
fn holds_after_restart(log: &[Entry]) -> [usize; CLIENTS] {
    let mut holds = [0; CLIENTS];
    let after = log.iter().skip_while(|e| e.client != usize::MAX);
    for entry in after.filter(|e| e.step == Step::Exit { confirmed: true }) {
        if let Some(count) = holds.get_mut(entry.client) {
            *count += 1;
        }
    }
    holds
}

/// The ids of the waiters queued on the resource.
fn queued(client: &Client) -> Vec<String> {
    let path = format!("/api/v1/resources/{}/queue", weft_client::encode(RESOURCE));
    client
        .get(&path)
        .ok()
        .and_then(|v| {
            v["queue"].as_array().map(|queue| {
                queue
                    .iter()
                    .filter_map(|w| w["waiter"].as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Runs clients against `servers` (see [`fails_over`]), kills and
/// restarts the first server midway while the test holds the lease, and
/// checks the log.
fn crash_and_restart(workspace: &Path, store: &str, replicas: usize) {
    let started = Instant::now();
    let phase = |what: &str| eprintln!("crash: {what} at {:.1?}", started.elapsed());
    let mut servers: Vec<WeftServe> = (0..replicas)
        .map(|_| WeftServe::start(workspace, store, "127.0.0.1:0"))
        .collect();
    let urls: Vec<String> = servers.iter().map(WeftServe::url).collect();
    let shared = Arc::new(Shared::default());
    let (done, finished) = mpsc::channel();
    let threads: Vec<JoinHandle<()>> = (0..CLIENTS)
        .map(|id| {
            let shared = shared.clone();
            // Half the clients are given their own replica's URL first
            // and the others after it, and fail over when it dies, as
            // `--server URL1,URL2` does; the other half wait for it.
            let listed = if fails_over(id) { replicas } else { 1 };
            let url = (0..listed)
                .map(|k| urls[(id + k) % replicas].as_str())
                .collect::<Vec<_>>()
                .join(",");
            let done = done.clone();
            std::thread::spawn(move || {
                // Reports even when the loop panics, so the join below
                // never waits for a thread that is gone.
                struct Done(mpsc::Sender<usize>, usize);
                impl Drop for Done {
                    fn drop(&mut self) {
                        let _ = self.0.send(self.1);
                    }
                }
                let _done = Done(done, id);
                client_loop(id, &url, &shared);
            })
        })
        .collect();
    drop(done);
    // Stops the clients however this test ends.
    struct StopOnDrop(Arc<Shared>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.stop.store(true, Ordering::SeqCst);
        }
    }
    let _stop = StopOnDrop(shared.clone());

    // Phase 1: the clients take turns.
    eventually("holds before the kill", Duration::from_secs(120), || {
        (shared.holds() >= HOLDS).then_some(())
    });

    // The test takes the lease through the replica that stays up (or the
    // only one), with a TTL that outlasts the restart, and holds it across
    // the kill.
    let survivor = Client::new(&urls[replicas - 1], None);
    let mine = loop {
        match survivor.acquire(&claim("crash-test", 120_000)) {
            Ok(lease) => break lease,
            Err(error) if error.is_taken() => {}
            Err(error) => panic!("the test's own claim failed: {error:?}"),
        }
    };
    let held_at = Instant::now();
    phase("the test holds the lease");
    shared.push(Step::Enter, mine.token, usize::MAX);
    // Everyone else queues behind it.
    let before_kill = eventually("the clients to queue", Duration::from_secs(60), || {
        let queue = queued(&survivor);
        (queue.len() == CLIENTS).then_some(queue)
    });

    phase("killing");
    servers[0].kill();
    let address = servers[0].address.to_string();
    servers[0] = WeftServe::start(workspace, store, &address);
    assert_eq!(servers[0].address.to_string(), address);
    let restarted = Client::new(&servers[0].url(), None);
    phase("restarted");

    // The restarted server knows the lease, and renews it.
    let shown = restarted
        .get(&format!("/api/v1/leases/{}", mine.id))
        .unwrap_or_else(|e| panic!("the lease held across the restart is gone: {e:?}"));
    assert_eq!(shown["token"], mine.token, "{shown}");
    let renewed = restarted.renew(&mine.id, Some(120_000)).unwrap();
    assert_eq!(renewed.token, mine.token);
    // The clients of the killed server ask again with their request ids
    // (there, or at the replica they fail over to) and take back their
    // places: the queue is the one before the kill, same waiters, same
    // order, and nobody is granted while the test holds.
    std::thread::sleep(Duration::from_millis(2_500));
    {
        let log = shared.log.lock().unwrap();
        let last = log.last().copied();
        assert_eq!(
            last.map(|e| e.client),
            Some(usize::MAX),
            "a grant while the test held across the restart: {last:?}"
        );
    }
    assert_eq!(
        queued(&restarted),
        before_kill,
        "the queue after the restart is the one before it"
    );
    let leases: Value = restarted.get("/api/v1/leases").unwrap();
    assert_eq!(leases["leases"].as_array().unwrap().len(), 1, "{leases}");
    assert_eq!(leases["leases"][0]["id"], mine.id.as_str(), "{leases}");
    let confirmed = held_at.elapsed() < Duration::from_secs(60);
    shared.push(Step::Exit { confirmed }, mine.token, usize::MAX);
    restarted
        .release(&mine.id)
        .unwrap_or_else(|e| panic!("releasing the lease held across the restart: {e:?}"));
    // The head of the queue is a client that is there, not a place left by
    // the killed process: it is granted at once, not once a heartbeat runs
    // out.
    eventually(
        "a client's hold after the release",
        Duration::from_secs(5),
        || {
            let log = shared.log.lock().unwrap();
            let after = log.iter().rev().take_while(|e| e.client != usize::MAX);
            after.clone().any(|e| e.step == Step::Enter).then_some(())
        },
    );

    phase("released the lease held across the restart");
    // Phase 2: the clients take turns again, every one of them, through
    // the restarted server or the one they failed over to.
    let before = shared.holds();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let holds = holds_after_restart(&shared.log.lock().unwrap());
        if shared.holds() >= before + HOLDS && holds.iter().all(|&holds| holds > 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every client held the lease again within 180 s of the restart: \
             holds by client {holds:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    phase("phase 2 done");
    shared.stop.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(180);
    for _ in 0..CLIENTS {
        let left = deadline.saturating_duration_since(Instant::now());
        finished
            .recv_timeout(left)
            .expect("the clients did not stop within 180 s");
    }
    for thread in threads {
        thread.join().expect("a client thread panicked");
    }

    phase("clients stopped");
    let unexpected = shared.unexpected.lock().unwrap();
    assert!(unexpected.is_empty(), "unexpected errors: {unexpected:#?}");
    let log = shared.log.lock().unwrap();
    check_log(&log);
    // The clients of the killed replica given the other's URL were
    // granted there: they were queued on the killed one when it died.
    if replicas > 1 {
        let failed_over = shared.failed_over.lock().unwrap();
        let of_killed: BTreeSet<usize> = (0..CLIENTS)
            .filter(|&id| id % replicas == 0 && fails_over(id))
            .collect();
        assert!(
            !of_killed.is_disjoint(&failed_over),
            "no client of the killed replica failed over: {failed_over:?}"
        );
    }
    assert!(
        log.iter().filter(|e| e.step == Step::Enter).count() > 2 * HOLDS,
        "{log:?}"
    );
}

#[test]
fn sigkill_and_restart_on_sqlite_keeps_leases_and_tokens() {
    let directory = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", directory.path().join("state.db").display());
    crash_and_restart(directory.path(), &store, 1);
}

#[test]
fn sigkill_of_one_of_two_replicas_on_postgresql_keeps_leases_and_tokens() {
    let Some(mut postgres) = Postgres::start("crash::two_replicas_on_postgresql") else {
        return;
    };
    let store = postgres.database();
    let directory = tempfile::tempdir().unwrap();
    crash_and_restart(directory.path(), &store, 2);
}

#[test]
fn a_grant_to_a_waiter_whose_server_died_is_given_back() {
    let directory = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", directory.path().join("state.db").display());
    let mut server = WeftServe::start(directory.path(), &store, "127.0.0.1:0");
    let client = Client::new(&server.url(), None);
    let claim = |holder: &str, ttl_ms: i64, wait_ms: i64| AcquireBody {
        resource: "lock:orphan".to_owned(),
        ttl_ms: Some(ttl_ms),
        wait_ms: Some(wait_ms),
        holder: json!({"repository": holder}),
        ..AcquireBody::default()
    };
    let alice = client.acquire(&claim("alice", 60_000, 0)).unwrap();
    // bob waits, with a 10-minute TTL, on the server about to die.
    let bob = crate::support::raw_request(
        server.address,
        "POST",
        "/api/v1/leases",
        &[],
        Some(
            r#"{"resource": "lock:orphan", "wait": "60s", "ttl": "10m", "holder": {"repository": "bob"}}"#,
        ),
    );
    let path = format!(
        "/api/v1/resources/{}/queue",
        weft_client::encode("lock:orphan")
    );
    eventually("bob in the queue", Duration::from_secs(30), || {
        client.get(&path).ok()?["queue"]
            .as_array()
            .is_some_and(|q| q.len() == 1)
            .then_some(())
    });
    let address = server.address.to_string();
    server.kill();
    drop(bob);
    let server = WeftServe::start(directory.path(), &store, &address);
    let client = Client::new(&server.url(), None);
    // Releasing grants bob's waiter, which nobody will ever collect.
    client.release(&alice.id).unwrap();
    // Once bob's waiter is known dead (no heartbeat for 30 s), its grant
    // must go back; carol must not wait out bob's 10 minutes.
    let started = Instant::now();
    let carol = client.acquire(&claim("carol", 5_000, 60_000));
    assert!(
        carol.is_ok(),
        "carol was not granted within {:?}: {carol:?}; leases: {}",
        started.elapsed(),
        client.get("/api/v1/leases").unwrap()
    );
}
