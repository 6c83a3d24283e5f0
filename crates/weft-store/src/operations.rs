//! Operations (what was done, how long it took, how it ended), events (the
//! audit trail and the stream) and cleanup.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::error::StoreError;
use crate::leases::parse_holder;
use crate::store::{Backend, Store};
use crate::time::{now_ms, rfc3339};
use crate::types::{Event, Holder, Operation, OperationStatus};

/// Which operations to list.
#[derive(Debug, Clone, Default)]
pub struct OperationFilter {
    pub status: Option<OperationStatus>,
    pub kind: Option<String>,
    /// Started within this many milliseconds.
    pub since_ms: Option<i64>,
    pub limit: Option<i64>,
}

/// What cleanup removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanupReport {
    pub expired_leases: usize,
    pub stale_waiters: usize,
    pub operations: u64,
    pub events: u64,
    pub alerts: u64,
    /// Operations left `active` by a process that died, marked failed.
    pub abandoned_operations: u64,
}

pub(crate) async fn insert_event(
    transaction: &mut Transaction<'static, Any>,
    kind: &str,
    resource: Option<&str>,
    data: Value,
) -> Result<Event, StoreError> {
    let at = now_ms();
    let row = sqlx::query(
        "INSERT INTO events (at, kind, resource, data) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(at)
    .bind(kind)
    .bind(resource)
    .bind(data.to_string())
    .fetch_one(&mut **transaction)
    .await?;
    Ok(Event {
        id: row.try_get("id")?,
        at: rfc3339(at),
        kind: kind.to_owned(),
        resource: resource.map(str::to_owned),
        data,
    })
}

pub(crate) async fn insert_operation(
    transaction: &mut Transaction<'static, Any>,
    kind: &str,
    resource: Option<&str>,
    holder: Option<&Holder>,
    started_at: i64,
) -> Result<String, StoreError> {
    let id = crate::types::new_id();
    sqlx::query(
        "INSERT INTO operations (id, kind, status, resource, holder, started_at)
         VALUES ($1, $2, 'active', $3, $4, $5)",
    )
    .bind(&id)
    .bind(kind)
    .bind(resource)
    .bind(holder.and_then(|h| serde_json::to_string(h).ok()))
    .bind(started_at)
    .execute(&mut **transaction)
    .await?;
    Ok(id)
}

/// Finishes the operation `id` if it is still active; whether it was. (An
/// operation finishes once: finishing it again would move it to another
/// bucket of the alert window, where it would be counted twice.)
pub(crate) async fn finish_operation(
    transaction: &mut Transaction<'static, Any>,
    id: &str,
    status: OperationStatus,
    result: Option<Value>,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let finished = sqlx::query(
        "UPDATE operations SET status = $1, finished_at = $2, duration_ms = $2 - started_at,
         result = $3, error = $4 WHERE id = $5 AND status = 'active'",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(result.map(|r| r.to_string()))
    .bind(error)
    .bind(id)
    .execute(&mut **transaction)
    .await?
    .rows_affected();
    Ok(finished > 0)
}

fn operation_from_row(row: &AnyRow) -> Result<Operation, StoreError> {
    let status: String = row.try_get("status")?;
    let holder: Option<String> = row.try_get("holder")?;
    let result: Option<String> = row.try_get("result")?;
    let started_at: i64 = row.try_get("started_at")?;
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    Ok(Operation {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        status: OperationStatus::parse(&status).ok_or(StoreError::Corrupt {
            what: "operation status",
            message: status.clone(),
        })?,
        resource: row.try_get("resource")?,
        holder: holder.as_deref().map(parse_holder).transpose()?,
        started_at: rfc3339(started_at),
        finished_at: finished_at.map(rfc3339),
        duration_ms: row.try_get("duration_ms")?,
        result: result.and_then(|r| serde_json::from_str(&r).ok()),
        error: row.try_get("error")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<Event, StoreError> {
    let data: String = row.try_get("data")?;
    Ok(Event {
        id: row.try_get("id")?,
        at: rfc3339(row.try_get("at")?),
        kind: row.try_get("kind")?,
        resource: row.try_get("resource")?,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
    })
}

impl Store {
    /// Starts tracking an operation (an analysis, a resolution, a
    /// deployment); finish it with [`Store::finish_operation`].
    pub async fn start_operation(
        &self,
        kind: &str,
        resource: Option<&str>,
    ) -> Result<String, StoreError> {
        if kind.is_empty() || kind.len() > 64 {
            return Err(StoreError::invalid("type", "must be 1–64 characters"));
        }
        let mut transaction = self.begin().await?;
        let id = insert_operation(&mut transaction, kind, resource, None, now_ms()).await?;
        transaction.commit().await?;
        Ok(id)
    }

    /// Finishes the active operation `id`: the `operation` event to publish,
    /// and how long it took. One that is not active (finished already, or
    /// never started) is [`StoreError::UnknownOperation`].
    pub async fn finish_operation(
        &self,
        id: &str,
        status: OperationStatus,
        result: Option<Value>,
        error: Option<&str>,
    ) -> Result<(Event, i64), StoreError> {
        let mut transaction = self.begin().await?;
        if !finish_operation(&mut transaction, id, status, result, error).await? {
            return Err(StoreError::UnknownOperation(id.to_owned()));
        }
        let row = sqlx::query("SELECT kind, duration_ms FROM operations WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **transaction)
            .await?;
        let kind: String = row.try_get("kind")?;
        let duration: Option<i64> = row.try_get("duration_ms")?;
        let event = insert_event(
            &mut transaction,
            "operation",
            None,
            serde_json::json!({"operation": id, "type": kind, "status": status}),
        )
        .await?;
        transaction.commit().await?;
        Ok((event, duration.unwrap_or(0)))
    }

    pub async fn operations(&self, filter: &OperationFilter) -> Result<Vec<Operation>, StoreError> {
        let since = filter.since_ms.map_or(i64::MIN, |ms| now_ms() - ms);
        let limit = filter.limit.unwrap_or(100).clamp(1, 10_000);
        sqlx::query(
            "SELECT id, kind, status, resource, holder, started_at, finished_at, duration_ms,
                    result, error
             FROM operations
             WHERE ($1 = '' OR status = $1) AND ($2 = '' OR kind = $2) AND started_at >= $3
             ORDER BY started_at DESC, id LIMIT $4",
        )
        .bind(filter.status.map_or("", OperationStatus::as_str))
        .bind(filter.kind.clone().unwrap_or_default())
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(operation_from_row)
        .collect()
    }

    /// Events after `after` (an event id), oldest first.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        sqlx::query(
            "SELECT id, at, kind, resource, data FROM events WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    /// Events by id, oldest first; ids with no event are left out.
    pub async fn events_by_id(&self, ids: &[i64]) -> Result<Vec<Event>, StoreError> {
        let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
        let list = match self.backend {
            Backend::Sqlite => "SELECT value FROM json_each($1)",
            Backend::Postgres => {
                "SELECT CAST(value AS BIGINT) FROM json_array_elements_text($1::json)"
            }
        };
        sqlx::query(&format!(
            "SELECT id, at, kind, resource, data FROM events WHERE id IN ({list}) ORDER BY id"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    /// Removes expired leases, stale waiters, and operations, events and
    /// resolved or acknowledged alerts older than `retention_ms` (default:
    /// the policy's retention).
    pub async fn cleanup(&self, retention_ms: Option<i64>) -> Result<CleanupReport, StoreError> {
        let retention = retention_ms.unwrap_or(self.policy.retention_ms);
        if retention < 0 {
            return Err(StoreError::invalid("retention", "must not be negative"));
        }
        let reaped = self.reap().await?;
        let cutoff = now_ms() - retention;
        let mut transaction = self.begin().await?;
        let abandoned = sqlx::query(
            "UPDATE operations SET status = 'failed', error = 'abandoned: no process finished it'
             WHERE status = 'active' AND kind <> 'claim' AND started_at < $1",
        )
        .bind(cutoff)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
        let operations =
            sqlx::query("DELETE FROM operations WHERE status <> 'active' AND started_at < $1")
                .bind(cutoff)
                .execute(&mut **transaction)
                .await?
                .rows_affected();
        let events = sqlx::query("DELETE FROM events WHERE at < $1")
            .bind(cutoff)
            .execute(&mut **transaction)
            .await?
            .rows_affected();
        let alerts = sqlx::query(
            "DELETE FROM alerts WHERE created_at < $1
             AND (acknowledged_at IS NOT NULL OR resolved_at IS NOT NULL)",
        )
        .bind(cutoff)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
        transaction.commit().await?;
        if operations > 0 {
            self.forget_rates();
        }
        Ok(CleanupReport {
            expired_leases: reaped.value,
            stale_waiters: 0,
            operations,
            events,
            alerts,
            abandoned_operations: abandoned,
        })
    }
}
