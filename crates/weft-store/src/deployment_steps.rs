//! The steps and gate observations of deployments, written as they happen
//! (or, with the `_at` forms, as of when they happened).

use serde_json::json;
use sqlx::Row;

use crate::deployment_types::{Stage, StepStatus, Verdict};
use crate::error::StoreError;
use crate::operations::insert_event;
use crate::store::{Backend, Store};
use crate::time::now_ms;

/// How much of a step's output is kept: the end.
const MAX_OUTPUT_CHARS: i64 = 256 * 1024;

impl Store {
    /// Records a step as running; returns its id.
    pub async fn start_step(
        &self,
        id: &str,
        service: &str,
        stage: Stage,
        index: u32,
        kind: &str,
        description: &str,
    ) -> Result<i64, StoreError> {
        self.start_step_at(id, service, stage, index, kind, description, now_ms())
            .await
    }

    /// [`Store::start_step`] as of `started` (ms since the epoch), for a step
    /// whose start is written after it happened.
    #[expect(clippy::too_many_arguments, reason = "one row's columns")]
    pub async fn start_step_at(
        &self,
        id: &str,
        service: &str,
        stage: Stage,
        index: u32,
        kind: &str,
        description: &str,
        started: i64,
    ) -> Result<i64, StoreError> {
        let mut transaction = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO deployment_steps (deployment, service, stage, step_index, kind,
                                           description, status, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'running', $7) RETURNING id",
        )
        .bind(id)
        .bind(service)
        .bind(stage.as_str())
        .bind(i64::from(index))
        .bind(kind)
        .bind(description)
        .bind(started)
        .fetch_one(&mut **transaction)
        .await?;
        let step: i64 = row.try_get("id")?;
        insert_event(
            &mut transaction,
            "step",
            None,
            json!({"deployment": id, "step": step, "service": service, "stage": stage.as_str(),
                   "description": description, "status": "running"}),
        )
        .await?;
        transaction.commit().await?;
        Ok(step)
    }

    /// Appends to a step's output, keeping its last 256 KiB.
    pub async fn append_step_output(&self, step: i64, text: &str) -> Result<(), StoreError> {
        if text.is_empty() {
            return Ok(());
        }
        let keep_end = match self.backend {
            Backend::Sqlite => "substr(output || $1, -$2)",
            Backend::Postgres => "right(output || $1, CAST($2 AS INTEGER))",
        };
        let mut transaction = self.begin().await?;
        sqlx::query(&format!(
            "UPDATE deployment_steps SET output = {keep_end} WHERE id = $3"
        ))
        .bind(text)
        .bind(MAX_OUTPUT_CHARS)
        .bind(step)
        .execute(&mut **transaction)
        .await?;
        transaction.commit().await
    }

    pub async fn finish_step(
        &self,
        step: i64,
        status: StepStatus,
        exit_code: Option<i32>,
        attempts: u32,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        self.finish_step_at(step, status, exit_code, attempts, message, now_ms())
            .await
    }

    /// [`Store::finish_step`] as of `finished` (ms since the epoch), for a
    /// step whose end is written after it happened.
    pub async fn finish_step_at(
        &self,
        step: i64,
        status: StepStatus,
        exit_code: Option<i32>,
        attempts: u32,
        message: Option<&str>,
        finished: i64,
    ) -> Result<(), StoreError> {
        let mut transaction = self.begin().await?;
        let row = sqlx::query(
            "UPDATE deployment_steps SET status = $1, exit_code = $2, attempts = $3, message = $4,
                    finished_at = $5
             WHERE id = $6 RETURNING deployment, service",
        )
        .bind(status.as_str())
        .bind(exit_code.map(i64::from))
        .bind(i64::from(attempts))
        .bind(message)
        .bind(finished)
        .bind(step)
        .fetch_optional(&mut **transaction)
        .await?
        .ok_or_else(|| StoreError::invalid("step", format!("no step {step}")))?;
        let deployment: String = row.try_get("deployment")?;
        let service: String = row.try_get("service")?;
        insert_event(
            &mut transaction,
            "step",
            None,
            json!({"deployment": deployment, "step": step, "service": service,
                   "status": status.as_str(), "message": message}),
        )
        .await?;
        transaction.commit().await
    }

    /// Records one gate observation, made at `at` (ms since the epoch).
    #[expect(clippy::too_many_arguments, reason = "one row's columns")]
    pub async fn record_observation(
        &self,
        id: &str,
        service: &str,
        stage: Stage,
        gate: u32,
        description: &str,
        verdict: Verdict,
        message: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query(
            "INSERT INTO gate_observations (deployment, service, stage, gate, description, verdict,
                                            message, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(service)
        .bind(stage.as_str())
        .bind(i64::from(gate))
        .bind(description)
        .bind(verdict.as_str())
        .bind(message)
        .bind(at)
        .execute(&mut **transaction)
        .await?;
        insert_event(
            &mut transaction,
            "gate",
            None,
            json!({"deployment": id, "service": service, "stage": stage.as_str(), "gate": gate,
                   "verdict": verdict.as_str(), "message": message}),
        )
        .await?;
        transaction.commit().await
    }
}
