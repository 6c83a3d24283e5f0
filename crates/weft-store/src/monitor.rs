//! The ecosystem monitor's state: GitHub answers kept with their ETags,
//! the items collection learned, per-repository cursors, one row per
//! collection (for trends), when weft marked a pull request stale, and the
//! schedule `weft serve` runs collections on.
//!
//! Items are JSON documents keyed by repository, kind and key: the monitor
//! owns their shape, the store only keeps them and finds them by kind, time
//! and repository. Every write of one repository's items is one transaction,
//! with its cursors, so a collection stopped half-way resumes where the
//! last repository it finished left off.

use serde::Serialize;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::time::now_ms;

/// One thing collection learned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorItem {
    /// `owner/name`.
    pub repository: String,
    /// `repository`, `run`, `job`, `pull`, `issue`, `timeline`, `branch`,
    /// `commit`, `release`, `event`…
    pub kind: String,
    /// Unique within repository and kind: a number, an id, a name or a sha.
    pub key: String,
    /// The item's own time (Unix ms), for windows.
    pub at: i64,
    pub body: serde_json::Value,
}

/// A cached GitHub answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedAnswer {
    pub url: String,
    pub etag: String,
    pub body: serde_json::Value,
}

/// One collection, as `monitor_collections` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionRecord {
    pub id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// What the monitor recorded: figures and scores.
    pub summary: serde_json::Value,
}

/// A scheduled job's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleRecord {
    pub name: String,
    pub expression: String,
    /// Unix ms.
    pub next_at: i64,
    pub last_started_at: Option<i64>,
    pub last_finished_at: Option<i64>,
    pub last_outcome: Option<String>,
}

fn corrupt(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |error| StoreError::Corrupt {
        what,
        message: error.to_string(),
    }
}

impl Store {
    /// The answers cached for the token `token` (an identity, never the
    /// token itself).
    pub async fn monitor_cached_answers(
        &self,
        token: &str,
    ) -> Result<Vec<CachedAnswer>, StoreError> {
        let rows = sqlx::query("SELECT url, etag, body FROM monitor_http_cache WHERE token = $1")
            .bind(token)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let body: String = row.try_get("body")?;
                Ok(CachedAnswer {
                    url: row.try_get("url")?,
                    etag: row.try_get("etag")?,
                    body: serde_json::from_str(&body).map_err(corrupt("a cached GitHub answer"))?,
                })
            })
            .collect()
    }

    /// Keeps `answers` for `token`, replacing older ones of the same URL.
    pub async fn monitor_cache_answers(
        &self,
        token: &str,
        answers: &[CachedAnswer],
    ) -> Result<(), StoreError> {
        if answers.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut transaction = self.begin().await?;
        for answer in answers {
            sqlx::query(
                "INSERT INTO monitor_http_cache (token, url, etag, body, stored_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (token, url) DO UPDATE
                 SET etag = excluded.etag, body = excluded.body, stored_at = excluded.stored_at",
            )
            .bind(token)
            .bind(&answer.url)
            .bind(&answer.etag)
            .bind(answer.body.to_string())
            .bind(now)
            .execute(&mut **transaction)
            .await?;
        }
        transaction.commit().await
    }

    /// Writes one repository's items and cursors in one transaction,
    /// replacing items of the same key.
    pub async fn monitor_put(
        &self,
        items: &[MonitorItem],
        cursors: &[(String, String, String)],
    ) -> Result<(), StoreError> {
        let mut transaction = self.begin().await?;
        for item in items {
            sqlx::query(
                "INSERT INTO monitor_items (repository, kind, key, at, body)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (repository, kind, key) DO UPDATE
                 SET at = excluded.at, body = excluded.body",
            )
            .bind(&item.repository)
            .bind(&item.kind)
            .bind(&item.key)
            .bind(item.at)
            .bind(item.body.to_string())
            .execute(&mut **transaction)
            .await?;
        }
        for (repository, stream, value) in cursors {
            sqlx::query(
                "INSERT INTO monitor_cursors (repository, stream, value) VALUES ($1, $2, $3)
                 ON CONFLICT (repository, stream) DO UPDATE SET value = excluded.value",
            )
            .bind(repository)
            .bind(stream)
            .bind(value)
            .execute(&mut **transaction)
            .await?;
        }
        transaction.commit().await
    }

    /// Removes items (a deleted branch, a pull request no longer open).
    pub async fn monitor_remove(
        &self,
        repository: &str,
        kind: &str,
        keys: &[String],
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut transaction = self.begin().await?;
        for key in keys {
            sqlx::query(
                "DELETE FROM monitor_items WHERE repository = $1 AND kind = $2 AND key = $3",
            )
            .bind(repository)
            .bind(kind)
            .bind(key)
            .execute(&mut **transaction)
            .await?;
        }
        transaction.commit().await
    }

    /// The items of `kind` (of `repository` when given) at or after
    /// `since` (Unix ms), oldest first.
    pub async fn monitor_items(
        &self,
        kind: &str,
        repository: Option<&str>,
        since: i64,
    ) -> Result<Vec<MonitorItem>, StoreError> {
        // Two queries, so each uses its index: the primary key's
        // (repository, kind) prefix, or (kind, at).
        let rows = match repository {
            Some(repository) => {
                sqlx::query(
                    "SELECT repository, kind, key, at, body FROM monitor_items
                     WHERE repository = $1 AND kind = $2 AND at >= $3 ORDER BY at, key",
                )
                .bind(repository)
                .bind(kind)
                .bind(since)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT repository, kind, key, at, body FROM monitor_items
                     WHERE kind = $1 AND at >= $2 ORDER BY at, repository, key",
                )
                .bind(kind)
                .bind(since)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|row| {
                let body: String = row.try_get("body")?;
                Ok(MonitorItem {
                    repository: row.try_get("repository")?,
                    kind: row.try_get("kind")?,
                    key: row.try_get("key")?,
                    at: row.try_get("at")?,
                    body: serde_json::from_str(&body).map_err(corrupt("a monitor item"))?,
                })
            })
            .collect()
    }

    /// The keys of `kind` stored for `repository`, with each item's time.
    pub async fn monitor_keys(
        &self,
        repository: &str,
        kind: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT key, at FROM monitor_items WHERE repository = $1 AND kind = $2")
                .bind(repository)
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("key")?, row.try_get("at")?)))
            .collect()
    }

    /// Every cursor of `repository`: (stream, value).
    pub async fn monitor_cursors(
        &self,
        repository: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT stream, value FROM monitor_cursors WHERE repository = $1")
            .bind(repository)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("stream")?, row.try_get("value")?)))
            .collect()
    }

    /// Starts a collection's row; its id.
    pub async fn monitor_start_collection(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO monitor_collections (started_at, summary) VALUES ($1, '{}') RETURNING id",
        )
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Finishes a collection with its summary, and records a `monitor`
    /// event (what a dashboard's health view listens for).
    pub async fn monitor_finish_collection(
        &self,
        id: i64,
        summary: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query("UPDATE monitor_collections SET finished_at = $2, summary = $3 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .bind(summary.to_string())
            .execute(&mut **transaction)
            .await?;
        let event = crate::operations::insert_event(
            &mut transaction,
            "monitor",
            None,
            serde_json::json!({"collection": id}),
        )
        .await?;
        let effects = crate::leases::Effects {
            granted: Vec::new(),
            events: vec![event],
        };
        self.notify(&mut transaction, &effects).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Adds each repository's score to the latest finished collection's
    /// summary (`scores`), for the trends; nothing when there is none.
    pub async fn monitor_record_scores(
        &self,
        scores: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let Some(latest) = self.monitor_collections(1).await?.into_iter().next() else {
            return Ok(());
        };
        let mut summary = latest.summary;
        if let serde_json::Value::Object(map) = &mut summary {
            map.insert("scores".to_string(), scores.clone());
        }
        sqlx::query("UPDATE monitor_collections SET summary = $2 WHERE id = $1")
            .bind(latest.id)
            .bind(summary.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The finished collections, newest first, at most `limit`.
    pub async fn monitor_collections(
        &self,
        limit: i64,
    ) -> Result<Vec<CollectionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, started_at, finished_at, summary FROM monitor_collections
             WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let summary: String = row.try_get("summary")?;
                Ok(CollectionRecord {
                    id: row.try_get("id")?,
                    started_at: row.try_get("started_at")?,
                    finished_at: row.try_get("finished_at")?,
                    summary: serde_json::from_str(&summary)
                        .map_err(corrupt("a collection's summary"))?,
                })
            })
            .collect()
    }

    /// When weft marked each pull request of `repository` stale.
    pub async fn monitor_stale_marks(
        &self,
        repository: &str,
    ) -> Result<Vec<(u64, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT number, marked_at FROM monitor_stale_marks WHERE repository = $1")
                .bind(repository)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let number: i64 = row.try_get("number")?;
                Ok((
                    u64::try_from(number).unwrap_or(0),
                    row.try_get("marked_at")?,
                ))
            })
            .collect()
    }

    /// Records that weft marked pull request `number` stale at `marked_at`
    /// (a mark from an earlier time, whose label a person took off since,
    /// is replaced).
    pub async fn monitor_mark_stale(
        &self,
        repository: &str,
        number: u64,
        marked_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO monitor_stale_marks (repository, number, marked_at) VALUES ($1, $2, $3)
             ON CONFLICT (repository, number) DO UPDATE SET marked_at = excluded.marked_at",
        )
        .bind(repository)
        .bind(i64::try_from(number).unwrap_or(i64::MAX))
        .bind(marked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a stale mark: the pull request saw human activity, or closed.
    pub async fn monitor_unmark_stale(
        &self,
        repository: &str,
        number: u64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM monitor_stale_marks WHERE repository = $1 AND number = $2")
            .bind(repository)
            .bind(i64::try_from(number).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The scheduled job `name`, if it was ever scheduled.
    pub async fn monitor_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM monitor_schedule WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(ScheduleRecord {
                name: row.try_get("name")?,
                expression: row.try_get("expression")?,
                next_at: row.try_get("next_at")?,
                last_started_at: row.try_get("last_started_at")?,
                last_finished_at: row.try_get("last_finished_at")?,
                last_outcome: row.try_get("last_outcome")?,
            })
        })
        .transpose()
    }

    /// Schedules `name` at `next_at` unless it is scheduled with the same
    /// expression already (a restart keeps the stored time). A changed
    /// expression takes the new time.
    pub async fn monitor_schedule_init(
        &self,
        name: &str,
        expression: &str,
        next_at: i64,
    ) -> Result<ScheduleRecord, StoreError> {
        sqlx::query(
            "INSERT INTO monitor_schedule (name, expression, next_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(expression)
        .bind(next_at)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE monitor_schedule SET expression = $2, next_at = $3
             WHERE name = $1 AND expression <> $2",
        )
        .bind(name)
        .bind(expression)
        .bind(next_at)
        .execute(&self.pool)
        .await?;
        self.monitor_schedule(name)
            .await?
            .ok_or_else(|| StoreError::invalid("name", format!("no schedule `{name}`")))
    }

    /// Claims the run due at `due_at`: moves `next_at` to `next_at_after`
    /// only if it still is `due_at`. Whether this caller won (it runs the
    /// job; anyone else skips it).
    pub async fn monitor_schedule_claim(
        &self,
        name: &str,
        due_at: i64,
        next_at_after: i64,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "UPDATE monitor_schedule SET next_at = $3, last_started_at = $4
             WHERE name = $1 AND next_at = $2",
        )
        .bind(name)
        .bind(due_at)
        .bind(next_at_after)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// Records how a claimed run ended.
    pub async fn monitor_schedule_finished(
        &self,
        name: &str,
        outcome: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE monitor_schedule SET last_finished_at = $2, last_outcome = $3 WHERE name = $1",
        )
        .bind(name)
        .bind(now_ms())
        .bind(outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
