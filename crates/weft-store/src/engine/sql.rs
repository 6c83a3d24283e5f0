//! The engine's SQL: locking and loading a batch's resources in one round
//! trip, writing what it changed in one, by backend; for a batch decided
//! from the engine's cache, locking, checking the cache, writing and
//! committing in one (see `cache.rs`). The write is in `write.rs`, its
//! statements in `changes.rs`.

use std::collections::{BTreeSet, HashMap};

use sqlx::{AnyConnection, Row};

use super::cache::{Cache, Versions};
use super::{Batch, Done, Outcome};
use crate::error::StoreError;
use crate::leases::{Effects, Released, lease_from_row, resource_from_row, waiter_from_row};
use crate::store::{Backend, Store};
use crate::time::now_ms;
use crate::types::{Lease, Resource};

mod changes;
mod statement;
mod write;

use statement::{Arg, Statement, text};

/// How long a lease given back is remembered, for a release asked again.
const REMEMBER_RELEASED_MS: i64 = 60 * 60 * 1000;

/// The most leases given back that a batch forgets: more than come in
/// between two batches that forget (fewer than `Forgetting::AFTER` before
/// the one that forgets, and what it gives back), so that they never pile
/// up.
const FORGET_RELEASED: usize = 2 * super::MAX_BATCH;
const _: () = assert!(super::batcher::Forgetting::AFTER - 1 + super::MAX_BATCH < FORGET_RELEASED);

/// Rows of a JSON array parameter, by backend: `j.value` is each element
/// and `j.key` its position. On PostgreSQL as `jsonb`, parsed once: each
/// `->>` on a `json` element lexes the element's whole text again, which
/// was a tenth of the server's time in a batch. (Every field the engine
/// reads is a string, a number or null, whose `->>` text is the same.)
fn records(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("json_each(${n}) AS j"),
        Backend::Postgres => {
            format!("jsonb_array_elements(${n}::jsonb) WITH ORDINALITY AS j(value, key)")
        }
    }
}

/// `sql` with each field of a row of [`records`] over `$n`, which it
/// writes `j.value ->> 'name'`, read the way the backend reads it best. On
/// SQLite, from the parameter itself by the row's path: SQLite keeps the
/// parameter parsed between calls, where `j.value` is the row written back
/// out as text, at every field that reads it, and each `->>` parses that
/// text again (in all, a seventh of a SQLite server's instructions). Runs
/// once per text, as it is built (see `statement::text`).
fn fields(backend: Backend, n: usize, sql: String) -> String {
    const FIELD: &str = "j.value ->> '";
    if backend == Backend::Postgres {
        return sql;
    }
    let mut out = String::with_capacity(sql.len() * 2);
    let mut rest = sql.as_str();
    while let Some(at) = rest.find(FIELD) {
        let after = &rest[at + FIELD.len()..];
        // Without its closing quote, not a field after all: left as it is.
        let Some(end) = after.find('\'') else {
            break;
        };
        out.push_str(&rest[..at]);
        // `->>` binds as tightly as `||`: the path is parenthesized.
        let name = &after[..end];
        out.push_str(&format!("(${n} ->> ('$[' || j.key || '].{name}'))"));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether `column` is one of the values `subquery` returns. On
/// PostgreSQL, `= ANY(ARRAY(…))`: the planner takes the array for a few
/// values and probes the column's index, where for `IN (…)` over a JSON
/// array it assumes 100 rows and, on a table that claims churn through
/// (whose dead rows it counts), would rather scan the whole table.
fn member_of(backend: Backend, column: &str, subquery: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{column} IN ({subquery})"),
        Backend::Postgres => format!("{column} = ANY(ARRAY({subquery}))"),
    }
}

/// The strings of the JSON array parameter `$n`, one row each.
fn elements(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each(${n})"),
        Backend::Postgres => format!("SELECT json_array_elements_text(${n}::json)"),
    }
}

/// Whether `column` is one of the strings of the JSON array parameter `$n`.
fn member(backend: Backend, column: &str, n: usize) -> String {
    member_of(backend, column, &elements(backend, n))
}

/// Whether `column` is none of the values `subquery` returns (a column
/// that is never null).
fn not_member_of(backend: Backend, column: &str, subquery: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{column} NOT IN ({subquery})"),
        Backend::Postgres => format!("{column} <> ALL(ARRAY({subquery}))"),
    }
}

/// Whether `column` is the `id` of one of the rows of the JSON array
/// parameter `$n`: for an `UPDATE … FROM` those rows, which this lets look
/// rows up by index.
fn member_id(backend: Backend, column: &str, n: usize) -> String {
    member_of(
        backend,
        column,
        &fields(
            backend,
            n,
            format!("SELECT j.value ->> 'id' FROM {}", records(backend, n)),
        ),
    )
}

/// `value` as JSON text, written straight from its type: building
/// `serde_json::Value`s and writing them out through `Display`, a
/// formatter call per piece, was a sixth of a server's instructions.
pub(super) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt {
        what: "engine rows",
        message: error.to_string(),
    })
}

/// The strings as a JSON array.
fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<String, StoreError> {
    json_text(&items.into_iter().collect::<Vec<_>>())
}

/// Where a batch's statements run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Session {
    /// The engine's own transaction on its connection: begun by the load
    /// and committed by the write, each one round trip (a batch from the
    /// cache begins it in the write's: see `cache.rs`). On PostgreSQL,
    /// as statements prepared on the connection, so that each is planned
    /// once: the load's whatever the batch holds (`prepared`: already),
    /// and a write for each combination of the kinds of change a batch
    /// makes (a claim alone, say, deletes nothing), of the kinds with one
    /// row, and of whether it forgets old releases and checks the cache
    /// (its key: see `changes.rs`), which the connection keeps a note of
    /// (`Scripted::writes`). Every write could be one statement with a
    /// clause per kind, those with no rows doing nothing, but PostgreSQL
    /// still runs each: a fifth of the write and commit.
    Engine { prepared: bool },
    /// A transaction the caller began and commits.
    Within,
}

/// What the engine's own write needs besides the batch.
pub(super) struct EngineWrite<'a> {
    /// The waiters granted: on PostgreSQL, the same statement sends the
    /// batch's notification (see `notify.rs`), marked with this store's
    /// origin.
    pub(super) announce: &'a [&'a str],
    /// The write statements prepared on the connection (see
    /// `Session::Engine`).
    pub(super) prepared: &'a mut BTreeSet<u16>,
    /// What the connection's transactions left, brought up to date once
    /// this one commits (see `cache.rs`).
    pub(super) cache: &'a mut Cache,
    /// For a batch decided from the cache: what its round trip checks
    /// before it writes, after beginning its transaction and locking.
    pub(super) check: Option<Check>,
    /// Set when that round trip's first answer was the error PostgreSQL
    /// sends a session it ended while the session was idle (see
    /// `ended_idle`): nothing of it took effect.
    pub(super) unanswered: &'a mut bool,
}

/// What the round trip of a batch decided from the cache checks.
#[derive(Debug)]
pub(super) struct Check {
    /// The batch's resources.
    pub(super) resources: Vec<String>,
    /// The same, as a JSON array.
    pub(super) ids: String,
    /// The ids claims give (request ids): a lease or waiter with one on
    /// another resource is a row the batch would have loaded.
    pub(super) by_id: Vec<String>,
    /// The version of every row the batch would have loaded (PostgreSQL:
    /// see [`row_versions`]).
    pub(super) expected: String,
    /// SQLite: the database's version every row the cache holds was read
    /// or written at, which the check looks for.
    pub(super) version: Option<String>,
}

/// Names of the engine's statements prepared on its PostgreSQL connection.
const PREPARED_CREATE: &str = "weft_engine_create";
const PREPARED_LOCK: &str = "weft_engine_lock";
const PREPARED_ROWS: &str = "weft_engine_rows";
const PREPARED_WRITE: &str = "weft_engine_write";
/// Marks the key of an engine write that checks the cache (see
/// `EngineWrite::check`), beside the kinds of change it makes.
const CHECKED: u16 = 1 << 15;

/// What the statement checking a batch decided from the cache fails with
/// when a row changed (see `cache.rs`).
const STALE: &str = "weft: the rows the lease engine kept have changed";

/// Whether a resource's `id` is one of `$ids` or holds one of the leases
/// `$leases` (JSON arrays of ids). One list of ids rather than an `OR` of
/// two: PostgreSQL looks a list up with a plain index scan, an `OR` only
/// with a bitmap scan of each side (see `Store::load`).
fn locked(b: Backend, ids: usize, leases: usize) -> String {
    member_of(
        b,
        "id",
        &format!(
            "{} UNION ALL SELECT resource FROM leases WHERE {}",
            elements(b, ids),
            member(b, "id", leases)
        ),
    )
}

/// Notes the version of the lease or waiter `id` of `resource` (in the map
/// `of` picks), if the row has one.
fn note_version(
    versions: &mut HashMap<String, Versions>,
    resource: String,
    of: fn(&mut Versions) -> &mut HashMap<String, String>,
    id: &str,
    version: Option<String>,
) {
    if let Some(version) = version {
        of(versions.entry(resource).or_default()).insert(id.to_owned(), version);
    }
}

/// A row's version, for the engine's cache, as text: its `xmin` on
/// PostgreSQL; on SQLite, the connection's `data_version`, which every row
/// it reads in a transaction shares, and which moves only when another
/// connection commits (only in the engine's own transactions: no other
/// keeps a cache).
fn version(backend: Backend, session: Session) -> &'static str {
    match (backend, session) {
        (Backend::Postgres, _) => "xmin::text",
        (Backend::Sqlite, Session::Engine { .. }) => SQLITE_DATA_VERSION,
        (Backend::Sqlite, Session::Within) => "CAST(NULL AS TEXT)",
    }
}

/// The variant of a text that is not the same in the engine's session as
/// in another: 1 in the engine's, 0 in another.
fn engine(session: Session) -> u32 {
    u32::from(matches!(session, Session::Engine { .. }))
}

/// SQLite: the connection's `data_version`, as text.
const SQLITE_DATA_VERSION: &str = "CAST((SELECT data_version FROM pragma_data_version) AS TEXT)";

/// A row's version as the check of a batch decided from the cache compares
/// it on PostgreSQL: the table's letter (`table`: `r`, `l` or `w`), the
/// row's `xmin`, the length of its id in characters and the id, as in
/// `l1234,36:…`. No two rows share one, and a run of them reads only one
/// way. [`verify_statement`] writes the same text.
pub(super) fn row_version(table: char, id: &str, xmin: &str) -> String {
    format!("{table}{xmin},{}:{id}", id.chars().count())
}

/// The rows' versions ([`row_version`]) as [`verify_statement`] expects
/// them: in byte order, one after the other. (`COLLATE "C"` sorts by the
/// database's bytes: in an encoding whose order is not UTF-8's, a batch
/// over ids outside ASCII would find its check failing, and be loaded.)
pub(super) fn row_versions(mut rows: Vec<String>) -> String {
    rows.sort_unstable();
    rows.concat()
}

/// PostgreSQL: fails with [`STALE`] unless the resources `$1`, their
/// leases and waiters, and the leases and waiters whose ids are in `$2`
/// (lists of ids) are exactly the rows whose versions `$3` lists (see
/// [`row_versions`]). The first clause of the engine's write, which runs
/// after the lock: each statement of a transaction at read committed sees
/// what was committed before it began (and none of what its own clauses
/// write). One text compared, rather than two sets of rows: the statement
/// is on the path of nearly every batch, and PostgreSQL sets up each node
/// of its plan every time it runs. (The error is a cast of text that is
/// not a number: a condition PostgreSQL cannot work out as it plans, which
/// it would for `1/0`.)
fn verify_statement(resources: Vec<String>, by_id: Vec<String>, expected: String) -> Statement {
    let sql = text(Backend::Postgres, "verify", 0, || {
        let row =
            |table: char| format!("'{table}' || xmin::text || ',' || length(id) || ':' || id");
        format!(
            "SELECT CAST(CASE WHEN COALESCE((
                        SELECT string_agg(v, '' ORDER BY v COLLATE \"C\") FROM (
                            SELECT {resource} AS v FROM resources WHERE id = ANY($1)
                            UNION ALL
                            SELECT {lease} FROM leases WHERE resource = ANY($1)
                            UNION ALL
                            SELECT {lease} FROM leases WHERE id = ANY($2) AND resource <> ALL($1)
                            UNION ALL
                            SELECT {waiter} FROM waiters WHERE resource = ANY($1)
                            UNION ALL
                            SELECT {waiter} FROM waiters WHERE id = ANY($2) AND resource <> ALL($1)
                        ) AS actual), '') = $3
                    THEN '1' ELSE '{STALE}' END AS INTEGER) AS verified",
            resource = row('r'),
            lease = row('l'),
            waiter = row('w'),
        )
    });
    Statement::new(
        sql,
        vec![
            Arg::Texts(resources),
            Arg::Texts(by_id),
            Arg::Text(expected),
        ],
    )
}

/// SQLite: fails with [`STALE`] unless the connection's `data_version` is
/// still `$3` (no other connection committed since the cache's rows were
/// read at it) and no lease or waiter whose id is in `$2` is on a resource
/// other than the batch's, `$1` (JSON arrays of ids); returns no row. Runs
/// after `BEGIN IMMEDIATE`, which holds off every other writer until the
/// commit. (The error is a JSON path that is not one: SQLite raises errors
/// of its own choosing only in triggers, and this one quotes the path.)
fn verify_sqlite_statement(ids: String, by_id: String, version: String) -> Statement {
    let b = Backend::Sqlite;
    let sql = text(b, "verify", 0, || {
        let elsewhere = |table: &str| {
            format!(
                "EXISTS (SELECT 1 FROM {table} WHERE {} AND NOT {})",
                member(b, "id", 2),
                member(b, "resource", 1)
            )
        };
        format!(
            "SELECT 1 AS verified
             WHERE json_extract('{{}}', CASE WHEN {SQLITE_DATA_VERSION} <> $3 OR {} OR {}
                                         THEN '{STALE}' ELSE '$' END) IS NULL",
            elsewhere("leases"),
            elsewhere("waiters"),
        )
    });
    Statement::new(
        sql,
        vec![Arg::Text(ids), Arg::Text(by_id), Arg::Text(version)],
    )
}

/// Whether `error` is what PostgreSQL sends a session it ends while the
/// session is idle: terminated (`pg_terminate_backend`, a shutdown) or
/// idle too long. A backend sends each statement's result as it
/// completes, so this error, as the first answer to a query, means that no
/// statement of it ran. (Only these: a pooler between could make up an
/// error of its own, such as 08P01, after the backend had committed. A
/// crash elsewhere in the server ends sessions with a warning, not an
/// error: such a batch's outcome is reported unknown.)
fn ended_idle(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(sqlx::Error::Database(refusal))
        if matches!(refusal.code().as_deref(), Some("57P01" | "57P05")))
}

/// Ends the engine's transaction after its cache check failed.
pub(super) async fn roll_back(connection: &mut AnyConnection) -> Result<(), StoreError> {
    Statement::fetch_simple("ROLLBACK", connection).await?;
    Ok(())
}

/// Whether `error` is the check of a batch decided from the cache finding
/// that a row changed.
pub(super) fn is_stale(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(sqlx::Error::Database(refusal))
        if refusal.message().contains(STALE))
}

impl Store {
    /// Locks (on PostgreSQL) and reads the resources named by `ids` and
    /// those of the leases `leases` (JSON arrays of ids), in id order, so
    /// that two transactions never wait for each other's locks.
    fn lock_statement(&self, session: Session, ids: String, leases: String) -> Statement {
        let b = self.backend;
        let sql = text(b, "lock", engine(session), || {
            format!(
                "SELECT 'resource' AS row_of, id, kind, identifier, capacity, metadata, fence,
                        {} AS version
                 FROM resources WHERE {} ORDER BY id{}",
                version(b, session),
                locked(b, 1, 2),
                self.for_update()
            )
        });
        Statement::new(sql, vec![Arg::Text(ids), Arg::Text(leases)])
    }

    /// Begins the engine's transaction (in `Session::Engine`), creates the
    /// resources `creates` names (a JSON array of rows), locks those named
    /// by `ids` and by the leases `leases` (in id order), and loads their
    /// leases and waiters, plus any lease or waiter whose id is in `by_id`
    /// wherever it is. On SQLite, one script: one round trip to its thread.
    /// On PostgreSQL, the lock comes first and then one read of both tables
    /// (a read in the same statement would see rows from before the lock):
    /// one round trip for the engine, one per statement within another
    /// transaction.
    #[expect(clippy::too_many_arguments, reason = "what to lock and load")]
    pub(super) async fn load(
        &self,
        connection: &mut AnyConnection,
        session: Session,
        creates: Option<String>,
        ids: &[String],
        leases: &[String],
        by_id: &[String],
        now: i64,
    ) -> Result<Batch, StoreError> {
        let b = self.backend;
        let ids = strings(ids.iter().map(String::as_str))?;
        let leases = strings(leases.iter().map(String::as_str))?;
        let by_id = strings(by_id.iter().map(String::as_str))?;
        let mut statements = Vec::new();
        if b == Backend::Sqlite && session != Session::Within {
            statements.push(Statement::new("BEGIN IMMEDIATE", Vec::new()));
        }
        // The engine's prepared statements are the same whatever the batch.
        let creates = match (b, session) {
            (Backend::Postgres, Session::Engine { .. }) => {
                Some(creates.unwrap_or_else(|| "[]".to_owned()))
            }
            _ => creates,
        };
        let creating = creates.is_some();
        if let Some(rows) = creates {
            let sql = text(b, "create", 0, || {
                fields(
                    b,
                    1,
                    format!(
                        "INSERT INTO resources (id, kind, identifier, capacity, metadata, fence, created_at)
                         SELECT j.value ->> 'id', j.value ->> 'kind', j.value ->> 'identifier',
                                CAST(j.value ->> 'capacity' AS BIGINT), '{{}}', 0, $2
                         FROM {} WHERE true ON CONFLICT (id) DO NOTHING",
                        records(b, 1)
                    ),
                )
            });
            statements.push(Statement::new(sql, vec![Arg::Text(rows), Arg::Int(now)]));
        }
        statements.push(self.lock_statement(session, ids.clone(), leases.clone()));
        // Leases by token (the holders' order), then waiters: those of the
        // locked resources (`l`), then those asked for by id that are on
        // another resource, each side a look-up of one list (see `locked`).
        let sql = text(b, "rows", engine(session), || {
            let lease = format!(
                "SELECT 'lease' AS row_of, id, resource, mode, weight, holder, priority, ttl_ms,
                        token, granted_at, expires_at, CAST(NULL AS BIGINT) AS enqueued_at,
                        CAST(NULL AS BIGINT) AS deadline, CAST(NULL AS BIGINT) AS heartbeat_until,
                        CAST(NULL AS TEXT) AS operation, CAST(NULL AS TEXT) AS lease,
                        {version} AS version
                 FROM leases",
                version = version(b, session),
            );
            let waiter = format!(
                "SELECT 'waiter', id, resource, mode, weight, holder, priority, ttl_ms,
                        NULL, NULL, NULL, enqueued_at, deadline, heartbeat_until, operation, lease,
                        {version}
                 FROM waiters",
                version = version(b, session),
            );
            format!(
                "WITH l AS (SELECT id FROM resources WHERE {locked})
                 {lease} WHERE {of_locked}
                 UNION ALL
                 {lease} WHERE {leases_or_by_id} AND {elsewhere}
                 UNION ALL
                 {waiter} WHERE {of_locked}
                 UNION ALL
                 {waiter} WHERE {by_id} AND {elsewhere}
                 ORDER BY 1, 9",
                locked = locked(b, 1, 2),
                of_locked = member_of(b, "resource", "SELECT id FROM l"),
                elsewhere = not_member_of(b, "resource", "SELECT id FROM l"),
                leases_or_by_id = member_of(
                    b,
                    "id",
                    &format!("{} UNION ALL {}", elements(b, 2), elements(b, 3))
                ),
                by_id = member(b, "id", 3),
            )
        });
        let rows = Statement::new(
            sql,
            vec![Arg::Text(ids), Arg::Text(leases), Arg::Text(by_id)],
        );
        statements.push(rows);
        let found = match (b, session) {
            (Backend::Sqlite, _) => {
                let variant = engine(session) | u32::from(creating) << 1;
                Statement::script(statements, "load", variant)
                    .fetch(connection)
                    .await?
            }
            (Backend::Postgres, Session::Engine { prepared }) => {
                let mut sql = String::new();
                let names = [PREPARED_CREATE, PREPARED_LOCK, PREPARED_ROWS];
                // First: a statement before it in the same query would be
                // part of the transaction, and the level could no longer be
                // set. Each statement sees what was committed before it
                // began, the lock's included: the read after it needs that.
                sql.push_str("BEGIN ISOLATION LEVEL READ COMMITTED;\n");
                if !prepared {
                    // The engine looks every row up by key, from a few ids
                    // at a time; the plans it makes once must say so even
                    // when a table looked small as they were made (a new
                    // store's, not analyzed yet) and has grown since. And
                    // with plain index scans, not bitmap scans, which the
                    // planner prefers for a list it cannot count: a bitmap
                    // scan never marks the index entries of dead rows, so
                    // every lease given back left one in `leases_resource`
                    // that each look-up of a busy resource read again,
                    // thousands until a vacuum; an index scan marks them
                    // and skips them after. (Hence no `OR` of two lists in
                    // the engine's statements: only a bitmap scan takes
                    // one.) Planned once, too: PostgreSQL would plan a
                    // statement that takes a list (`text[]`) again each
                    // time it runs, for a plan that differs in nothing but
                    // its estimates. Settings and statements outlast the
                    // transaction: they are the session's.
                    sql.push_str(
                        "SET enable_seqscan = off;\nSET enable_bitmapscan = off;\n\
                         SET plan_cache_mode = force_generic_plan;\n",
                    );
                    for (statement, name) in statements.iter().zip(names) {
                        statement.prepare(name, &mut sql);
                    }
                }
                for (statement, name) in statements.iter().zip(names) {
                    statement.execute(name, &mut sql);
                }
                Statement::fetch_simple(&sql, connection).await?
            }
            (Backend::Postgres, Session::Within) => {
                let mut found = Vec::new();
                for statement in statements {
                    found.extend(statement.fetch(connection).await?);
                }
                found
            }
        };
        let mut batch = Batch::new(now);
        // Each loaded row's version (in the engine's session), by resource.
        let mut versions: HashMap<String, Versions> = HashMap::new();
        for row in found {
            let row_of: String = row.try_get("row_of")?;
            let version: Option<String> = row.try_get("version")?;
            match row_of.as_str() {
                "resource" => {
                    let resource = resource_from_row(&row)?;
                    versions
                        .entry(resource.id.to_string())
                        .or_default()
                        .resource = version;
                    batch.add(resource);
                }
                "lease" => {
                    let lease = lease_from_row(&row)?;
                    let resource = lease.resource.to_string();
                    match batch.slots.get_mut(&resource) {
                        Some(slot) => {
                            let id = &lease.id;
                            note_version(&mut versions, resource, |v| &mut v.leases, id, version);
                            slot.leases.push(lease);
                        }
                        None => batch.strays.leases.push(lease),
                    }
                }
                _ => {
                    let resource: String = row.try_get("resource")?;
                    let waiter = waiter_from_row(&row)?;
                    match batch.slots.get_mut(&resource) {
                        Some(slot) => {
                            let id = &waiter.id;
                            note_version(&mut versions, resource, |v| &mut v.waiters, id, version);
                            slot.waiters.push(waiter);
                        }
                        None => batch.strays.waiters.push((resource, waiter)),
                    }
                }
            }
        }
        batch.remember(|id| versions.remove(id));
        Ok(batch)
    }

    /// A release of a lease this store does not hold that it gave back
    /// within the hour (the first answer was lost, and the client asked
    /// again) gets that answer again; it changes nothing. One read, only
    /// when a batch has such a release.
    pub(super) async fn recall_released(
        &self,
        connection: &mut AnyConnection,
        outcomes: &mut [Outcome],
    ) -> Result<(), StoreError> {
        let unknown: Vec<&str> = outcomes
            .iter()
            .filter_map(|(outcome, _, _)| match outcome {
                Err((StoreError::UnknownLease(id), false)) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let b = self.backend;
        let found = Statement::new(
            text(b, "recall released", 0, || {
                format!(
                    "SELECT id, lease FROM released_leases WHERE {}",
                    member(b, "id", 1)
                )
            }),
            vec![Arg::Text(strings(unknown)?)],
        )
        .fetch(connection)
        .await?;
        for row in found {
            let id: String = row.try_get("id")?;
            let lease: String = row.try_get("lease")?;
            let (mut lease, granted_at_ms, expires_at_ms): (Lease, i64, i64) =
                serde_json::from_str(&lease).map_err(|error| StoreError::Corrupt {
                    what: "released lease",
                    message: error.to_string(),
                })?;
            lease.granted_at_ms = granted_at_ms;
            lease.expires_at_ms = expires_at_ms;
            for (outcome, _, _) in outcomes.iter_mut() {
                if matches!(outcome, Err((StoreError::UnknownLease(unknown), false)) if unknown == &id)
                {
                    *outcome = Ok(Done::Released(Box::new(Released {
                        lease: lease.clone(),
                    })));
                }
            }
        }
        Ok(())
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
                Session::Within,
                None,
                std::slice::from_ref(&id),
                &[],
                &[],
                now_ms(),
            )
            .await?;
        self.pass(&mut batch, &id, None, &mut effects.granted);
        effects.events.extend(
            self.write(transaction, batch, Session::Within, None)
                .await?,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_reads_each_field_from_the_parameter_by_the_rows_path() {
        let sql = "SELECT j.value ->> 'id', CAST(j.value ->> 'ttl_ms' AS BIGINT), j.key \
                   FROM json_each($2) AS j ORDER BY j.key"
            .to_owned();
        assert_eq!(
            fields(Backend::Sqlite, 2, sql.clone()),
            "SELECT ($2 ->> ('$[' || j.key || '].id')), \
             CAST(($2 ->> ('$[' || j.key || '].ttl_ms')) AS BIGINT), j.key \
             FROM json_each($2) AS j ORDER BY j.key"
        );
        assert_eq!(fields(Backend::Postgres, 2, sql.clone()), sql);
    }
}
