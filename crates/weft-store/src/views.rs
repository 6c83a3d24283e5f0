//! Reading resources, holders and queues, and registering resources.

use sqlx::Row;

use crate::error::StoreError;
use crate::leases::{
    Effects, LEASE_COLUMNS, WAITER_COLUMNS, Waiter, lease_from_row, resource_from_row,
    waiter_from_row,
};
use crate::store::Store;
use crate::time::{now_ms, rfc3339};
use crate::types::{Lease, QueueEntry, Resource, ResourceId, ResourceView};

impl Store {
    /// Registers a resource (or updates its capacity and metadata).
    pub async fn register_resource(
        &self,
        id: &ResourceId,
        capacity: Option<i64>,
        metadata: Option<serde_json::Value>,
    ) -> Result<Resource, StoreError> {
        if let Some(capacity) = capacity
            && !(1..=1_000_000).contains(&capacity)
        {
            return Err(StoreError::invalid("capacity", "must be 1..=1000000"));
        }
        if let Some(metadata) = &metadata
            && !metadata.is_object()
        {
            return Err(StoreError::invalid("metadata", "must be a JSON object"));
        }
        let mut transaction = self.begin().await?;
        let mut resource = self
            .lock_resource(&mut transaction, id, capacity, true)
            .await?;
        if let Some(capacity) = capacity {
            resource.capacity = capacity;
        }
        if let Some(metadata) = metadata {
            resource.metadata = metadata;
        }
        sqlx::query("UPDATE resources SET capacity = $1, metadata = $2 WHERE id = $3")
            .bind(resource.capacity)
            .bind(resource.metadata.to_string())
            .bind(id.to_string())
            .execute(&mut **transaction)
            .await?;
        // More capacity may admit waiters.
        let mut effects = Effects::default();
        self.grant_pass(&mut transaction, &resource, &mut effects)
            .await?;
        self.notify(&mut transaction, &effects).await?;
        transaction.commit().await?;
        Ok(resource)
    }

    /// One resource with its holders and queue.
    pub async fn resource(&self, id: &ResourceId) -> Result<ResourceView, StoreError> {
        self.resources(Some(id))
            .await?
            .pop()
            .ok_or_else(|| StoreError::UnknownResource(id.to_string()))
    }

    /// Every resource (or one) with holders and queue, in a consistent read.
    pub async fn resources(
        &self,
        only: Option<&ResourceId>,
    ) -> Result<Vec<ResourceView>, StoreError> {
        let filter = only.map(ToString::to_string);
        let mut connection = self.pool.acquire().await?;
        let resources: Vec<Resource> = sqlx::query(
            "SELECT id, kind, identifier, capacity, metadata, fence FROM resources
             WHERE ($1 = '' OR id = $1) ORDER BY id",
        )
        .bind(filter.clone().unwrap_or_default())
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(resource_from_row)
        .collect::<Result<_, _>>()?;
        let now = now_ms();
        let leases: Vec<Lease> = sqlx::query(&format!(
            "SELECT {LEASE_COLUMNS} FROM leases WHERE ($1 = '' OR resource = $1) AND expires_at > $2 ORDER BY token"
        ))
        .bind(filter.clone().unwrap_or_default())
        .bind(now)
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(lease_from_row)
        .collect::<Result<_, _>>()?;
        let waiters: Vec<(String, Waiter)> = sqlx::query(&format!(
            "SELECT {WAITER_COLUMNS} FROM waiters WHERE ($1 = '' OR resource = $1) AND lease IS NULL
             AND deadline > $2 AND heartbeat_until > $2"
        ))
        .bind(filter.unwrap_or_default())
        .bind(now)
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(|row| {
            let resource: String = row.try_get("resource")?;
            Ok((resource, waiter_from_row(row)?))
        })
        .collect::<Result<_, StoreError>>()?;
        Ok(resources
            .into_iter()
            .map(|resource| {
                let id = resource.id.to_string();
                let holders: Vec<Lease> = leases
                    .iter()
                    .filter(|l| l.resource == resource.id)
                    .cloned()
                    .collect();
                let mut queue: Vec<Waiter> = waiters
                    .iter()
                    .filter(|(r, _)| *r == id)
                    .map(|(_, w)| w.clone())
                    .collect();
                self.order_queue(&mut queue, now);
                let queue = queue
                    .into_iter()
                    .enumerate()
                    .map(|(index, w)| QueueEntry {
                        waiter: w.id.clone(),
                        position: index + 1,
                        mode: w.mode,
                        weight: w.weight,
                        holder: w.holder.clone(),
                        priority: w.priority,
                        effective_priority: self
                            .policy
                            .effective_priority(w.priority, now - w.enqueued_at),
                        enqueued_at: rfc3339(w.enqueued_at),
                        waited_ms: now - w.enqueued_at,
                        deadline: rfc3339(w.deadline),
                    })
                    .collect();
                ResourceView {
                    used: holders.iter().map(|l| l.weight).sum(),
                    resource,
                    holders,
                    queue,
                }
            })
            .collect())
    }

    /// Every live lease.
    pub async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        let sql = format!(
            "SELECT {LEASE_COLUMNS} FROM leases WHERE expires_at > $1 ORDER BY resource, token"
        );
        sqlx::query(&sql)
            .bind(now_ms())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(lease_from_row)
            .collect()
    }

    /// One live lease.
    pub async fn lease(&self, id: &str) -> Result<Lease, StoreError> {
        let sql = format!("SELECT {LEASE_COLUMNS} FROM leases WHERE id = $1 AND expires_at > $2");
        sqlx::query(&sql)
            .bind(id)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(lease_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::UnknownLease(id.to_owned()))
    }
}
