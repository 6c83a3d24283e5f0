//! Routing by event, severity and environment, and what escalates.

use std::time::Duration;

use weft_notify::{Escalation, Notification, Notifier, NotifyEvent, NotifySeverity};

use crate::support::{HttpServer, env, notify_config, quick};

fn config(server: &HttpServer) -> String {
    let hook = |name: &str| {
        format!(
            "{{webhook: {{url: \"{}\"}}}}",
            server.url(&format!("/{name}"))
        )
    };
    format!(
        r#"notify:
  channels:
    failures: {}
    everything: {}
    pager: {}
  rules:
    production-failures:
      events: [deployment_failed, rollback_failed, gate_failed]
      severity: [critical, high]
      channels: [failures]
      when: {{environment: production}}
      escalate_after: 200ms
      escalate_to: [pager]
    all-releases:
      events: [deployment_started, deployment_succeeded, deployment_failed]
      channels: [everything, failures]
      when: {{environment: [staging, production]}}
"#,
        hook("failures"),
        hook("everything"),
        hook("pager")
    )
}

fn channels(deliveries: &[weft_notify::Delivery]) -> Vec<(String, String)> {
    deliveries
        .iter()
        .map(|d| {
            assert!(d.ok, "{d:?}");
            (d.channel.clone(), d.rule.clone().unwrap_or_default())
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(c, r)| (c.to_string(), r.to_string()))
        .collect()
}

#[tokio::test]
async fn rules_filter_by_event_severity_and_environment() {
    let server = HttpServer::start(&[]);
    let notifier =
        Notifier::new(&notify_config(&config(&server)), &env(&[]), None).with_settings(quick());
    let event = |event, environment: &str| Notification::new(event, environment, "d-1");

    // Both rules match; `failures` is named by both and told once, for the first.
    let deliveries = notifier
        .notify(&event(NotifyEvent::DeploymentFailed, "production"))
        .await;
    assert_eq!(
        channels(&deliveries),
        pairs(&[
            ("failures", "production-failures"),
            ("everything", "all-releases")
        ])
    );
    // Severity filters: a low-severity failure only reaches the rule without one.
    let deliveries = notifier
        .notify(&event(NotifyEvent::DeploymentFailed, "production").severity(NotifySeverity::Low))
        .await;
    assert_eq!(
        channels(&deliveries),
        pairs(&[("everything", "all-releases"), ("failures", "all-releases")])
    );
    // Events filter.
    let deliveries = notifier
        .notify(&event(NotifyEvent::GateFailed, "production"))
        .await;
    assert_eq!(
        channels(&deliveries),
        pairs(&[("failures", "production-failures")])
    );
    let deliveries = notifier
        .notify(&event(NotifyEvent::RollbackStarted, "production"))
        .await;
    assert!(deliveries.is_empty());
    // Environments filter.
    let deliveries = notifier
        .notify(&event(NotifyEvent::GateFailed, "staging"))
        .await;
    assert!(deliveries.is_empty());
    let deliveries = notifier
        .notify(&event(NotifyEvent::DeploymentStarted, "staging"))
        .await;
    assert_eq!(
        channels(&deliveries),
        pairs(&[("everything", "all-releases"), ("failures", "all-releases")])
    );
    assert!(
        notifier
            .notify(&event(NotifyEvent::DeploymentStarted, "dev"))
            .await
            .is_empty()
    );
    // Only the named rules (an environment's `notify:` list).
    let deliveries = notifier
        .notify_rules(
            &event(NotifyEvent::DeploymentFailed, "production"),
            &["all-releases".to_string()],
        )
        .await;
    assert_eq!(
        channels(&deliveries),
        pairs(&[("everything", "all-releases"), ("failures", "all-releases")])
    );
    assert!(server.requests_to("/pager").is_empty());
}

#[tokio::test]
async fn a_failure_arms_the_escalations_of_its_rules_and_escalating_tells_escalate_to() {
    let server = HttpServer::start(&[]);
    let notifier =
        Notifier::new(&notify_config(&config(&server)), &env(&[]), None).with_settings(quick());
    let failed =
        Notification::new(NotifyEvent::GateFailed, "production", "d-9").service("api", "2");
    let armed = notifier.escalations(&failed, None);
    assert_eq!(
        armed,
        [Escalation {
            rule: "production-failures".to_string(),
            after: Duration::from_millis(200),
        }]
    );
    // Only the environment's rules, when it names them.
    assert!(
        notifier
            .escalations(&failed, Some(&["all-releases".to_string()]))
            .is_empty()
    );
    // Not in staging, and never for a resolving event.
    let staging = Notification::new(NotifyEvent::GateFailed, "staging", "d-9");
    assert!(notifier.escalations(&staging, None).is_empty());
    let recovered = Notification::new(NotifyEvent::RollbackSucceeded, "production", "d-9");
    assert!(notifier.escalations(&recovered, None).is_empty());
    assert!(server.requests_to("/pager").is_empty());

    let deliveries = notifier
        .escalate("production-failures", &failed, armed[0].after)
        .await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let delivery = &deliveries[0];
    assert!(delivery.ok && delivery.escalation, "{delivery:?}");
    assert_eq!(delivery.channel, "pager");
    assert_eq!(delivery.rule.as_deref(), Some("production-failures"));
    let pages = server.requests_to("/pager");
    assert_eq!(pages.len(), 1);
    let page = pages[0].json();
    assert_eq!(
        page["title"],
        "Unresolved after 200ms: Gate failed in production"
    );
    assert_eq!(page["deployment"], "d-9");
    assert!(
        page["text"]
            .as_str()
            .unwrap()
            .contains("still unresolved 200ms after gate failed")
    );
    // A rule that is not there escalates nothing.
    assert!(
        notifier
            .escalate("nope", &failed, armed[0].after)
            .await
            .is_empty()
    );
}
