//! Leases and the queue: claim, wait, renew, release, force-release, reap.
//!
//! How it works: every change to a resource is one transaction that first
//! locks the resource's row (SQLite: the whole database, `BEGIN IMMEDIATE`;
//! PostgreSQL: `SELECT … FOR UPDATE`), then runs the *grant pass*:
//!
//! 1. leases past their expiry are deleted (their tokens are void);
//! 2. waiters past their deadline, or whose process stopped heart-beating,
//!    leave the queue;
//! 3. the queue is ordered by effective priority (priority plus aging), then
//!    arrival; from its head, waiters are granted while they fit: an
//!    exclusive lease needs the resource empty, a shared one needs no
//!    exclusive holder and its weight within the capacity left. The first
//!    that does not fit stops the pass, so a large request is never starved
//!    by a stream of small ones.
//!
//! A claim is itself a waiter: it joins the queue and runs the pass, so it
//! never jumps ahead of an older waiter of equal priority. Each grant takes
//! the resource's fence plus one as its token, so tokens strictly increase
//! per resource, across restarts and replicas: the row lock serialises them.
//! A granted waiter keeps its row, marked with the lease, until the process
//! waiting on it collects the lease; the grants a pass makes are returned so
//! the caller can wake those processes.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::error::StoreError;
use crate::operations::{insert_event, insert_finished_operation, insert_operation};
use crate::store::Store;
use crate::time::now_ms;
use crate::types::{
    AcquireRequest, Event, Holder, Lease, Mode, OperationStatus, Resource, ResourceId,
};

/// How long a waiter's process may go without a heartbeat before the queue
/// forgets it.
pub(crate) const WAITER_HEARTBEAT_MS: i64 = 30_000;

/// A grant made while running a pass: the waiter to wake and its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub waiter: String,
    pub lease: Lease,
}

/// What a claim got.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Granted(Box<Lease>),
    /// In the queue; wait for the waiter to be granted.
    Queued {
        waiter: String,
        position: usize,
        deadline_ms: i64,
        holders: Vec<Lease>,
    },
    /// Taken, and the claim asked not to wait.
    Conflict {
        holders: Vec<Lease>,
        queue_length: usize,
    },
}

/// A waiter's state, when its process looks.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitState {
    Waiting,
    Granted(Box<Lease>),
    /// The waiter left the queue: deadline passed or heartbeat lost.
    Gone,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    pub lease: Lease,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForceReleased {
    pub released: Vec<Lease>,
}

/// The result of a change: its value, the waiters it granted (to wake) and
/// the events it recorded (to publish).
#[derive(Debug, Clone, PartialEq)]
pub struct Change<T> {
    pub value: T,
    pub granted: Vec<Grant>,
    pub events: Vec<Event>,
}

/// What one transaction accumulates.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) granted: Vec<Grant>,
    pub(crate) events: Vec<Event>,
}

impl Effects {
    pub(crate) fn into_change<T>(self, value: T) -> Change<T> {
        Change {
            value,
            granted: self.granted,
            events: self.events,
        }
    }
}

pub(crate) const LEASE_COLUMNS: &str =
    "id, resource, mode, weight, token, holder, priority, ttl_ms, granted_at, expires_at";

pub(crate) const WAITER_COLUMNS: &str = "id, resource, mode, weight, holder, priority, ttl_ms, enqueued_at, \
     deadline, heartbeat_until, operation, lease";

pub(crate) fn lease_from_row(row: &AnyRow) -> Result<Lease, StoreError> {
    let resource: String = row.try_get("resource")?;
    let holder: String = row.try_get("holder")?;
    let mode: String = row.try_get("mode")?;
    Ok(Lease {
        id: row.try_get("id")?,
        resource: ResourceId::parse(&resource).map_err(|_| StoreError::Corrupt {
            what: "resource id",
            message: resource.clone(),
        })?,
        mode: Mode::parse(&mode)?,
        weight: row.try_get("weight")?,
        token: row.try_get("token")?,
        holder: parse_holder(&holder)?,
        priority: row.try_get("priority")?,
        ttl_ms: row.try_get("ttl_ms")?,
        granted_at: String::new(),
        expires_at: String::new(),
        granted_at_ms: row.try_get("granted_at")?,
        expires_at_ms: row.try_get("expires_at")?,
    }
    .stamp())
}

pub(crate) fn parse_holder(text: &str) -> Result<Holder, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        what: "holder",
        message: error.to_string(),
    })
}

fn holder_json(holder: &Holder) -> String {
    serde_json::to_string(holder).unwrap_or_else(|_| "{}".to_owned())
}

/// What a grant pass leaves: the live holders, the queue still waiting (in
/// grant order) and the resource's fence.
#[derive(Debug)]
pub(crate) struct PassState {
    pub(crate) holders: Vec<Lease>,
    pub(crate) queue: Vec<Waiter>,
    pub(crate) fence: i64,
}

/// A waiter row.
#[derive(Debug, Clone)]
pub(crate) struct Waiter {
    pub(crate) id: String,
    pub(crate) mode: Mode,
    pub(crate) weight: i64,
    pub(crate) holder: Holder,
    pub(crate) priority: i64,
    pub(crate) ttl_ms: i64,
    pub(crate) enqueued_at: i64,
    pub(crate) deadline: i64,
    pub(crate) heartbeat_until: i64,
    pub(crate) operation: String,
    pub(crate) lease: Option<String>,
}

pub(crate) fn waiter_from_row(row: &AnyRow) -> Result<Waiter, StoreError> {
    let mode: String = row.try_get("mode")?;
    let holder: String = row.try_get("holder")?;
    Ok(Waiter {
        id: row.try_get("id")?,
        mode: Mode::parse(&mode)?,
        weight: row.try_get("weight")?,
        holder: parse_holder(&holder)?,
        priority: row.try_get("priority")?,
        ttl_ms: row.try_get("ttl_ms")?,
        enqueued_at: row.try_get("enqueued_at")?,
        deadline: row.try_get("deadline")?,
        heartbeat_until: row.try_get("heartbeat_until")?,
        operation: row.try_get("operation")?,
        lease: row.try_get("lease")?,
    })
}

pub(crate) fn resource_from_row(row: &AnyRow) -> Result<Resource, StoreError> {
    let id: String = row.try_get("id")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(Resource {
        id: ResourceId::parse(&id).map_err(|_| StoreError::Corrupt {
            what: "resource id",
            message: id.clone(),
        })?,
        kind: row.try_get("kind")?,
        identifier: row.try_get("identifier")?,
        capacity: row.try_get("capacity")?,
        metadata: serde_json::from_str(&metadata).unwrap_or(serde_json::Value::Null),
        fence: row.try_get("fence")?,
    })
}

/// A request id as the client sent it, in the one form ids are kept in.
fn parse_request_id(text: &str) -> Result<String, StoreError> {
    uuid::Uuid::parse_str(text)
        .map(|id| id.to_string())
        .map_err(|_| StoreError::invalid("request", "must be a UUID, the same on every try"))
}

/// Does a request of `mode`/`weight` fit beside `holders`?
fn fits(mode: Mode, weight: i64, capacity: i64, holders: &[Lease]) -> bool {
    match mode {
        Mode::Exclusive => holders.is_empty(),
        Mode::Shared => {
            let used: i64 = holders.iter().map(|l| l.weight).sum();
            holders.iter().all(|l| l.mode == Mode::Shared) && used + weight <= capacity
        }
    }
}

impl Store {
    /// Creates the resource if it does not exist (with `capacity`), and locks
    /// it for the rest of the transaction.
    pub(crate) async fn lock_resource(
        &self,
        transaction: &mut Transaction<'static, Any>,
        id: &ResourceId,
        capacity: Option<i64>,
        create: bool,
    ) -> Result<Resource, StoreError> {
        if create {
            sqlx::query(
                "INSERT INTO resources (id, kind, identifier, capacity, metadata, fence, created_at)
                 VALUES ($1, $2, $3, $4, '{}', 0, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id.to_string())
            .bind(id.kind())
            .bind(id.identifier())
            .bind(capacity.unwrap_or(1))
            .bind(now_ms())
            .execute(&mut **transaction)
            .await?;
        }
        let sql = format!(
            "SELECT id, kind, identifier, capacity, metadata, fence FROM resources WHERE id = $1{}",
            self.for_update()
        );
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut **transaction)
            .await?
            .ok_or_else(|| StoreError::UnknownResource(id.to_string()))?;
        resource_from_row(&row)
    }

    pub(crate) async fn holders_of(
        &self,
        transaction: &mut Transaction<'static, Any>,
        id: &ResourceId,
    ) -> Result<Vec<Lease>, StoreError> {
        let sql = format!("SELECT {LEASE_COLUMNS} FROM leases WHERE resource = $1 ORDER BY token");
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&mut **transaction)
            .await?
            .iter()
            .map(lease_from_row)
            .collect()
    }

    /// The grant pass (see the module docs). The resource must be locked.
    pub(crate) async fn grant_pass(
        &self,
        transaction: &mut Transaction<'static, Any>,
        resource: &Resource,
        effects: &mut Effects,
    ) -> Result<PassState, StoreError> {
        self.grant_pass_keeping(transaction, resource, effects, None)
            .await
    }

    /// The grant pass, never dropping `keep` as stale: a claim that does
    /// not wait has a deadline of now, and must still be considered.
    async fn grant_pass_keeping(
        &self,
        transaction: &mut Transaction<'static, Any>,
        resource: &Resource,
        effects: &mut Effects,
        keep: Option<&str>,
    ) -> Result<PassState, StoreError> {
        let now = now_ms();
        let id = resource.id.to_string();
        // One read of each table; the common case (nothing expired, nobody
        // stale) then writes nothing but the grants.
        let sql = format!("SELECT {LEASE_COLUMNS} FROM leases WHERE resource = $1 ORDER BY token");
        let (expired, mut holders): (Vec<Lease>, Vec<Lease>) = sqlx::query(&sql)
            .bind(&id)
            .fetch_all(&mut **transaction)
            .await?
            .iter()
            .map(lease_from_row)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .partition(|lease| lease.expires_at_ms <= now);
        // 1. Expired leases.
        if !expired.is_empty() {
            sqlx::query("DELETE FROM leases WHERE resource = $1 AND expires_at <= $2")
                .bind(&id)
                .bind(now)
                .execute(&mut **transaction)
                .await?;
        }
        for lease in &expired {
            let event = insert_event(
                transaction,
                "expire",
                Some(&id),
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "expired_at": lease.expires_at}),
            )
            .await?;
            effects.events.push(event);
        }
        // 2. Waiters past their deadline or heartbeat.
        let sql = format!("SELECT {WAITER_COLUMNS} FROM waiters WHERE resource = $1");
        let (stale, waiters): (Vec<Waiter>, Vec<Waiter>) = sqlx::query(&sql)
            .bind(&id)
            .fetch_all(&mut **transaction)
            .await?
            .iter()
            .map(waiter_from_row)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .partition(|w| {
                // A granted waiter keeps its row until its process collects
                // the lease; only a lost heartbeat makes it stale.
                let stale = match w.lease {
                    None => w.deadline <= now || w.heartbeat_until <= now,
                    Some(_) => w.heartbeat_until <= now,
                };
                Some(w.id.as_str()) != keep && stale
            });
        for waiter in &stale {
            sqlx::query("DELETE FROM waiters WHERE id = $1")
                .bind(&waiter.id)
                .execute(&mut **transaction)
                .await?;
            if let Some(lease_id) = &waiter.lease {
                // Granted to a process that went away before collecting it:
                // give it back now rather than after its whole TTL.
                sqlx::query("DELETE FROM leases WHERE id = $1")
                    .bind(lease_id)
                    .execute(&mut **transaction)
                    .await?;
                if let Some(index) = holders.iter().position(|l| &l.id == lease_id) {
                    let lease = holders.remove(index);
                    let event = insert_event(
                        transaction,
                        "abandoned",
                        Some(&id),
                        json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                               "reason": "granted to a waiter that went away before collecting it"}),
                    )
                    .await?;
                    effects.events.push(event);
                }
                crate::operations::finish_operation(
                    transaction,
                    &waiter.operation,
                    OperationStatus::Failed,
                    None,
                    Some("granted, but the waiter went away before collecting the lease"),
                )
                .await?;
            } else {
                let reason = if waiter.deadline <= now {
                    "wait timed out"
                } else {
                    "waiter went away"
                };
                crate::operations::finish_operation(
                    transaction,
                    &waiter.operation,
                    OperationStatus::Conflict,
                    None,
                    Some(reason),
                )
                .await?;
            }
        }
        // 3. Grant from the head of the queue while requests fit.
        let mut queue: Vec<Waiter> = waiters.into_iter().filter(|w| w.lease.is_none()).collect();
        self.order_queue(&mut queue, now);
        let mut fence = resource.fence;
        let mut granted = 0;
        for waiter in &queue {
            if !fits(waiter.mode, waiter.weight, resource.capacity, &holders) {
                break;
            }
            fence += 1;
            granted += 1;
            // The waiter's id is the lease's: a claim asked again by its
            // request id after the lease was collected finds it.
            let lease = self
                .insert_lease(
                    transaction,
                    waiter.id.clone(),
                    resource,
                    waiter.mode,
                    waiter.weight,
                    fence,
                    &waiter.holder,
                    waiter.priority,
                    waiter.ttl_ms,
                    now,
                )
                .await?;
            sqlx::query("UPDATE waiters SET lease = $1 WHERE id = $2")
                .bind(&lease.id)
                .bind(&waiter.id)
                .execute(&mut **transaction)
                .await?;
            let event = insert_event(
                transaction,
                "grant",
                Some(&id),
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "mode": lease.mode, "weight": lease.weight,
                       "waited_ms": now - waiter.enqueued_at}),
            )
            .await?;
            effects.events.push(event);
            holders.push(lease.clone());
            effects.granted.push(Grant {
                waiter: waiter.id.clone(),
                lease,
            });
        }
        if fence != resource.fence {
            sqlx::query("UPDATE resources SET fence = $1 WHERE id = $2")
                .bind(fence)
                .bind(&id)
                .execute(&mut **transaction)
                .await?;
        }
        queue.drain(..granted);
        Ok(PassState {
            holders,
            queue,
            fence,
        })
    }

    /// Sorts a queue by effective priority (priority plus aging), then
    /// arrival.
    pub(crate) fn order_queue(&self, queue: &mut [Waiter], now: i64) {
        queue.sort_by(|a, b| {
            let pa = self
                .policy
                .effective_priority(a.priority, now - a.enqueued_at);
            let pb = self
                .policy
                .effective_priority(b.priority, now - b.enqueued_at);
            pb.cmp(&pa)
                .then(a.enqueued_at.cmp(&b.enqueued_at))
                .then(a.id.cmp(&b.id))
        });
    }

    #[expect(clippy::too_many_arguments, reason = "one row's columns")]
    async fn insert_lease(
        &self,
        transaction: &mut Transaction<'static, Any>,
        id: String,
        resource: &Resource,
        mode: Mode,
        weight: i64,
        token: i64,
        holder: &Holder,
        priority: i64,
        ttl_ms: i64,
        now: i64,
    ) -> Result<Lease, StoreError> {
        let lease = Lease {
            id,
            resource: resource.id.clone(),
            mode,
            weight,
            token,
            holder: holder.clone(),
            priority,
            ttl_ms,
            granted_at: String::new(),
            expires_at: String::new(),
            granted_at_ms: now,
            expires_at_ms: now.saturating_add(ttl_ms),
        }
        .stamp();
        sqlx::query(&format!(
            "INSERT INTO leases ({LEASE_COLUMNS}, renewed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9)"
        ))
        .bind(&lease.id)
        .bind(resource.id.to_string())
        .bind(lease.mode.as_str())
        .bind(lease.weight)
        .bind(lease.token)
        .bind(holder_json(&lease.holder))
        .bind(lease.priority)
        .bind(lease.ttl_ms)
        .bind(lease.granted_at_ms)
        .bind(lease.expires_at_ms)
        .execute(&mut **transaction)
        .await?;
        Ok(lease)
    }

    /// A claim asked again by its request id: its place in the queue, kept
    /// alive again (granted meanwhile or not: the waiter collects it), or
    /// the lease it was granted when the answer was lost. `None` when the
    /// server holds neither (never seen, or its place lapsed): a new claim.
    async fn reattach(
        &self,
        transaction: &mut Transaction<'static, Any>,
        request: &AcquireRequest,
        id: &str,
        state: &PassState,
    ) -> Result<Option<Attempt>, StoreError> {
        let same = |resource: &ResourceId, holder: &Holder| {
            if resource == &request.resource && holder == &request.holder {
                Ok(())
            } else {
                Err(StoreError::invalid(
                    "request",
                    "names another claim: give each claim a request id of its own",
                ))
            }
        };
        let sql = format!("SELECT {WAITER_COLUMNS} FROM waiters WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut **transaction)
            .await?;
        if let Some(row) = row {
            let waiter = waiter_from_row(&row)?;
            let resource: String = row.try_get("resource")?;
            same(&ResourceId::parse(&resource)?, &waiter.holder)?;
            sqlx::query("UPDATE waiters SET heartbeat_until = $1 WHERE id = $2")
                .bind(now_ms() + WAITER_HEARTBEAT_MS)
                .bind(id)
                .execute(&mut **transaction)
                .await?;
            let position = state
                .queue
                .iter()
                .position(|w| w.id == id)
                .map_or(0, |i| i + 1);
            return Ok(Some(Attempt::Queued {
                waiter: waiter.id,
                position,
                deadline_ms: waiter.deadline,
                holders: state.holders.clone(),
            }));
        }
        if let Some(lease) = self.lease_in(transaction, id).await? {
            same(&lease.resource, &lease.holder)?;
            return Ok(Some(Attempt::Granted(Box::new(lease))));
        }
        Ok(None)
    }

    /// Asks for a lease: granted at once, queued, or refused when the
    /// request does not wait.
    pub async fn try_acquire(
        &self,
        request: &AcquireRequest,
    ) -> Result<Change<Attempt>, StoreError> {
        let ttl = self.policy.ttl(request.ttl_ms)?;
        let wait = self.policy.wait(request.wait_ms)?;
        let priority = self
            .policy
            .priority(request.priority, request.class.as_deref())?;
        if request.weight < 1 {
            return Err(StoreError::invalid("weight", "must be at least 1"));
        }
        if let Some(capacity) = request.capacity
            && !(1..=1_000_000).contains(&capacity)
        {
            return Err(StoreError::invalid("capacity", "must be 1..=1000000"));
        }
        let mut transaction = self.begin().await?;
        let mut resource = self
            .lock_resource(&mut transaction, &request.resource, request.capacity, true)
            .await?;
        if request.weight > resource.capacity {
            return Err(StoreError::invalid(
                "weight",
                format!(
                    "{} is more than `{}`'s capacity {}",
                    request.weight, resource.id, resource.capacity
                ),
            ));
        }
        let request = &AcquireRequest {
            request: request
                .request
                .as_deref()
                .map(parse_request_id)
                .transpose()?,
            ..request.clone()
        };
        if request.mode == Mode::Exclusive && request.weight != 1 {
            return Err(StoreError::invalid(
                "weight",
                "an exclusive lease holds the whole resource; weight is for shared leases",
            ));
        }
        let now = now_ms();
        let resource_name = resource.id.to_string();
        let mut effects = Effects::default();
        // Reap and serve the queue first: a claim never passes a waiter.
        let state = self
            .grant_pass(&mut transaction, &resource, &mut effects)
            .await?;
        resource.fence = state.fence;
        if let Some(id) = &request.request
            && let Some(attempt) = self.reattach(&mut transaction, request, id, &state).await?
        {
            self.notify(&mut transaction, &effects).await?;
            transaction.commit().await?;
            return Ok(effects.into_change(attempt));
        }
        let attempt = if state.queue.is_empty()
            && fits(
                request.mode,
                request.weight,
                resource.capacity,
                &state.holders,
            ) {
            // The fast path: nobody waits and it fits.
            let token = resource.fence + 1;
            sqlx::query("UPDATE resources SET fence = $1 WHERE id = $2")
                .bind(token)
                .bind(&resource_name)
                .execute(&mut **transaction)
                .await?;
            let lease = self
                .insert_lease(
                    &mut transaction,
                    request
                        .request
                        .clone()
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    &resource,
                    request.mode,
                    request.weight,
                    token,
                    &request.holder,
                    priority,
                    ttl,
                    now,
                )
                .await?;
            insert_finished_operation(
                &mut transaction,
                "claim",
                OperationStatus::Succeeded,
                Some(&resource_name),
                Some(&request.holder),
                now,
                Some(json!({"lease": lease.id, "token": lease.token, "waited_ms": 0})),
                None,
            )
            .await?;
            let event = insert_event(
                &mut transaction,
                "grant",
                Some(&resource_name),
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "mode": lease.mode, "weight": lease.weight, "waited_ms": 0}),
            )
            .await?;
            effects.events.push(event);
            Attempt::Granted(Box::new(lease))
        } else if wait == 0 {
            insert_finished_operation(
                &mut transaction,
                "claim",
                OperationStatus::Conflict,
                Some(&resource_name),
                Some(&request.holder),
                now,
                None,
                Some("taken"),
            )
            .await?;
            let event = insert_event(
                &mut transaction,
                "conflict",
                Some(&resource_name),
                json!({"holder": request.holder,
                       "held_by": state.holders.iter().map(|l| &l.holder).collect::<Vec<_>>()}),
            )
            .await?;
            effects.events.push(event);
            Attempt::Conflict {
                holders: state.holders,
                queue_length: state.queue.len(),
            }
        } else {
            // Queue, and run the pass again: a higher priority that fits is
            // granted ahead of the waiters already there.
            let waiter = request
                .request
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let operation = insert_operation(
                &mut transaction,
                "claim",
                Some(&resource_name),
                Some(&request.holder),
                now,
            )
            .await?;
            let deadline = now.saturating_add(wait);
            sqlx::query(&format!(
                "INSERT INTO waiters ({WAITER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)"
            ))
            .bind(&waiter)
            .bind(&resource_name)
            .bind(request.mode.as_str())
            .bind(request.weight)
            .bind(holder_json(&request.holder))
            .bind(priority)
            .bind(ttl)
            .bind(now)
            .bind(deadline)
            .bind(now + WAITER_HEARTBEAT_MS)
            .bind(&operation)
            .execute(&mut **transaction)
            .await?;
            let state = self
                .grant_pass_keeping(&mut transaction, &resource, &mut effects, Some(&waiter))
                .await?;
            let mine = effects
                .granted
                .iter()
                .position(|grant| grant.waiter == waiter);
            if let Some(index) = mine {
                let grant = effects.granted.remove(index);
                sqlx::query("DELETE FROM waiters WHERE id = $1")
                    .bind(&waiter)
                    .execute(&mut **transaction)
                    .await?;
                crate::operations::finish_operation(
                    &mut transaction,
                    &operation,
                    OperationStatus::Succeeded,
                    Some(json!({"lease": grant.lease.id, "token": grant.lease.token,
                                "waited_ms": 0})),
                    None,
                )
                .await?;
                Attempt::Granted(Box::new(grant.lease))
            } else {
                let position = state
                    .queue
                    .iter()
                    .position(|w| w.id == waiter)
                    .map_or(state.queue.len(), |i| i + 1);
                let event = insert_event(
                    &mut transaction,
                    "queued",
                    Some(&resource_name),
                    json!({"waiter": waiter, "holder": request.holder, "position": position,
                           "priority": priority}),
                )
                .await?;
                effects.events.push(event);
                Attempt::Queued {
                    waiter,
                    position,
                    deadline_ms: deadline,
                    holders: state.holders,
                }
            }
        };
        self.notify(&mut transaction, &effects).await?;
        transaction.commit().await?;
        Ok(effects.into_change(attempt))
    }
}
