//! The lease engine: claims and releases decided in memory, many to a
//! transaction.
//!
//! A transaction of the engine has three steps, whatever it holds:
//!
//! 1. **Load.** Create the resources claims name, lock every resource the
//!    batch touches (SQLite: the whole database, `BEGIN IMMEDIATE`;
//!    PostgreSQL: `SELECT … ORDER BY id FOR UPDATE`, so two batches never
//!    deadlock), and read their leases and waiters: a handful of
//!    statements, in one round trip (SQLite: a script; PostgreSQL: a simple
//!    query of statements prepared once on the engine's connection, which
//!    it keeps between batches: see `connection.rs` and `sql.rs`).
//! 2. **Decide.** Each operation runs in memory, in arrival order, against
//!    what the ones before it left: the grant pass of `leases.rs` (reap,
//!    drop stale waiters, grant from the head of the queue), then the
//!    claim or the release itself. The audit rows (operations, events) are
//!    collected, not written.
//! 3. **Write.** The difference between what was loaded and what is left
//!    goes back as one statement per kind of change (leases deleted,
//!    inserted; waiters deleted, inserted, updated; fences; operations;
//!    events), each over a JSON array of rows (on PostgreSQL, a lone fence,
//!    lease, lease given back, operation or event as plain arguments), and
//!    the commit, in one round trip (on PostgreSQL with the batch's
//!    `NOTIFY`).
//!
//! A batch over resources the engine's connection locked before skips the
//! load: it is decided from what the connection's earlier transactions
//! left in them, and its one round trip begins the transaction, locks the
//! resources, checks that nothing changed them since (PostgreSQL: by each
//! row's `xmin`; SQLite: by the database's `data_version`), and writes and
//! commits. Should anything have changed, nothing is written and the batch
//! is loaded as above (see `cache.rs`).
//!
//! So the cost of a transaction hardly depends on how many claims it holds,
//! and [`Batcher`] lets requests that arrive together share one (group
//! commit): the first to arrive starts a task that takes everything
//! waiting, runs it as one batch, answers each request once the batch is
//! committed, and goes again while requests keep coming. A request is never
//! answered before its changes are durable.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::leases::{Attempt, Change, Grant, Released, Waiter};
use crate::store::{Backend, Store};
use crate::time::now_ms;
use crate::types::{AcquireRequest, Event, Lease, OperationStatus, Resource};
use crate::waits::{Handover, Waits};

/// The most operations one transaction takes.
const MAX_BATCH: usize = 128;

/// A claim, its request already checked against the policy.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub(crate) request: AcquireRequest,
    pub(crate) ttl: i64,
    pub(crate) wait: i64,
    pub(crate) priority: i64,
}

/// One operation of a batch.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Acquire(Box<Claim>),
    Release(String),
}

/// What an operation of a batch did.
#[derive(Debug)]
pub(crate) enum Done {
    Acquired(Attempt),
    Released(Box<Released>),
}

type Answer = Result<Change<Done>, StoreError>;

/// An operation's answer or error (and whether its changes stand), its
/// grants, and the range of the batch's events it recorded.
type Outcome = (Result<Done, (StoreError, bool)>, Vec<Grant>, Range<usize>);

/// A resource locked for the batch, with its leases (by token) and waiters.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) resource: Resource,
    pub(crate) leases: Vec<Lease>,
    pub(crate) waiters: Vec<Waiter>,
}

/// What a slot held when it was loaded, to write back only the difference.
#[derive(Debug, Default)]
struct Loaded {
    /// (id, token).
    leases: Vec<(String, i64)>,
    /// Waiter id → (operation, lease, heartbeat).
    waiters: HashMap<String, (String, Option<String>, i64)>,
    fence: i64,
    /// Each row's version (`xmin`; SQLite: `data_version`), for the cache.
    versions: cache::Versions,
}

/// A resource a claim creates if it is not there, as the load reads it.
#[derive(serde::Serialize)]
struct Create<'a> {
    id: &'a str,
    kind: &'a str,
    identifier: &'a str,
    capacity: i64,
}

#[derive(Debug)]
struct NewEvent {
    at: i64,
    kind: &'static str,
    resource: String,
    data: Value,
}

#[derive(Debug)]
struct OperationRow {
    id: String,
    kind: &'static str,
    status: OperationStatus,
    resource: String,
    holder: Option<String>,
    started_at: i64,
    finished_at: Option<i64>,
    result: Option<Value>,
    error: Option<String>,
}

impl OperationRow {
    /// An operation that started and finished at `at`, under a new id.
    fn settled(
        kind: &'static str,
        status: OperationStatus,
        resource: String,
        holder: Option<String>,
        at: i64,
    ) -> Self {
        OperationRow {
            id: crate::types::new_id(),
            kind,
            status,
            resource,
            holder,
            started_at: at,
            finished_at: Some(at),
            result: None,
            error: None,
        }
    }
}

#[derive(Debug)]
struct Finish {
    id: String,
    status: OperationStatus,
    finished_at: i64,
    result: Option<Value>,
    error: Option<String>,
}

/// The audit trail a batch records: written with its other changes.
#[derive(Debug, Default)]
struct Journal {
    events: Vec<NewEvent>,
    /// Operations started in this batch (finished or not).
    operations: Vec<OperationRow>,
    /// Operations started by an earlier transaction, finished in this one.
    finished: Vec<Finish>,
    /// Leases given back, remembered for a release asked again.
    released: Vec<Lease>,
}

impl Journal {
    fn event(&mut self, at: i64, kind: &'static str, resource: &str, data: Value) {
        self.events.push(NewEvent {
            at,
            kind,
            resource: resource.to_owned(),
            data,
        });
    }

    fn finish(
        &mut self,
        id: &str,
        status: OperationStatus,
        at: i64,
        result: Option<Value>,
        error: Option<&str>,
    ) {
        let error = error.map(str::to_owned);
        match self.operations.iter_mut().find(|o| o.id == id) {
            Some(row) => {
                row.status = status;
                row.finished_at = Some(at);
                row.result = result;
                row.error = error;
            }
            None => self.finished.push(Finish {
                id: id.to_owned(),
                status,
                finished_at: at,
                result,
                error,
            }),
        }
    }
}

/// Leases and waiters a batch loaded by id from resources it did not
/// lock: only to tell a request id reused for another claim.
#[derive(Debug, Default)]
struct Strays {
    leases: Vec<Lease>,
    /// (resource, waiter).
    waiters: Vec<(String, Waiter)>,
}

/// Resources locked and loaded for one transaction, and what it decided.
#[derive(Debug)]
pub(crate) struct Batch {
    slots: BTreeMap<String, Slot>,
    loaded: BTreeMap<String, Loaded>,
    strays: Strays,
    journal: Journal,
    now: i64,
    /// Whether grants to waits of this process are handed over (see
    /// `waits.rs`): only where the change's grants are applied.
    handover: bool,
    /// Waits promised a lease by this batch, to withdraw if it fails.
    promised: Vec<Handover>,
}

/// What became of a batch decided and written.
enum Decided {
    Written(Vec<Outcome>, Vec<Event>),
    /// Decided from the cache, which cannot answer it: nothing was sent.
    Unfit,
    /// Decided from the cache, which its round trip found out of date:
    /// nothing was written, and the transaction is to be rolled back.
    Stale,
    /// Decided from the cache, and its round trip failed before anything
    /// of it ran: the connection is to be replaced.
    Unanswered,
}

/// What a grant pass leaves in the queue: waiter ids in grant order.
pub(crate) type Queue = Vec<String>;

impl Batch {
    /// An empty batch; `load` adds a slot per locked resource.
    fn new(now: i64) -> Batch {
        Batch {
            slots: BTreeMap::new(),
            loaded: BTreeMap::new(),
            strays: Strays::default(),
            journal: Journal::default(),
            now,
            handover: false,
            promised: Vec::new(),
        }
    }

    /// Locks `resource` into the batch, with no leases or waiters yet.
    fn add(&mut self, resource: Resource) {
        self.slots.insert(
            resource.id.to_string(),
            Slot {
                resource,
                leases: Vec::new(),
                waiters: Vec::new(),
            },
        );
    }

    /// Notes what each slot holds as loaded, with its rows' versions (for
    /// the cache: `versions` gives up each slot's, where it has them).
    fn remember(&mut self, mut versions: impl FnMut(&str) -> Option<cache::Versions>) {
        for (id, slot) in &self.slots {
            self.loaded.insert(
                id.clone(),
                Loaded {
                    leases: slot
                        .leases
                        .iter()
                        .map(|l| (l.id.clone(), l.token))
                        .collect(),
                    waiters: slot
                        .waiters
                        .iter()
                        .map(|w| {
                            (
                                w.id.clone(),
                                (w.operation.clone(), w.lease.clone(), w.heartbeat_until),
                            )
                        })
                        .collect(),
                    fence: slot.resource.fence,
                    versions: versions(id).unwrap_or_default(),
                },
            );
        }
    }
}

mod batcher;
mod cache;
mod connection;
mod decide;
mod failure;
mod sql;

pub(crate) use batcher::Batcher;
use batcher::Draining;
pub use batcher::{BATCH_SIZE_BUCKETS, BatchStats};
pub(crate) use connection::Scripted;
use failure::Failure;
use sql::Session;

impl Store {
    /// Decides each operation in turn. Per operation: its answer (or error,
    /// and whether its changes stand), its grants and the range of the
    /// journal's events it made.
    fn decide_all(&self, batch: &mut Batch, ops: &[Op]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in ops {
            let first = batch.journal.events.len();
            let mut granted = Vec::new();
            let outcome = match op {
                Op::Acquire(claim) => self
                    .decide_acquire(batch, claim, &mut granted)
                    .map(Done::Acquired)
                    .map_err(|error| (error, false)),
                Op::Release(id) => self
                    .decide_release(batch, id, &mut granted)
                    .map(|released| Done::Released(Box::new(released))),
            };
            outcomes.push((outcome, granted, first..batch.journal.events.len()));
        }
        outcomes
    }

    /// Runs `ops` as one transaction: one answer per operation, in order,
    /// once committed. An operation refused for its input changes nothing;
    /// a database error fails the whole batch.
    pub(crate) async fn run_batch(&self, ops: &[Op]) -> Result<Vec<Answer>, Failure> {
        let mut creates: Vec<(String, &AcquireRequest)> = Vec::new();
        let mut names = Vec::new();
        let mut leases = Vec::new();
        let mut by_id = Vec::new();
        for op in ops {
            match op {
                Op::Acquire(claim) => {
                    let request = &claim.request;
                    let name = request.resource.to_string();
                    // A claim that would not fit a resource it creates
                    // does not create it.
                    if request.weight <= request.capacity.unwrap_or(1)
                        && !creates.iter().any(|(n, _)| n == &name)
                    {
                        creates.push((name.clone(), request));
                    }
                    names.push(name);
                    by_id.extend(request.request.clone());
                }
                Op::Release(id) => leases.push(id.clone()),
            }
        }
        let creates = if creates.is_empty() {
            None
        } else {
            let rows: Vec<Create> = creates
                .iter()
                .map(|(name, request)| Create {
                    id: name,
                    kind: request.resource.kind(),
                    identifier: request.resource.identifier(),
                    capacity: request.capacity.unwrap_or(1),
                })
                .collect();
            Some(sql::json_text(&rows)?)
        };
        let started = Instant::now();
        let mut promised = Vec::new();
        let result = self
            .run_transaction(ops, creates, &names, &leases, &by_id, &mut promised)
            .await;
        if result.is_err() {
            Waits::withdraw(&promised);
        }
        let (outcomes, events) = result?;
        self.batches
            .observe(ops.len(), started.elapsed().as_secs_f64());
        if self.backend == Backend::Sqlite && self.batches.committed() {
            self.checkpoint();
        }
        // An operation refused whose changes stand (a release of a lease
        // that had expired: its grant pass) has no answer to deliver its
        // grants, which are never handed over: its waiters here look.
        for (outcome, granted, _) in &outcomes {
            if matches!(outcome, Err((_, true))) {
                for grant in granted {
                    if let Some(slot) = self.waits.get(&grant.waiter) {
                        slot.notify.notify_one();
                    }
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(
                |(outcome, granted, range): (_, _, Range<usize>)| match outcome {
                    Ok(value) => Ok(Change {
                        value,
                        granted,
                        events: events[range].to_vec(),
                    }),
                    Err((error, _)) => Err(error),
                },
            )
            .collect())
    }

    /// Loads, decides and writes `ops` in one transaction; `promised` gets
    /// the waiters promised a lease as soon as they are.
    async fn run_transaction(
        &self,
        ops: &[Op],
        creates: Option<String>,
        names: &[String],
        leases: &[String],
        by_id: &[String],
        promised: &mut Vec<Handover>,
    ) -> Result<(Vec<Outcome>, Vec<Event>), Failure> {
        // BEGIN in the first round trip, COMMIT in the last: two in all
        // (SQLite: to the connection's thread), and one more for a release
        // of a lease the store no longer holds (`recall_released`). A batch
        // over resources the connection's earlier transactions left in its
        // cache is decided first and takes one (see `cache.rs`).
        let mut scripted = self.scripted().await?;
        let now = now_ms();
        // Only a kept connection's cache (and on PostgreSQL, only a fresh
        // one: see `cache.rs`).
        let fresh = self.backend == Backend::Postgres;
        let cached = scripted
            .kept
            .then(|| scripted.cache.batch(ops, now, fresh))
            .flatten();
        if let Some((batch, check)) = cached {
            let resources = check.resources.clone();
            match self
                .decide_and_write(&mut scripted, batch, ops, Some(check), promised)
                .await?
            {
                Decided::Written(outcomes, events) => {
                    self.batches.count(|stats| stats.from_cache += 1);
                    return Ok((outcomes, events));
                }
                Decided::Unfit => {}
                Decided::Stale => {
                    self.batches.count(|stats| stats.cache_stale += 1);
                    tracing::debug!(
                        "rows the lease engine kept changed since its last batch; loading them"
                    );
                    sql::roll_back(scripted.connection()?).await?;
                    match self.backend {
                        Backend::Postgres => scripted.cache.stale(&resources),
                        // Any commit by another connection fails the check,
                        // whatever it changed: nothing says which resources
                        // to hold back.
                        Backend::Sqlite => scripted.cache.clear(),
                    }
                }
                // Another connection, with nothing kept.
                Decided::Unanswered => scripted.replace(&self.pool).await?,
            }
            // Nothing was written: what was promised is not coming.
            Waits::withdraw(promised);
            promised.clear();
        }
        let session = |scripted: &Scripted| Session::Engine {
            prepared: scripted.kept,
        };
        let first = session(&scripted);
        let loaded = self
            .load(
                scripted.connection()?,
                first,
                creates.clone(),
                names,
                leases,
                by_id,
                now,
            )
            .await;
        let batch = match loaded {
            Ok(batch) => batch,
            Err(error) if scripted.kept && self.backend == Backend::Postgres => {
                // The connection kept from an earlier batch may have gone
                // (the server restarted, say); nothing was committed.
                tracing::debug!(%error, "the lease engine's transaction failed to start; again on another connection");
                scripted.replace(&self.pool).await?;
                let session = session(&scripted);
                self.load(
                    scripted.connection()?,
                    session,
                    creates,
                    names,
                    leases,
                    by_id,
                    now,
                )
                .await?
            }
            Err(error) => return Err(error.into()),
        };
        match self
            .decide_and_write(&mut scripted, batch, ops, None, promised)
            .await?
        {
            Decided::Written(outcomes, events) => Ok((outcomes, events)),
            Decided::Unfit | Decided::Stale | Decided::Unanswered => Err(StoreError::Corrupt {
                what: "lease engine",
                message: "a batch it loaded was taken for one from its cache".to_owned(),
            }
            .into()),
        }
    }

    /// Decides `ops` over `batch` and writes the result, committing. With
    /// `check`, `batch` comes from the cache and the transaction has not
    /// begun: the write's round trip begins it and checks the cache first,
    /// and a batch the cache cannot answer (a release the store has to
    /// look up) is not written at all.
    async fn decide_and_write(
        &self,
        scripted: &mut Scripted,
        mut batch: Batch,
        ops: &[Op],
        check: Option<sql::Check>,
        promised: &mut Vec<Handover>,
    ) -> Result<Decided, Failure> {
        let session = Session::Engine {
            prepared: scripted.kept,
        };
        batch.handover = true;
        let mut outcomes = self.decide_all(&mut batch, ops);
        promised.append(&mut batch.promised);
        let from_cache = check.is_some();
        if from_cache
            && outcomes
                .iter()
                .any(|(outcome, _, _)| matches!(outcome, Err((StoreError::UnknownLease(_), false))))
        {
            return Ok(Decided::Unfit);
        }
        // Kept again with the connection once the batch has committed.
        let mut writes = std::mem::take(&mut scripted.writes);
        let mut cache = std::mem::take(&mut scripted.cache);
        let connection = scripted.connection()?;
        if !from_cache {
            self.recall_released(connection, &mut outcomes).await?;
        }
        let granted: Vec<&str> = outcomes
            .iter()
            .filter(|(outcome, _, _)| outcome.is_ok() || matches!(outcome, Err((_, true))))
            .flat_map(|(_, granted, _)| granted.iter().map(|g| g.waiter.as_str()))
            .collect();
        let mut unanswered = false;
        let written = self
            .write(
                connection,
                batch,
                session,
                Some(sql::EngineWrite {
                    announce: &granted,
                    prepared: &mut writes,
                    cache: &mut cache,
                    check,
                    unanswered: &mut unanswered,
                }),
            )
            .await;
        let events = match written {
            Ok(events) => events,
            // The kept connection had gone (the server ended it, or
            // restarted) before it could begin the transaction.
            Err(error) if unanswered => {
                tracing::debug!(%error, "the lease engine's kept connection was gone; again on another");
                return Ok(Decided::Unanswered);
            }
            // The cache check found a row changed: nothing was written,
            // and the connection is kept, to load the batch.
            Err(error) if from_cache && sql::is_stale(&error) => {
                scripted.writes = writes;
                scripted.cache = cache;
                return Ok(Decided::Stale);
            }
            // The database refused a statement: the transaction is void.
            // But for an error that ends the session (class 57: shut down,
            // terminated, cancelled; 08: the connection), which can come
            // once the commit is made.
            Err(StoreError::Database(sqlx::Error::Database(refusal)))
                if !refusal
                    .code()
                    .is_some_and(|code| code.starts_with("57") || code.starts_with("08")) =>
            {
                return Err(StoreError::Database(sqlx::Error::Database(refusal)).into());
            }
            // The round trip ends with the commit: whether it happened is
            // not known, so the batch is not run again.
            Err(error) => {
                return Err(Failure {
                    error,
                    again: false,
                });
            }
        };
        scripted.committed = true;
        scripted.writes = writes;
        cache.committed();
        scripted.cache = cache;
        if self.backend == Backend::Postgres {
            self.own_events.note(&events);
        }
        Ok(Decided::Written(outcomes, events))
    }

    /// Runs one operation, in a batch with whatever else arrives meanwhile.
    pub(crate) async fn submit(&self, op: Op) -> Answer {
        let (answer, receive) = oneshot::channel();
        let lead = {
            let mut queue = self
                .batches
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            queue.pending.push((op, answer));
            !std::mem::replace(&mut queue.running, true)
        };
        if lead {
            // Its own task: a request that goes away mid-batch must not
            // take the others' answers with it.
            tokio::spawn(self.clone().drain());
        }
        receive.await.unwrap_or_else(|_| {
            Err(StoreError::Database(sqlx::Error::Protocol(
                "the batch running this change stopped before answering".to_owned(),
            )))
        })
    }

    async fn drain(self) {
        let _stopped = Draining(self.batches.clone());
        loop {
            let jobs: Vec<(Op, oneshot::Sender<Answer>)> = {
                let mut queue = self
                    .batches
                    .queue
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if queue.pending.is_empty() {
                    queue.running = false;
                    return;
                }
                let take = queue.pending.len().min(MAX_BATCH);
                queue.pending.drain(..take).collect()
            };
            let (ops, answers): (Vec<Op>, Vec<_>) = jobs.into_iter().unzip();
            match self.run_batch(&ops).await {
                Ok(results) => {
                    for (answer, result) in answers.into_iter().zip(results) {
                        self.deliver(&result);
                        let _ = answer.send(result);
                    }
                }
                Err(failure) if ops.len() == 1 || !failure.again => {
                    for (answer, error) in answers.into_iter().zip(failure.into_errors(ops.len())) {
                        let _ = answer.send(Err(error));
                    }
                }
                Err(Failure { error, .. }) => {
                    // One at a time, so each gets its own answer.
                    tracing::debug!(%error, size = ops.len(), "a batch failed; running it one by one");
                    for (op, answer) in ops.into_iter().zip(answers) {
                        let result = match self.run_batch(std::slice::from_ref(&op)).await {
                            Ok(mut results) => results.pop().unwrap_or_else(|| {
                                Err(StoreError::Corrupt {
                                    what: "batch",
                                    message: "no answer".to_owned(),
                                })
                            }),
                            Err(failure) => Err(failure.into_errors(1).remove(0)),
                        };
                        self.deliver(&result);
                        let _ = answer.send(result);
                    }
                }
            }
        }
    }
}

impl Store {
    /// Copies SQLite's write-ahead log into the database on a task and a
    /// connection of its own, without waiting for readers or writers
    /// (`PASSIVE`). A commit that finds the log past a thousand pages
    /// checkpoints it itself, keeping the claims of its batch waiting: it
    /// then finds nearly all of it copied already. (Only a checkpoint made
    /// while nothing writes lets the next writer start the log again from
    /// its beginning: one beside a busy engine alone would let it grow
    /// without end.) One at a time.
    fn checkpoint(&self) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.batches.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        /// Lets the next checkpoint run, however this one ends.
        struct Done(Arc<Batcher>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.checkpointing.store(false, Ordering::Release);
            }
        }
        let done = Done(self.batches.clone());
        let pool = self.pool.clone();
        handle.spawn(async move {
            let _done = done;
            if pool.is_closed() {
                return;
            }
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(%error, "cannot checkpoint the store's log");
            }
        });
    }

    /// Gives back, on a task of its own, a lease handed over to a wait that
    /// went away: nobody holds it. (Its grants are delivered by the batch
    /// that releases it.)
    pub(crate) fn give_back(&self, lease: String) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.clone();
        handle.spawn(async move {
            if let Err(error) = store.release(&lease).await {
                tracing::warn!(%error, "cannot give back an abandoned grant");
            }
        });
    }

    /// Hands the leases `answer` granted to waits of this process over (see
    /// `waits.rs`) and wakes its other waiters here, whether or not its
    /// caller is still there to apply it. A lease handed to a wait that
    /// went away is given back.
    fn deliver(&self, answer: &Answer) {
        let Ok(change) = answer else {
            return;
        };
        for grant in &change.granted {
            match &grant.handover {
                Some(handover) => {
                    if let Some(lease) = Waits::hand(grant.lease.clone(), handover) {
                        self.give_back(lease.id);
                    }
                }
                None => {
                    if let Some(slot) = self.waits.get(&grant.waiter) {
                        slot.notify.notify_one();
                    }
                }
            }
        }
    }
}
