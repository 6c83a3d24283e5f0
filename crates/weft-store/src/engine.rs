//! The lease engine: claims and releases decided in memory, many to a
//! transaction.
//!
//! A transaction of the engine has three steps, whatever it holds:
//!
//! 1. **Load.** Create the resources claims name, lock every resource the
//!    batch touches (SQLite: the whole database, `BEGIN IMMEDIATE`;
//!    PostgreSQL: `SELECT … ORDER BY id FOR UPDATE`, so two batches never
//!    deadlock), and read their leases and waiters: a handful of statements.
//! 2. **Decide.** Each operation runs in memory, in arrival order, against
//!    what the ones before it left: the grant pass of `leases.rs` (reap,
//!    drop stale waiters, grant from the head of the queue), then the
//!    claim or the release itself. The audit rows (operations, events) are
//!    collected, not written.
//! 3. **Write.** The difference between what was loaded and what is left
//!    goes back as one statement per kind of change (leases deleted,
//!    inserted; waiters deleted, inserted, updated; fences; operations;
//!    events), each over a JSON array of rows, then one commit.
//!
//! So the cost of a transaction hardly depends on how many claims it holds,
//! and [`Batcher`] lets requests that arrive together share one (group
//! commit): the first to arrive starts a task that takes everything
//! waiting, runs it as one batch, answers each request once the batch is
//! committed, and goes again while requests keep coming. A request is never
//! answered before its changes are durable.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::leases::{
    Attempt, Change, Effects, Grant, LEASE_COLUMNS, Released, WAITER_COLUMNS, WAITER_HEARTBEAT_MS,
    Waiter, fits, lease_from_row, resource_from_row, waiter_from_row,
};
use crate::metrics::Histogram;
use crate::store::{Backend, Store};
use crate::time::{now_ms, rfc3339};
use crate::types::{AcquireRequest, Event, Holder, Lease, OperationStatus, Resource};

/// The most operations one transaction takes.
const MAX_BATCH: usize = 128;

/// Upper bounds of the batch-size histogram's buckets.
pub const BATCH_SIZE_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

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
}

/// What a grant pass leaves in the queue: waiter ids in grant order.
pub(crate) type Queue = Vec<String>;

impl Batch {
    fn new(resources: Vec<Resource>, now: i64) -> Batch {
        let slots = resources
            .into_iter()
            .map(|resource| {
                (
                    resource.id.to_string(),
                    Slot {
                        resource,
                        leases: Vec::new(),
                        waiters: Vec::new(),
                    },
                )
            })
            .collect();
        Batch {
            slots,
            loaded: BTreeMap::new(),
            strays: Strays::default(),
            journal: Journal::default(),
            now,
        }
    }

    fn remember(&mut self) {
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
                },
            );
        }
    }
}

/// Rows of a JSON array parameter, by backend: `j.value` is each element
/// and `j.key` its position.
fn records(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("json_each(${n}) AS j"),
        Backend::Postgres => {
            format!("json_array_elements(${n}::json) WITH ORDINALITY AS j(value, key)")
        }
    }
}

/// The strings of a JSON array parameter, as a subquery.
fn texts(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
        Backend::Postgres => format!("(SELECT value FROM json_array_elements_text(${n}::json))"),
    }
}

fn holder_json(holder: &Holder) -> String {
    serde_json::to_string(holder).unwrap_or_else(|_| "{}".to_owned())
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    Value::from(items.into_iter().collect::<Vec<_>>()).to_string()
}

/// A statement's argument.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

/// A statement whose parameters are numbered from `$1`, with its
/// arguments. Several are combined into one round trip by renumbering.
#[derive(Debug)]
struct Statement {
    sql: String,
    args: Vec<Arg>,
}

impl Statement {
    fn new(sql: String, args: Vec<Arg>) -> Statement {
        Statement { sql, args }
    }

    /// `$n` → `$(n + offset)`.
    fn shifted(&self, offset: usize) -> String {
        let mut out = String::with_capacity(self.sql.len() + 8);
        let mut rest = self.sql.as_str();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            match rest[at + 1..at + 1 + digits].parse::<usize>() {
                Ok(n) => out.push_str(&format!("${}", n + offset)),
                Err(_) => out.push('$'),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_str(rest);
        out
    }

    fn combine(statements: Vec<Statement>, join: impl Fn(usize, String) -> String) -> Statement {
        let mut sql = String::new();
        let mut args = Vec::new();
        let last = statements.len().saturating_sub(1);
        for (index, statement) in statements.into_iter().enumerate() {
            let part = statement.shifted(args.len());
            sql.push_str(&if index == last {
                part
            } else {
                join(index, part)
            });
            args.extend(statement.args);
        }
        Statement { sql, args }
    }

    /// SQLite runs every statement of one query in one call to its thread;
    /// each `$n` is the query's n-th argument in every statement. The rows
    /// are those of all the statements, in order.
    fn script(statements: Vec<Statement>) -> Statement {
        Self::combine(statements, |_, part| format!("{part};\n"))
    }

    /// PostgreSQL runs data-modifying `WITH` clauses whether or not the
    /// main statement (the last) reads them; they see one snapshot, so the
    /// statements must touch different rows. The rows are the last's.
    fn with(statements: Vec<Statement>) -> Statement {
        let mut statements = statements;
        if statements.len() < 2 {
            return statements
                .pop()
                .unwrap_or_else(|| Statement::new(String::new(), Vec::new()));
        }
        let count = statements.len() - 1;
        Self::combine(statements, |index, part| {
            let lead = if index == 0 { "WITH " } else { "" };
            let tail = if index + 1 == count { " " } else { ", " };
            format!("{lead}w{index} AS ({part}){tail}")
        })
    }

    async fn fetch(
        self,
        connection: &mut AnyConnection,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let mut query = sqlx::query(&self.sql);
        for arg in self.args {
            query = match arg {
                Arg::Text(text) => query.bind(text),
                Arg::Int(n) => query.bind(n),
            };
        }
        Ok(query.fetch_all(connection).await?)
    }
}

impl Store {
    /// Creates the resources `creates` names (a JSON array of rows), locks
    /// those named by `ids` and by the leases `leases` (in id order), and
    /// loads their leases and waiters, plus any lease or waiter whose id is
    /// in `by_id` wherever it is. SQLite: one script, one round trip to its
    /// thread; PostgreSQL: the lock first, then one read of both tables
    /// (a read in the same statement would see rows from before the lock).
    #[expect(clippy::too_many_arguments, reason = "what to lock and load")]
    async fn load(
        &self,
        connection: &mut AnyConnection,
        begin: bool,
        creates: Option<String>,
        ids: &[String],
        leases: &[String],
        by_id: &[String],
        now: i64,
    ) -> Result<Batch, StoreError> {
        let b = self.backend;
        let ids = strings(ids.iter().map(String::as_str));
        let leases = strings(leases.iter().map(String::as_str));
        let by_id = strings(by_id.iter().map(String::as_str));
        let mut statements = Vec::new();
        if begin {
            statements.push(Statement::new("BEGIN IMMEDIATE".to_owned(), Vec::new()));
        }
        if let Some(rows) = creates {
            statements.push(Statement::new(
                format!(
                    "INSERT INTO resources (id, kind, identifier, capacity, metadata, fence, created_at)
                     SELECT j.value ->> 'id', j.value ->> 'kind', j.value ->> 'identifier',
                            CAST(j.value ->> 'capacity' AS BIGINT), '{{}}', 0, $2
                     FROM {} WHERE true ON CONFLICT (id) DO NOTHING",
                    records(b, 1)
                ),
                vec![Arg::Text(rows), Arg::Int(now)],
            ));
        }
        let locked = |ids: usize, leases: usize| {
            format!(
                "id IN {} OR id IN (SELECT resource FROM leases WHERE id IN {})",
                texts(b, ids),
                texts(b, leases)
            )
        };
        statements.push(Statement::new(
            format!(
                "SELECT 'resource' AS row_of, id, kind, identifier, capacity, metadata, fence
                 FROM resources WHERE {} ORDER BY id{}",
                locked(1, 2),
                self.for_update()
            ),
            vec![Arg::Text(ids.clone()), Arg::Text(leases.clone())],
        ));
        // Leases by token (the holders' order), then waiters.
        let rows = Statement::new(
            format!(
                "SELECT 'lease' AS row_of, id, resource, mode, weight, holder, priority, ttl_ms,
                        token, granted_at, expires_at, CAST(NULL AS BIGINT) AS enqueued_at,
                        CAST(NULL AS BIGINT) AS deadline, CAST(NULL AS BIGINT) AS heartbeat_until,
                        CAST(NULL AS TEXT) AS operation, CAST(NULL AS TEXT) AS lease
                 FROM leases
                 WHERE resource IN (SELECT id FROM resources WHERE {locked})
                    OR id IN {leases} OR id IN {by_id}
                 UNION ALL
                 SELECT 'waiter', id, resource, mode, weight, holder, priority, ttl_ms,
                        NULL, NULL, NULL, enqueued_at, deadline, heartbeat_until, operation, lease
                 FROM waiters
                 WHERE resource IN (SELECT id FROM resources WHERE {locked}) OR id IN {by_id}
                 ORDER BY 1, 9",
                locked = locked(1, 2),
                leases = texts(b, 2),
                by_id = texts(b, 3),
            ),
            vec![Arg::Text(ids), Arg::Text(leases), Arg::Text(by_id)],
        );
        let found = match b {
            Backend::Sqlite => {
                statements.push(rows);
                Statement::script(statements).fetch(connection).await?
            }
            Backend::Postgres => {
                let mut found = Vec::new();
                for statement in statements {
                    found.extend(statement.fetch(connection).await?);
                }
                found.extend(rows.fetch(connection).await?);
                found
            }
        };
        let mut batch = Batch::new(Vec::new(), now);
        for row in found {
            let row_of: String = row.try_get("row_of")?;
            match row_of.as_str() {
                "resource" => {
                    let resource = resource_from_row(&row)?;
                    batch.slots.insert(
                        resource.id.to_string(),
                        Slot {
                            resource,
                            leases: Vec::new(),
                            waiters: Vec::new(),
                        },
                    );
                }
                "lease" => {
                    let lease = lease_from_row(&row)?;
                    match batch.slots.get_mut(&lease.resource.to_string()) {
                        Some(slot) => slot.leases.push(lease),
                        None => batch.strays.leases.push(lease),
                    }
                }
                _ => {
                    let resource: String = row.try_get("resource")?;
                    let waiter = waiter_from_row(&row)?;
                    match batch.slots.get_mut(&resource) {
                        Some(slot) => slot.waiters.push(waiter),
                        None => batch.strays.waiters.push((resource, waiter)),
                    }
                }
            }
        }
        batch.remember();
        Ok(batch)
    }

    /// Writes what the batch changed and recorded, in one round trip (a
    /// script on SQLite, data-modifying `WITH` clauses on PostgreSQL);
    /// returns the events with their ids.
    async fn write(
        &self,
        connection: &mut AnyConnection,
        batch: Batch,
        commit: bool,
    ) -> Result<Vec<Event>, StoreError> {
        let b = self.backend;
        let mut leases_gone = Vec::new();
        let mut leases_new = Vec::new();
        let mut waiters_gone = Vec::new();
        let mut waiters_new = Vec::new();
        let mut waiters_changed = Vec::new();
        let mut fences = Vec::new();
        for (id, slot) in &batch.slots {
            let Some(loaded) = batch.loaded.get(id) else {
                continue;
            };
            // A row replaced under the same id (a request id asked again
            // after its lease expired or its place lapsed) is written over:
            // gone are only the ids that are gone.
            leases_gone.extend(
                loaded
                    .leases
                    .iter()
                    .filter(|(l, _)| !slot.leases.iter().any(|k| &k.id == l))
                    .map(|(l, _)| l.as_str()),
            );
            for lease in &slot.leases {
                if !loaded.leases.contains(&(lease.id.clone(), lease.token)) {
                    leases_new.push(json!({
                        "id": lease.id, "resource": id, "mode": lease.mode.as_str(),
                        "weight": lease.weight, "token": lease.token,
                        "holder": holder_json(&lease.holder), "priority": lease.priority,
                        "ttl_ms": lease.ttl_ms, "granted_at": lease.granted_at_ms,
                        "expires_at": lease.expires_at_ms,
                    }));
                }
            }
            waiters_gone.extend(
                loaded
                    .waiters
                    .keys()
                    .filter(|w| !slot.waiters.iter().any(|k| &k.id == *w))
                    .map(String::as_str),
            );
            for waiter in &slot.waiters {
                match loaded.waiters.get(&waiter.id) {
                    Some((operation, lease, heartbeat)) if operation == &waiter.operation => {
                        if lease != &waiter.lease || *heartbeat != waiter.heartbeat_until {
                            waiters_changed.push(json!({
                                "id": waiter.id, "lease": waiter.lease,
                                "heartbeat_until": waiter.heartbeat_until,
                            }));
                        }
                    }
                    _ => waiters_new.push(json!({
                        "id": waiter.id, "resource": id, "mode": waiter.mode.as_str(),
                        "weight": waiter.weight, "holder": holder_json(&waiter.holder),
                        "priority": waiter.priority, "ttl_ms": waiter.ttl_ms,
                        "enqueued_at": waiter.enqueued_at, "deadline": waiter.deadline,
                        "heartbeat_until": waiter.heartbeat_until,
                        "operation": waiter.operation, "lease": waiter.lease,
                    })),
                }
            }
            if slot.resource.fence != loaded.fence {
                fences.push(json!({"id": id, "fence": slot.resource.fence}));
            }
        }
        let mut statements = Vec::new();
        let array = |rows: Vec<Value>| Arg::Text(Value::from(rows).to_string());
        if !waiters_gone.is_empty() {
            statements.push(Statement::new(
                format!("DELETE FROM waiters WHERE id IN {}", texts(b, 1)),
                vec![Arg::Text(strings(waiters_gone))],
            ));
        }
        if !leases_gone.is_empty() {
            statements.push(Statement::new(
                format!("DELETE FROM leases WHERE id IN {}", texts(b, 1)),
                vec![Arg::Text(strings(leases_gone))],
            ));
        }
        if !fences.is_empty() {
            statements.push(Statement::new(
                format!(
                    "UPDATE resources SET fence = CAST(j.value ->> 'fence' AS BIGINT)
                     FROM {} WHERE resources.id = j.value ->> 'id'",
                    records(b, 1)
                ),
                vec![array(fences)],
            ));
        }
        if !leases_new.is_empty() {
            statements.push(Statement::new(
                format!(
                    "INSERT INTO leases ({LEASE_COLUMNS}, renewed_at)
                     SELECT j.value ->> 'id', j.value ->> 'resource', j.value ->> 'mode',
                            CAST(j.value ->> 'weight' AS BIGINT),
                            CAST(j.value ->> 'token' AS BIGINT), j.value ->> 'holder',
                            CAST(j.value ->> 'priority' AS BIGINT),
                            CAST(j.value ->> 'ttl_ms' AS BIGINT),
                            CAST(j.value ->> 'granted_at' AS BIGINT),
                            CAST(j.value ->> 'expires_at' AS BIGINT),
                            CAST(j.value ->> 'granted_at' AS BIGINT)
                     FROM {} WHERE true
                     ON CONFLICT (id) DO UPDATE SET resource = excluded.resource,
                        mode = excluded.mode, weight = excluded.weight, token = excluded.token,
                        holder = excluded.holder, priority = excluded.priority,
                        ttl_ms = excluded.ttl_ms, granted_at = excluded.granted_at,
                        expires_at = excluded.expires_at, renewed_at = excluded.renewed_at",
                    records(b, 1)
                ),
                vec![array(leases_new)],
            ));
        }
        if !waiters_new.is_empty() {
            statements.push(Statement::new(
                format!(
                    "INSERT INTO waiters ({WAITER_COLUMNS})
                     SELECT j.value ->> 'id', j.value ->> 'resource', j.value ->> 'mode',
                            CAST(j.value ->> 'weight' AS BIGINT), j.value ->> 'holder',
                            CAST(j.value ->> 'priority' AS BIGINT),
                            CAST(j.value ->> 'ttl_ms' AS BIGINT),
                            CAST(j.value ->> 'enqueued_at' AS BIGINT),
                            CAST(j.value ->> 'deadline' AS BIGINT),
                            CAST(j.value ->> 'heartbeat_until' AS BIGINT),
                            j.value ->> 'operation', j.value ->> 'lease'
                     FROM {} WHERE true
                     ON CONFLICT (id) DO UPDATE SET resource = excluded.resource,
                        mode = excluded.mode, weight = excluded.weight, holder = excluded.holder,
                        priority = excluded.priority, ttl_ms = excluded.ttl_ms,
                        enqueued_at = excluded.enqueued_at, deadline = excluded.deadline,
                        heartbeat_until = excluded.heartbeat_until,
                        operation = excluded.operation, lease = excluded.lease",
                    records(b, 1)
                ),
                vec![array(waiters_new)],
            ));
        }
        if !waiters_changed.is_empty() {
            statements.push(Statement::new(
                format!(
                    "UPDATE waiters SET lease = j.value ->> 'lease',
                            heartbeat_until = CAST(j.value ->> 'heartbeat_until' AS BIGINT)
                     FROM {} WHERE waiters.id = j.value ->> 'id'",
                    records(b, 1)
                ),
                vec![array(waiters_changed)],
            ));
        }
        let journal = batch.journal;
        if !journal.operations.is_empty() {
            let rows: Vec<Value> = journal
                .operations
                .iter()
                .map(|o| {
                    json!({
                        "id": o.id, "kind": o.kind, "status": o.status.as_str(),
                        "resource": o.resource, "holder": o.holder, "started_at": o.started_at,
                        "finished_at": o.finished_at,
                        "duration_ms": o.finished_at.map(|f| f - o.started_at),
                        "result": o.result.as_ref().map(Value::to_string), "error": o.error,
                    })
                })
                .collect();
            statements.push(Statement::new(
                format!(
                    "INSERT INTO operations (id, kind, status, resource, holder, started_at,
                                             finished_at, duration_ms, result, error)
                     SELECT j.value ->> 'id', j.value ->> 'kind', j.value ->> 'status',
                            j.value ->> 'resource', j.value ->> 'holder',
                            CAST(j.value ->> 'started_at' AS BIGINT),
                            CAST(j.value ->> 'finished_at' AS BIGINT),
                            CAST(j.value ->> 'duration_ms' AS BIGINT),
                            j.value ->> 'result', j.value ->> 'error'
                     FROM {}",
                    records(b, 1)
                ),
                vec![array(rows)],
            ));
        }
        if !journal.finished.is_empty() {
            let rows: Vec<Value> = journal
                .finished
                .iter()
                .map(|f| {
                    json!({
                        "id": f.id, "status": f.status.as_str(), "finished_at": f.finished_at,
                        "result": f.result.as_ref().map(Value::to_string), "error": f.error,
                    })
                })
                .collect();
            statements.push(Statement::new(
                format!(
                    "UPDATE operations SET status = j.value ->> 'status',
                            finished_at = CAST(j.value ->> 'finished_at' AS BIGINT),
                            duration_ms = CAST(j.value ->> 'finished_at' AS BIGINT) - started_at,
                            result = j.value ->> 'result', error = j.value ->> 'error'
                     FROM {} WHERE operations.id = j.value ->> 'id'",
                    records(b, 1)
                ),
                vec![array(rows)],
            ));
        }
        let rows: Vec<Value> = journal
            .events
            .iter()
            .map(|e| {
                json!({"at": e.at, "kind": e.kind, "resource": e.resource,
                       "data": e.data.to_string()})
            })
            .collect();
        // Inserted in order, so the ids ascend in the journal's order. Last:
        // its ids are the rows the round trip returns.
        statements.push(Statement::new(
            format!(
                "INSERT INTO events (at, kind, resource, data)
                 SELECT CAST(j.value ->> 'at' AS BIGINT), j.value ->> 'kind',
                        j.value ->> 'resource', j.value ->> 'data'
                 FROM {} ORDER BY j.key RETURNING id",
                records(b, 1)
            ),
            vec![array(rows)],
        ));
        if commit {
            statements.push(Statement::new("COMMIT".to_owned(), Vec::new()));
        }
        let combined = match b {
            Backend::Sqlite => Statement::script(statements),
            Backend::Postgres => Statement::with(statements),
        };
        let mut ids: Vec<i64> = combined
            .fetch(connection)
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        ids.sort_unstable();
        if ids.len() != journal.events.len() {
            return Err(StoreError::Corrupt {
                what: "event ids",
                message: format!("{} events written, {} ids", journal.events.len(), ids.len()),
            });
        }
        Ok(journal
            .events
            .into_iter()
            .zip(ids)
            .map(|(event, id)| Event {
                id,
                at: rfc3339(event.at),
                kind: event.kind.to_owned(),
                resource: Some(event.resource),
                data: event.data,
            })
            .collect())
    }

    /// The grant pass over a resource already locked in `transaction`,
    /// written at once: for changes that are not batched (cancelling a
    /// wait, renewing, force-releasing, reaping).
    pub(crate) async fn grant_pass(
        &self,
        transaction: &mut AnyConnection,
        resource: &Resource,
        effects: &mut Effects,
    ) -> Result<(), StoreError> {
        let id = resource.id.to_string();
        let mut batch = self
            .load(
                transaction,
                false,
                None,
                std::slice::from_ref(&id),
                &[],
                &[],
                now_ms(),
            )
            .await?;
        self.pass(&mut batch, &id, None, &mut effects.granted);
        effects
            .events
            .extend(self.write(transaction, batch, false).await?);
        Ok(())
    }

    /// The grant pass (see `leases.rs`) on one slot, never dropping `keep`
    /// as stale (a claim that does not wait has a deadline of now, and must
    /// still be considered). Returns the queue left waiting.
    fn pass(
        &self,
        batch: &mut Batch,
        resource: &str,
        keep: Option<&str>,
        granted: &mut Vec<Grant>,
    ) -> Queue {
        let now = batch.now;
        let Some(slot) = batch.slots.get_mut(resource) else {
            return Vec::new();
        };
        let journal = &mut batch.journal;
        // 1. Expired leases.
        let (expired, live): (Vec<Lease>, Vec<Lease>) = std::mem::take(&mut slot.leases)
            .into_iter()
            .partition(|lease| lease.expires_at_ms <= now);
        slot.leases = live;
        for lease in &expired {
            journal.event(
                now,
                "expire",
                resource,
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "expired_at": lease.expires_at}),
            );
        }
        // 2. Waiters past their deadline or heartbeat.
        let (stale, waiters): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut slot.waiters)
            .into_iter()
            .partition(|w| {
                // A granted waiter keeps its row until its process collects
                // the lease; only a lost heartbeat makes it stale.
                let stale = match w.lease {
                    None => w.deadline <= now || w.heartbeat_until <= now,
                    Some(_) => w.heartbeat_until <= now,
                };
                Some(w.id.as_str()) != keep && stale
            });
        slot.waiters = waiters;
        for waiter in stale {
            if let Some(lease_id) = &waiter.lease {
                // Granted to a process that went away before collecting it:
                // give it back now rather than after its whole TTL.
                if let Some(index) = slot.leases.iter().position(|l| &l.id == lease_id) {
                    let lease = slot.leases.remove(index);
                    journal.event(
                        now,
                        "abandoned",
                        resource,
                        json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                               "reason": "granted to a waiter that went away before collecting it"}),
                    );
                }
                journal.finish(
                    &waiter.operation,
                    OperationStatus::Failed,
                    now,
                    None,
                    Some("granted, but the waiter went away before collecting the lease"),
                );
            } else {
                let reason = if waiter.deadline <= now {
                    "wait timed out"
                } else {
                    "waiter went away"
                };
                journal.finish(
                    &waiter.operation,
                    OperationStatus::Conflict,
                    now,
                    None,
                    Some(reason),
                );
            }
        }
        // 3. Grant from the head of the queue while requests fit.
        let mut queue: Vec<usize> = (0..slot.waiters.len())
            .filter(|&i| slot.waiters[i].lease.is_none())
            .collect();
        queue.sort_by(|&a, &b| self.queue_order(&slot.waiters[a], &slot.waiters[b], now));
        let mut granted_here = 0;
        for &index in &queue {
            let waiter = &slot.waiters[index];
            if !fits(
                waiter.mode,
                waiter.weight,
                slot.resource.capacity,
                &slot.leases,
            ) {
                break;
            }
            slot.resource.fence += 1;
            granted_here += 1;
            // The waiter's id is the lease's: a claim asked again by its
            // request id after the lease was collected finds it.
            let lease = Lease {
                id: waiter.id.clone(),
                resource: slot.resource.id.clone(),
                mode: waiter.mode,
                weight: waiter.weight,
                token: slot.resource.fence,
                holder: waiter.holder.clone(),
                priority: waiter.priority,
                ttl_ms: waiter.ttl_ms,
                granted_at: String::new(),
                expires_at: String::new(),
                granted_at_ms: now,
                expires_at_ms: now.saturating_add(waiter.ttl_ms),
            }
            .stamp();
            journal.event(
                now,
                "grant",
                resource,
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "mode": lease.mode, "weight": lease.weight,
                       "waited_ms": now - waiter.enqueued_at}),
            );
            slot.waiters[index].lease = Some(lease.id.clone());
            granted.push(Grant {
                waiter: lease.id.clone(),
                lease: lease.clone(),
            });
            slot.leases.push(lease);
        }
        queue[granted_here..]
            .iter()
            .map(|&i| slot.waiters[i].id.clone())
            .collect()
    }

    /// Rejects a request id that names a claim on another resource or by
    /// another holder.
    fn check_request_id(batch: &Batch, claim: &AcquireRequest, id: &str) -> Result<(), StoreError> {
        let mismatch = || {
            Err(StoreError::invalid(
                "request",
                "names another claim: give each claim a request id of its own",
            ))
        };
        let resource = claim.resource.to_string();
        for (name, slot) in &batch.slots {
            for waiter in slot.waiters.iter().filter(|w| w.id == id) {
                if name != &resource || waiter.holder != claim.holder {
                    return mismatch();
                }
            }
            for lease in slot.leases.iter().filter(|l| l.id == id) {
                if name != &resource || lease.holder != claim.holder {
                    return mismatch();
                }
            }
        }
        if batch.strays.waiters.iter().any(|(_, w)| w.id == id)
            || batch.strays.leases.iter().any(|l| l.id == id)
        {
            return mismatch();
        }
        Ok(())
    }

    /// A claim (see `leases.rs`): asked again by its request id, queued
    /// behind older waiters, granted, or refused.
    fn decide_acquire(
        &self,
        batch: &mut Batch,
        claim: &Claim,
        granted: &mut Vec<Grant>,
    ) -> Result<Attempt, StoreError> {
        let request = &claim.request;
        let name = request.resource.to_string();
        let capacity = match batch.slots.get(&name) {
            Some(slot) => slot.resource.capacity,
            // Not created: the claim would not fit the capacity it gives.
            None => request.capacity.unwrap_or(1),
        };
        if request.weight > capacity {
            return Err(StoreError::invalid(
                "weight",
                format!(
                    "{} is more than `{}`'s capacity {}",
                    request.weight, request.resource, capacity
                ),
            ));
        }
        if let Some(id) = &request.request {
            Self::check_request_id(batch, request, id)?;
        }
        let now = batch.now;
        // Reap and serve the queue first: a claim never passes a waiter.
        let queue = self.pass(batch, &name, None, granted);
        let Some(slot) = batch.slots.get_mut(&name) else {
            return Err(StoreError::UnknownResource(name));
        };
        if let Some(id) = &request.request {
            if let Some(waiter) = slot.waiters.iter_mut().find(|w| &w.id == id) {
                waiter.heartbeat_until = now + WAITER_HEARTBEAT_MS;
                let position = queue.iter().position(|w| w == id).map_or(0, |i| i + 1);
                return Ok(Attempt::Queued {
                    waiter: waiter.id.clone(),
                    position,
                    deadline_ms: waiter.deadline,
                    holders: slot.leases.clone(),
                });
            }
            if let Some(lease) = slot.leases.iter().find(|l| &l.id == id) {
                return Ok(Attempt::Granted(Box::new(lease.clone())));
            }
        }
        let holder = Some(holder_json(&request.holder));
        let journal = &mut batch.journal;
        if queue.is_empty() && fits(request.mode, request.weight, capacity, &slot.leases) {
            // The fast path: nobody waits and it fits.
            slot.resource.fence += 1;
            let lease = Lease {
                id: request
                    .request
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                resource: request.resource.clone(),
                mode: request.mode,
                weight: request.weight,
                token: slot.resource.fence,
                holder: request.holder.clone(),
                priority: claim.priority,
                ttl_ms: claim.ttl,
                granted_at: String::new(),
                expires_at: String::new(),
                granted_at_ms: now,
                expires_at_ms: now.saturating_add(claim.ttl),
            }
            .stamp();
            journal.operations.push(OperationRow {
                id: uuid::Uuid::new_v4().to_string(),
                kind: "claim",
                status: OperationStatus::Succeeded,
                resource: name.clone(),
                holder,
                started_at: now,
                finished_at: Some(now),
                result: Some(json!({"lease": lease.id, "token": lease.token, "waited_ms": 0})),
                error: None,
            });
            journal.event(
                now,
                "grant",
                &name,
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "mode": lease.mode, "weight": lease.weight, "waited_ms": 0}),
            );
            slot.leases.push(lease.clone());
            return Ok(Attempt::Granted(Box::new(lease)));
        }
        if claim.wait == 0 {
            journal.operations.push(OperationRow {
                id: uuid::Uuid::new_v4().to_string(),
                kind: "claim",
                status: OperationStatus::Conflict,
                resource: name.clone(),
                holder,
                started_at: now,
                finished_at: Some(now),
                result: None,
                error: Some("taken".to_owned()),
            });
            journal.event(
                now,
                "conflict",
                &name,
                json!({"holder": request.holder,
                       "held_by": slot.leases.iter().map(|l| &l.holder).collect::<Vec<_>>()}),
            );
            return Ok(Attempt::Conflict {
                holders: slot.leases.clone(),
                queue_length: queue.len(),
            });
        }
        // Queue, and run the pass again: a higher priority that fits is
        // granted ahead of the waiters already there.
        let waiter = request
            .request
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let operation = uuid::Uuid::new_v4().to_string();
        journal.operations.push(OperationRow {
            id: operation.clone(),
            kind: "claim",
            status: OperationStatus::Active,
            resource: name.clone(),
            holder,
            started_at: now,
            finished_at: None,
            result: None,
            error: None,
        });
        let deadline = now.saturating_add(claim.wait);
        slot.waiters.push(Waiter {
            id: waiter.clone(),
            mode: request.mode,
            weight: request.weight,
            holder: request.holder.clone(),
            priority: claim.priority,
            ttl_ms: claim.ttl,
            enqueued_at: now,
            deadline,
            heartbeat_until: now + WAITER_HEARTBEAT_MS,
            operation: operation.clone(),
            lease: None,
        });
        let mut mine = Vec::new();
        let queue = self.pass(batch, &name, Some(&waiter), &mut mine);
        let journal = &mut batch.journal;
        let Some(slot) = batch.slots.get_mut(&name) else {
            return Err(StoreError::UnknownResource(name));
        };
        let mut attempt = None;
        for grant in mine {
            if grant.waiter != waiter {
                granted.push(grant);
                continue;
            }
            slot.waiters.retain(|w| w.id != waiter);
            journal.finish(
                &operation,
                OperationStatus::Succeeded,
                now,
                Some(json!({"lease": grant.lease.id, "token": grant.lease.token,
                            "waited_ms": 0})),
                None,
            );
            attempt = Some(Attempt::Granted(Box::new(grant.lease)));
        }
        if let Some(attempt) = attempt {
            return Ok(attempt);
        }
        let position = queue
            .iter()
            .position(|w| w == &waiter)
            .map_or(queue.len(), |i| i + 1);
        journal.event(
            now,
            "queued",
            &name,
            json!({"waiter": waiter, "holder": request.holder, "position": position,
                   "priority": claim.priority}),
        );
        Ok(Attempt::Queued {
            waiter,
            position,
            deadline_ms: deadline,
            holders: slot.leases.clone(),
        })
    }

    /// A release: the lease goes, the queue is served. An expired lease is
    /// reaped instead, and its error kept (`Err(_, true)`: the reaping is
    /// written all the same).
    fn decide_release(
        &self,
        batch: &mut Batch,
        id: &str,
        granted: &mut Vec<Grant>,
    ) -> Result<Released, (StoreError, bool)> {
        let now = batch.now;
        let found = batch
            .slots
            .iter()
            .find_map(|(name, slot)| slot.leases.iter().find(|l| l.id == id).map(|l| (name, l)));
        let Some((name, lease)) = found else {
            return Err((StoreError::UnknownLease(id.to_owned()), false));
        };
        let (name, lease) = (name.clone(), lease.clone());
        if lease.expires_at_ms <= now {
            self.pass(batch, &name, None, granted);
            return Err((
                StoreError::LeaseExpired {
                    id: lease.id,
                    resource: name,
                    token: lease.token,
                },
                true,
            ));
        }
        if let Some(slot) = batch.slots.get_mut(&name) {
            slot.leases.retain(|l| l.id != id);
        }
        let result = json!({"lease": lease.id, "token": lease.token,
                            "held_ms": now - lease.granted_at_ms});
        batch.journal.operations.push(OperationRow {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "release",
            status: OperationStatus::Succeeded,
            resource: name.clone(),
            holder: Some(holder_json(&lease.holder)),
            started_at: now,
            finished_at: Some(now),
            result: Some(result),
            error: None,
        });
        batch.journal.event(
            now,
            "release",
            &name,
            json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                   "held_ms": now - lease.granted_at_ms}),
        );
        self.pass(batch, &name, None, granted);
        Ok(Released { lease })
    }

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
    pub(crate) async fn run_batch(&self, ops: &[Op]) -> Result<Vec<Answer>, StoreError> {
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
        let creates = (!creates.is_empty()).then(|| {
            let rows: Vec<Value> = creates
                .iter()
                .map(|(name, request)| {
                    json!({"id": name, "kind": request.resource.kind(),
                           "identifier": request.resource.identifier(),
                           "capacity": request.capacity.unwrap_or(1)})
                })
                .collect();
            Value::from(rows).to_string()
        });
        let started = Instant::now();
        let (outcomes, events) = match self.backend {
            Backend::Sqlite => {
                // BEGIN in the first script, COMMIT in the last: two round
                // trips to the connection's thread in all.
                let mut scripted = self.scripted().await?;
                let connection = scripted.connection()?;
                let mut batch = self
                    .load(connection, true, creates, &names, &leases, &by_id, now_ms())
                    .await?;
                let outcomes = self.decide_all(&mut batch, ops);
                let events = self.write(connection, batch, true).await?;
                scripted.committed = true;
                (outcomes, events)
            }
            Backend::Postgres => {
                let mut transaction = self.begin().await?;
                let mut batch = self
                    .load(
                        &mut transaction,
                        false,
                        creates,
                        &names,
                        &leases,
                        &by_id,
                        now_ms(),
                    )
                    .await?;
                let outcomes = self.decide_all(&mut batch, ops);
                let events = self.write(&mut transaction, batch, false).await?;
                let mut all = Effects::default();
                for (outcome, granted, _) in &outcomes {
                    if outcome.is_ok() || matches!(outcome, Err((_, true))) {
                        all.granted.extend(granted.iter().cloned());
                    }
                }
                all.events.clone_from(&events);
                self.notify(&mut transaction, &all).await?;
                transaction.commit().await?;
                (outcomes, events)
            }
        };
        self.batches
            .observe(ops.len(), started.elapsed().as_secs_f64());
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
                        let _ = answer.send(result);
                    }
                }
                Err(error) if ops.len() == 1 => {
                    if let Some(answer) = answers.into_iter().next() {
                        let _ = answer.send(Err(error));
                    }
                }
                Err(error) => {
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
                            Err(error) => Err(error),
                        };
                        let _ = answer.send(result);
                    }
                }
            }
        }
    }
}

/// Marks the batcher idle if its task panics, failing what waits (their
/// senders are dropped), so that the next request starts a task again
/// instead of waiting for one that is gone.
struct Draining(Arc<Batcher>);

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
    queue: Mutex<Pending>,
    stats: Mutex<BatchStats>,
}

#[derive(Debug, Default)]
struct Pending {
    pending: Vec<(Op, oneshot::Sender<Answer>)>,
    running: bool,
}

/// Batch sizes and commit latency, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchStats {
    /// Cumulative counts per [`BATCH_SIZE_BUCKETS`] bound.
    pub size_counts: [u64; BATCH_SIZE_BUCKETS.len()],
    pub size_sum: u64,
    /// Seconds from the batch's `BEGIN` to its commit.
    pub commit: Histogram,
    /// Claims and releases waiting for the next batch now.
    pub waiting: usize,
    /// Whether a batch is running now.
    pub running: bool,
}

impl Batcher {
    pub(crate) fn new() -> Arc<Batcher> {
        Arc::new(Batcher::default())
    }

    fn observe(&self, size: usize, seconds: f64) {
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

    /// The order of the queue: effective priority (priority plus aging),
    /// then arrival.
    pub(crate) fn queue_order(&self, a: &Waiter, b: &Waiter, now: i64) -> std::cmp::Ordering {
        let pa = self
            .policy
            .effective_priority(a.priority, now - a.enqueued_at);
        let pb = self
            .policy
            .effective_priority(b.priority, now - b.enqueued_at);
        pb.cmp(&pa)
            .then(a.enqueued_at.cmp(&b.enqueued_at))
            .then(a.id.cmp(&b.id))
    }
}
