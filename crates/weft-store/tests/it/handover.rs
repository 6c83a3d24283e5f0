//! A grant to a wait of this process is handed over in memory, collected by
//! the transaction that made it: the waiter's row and its operation are
//! settled by the time the release that granted it is answered, and the
//! waiter gets its lease even if nobody applies the release's answer. A
//! claim with a request id keeps its grant in its row.

use std::time::Duration;

use weft_store::{AcquireRequest, Holder, LeasePolicy, OperationFilter, OperationStatus};
use weft_store::{Coordinator, ResourceId};

use crate::backends::{Backend, coordinator, store};
use crate::on_both_backends;

fn claim(who: &str, wait_ms: i64, request: Option<&str>) -> AcquireRequest {
    AcquireRequest {
        resource: ResourceId::parse("lock:handover").expect("resource id"),
        weight: 1,
        holder: Holder {
            run_id: Some(who.to_owned()),
            ..Holder::default()
        },
        wait_ms: Some(wait_ms),
        request: request.map(str::to_owned),
        ..AcquireRequest::default()
    }
}

/// Waits (up to 10 s) until the resource has a waiter, waiting in this
/// process.
async fn until_waiting(coordinator: &Coordinator) {
    let resource = ResourceId::parse("lock:handover").expect("resource id");
    for _ in 0..2_000 {
        let view = coordinator.store().resource(&resource).await.expect("view");
        if !view.queue.is_empty() && coordinator.stats().local_waiters == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("nobody waits");
}

async fn collected_with_the_release(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let coordinator = coordinator(store).await;
    let request_id = "6f1c1b0e-3d55-4d0b-9a51-8c8f2f6f7a10";
    for (round, request) in [None, Some(request_id)].into_iter().enumerate() {
        let held = coordinator
            .acquire(&claim("a", 0, None))
            .await
            .expect("a holds");
        let waiting = {
            let coordinator = coordinator.clone();
            let b = claim(&format!("b{round}"), 60_000, request);
            tokio::spawn(async move { coordinator.acquire(&b).await })
        };
        until_waiting(&coordinator).await;
        // Released through the store: nobody applies the answer.
        let change = coordinator
            .store()
            .release(&held.id)
            .await
            .expect("release");
        assert_eq!(change.granted.len(), 1, "round {round}");
        let handed_over = change.granted[0].handover.is_some();
        assert_eq!(handed_over, request.is_none(), "round {round}");
        if handed_over {
            // Settled in the release's own transaction: the waiter's row
            // is gone and its claim succeeded before the waiter looked.
            let stats = coordinator.store().stats().await.expect("stats");
            assert_eq!(stats.waiters, 0, "the waiter's row is collected");
            let operations = coordinator
                .store()
                .operations(&OperationFilter::default())
                .await
                .expect("operations");
            let b_claim = operations
                .iter()
                .filter(|o| o.kind == "claim")
                .find(|o| o.holder.as_ref().and_then(|h| h.run_id.as_deref()) == Some("b0"))
                .expect("b's claim");
            assert_eq!(b_claim.status, OperationStatus::Succeeded, "{b_claim:?}");
            let result = b_claim.result.as_ref().expect("a result");
            assert_eq!(result["lease"], change.granted[0].lease.id.as_str());
        }
        let lease = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("b is answered")
            .expect("join")
            .expect("b is granted");
        assert_eq!(lease.id, change.granted[0].lease.id);
        assert_eq!(lease.token, held.token + 1, "round {round}");
        if let Some(request) = request {
            assert_eq!(lease.id, request, "a lease's id is its request id");
        } else {
            // From the hand-over to the wait taking it.
            assert_eq!(coordinator.metrics().wake_latency().count, 1);
        }
        // The lease is b's in the store, and nobody else's.
        let leases = coordinator.store().leases().await.expect("leases");
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].id, lease.id);
        coordinator.release(&lease.id).await.expect("b releases");
    }
    coordinator.shutdown();
}
on_both_backends!(grant_handed_over, collected_with_the_release);
