//! Wake-ups between PostgreSQL replicas: every change that grants a waiter
//! or records an event sends a `NOTIFY` at commit; each replica `LISTEN`s
//! and wakes its own waiters and event subscribers.

use serde::{Deserialize, Serialize};

use crate::leases::Effects;

pub(crate) const CHANNEL: &str = "weft_coordination";

/// What a notification carries: waiter ids to wake, event ids to publish.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Payload {
    #[serde(default)]
    pub(crate) granted: Vec<String>,
    #[serde(default)]
    pub(crate) events: Vec<i64>,
    /// Too much to list: wake every waiter and read every new event.
    #[serde(default)]
    pub(crate) overflow: bool,
    /// The store whose lease engine sent it ([`Store::origin`]), which
    /// woke its waiters and published its events itself.
    ///
    /// [`Store::origin`]: crate::Store
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<i64>,
}

/// PostgreSQL limits a payload to 8000 bytes; past that, listeners are told
/// to look at everything.
pub(crate) fn payload(effects: &Effects) -> String {
    let payload = Payload {
        granted: effects.granted.iter().map(|g| g.waiter.clone()).collect(),
        events: effects.events.iter().map(|e| e.id).collect(),
        overflow: false,
        origin: None,
    };
    let text = serde_json::to_string(&payload).unwrap_or_default();
    if text.len() < 7900 {
        text
    } else {
        r#"{"overflow":true}"#.to_owned()
    }
}
