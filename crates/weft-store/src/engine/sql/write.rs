//! The engine's write: what a batch changed and recorded (its statements:
//! see `changes.rs`), in one round trip, with the commit of the engine's
//! own transaction.

use sqlx::{AnyConnection, Row};

use super::changes::{self, FORGET};
use super::statement::{Arg, Statement, text};
use super::{
    CHECKED, EngineWrite, PREPARED_LOCK, PREPARED_WRITE, SQLITE_DATA_VERSION, Session, ended_idle,
    is_stale, strings, verify_sqlite_statement, verify_statement,
};
use crate::engine::Batch;
use crate::error::StoreError;
use crate::store::{Backend, Store};
use crate::time::rfc3339;
use crate::types::Event;

/// The engine's write on PostgreSQL: `statements` as `WITH` clauses (the
/// last inserts the events, returning their ids), after `check` if there is
/// one (see `verify_statement`); then a clause with the events' ids as a
/// JSON array, one that sends the batch's notification (see `notify.rs`)
/// if there is `announce` (the waiters granted), marked with this store's
/// `origin`, and a main statement whose one row has the check's result, the
/// ids and a count of the notification's row (PostgreSQL runs a clause that
/// only reads when something reads it).
///
/// The check is read first, and before anything the statement writes. Not
/// an order PostgreSQL's documentation promises, but how its executor runs
/// such a statement: the main statement's subqueries in the order of its
/// columns, each clause as it is first read, and a clause that writes and
/// that nothing reads (all but the events') once the main statement is done.
/// A failed check fails the statement, and its transaction, all the same:
/// the order only decides which error a stale batch meets first.
///
/// Its text is kept by `key`: the kinds of change the statements make,
/// which of them have one row, whether it forgets old releases, and
/// whether there is a check (see `text`).
fn engine_write(
    mut statements: Vec<Statement>,
    check: Option<Statement>,
    announce: Option<&[&str]>,
    origin: i64,
    key: u16,
) -> Result<Statement, StoreError> {
    let pg = Backend::Postgres;
    let checked = check.is_some();
    debug_assert_eq!(
        key & CHECKED != 0,
        checked,
        "a write's key says whether it checks"
    );
    if let Some(check) = check {
        statements.insert(0, check);
    }
    let events = statements.len() - 1;
    // Their ids, once for both the notification and the main statement.
    statements.push(Statement::new(
        text(pg, "engine write ids", events as u32, || {
            format!("SELECT COALESCE(json_agg(id ORDER BY id), '[]') AS ids FROM w{events}")
        }),
        Vec::new(),
    ));
    let ids = events + 1;
    statements.push(Statement::new(
        text(pg, "engine write notify", ids as u32, || {
            format!(
                "SELECT pg_notify($1, CASE WHEN length(p.t) < 7900 THEN p.t
                                      ELSE json_build_object('origin', $2::bigint,
                                                             'overflow', true)::text END)
                 FROM (SELECT json_build_object('origin', $2::bigint, 'granted', $3::json,
                                                'events', (SELECT ids FROM w{ids}))::text AS t) AS p
                 WHERE $4::bigint = 1"
            )
        }),
        vec![
            Arg::Text(crate::notify::CHANNEL.to_owned()),
            Arg::Int(origin),
            Arg::Text(strings(announce.unwrap_or_default().iter().copied())?),
            Arg::Int(i64::from(announce.is_some())),
        ],
    ));
    statements.push(Statement::new(
        text(
            pg,
            "engine write main",
            ids as u32 * 2 + u32::from(checked),
            || {
                format!(
                    "SELECT {}(SELECT ids FROM w{ids})::text AS ids,
                        (SELECT count(*) FROM w{}) AS announced,
                        (txid_current() % 4294967296)::text AS xid",
                    if checked {
                        "(SELECT verified FROM w0) AS verified, "
                    } else {
                        ""
                    },
                    ids + 1
                )
            },
        ),
        Vec::new(),
    ));
    Ok(Statement::with(statements, "engine write", u32::from(key)))
}

impl Store {
    /// Writes what the batch changed and recorded in one round trip (a
    /// script on SQLite, data-modifying `WITH` clauses on PostgreSQL),
    /// committing the engine's transaction in the same one; returns the
    /// events with their ids. See [`EngineWrite`] for the engine's own.
    pub(in crate::engine) async fn write(
        &self,
        connection: &mut AnyConnection,
        batch: Batch,
        session: Session,
        engine: Option<EngineWrite<'_>>,
    ) -> Result<Vec<Event>, StoreError> {
        let b = self.backend;
        let changes::Changes {
            mut statements,
            kinds,
            written,
        } = self.changes(&batch, session)?;
        let journal = batch.journal;
        let engine = match session {
            Session::Within => None,
            Session::Engine { .. } => Some(engine.ok_or(StoreError::Corrupt {
                what: "engine write",
                message: "without the engine's connection state".to_owned(),
            })?),
        };
        let event_ids = |rows: &[sqlx::any::AnyRow]| -> Result<Vec<i64>, StoreError> {
            Ok(rows
                .iter()
                .map(|row| row.try_get("id"))
                .collect::<Result<_, _>>()?)
        };
        let no_row = || StoreError::Corrupt {
            what: "event ids",
            message: "no row".to_owned(),
        };
        // The events' ids and, in the engine's transaction, the version the
        // rows it wrote take (for the cache).
        let (mut ids, engine) = match (b, engine) {
            (Backend::Sqlite, None) => {
                let rows = Statement::script(statements, "write", u32::from(kinds))
                    .fetch(connection)
                    .await?;
                (event_ids(&rows)?, None)
            }
            (Backend::Postgres, None) => {
                let rows = Statement::with(statements, "write", u32::from(kinds))
                    .fetch(connection)
                    .await?;
                (event_ids(&rows)?, None)
            }
            (Backend::Sqlite, Some(engine)) => {
                let key = if engine.check.is_some() {
                    kinds | CHECKED
                } else {
                    kinds
                };
                if let Some(check) = engine.check {
                    // A batch decided from the cache: its transaction
                    // begins and checks the cache in this same script (see
                    // `cache.rs`). (A SQLite cache holds rows only with
                    // the version they were read at; without one, the check
                    // would fail.)
                    let version = check.version.unwrap_or_default();
                    statements.splice(
                        0..0,
                        [
                            Statement::new("BEGIN IMMEDIATE", Vec::new()),
                            verify_sqlite_statement(
                                check.ids,
                                strings(check.by_id.iter().map(String::as_str))?,
                                version,
                            ),
                        ],
                    );
                }
                statements.push(Statement::new(
                    text(b, "data version", 0, || {
                        format!("SELECT {SQLITE_DATA_VERSION} AS xid")
                    }),
                    Vec::new(),
                ));
                statements.push(Statement::new("COMMIT", Vec::new()));
                let mut rows = Statement::script(statements, "engine write", u32::from(key))
                    .fetch(connection)
                    .await?;
                let xid: String = rows.pop().ok_or_else(no_row)?.try_get("xid")?;
                engine.cache.at_version(&xid);
                (event_ids(&rows)?, Some((engine.cache, xid)))
            }
            (Backend::Postgres, Some(engine)) => {
                let announce = Some(engine.announce)
                    .filter(|granted| !granted.is_empty() || !journal.events.is_empty());
                let from_cache = engine.check.is_some();
                let mut sql = String::new();
                // A batch decided from the cache: its transaction begins,
                // locks its resources and checks the cache in this same
                // round trip (see `cache.rs`), the check in the write's
                // statement (see `engine_write`).
                let check = engine.check.map(|check| {
                    sql.push_str("BEGIN ISOLATION LEVEL READ COMMITTED;\n");
                    self.lock_statement(session, check.ids, "[]".to_owned())
                        .execute(PREPARED_LOCK, &mut sql);
                    verify_statement(check.resources, check.by_id, check.expected)
                });
                // Its prepared statement's key: `kinds`, and whether it
                // checks the cache.
                let key = if from_cache { kinds | CHECKED } else { kinds };
                let name = format!("{PREPARED_WRITE}_{key}");
                let prepare = !engine.prepared.contains(&key);
                // A statement prepared already is sent its arguments
                // alone: its text (the same for the same key, and kept) is
                // only for preparing it.
                let write = engine_write(statements, check, announce, self.origin, key)?;
                if prepare {
                    write.prepare(&name, &mut sql);
                }
                write.execute(&name, &mut sql);
                sql.push_str("COMMIT");
                let rows = if from_cache {
                    Statement::fetch_simple_told(&sql, connection)
                        .await
                        .map_err(|(error, answered)| {
                            *engine.unanswered = !answered && ended_idle(&error);
                            // A failed check fails the `EXECUTE`, after the
                            // `PREPARE`, which a rollback does not undo;
                            // and the connection is kept (see below).
                            if prepare && is_stale(&error) {
                                engine.prepared.insert(key);
                            }
                            error
                        })?
                } else {
                    Statement::fetch_simple(&sql, connection).await?
                };
                // Noted only once it ran. A query that fails may have
                // prepared it all the same, which is right only because a
                // batch that fails never keeps its connection (see
                // `connection.rs`): but for one whose cache check fails,
                // noted above.
                engine.prepared.insert(key);
                // The write's row is the last: the lock's come first.
                let row = rows.last().ok_or_else(no_row)?;
                let ids: String = row.try_get("ids")?;
                let xid: String = row.try_get("xid")?;
                let ids = serde_json::from_str(&ids).map_err(|error| StoreError::Corrupt {
                    what: "event ids",
                    message: error.to_string(),
                })?;
                (ids, Some((engine.cache, xid)))
            }
        };
        if let Some((cache, xid)) = engine {
            cache.committed_batch(batch.slots, &batch.loaded, &written, &xid);
            self.batches.forgetting.done(
                kinds & (1 << FORGET) != 0,
                journal.released.len(),
                batch.now,
            );
        }
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
}
