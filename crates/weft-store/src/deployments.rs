//! Deployments of `weft deploy`, written as they happen: the deployment and
//! its manifest, service states, steps with their output, and gate
//! observations. Every change is one transaction with its event, so the
//! stream and the audit trail see releases too; a deployment whose process
//! died stays `running` until someone marks it `interrupted`.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::deployment_types::{
    ArtifactRecord, DeploymentKind, DeploymentRecord, DeploymentStats, DeploymentStatus,
    DeploymentSummary, NewDeployment, ObservationRecord, ServiceRecord, ServiceState, Stage,
    StepRecord, StepStatus, Verdict,
};
use crate::error::StoreError;
use crate::operations::insert_event;
use crate::store::Store;
use crate::time::{now_ms, rfc3339};

/// How much of it a record carries.
const TAIL_BYTES: usize = 4 * 1024;
/// How many observations of each gate a record carries.
const OBSERVATIONS_PER_GATE: usize = 20;

fn corrupt(what: &'static str, text: &str) -> StoreError {
    StoreError::Corrupt {
        what,
        message: text.to_owned(),
    }
}

fn map_of(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl Store {
    /// Records a new deployment, `running` from now, with its services `pending`.
    pub async fn create_deployment(
        &self,
        new: &NewDeployment,
    ) -> Result<DeploymentRecord, StoreError> {
        if new.environment.is_empty() {
            return Err(StoreError::invalid("environment", "must not be empty"));
        }
        let id = format!("d-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let now = now_ms();
        let mut transaction = self.begin().await?;
        sqlx::query(
            "INSERT INTO deployments (id, environment, kind, status, strategy, plan, versions, who,
                                      rollback_of, host, pid, created_at, heartbeat_at)
             VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(&id)
        .bind(&new.environment)
        .bind(new.kind.as_str())
        .bind(&new.strategy)
        .bind(new.plan.to_string())
        .bind(serde_json::to_string(&new.versions).unwrap_or_default())
        .bind(new.who.to_string())
        .bind(new.rollback_of.as_deref())
        .bind(&new.host)
        .bind(i64::from(new.pid))
        .bind(now)
        .execute(&mut **transaction)
        .await?;
        for service in &new.services {
            sqlx::query(
                "INSERT INTO deployment_services (deployment, service, version, previous_version,
                                                  phase, state)
                 VALUES ($1, $2, $3, $4, $5, 'pending')",
            )
            .bind(&id)
            .bind(&service.service)
            .bind(&service.version)
            .bind(service.previous_version.as_deref())
            .bind(i64::from(service.phase))
            .execute(&mut **transaction)
            .await?;
        }
        insert_event(
            &mut transaction,
            "deployment",
            Some(&format!("environment:{}", new.environment)),
            json!({"id": id, "environment": new.environment, "kind": new.kind.as_str(), "status": "running"}),
        )
        .await?;
        transaction.commit().await?;
        self.deployment(&id)
            .await?
            .ok_or_else(|| corrupt("deployment", "not found right after it was written"))
    }

    /// Sets a deployment's status (and its error, when given); a terminal
    /// status also sets the finish time.
    pub async fn set_deployment_status(
        &self,
        id: &str,
        status: DeploymentStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut transaction = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE deployments SET status = $1, error = COALESCE($2, error),
                    finished_at = $3, heartbeat_at = $4
             WHERE id = $5",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(status.is_terminal().then_some(now))
        .bind(now)
        .bind(id)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::invalid(
                "deployment",
                format!("no deployment `{id}`"),
            ));
        }
        insert_event(
            &mut transaction,
            "deployment",
            None,
            json!({"id": id, "status": status.as_str(), "error": error}),
        )
        .await?;
        transaction.commit().await
    }

    /// Marks the deployment's process as alive now.
    pub async fn heartbeat_deployment(&self, id: &str) -> Result<(), StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query("UPDATE deployments SET heartbeat_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut **transaction)
            .await?;
        transaction.commit().await
    }

    pub async fn set_service_state(
        &self,
        id: &str,
        service: &str,
        state: ServiceState,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.set_service_state_at(id, service, state, detail, now_ms())
            .await
    }

    /// [`Store::set_service_state`] as of `now` (ms since the epoch), for a
    /// change written after it happened.
    pub async fn set_service_state_at(
        &self,
        id: &str,
        service: &str,
        state: ServiceState,
        detail: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.set_services_state_at(id, &[service], state, detail, now)
            .await
    }

    /// Several services of a deployment take one state, in one transaction
    /// (a phase's services starting together).
    pub async fn set_services_state_at(
        &self,
        id: &str,
        services: &[&str],
        state: ServiceState,
        detail: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let starting = matches!(state, ServiceState::Deploying | ServiceState::RollingBack);
        let ending = matches!(
            state,
            ServiceState::Deployed
                | ServiceState::Failed
                | ServiceState::RolledBack
                | ServiceState::RollbackFailed
        );
        let mut transaction = self.begin().await?;
        for service in services {
            let updated = sqlx::query(
                "UPDATE deployment_services SET state = $1, detail = $2,
                        started_at = CASE WHEN $3 = 1 THEN $4 ELSE started_at END,
                        finished_at = CASE WHEN $5 = 1 THEN $4 WHEN $3 = 1 THEN NULL ELSE finished_at END
                 WHERE deployment = $6 AND service = $7",
            )
            .bind(state.as_str())
            .bind(detail)
            .bind(i64::from(starting))
            .bind(now)
            .bind(i64::from(ending))
            .bind(id)
            .bind(*service)
            .execute(&mut **transaction)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(StoreError::invalid(
                    "service",
                    format!("deployment `{id}` has no service `{service}`"),
                ));
            }
            insert_event(
                &mut transaction,
                "deployment",
                None,
                json!({"id": id, "service": service, "state": state.as_str(), "detail": detail}),
            )
            .await?;
        }
        transaction.commit().await
    }

    /// Where a service's workflow run can be seen.
    pub async fn set_service_run_url(
        &self,
        id: &str,
        service: &str,
        url: &str,
    ) -> Result<(), StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query(
            "UPDATE deployment_services SET run_url = $1 WHERE deployment = $2 AND service = $3",
        )
        .bind(url)
        .bind(id)
        .bind(service)
        .execute(&mut **transaction)
        .await?;
        transaction.commit().await
    }

    /// A deployment with its services, steps and recent observations.
    pub async fn deployment(&self, id: &str) -> Result<Option<DeploymentRecord>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM deployments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let mut record = record_from_row(&row)?;
        let services = sqlx::query(
            "SELECT * FROM deployment_services WHERE deployment = $1 ORDER BY phase, service",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        record.services = services
            .iter()
            .map(service_from_row)
            .collect::<Result<_, _>>()?;
        let steps = sqlx::query("SELECT * FROM deployment_steps WHERE deployment = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        record.steps = steps.iter().map(step_from_row).collect::<Result<_, _>>()?;
        let observations =
            sqlx::query("SELECT * FROM gate_observations WHERE deployment = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        let all: Vec<ObservationRecord> = observations
            .iter()
            .map(observation_from_row)
            .collect::<Result<_, _>>()?;
        // The last few of each gate, in the order they were made.
        let mut count: BTreeMap<(String, Stage, u32), usize> = BTreeMap::new();
        for observation in &all {
            *count
                .entry((
                    observation.service.clone(),
                    observation.stage,
                    observation.gate,
                ))
                .or_default() += 1;
        }
        let mut seen: BTreeMap<(String, Stage, u32), usize> = BTreeMap::new();
        record.observations = all
            .into_iter()
            .filter(|o| {
                let key = (o.service.clone(), o.stage, o.gate);
                let index = seen.entry(key.clone()).or_default();
                *index += 1;
                *index + OBSERVATIONS_PER_GATE > count[&key]
            })
            .collect();
        record.artifacts = self.artifacts(id).await?;
        record.notifications = self.deliveries(id).await?;
        Ok(Some(record))
    }

    /// A step's whole kept output.
    pub async fn step_output(&self, step: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT output FROM deployment_steps WHERE id = $1")
            .bind(step)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.try_get("output").map_err(StoreError::from))
            .transpose()
    }

    /// Deployments, newest first.
    pub async fn deployments(
        &self,
        environment: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeploymentSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM deployments WHERE ($1 = '' OR environment = $1)
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(environment.unwrap_or(""))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        self.summaries(rows).await
    }

    /// The deployments that have not ended, newest first.
    pub async fn running_deployments(
        &self,
        environment: Option<&str>,
    ) -> Result<Vec<DeploymentSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM deployments WHERE ($1 = '' OR environment = $1)
               AND status IN ('running', 'paused', 'rolling_back')
             ORDER BY created_at DESC, id DESC",
        )
        .bind(environment.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        self.summaries(rows).await
    }

    /// The environment's latest successful deployment (its live manifest),
    /// or, with `before`, the latest one older than that deployment.
    pub async fn last_successful(
        &self,
        environment: &str,
        before: Option<&str>,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let (created, id) = match before {
            Some(before) => {
                let row = sqlx::query("SELECT created_at, id FROM deployments WHERE id = $1")
                    .bind(before)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| {
                        StoreError::invalid("deployment", format!("no deployment `{before}`"))
                    })?;
                (
                    row.try_get::<i64, _>("created_at")?,
                    row.try_get::<String, _>("id")?,
                )
            }
            None => (i64::MAX, String::new()),
        };
        let row = sqlx::query(
            "SELECT id FROM deployments
             WHERE environment = $1 AND status = 'succeeded'
               AND (created_at < $2 OR (created_at = $2 AND id < $3) OR $3 = '')
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(environment)
        .bind(created)
        .bind(&id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.deployment(&row.try_get::<String, _>("id")?).await,
            None => Ok(None),
        }
    }

    /// Marks a deployment that has not ended as interrupted, with the
    /// reason; false when it had ended already.
    pub async fn mark_interrupted(&self, id: &str, reason: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut transaction = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE deployments SET status = 'interrupted', error = $1, finished_at = $2
             WHERE id = $3 AND status IN ('running', 'paused', 'rolling_back')",
        )
        .bind(format!("interrupted: {reason}"))
        .bind(now)
        .bind(id)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
        if updated > 0 {
            sqlx::query(
                "UPDATE deployment_steps SET status = 'cancelled', finished_at = $1,
                        message = 'interrupted'
                 WHERE deployment = $2 AND status = 'running'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut **transaction)
            .await?;
            insert_event(
                &mut transaction,
                "deployment",
                None,
                json!({"id": id, "status": "interrupted", "error": reason}),
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(updated > 0)
    }

    /// Records (or replaces) a file the deployment carries.
    pub async fn put_artifact(
        &self,
        id: &str,
        name: &str,
        digest: &str,
        size: u64,
        location: &str,
    ) -> Result<(), StoreError> {
        let mut transaction = self.begin().await?;
        let known = sqlx::query("SELECT id FROM deployments WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **transaction)
            .await?;
        if known.is_none() {
            return Err(StoreError::invalid(
                "deployment",
                format!("no deployment `{id}`"),
            ));
        }
        sqlx::query("DELETE FROM deployment_artifacts WHERE deployment = $1 AND name = $2")
            .bind(id)
            .bind(name)
            .execute(&mut **transaction)
            .await?;
        sqlx::query(
            "INSERT INTO deployment_artifacts (deployment, name, digest, size, location, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(digest)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(location)
        .bind(now_ms())
        .execute(&mut **transaction)
        .await?;
        insert_event(
            &mut transaction,
            "deployment",
            None,
            json!({"id": id, "artifact": name, "digest": digest, "size": size}),
        )
        .await?;
        transaction.commit().await
    }

    /// The files a deployment carries, by name.
    pub async fn artifacts(&self, id: &str) -> Result<Vec<ArtifactRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM deployment_artifacts WHERE deployment = $1 ORDER BY name")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let size: i64 = row.try_get("size")?;
                let created_at: i64 = row.try_get("created_at")?;
                Ok(ArtifactRecord {
                    name: row.try_get("name")?,
                    digest: row.try_get("digest")?,
                    size: u64::try_from(size).unwrap_or(0),
                    location: row.try_get("location")?,
                    created: rfc3339(created_at),
                })
            })
            .collect()
    }

    /// Counts for `/metrics`, over every recorded deployment.
    pub async fn deployment_stats(&self) -> Result<DeploymentStats, StoreError> {
        let rows = sqlx::query(
            "SELECT environment, status, CAST(COUNT(*) AS BIGINT) AS n FROM deployments
             GROUP BY environment, status ORDER BY environment, status",
        )
        .fetch_all(&self.pool)
        .await?;
        let by_status = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("environment")?,
                    row.try_get("status")?,
                    row.try_get("n")?,
                ))
            })
            .collect::<Result<Vec<(String, String, i64)>, StoreError>>()?;
        let rollbacks: i64 = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM deployments
             WHERE kind = 'rollback' OR status IN ('rolled_back', 'rollback_failed')",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let gate_failures: i64 = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM gate_observations WHERE verdict = 'fail'",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let durations = sqlx::query(
            "SELECT environment, finished_at - created_at AS ms FROM deployments
             WHERE finished_at IS NOT NULL AND kind = 'release'",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("environment")?, row.try_get("ms")?)))
        .collect::<Result<Vec<(String, i64)>, StoreError>>()?;
        Ok(DeploymentStats {
            by_status,
            rollbacks,
            gate_failures,
            durations_ms: durations,
        })
    }

    async fn summaries(&self, rows: Vec<AnyRow>) -> Result<Vec<DeploymentSummary>, StoreError> {
        let mut summaries = Vec::with_capacity(rows.len());
        for row in rows {
            let record = record_from_row(&row)?;
            let services = sqlx::query(
                "SELECT service, version FROM deployment_services WHERE deployment = $1",
            )
            .bind(&record.id)
            .fetch_all(&self.pool)
            .await?;
            let released = services
                .iter()
                .map(|row| Ok((row.try_get("service")?, row.try_get("version")?)))
                .collect::<Result<BTreeMap<String, String>, StoreError>>()?;
            let created_at: i64 = row.try_get("created_at")?;
            summaries.push(DeploymentSummary {
                id: record.id,
                environment: record.environment,
                kind: record.kind,
                status: record.status,
                strategy: record.strategy,
                versions: record.versions,
                services: released,
                created: rfc3339(created_at),
                finished: record.finished,
                error: record.error,
            });
        }
        Ok(summaries)
    }
}

fn record_from_row(row: &AnyRow) -> Result<DeploymentRecord, StoreError> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let plan: String = row.try_get("plan")?;
    let versions: String = row.try_get("versions")?;
    let who: String = row.try_get("who")?;
    let created_at: i64 = row.try_get("created_at")?;
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    let heartbeat_at: i64 = row.try_get("heartbeat_at")?;
    let pid: i64 = row.try_get("pid")?;
    Ok(DeploymentRecord {
        id: row.try_get("id")?,
        environment: row.try_get("environment")?,
        kind: DeploymentKind::parse(&kind).ok_or_else(|| corrupt("deployment kind", &kind))?,
        status: DeploymentStatus::parse(&status)
            .ok_or_else(|| corrupt("deployment status", &status))?,
        strategy: row.try_get("strategy")?,
        plan: serde_json::from_str(&plan).unwrap_or_default(),
        versions: map_of(&versions),
        who: serde_json::from_str(&who).unwrap_or_default(),
        rollback_of: row.try_get("rollback_of")?,
        host: row.try_get("host")?,
        pid: u32::try_from(pid).unwrap_or(0),
        error: row.try_get("error")?,
        started: rfc3339(created_at),
        finished: finished_at.map(rfc3339),
        heartbeat: rfc3339(heartbeat_at),
        duration_ms: finished_at.map(|f| f - created_at),
        services: Vec::new(),
        steps: Vec::new(),
        observations: Vec::new(),
        artifacts: Vec::new(),
        notifications: Vec::new(),
    })
}

fn service_from_row(row: &AnyRow) -> Result<ServiceRecord, StoreError> {
    let state: String = row.try_get("state")?;
    let phase: i64 = row.try_get("phase")?;
    let started_at: Option<i64> = row.try_get("started_at")?;
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    Ok(ServiceRecord {
        service: row.try_get("service")?,
        version: row.try_get("version")?,
        previous_version: row.try_get("previous_version")?,
        phase: u32::try_from(phase).unwrap_or(u32::MAX),
        state: ServiceState::parse(&state).ok_or_else(|| corrupt("service state", &state))?,
        detail: row.try_get("detail")?,
        run_url: row.try_get("run_url")?,
        started: started_at.map(rfc3339),
        finished: finished_at.map(rfc3339),
    })
}

fn step_from_row(row: &AnyRow) -> Result<StepRecord, StoreError> {
    let stage: String = row.try_get("stage")?;
    let status: String = row.try_get("status")?;
    let index: i64 = row.try_get("step_index")?;
    let attempts: i64 = row.try_get("attempts")?;
    let exit_code: Option<i64> = row.try_get("exit_code")?;
    let output: String = row.try_get("output")?;
    let started_at: i64 = row.try_get("started_at")?;
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    let mut tail_start = output.len().saturating_sub(TAIL_BYTES);
    while !output.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    Ok(StepRecord {
        id: row.try_get("id")?,
        service: row.try_get("service")?,
        stage: Stage::parse(&stage).ok_or_else(|| corrupt("step stage", &stage))?,
        index: u32::try_from(index).unwrap_or(u32::MAX),
        kind: row.try_get("kind")?,
        description: row.try_get("description")?,
        status: StepStatus::parse(&status).ok_or_else(|| corrupt("step status", &status))?,
        exit_code: exit_code.and_then(|c| i32::try_from(c).ok()),
        attempts: u32::try_from(attempts).unwrap_or(0),
        message: row.try_get("message")?,
        started: rfc3339(started_at),
        finished: finished_at.map(rfc3339),
        duration_ms: finished_at.map(|f| f - started_at),
        output_tail: output[tail_start..].to_string(),
    })
}

fn observation_from_row(row: &AnyRow) -> Result<ObservationRecord, StoreError> {
    let stage: String = row.try_get("stage")?;
    let verdict: String = row.try_get("verdict")?;
    let gate: i64 = row.try_get("gate")?;
    let at: i64 = row.try_get("at")?;
    Ok(ObservationRecord {
        service: row.try_get("service")?,
        stage: Stage::parse(&stage).ok_or_else(|| corrupt("observation stage", &stage))?,
        gate: u32::try_from(gate).unwrap_or(u32::MAX),
        description: row.try_get("description")?,
        verdict: Verdict::parse(&verdict).ok_or_else(|| corrupt("verdict", &verdict))?,
        message: row.try_get("message")?,
        at: rfc3339(at),
    })
}
