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
//! The pass, claims and releases are decided in memory by the engine
//! (`engine/`), many to a transaction; the rest of a lease's life (a
//! granted waiter collecting its lease, renewing, cancelling a wait,
//! force-releasing) is in `holding.rs`.
//!
//! A claim is itself a waiter: it joins the queue and runs the pass, so it
//! never jumps ahead of an older waiter of equal priority. Each grant takes
//! the resource's fence plus one as its token, so tokens strictly increase
//! per resource, across restarts and replicas: the row lock serialises them.
//! A granted waiter keeps its row, marked with the lease, until the process
//! waiting on it collects the lease; the grants a pass makes are returned so
//! the caller can wake those processes.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::engine::{Claim, Done, Op};
use crate::error::StoreError;
use crate::store::Store;
use crate::time::now_ms;
use crate::types::{AcquireRequest, Event, Holder, Lease, Mode, Resource, ResourceId};

/// How long a waiter's process may go without a heartbeat before the queue
/// forgets it.
pub(crate) const WAITER_HEARTBEAT_MS: i64 = 30_000;

/// A grant made while running a pass: the waiter to wake and its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub waiter: String,
    pub lease: Lease,
    /// Collected by the transaction that granted it, for a wait of this
    /// process to take in memory; `None`: the waiter's row holds the lease
    /// until its process collects it.
    pub handover: Option<crate::waits::Handover>,
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
pub(crate) fn fits(mode: Mode, weight: i64, capacity: i64, holders: &[Lease]) -> bool {
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

    /// Sorts a queue by effective priority (priority plus aging), then
    /// arrival.
    pub(crate) fn order_queue(&self, queue: &mut [Waiter], now: i64) {
        queue.sort_by(|a, b| self.queue_order(a, b, now));
    }

    /// Asks for a lease: granted at once, queued, or refused when the
    /// request does not wait. Claims that arrive together share one
    /// transaction (see `engine/`).
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
        if request.mode == Mode::Exclusive && request.weight != 1 {
            return Err(StoreError::invalid(
                "weight",
                "an exclusive lease holds the whole resource; weight is for shared leases",
            ));
        }
        let request = AcquireRequest {
            request: request
                .request
                .as_deref()
                .map(parse_request_id)
                .transpose()?,
            ..request.clone()
        };
        let claim = Claim {
            request,
            ttl,
            wait,
            priority,
        };
        let change = self.submit(Op::Acquire(Box::new(claim))).await?;
        match change.value {
            Done::Acquired(attempt) => Ok(Change {
                value: attempt,
                granted: change.granted,
                events: change.events,
            }),
            Done::Released(_) => Err(StoreError::Corrupt {
                what: "batch",
                message: "a claim was answered as a release".to_owned(),
            }),
        }
    }
}
