//! The engine's connection, kept from one batch to the next.
//!
//! A connection lent by sqlx's pool costs round trips of its own: the pool
//! pings it as it comes back (and, on PostgreSQL, again before lending it
//! out), and returns it on a task of its own. The engine runs one batch at
//! a time, so it keeps one connection instead and begins and commits its
//! transactions with statements run on it. A batch that fails, or is
//! dropped, before its commit closes the connection, which rolls the
//! transaction back: it is never kept, or given back to the pool, open.
//! (The one exception is a batch decided from the engine's cache whose
//! check found a row changed: it rolls back on the connection and goes on
//! with a load; see `cache.rs`.)
//! Nor is it given back at all: on PostgreSQL it holds the engine's
//! prepared statements, which a connection the engine takes from the pool
//! must not have, and session settings no other statement should run
//! under (see `sql.rs`). So a kept connection has them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};

use super::cache::Cache;
use crate::error::StoreError;

/// Where the connection waits between batches.
#[derive(Debug, Default)]
pub(crate) struct Keeper {
    slot: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    /// With the write statements prepared on it (`Scripted::writes`) and
    /// what its transactions left (`Scripted::cache`).
    connection: Option<(PoolConnection<Any>, BTreeSet<u16>, Cache)>,
    /// The store is closing: what comes back is closed.
    closed: bool,
}

impl Keeper {
    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Closes the kept connection, and any that comes back later, so that
    /// the pool, which waits for every connection it lent, can close.
    pub(crate) fn close(&self) {
        let connection = {
            let mut slot = self.slot();
            slot.closed = true;
            slot.connection.take()
        };
        if let Some((connection, _, _)) = connection {
            drop(connection.detach());
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        // Closed rather than given back: giving back takes a runtime.
        self.close();
    }
}

/// A transaction begun and committed by the statements run on it (on
/// SQLite, `BEGIN IMMEDIATE` first in one script and `COMMIT` last in
/// another: two round trips to the connection's thread in all, or one for
/// a batch decided from the cache), on the engine's connection, holding
/// the write gate where there is one.
pub(crate) struct Scripted {
    connection: Option<PoolConnection<Any>>,
    keeper: Arc<Keeper>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Whether the connection served an earlier batch (rather than coming
    /// from the pool, which tests what it lends).
    pub(crate) kept: bool,
    /// The engine's write statements prepared on the connection, by key:
    /// the kinds of change each makes, which of them have one row, and
    /// whether it forgets old releases and checks the cache (see
    /// `Session::Engine`).
    pub(crate) writes: BTreeSet<u16>,
    /// What the connection's transactions left in the resources they
    /// locked (see `cache.rs`): only for a connection kept since, which
    /// is the only writer that kept it up to date.
    pub(super) cache: Cache,
    pub(crate) committed: bool,
}

impl Scripted {
    /// The kept connection, or one from `pool`.
    pub(crate) async fn new(
        keeper: Arc<Keeper>,
        pool: &AnyPool,
        gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    ) -> Result<Scripted, StoreError> {
        let kept = keeper.slot().connection.take();
        let (connection, kept, writes, cache) = match kept {
            Some((connection, writes, cache)) => (connection, true, writes, cache),
            None => (
                pool.acquire().await?,
                false,
                BTreeSet::new(),
                Cache::default(),
            ),
        };
        Ok(Scripted {
            connection: Some(connection),
            keeper,
            _gate: gate,
            kept,
            writes,
            cache,
            committed: false,
        })
    }

    pub(crate) fn connection(&mut self) -> Result<&mut AnyConnection, StoreError> {
        self.connection
            .as_deref_mut()
            .ok_or(StoreError::Database(sqlx::Error::PoolClosed))
    }

    /// Closes this connection and takes one from `pool` instead: for a
    /// kept connection that failed before anything ran on it.
    pub(crate) async fn replace(&mut self, pool: &AnyPool) -> Result<(), StoreError> {
        if let Some(connection) = self.connection.take() {
            drop(connection.detach());
        }
        self.connection = Some(pool.acquire().await?);
        self.kept = false;
        self.writes.clear();
        self.cache.clear();
        Ok(())
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.committed {
            let mut slot = self.keeper.slot();
            if !slot.closed && slot.connection.is_none() {
                slot.connection = Some((
                    connection,
                    std::mem::take(&mut self.writes),
                    std::mem::take(&mut self.cache),
                ));
                return;
            }
        }
        drop(connection.detach());
    }
}
