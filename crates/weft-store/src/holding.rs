//! Holding and waiting: collecting a grant, heartbeats, leaving the queue,
//! renewing, releasing, force-releasing and reaping. Each change runs the
//! grant pass of `leases.rs` under the resource's lock.

use serde_json::json;
use sqlx::{Any, Row, Transaction};

use crate::engine::{Done, Op};
use crate::error::StoreError;
use crate::leases::{
    Change, Effects, ForceReleased, LEASE_COLUMNS, Released, WAITER_COLUMNS, WAITER_HEARTBEAT_MS,
    WaitState, lease_from_row, waiter_from_row,
};
use crate::operations::{insert_event, insert_operation};
use crate::store::{Store, Tx};
use crate::time::now_ms;
use crate::types::{Lease, OperationStatus, Resource, ResourceId};

impl Store {
    /// Where a queued waiter stands. A granted waiter's row is removed and
    /// its claim finished; the lease is the caller's.
    pub async fn collect(&self, waiter: &str) -> Result<WaitState, StoreError> {
        let row = sqlx::query("SELECT lease, operation, enqueued_at FROM waiters WHERE id = $1")
            .bind(waiter)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(WaitState::Gone);
        };
        let lease_id: Option<String> = row.try_get("lease")?;
        let Some(lease_id) = lease_id else {
            return Ok(WaitState::Waiting);
        };
        let operation: String = row.try_get("operation")?;
        let enqueued_at: i64 = row.try_get("enqueued_at")?;
        let mut transaction = self.begin().await?;
        let lease = self.lease_in(&mut transaction, &lease_id).await?;
        sqlx::query("DELETE FROM waiters WHERE id = $1")
            .bind(waiter)
            .execute(&mut **transaction)
            .await?;
        let state = match lease {
            Some(lease) => {
                crate::operations::finish_operation(
                    &mut transaction,
                    &operation,
                    OperationStatus::Succeeded,
                    Some(json!({"lease": lease.id, "token": lease.token,
                                "waited_ms": lease.granted_at_ms - enqueued_at})),
                    None,
                )
                .await?;
                WaitState::Granted(Box::new(lease))
            }
            // Granted, then expired before anyone collected it.
            None => WaitState::Gone,
        };
        transaction.commit().await?;
        Ok(state)
    }

    /// Keeps a waiter in the queue.
    pub async fn heartbeat(&self, waiter: &str) -> Result<(), StoreError> {
        self.keep_waiter(waiter, WAITER_HEARTBEAT_MS).await
    }

    /// Keeps a waiter in the queue for `ms` from now without its process:
    /// the time a client whose connection went has to ask again with its
    /// request id and take its place back. (A live wait on the same id
    /// refreshes its heartbeat more often than that.)
    pub async fn keep_waiter(&self, waiter: &str, ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE waiters SET heartbeat_until = $1 WHERE id = $2")
            .bind(now_ms() + ms)
            .bind(waiter)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes a waiter out of the queue (its deadline passed, or its client
    /// went away). When it was granted meanwhile, returns the lease, which
    /// the caller then owns.
    pub async fn cancel_wait(
        &self,
        waiter: &str,
        reason: &str,
    ) -> Result<Change<Option<Lease>>, StoreError> {
        let row = sqlx::query("SELECT resource FROM waiters WHERE id = $1")
            .bind(waiter)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(Effects::default().into_change(None));
        };
        let resource: String = row.try_get("resource")?;
        let resource = ResourceId::parse(&resource)?;
        let mut transaction = self.begin().await?;
        let locked = self
            .lock_resource(&mut transaction, &resource, None, false)
            .await?;
        let sql = format!("SELECT {WAITER_COLUMNS} FROM waiters WHERE id = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(waiter)
            .fetch_optional(&mut **transaction)
            .await?
        else {
            return Ok(Effects::default().into_change(None));
        };
        let row = waiter_from_row(&row)?;
        sqlx::query("DELETE FROM waiters WHERE id = $1")
            .bind(waiter)
            .execute(&mut **transaction)
            .await?;
        let mut effects = Effects::default();
        let value = if let Some(lease_id) = &row.lease {
            let lease = self.lease_in(&mut transaction, lease_id).await?;
            if let Some(lease) = &lease {
                crate::operations::finish_operation(
                    &mut transaction,
                    &row.operation,
                    OperationStatus::Succeeded,
                    Some(json!({"lease": lease.id, "token": lease.token,
                                "waited_ms": lease.granted_at_ms - row.enqueued_at})),
                    None,
                )
                .await?;
            }
            lease
        } else {
            crate::operations::finish_operation(
                &mut transaction,
                &row.operation,
                OperationStatus::Conflict,
                None,
                Some(reason),
            )
            .await?;
            let event = insert_event(
                &mut transaction,
                "wait_cancelled",
                Some(&resource.to_string()),
                json!({"waiter": waiter, "holder": row.holder, "reason": reason}),
            )
            .await?;
            effects.events.push(event);
            // The head of the queue leaving may let others in.
            self.grant_pass(&mut transaction, &locked, &mut effects)
                .await?;
            None
        };
        self.notify(&mut transaction, &effects).await?;
        transaction.commit().await?;
        Ok(effects.into_change(value))
    }

    pub(crate) async fn lease_in(
        &self,
        transaction: &mut Transaction<'static, Any>,
        id: &str,
    ) -> Result<Option<Lease>, StoreError> {
        let sql = format!("SELECT {LEASE_COLUMNS} FROM leases WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut **transaction)
            .await?
            .as_ref()
            .map(lease_from_row)
            .transpose()
    }

    /// The resource a lease is on, read outside any transaction.
    async fn resource_of(&self, lease: &str) -> Result<ResourceId, StoreError> {
        let row = sqlx::query("SELECT resource FROM leases WHERE id = $1")
            .bind(lease)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::UnknownLease(lease.to_owned()))?;
        let resource: String = row.try_get("resource")?;
        ResourceId::parse(&resource)
    }

    /// Locks the lease's resource and reads the lease again under the lock.
    /// An expired lease is reaped here, and comes back as the error to
    /// return once the reaping is committed.
    async fn open_lease(
        &self,
        transaction: &mut Transaction<'static, Any>,
        resource_id: &ResourceId,
        id: &str,
        effects: &mut Effects,
    ) -> Result<Result<(Resource, Lease), StoreError>, StoreError> {
        let resource = self
            .lock_resource(transaction, resource_id, None, false)
            .await?;
        let lease = self
            .lease_in(transaction, id)
            .await?
            .ok_or_else(|| StoreError::UnknownLease(id.to_owned()))?;
        if lease.expires_at_ms <= now_ms() {
            self.grant_pass(transaction, &resource, effects).await?;
            return Ok(Err(StoreError::LeaseExpired {
                id: lease.id,
                resource: resource.id.to_string(),
                token: lease.token,
            }));
        }
        Ok(Ok((resource, lease)))
    }

    async fn commit(&self, mut transaction: Tx, effects: &Effects) -> Result<(), StoreError> {
        self.notify(&mut transaction, effects).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Extends a live lease by `ttl` from now (default: its own TTL).
    pub async fn renew(&self, id: &str, ttl_ms: Option<i64>) -> Result<Change<Lease>, StoreError> {
        if let Some(ttl) = ttl_ms {
            self.policy.ttl(Some(ttl))?;
        }
        let resource = self.resource_of(id).await?;
        let mut transaction = self.begin().await?;
        let mut effects = Effects::default();
        let mut lease = match self
            .open_lease(&mut transaction, &resource, id, &mut effects)
            .await?
        {
            Ok((_, lease)) => lease,
            Err(expired) => {
                self.commit(transaction, &effects).await?;
                return Err(expired);
            }
        };
        let now = now_ms();
        lease.ttl_ms = ttl_ms.unwrap_or(lease.ttl_ms);
        lease.expires_at_ms = now.saturating_add(lease.ttl_ms);
        sqlx::query(
            "UPDATE leases SET ttl_ms = $1, expires_at = $2, renewed_at = $3 WHERE id = $4",
        )
        .bind(lease.ttl_ms)
        .bind(lease.expires_at_ms)
        .bind(now)
        .bind(&lease.id)
        .execute(&mut **transaction)
        .await?;
        self.commit(transaction, &effects).await?;
        Ok(effects.into_change(lease.stamp()))
    }

    /// Gives a lease back; the next waiters are granted in the same
    /// transaction. Releases that arrive together share one (see
    /// `engine/`).
    pub async fn release(&self, id: &str) -> Result<Change<Released>, StoreError> {
        let change = self.submit(Op::Release(id.to_owned())).await?;
        match change.value {
            Done::Released(released) => Ok(Change {
                value: *released,
                granted: change.granted,
                events: change.events,
            }),
            Done::Acquired(_) => Err(StoreError::Corrupt {
                what: "batch",
                message: "a release was answered as a claim".to_owned(),
            }),
        }
    }

    /// Takes every lease on a resource away, for an emergency, with an audit
    /// event naming who did it and why.
    pub async fn force_release(
        &self,
        resource: &ResourceId,
        reason: &str,
        actor: &str,
    ) -> Result<Change<ForceReleased>, StoreError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::invalid(
                "reason",
                "a force-release needs a reason for the audit trail",
            ));
        }
        let mut transaction = self.begin().await?;
        let locked = self
            .lock_resource(&mut transaction, resource, None, false)
            .await?;
        let released = self.holders_of(&mut transaction, resource).await?;
        sqlx::query("DELETE FROM leases WHERE resource = $1")
            .bind(resource.to_string())
            .execute(&mut **transaction)
            .await?;
        let now = now_ms();
        let operation = insert_operation(
            &mut transaction,
            "force_release",
            Some(&resource.to_string()),
            None,
            now,
        )
        .await?;
        crate::operations::finish_operation(
            &mut transaction,
            &operation,
            OperationStatus::Succeeded,
            Some(json!({"reason": reason, "actor": actor,
                        "leases": released.iter().map(|l| &l.id).collect::<Vec<_>>()})),
            None,
        )
        .await?;
        let mut effects = Effects::default();
        let event = insert_event(
            &mut transaction,
            "force_release",
            Some(&resource.to_string()),
            json!({"reason": reason, "actor": actor,
                   "leases": released.iter().map(|l| json!({"lease": l.id, "token": l.token,
                                                             "holder": l.holder})).collect::<Vec<_>>()}),
        )
        .await?;
        effects.events.push(event);
        self.grant_pass(&mut transaction, &locked, &mut effects)
            .await?;
        self.notify(&mut transaction, &effects).await?;
        transaction.commit().await?;
        Ok(effects.into_change(ForceReleased { released }))
    }

    /// Reaps every expired lease and stale waiter, granting what that frees.
    pub async fn reap(&self) -> Result<Change<usize>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT resource FROM leases WHERE expires_at <= $1
             UNION SELECT resource FROM waiters WHERE deadline <= $1 OR heartbeat_until <= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut all = Effects::default();
        for row in rows {
            let resource: String = row.try_get("resource")?;
            let resource = ResourceId::parse(&resource)?;
            let mut transaction = self.begin().await?;
            let locked = self
                .lock_resource(&mut transaction, &resource, None, false)
                .await?;
            let mut effects = Effects::default();
            self.grant_pass(&mut transaction, &locked, &mut effects)
                .await?;
            self.notify(&mut transaction, &effects).await?;
            transaction.commit().await?;
            all.granted.extend(effects.granted);
            all.events.extend(effects.events);
        }
        let expired = all.events.iter().filter(|e| e.kind == "expire").count();
        Ok(all.into_change(expired))
    }

    /// When the reaper next has something to do: the earliest lease expiry
    /// or waiter deadline.
    pub async fn next_deadline(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(MIN(expires_at) AS BIGINT) AS lease,
                    (SELECT CAST(MIN(deadline) AS BIGINT) FROM waiters WHERE lease IS NULL) AS waiter,
                    (SELECT CAST(MIN(heartbeat_until) AS BIGINT) FROM waiters) AS heartbeat
             FROM leases",
        )
        .fetch_one(&self.pool)
        .await?;
        let lease: Option<i64> = row.try_get("lease")?;
        let waiter: Option<i64> = row.try_get("waiter")?;
        let heartbeat: Option<i64> = row.try_get("heartbeat")?;
        Ok([lease, waiter, heartbeat].into_iter().flatten().min())
    }

    /// On PostgreSQL, tells every replica now of events already committed.
    pub(crate) async fn announce(&self, payload: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::notify::CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// On PostgreSQL, tells every replica (at commit) which waiters were
    /// granted and which events were recorded.
    pub(crate) async fn notify(
        &self,
        connection: &mut sqlx::AnyConnection,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        if self.backend != crate::store::Backend::Postgres
            || (effects.granted.is_empty() && effects.events.is_empty())
        {
            return Ok(());
        }
        let payload = crate::notify::payload(effects);
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::notify::CHANNEL)
            .bind(payload)
            .execute(&mut *connection)
            .await?;
        Ok(())
    }
}
