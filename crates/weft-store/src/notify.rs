//! Wake-ups between PostgreSQL replicas: every change that grants a waiter
//! or records an event sends a `NOTIFY` at commit; each replica `LISTEN`s
//! and wakes its own waiters and event subscribers.

use serde::{Deserialize, Serialize};

use crate::leases::Effects;
use crate::types::Event;

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
    /// The store whose lease engine sent it (see `Store::origin`), which
    /// woke its own waiters as it committed and kept its events for its
    /// listener (see [`OwnEvents`]).
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

/// Events this store's lease engine committed on PostgreSQL, kept for its
/// listener to publish when it hears their notification (in the order
/// notifications come, the one order every replica publishes in) without
/// reading them back. Noted only while a listener runs; any can be
/// forgotten at any time, for the listener reads what it does not find.
#[derive(Debug, Default)]
pub(crate) struct OwnEvents {
    events: std::sync::Mutex<Kept>,
    noted: tokio::sync::Notify,
    /// How many listeners take them (coordinators on one store).
    listeners: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default)]
struct Kept {
    events: std::collections::BTreeMap<i64, Event>,
    /// The newest id noted: the engine notes its batches one at a time,
    /// in commit order, so an id below it that is not here never will be.
    newest: i64,
}

impl OwnEvents {
    /// The most kept: past that, the oldest are forgotten (a notification
    /// lost while the listener reconnected leaves its events here).
    const LIMIT: usize = 4096;

    fn events(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A listener takes the events from now on.
    pub(crate) fn listen(&self) {
        self.listeners
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A listener stopped. Once none is left, nothing is kept, and what
    /// was is let go.
    pub(crate) fn stop(&self) {
        let mut kept = self.events();
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        let left = self
            .listeners
            .fetch_update(relaxed, relaxed, |listeners| listeners.checked_sub(1))
            .map_or(0, |before| before - 1);
        if left == 0 {
            kept.events.clear();
        }
    }

    /// Keeps `events`, just committed, if a listener takes them.
    pub(crate) fn note(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        {
            // Looked at under the lock `stop` takes, so that nothing is
            // kept once the last listener stopped.
            let mut kept = self.events();
            if self.listeners.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                return;
            }
            kept.events.extend(events.iter().map(|e| (e.id, e.clone())));
            while kept.events.len() > Self::LIMIT {
                kept.events.pop_first();
            }
            let newest = events.iter().map(|e| e.id).max().unwrap_or_default();
            kept.newest = kept.newest.max(newest);
        }
        self.noted.notify_waiters();
    }

    /// Takes the events with these ids, waiting up to `patience` for those
    /// not noted yet (the notification can arrive before the batch that
    /// sent it has its answer back); returns the ids it did not find.
    pub(crate) async fn take(
        &self,
        ids: &[i64],
        patience: std::time::Duration,
        into: &mut Vec<Event>,
    ) -> Vec<i64> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            // Registered before looking, so a note in between wakes it.
            let noted = self.noted.notified();
            {
                let mut kept = self.events();
                let newest = ids.iter().copied().max().unwrap_or_default();
                if newest <= kept.newest || tokio::time::Instant::now() >= deadline {
                    return ids
                        .iter()
                        .filter(|id| match kept.events.remove(id) {
                            Some(event) => {
                                into.push(event);
                                false
                            }
                            None => true,
                        })
                        .copied()
                        .collect();
                }
            }
            let _ = tokio::time::timeout_at(deadline, noted).await;
        }
    }

    /// Forgets every event up to `id`.
    pub(crate) fn forget_through(&self, id: i64) {
        let mut kept = self.events();
        kept.events = kept.events.split_off(&(id + 1));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn event(id: i64) -> Event {
        Event {
            id,
            at: String::new(),
            kind: "lease.granted".to_owned(),
            resource: None,
            data: serde_json::Value::Null,
        }
    }

    #[tokio::test]
    async fn events_are_kept_only_while_a_listener_takes_them() {
        let own = OwnEvents::default();
        own.note(&[event(1)]);
        own.listen();
        own.note(&[event(2), event(3)]);
        let mut taken = Vec::new();
        let missing = own.take(&[1, 2], Duration::ZERO, &mut taken).await;
        assert_eq!(missing, [1], "noted before anyone listened");
        assert_eq!(taken.iter().map(|e| e.id).collect::<Vec<_>>(), [2]);

        // Two listeners (two coordinators on one store): kept until both stop.
        own.listen();
        own.stop();
        own.note(&[event(4)]);
        own.stop();
        own.note(&[event(5)]);
        let mut taken = Vec::new();
        let missing = own.take(&[3, 4, 5], Duration::ZERO, &mut taken).await;
        assert_eq!(missing, [3, 4, 5], "let go when the last listener stopped");
        assert!(taken.is_empty());

        // A stop too many changes nothing; a listener that starts again keeps them.
        own.stop();
        own.listen();
        own.note(&[event(6)]);
        let missing = own.take(&[6], Duration::ZERO, &mut taken).await;
        assert!(missing.is_empty() && taken.len() == 1);
    }
}
