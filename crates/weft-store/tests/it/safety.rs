//! Mutual exclusion under load: many clients take one exclusive resource in
//! turn, each appending its fencing token on entry and exit to a shared log.
//! The log must show no overlap and strictly increasing tokens.

use std::sync::{Arc, Mutex};

use weft_store::{AcquireRequest, Coordinator, Holder, LeasePolicy, ResourceId, Store};

use crate::backends::{Backend, coordinator, database};
use crate::on_both_backends;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mark {
    Enter(i64),
    Exit(i64),
}

/// Checks that entries and exits alternate with the same token, and that
/// tokens strictly increase.
fn check_log(log: &[Mark], expected: usize) {
    assert_eq!(log.len(), expected * 2, "every hold entered and exited");
    let mut last = 0;
    for pair in log.chunks(2) {
        match pair {
            [Mark::Enter(a), Mark::Exit(b)] if a == b => {
                assert!(*a > last, "token {a} after {last}: not strictly increasing");
                last = *a;
            }
            other => panic!("overlapping holds: {other:?}"),
        }
    }
}

async fn run_clients(coordinators: &[Coordinator], clients: usize, rounds: usize) -> Vec<Mark> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for client in 0..clients {
        let coordinator = coordinators[client % coordinators.len()].clone();
        let log = log.clone();
        handles.push(tokio::spawn(async move {
            for round in 0..rounds {
                let request = AcquireRequest {
                    resource: ResourceId::parse("branch:origin/main").expect("id"),
                    weight: 1,
                    wait_ms: Some(120_000),
                    ttl_ms: Some(60_000),
                    holder: Holder {
                        run_id: Some(format!("{client}-{round}")),
                        ..Holder::default()
                    },
                    ..AcquireRequest::default()
                };
                let lease = coordinator.acquire(&request).await.expect("grant");
                log.lock().expect("log").push(Mark::Enter(lease.token));
                tokio::task::yield_now().await;
                log.lock().expect("log").push(Mark::Exit(lease.token));
                coordinator.release(&lease.id).await.expect("release");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("client");
    }
    Arc::try_unwrap(log)
        .expect("sole owner")
        .into_inner()
        .expect("log")
}

async fn one_replica(backend: Backend, test: &str) {
    let Some((url, _guard)) = database(backend, test) else {
        return;
    };
    let store = Store::open(&url, LeasePolicy::default())
        .await
        .expect("open");
    let coordinator = coordinator(store).await;
    let log = run_clients(std::slice::from_ref(&coordinator), 16, 10).await;
    check_log(&log, 160);
    coordinator.shutdown();
}
on_both_backends!(exclusive_under_load, one_replica);

/// Two replicas on one PostgreSQL database: a release on one wakes a waiter
/// on the other, and no two replicas grant the resource at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres() {
    let Some((url, _guard)) = database(Backend::Postgres, "safety::two_replicas_on_postgres")
    else {
        return;
    };
    let first = coordinator(
        Store::open(&url, LeasePolicy::default())
            .await
            .expect("open"),
    )
    .await;
    let second = coordinator(
        Store::open(&url, LeasePolicy::default())
            .await
            .expect("open"),
    )
    .await;
    let log = run_clients(&[first.clone(), second.clone()], 16, 10).await;
    check_log(&log, 160);
    first.shutdown();
    second.shutdown();
}
