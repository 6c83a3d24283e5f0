//! The PostgreSQL listener of a server's coordinator: the wake-ups and
//! events every replica's changes announce with `NOTIFY` (see `notify.rs`).

use std::time::Duration;

use super::Coordinator;
use crate::error::StoreError;
use crate::notify::{CHANNEL, Payload};
use crate::types::Event;

impl Coordinator {
    pub(super) async fn spawn_listener(&self) -> Result<(), StoreError> {
        let url = self.inner.store.connect_url().to_owned();
        let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
        listener.listen(CHANNEL).await?;
        let mut last_event = self.inner.store.last_event_id().await?;
        let coordinator = self.clone();
        tokio::spawn(async move {
            let mut shutdown = coordinator.inner.shutdown.subscribe();
            // Whether notifications may have been lost since the last one.
            let mut behind = false;
            loop {
                let notification = tokio::select! {
                    _ = shutdown.changed() => {
                        // Nobody takes the engine's events any more.
                        coordinator.inner.store.own_events.stop();
                        return;
                    }
                    notification = listener.try_recv() => notification,
                };
                match notification {
                    Ok(Some(notification)) => {
                        if behind {
                            behind = !coordinator.catch_up(&mut last_event).await;
                        }
                        let payload: Payload =
                            serde_json::from_str(notification.payload()).unwrap_or_default();
                        // Behind, its events would be published past the
                        // ones missed: they wait for the catch-up.
                        behind = !coordinator.heard(&payload, &mut last_event, !behind).await;
                    }
                    // The connection dropped and was re-established:
                    // notifications may be lost, so every waiter looks,
                    // and the events since the last one published are read.
                    Ok(None) => {
                        coordinator.wake_all();
                        behind = !coordinator.catch_up(&mut last_event).await;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "lost the PostgreSQL listener; reconnecting");
                        coordinator.wake_all();
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        // Listening again first (a query connects the
                        // listener and listens again), then what was missed
                        // meanwhile; else after the next notification.
                        behind = true;
                        if sqlx::query("SELECT 1").execute(&mut listener).await.is_ok() {
                            coordinator.wake_all();
                            behind = !coordinator.catch_up(&mut last_event).await;
                        }
                    }
                }
            }
        });
        Ok(())
    }
}

/// How long the listener waits for its own lease engine to note the events
/// of a notification it sent (see `notify.rs`) before it reads them.
const OWN_EVENTS_PATIENCE: Duration = Duration::from_secs(1);

impl Coordinator {
    /// Wakes the waiters a notification names and, if `publish`, publishes
    /// its events. This store's lease engine woke its own waiters as it
    /// committed, and kept its events: those are read only if they are not
    /// there. Whether the events are all published (none missed for a
    /// read that failed).
    async fn heard(&self, payload: &Payload, last_event: &mut i64, publish: bool) -> bool {
        let store = &self.inner.store;
        let own = payload.origin == Some(store.origin);
        if !own {
            if payload.overflow {
                self.wake_all();
            }
            for waiter in &payload.granted {
                self.wake(waiter);
            }
        }
        if !publish {
            return false;
        }
        if payload.overflow {
            return self.catch_up(last_event).await;
        }
        // Those up to the newest published were read already (by a catch-up)
        // or would not be published.
        let wanted: Vec<i64> = payload
            .events
            .iter()
            .copied()
            .filter(|id| id > last_event)
            .collect();
        if wanted.is_empty() {
            return true;
        }
        let mut events = Vec::with_capacity(wanted.len());
        let missing = if own {
            store
                .own_events
                .take(&wanted, OWN_EVENTS_PATIENCE, &mut events)
                .await
        } else {
            wanted
        };
        if !missing.is_empty() {
            match store.events_by_id(&missing).await {
                Ok(read) => events.extend(read),
                Err(error) => {
                    // Published past them, they would be lost: they wait
                    // for a catch-up with the rest.
                    tracing::warn!(%error, "cannot read events");
                    return false;
                }
            }
        }
        self.publish_in_order(events, last_event);
        true
    }

    /// Reads and publishes every event after `last_event`; whether it
    /// could.
    async fn catch_up(&self, last_event: &mut i64) -> bool {
        let store = &self.inner.store;
        loop {
            match store.events_after(*last_event, 1000).await {
                Ok(events) => {
                    let Some(last) = events.last().map(|e| e.id) else {
                        return true;
                    };
                    store.own_events.forget_through(last);
                    let full = events.len() == 1000;
                    self.publish_in_order(events, last_event);
                    if !full {
                        return true;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read events");
                    return false;
                }
            }
        }
    }

    /// Publishes `events` in id order, each once: an event older than the
    /// newest published (committed after it, or read again) is not, as the
    /// event stream's clients, which resume from the newest id they saw,
    /// would not see it either.
    fn publish_in_order(&self, mut events: Vec<Event>, last_event: &mut i64) {
        events.sort_unstable_by_key(|e| e.id);
        for event in events {
            if event.id <= *last_event {
                continue;
            }
            *last_event = event.id;
            let _ = self.inner.events.send(event);
        }
    }
}
