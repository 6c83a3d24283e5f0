//! Alerts: thresholds evaluated over a sliding window of operations, and the
//! resources at capacity with waiters. An alert fires once per rule and
//! subject, stays until its condition clears (then it is resolved), and can
//! be acknowledged.

use std::collections::BTreeSet;

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;
use weft_model::config::AlertsConfig;

use crate::error::StoreError;
use crate::operations::insert_event;
use crate::store::Store;
use crate::time::{now_ms, rfc3339};
use crate::types::{Alert, Event};

/// When alerts fire.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertThresholds {
    pub window_ms: i64,
    pub conflict_rate: f64,
    pub failure_rate: f64,
    pub resolution_time_ms: f64,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        AlertThresholds {
            window_ms: 15 * 60_000,
            conflict_rate: 0.3,
            failure_rate: 0.1,
            resolution_time_ms: 5.0 * 60_000.0,
        }
    }
}

impl AlertThresholds {
    pub fn from_config(config: &AlertsConfig) -> Self {
        let mut thresholds = AlertThresholds::default();
        if let Some(window) = config.window {
            thresholds.window_ms = i64::try_from(window.0.as_millis()).unwrap_or(i64::MAX);
        }
        if let Some(rate) = config.conflict_rate {
            thresholds.conflict_rate = rate;
        }
        if let Some(rate) = config.failure_rate {
            thresholds.failure_rate = rate;
        }
        if let Some(time) = config.resolution_time {
            thresholds.resolution_time_ms = time.0.as_secs_f64() * 1000.0;
        }
        thresholds
    }
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Created within this many hours.
    pub hours: Option<f64>,
    pub severity: Option<String>,
    pub acknowledged: Option<bool>,
}

/// A condition that holds now.
struct Firing {
    rule: &'static str,
    severity: &'static str,
    subject: String,
    message: String,
    value: f64,
    threshold: f64,
}

fn alert_from_row(row: &AnyRow) -> Result<Alert, StoreError> {
    let created_at: i64 = row.try_get("created_at")?;
    let resolved_at: Option<i64> = row.try_get("resolved_at")?;
    let acknowledged_at: Option<i64> = row.try_get("acknowledged_at")?;
    Ok(Alert {
        id: row.try_get("id")?,
        rule: row.try_get("rule")?,
        severity: row.try_get("severity")?,
        subject: row.try_get("subject")?,
        message: row.try_get("message")?,
        value: row.try_get("value")?,
        threshold: row.try_get("threshold")?,
        created_at: rfc3339(created_at),
        resolved_at: resolved_at.map(rfc3339),
        acknowledged_at: acknowledged_at.map(rfc3339),
        acknowledged_by: row.try_get("acknowledged_by")?,
    })
}

impl Store {
    /// Evaluates every rule now: fires new alerts, resolves cleared ones.
    /// Returns the events recorded (one per alert fired or resolved).
    pub async fn evaluate_alerts(
        &self,
        thresholds: &AlertThresholds,
    ) -> Result<Vec<Event>, StoreError> {
        let rates = self.window_rates(thresholds.window_ms).await?;
        let window = format!("{} min", thresholds.window_ms / 60_000);
        let mut firing = Vec::new();
        if rates.claims > 0 && rates.conflict_rate() > thresholds.conflict_rate {
            firing.push(Firing {
                rule: "conflict_rate",
                severity: "warning",
                subject: "claims".to_owned(),
                message: format!(
                    "{} of {} claims in the last {window} found their resource taken",
                    rates.contended, rates.claims
                ),
                value: rates.conflict_rate(),
                threshold: thresholds.conflict_rate,
            });
        }
        if rates.finished > 0 && rates.failure_rate() > thresholds.failure_rate {
            firing.push(Firing {
                rule: "failure_rate",
                severity: "critical",
                subject: "operations".to_owned(),
                message: format!(
                    "{} of {} operations in the last {window} failed",
                    rates.failed, rates.finished
                ),
                value: rates.failure_rate(),
                threshold: thresholds.failure_rate,
            });
        }
        if rates.resolutions > 0 && rates.resolution_ms > thresholds.resolution_time_ms {
            firing.push(Firing {
                rule: "resolution_time",
                severity: "warning",
                subject: "resolutions".to_owned(),
                message: format!(
                    "resolutions took {:.0} s on average in the last {window}",
                    rates.resolution_ms / 1000.0
                ),
                value: rates.resolution_ms,
                threshold: thresholds.resolution_time_ms,
            });
        }
        for view in self.resources(None).await? {
            if !view.queue.is_empty() && view.used >= view.resource.capacity {
                firing.push(Firing {
                    rule: "capacity",
                    severity: "warning",
                    subject: view.resource.id.to_string(),
                    message: format!(
                        "`{}` is at capacity ({}/{}) with {} waiting",
                        view.resource.id,
                        view.used,
                        view.resource.capacity,
                        view.queue.len()
                    ),
                    value: view.queue.len() as f64,
                    threshold: 0.0,
                });
            }
        }
        // Nothing to fire or resolve, as nearly always: no write (on SQLite
        // it would hold the lease engine's writes up).
        let open: BTreeSet<(String, String)> =
            sqlx::query("SELECT rule, subject FROM alerts WHERE resolved_at IS NULL")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| Ok((row.try_get("rule")?, row.try_get("subject")?)))
                .collect::<Result<_, StoreError>>()?;
        let firing_keys: BTreeSet<(String, String)> = firing
            .iter()
            .map(|f| (f.rule.to_owned(), f.subject.clone()))
            .collect();
        if open == firing_keys {
            return Ok(Vec::new());
        }
        let mut transaction = self.begin().await?;
        let open = sqlx::query("SELECT id, rule, subject FROM alerts WHERE resolved_at IS NULL")
            .fetch_all(&mut **transaction)
            .await?;
        let now = now_ms();
        let mut events = Vec::new();
        let mut open_keys = Vec::new();
        for row in &open {
            let id: String = row.try_get("id")?;
            let key: (String, String) = (row.try_get("rule")?, row.try_get("subject")?);
            if firing_keys.contains(&key) {
                open_keys.push(key);
            } else {
                let (rule, subject) = key;
                sqlx::query("UPDATE alerts SET resolved_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&id)
                    .execute(&mut **transaction)
                    .await?;
                events.push(
                    insert_event(
                        &mut transaction,
                        "alert_resolved",
                        None,
                        json!({"alert": id, "rule": rule, "subject": subject}),
                    )
                    .await?,
                );
            }
        }
        for alert in firing {
            if open_keys
                .iter()
                .any(|(rule, subject)| rule == alert.rule && *subject == alert.subject)
            {
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO alerts (id, rule, severity, subject, message, value, threshold, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id)
            .bind(alert.rule)
            .bind(alert.severity)
            .bind(&alert.subject)
            .bind(&alert.message)
            .bind(alert.value)
            .bind(alert.threshold)
            .bind(now)
            .execute(&mut **transaction)
            .await?;
            events.push(
                insert_event(
                    &mut transaction,
                    "alert",
                    None,
                    json!({"alert": id, "rule": alert.rule, "severity": alert.severity,
                           "subject": alert.subject, "message": alert.message,
                           "value": alert.value, "threshold": alert.threshold}),
                )
                .await?,
            );
        }
        transaction.commit().await?;
        Ok(events)
    }

    pub async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, StoreError> {
        let since = filter
            .hours
            .map_or(i64::MIN, |hours| now_ms() - (hours * 3_600_000.0) as i64);
        let acknowledged = match filter.acknowledged {
            None => -1,
            Some(false) => 0,
            Some(true) => 1,
        };
        sqlx::query(
            "SELECT id, rule, severity, subject, message, value, threshold, created_at,
                    resolved_at, acknowledged_at, acknowledged_by
             FROM alerts
             WHERE created_at >= $1 AND ($2 = '' OR severity = $2)
               AND ($3 < 0 OR ($3 = 1 AND acknowledged_at IS NOT NULL)
                           OR ($3 = 0 AND acknowledged_at IS NULL))
             ORDER BY created_at DESC, id",
        )
        .bind(since)
        .bind(filter.severity.clone().unwrap_or_default())
        .bind(acknowledged)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(alert_from_row)
        .collect()
    }

    /// Acknowledges an open alert, with the `alert_acknowledged` event to
    /// publish (none when it was acknowledged already).
    pub async fn acknowledge_alert(
        &self,
        id: &str,
        by: &str,
    ) -> Result<crate::Change<Alert>, StoreError> {
        let mut transaction = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE alerts SET acknowledged_at = $1, acknowledged_by = $2
             WHERE id = $3 AND acknowledged_at IS NULL",
        )
        .bind(now_ms())
        .bind(by)
        .bind(id)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
        let row = sqlx::query(
            "SELECT id, rule, severity, subject, message, value, threshold, created_at,
                    resolved_at, acknowledged_at, acknowledged_by FROM alerts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut **transaction)
        .await?
        .ok_or_else(|| StoreError::UnknownAlert(id.to_owned()))?;
        let mut events = Vec::new();
        if updated > 0 {
            events.push(
                insert_event(
                    &mut transaction,
                    "alert_acknowledged",
                    None,
                    json!({"alert": id, "by": by}),
                )
                .await?,
            );
        }
        transaction.commit().await?;
        Ok(crate::Change {
            value: alert_from_row(&row)?,
            granted: Vec::new(),
            events,
        })
    }
}
