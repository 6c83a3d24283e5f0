//! The engine's decisions, in memory: the grant pass, a claim, a release.

use serde_json::json;

use super::sql::json_text;
use super::{Batch, Claim, OperationRow, Queue};
use crate::error::StoreError;
use crate::leases::{Attempt, Grant, Released, WAITER_HEARTBEAT_MS, Waiter, fits};
use crate::store::Store;
use crate::types::{AcquireRequest, Lease, OperationStatus};

impl Store {
    /// The grant pass (see `leases.rs`) on one slot, never dropping `keep`
    /// as stale (a claim that does not wait has a deadline of now, and must
    /// still be considered). Returns the queue left waiting.
    pub(super) fn pass(
        &self,
        batch: &mut Batch,
        resource: &str,
        keep: Option<&str>,
        granted: &mut Vec<Grant>,
    ) -> Queue {
        let now = batch.now;
        let Some(slot) = batch.slots.get_mut(resource) else {
            return Vec::new();
        };
        let journal = &mut batch.journal;
        // 1. Expired leases.
        let (expired, live): (Vec<Lease>, Vec<Lease>) = std::mem::take(&mut slot.leases)
            .into_iter()
            .partition(|lease| lease.expires_at_ms <= now);
        slot.leases = live;
        for lease in &expired {
            journal.event(
                now,
                "expire",
                resource,
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "expired_at": lease.expires_at}),
            );
        }
        // 2. Waiters past their deadline or heartbeat.
        let (stale, waiters): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut slot.waiters)
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
        slot.waiters = waiters;
        for waiter in stale {
            if let Some(lease_id) = &waiter.lease {
                // Granted to a process that went away before collecting it:
                // give it back now rather than after its whole TTL.
                if let Some(index) = slot.leases.iter().position(|l| &l.id == lease_id) {
                    let lease = slot.leases.remove(index);
                    journal.event(
                        now,
                        "abandoned",
                        resource,
                        json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                               "reason": "granted to a waiter that went away before collecting it"}),
                    );
                }
                journal.finish(
                    &waiter.operation,
                    OperationStatus::Failed,
                    now,
                    None,
                    Some("granted, but the waiter went away before collecting the lease"),
                );
            } else {
                let reason = if waiter.deadline <= now {
                    "wait timed out"
                } else {
                    "waiter went away"
                };
                journal.finish(
                    &waiter.operation,
                    OperationStatus::Conflict,
                    now,
                    None,
                    Some(reason),
                );
            }
        }
        // 3. Grant from the head of the queue while requests fit.
        let mut queue: Vec<usize> = (0..slot.waiters.len())
            .filter(|&i| slot.waiters[i].lease.is_none())
            .collect();
        queue.sort_by(|&a, &b| self.queue_order(&slot.waiters[a], &slot.waiters[b], now));
        let mut granted_here = 0;
        let mut collected = Vec::new();
        for &index in &queue {
            let waiter = &slot.waiters[index];
            if !fits(
                waiter.mode,
                waiter.weight,
                slot.resource.capacity,
                &slot.leases,
            ) {
                break;
            }
            slot.resource.fence += 1;
            granted_here += 1;
            // The waiter's id is the lease's: a claim asked again by its
            // request id after the lease was collected finds it.
            let lease = Lease {
                id: waiter.id.clone(),
                resource: slot.resource.id.clone(),
                mode: waiter.mode,
                weight: waiter.weight,
                token: slot.resource.fence,
                holder: waiter.holder.clone(),
                priority: waiter.priority,
                ttl_ms: waiter.ttl_ms,
                granted_at: String::new(),
                expires_at: String::new(),
                granted_at_ms: now,
                expires_at_ms: now.saturating_add(waiter.ttl_ms),
            }
            .stamp();
            journal.event(
                now,
                "grant",
                resource,
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "mode": lease.mode, "weight": lease.weight,
                       "waited_ms": now - waiter.enqueued_at}),
            );
            // A wait of this process takes the lease in memory once this
            // commits: collected here, as its own collect would (see
            // `waits.rs`). The claim being decided is not waiting yet.
            let handover = if batch.handover && Some(waiter.id.as_str()) != keep {
                self.waits.promise(&waiter.id)
            } else {
                None
            };
            if let Some(handover) = &handover {
                batch.promised.push(handover.clone());
                journal.finish(
                    &waiter.operation,
                    OperationStatus::Succeeded,
                    now,
                    Some(json!({"lease": lease.id, "token": lease.token,
                                "waited_ms": now - waiter.enqueued_at})),
                    None,
                );
                collected.push(index);
            }
            slot.waiters[index].lease = Some(lease.id.clone());
            granted.push(Grant {
                waiter: lease.id.clone(),
                lease: lease.clone(),
                handover,
            });
            slot.leases.push(lease);
        }
        let left = queue[granted_here..]
            .iter()
            .map(|&i| slot.waiters[i].id.clone())
            .collect();
        // Their rows go: `write` deletes what is no longer in the slot.
        let mut index = 0;
        slot.waiters.retain(|_| {
            index += 1;
            !collected.contains(&(index - 1))
        });
        left
    }

    /// Rejects a request id that names a claim on another resource or by
    /// another holder.
    pub(super) fn check_request_id(
        batch: &Batch,
        claim: &AcquireRequest,
        id: &str,
    ) -> Result<(), StoreError> {
        let mismatch = || {
            Err(StoreError::invalid(
                "request",
                "names another claim: give each claim a request id of its own",
            ))
        };
        let resource = claim.resource.to_string();
        for (name, slot) in &batch.slots {
            for waiter in slot.waiters.iter().filter(|w| w.id == id) {
                if name != &resource || waiter.holder != claim.holder {
                    return mismatch();
                }
            }
            for lease in slot.leases.iter().filter(|l| l.id == id) {
                if name != &resource || lease.holder != claim.holder {
                    return mismatch();
                }
            }
        }
        if batch.strays.waiters.iter().any(|(_, w)| w.id == id)
            || batch.strays.leases.iter().any(|l| l.id == id)
        {
            return mismatch();
        }
        Ok(())
    }

    /// A claim (see `leases.rs`): asked again by its request id, queued
    /// behind older waiters, granted, or refused.
    pub(super) fn decide_acquire(
        &self,
        batch: &mut Batch,
        claim: &Claim,
        granted: &mut Vec<Grant>,
    ) -> Result<Attempt, StoreError> {
        let request = &claim.request;
        // Before anything changes: an error here leaves nothing done.
        let holder = Some(json_text(&request.holder)?);
        let name = request.resource.to_string();
        let capacity = match batch.slots.get(&name) {
            Some(slot) => slot.resource.capacity,
            // Not created: the claim would not fit the capacity it gives.
            None => request.capacity.unwrap_or(1),
        };
        if request.weight > capacity {
            return Err(StoreError::invalid(
                "weight",
                format!(
                    "{} is more than `{}`'s capacity {}",
                    request.weight, request.resource, capacity
                ),
            ));
        }
        if let Some(id) = &request.request {
            Self::check_request_id(batch, request, id)?;
        }
        let now = batch.now;
        // Reap and serve the queue first: a claim never passes a waiter.
        let queue = self.pass(batch, &name, None, granted);
        let Some(slot) = batch.slots.get_mut(&name) else {
            return Err(StoreError::UnknownResource(name));
        };
        if let Some(id) = &request.request {
            if let Some(waiter) = slot.waiters.iter_mut().find(|w| &w.id == id) {
                waiter.heartbeat_until = now + WAITER_HEARTBEAT_MS;
                let position = queue.iter().position(|w| w == id).map_or(0, |i| i + 1);
                return Ok(Attempt::Queued {
                    waiter: waiter.id.clone(),
                    position,
                    deadline_ms: waiter.deadline,
                    holders: slot.leases.clone(),
                });
            }
            if let Some(lease) = slot.leases.iter().find(|l| &l.id == id) {
                return Ok(Attempt::Granted(Box::new(lease.clone())));
            }
        }
        let journal = &mut batch.journal;
        if queue.is_empty() && fits(request.mode, request.weight, capacity, &slot.leases) {
            // The fast path: nobody waits and it fits.
            slot.resource.fence += 1;
            let lease = Lease {
                id: request.request.clone().unwrap_or_else(crate::types::new_id),
                resource: request.resource.clone(),
                mode: request.mode,
                weight: request.weight,
                token: slot.resource.fence,
                holder: request.holder.clone(),
                priority: claim.priority,
                ttl_ms: claim.ttl,
                granted_at: String::new(),
                expires_at: String::new(),
                granted_at_ms: now,
                expires_at_ms: now.saturating_add(claim.ttl),
            }
            .stamp();
            journal.operations.push(OperationRow {
                result: Some(json!({"lease": lease.id, "token": lease.token, "waited_ms": 0})),
                ..OperationRow::settled(
                    "claim",
                    OperationStatus::Succeeded,
                    name.clone(),
                    holder,
                    now,
                )
            });
            journal.event(
                now,
                "grant",
                &name,
                json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                       "mode": lease.mode, "weight": lease.weight, "waited_ms": 0}),
            );
            slot.leases.push(lease.clone());
            return Ok(Attempt::Granted(Box::new(lease)));
        }
        if claim.wait == 0 {
            journal.operations.push(OperationRow {
                error: Some("taken".to_owned()),
                ..OperationRow::settled(
                    "claim",
                    OperationStatus::Conflict,
                    name.clone(),
                    holder,
                    now,
                )
            });
            journal.event(
                now,
                "conflict",
                &name,
                json!({"holder": request.holder,
                       "held_by": slot.leases.iter().map(|l| &l.holder).collect::<Vec<_>>()}),
            );
            return Ok(Attempt::Conflict {
                holders: slot.leases.clone(),
                queue_length: queue.len(),
            });
        }
        // Queue, and run the pass again: a higher priority that fits is
        // granted ahead of the waiters already there.
        let waiter = request.request.clone().unwrap_or_else(crate::types::new_id);
        let operation = crate::types::new_id();
        journal.operations.push(OperationRow {
            id: operation.clone(),
            kind: "claim",
            status: OperationStatus::Active,
            resource: name.clone(),
            holder,
            started_at: now,
            finished_at: None,
            result: None,
            error: None,
        });
        let deadline = now.saturating_add(claim.wait);
        slot.waiters.push(Waiter {
            id: waiter.clone(),
            mode: request.mode,
            weight: request.weight,
            holder: request.holder.clone(),
            priority: claim.priority,
            ttl_ms: claim.ttl,
            enqueued_at: now,
            deadline,
            heartbeat_until: now + WAITER_HEARTBEAT_MS,
            operation: operation.clone(),
            lease: None,
        });
        let mut mine = Vec::new();
        let queue = self.pass(batch, &name, Some(&waiter), &mut mine);
        let journal = &mut batch.journal;
        let Some(slot) = batch.slots.get_mut(&name) else {
            return Err(StoreError::UnknownResource(name));
        };
        let mut attempt = None;
        for grant in mine {
            if grant.waiter != waiter {
                granted.push(grant);
                continue;
            }
            slot.waiters.retain(|w| w.id != waiter);
            journal.finish(
                &operation,
                OperationStatus::Succeeded,
                now,
                Some(json!({"lease": grant.lease.id, "token": grant.lease.token,
                            "waited_ms": 0})),
                None,
            );
            attempt = Some(Attempt::Granted(Box::new(grant.lease)));
        }
        if let Some(attempt) = attempt {
            return Ok(attempt);
        }
        let position = queue
            .iter()
            .position(|w| w == &waiter)
            .map_or(queue.len(), |i| i + 1);
        journal.event(
            now,
            "queued",
            &name,
            json!({"waiter": waiter, "holder": request.holder, "position": position,
                   "priority": claim.priority}),
        );
        Ok(Attempt::Queued {
            waiter,
            position,
            deadline_ms: deadline,
            holders: slot.leases.clone(),
        })
    }

    /// A release: the lease goes, the queue is served. An expired lease is
    /// reaped instead, and its error kept (`Err(_, true)`: the reaping is
    /// written all the same).
    pub(super) fn decide_release(
        &self,
        batch: &mut Batch,
        id: &str,
        granted: &mut Vec<Grant>,
    ) -> Result<Released, (StoreError, bool)> {
        let now = batch.now;
        let found = batch
            .slots
            .iter()
            .find_map(|(name, slot)| slot.leases.iter().find(|l| l.id == id).map(|l| (name, l)));
        let Some((name, lease)) = found else {
            return Err((StoreError::UnknownLease(id.to_owned()), false));
        };
        let (name, lease) = (name.clone(), lease.clone());
        if lease.expires_at_ms <= now {
            // Its grants are written but not answered (the answer is an
            // error): waiters collect them from their rows.
            let handover = std::mem::replace(&mut batch.handover, false);
            self.pass(batch, &name, None, granted);
            batch.handover = handover;
            return Err((
                StoreError::LeaseExpired {
                    id: lease.id,
                    resource: name,
                    token: lease.token,
                },
                true,
            ));
        }
        // Before anything changes: an error here leaves nothing done.
        let holder = json_text(&lease.holder).map_err(|error| (error, false))?;
        if let Some(slot) = batch.slots.get_mut(&name) {
            slot.leases.retain(|l| l.id != id);
        }
        let result = json!({"lease": lease.id, "token": lease.token,
                            "held_ms": now - lease.granted_at_ms});
        batch.journal.operations.push(OperationRow {
            result: Some(result),
            ..OperationRow::settled(
                "release",
                OperationStatus::Succeeded,
                name.clone(),
                Some(holder),
                now,
            )
        });
        batch.journal.event(
            now,
            "release",
            &name,
            json!({"lease": lease.id, "token": lease.token, "holder": lease.holder,
                   "held_ms": now - lease.granted_at_ms}),
        );
        batch.journal.released.push(lease.clone());
        self.pass(batch, &name, None, granted);
        Ok(Released { lease })
    }

    /// The order of the queue: effective priority (priority plus aging),
    /// then arrival.
    pub(crate) fn queue_order(&self, a: &Waiter, b: &Waiter, now: i64) -> std::cmp::Ordering {
        let pa = self
            .policy
            .effective_priority(a.priority, now - a.enqueued_at);
        let pb = self
            .policy
            .effective_priority(b.priority, now - b.enqueued_at);
        pb.cmp(&pa)
            .then(a.enqueued_at.cmp(&b.enqueued_at))
            .then(a.id.cmp(&b.id))
    }
}
