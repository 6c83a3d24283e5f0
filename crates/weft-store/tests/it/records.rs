//! Operations, alerts, cleanup and the schema.

use std::time::Duration;

use weft_store::{
    AcquireRequest, AlertFilter, AlertThresholds, Attempt, Holder, LeasePolicy, OperationFilter,
    OperationStatus, ResourceId, Store, StoreError, WaitState,
};

use crate::backends::{Backend, database, store};
use crate::on_both_backends;

fn request(resource: &str) -> AcquireRequest {
    AcquireRequest {
        resource: ResourceId::parse(resource).expect("id"),
        weight: 1,
        wait_ms: Some(0),
        holder: Holder::default(),
        ..AcquireRequest::default()
    }
}

async fn reopen_keeps_state(backend: Backend, test: &str) {
    let Some((url, _guard)) = database(backend, test) else {
        return;
    };
    let store = Store::open(&url, LeasePolicy::default())
        .await
        .expect("open");
    let Attempt::Granted(lease) = store
        .try_acquire(&request("lock:a"))
        .await
        .expect("claim")
        .value
    else {
        panic!("grant");
    };
    store.close().await;
    // Opening again migrates nothing and keeps the lease and the fence.
    let store = Store::open(&url, LeasePolicy::default())
        .await
        .expect("reopen");
    assert_eq!(store.schema_version().await.expect("version"), 7);
    assert_eq!(store.leases().await.expect("leases"), vec![*lease.clone()]);
    store.release(&lease.id).await.expect("release");
    let Attempt::Granted(next) = store
        .try_acquire(&request("lock:a"))
        .await
        .expect("claim")
        .value
    else {
        panic!("grant");
    };
    assert_eq!(next.token, lease.token + 1);
}
on_both_backends!(reopen, reopen_keeps_state);

async fn operations_and_alerts(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let Attempt::Granted(lease) = store
        .try_acquire(&request("port:8080"))
        .await
        .expect("claim")
        .value
    else {
        panic!("grant");
    };
    // Two refused claims out of three: conflict rate 0.67 > 0.3.
    for _ in 0..2 {
        assert!(matches!(
            store
                .try_acquire(&request("port:8080"))
                .await
                .expect("claim")
                .value,
            Attempt::Conflict { .. }
        ));
    }
    // An analysis that failed: failure rate 1/4 > 0.1.
    let analysis = store
        .start_operation("analysis", None)
        .await
        .expect("start");
    let active = store
        .operations(&OperationFilter {
            status: Some(OperationStatus::Active),
            ..OperationFilter::default()
        })
        .await
        .expect("active");
    assert_eq!(
        active.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        [analysis.as_str()]
    );
    store
        .finish_operation(
            &analysis,
            OperationStatus::Failed,
            None,
            Some("workspace not found"),
        )
        .await
        .expect("finish");
    // It finishes once: again, it would be counted twice.
    assert!(matches!(
        store
            .finish_operation(&analysis, OperationStatus::Succeeded, None, None)
            .await,
        Err(StoreError::UnknownOperation(id)) if id == analysis
    ));
    let rates = store.window_rates(60_000).await.expect("rates");
    assert_eq!((rates.claims, rates.contended, rates.failed), (3, 2, 1));

    let thresholds = AlertThresholds::default();
    let fired = store.evaluate_alerts(&thresholds).await.expect("evaluate");
    let rules: Vec<_> = fired
        .iter()
        .filter_map(|e| e.data["rule"].as_str())
        .collect();
    assert!(rules.contains(&"conflict_rate"), "{rules:?}");
    assert!(rules.contains(&"failure_rate"), "{rules:?}");
    // Evaluating again fires nothing new.
    assert!(
        store
            .evaluate_alerts(&thresholds)
            .await
            .expect("again")
            .is_empty()
    );

    let all = store.alerts(&AlertFilter::default()).await.expect("alerts");
    assert_eq!(all.len(), 2);
    let critical = store
        .alerts(&AlertFilter {
            severity: Some("critical".into()),
            ..AlertFilter::default()
        })
        .await
        .expect("critical");
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].rule, "failure_rate");
    let acknowledged = store
        .acknowledge_alert(&critical[0].id, "oncall")
        .await
        .expect("ack");
    assert_eq!(
        acknowledged.value.acknowledged_by.as_deref(),
        Some("oncall")
    );
    assert_eq!(acknowledged.events.len(), 1, "one alert_acknowledged event");
    assert_eq!(acknowledged.events[0].kind, "alert_acknowledged");
    let again = store
        .acknowledge_alert(&critical[0].id, "someone-else")
        .await
        .expect("ack again");
    assert!(
        again.events.is_empty(),
        "the second acknowledgement changes nothing"
    );
    assert_eq!(again.value.acknowledged_by.as_deref(), Some("oncall"));
    let open = store
        .alerts(&AlertFilter {
            acknowledged: Some(false),
            ..AlertFilter::default()
        })
        .await
        .expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].rule, "conflict_rate");
    assert!(
        store
            .acknowledge_alert("no-such-alert", "oncall")
            .await
            .is_err()
    );

    // A resource at capacity with a waiter fires `capacity`.
    let mut waiting = request("port:8080");
    waiting.wait_ms = Some(60_000);
    let Attempt::Queued { waiter, .. } = store.try_acquire(&waiting).await.expect("queue").value
    else {
        panic!("queued");
    };
    let fired = store.evaluate_alerts(&thresholds).await.expect("evaluate");
    assert!(
        fired
            .iter()
            .any(|e| e.data["rule"] == "capacity" && e.data["subject"] == "port:8080")
    );
    // Released: the waiter gets it, the capacity alert resolves.
    tokio::time::sleep(Duration::from_millis(5)).await;
    store.release(&lease.id).await.expect("release");
    let resolved = store.evaluate_alerts(&thresholds).await.expect("evaluate");
    assert!(
        resolved
            .iter()
            .any(|e| e.kind == "alert_resolved" && e.data["rule"] == "capacity")
    );
    // The claim that queued waited for its grant: contended too.
    assert!(matches!(
        store.collect(&waiter).await.expect("collect"),
        WaitState::Granted(_)
    ));
    let rates = store.window_rates(60_000).await.expect("rates");
    assert_eq!((rates.claims, rates.contended), (4, 3));
}
on_both_backends!(alerts, operations_and_alerts);

async fn cleanup_removes_old_records(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    let mut short = request("lock:c");
    short.ttl_ms = Some(50);
    assert!(matches!(
        store.try_acquire(&short).await.expect("claim").value,
        Attempt::Granted(_)
    ));
    let kept = store.try_acquire(&request("lock:d")).await.expect("claim");
    assert!(matches!(kept.value, Attempt::Granted(_)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let report = store.cleanup(Some(0)).await.expect("cleanup");
    assert_eq!(report.expired_leases, 1);
    assert!(report.operations >= 2, "{report:?}");
    assert!(report.events >= 2, "{report:?}");
    assert_eq!(
        store.leases().await.expect("leases").len(),
        1,
        "live leases stay"
    );
    assert!(
        store
            .operations(&OperationFilter::default())
            .await
            .expect("ops")
            .is_empty()
    );
}
on_both_backends!(cleanup, cleanup_removes_old_records);
