//! The notifier: routes a notification through the rules to the channels,
//! delivers to each channel at once (retrying each on its own), records a
//! [`Delivery`] per channel, and says which escalations a notification
//! arms; the caller keeps their timers and calls [`Notifier::escalate`].
//!
//! How a notification is routed:
//! 1. every rule whose `events`, `severity` and `when` match it names its
//!    `channels`; a channel named by several rules gets it once, for the
//!    first rule;
//! 2. a resolving event also reaches every GitHub-issue channel of a rule
//!    that applies to the environment, whatever the rule's events, so the
//!    incidents it opened are closed (recorded only when one was);
//! 3. the deliveries run concurrently as tokio tasks, the blocking I/O of
//!    each on the blocking pool, and come back in routing order.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use weft_github::{GitHub, GitHubSettings};
use weft_model::config::{NotifyConfig, NotifyEvent, RuleConfig, WorkspaceConfig};

use crate::channel::{Channel, Sent};
use crate::delivery::Delivery;
use crate::error::NotifyError;
use crate::escalation::{Escalation, escalated};
use crate::notification::Notification;
use crate::retry::DeliverySettings;

/// Sends release notifications per `notify:` in weft.yaml.
///
/// Its methods are async and need a tokio runtime: HTTP and SMTP are
/// blocking calls run with `spawn_blocking`. A failed delivery never panics
/// or returns an error: it is a [`Delivery`] with `ok: false`.
#[derive(Debug)]
pub struct Notifier {
    channels: IndexMap<String, Arc<Channel>>,
    rules: IndexMap<String, RuleConfig>,
    settings: DeliverySettings,
}

/// One channel to deliver to, and why.
#[derive(Debug)]
struct Target {
    channel: String,
    rule: Option<String>,
    escalation: bool,
    /// Delivered only for its side effects: recorded when it did something.
    quiet: bool,
}

impl Notifier {
    /// A notifier for `config`. Secrets (webhook URLs, signing keys, SMTP
    /// credentials) are read now through `env`; a missing one fails that
    /// channel's deliveries and is listed by [`Notifier::problems`].
    /// `github` serves the `github_issue` channels.
    pub fn new(
        config: &NotifyConfig,
        env: &dyn Fn(&str) -> Option<String>,
        github: Option<&GitHub>,
    ) -> Notifier {
        let channels = config
            .channels
            .iter()
            .map(|(name, channel)| (name.clone(), Arc::new(Channel::new(channel, env, github))))
            .collect();
        Notifier {
            channels,
            rules: config.rules.clone(),
            settings: DeliverySettings::default(),
        }
    }

    /// The notifier of a workspace: `notify:` with secrets from the
    /// environment and `github:` for issue channels; `None` when it declares
    /// no channel.
    pub fn for_workspace(config: &WorkspaceConfig) -> Option<Notifier> {
        if config.notify.channels.is_empty() {
            return None;
        }
        let github = GitHub::new(GitHubSettings::from_env(
            config.github.api_url.as_deref(),
            config.github.token_env.as_deref(),
        ));
        let env = |name: &str| std::env::var(name).ok();
        Some(Notifier::new(&config.notify, &env, Some(&github)))
    }

    /// Replaces the retry and timeout settings.
    pub fn with_settings(mut self, settings: DeliverySettings) -> Notifier {
        self.settings = settings;
        self
    }

    /// The channels' names, in weft.yaml's order.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// What keeps channels from delivering: `(channel, problem)`, such as a
    /// secret whose variable is not set.
    pub fn problems(&self) -> Vec<(String, NotifyError)> {
        self.channels
            .iter()
            .filter_map(|(name, channel)| Some((name.clone(), channel.problem()?)))
            .collect()
    }

    /// Routes `notification` through every rule.
    pub async fn notify(&self, notification: &Notification) -> Vec<Delivery> {
        self.route(notification, None).await
    }

    /// Routes `notification` through the named rules only (an environment's
    /// `notify:` list); names that are not rules are ignored.
    pub async fn notify_rules(
        &self,
        notification: &Notification,
        rules: &[String],
    ) -> Vec<Delivery> {
        self.route(notification, Some(rules)).await
    }

    /// The escalations `notification` arms under the rules (or only the
    /// named ones): every matching rule with `escalate_after`. A resolving
    /// event arms none.
    pub fn escalations(
        &self,
        notification: &Notification,
        only: Option<&[String]>,
    ) -> Vec<Escalation> {
        if notification.event.is_resolution() {
            return Vec::new();
        }
        self.rules
            .iter()
            .filter(|(name, _)| only.is_none_or(|only| only.contains(name)))
            .filter(|(_, rule)| {
                rule.matches(
                    notification.event,
                    notification.severity,
                    &notification.environment,
                )
            })
            .filter_map(|(name, rule)| {
                Some(Escalation {
                    rule: name.clone(),
                    after: rule.escalate_after?.0,
                })
            })
            .collect()
    }

    /// Tells `rule`'s `escalate_to` channels that the release of
    /// `notification` is still unresolved `after` it. The caller sends each
    /// escalation once, and none for a resolved environment.
    pub async fn escalate(
        &self,
        rule: &str,
        notification: &Notification,
        after: Duration,
    ) -> Vec<Delivery> {
        let Some(config) = self.rules.get(rule) else {
            return Vec::new();
        };
        let mut targets: Vec<Target> = Vec::new();
        for channel in &config.escalate_to {
            if targets.iter().all(|t| &t.channel != channel) {
                targets.push(Target {
                    channel: channel.clone(),
                    rule: Some(rule.to_string()),
                    escalation: true,
                    quiet: false,
                });
            }
        }
        tracing::info!(%rule, thread = %notification.thread, "escalating an unresolved release");
        self.deliver(targets, Arc::new(escalated(notification, after)))
            .await
    }

    /// Sends a test message to one channel (`weft notify test CHANNEL`). A
    /// GitHub-issue channel only checks that it can search the repository.
    pub async fn notify_test(&self, channel: &str) -> Result<Delivery, NotifyError> {
        if !self.channels.contains_key(channel) {
            return Err(self.unknown(channel));
        }
        let notification = Notification::new(NotifyEvent::Test, "test", "weft-test")
            .title(format!("Test notification for channel {channel}"))
            .text(format!(
                "weft sent this to check the `{channel}` channel: if you can read it, the channel works."
            ));
        let target = Target {
            channel: channel.to_string(),
            rule: None,
            escalation: false,
            quiet: false,
        };
        let mut deliveries = self.deliver(vec![target], Arc::new(notification)).await;
        deliveries.pop().ok_or_else(|| NotifyError::Task {
            message: "no delivery came back".to_string(),
        })
    }

    async fn route(&self, notification: &Notification, only: Option<&[String]>) -> Vec<Delivery> {
        let notification = Arc::new(notification.clone());
        let allowed = |name: &String| only.is_none_or(|only| only.contains(name));
        let rules: Vec<(&String, &RuleConfig)> = self
            .rules
            .iter()
            .filter(|(name, _)| allowed(name))
            .collect();
        let mut targets: Vec<Target> = Vec::new();
        let add = |targets: &mut Vec<Target>, channel: &String, rule: &String, quiet: bool| {
            if targets.iter().all(|t| &t.channel != channel) {
                targets.push(Target {
                    channel: channel.clone(),
                    rule: Some(rule.clone()),
                    escalation: false,
                    quiet,
                });
            }
        };
        let matching: Vec<(&String, &RuleConfig)> = rules
            .iter()
            .copied()
            .filter(|(_, rule)| {
                rule.matches(
                    notification.event,
                    notification.severity,
                    &notification.environment,
                )
            })
            .collect();
        for (name, rule) in &matching {
            for channel in &rule.channels {
                add(&mut targets, channel, name, false);
            }
        }
        let resolution = notification.event.is_resolution();
        if resolution {
            for (name, rule) in rules
                .iter()
                .filter(|(_, r)| r.applies_to(&notification.environment))
            {
                for channel in rule.channels.iter().chain(&rule.escalate_to) {
                    let tracker = self
                        .channels
                        .get(channel)
                        .is_some_and(|c| c.is_issue_tracker());
                    if tracker {
                        add(&mut targets, channel, name, true);
                    }
                }
            }
        }
        self.deliver(targets, notification).await
    }

    /// Delivers to every target at once; the deliveries in target order.
    async fn deliver(
        &self,
        targets: Vec<Target>,
        notification: Arc<Notification>,
    ) -> Vec<Delivery> {
        let mut running = Vec::new();
        for target in targets {
            let task = self.channels.get(&target.channel).map(|channel| {
                tokio::spawn(Arc::clone(channel).deliver(Arc::clone(&notification), self.settings))
            });
            running.push((target, task));
        }
        let mut deliveries = Vec::new();
        for (target, task) in running {
            let (result, attempts) = match task {
                None => (Err(self.unknown(&target.channel)), 0),
                Some(task) => task.await.unwrap_or_else(|error| {
                    let message = if error.is_panic() {
                        "it panicked"
                    } else {
                        "it was cancelled"
                    };
                    (
                        Err(NotifyError::Task {
                            message: message.to_string(),
                        }),
                        0,
                    )
                }),
            };
            if target.quiet && matches!(result, Ok(Sent::Nothing)) {
                continue;
            }
            let delivery = Delivery {
                ok: result.is_ok(),
                error: result.err().map(|e| e.to_string()),
                channel: target.channel,
                rule: target.rule,
                escalation: target.escalation,
                attempts,
                at: jiff::Timestamp::now(),
            };
            if let Some(error) = &delivery.error {
                tracing::warn!(channel = %delivery.channel, rule = ?delivery.rule, attempts, %error, "notification not delivered");
            } else {
                tracing::info!(channel = %delivery.channel, rule = ?delivery.rule, attempts, event = %notification.event, "notification delivered");
            }
            deliveries.push(delivery);
        }
        deliveries
    }

    fn unknown(&self, channel: &str) -> NotifyError {
        NotifyError::UnknownChannel {
            name: channel.to_string(),
            known: self.channels.keys().cloned().collect(),
        }
    }
}
