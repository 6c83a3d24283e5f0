//! The guard of a wait: what happens to a waiter whose request is dropped.

use std::sync::Arc;

use super::Coordinator;
use crate::time::now_ms;
use crate::waits::WaitSlot;

/// Takes a waiter out of the queue when its request is dropped.
pub(super) struct WaitGuard {
    pub(super) coordinator: Coordinator,
    pub(super) waiter: String,
    /// This wait's own: a second wait on the same request id attaches its
    /// own, which this one must not take out.
    pub(super) slot: Arc<WaitSlot>,
    pub(super) armed: bool,
    /// The claim has a request id: a waiter whose connection went keeps
    /// its place for [`REATTACH_GRACE_MS`] rather than leaving the queue.
    pub(super) keep: bool,
}

/// How long a waiter whose client went away (its connection cut, or the
/// server shutting down) keeps its place for the client to ask again with
/// its request id: the clients' own patience for an unreachable server.
pub(crate) const REATTACH_GRACE_MS: i64 = 10_000;

impl Drop for WaitGuard {
    fn drop(&mut self) {
        let unclaimed = self
            .coordinator
            .inner
            .store
            .waits
            .detach(&self.waiter, &self.slot);
        if let Ok(mut woken) = self.coordinator.inner.woken_at.lock() {
            woken.remove(&self.waiter);
        }
        if let Some(lease) = unclaimed {
            // Handed over as the wait went: its row is gone already.
            self.coordinator.inner.store.give_back(lease.id);
            return;
        }
        if !self.armed {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let coordinator = self.coordinator.clone();
        let waiter = std::mem::take(&mut self.waiter);
        if self.keep {
            handle.spawn(async move {
                match coordinator
                    .inner
                    .store
                    .keep_waiter(&waiter, REATTACH_GRACE_MS)
                    .await
                {
                    // The reaper gives the place (and a grant made to it)
                    // back as soon as the grace runs out.
                    Ok(()) => coordinator.schedule(now_ms() + REATTACH_GRACE_MS),
                    Err(error) => tracing::warn!(%error, "cannot keep a waiter's place"),
                }
            });
            return;
        }
        handle.spawn(async move {
            match coordinator
                .inner
                .store
                .cancel_wait(&waiter, "waiter went away")
                .await
            {
                Ok(change) => {
                    if let Some(lease) = coordinator.apply(change) {
                        // Granted just as the waiter left: give it back.
                        if let Err(error) = coordinator.release(&lease.id).await {
                            tracing::warn!(%error, "cannot give back an abandoned grant");
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot cancel an abandoned wait"),
            }
        });
    }
}
