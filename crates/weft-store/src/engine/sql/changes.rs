//! What a batch changed and recorded, as the statements of the engine's
//! write (see `write.rs`): one per kind of change there is, and the key
//! that tells their combination apart.

use serde::Serialize;

use super::statement::{Arg, Statement, text};
use super::{
    CHECKED, FORGET_RELEASED, REMEMBER_RELEASED_MS, Session, fields, json_text, member, member_id,
    member_of, records, strings,
};
use crate::engine::Batch;
use crate::engine::cache::Written;
use crate::error::StoreError;
use crate::leases::{LEASE_COLUMNS, WAITER_COLUMNS};
use crate::store::{Backend, Store};

// The rows of the write's statements, each kind a JSON array of objects
// whose fields the statement reads by name (`j.value ->> 'name'`):
// serialized straight from these (see `json_text`); on PostgreSQL, the one
// row of some kinds as plain arguments instead (see `one_row`).

/// A lease granted, or granted again under its id.
#[derive(Serialize)]
struct LeaseRow<'a> {
    id: &'a str,
    resource: &'a str,
    mode: &'static str,
    weight: i64,
    token: i64,
    /// The holder's JSON, as text.
    holder: String,
    priority: i64,
    ttl_ms: i64,
    granted_at: i64,
    expires_at: i64,
}

/// A claim queued.
#[derive(Serialize)]
struct WaiterRow<'a> {
    id: &'a str,
    resource: &'a str,
    mode: &'static str,
    weight: i64,
    /// The holder's JSON, as text.
    holder: String,
    priority: i64,
    ttl_ms: i64,
    enqueued_at: i64,
    deadline: i64,
    heartbeat_until: i64,
    operation: &'a str,
    lease: Option<&'a str>,
}

/// A waiter's lease (once granted) or heartbeat, changed.
#[derive(Serialize)]
struct WaiterChange<'a> {
    id: &'a str,
    lease: Option<&'a str>,
    heartbeat_until: i64,
}

/// A resource's fencing token, moved on by its grants.
#[derive(Serialize)]
struct FenceRow<'a> {
    id: &'a str,
    fence: i64,
}

/// A lease given back, remembered for a release asked again.
#[derive(Serialize)]
struct ReleasedRow<'a> {
    id: &'a str,
    at: i64,
    /// The lease's JSON with its milliseconds, as text.
    lease: String,
}

/// An operation started in the batch, finished or not.
#[derive(Serialize)]
struct OperationInsert<'a> {
    id: &'a str,
    kind: &'static str,
    status: &'static str,
    resource: &'a str,
    holder: Option<&'a str>,
    started_at: i64,
    finished_at: Option<i64>,
    duration_ms: Option<i64>,
    /// The result's JSON, as text.
    result: Option<String>,
    error: Option<&'a str>,
}

/// An operation started by an earlier transaction, finished in the batch.
#[derive(Serialize)]
struct OperationFinish<'a> {
    id: &'a str,
    status: &'static str,
    finished_at: i64,
    /// The result's JSON, as text.
    result: Option<String>,
    error: Option<&'a str>,
}

/// An event the batch records.
#[derive(Serialize)]
struct EventRow<'a> {
    at: i64,
    kind: &'static str,
    resource: &'a str,
    /// The event's data, as JSON text.
    data: String,
}

// Bits of a write's key beside the kinds of change (0 to 8) and `CHECKED`
// (15): a kind whose one row goes as arguments of its own (see
// `one_row`), and a write that forgets leases given back long ago. All
// sixteen are taken: another needs a wider key.
const ONE_FENCE: u16 = 9;
const ONE_LEASE: u16 = 10;
const ONE_RELEASED: u16 = 11;
const ONE_OPERATION: u16 = 12;
const ONE_EVENT: u16 = 13;
pub(super) const FORGET: u16 = 14;
const _: () = assert!(1 << FORGET < CHECKED);

/// Whether a kind's rows, `rows` of them, go as one row's arguments to a
/// statement that inserts (or updates) `VALUES`, rather than as a JSON
/// array its statement takes apart: on PostgreSQL, for one row. Reading
/// each field out of `jsonb` was a tenth of a PostgreSQL backend's time in
/// a batch of one claim or release, the most common batch at one client.
/// (SQLite reads each field from its parameter, kept parsed: no gain.) The
/// kinds: fences, leases granted, leases given back, operations started
/// and events; the others (rows deleted, waiters, operations finished)
/// are rarer alone and keep their arrays.
fn one_row(b: Backend, rows: usize) -> bool {
    b == Backend::Postgres && rows == 1
}

const LEASE_UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET resource = excluded.resource,
    mode = excluded.mode, weight = excluded.weight, token = excluded.token,
    holder = excluded.holder, priority = excluded.priority, ttl_ms = excluded.ttl_ms,
    granted_at = excluded.granted_at, expires_at = excluded.expires_at,
    renewed_at = excluded.renewed_at";

const RELEASED_UPSERT: &str =
    "ON CONFLICT (id) DO UPDATE SET lease = excluded.lease, released_at = excluded.released_at";

const OPERATION_COLUMNS: &str =
    "id, kind, status, resource, holder, started_at, finished_at, duration_ms, result, error";

/// A statement over `rows` as the JSON array `$1`, its text (written by
/// `sql`, each field as `j.value ->> 'name'`: see `fields`) kept by `name`.
fn over_rows<T: Serialize + ?Sized>(
    b: Backend,
    name: &'static str,
    rows: &T,
    sql: impl FnOnce() -> String,
) -> Result<Statement, StoreError> {
    Ok(Statement::new(
        text(b, name, 0, || fields(b, 1, sql())),
        vec![Arg::Text(json_text(rows)?)],
    ))
}

/// A batch's changes as statements, in the order they run.
pub(super) struct Changes {
    pub(super) statements: Vec<Statement>,
    /// Which kinds of change there are (bits 0 to 8), which of them have
    /// one row, and whether old releases are forgotten: the key of the
    /// write's text and prepared statement, with `CHECKED`.
    pub(super) kinds: u16,
    /// Ids of the rows written (for the cache: they take this
    /// transaction's version, its id as their `xmin` on PostgreSQL).
    pub(super) written: Written,
}

impl Store {
    /// The statements that write what `batch` changed and recorded, the
    /// events' insert last (its ids are the rows the round trip returns).
    pub(super) fn changes(&self, batch: &Batch, session: Session) -> Result<Changes, StoreError> {
        let b = self.backend;
        // One statement per kind of change there is; `kinds` marks which
        // (and which of them have one row, and whether old releases are
        // forgotten), and names the engine's prepared statement for that
        // combination.
        let mut kinds = 0u16;
        let mut has = |kind: u16, rows: bool| {
            kinds |= u16::from(rows) << kind;
            rows
        };
        let mut leases_gone = Vec::new();
        let mut leases_new = Vec::new();
        let mut waiters_gone = Vec::new();
        let mut waiters_new = Vec::new();
        let mut waiters_changed = Vec::new();
        let mut fences = Vec::new();
        let mut written = Written::default();
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
                    written.leases.insert(lease.id.clone());
                    leases_new.push(LeaseRow {
                        id: &lease.id,
                        resource: id,
                        mode: lease.mode.as_str(),
                        weight: lease.weight,
                        token: lease.token,
                        holder: json_text(&lease.holder)?,
                        priority: lease.priority,
                        ttl_ms: lease.ttl_ms,
                        granted_at: lease.granted_at_ms,
                        expires_at: lease.expires_at_ms,
                    });
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
                            written.waiters.insert(waiter.id.clone());
                            waiters_changed.push(WaiterChange {
                                id: &waiter.id,
                                lease: waiter.lease.as_deref(),
                                heartbeat_until: waiter.heartbeat_until,
                            });
                        }
                    }
                    _ => {
                        written.waiters.insert(waiter.id.clone());
                        waiters_new.push(WaiterRow {
                            id: &waiter.id,
                            resource: id,
                            mode: waiter.mode.as_str(),
                            weight: waiter.weight,
                            holder: json_text(&waiter.holder)?,
                            priority: waiter.priority,
                            ttl_ms: waiter.ttl_ms,
                            enqueued_at: waiter.enqueued_at,
                            deadline: waiter.deadline,
                            heartbeat_until: waiter.heartbeat_until,
                            operation: &waiter.operation,
                            lease: waiter.lease.as_deref(),
                        });
                    }
                }
            }
            if slot.resource.fence != loaded.fence {
                fences.push(FenceRow {
                    id,
                    fence: slot.resource.fence,
                });
            }
        }
        let mut statements = Vec::new();
        if has(0, !waiters_gone.is_empty()) {
            statements.push(Statement::new(
                text(b, "waiters gone", 0, || {
                    format!("DELETE FROM waiters WHERE {}", member(b, "id", 1))
                }),
                vec![Arg::Text(strings(waiters_gone)?)],
            ));
        }
        if has(1, !leases_gone.is_empty()) {
            statements.push(Statement::new(
                text(b, "leases gone", 0, || {
                    format!("DELETE FROM leases WHERE {}", member(b, "id", 1))
                }),
                vec![Arg::Text(strings(leases_gone)?)],
            ));
        }
        if has(2, !fences.is_empty()) {
            statements.push(if has(ONE_FENCE, one_row(b, fences.len())) {
                Statement::new(
                    "UPDATE resources SET fence = $2 WHERE id = $1",
                    vec![
                        Arg::Text(fences[0].id.to_owned()),
                        Arg::Int(fences[0].fence),
                    ],
                )
            } else {
                over_rows(b, "fences", &fences, || {
                    format!(
                        "UPDATE resources SET fence = CAST(j.value ->> 'fence' AS BIGINT)
                         FROM {} WHERE resources.id = j.value ->> 'id' AND {}",
                        records(b, 1),
                        member_id(b, "resources.id", 1)
                    )
                })?
            });
        }
        if has(3, !leases_new.is_empty()) {
            statements.push(if has(ONE_LEASE, one_row(b, leases_new.len())) {
                let lease = &leases_new[0];
                Statement::new(
                    text(b, "lease new", 0, || {
                        format!(
                            "INSERT INTO leases ({LEASE_COLUMNS}, renewed_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9) {LEASE_UPSERT}"
                        )
                    }),
                    vec![
                        Arg::Text(lease.id.to_owned()),
                        Arg::Text(lease.resource.to_owned()),
                        Arg::Text(lease.mode.to_owned()),
                        Arg::Int(lease.weight),
                        Arg::Int(lease.token),
                        Arg::Text(lease.holder.clone()),
                        Arg::Int(lease.priority),
                        Arg::Int(lease.ttl_ms),
                        Arg::Int(lease.granted_at),
                        Arg::Int(lease.expires_at),
                    ],
                )
            } else {
                over_rows(b, "leases new", &leases_new, || {
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
                         FROM {} WHERE true {LEASE_UPSERT}",
                        records(b, 1)
                    )
                })?
            });
        }
        if has(4, !waiters_new.is_empty()) {
            statements.push(over_rows(b, "waiters new", &waiters_new, || {
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
                )
            })?);
        }
        if has(5, !waiters_changed.is_empty()) {
            statements.push(over_rows(b, "waiters changed", &waiters_changed, || {
                format!(
                    "UPDATE waiters SET lease = j.value ->> 'lease',
                                heartbeat_until = CAST(j.value ->> 'heartbeat_until' AS BIGINT)
                         FROM {} WHERE waiters.id = j.value ->> 'id' AND {}",
                    records(b, 1),
                    member_id(b, "waiters.id", 1)
                )
            })?);
        }
        let journal = &batch.journal;
        if has(6, !journal.released.is_empty()) {
            let rows = journal
                .released
                .iter()
                .map(|lease| {
                    Ok(ReleasedRow {
                        id: &lease.id,
                        at: batch.now,
                        // The milliseconds are not part of a lease's JSON.
                        lease: json_text(&(lease, lease.granted_at_ms, lease.expires_at_ms))?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // Leases given back over an hour ago: forgotten by the engine
            // every so often (see `Forgetting`); by a write in another
            // transaction at once (none gives a lease back today).
            let forget = match session {
                Session::Within => true,
                Session::Engine { .. } => self
                    .batches
                    .forgetting
                    .due(journal.released.len(), batch.now),
            };
            if has(FORGET, forget) {
                let ids = strings(journal.released.iter().map(|l| l.id.as_str()))?;
                statements.push(Statement::new(
                    // A bounded number, oldest first, more than come in between:
                    // a plan that walks the index whatever the cut-off.
                    text(b, "released forget", 0, || {
                        format!(
                            "DELETE FROM released_leases WHERE {}",
                            member_of(
                                b,
                                "id",
                                &format!(
                                    "SELECT id FROM released_leases
                                 WHERE released_at < $1 AND NOT ({})
                                 ORDER BY released_at LIMIT {FORGET_RELEASED}{}",
                                    member(b, "id", 2),
                                    // What another server's batch is forgetting
                                    // is left to it, rather than waited for.
                                    match b {
                                        Backend::Sqlite => "",
                                        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
                                    }
                                )
                            )
                        )
                    }),
                    vec![Arg::Int(batch.now - REMEMBER_RELEASED_MS), Arg::Text(ids)],
                ));
            }
            statements.push(if has(ONE_RELEASED, one_row(b, rows.len())) {
                Statement::new(
                    text(b, "released one", 0, || {
                        format!(
                            "INSERT INTO released_leases (id, lease, released_at)
                             VALUES ($1, $2, $3) {RELEASED_UPSERT}"
                        )
                    }),
                    vec![
                        Arg::Text(rows[0].id.to_owned()),
                        Arg::Text(rows[0].lease.clone()),
                        Arg::Int(rows[0].at),
                    ],
                )
            } else {
                over_rows(b, "released insert", &rows, || {
                    format!(
                        "INSERT INTO released_leases (id, lease, released_at)
                         SELECT j.value ->> 'id', j.value ->> 'lease', CAST(j.value ->> 'at' AS BIGINT)
                         FROM {} WHERE true {RELEASED_UPSERT}",
                        records(b, 1)
                    )
                })?
            });
        }
        if has(7, !journal.operations.is_empty()) {
            let rows = journal
                .operations
                .iter()
                .map(|o| {
                    Ok(OperationInsert {
                        id: &o.id,
                        kind: o.kind,
                        status: o.status.as_str(),
                        resource: &o.resource,
                        holder: o.holder.as_deref(),
                        started_at: o.started_at,
                        finished_at: o.finished_at,
                        duration_ms: o.finished_at.map(|f| f - o.started_at),
                        result: o.result.as_ref().map(json_text).transpose()?,
                        error: o.error.as_deref(),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            statements.push(if has(ONE_OPERATION, one_row(b, rows.len())) {
                let operation = &rows[0];
                Statement::new(
                    text(b, "operation", 0, || {
                        format!(
                            "INSERT INTO operations ({OPERATION_COLUMNS})
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                        )
                    }),
                    vec![
                        Arg::Text(operation.id.to_owned()),
                        Arg::Text(operation.kind.to_owned()),
                        Arg::Text(operation.status.to_owned()),
                        Arg::Text(operation.resource.to_owned()),
                        Arg::MaybeText(operation.holder.map(str::to_owned)),
                        Arg::Int(operation.started_at),
                        Arg::MaybeInt(operation.finished_at),
                        Arg::MaybeInt(operation.duration_ms),
                        Arg::MaybeText(operation.result.clone()),
                        Arg::MaybeText(operation.error.map(str::to_owned)),
                    ],
                )
            } else {
                over_rows(b, "operations", &rows, || {
                    format!(
                        "INSERT INTO operations ({OPERATION_COLUMNS})
                         SELECT j.value ->> 'id', j.value ->> 'kind', j.value ->> 'status',
                                j.value ->> 'resource', j.value ->> 'holder',
                                CAST(j.value ->> 'started_at' AS BIGINT),
                                CAST(j.value ->> 'finished_at' AS BIGINT),
                                CAST(j.value ->> 'duration_ms' AS BIGINT),
                                j.value ->> 'result', j.value ->> 'error'
                         FROM {}",
                        records(b, 1)
                    )
                })?
            });
        }
        if has(8, !journal.finished.is_empty()) {
            let rows = journal
                .finished
                .iter()
                .map(|f| {
                    Ok(OperationFinish {
                        id: &f.id,
                        status: f.status.as_str(),
                        finished_at: f.finished_at,
                        result: f.result.as_ref().map(json_text).transpose()?,
                        error: f.error.as_deref(),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            statements.push(over_rows(b, "finished", &rows, || {
                format!(
                    "UPDATE operations SET status = j.value ->> 'status',
                                finished_at = CAST(j.value ->> 'finished_at' AS BIGINT),
                                duration_ms = CAST(j.value ->> 'finished_at' AS BIGINT) - started_at,
                                result = j.value ->> 'result', error = j.value ->> 'error'
                         FROM {} WHERE operations.id = j.value ->> 'id' AND {}",
                    records(b, 1),
                    member_id(b, "operations.id", 1)
                )
            })?);
        }
        let rows = journal
            .events
            .iter()
            .map(|e| {
                Ok(EventRow {
                    at: e.at,
                    kind: e.kind,
                    resource: &e.resource,
                    data: json_text(&e.data)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Inserted in order, so the ids ascend in the journal's order. Last:
        // its ids are the rows the round trip returns.
        statements.push(if has(ONE_EVENT, one_row(b, rows.len())) {
            Statement::new(
                "INSERT INTO events (at, kind, resource, data) VALUES ($1, $2, $3, $4) RETURNING id",
                vec![
                    Arg::Int(rows[0].at),
                    Arg::Text(rows[0].kind.to_owned()),
                    Arg::Text(rows[0].resource.to_owned()),
                    Arg::Text(rows[0].data.clone()),
                ],
            )
        } else {
            over_rows(b, "events", &rows, || {
                format!(
                    "INSERT INTO events (at, kind, resource, data)
                     SELECT CAST(j.value ->> 'at' AS BIGINT), j.value ->> 'kind',
                            j.value ->> 'resource', j.value ->> 'data'
                     FROM {} ORDER BY j.key RETURNING id",
                    records(b, 1)
                )
            })?
        });
        Ok(Changes {
            statements,
            kinds,
            written,
        })
    }
}
