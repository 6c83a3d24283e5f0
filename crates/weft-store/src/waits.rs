//! Waits running in this process, and grants handed to them in memory.
//!
//! A claim that queues parks in [`Coordinator::wait`](crate::Coordinator)
//! until a release (or an expiry, a cancelled waiter ahead of it) grants it.
//! A grant made by this process to a wait attached here is *handed over*:
//! the granting transaction also collects it (the waiter's row deleted, its
//! operation finished), and the lease goes to the wait in memory once that
//! transaction commits. The waiter is answered after one commit instead of
//! two (its own collect was about a third of the wake latency here).
//!
//! A waiter of another process (another replica, a CLI on the same SQLite
//! file) keeps its row, which holds the lease until that process collects
//! it. So does a wait not attached yet: it collects from its row first.
//!
//! The hand-over happens in the batch's own task, right after its commit,
//! so a release whose caller went away still hands over what it granted. A
//! lease handed to a wait that went away meanwhile is nobody's: given back
//! at once.
//!
//! A claim with a request id is never handed over: its client may ask again
//! (after a cut connection, at another replica) and must find its place, or
//! its grant, in the waiter's row, which keeps it for a grace period.

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
    /// The claim has a request id: its grants stay in its row (see above).
    keep: bool,
    state: Mutex<State>,
    /// When a lease was handed to it, for the wake latency.
    handed_at: Mutex<Option<std::time::Instant>>,
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

    /// When a lease was handed to this wait.
    pub(crate) fn handed_at(&self) -> Option<std::time::Instant> {
        *lock(&self.handed_at)
    }

    /// The lease handed to this wait, if any; the wait then owns it.
    pub(crate) fn take(&self) -> Option<Lease> {
        match self.look() {
            Handed::Lease(lease) => Some(*lease),
            Handed::Coming | Handed::Nothing => None,
        }
    }
}

impl Waits {
    /// Attaches a wait for `waiter`. A second wait on the same id (a client
    /// asking again with its request id) takes the first one's place.
    pub(crate) fn attach(&self, waiter: &str, keep: bool) -> Arc<WaitSlot> {
        let slot = Arc::new(WaitSlot {
            notify: Notify::new(),
            keep,
            state: Mutex::new(State::Waiting),
            handed_at: Mutex::new(None),
        });
        lock(&self.slots).insert(waiter.to_owned(), slot.clone());
        slot
    }

    /// Detaches `slot`, the wait for `waiter`, which is ending. A lease
    /// handed to it and not taken comes back, to give back.
    pub(crate) fn detach(&self, waiter: &str, slot: &Arc<WaitSlot>) -> Option<Lease> {
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
            State::Handed(lease) => Some(*lease),
            // A promised lease ending up unclaimed is `hand`'s to return.
            State::Waiting | State::Promised | State::Closed => None,
        }
    }

    /// Whether a grant to `waiter` is to be handed over: a wait for it is
    /// attached, has not ended, and its claim has no request id. If so, the
    /// wait is promised the lease ([`Handed::Coming`]) until [`Waits::hand`]
    /// or [`Waits::withdraw`].
    pub(crate) fn promise(&self, waiter: &str) -> Option<Handover> {
        let slot = lock(&self.slots).get(waiter).cloned()?;
        if slot.keep {
            return None;
        }
        let mut state = lock(&slot.state);
        if !matches!(*state, State::Waiting) {
            return None;
        }
        *state = State::Promised;
        Some(Handover { slot: slot.clone() })
    }

    /// Withdraws `promised`: the transaction that would have granted them
    /// failed, and their rows are as they were. Wakes them, to look again.
    pub(crate) fn withdraw(promised: &[Handover]) {
        for Handover { slot } in promised {
            let mut state = lock(&slot.state);
            if matches!(*state, State::Promised) {
                *state = State::Waiting;
                drop(state);
                slot.notify.notify_one();
            }
        }
    }

    /// Hands `lease`, granted by a committed transaction that collected it,
    /// to the wait it was promised to, and wakes it. Returns it when that
    /// wait is gone.
    pub(crate) fn hand(lease: Lease, handover: &Handover) -> Option<Lease> {
        let slot = &handover.slot;
        let mut state = lock(&slot.state);
        if matches!(*state, State::Promised) {
            *state = State::Handed(Box::new(lease));
            drop(state);
            *lock(&slot.handed_at) = Some(std::time::Instant::now());
            slot.notify.notify_one();
            return None;
        }
        Some(lease)
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
/// process (see [`Waits`]): the wait it was promised to.
#[derive(Debug, Clone)]
pub struct Handover {
    slot: Arc<WaitSlot>,
}

impl PartialEq for Handover {
    fn eq(&self, other: &Handover) -> bool {
        Arc::ptr_eq(&self.slot, &other.slot)
    }
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
        assert_eq!(Waits::hand(lease("w"), &handover), None);
        assert!(slot.handed_at().is_some());
        assert_eq!(slot.look(), Handed::Lease(Box::new(lease("w"))));
        assert_eq!(slot.look(), Handed::Nothing);
        // Taken: the wait ends owning it, nothing comes back.
        assert_eq!(waits.detach("w", &slot), None);
        assert_eq!(waits.len(), 0);
    }

    #[test]
    fn a_claim_with_a_request_id_keeps_its_grant_in_its_row() {
        let waits = Waits::default();
        let _slot = waits.attach("w", true);
        assert!(waits.promise("w").is_none());
    }

    #[test]
    fn a_lease_handed_after_the_wait_ended_comes_back() {
        let waits = Waits::default();
        let slot = waits.attach("w", false);
        let handover = waits.promise("w").expect("attached");
        assert_eq!(waits.detach("w", &slot), None);
        assert!(waits.promise("w").is_none(), "detached");
        let back = Waits::hand(lease("w"), &handover).expect("nobody took it");
        assert_eq!(back.id, "w");
    }

    #[test]
    fn a_lease_handed_and_not_taken_comes_back_when_the_wait_ends() {
        let waits = Waits::default();
        let slot = waits.attach("w", false);
        let handover = waits.promise("w").expect("attached");
        assert_eq!(Waits::hand(lease("w"), &handover), None);
        let back = waits.detach("w", &slot).expect("handed, not taken");
        assert_eq!(back.id, "w");
    }

    #[test]
    fn a_withdrawn_promise_leaves_the_wait_waiting() {
        let waits = Waits::default();
        let slot = waits.attach("w", false);
        let handover = waits.promise("w").expect("attached");
        Waits::withdraw(&[handover]);
        assert_eq!(slot.look(), Handed::Nothing);
        // It can be promised again, by the next transaction.
        assert!(waits.promise("w").is_some());
    }

    #[test]
    fn a_lease_goes_to_the_wait_it_was_promised_to() {
        let waits = Waits::default();
        let first = waits.attach("w", false);
        let handover = waits.promise("w").expect("attached");
        // Another wait on the same id attaches meanwhile.
        let second = waits.attach("w", false);
        assert_eq!(Waits::hand(lease("w"), &handover), None);
        assert!(second.take().is_none());
        assert!(first.take().is_some());
    }
}
