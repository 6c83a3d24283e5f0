//! Notification deliveries and escalations: recorded per deployment, one
//! armed escalation per environment and rule, resolved by the environment,
//! and claimed by exactly one sender.

use std::time::Duration;

use weft_store::{LeasePolicy, NotificationDelivery};

use crate::backends::{Backend, store};
use crate::on_both_backends;

fn delivery(event: &str, channel: &str, error: Option<&str>) -> NotificationDelivery {
    NotificationDelivery {
        event: event.to_string(),
        channel: channel.to_string(),
        rule: Some("failures".to_string()),
        escalation: false,
        ok: error.is_none(),
        attempts: if error.is_none() { 1 } else { 3 },
        error: error.map(str::to_string),
        at: String::new(),
    }
}

async fn escalations_go_out_once_unless_resolved(backend: Backend, test: &str) {
    let Some((store, _guard)) = store(backend, test, LeasePolicy::default()).await else {
        return;
    };
    store
        .record_deliveries(
            "d-1",
            "prod",
            &[
                delivery("deployment_failed", "slack", None),
                delivery("deployment_failed", "mail", Some("connection refused")),
            ],
        )
        .await
        .expect("record");
    let told = store.deliveries("d-1").await.expect("deliveries");
    assert_eq!(told.len(), 2);
    assert_eq!(told[1].channel, "mail");
    assert!(!told[1].ok);
    assert_eq!(told[1].attempts, 3);
    assert_eq!(told[1].error.as_deref(), Some("connection refused"));
    assert!(told[0].at.ends_with('Z'), "{}", told[0].at);
    assert!(store.deliveries("d-2").await.expect("none").is_empty());

    let body = serde_json::json!({"event": "deployment_failed", "deployment": "d-1"});
    assert!(
        store
            .arm_escalation("prod", "failures", "d-1", 150, &body)
            .await
            .expect("the store answers")
    );
    // One per environment and rule while armed.
    assert!(
        !store
            .arm_escalation("prod", "failures", "d-2", 150, &body)
            .await
            .expect("the store answers")
    );
    assert!(
        store
            .arm_escalation("prod", "pager", "d-2", 60_000, &body)
            .await
            .expect("the store answers")
    );
    assert!(
        store
            .arm_escalation("staging", "failures", "d-3", 150, &body)
            .await
            .expect("the store answers")
    );
    assert!(
        store
            .claim_due_escalations()
            .await
            .expect("the store answers")
            .is_empty(),
        "not yet"
    );
    let soonest = store
        .next_escalation_due(Some("prod"))
        .await
        .expect("the store answers")
        .expect("an escalation is armed");
    assert!(soonest > weft_store::time::now_ms());

    tokio::time::sleep(Duration::from_millis(200)).await;
    // Staging recovered in time.
    assert_eq!(
        store
            .resolve_escalations("staging")
            .await
            .expect("the store answers"),
        1
    );
    let (a, b) = tokio::join!(store.claim_due_escalations(), store.claim_due_escalations());
    let mut claimed = a.expect("the store answers");
    claimed.extend(b.expect("the store answers"));
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(claimed[0].environment, "prod");
    assert_eq!(claimed[0].rule, "failures");
    assert_eq!(claimed[0].deployment, "d-1");
    assert_eq!(claimed[0].after_ms, 150);
    assert_eq!(claimed[0].notification, body);
    assert!(
        store
            .claim_due_escalations()
            .await
            .expect("the store answers")
            .is_empty()
    );

    // Sent: the rule can arm again for a new incident; prod's other
    // escalation goes when prod recovers.
    assert!(
        store
            .arm_escalation("prod", "failures", "d-4", 150, &body)
            .await
            .expect("the store answers")
    );
    assert_eq!(
        store
            .resolve_escalations("prod")
            .await
            .expect("the store answers"),
        2
    );
    assert_eq!(
        store
            .next_escalation_due(None)
            .await
            .expect("the store answers"),
        None
    );
}

on_both_backends!(
    escalations_go_out_once_unless_resolved_,
    escalations_go_out_once_unless_resolved
);
