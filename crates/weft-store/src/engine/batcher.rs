//! Requests waiting for the next batch of the lease engine, what its
//! batches did (sizes and commit latency, for `/metrics`), and when they
//! forget leases given back long ago.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{Answer, Op, connection};
use crate::metrics::Histogram;
use crate::store::Store;

/// Upper bounds of the batch-size histogram's buckets.
pub const BATCH_SIZE_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// Marks the batcher idle if its task panics, failing what waits (their
/// senders are dropped), so that the next request starts a task again
/// instead of waiting for one that is gone.
pub(super) struct Draining(pub(super) Arc<Batcher>);

impl Drop for Draining {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut queue = self
                .0
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            queue.running = false;
            queue.pending.clear();
        }
    }
}

/// Requests waiting for the next batch, and what batches did.
#[derive(Debug, Default)]
pub(crate) struct Batcher {
    pub(super) queue: Mutex<Pending>,
    stats: Mutex<BatchStats>,
    keeper: Arc<connection::Keeper>,
    /// Batches committed since the log was last checkpointed (SQLite).
    since_checkpoint: AtomicUsize,
    pub(super) checkpointing: AtomicBool,
    /// When the engine next forgets leases given back long ago.
    pub(super) forgetting: Forgetting,
}

/// When the engine forgets the leases given back over an hour ago (see
/// `sql/changes.rs`), at most `FORGET_RELEASED` at a time: in a batch that
/// gives a lease back, once `MAX_BATCH` have been given back since it
/// last did, or a second after; not in every such batch, where the delete
/// was 4% of a PostgreSQL backend's CPU at one client. Between two, fewer
/// than `MAX_BATCH` are counted before the batch that forgets, which adds
/// at most `MAX_BATCH`: fewer than it may forget, so the forgotten keep up
/// with those given back, as they did when every batch forgot. (A batch
/// whose commit went unanswered, and may have happened, is not counted: up
/// to `MAX_BATCH` more, once in a while.)
#[derive(Debug)]
pub(crate) struct Forgetting {
    /// Leases given back since the engine last forgot.
    since: AtomicUsize,
    /// When it last forgot (ms since the epoch; `i64::MIN` before the
    /// first time).
    at: AtomicI64,
}

impl Default for Forgetting {
    fn default() -> Self {
        Forgetting {
            since: AtomicUsize::new(0),
            at: AtomicI64::new(i64::MIN),
        }
    }
}

impl Forgetting {
    /// Leases given back since the engine last forgot that make it forget.
    pub(super) const AFTER: usize = super::MAX_BATCH;
    const EVERY_MS: i64 = 1000;

    /// Whether a batch that gives `released` leases back at `now`
    /// forgets. (The engine runs one batch at a time.)
    pub(crate) fn due(&self, released: usize, now: i64) -> bool {
        let at = self.at.load(Ordering::Relaxed);
        self.since.load(Ordering::Relaxed) + released >= Self::AFTER
            || !(at..at.saturating_add(Self::EVERY_MS)).contains(&now)
    }

    /// Notes a batch committed that gave `released` leases back at `now`,
    /// and whether it forgot.
    pub(crate) fn done(&self, forgot: bool, released: usize, now: i64) {
        if forgot {
            self.since.store(0, Ordering::Relaxed);
            self.at.store(now, Ordering::Relaxed);
        } else {
            self.since.fetch_add(released, Ordering::Relaxed);
        }
    }
}

/// SQLite: the batches between checkpoints of the log beside the engine,
/// a fraction of the thousand pages a commit checkpoints at.
const CHECKPOINT_EVERY: usize = 16;

#[derive(Debug, Default)]
pub(super) struct Pending {
    pub(super) pending: Vec<(Op, oneshot::Sender<Answer>)>,
    pub(super) running: bool,
}

/// Batch sizes and commit latency, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchStats {
    /// Cumulative counts per [`BATCH_SIZE_BUCKETS`] bound.
    pub size_counts: [u64; BATCH_SIZE_BUCKETS.len()],
    pub size_sum: u64,
    /// Seconds from the batch's `BEGIN` to its commit.
    pub commit: Histogram,
    /// Batches decided from the engine's cache and written in one round
    /// trip (see `cache.rs`).
    pub from_cache: u64,
    /// Batches decided from the cache whose round trip found a row changed
    /// (another replica, a renewal…; on SQLite, anything another
    /// connection committed), and that were loaded and decided again.
    pub cache_stale: u64,
    /// Claims and releases waiting for the next batch now.
    pub waiting: usize,
    /// Whether a batch is running now.
    pub running: bool,
}

impl Batcher {
    pub(crate) fn new() -> Arc<Batcher> {
        Arc::new(Batcher::default())
    }

    /// Counts a committed batch; whether the log is due a checkpoint.
    pub(super) fn committed(&self) -> bool {
        let since = self.since_checkpoint.fetch_add(1, Ordering::Relaxed) + 1;
        if since < CHECKPOINT_EVERY {
            return false;
        }
        self.since_checkpoint.store(0, Ordering::Relaxed);
        true
    }

    /// Where the engine keeps its connection between batches.
    pub(crate) fn keeper(&self) -> Arc<connection::Keeper> {
        self.keeper.clone()
    }

    pub(super) fn count(&self, add: impl FnOnce(&mut BatchStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            add(&mut stats);
        }
    }

    pub(super) fn observe(&self, size: usize, seconds: f64) {
        if let Ok(mut stats) = self.stats.lock() {
            for (index, bound) in BATCH_SIZE_BUCKETS.iter().enumerate() {
                if size as f64 <= *bound {
                    stats.size_counts[index] += 1;
                }
            }
            stats.size_sum += size as u64;
            stats.commit.observe(seconds);
        }
    }

    pub(crate) fn stats(&self) -> BatchStats {
        let mut stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        if let Ok(queue) = self.queue.lock() {
            stats.waiting = queue.pending.len();
            stats.running = queue.running;
        }
        stats
    }
}
impl Store {
    /// Batch sizes and commit latency of the lease engine so far.
    pub fn batch_stats(&self) -> BatchStats {
        self.batches.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::Forgetting;

    #[test]
    fn the_engine_forgets_after_a_batch_worth_of_releases_or_a_second() {
        let forgetting = Forgetting::default();
        assert!(forgetting.due(1, 5_000), "the first time");
        assert!(
            Forgetting::default().due(0, 0),
            "the first time, at any time"
        );
        forgetting.done(true, 1, 5_000);
        assert!(!forgetting.due(1, 5_001));
        forgetting.done(false, 1, 5_001);
        assert!(!forgetting.due(126, 5_500), "127 given back since");
        assert!(forgetting.due(127, 5_500), "128 given back since");
        forgetting.done(false, 126, 5_500);
        assert!(forgetting.due(1, 5_600), "128 given back since");
        assert!(forgetting.due(0, 6_000), "a second after");
        assert!(forgetting.due(0, 4_999), "the clock went back");
        forgetting.done(true, 1, 5_600);
        assert!(!forgetting.due(127, 5_700), "counted afresh");
        assert!(forgetting.due(1, 6_600), "a second after the last time");
    }
}
