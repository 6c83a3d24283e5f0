//! The client's failover: several server URLs, and a server that is down
//! when a wait starts and comes up within it.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;
use weft_client::{AcquireBody, Client};

use crate::process::WeftServe;
use crate::support::TestServer;

fn claim(resource: &str, wait_ms: i64) -> AcquireBody {
    AcquireBody {
        resource: resource.to_owned(),
        ttl_ms: Some(30_000),
        wait_ms: Some(wait_ms),
        holder: json!({"repository": "failover-test"}),
        ..AcquireBody::default()
    }
}

/// An address nothing listens on (bound, then let go).
fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    address
}

#[test]
fn a_dead_server_in_the_list_is_passed_over() {
    let server = TestServer::start(|_| {});
    let dead = format!("http://{}", dead_address());
    let client = Client::new(&format!("{dead},{}", server.url()), None);
    let lease = client.acquire(&claim("lock:failover", 1_000)).unwrap();
    assert_eq!(
        client.url(),
        server.url(),
        "it stays with the one that answered"
    );
    client.release(&lease.id).unwrap();
    // A list of nothing but dead servers fails once the patience is spent.
    let alone = Client::new(&dead, None).with_patience(Duration::from_millis(300));
    let started = Instant::now();
    let error = alone.leases().unwrap_err();
    assert!(
        matches!(error, weft_client::ClientError::Transport { .. }),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_wait_rides_out_a_server_that_comes_up_late() {
    let address = dead_address();
    let (_directory, store, workspace) = sqlite_workspace();
    let starter = {
        let address = address.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1_500));
            WeftServe::start(&workspace, &store, &address)
        })
    };
    let client = Client::new(&format!("http://{address}"), None);
    let started = Instant::now();
    let lease = client.acquire(&claim("lock:late", 60_000)).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1_400),
        "it waited for the server"
    );
    assert_eq!(lease.resource, "lock:late");
    let server = starter.join().unwrap();
    client.release(&lease.id).unwrap();
    drop(server);
}

/// A fresh SQLite store in a temporary directory that is also the
/// workspace: the directory (kept alive by the caller), the store URL and
/// the workspace path.
fn sqlite_workspace() -> (tempfile::TempDir, String, std::path::PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", directory.path().join("state.db").display());
    let workspace = directory.path().to_path_buf();
    (directory, store, workspace)
}

/// The server two waits run on is stopped by `stop` and started again: the
/// first claim, asked again with its request id, is still first in the
/// queue, ahead of the one that queued after it, and is granted as soon as
/// the holder lets go.
fn a_wait_cut_by_a_restart_keeps_its_place(stop: fn(&mut WeftServe)) {
    let address = dead_address();
    let (_directory, store, workspace) = sqlite_workspace();
    let mut server = WeftServe::start(&workspace, &store, &address);
    let url = server.url();
    let by = |who: &str, wait_ms: i64| AcquireBody {
        holder: json!({"repository": who}),
        ..claim("lock:place", wait_ms)
    };
    let holder = Client::new(&url, None);
    let held = holder.acquire(&by("holder", 0)).unwrap();
    let queue_length = || {
        holder
            .get("/api/v1/resources/lock:place/queue")
            .map_or(0, |view| view["queue"].as_array().map_or(0, Vec::len))
    };
    let wait = |who: &'static str| {
        let url = url.clone();
        std::thread::spawn(move || {
            let client = Client::new(&url, None);
            let lease = client.acquire(&by(who, 60_000)).unwrap();
            let granted = Instant::now();
            std::thread::sleep(Duration::from_millis(100));
            client.release(&lease.id).unwrap();
            (lease.token, granted)
        })
    };
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = wait("first");
    until("the first claim never queued", &|| queue_length() == 1);
    let second = wait("second");
    until("the second claim never queued", &|| queue_length() == 2);
    stop(&mut server);
    let server = WeftServe::start(&workspace, &store, &address);
    // Both clients ask again (in whatever order their backoff gives); the
    // holder lets go once they have.
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(queue_length(), 2, "both claims are in the queue, once each");
    holder.release(&held.id).unwrap();
    let released = Instant::now();
    let (first_token, first_at) = first.join().unwrap();
    let (second_token, second_at) = second.join().unwrap();
    assert!(
        first_token < second_token && first_at < second_at,
        "the first claim kept its place: tokens {first_token} and {second_token}"
    );
    assert!(
        first_at - released < Duration::from_secs(2),
        "granted as the holder let go, not when a stale place ran out: {:?}",
        first_at - released
    );
    drop(server);
}

#[test]
fn a_wait_cut_by_a_killed_server_keeps_its_place() {
    a_wait_cut_by_a_restart_keeps_its_place(WeftServe::kill);
}

#[test]
fn a_wait_cut_by_a_graceful_restart_keeps_its_place() {
    a_wait_cut_by_a_restart_keeps_its_place(WeftServe::terminate);
}
