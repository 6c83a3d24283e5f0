//! A release's notifications: its progress, told to the `notify:` channels.
//!
//! How it works: [`watch`] sits between the engine and whoever reads its
//! progress. It passes every event on, and turns the ones people want to
//! hear of into weft-notify notifications: the start, a failed gate, the
//! failure, the rollback and how it ended, and a release that waits for a
//! person (`rollback: manual`, an inconclusive gate). Each is routed through
//! the environment's rules (all rules when the environment names none),
//! its deliveries recorded on the deployment, and the escalations it arms
//! kept in the store; a success or a completed rollback resolves the
//! environment's escalations. While the release runs it also sends the
//! escalations that come due; afterwards `weft serve` does
//! ([`send_due_escalations`]). Notifying never fails the release: a store
//! or channel error is logged and the release goes on.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use weft_model::config::{RollbackMode, WorkspaceConfig};
use weft_notify::{Delivery, Notification, Notifier, NotifyEvent, ServiceVersion};
use weft_store::{
    DeploymentKind, DeploymentStatus, NotificationDelivery, ServiceState, Stage, Store, Verdict,
};

use crate::engine::Progress;
use crate::plan::Plan;

/// How often a running release looks for escalations that came due.
const ESCALATION_TICK: Duration = Duration::from_millis(250);

/// Starts passing `downstream` the progress sent to the returned sender,
/// notifying as it goes; the task ends once every sender is gone and what
/// it was notifying is delivered.
pub(crate) fn watch(
    notifier: Arc<Notifier>,
    store: Store,
    plan: Arc<Plan>,
    kind: DeploymentKind,
    downstream: mpsc::UnboundedSender<Progress>,
) -> (mpsc::UnboundedSender<Progress>, tokio::task::JoinHandle<()>) {
    let (sender, mut receiver) = mpsc::unbounded_channel::<Progress>();
    let task = tokio::spawn(async move {
        let mut watcher = Watcher {
            notifier,
            store,
            plan,
            kind,
            deployment: String::new(),
            failed: BTreeSet::new(),
            rolling_back: false,
            paused: BTreeSet::new(),
        };
        let mut tick = tokio::time::interval(ESCALATION_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = receiver.recv() => {
                    let Some(event) = event else { break };
                    let notifications = watcher.notifications(&event);
                    let _ = downstream.send(event);
                    for notification in notifications {
                        watcher.notify(notification).await;
                    }
                }
                _ = tick.tick() => {
                    send_due_escalations(&watcher.store, &watcher.notifier).await;
                }
            }
        }
    });
    (sender, task)
}

/// A notifier for weft.yaml's `notify:` keys, or `None` when it declares no
/// channel. Secrets are read from the environment now; `github_issue`
/// channels reach GitHub as `github:` says.
pub fn notifier(config: &WorkspaceConfig) -> Option<Arc<Notifier>> {
    Notifier::for_workspace(config).map(Arc::new)
}

/// Sends the escalations due now that no one else has sent, and records
/// their deliveries; how many it sent.
pub async fn send_due_escalations(store: &Store, notifier: &Notifier) -> usize {
    let due = match store.claim_due_escalations().await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "cannot read the escalations that are due");
            return 0;
        }
    };
    let mut sent = 0;
    for escalation in due {
        let notification: Notification = match serde_json::from_value(escalation.notification) {
            Ok(notification) => notification,
            Err(error) => {
                tracing::warn!(%error, id = escalation.id, "an escalation's notification does not read back");
                continue;
            }
        };
        let after = Duration::from_millis(u64::try_from(escalation.after_ms).unwrap_or(0));
        let deliveries = notifier
            .escalate(&escalation.rule, &notification, after)
            .await;
        record(
            store,
            &escalation.deployment,
            &escalation.environment,
            notification.event,
            &deliveries,
        )
        .await;
        sent += 1;
    }
    sent
}

struct Watcher {
    notifier: Arc<Notifier>,
    store: Store,
    plan: Arc<Plan>,
    kind: DeploymentKind,
    deployment: String,
    /// Services that failed, marked in what follows.
    failed: BTreeSet<String>,
    rolling_back: bool,
    /// Gates that said inconclusive once: told once.
    paused: BTreeSet<(String, String)>,
}

impl Watcher {
    /// What `event` tells people, if anything.
    fn notifications(&mut self, event: &Progress) -> Vec<Notification> {
        let release = self.kind == DeploymentKind::Release;
        match event {
            Progress::Started { deployment } => {
                self.deployment.clone_from(deployment);
                let event = if release {
                    NotifyEvent::DeploymentStarted
                } else {
                    NotifyEvent::RollbackStarted
                };
                vec![self.notification(event, String::new())]
            }
            Progress::Service { service, state, .. } if *state == ServiceState::Failed => {
                self.failed.insert(service.clone());
                Vec::new()
            }
            Progress::GateFailed {
                service,
                stage: Stage::Deploy,
                message,
            } => {
                self.failed.insert(service.clone());
                let text = format!("{service}: gate {message}");
                vec![self.notification(NotifyEvent::GateFailed, text)]
            }
            // An observation that cannot be made pauses the release: told
            // once per gate.
            Progress::Gate {
                service,
                stage: Stage::Deploy,
                gate,
                verdict: Verdict::Inconclusive,
                message,
            } if self.paused.insert((service.clone(), gate.clone())) => {
                let text = format!(
                    "{service}: gate `{gate}` cannot be evaluated ({message}); the release is \
                     paused and fails when the gate's timeout passes."
                );
                vec![self.notification(NotifyEvent::ManualInterventionRequired, text)]
            }
            Progress::RollingBack { reason, .. } => {
                self.rolling_back = true;
                vec![
                    self.notification(NotifyEvent::DeploymentFailed, reason.clone()),
                    self.notification(
                        NotifyEvent::RollbackStarted,
                        format!("Rolling back after: {reason}"),
                    ),
                ]
            }
            Progress::Finished { status, failure } => {
                let failure = failure.clone().unwrap_or_default();
                match status {
                    DeploymentStatus::Succeeded if release => {
                        vec![self.notification(NotifyEvent::DeploymentSucceeded, String::new())]
                    }
                    DeploymentStatus::Succeeded | DeploymentStatus::RolledBack => {
                        vec![self.notification(NotifyEvent::RollbackSucceeded, failure)]
                    }
                    DeploymentStatus::RollbackFailed => {
                        vec![self.notification(NotifyEvent::RollbackFailed, failure)]
                    }
                    DeploymentStatus::Failed if !self.rolling_back => {
                        let mut told =
                            vec![self.notification(NotifyEvent::DeploymentFailed, failure)];
                        if release && self.plan.rollback == RollbackMode::Manual {
                            let text = format!(
                                "rollback: manual — nothing was rolled back. Roll back with \
                                 `weft deploy rollback {}`.",
                                self.plan.environment
                            );
                            told.push(
                                self.notification(NotifyEvent::ManualInterventionRequired, text),
                            );
                        }
                        told
                    }
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    fn notification(&self, event: NotifyEvent, text: String) -> Notification {
        let mut notification =
            Notification::new(event, &self.plan.environment, &self.deployment).text(text);
        for service in &self.plan.services {
            notification = notification.service_version(ServiceVersion {
                name: service.id.clone(),
                version: service.version.clone(),
                previous_version: service.previous_version.clone(),
                failed: self.failed.contains(&service.id),
            });
        }
        notification
    }

    /// Routes one notification, records its deliveries, arms or resolves
    /// escalations.
    async fn notify(&self, notification: Notification) {
        let rules = (!self.plan.notify.is_empty()).then_some(self.plan.notify.as_slice());
        let deliveries = match rules {
            Some(rules) => self.notifier.notify_rules(&notification, rules).await,
            None => self.notifier.notify(&notification).await,
        };
        record(
            &self.store,
            &self.deployment,
            &self.plan.environment,
            notification.event,
            &deliveries,
        )
        .await;
        if notification.event.is_resolution() {
            if let Err(error) = self.store.resolve_escalations(&self.plan.environment).await {
                tracing::warn!(%error, "cannot resolve the environment's escalations");
            }
            return;
        }
        let json = notification.to_json();
        for escalation in self.notifier.escalations(&notification, rules) {
            let after = i64::try_from(escalation.after.as_millis()).unwrap_or(i64::MAX);
            let armed = self
                .store
                .arm_escalation(
                    &self.plan.environment,
                    &escalation.rule,
                    &self.deployment,
                    after,
                    &json,
                )
                .await;
            if let Err(error) = armed {
                tracing::warn!(%error, rule = %escalation.rule, "cannot arm an escalation");
            }
        }
    }
}

async fn record(
    store: &Store,
    deployment: &str,
    environment: &str,
    event: NotifyEvent,
    deliveries: &[Delivery],
) {
    let rows: Vec<NotificationDelivery> = deliveries
        .iter()
        .map(|delivery| NotificationDelivery {
            event: event.as_str().to_string(),
            channel: delivery.channel.clone(),
            rule: delivery.rule.clone(),
            escalation: delivery.escalation,
            ok: delivery.ok,
            attempts: delivery.attempts,
            error: delivery.error.clone(),
            at: delivery.at.to_string(),
        })
        .collect();
    if let Err(error) = store
        .record_deliveries(deployment, environment, &rows)
        .await
    {
        tracing::warn!(%error, "cannot record the release's notifications");
    }
}
