//! Waits running in this process, and grants handed to them in memory.
//!
//! A claim that queues parks in [`Coordinator::wait`](crate::Coordinator)
//! until a release (or an expiry, a cancelled waiter ahead of it) grants it.
//! A grant made by this process to a wait attached here is *handed over*:
//! the granting transaction also collects it (the waiter's row deleted, its
//! operation finished), and the lease goes to the wait in memory once that
//! transaction commits. The waiter is answered after one commit instead of
//! two, which is most of the wake latency.
//!
//! A waiter of another process (another replica, a CLI on the same SQLite
//! file) keeps its row, which holds the lease until that process collects
//! it. So does a wait not attached yet: it collects from its row first.
//!
//! A lease handed to a wait that went away meanwhile is nobody's: given back
//! at once, unless the claim has a request id, whose client may ask again
//! and find it (the lease's id is the request id).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::types::Lease;

/// The waits attached in this process, by waiter id. Shared by a store's
/// clones.
#[derive(Debug, Default)]
pub(crate) struct Waits {
    slots: Mutex<HashMap<String, Arc<WaitSlot>>>,
}

/// One wait: how to wake it, and the lease handed to it.
#[derive(Debug)]
pub(crate) struct WaitSlot {
    pub(crate) notify: Notify,
    /// The claim has a request id: a lease handed to this wait after it went
    /// away is left for the client to ask for again.
    keep: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
enum State {
    Waiting,
    /// A transaction being committed collected a grant for this wait: the
    /// lease is handed over once it commits, or the promise withdrawn.
    Promised,
    Handed(Box<Lease>),
    /// Taken by the wait, or the wait went away.
    Closed,
}

/// What a wait finds handed to it.
#[derive(Debug, PartialEq)]
pub(crate) enum Handed {
    /// Its lease, which it now owns.
    Lease(Box<Lease>),
    /// A grant for it is being committed: its row may be gone already, its
    /// lease not handed yet.
    Coming,
    Nothing,
}

impl WaitSlot {
    /// What was handed to this wait, in one look (a grant may be handed
    /// over at any moment).
    pub(crate) fn look(&self) -> Handed {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, State::Closed) {
            State::Handed(lease) => Handed::Lease(lease),
            other => {
                let promised = matches!(other, State::Promised);
                *state = other;
                if promised {
                    Handed::Coming
                } else {
                    Handed::Nothing
                }
            }
        }
    }

    /// The lease handed to this wait, if any; the wait then owns it.
    pub(crate) fn take(&self) -> Option<Lease> {
        match self.look() {
            Handed::Lease(lease) => Some(*lease),
            Handed::Coming | Handed::Nothing => None,
        }
    }
}

/// A lease handed over to nobody: the wait it was for went away.
#[derive(Debug, PartialEq)]
pub(crate) struct Unclaimed {
    pub(crate) lease: Lease,
    /// Leave it for the client to ask again (the claim has a request id),
    /// rather than give it back.
    pub(crate) keep: bool,
}

impl Waits {
    /// Attaches a wait for `waiter`. A second wait on the same id (a client
    /// asking again with its request id) takes the first one's place.
    pub(crate) fn attach(&self, waiter: &str, keep: bool) -> Arc<WaitSlot> {
        let slot = Arc::new(WaitSlot {
            notify: Notify::new(),
            keep,
            state: Mutex::new(State::Waiting),
        });
        lock(&self.slots).insert(waiter.to_owned(), slot.clone());
        slot
    }

    /// Detaches `slot`, the wait for `waiter`, which is ending. A lease
    /// handed to it and not taken comes back, to give back or keep.
    pub(crate) fn detach(&self, waiter: &str, slot: &Arc<WaitSlot>) -> Option<Unclaimed> {
        {
            let mut slots = lock(&self.slots);
            if slots
                .get(waiter)
                .is_some_and(|attached| Arc::ptr_eq(attached, slot))
            {
                slots.remove(waiter);
            }
        }
        match std::mem::replace(&mut *lock(&slot.state), State::Closed) {
            State::Handed(lease) => Some(Unclaimed {
                lease: *lease,
                keep: slot.keep,
            }),
            // A promised lease ending up unclaimed is `hand`'s to return.
            State::Waiting | State::Promised | State::Closed => None,
        }
    }

    /// Whether a grant to `waiter` is to be handed over: a wait for it is
    /// attached and has not ended. If so, the wait is promised the lease
    /// (see [`WaitSlot::promised`]) until [`Waits::hand`] or
    /// [`Waits::withdraw`]. What to do with the lease if the wait ends
    /// before it is handed is decided now (`keep`), as the wait may be gone
    /// by then.
    pub(crate) fn promise(&self, waiter: &str) -> Option<Handover> {
        let slot = lock(&self.slots).get(waiter).cloned()?;
        let mut state = lock(&slot.state);
        if !matches!(*state, State::Waiting) {
            return None;
        }
        *state = State::Promised;
        Some(Handover { keep: slot.keep })
    }

    /// Withdraws the promises to `waiters`: the transaction that would have
    /// granted them failed, and their rows are as they were. Wakes them, to
    /// look again.
    pub(crate) fn withdraw(&self, waiters: &[String]) {
        for waiter in waiters {
            let Some(slot) = self.get(waiter) else {
                continue;
            };
            let mut state = lock(&slot.state);
            if matches!(*state, State::Promised) {
                *state = State::Waiting;
                drop(state);
                slot.notify.notify_one();
            }
        }
    }

    /// Hands `lease`, granted to `waiter` by a committed transaction that
    /// collected it, to its wait, and wakes it. Returns it when the wait is
    /// gone.
    pub(crate) fn hand(&self, waiter: &str, lease: Lease, handover: Handover) -> Option<Unclaimed> {
        let slot = lock(&self.slots).get(waiter).cloned();
        if let Some(slot) = slot {
            let mut state = lock(&slot.state);
            if matches!(*state, State::Waiting | State::Promised) {
                *state = State::Handed(Box::new(lease));
                drop(state);
                slot.notify.notify_one();
                return None;
            }
        }
        Some(Unclaimed {
            lease,
            keep: handover.keep,
        })
    }

    /// The wait for `waiter`, to wake.
    pub(crate) fn get(&self, waiter: &str) -> Option<Arc<WaitSlot>> {
        lock(&self.slots).get(waiter).cloned()
    }

    /// Every wait, to wake.
    pub(crate) fn all(&self) -> Vec<Arc<WaitSlot>> {
        lock(&self.slots).values().cloned().collect()
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.slots).len()
    }
}

/// A grant collected by the transaction that made it, for a wait of this
/// process (see [`Waits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handover {
    /// Leave the lease for the client to ask again if the wait is gone.
    pub(crate) keep: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Holder, Mode, ResourceId};

    fn lease(id: &str) -> Lease {
        Lease {
            id: id.to_owned(),
            resource: ResourceId::parse("lock:test").expect("resource"),
            mode: Mode::Exclusive,
            weight: 1,
            token: 1,
            holder: Holder::default(),
            priority: 0,
            ttl_ms: 1_000,
            granted_at: String::new(),
            expires_at: String::new(),
            granted_at_ms: 0,
            expires_at_ms: 1_000,
        }
    }

    #[test]
    fn a_handed_lease_is_taken_once() {
        let waits = Waits::default();
        let slot = waits.attach("w", false);
        assert_eq!(slot.look(), Handed::Nothing);
        let handover = waits.promise("w").expect("attached");
        assert_eq!(slot.look(), Handed::Coming);
        assert!(waits.promise("w").is_none(), "promised once");
        assert_eq!(waits.hand("w", lease("w"), handover), None);
        assert_eq!(slot.look(), Handed::Lease(Box::new(lease("w"))));
        assert_eq!(slot.look(), Handed::Nothing);
        // Taken: the wait ends owning it, nothing comes back.
        assert_eq!(waits.detach("w", &slot), None);
        assert_eq!(waits.len(), 0);
    }

    #[test]
    fn a_lease_handed_after_the_wait_ended_comes_back() {
        let waits = Waits::default();
        let slot = waits.attach("w", true);
        let handover = waits.promise("w").expect("attached");
        assert_eq!(waits.detach("w", &slot), None);
        assert!(waits.promise("w").is_none(), "detached");
        let unclaimed = waits
            .hand("w", lease("w"), handover)
            .expect("nobody took it");
        assert!(unclaimed.keep, "decided when the grant was made");
    }

    #[test]
    fn a_lease_handed_and_not_taken_comes_back_when_the_wait_ends() {
        let waits = Waits::default();
        let slot = waits.attach("w", false);
        let handover = waits.promise("w").expect("attached");
        assert_eq!(waits.hand("w", lease("w"), handover), None);
        let unclaimed = waits.detach("w", &slot).expect("handed, not taken");
        assert_eq!((unclaimed.lease.id.as_str(), unclaimed.keep), ("w", false));
    }

    #[test]
    fn a_withdrawn_promise_leaves_the_wait_waiting() {
        let waits = Waits::default();
        let slot = waits.attach("w", false);
        waits.promise("w").expect("attached");
        waits.withdraw(&["w".to_owned()]);
        assert_eq!(slot.look(), Handed::Nothing);
        // It can be promised again, by the next transaction.
        assert!(waits.promise("w").is_some());
    }

    #[test]
    fn a_second_wait_on_the_same_id_takes_the_place() {
        let waits = Waits::default();
        let first = waits.attach("w", true);
        let second = waits.attach("w", true);
        // The first ending leaves the second attached.
        assert_eq!(waits.detach("w", &first), None);
        let handover = waits.promise("w").expect("the second is attached");
        assert_eq!(waits.hand("w", lease("w"), handover), None);
        assert!(first.take().is_none());
        assert!(second.take().is_some());
    }
}
