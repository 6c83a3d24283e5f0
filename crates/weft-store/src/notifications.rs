//! Release notifications as the store keeps them: every delivery (so
//! `weft deploy status` can say who was told what, and whether it arrived),
//! and the escalations releases armed.
//!
//! An escalation is keyed by environment and rule: while one is armed, a
//! second failure in the environment does not arm another, so an incident
//! escalates once, counted from its first failure. A success or a completed
//! rollback in the environment resolves every armed escalation of it. The
//! process that sends a due escalation first moves its row from `armed` to
//! `sent` in one statement, so two processes (a CLI release and `weft
//! serve`, or two replicas) never both send it.

use serde::Serialize;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::time::{now_ms, rfc3339};

/// One delivery to one channel, as weft-notify reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationDelivery {
    /// `deployment_failed`, `gate_failed`…
    pub event: String,
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Sent because a release stayed unresolved (`escalate_to`).
    pub escalation: bool,
    pub ok: bool,
    pub attempts: u32,
    /// Why it failed: never a token or a webhook URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// An armed escalation that has come due.
#[derive(Debug, Clone, PartialEq)]
pub struct DueEscalation {
    pub id: i64,
    pub environment: String,
    pub rule: String,
    pub deployment: String,
    pub after_ms: i64,
    /// The notification that armed it, as weft-notify serialised it.
    pub notification: serde_json::Value,
}

impl Store {
    /// Records deliveries of one event of `deployment`.
    pub async fn record_deliveries(
        &self,
        deployment: &str,
        environment: &str,
        deliveries: &[NotificationDelivery],
    ) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut transaction = self.begin().await?;
        for delivery in deliveries {
            sqlx::query(
                "INSERT INTO notification_deliveries
                 (deployment, environment, event, channel, rule, escalation, ok, attempts, error, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(deployment)
            .bind(environment)
            .bind(&delivery.event)
            .bind(&delivery.channel)
            .bind(delivery.rule.as_deref())
            .bind(i64::from(delivery.escalation))
            .bind(i64::from(delivery.ok))
            .bind(i64::from(delivery.attempts))
            .bind(delivery.error.as_deref())
            .bind(now_ms())
            .execute(&mut **transaction)
            .await?;
        }
        transaction.commit().await
    }

    /// The deliveries of `deployment` (escalations included), oldest first.
    pub async fn deliveries(
        &self,
        deployment: &str,
    ) -> Result<Vec<NotificationDelivery>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM notification_deliveries WHERE deployment = $1 ORDER BY id")
                .bind(deployment)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let escalation: i64 = row.try_get("escalation")?;
                let ok: i64 = row.try_get("ok")?;
                let attempts: i64 = row.try_get("attempts")?;
                let at: i64 = row.try_get("at")?;
                Ok(NotificationDelivery {
                    event: row.try_get("event")?,
                    channel: row.try_get("channel")?,
                    rule: row.try_get("rule")?,
                    escalation: escalation != 0,
                    ok: ok != 0,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    error: row.try_get("error")?,
                    at: rfc3339(at),
                })
            })
            .collect()
    }

    /// Arms the escalation of `rule` in `environment`, due `after_ms` from
    /// now, unless one is armed already; whether this call armed it.
    pub async fn arm_escalation(
        &self,
        environment: &str,
        rule: &str,
        deployment: &str,
        after_ms: i64,
        notification: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        // The unique index on armed (environment, rule) keeps a second one
        // out, even from a concurrent writer.
        let inserted = sqlx::query(
            "INSERT INTO notification_escalations
             (environment, rule, deployment, after_ms, due_at, notification, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'armed', $7)
             ON CONFLICT DO NOTHING",
        )
        .bind(environment)
        .bind(rule)
        .bind(deployment)
        .bind(after_ms)
        .bind(now.saturating_add(after_ms))
        .bind(notification.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// The environment is resolved: its armed escalations will not go out.
    /// How many there were.
    pub async fn resolve_escalations(&self, environment: &str) -> Result<u64, StoreError> {
        let resolved = sqlx::query(
            "UPDATE notification_escalations SET state = 'resolved', settled_at = $2
             WHERE environment = $1 AND state = 'armed'",
        )
        .bind(environment)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(resolved)
    }

    /// Claims the armed escalations due by now (each moves to `sent`, by this
    /// caller only) and returns them; the caller sends them.
    pub async fn claim_due_escalations(&self) -> Result<Vec<DueEscalation>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT * FROM notification_escalations
             WHERE state = 'armed' AND due_at <= $1 ORDER BY due_at, id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let won = sqlx::query(
                "UPDATE notification_escalations SET state = 'sent', settled_at = $2
                 WHERE id = $1 AND state = 'armed'",
            )
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
            if !won {
                continue;
            }
            let text: String = row.try_get("notification")?;
            let notification =
                serde_json::from_str(&text).map_err(|error| StoreError::Corrupt {
                    what: "an escalation's notification",
                    message: error.to_string(),
                })?;
            claimed.push(DueEscalation {
                id,
                environment: row.try_get("environment")?,
                rule: row.try_get("rule")?,
                deployment: row.try_get("deployment")?,
                after_ms: row.try_get("after_ms")?,
                notification,
            });
        }
        Ok(claimed)
    }

    /// When the next armed escalation (of `environment`, or of any) comes
    /// due, in ms since the epoch.
    pub async fn next_escalation_due(
        &self,
        environment: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(due_at) AS due FROM notification_escalations
             WHERE state = 'armed' AND ($1 = '' OR environment = $1)",
        )
        .bind(environment.unwrap_or(""))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("due")?)
    }
}
