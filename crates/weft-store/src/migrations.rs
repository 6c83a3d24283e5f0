//! Numbered, append-only schema migrations: one list per backend, applied in
//! one transaction, recorded in `weft_migrations`.

use sqlx::{Any, Row, Transaction};

use crate::error::StoreError;
use crate::store::Backend;
use crate::time::now_ms;

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Never edit a migration that has shipped: add the next number.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "deployments",
        sqlite: include_str!("../migrations/sqlite/0002_deployments.sql"),
        postgres: include_str!("../migrations/postgres/0002_deployments.sql"),
    },
    Migration {
        version: 3,
        name: "artifacts",
        sqlite: include_str!("../migrations/sqlite/0003_artifacts.sql"),
        postgres: include_str!("../migrations/postgres/0003_artifacts.sql"),
    },
    Migration {
        version: 4,
        name: "notifications",
        sqlite: include_str!("../migrations/sqlite/0004_notifications.sql"),
        postgres: include_str!("../migrations/postgres/0004_notifications.sql"),
    },
    Migration {
        version: 5,
        name: "monitor",
        sqlite: include_str!("../migrations/sqlite/0005_monitor.sql"),
        postgres: include_str!("../migrations/postgres/0005_monitor.sql"),
    },
    Migration {
        version: 6,
        name: "released leases",
        sqlite: include_str!("../migrations/sqlite/0006_released_leases.sql"),
        postgres: include_str!("../migrations/postgres/0006_released_leases.sql"),
    },
    Migration {
        version: 7,
        name: "operations by finish",
        sqlite: include_str!("../migrations/sqlite/0007_operations_by_finish.sql"),
        postgres: include_str!("../migrations/postgres/0007_operations_by_finish.sql"),
    },
];

/// The newest schema version this build knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the schema up to date. Safe to run from several processes at once.
pub(crate) async fn run(
    transaction: &mut Transaction<'static, Any>,
    backend: Backend,
) -> Result<Vec<i64>, StoreError> {
    if backend == Backend::Postgres {
        // Two replicas starting together must not both migrate.
        sqlx::query("SELECT pg_advisory_xact_lock(770077)")
            .execute(&mut **transaction)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS weft_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut **transaction)
    .await?;
    let current: i64 =
        sqlx::query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM weft_migrations")
            .fetch_one(&mut **transaction)
            .await?
            .try_get("v")?;
    if current > latest() {
        return Err(StoreError::NewerSchema {
            found: current,
            known: latest(),
        });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        sqlx::raw_sql(sql)
            .execute(&mut **transaction)
            .await
            .map_err(|source| StoreError::Migration {
                version: migration.version,
                name: migration.name,
                source,
            })?;
        sqlx::query("INSERT INTO weft_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(now_ms())
            .execute(&mut **transaction)
            .await?;
        applied.push(migration.version);
    }
    Ok(applied)
}
