//! Escalation: a rule with `escalate_after` tells its `escalate_to` channels
//! when a release is still unresolved that long after a notification it
//! routed. The notifier says which escalations a notification arms
//! ([`crate::Notifier::escalations`]) and sends one when it comes due
//! ([`crate::Notifier::escalate`]); keeping the timers is the caller's, so
//! that they outlive the process that armed them (`weft-deploy` keeps them in
//! the store, and `weft serve` sends them).

use std::time::Duration;

use crate::notification::Notification;

/// An escalation a notification arms: unless its environment is resolved
/// within `after`, `rule`'s `escalate_to` channels hear of it, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub rule: String,
    pub after: Duration,
}

/// The notification an escalation sends: the original, retitled.
pub(crate) fn escalated(original: &Notification, after: Duration) -> Notification {
    let after = weft_model::config::Duration(after);
    let mut notification = original.clone();
    notification.title = format!("Unresolved after {after}: {}", original.title);
    let mut text = format!(
        "Release `{}` in {} is still unresolved {after} after {}.",
        original.deployment,
        original.environment,
        original.event.describe()
    );
    if !original.text.is_empty() {
        text.push_str("\n\n");
        text.push_str(&original.text);
    }
    notification.text = text;
    notification.at = jiff::Timestamp::now();
    notification
}

#[cfg(test)]
mod tests {
    use weft_model::config::NotifyEvent;

    use super::*;

    #[test]
    fn an_escalation_says_how_long_the_release_has_been_unresolved() {
        let failed = Notification::new(NotifyEvent::DeploymentFailed, "prod", "d-1")
            .title("Release failed in prod")
            .text("api failed its gate");
        let escalation = escalated(&failed, Duration::from_secs(120));
        assert_eq!(
            escalation.title,
            "Unresolved after 2m: Release failed in prod"
        );
        assert!(
            escalation
                .text
                .starts_with("Release `d-1` in prod is still unresolved 2m after"),
            "{}",
            escalation.text
        );
        assert!(escalation.text.ends_with("api failed its gate"));
        assert_eq!(escalation.thread, failed.thread);
    }
}
