//! Opening a store: the backend from the URL, the pool, the schema.

use std::path::Path;
use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::error::StoreError;
use crate::migrations;
use crate::policy::LeasePolicy;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The coordination database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) policy: LeasePolicy,
    url: String,
    connect_url: String,
    /// SQLite has one writer at a time: this process's writers queue here
    /// (fair, no sleeping) rather than in SQLite's busy handler, which
    /// backs off by sleeping. Other processes still meet `busy_timeout`.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Claims and releases waiting to share a transaction.
    pub(crate) batches: Arc<crate::engine::Batcher>,
    /// Waits of this process, which grants are handed to in memory.
    pub(crate) waits: Arc<crate::waits::Waits>,
    /// The events the lease engine committed on PostgreSQL, for this
    /// store's listener (see `notify.rs`).
    pub(crate) own_events: Arc<crate::notify::OwnEvents>,
    /// This store's mark on the notifications its lease engine sends, by
    /// which its own listener knows them.
    pub(crate) origin: i64,
    /// The settled buckets of the alert window counted so far.
    pub(crate) kept_rates: Arc<std::sync::Mutex<crate::rates::KeptRates>>,
}

/// A write transaction, holding the write gate where there is one.
#[derive(Debug)]
pub(crate) struct Tx {
    transaction: Transaction<'static, Any>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.transaction.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for Tx {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.transaction
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.transaction
    }
}

/// Counts for health and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    pub resources: i64,
    pub leases: i64,
    pub waiters: i64,
    pub active_operations: i64,
    pub unacknowledged_alerts: i64,
}

impl Store {
    /// Opens (creating if need be) and migrates the store at `url`:
    /// `sqlite://PATH`, a plain path, or `postgres://…`.
    pub async fn open(url: &str, policy: LeasePolicy) -> Result<Store, StoreError> {
        install_default_drivers();
        let (backend, connect_url) = connect_url(url)?;
        let display = redact(url);
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(std::time::Duration::from_secs(30));
        let options = if backend == Backend::Sqlite {
            // A connection to a local file does not go away: no ping (a
            // round trip to its thread) before each use.
            options
                .test_before_acquire(false)
                .after_connect(|connection, _| sqlite_pragmas(connection))
        } else {
            options
        };
        let pool = options
            .connect(&connect_url)
            .await
            .map_err(|source| StoreError::Open {
                url: display.clone(),
                source,
            })?;
        let store = Store {
            pool,
            backend,
            policy,
            url: display,
            connect_url,
            write_gate: (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(()))),
            batches: crate::engine::Batcher::new(),
            waits: Arc::default(),
            own_events: Arc::default(),
            origin: (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64,
            kept_rates: Arc::default(),
        };
        let mut transaction = store.pool.begin().await?;
        let applied = migrations::run(&mut transaction, backend).await?;
        transaction.commit().await?;
        if !applied.is_empty() {
            tracing::info!(store = %store.url, ?applied, "applied migrations");
        }
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL to connect with, password included: never log it.
    pub(crate) fn connect_url(&self) -> &str {
        &self.connect_url
    }

    /// The newest event's id (0 with none).
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS id FROM events")
                .fetch_one(&self.pool)
                .await?
                .try_get("id")?,
        )
    }

    pub fn policy(&self) -> &LeasePolicy {
        &self.policy
    }

    /// The schema version in the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM weft_migrations",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("v")?)
    }

    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        let row = sqlx::query(
            "SELECT
                (SELECT CAST(COUNT(*) AS BIGINT) FROM resources) AS resources,
                (SELECT CAST(COUNT(*) AS BIGINT) FROM leases) AS leases,
                (SELECT CAST(COUNT(*) AS BIGINT) FROM waiters WHERE lease IS NULL) AS waiters,
                (SELECT CAST(COUNT(*) AS BIGINT) FROM operations WHERE status = 'active') AS active,
                (SELECT CAST(COUNT(*) AS BIGINT) FROM alerts
                    WHERE acknowledged_at IS NULL AND resolved_at IS NULL) AS alerts",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreStats {
            resources: row.try_get("resources")?,
            leases: row.try_get("leases")?,
            waiters: row.try_get("waiters")?,
            active_operations: row.try_get("active")?,
            unacknowledged_alerts: row.try_get("alerts")?,
        })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A write transaction. SQLite takes its write lock at once, so two
    /// writers queue on `busy_timeout` rather than deadlock on an upgrade;
    /// PostgreSQL locks rows as they are touched (see [`Store::lock_resource`]).
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let transaction = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            transaction,
            _gate: gate,
        })
    }

    /// A transaction on the lease engine's connection, holding the write
    /// gate (taken first, as [`Store::begin`] does, so that the two never
    /// wait for each other's connection).
    pub(crate) async fn scripted(&self) -> Result<crate::engine::Scripted, StoreError> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        crate::engine::Scripted::new(self.batches.keeper(), &self.pool, gate).await
    }

    /// ` FOR UPDATE` where the backend locks rows.
    pub(crate) fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    pub async fn close(&self) {
        self.batches.keeper().close();
        self.pool.close().await;
    }
}

/// Writers wait for each other instead of failing at once; WAL lets readers
/// run beside the writer. Each commit is synced to disk before it is
/// answered (`FULL`): with `NORMAL`, a commit survives the process being
/// killed but not the machine losing power, which could hand out a fencing
/// token again. (Claims that arrive together share one commit and its sync.)
fn sqlite_pragmas(
    connection: &mut sqlx::AnyConnection,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        for pragma in [
            "PRAGMA busy_timeout = 30000",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            "PRAGMA foreign_keys = ON",
        ] {
            sqlx::Executor::execute(&mut *connection, pragma).await?;
        }
        Ok(())
    })
}

fn connect_url(url: &str) -> Result<(Backend, String), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") {
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    } else {
        url
    };
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() {
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    }
    let path = Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| StoreError::Open {
            url: url.to_owned(),
            source: sqlx::Error::Io(error),
        })?;
    }
    let absolute = std::path::absolute(path).map_err(|error| StoreError::Open {
        url: url.to_owned(),
        source: sqlx::Error::Io(error),
    })?;
    Ok((
        Backend::Sqlite,
        format!("sqlite://{}?mode=rwc", absolute.display()),
    ))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords() {
        assert_eq!(
            redact("postgres://weft:hunter2@127.0.0.1:5432/weft"),
            "postgres://weft:***@127.0.0.1:5432/weft"
        );
        assert_eq!(redact("sqlite://.weft/state.db"), "sqlite://.weft/state.db");
    }

    #[test]
    fn reads_store_urls() {
        assert!(matches!(
            connect_url("mysql://x"),
            Err(StoreError::UnsupportedUrl(_))
        ));
        assert_eq!(
            connect_url("postgres://h/db").map(|c| c.0).ok(),
            Some(Backend::Postgres)
        );
    }
}
