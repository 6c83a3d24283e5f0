//! A running coordinator: the store plus waiting without polling, reaping on
//! time, alerts, and the event stream.
//!
//! How waiting works: a claim that queues gets a waiter id and attaches a
//! wait under that id (`waits.rs`). Whoever grants it (a release, an
//! expiry, a cancelled waiter ahead of it) wakes it. A claim and release
//! batch of this process hands the lease to a wait in memory, collected by
//! the very transaction that granted it, unless the claim has a request id
//! (`waits.rs`); otherwise the waiter collects its lease from its row, woken
//! here or, for another replica's grant, through PostgreSQL's `NOTIFY`,
//! which every replica hears. A slow tick is the
//! safety net for a lost notification and keeps the waiter's heartbeat; in
//! local mode (several CLI processes on one SQLite file, no server) the tick
//! is short and also reaps, as no other process would wake it.
//!
//! A waiter whose request is dropped (the HTTP client went away, the CLI got
//! a signal) leaves the queue: a guard cancels it, and gives back a lease
//! granted in the meantime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, watch};

use crate::waits::{Handed, WaitSlot};

mod listener;
mod wait_guard;

use wait_guard::{REATTACH_GRACE_MS, WaitGuard};

use crate::Alert;
use crate::alerts::AlertThresholds;
use crate::error::StoreError;
use crate::leases::{Attempt, Change, ForceReleased, Released, WaitState};
use crate::metrics::Metrics;
use crate::store::{Backend, Store};
use crate::time::now_ms;
use crate::types::{AcquireRequest, Event, Lease, OperationStatus, ResourceId};

/// How a coordinator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatorMode {
    /// `weft serve`: background reaper and alerts; waiters are woken.
    Server,
    /// The CLI on a local store: no background tasks; waiters tick fast.
    Local,
}

/// Why a claim did not get its lease.
#[derive(Debug, thiserror::Error)]
pub enum AcquireError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("`{resource}` is held by {}", describe(holders))]
    Conflict {
        resource: ResourceId,
        holders: Vec<Lease>,
        queue_length: usize,
    },
    #[error("the server is shutting down; `{resource}` was not granted, try again")]
    ShuttingDown { resource: ResourceId },
    #[error(
        "timed out after {waited_ms} ms waiting for `{resource}`, held by {}",
        describe(holders)
    )]
    Timeout {
        resource: ResourceId,
        holders: Vec<Lease>,
        waited_ms: i64,
        position: Option<usize>,
    },
}

fn describe(holders: &[Lease]) -> String {
    if holders.is_empty() {
        return "nobody (the queue ahead was not granted in time)".to_owned();
    }
    holders
        .iter()
        .map(|l| format!("{} (token {}, expires {})", l.holder, l.token, l.expires_at))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Counters for health and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CoordinatorStats {
    pub local_waiters: usize,
    pub subscribers: usize,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    mode: CoordinatorMode,
    woken_at: Mutex<HashMap<String, Instant>>,
    events: broadcast::Sender<Event>,
    reaper: Notify,
    /// Wakes the SQLite event tail (server mode) after a local commit.
    tail: Notify,
    /// Events this server recorded that its tail has not published yet:
    /// their waiters were woken already, precisely.
    local_events: Mutex<std::collections::BTreeMap<i64, Event>>,
    /// When the reaper plans to wake; an earlier expiry wakes it sooner.
    next_reap_ms: AtomicI64,
    thresholds: AlertThresholds,
    metrics: Metrics,
    shutdown: watch::Sender<bool>,
}

/// How often a SQLite server looks for events other processes wrote.
const TAIL_PERIOD: Duration = Duration::from_millis(250);

/// The store with waiting, reaping and events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

impl Coordinator {
    /// A coordinator over `store`. In server mode it spawns the reaper, the
    /// alert evaluator and (on PostgreSQL) the listener; they stop with
    /// [`Coordinator::shutdown`].
    pub async fn start(
        store: Store,
        mode: CoordinatorMode,
        thresholds: AlertThresholds,
    ) -> Result<Coordinator, StoreError> {
        let (events, _) = broadcast::channel(1024);
        let (shutdown, _) = watch::channel(false);
        let coordinator = Coordinator {
            inner: Arc::new(Inner {
                store,
                mode,
                woken_at: Mutex::new(HashMap::new()),
                events,
                reaper: Notify::new(),
                tail: Notify::new(),
                local_events: Mutex::new(std::collections::BTreeMap::new()),
                next_reap_ms: AtomicI64::new(i64::MAX),
                thresholds,
                metrics: Metrics::default(),
                shutdown,
            }),
        };
        if mode == CoordinatorMode::Server {
            if coordinator.inner.store.backend() == Backend::Postgres {
                let own_events = &coordinator.inner.store.own_events;
                own_events.listen();
                if let Err(error) = coordinator.spawn_listener().await {
                    own_events.stop();
                    return Err(error);
                }
            } else {
                let last_event = coordinator.inner.store.last_event_id().await?;
                tokio::spawn(coordinator.clone().tail_sqlite(last_event));
            }
            tokio::spawn(coordinator.clone().reaper());
            tokio::spawn(coordinator.clone().alert_loop());
        }
        Ok(coordinator)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn thresholds(&self) -> &AlertThresholds {
        &self.inner.thresholds
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// How many receivers the event stream has (SSE clients, in `weft serve`).
    pub fn subscribers(&self) -> usize {
        self.inner.events.receiver_count()
    }

    pub fn stats(&self) -> CoordinatorStats {
        CoordinatorStats {
            local_waiters: self.inner.store.waits.len(),
            subscribers: self.inner.events.receiver_count(),
        }
    }

    /// Stops the background tasks.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Wakes waiters and publishes events after a change committed.
    pub fn apply<T>(&self, change: Change<T>) -> T {
        for grant in change.granted {
            Metrics::add(&self.inner.metrics.grants, 1);
            self.schedule(grant.lease.expires_at_ms());
            // A lease handed over was, by the batch that granted it.
            if grant.handover.is_none() {
                self.wake(&grant.waiter);
            }
        }
        self.tally(&change.events);
        // On PostgreSQL every replica (this one included) publishes events
        // from the NOTIFY it hears, so each is published once everywhere.
        // A SQLite server publishes through its tail, which also sees what
        // other processes wrote to the same file, all in id order.
        if self.inner.store.backend() == Backend::Sqlite && !change.events.is_empty() {
            if self.inner.mode == CoordinatorMode::Server {
                if let Ok(mut local) = self.inner.local_events.lock() {
                    local.extend(change.events.into_iter().map(|e| (e.id, e)));
                }
                self.inner.tail.notify_one();
            } else {
                for event in change.events {
                    let _ = self.inner.events.send(event);
                }
            }
        }
        change.value
    }

    /// Counts the events the metrics count.
    fn tally(&self, events: &[Event]) {
        for event in events {
            match event.kind.as_str() {
                "expire" => Metrics::add(&self.inner.metrics.expiries, 1),
                "conflict" => Metrics::add(&self.inner.metrics.conflicts, 1),
                "alert" => Metrics::add(&self.inner.metrics.alerts_fired, 1),
                _ => {}
            }
        }
    }

    /// Makes sure the reaper wakes by `at_ms`.
    fn schedule(&self, at_ms: i64) {
        if at_ms < self.inner.next_reap_ms.load(Ordering::Relaxed) {
            self.inner.reaper.notify_one();
        }
    }

    fn wake(&self, waiter: &str) {
        if let Some(slot) = self.inner.store.waits.get(waiter) {
            self.woken(waiter);
            slot.notify.notify_one();
        }
    }

    /// Notes when `waiter` was woken, for the wake latency.
    fn woken(&self, waiter: &str) {
        if let Ok(mut woken) = self.inner.woken_at.lock() {
            woken.entry(waiter.to_owned()).or_insert_with(Instant::now);
        }
    }

    /// Notes when a lease was handed to `waiter`'s wait, for the wake
    /// latency.
    fn handed(&self, slot: &WaitSlot, waiter: &str) {
        if let Some(handed_at) = slot.handed_at()
            && let Ok(mut woken) = self.inner.woken_at.lock()
        {
            woken.insert(waiter.to_owned(), handed_at);
        }
    }

    fn wake_all(&self) {
        for slot in self.inner.store.waits.all() {
            slot.notify.notify_one();
        }
    }

    /// Claims a lease, waiting up to the request's limit.
    pub async fn acquire(&self, request: &AcquireRequest) -> Result<Lease, AcquireError> {
        let started = Instant::now();
        let change = self.inner.store.try_acquire(request).await?;
        let attempt = self.apply(change);
        let result = match attempt {
            Attempt::Granted(lease) => {
                self.schedule(lease.expires_at_ms());
                Ok(*lease)
            }
            Attempt::Conflict {
                holders,
                queue_length,
            } => Err(AcquireError::Conflict {
                resource: request.resource.clone(),
                holders,
                queue_length,
            }),
            Attempt::Queued {
                waiter,
                deadline_ms,
                ..
            } => self.wait(request, waiter, deadline_ms, started).await,
        };
        let status = match &result {
            Ok(_) => OperationStatus::Succeeded,
            Err(AcquireError::Store(_)) => OperationStatus::Failed,
            Err(_) => OperationStatus::Conflict,
        };
        self.inner
            .metrics
            .operation("claim", status.as_str(), started.elapsed().as_secs_f64());
        if let Err(AcquireError::Timeout { .. }) = &result {
            Metrics::add(&self.inner.metrics.timeouts, 1);
        }
        result
    }

    async fn wait(
        &self,
        request: &AcquireRequest,
        waiter: String,
        deadline_ms: i64,
        started: Instant,
    ) -> Result<Lease, AcquireError> {
        let keep = request.request.is_some();
        let slot = self.inner.store.waits.attach(&waiter, keep);
        let mut guard = WaitGuard {
            coordinator: self.clone(),
            waiter: waiter.clone(),
            slot: slot.clone(),
            armed: true,
            keep,
        };
        let tick = match self.inner.mode {
            CoordinatorMode::Server => Duration::from_secs(2),
            CoordinatorMode::Local => Duration::from_millis(25),
        };
        let mut last_heartbeat = Instant::now();
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            if *shutdown.borrow_and_update() {
                guard.armed = false;
                if request.request.is_some() {
                    // The client asks again, here once restarted or at
                    // another replica, and takes its place back.
                    self.inner
                        .store
                        .keep_waiter(&waiter, REATTACH_GRACE_MS)
                        .await?;
                    return Err(AcquireError::ShuttingDown {
                        resource: request.resource.clone(),
                    });
                }
                // Leave the queue now, while the runtime still runs; a
                // grant that raced in is given back.
                let change = self
                    .inner
                    .store
                    .cancel_wait(&waiter, "server shutting down")
                    .await?;
                let raced = match self.apply(change) {
                    Some(lease) => Some(lease),
                    None => handed_over(&slot).await,
                };
                if let Some(lease) = raced {
                    self.release(&lease.id).await?;
                }
                return Err(AcquireError::ShuttingDown {
                    resource: request.resource.clone(),
                });
            }
            // Handed over by a grant of this process, or else collected
            // from the waiter's row. A row gone with a grant handed over
            // meanwhile, or being committed, is no wait that ended.
            let state = match slot.take() {
                Some(lease) => {
                    self.handed(&slot, &waiter);
                    WaitState::Granted(Box::new(lease))
                }
                None => match self.inner.store.collect(&waiter).await? {
                    WaitState::Gone => match slot.look() {
                        Handed::Lease(lease) => {
                            self.handed(&slot, &waiter);
                            WaitState::Granted(lease)
                        }
                        Handed::Coming => WaitState::Waiting,
                        Handed::Nothing => WaitState::Gone,
                    },
                    state => state,
                },
            };
            match state {
                WaitState::Granted(lease) => {
                    let lease = *lease;
                    guard.armed = false;
                    let woken = self
                        .inner
                        .woken_at
                        .lock()
                        .ok()
                        .and_then(|mut w| w.remove(&waiter));
                    if let Some(woken) = woken {
                        self.inner.metrics.wake(woken.elapsed().as_secs_f64());
                    }
                    return Ok(lease);
                }
                WaitState::Gone => {
                    guard.armed = false;
                    // Another wait on the same request id (the client asked
                    // again while this one still ran) may have collected
                    // the grant, or a grant's hand-over never came (its
                    // commit reported an error after it happened): it is
                    // this claim's lease all the same (a lease's id is its
                    // waiter's).
                    if let Ok(lease) = self.inner.store.lease(&waiter).await
                        && lease.holder == request.holder
                        && lease.resource == request.resource
                    {
                        return Ok(lease);
                    }
                    return Err(self.timeout(request, started, None).await);
                }
                WaitState::Waiting => {}
            }
            let left = deadline_ms - now_ms();
            if left <= 0 {
                guard.armed = false;
                let change = self
                    .inner
                    .store
                    .cancel_wait(&waiter, "wait timed out")
                    .await?;
                if let Some(lease) = self.apply(change) {
                    return Ok(lease);
                }
                // Granted as the wait ran out, by a transaction that
                // collected the row cancel_wait looked for.
                if let Some(lease) = handed_over(&slot).await {
                    return Ok(lease);
                }
                let position = None;
                return Err(self.timeout(request, started, position).await);
            }
            let sleep = tick.min(Duration::from_millis(left.unsigned_abs()));
            tokio::select! {
                () = slot.notify.notified() => {}
                _ = shutdown.changed() => {}
                () = tokio::time::sleep(sleep) => {
                    if self.inner.mode == CoordinatorMode::Local {
                        let change = self.inner.store.reap().await?;
                        self.apply(change);
                    }
                    // Well within the grace a dropped wait on the same
                    // request id leaves the row with.
                    if last_heartbeat.elapsed() >= Duration::from_secs(5) {
                        self.inner.store.heartbeat(&waiter).await?;
                        last_heartbeat = Instant::now();
                    }
                }
            }
        }
    }

    async fn timeout(
        &self,
        request: &AcquireRequest,
        started: Instant,
        position: Option<usize>,
    ) -> AcquireError {
        let holders = match self.inner.store.resource(&request.resource).await {
            Ok(view) => view.holders,
            Err(error) => return AcquireError::Store(error),
        };
        AcquireError::Timeout {
            resource: request.resource.clone(),
            holders,
            waited_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            position,
        }
    }

    pub async fn renew(&self, lease: &str, ttl_ms: Option<i64>) -> Result<Lease, StoreError> {
        let started = Instant::now();
        let result = self.inner.store.renew(lease, ttl_ms).await;
        self.count("renew", &result, started);
        result.map(|change| self.apply(change))
    }

    pub async fn release(&self, lease: &str) -> Result<Released, StoreError> {
        let started = Instant::now();
        let result = self.inner.store.release(lease).await;
        self.count("release", &result, started);
        if result.is_ok() {
            Metrics::add(&self.inner.metrics.releases, 1);
        }
        result.map(|change| self.apply(change))
    }

    pub async fn force_release(
        &self,
        resource: &ResourceId,
        reason: &str,
        actor: &str,
    ) -> Result<ForceReleased, StoreError> {
        let started = Instant::now();
        let result = self
            .inner
            .store
            .force_release(resource, reason, actor)
            .await;
        self.count("force_release", &result, started);
        if result.is_ok() {
            Metrics::add(&self.inner.metrics.force_releases, 1);
        }
        result.map(|change| self.apply(change))
    }

    /// Acknowledges an alert and publishes the event.
    pub async fn acknowledge_alert(&self, id: &str, by: &str) -> Result<Alert, StoreError> {
        let change = self.inner.store.acknowledge_alert(id, by).await?;
        self.publish(change.events);
        Ok(change.value)
    }

    /// Reaps expired leases and stale waiters now.
    pub async fn reap(&self) -> Result<usize, StoreError> {
        let change = self.inner.store.reap().await?;
        Ok(self.apply(change))
    }

    /// Evaluates alert rules now.
    pub async fn evaluate_alerts(&self) -> Result<Vec<Event>, StoreError> {
        let events = self
            .inner
            .store
            .evaluate_alerts(&self.inner.thresholds)
            .await?;
        self.publish(events.clone());
        Ok(events)
    }

    /// Publishes events recorded outside a lease change (operations).
    pub fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        if self.inner.store.backend() == Backend::Postgres {
            // Events recorded outside a lease change were not announced at
            // their commit: announce them now, so every replica (this one
            // included) reads and publishes them.
            self.tally(&events);
            let payload = crate::notify::payload(&crate::leases::Effects {
                granted: Vec::new(),
                events,
            });
            let store = self.inner.store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.announce(&payload).await {
                    tracing::warn!(%error, "cannot announce events to the replicas");
                }
            });
            return;
        }
        self.apply(Change {
            value: (),
            granted: Vec::new(),
            events,
        });
    }

    fn count<T>(&self, kind: &str, result: &Result<T, StoreError>, started: Instant) {
        let status = match result {
            Ok(_) => "succeeded",
            Err(error) if error.is_input() => "rejected",
            Err(_) => "failed",
        };
        self.inner
            .metrics
            .operation(kind, status, started.elapsed().as_secs_f64());
    }

    /// Sleeps until the next lease expiry or waiter deadline, then reaps.
    async fn reaper(self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            // While reading, any new lease wakes the reaper again (the
            // permit waits in the Notify), so none is missed.
            self.inner.next_reap_ms.store(i64::MAX, Ordering::Relaxed);
            let next = match self.inner.store.next_deadline().await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "reaper cannot read the store; retrying");
                    Some(now_ms() + 1000)
                }
            };
            let wait_ms = next.map_or(5_000, |at| (at - now_ms()).clamp(0, 5_000));
            self.inner
                .next_reap_ms
                .store(now_ms() + wait_ms, Ordering::Relaxed);
            tokio::select! {
                _ = shutdown.changed() => return,
                () = self.inner.reaper.notified() => continue,
                () = tokio::time::sleep(Duration::from_millis(wait_ms.unsigned_abs())) => {}
            }
            if let Err(error) = self.reap().await {
                tracing::warn!(%error, "reaping failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Publishes the events of a SQLite store in id order: at once after a
    /// commit of this server, and within [`TAIL_PERIOD`] after one of
    /// another process on the same file (`weft lock` or `weft deploy run`
    /// without `--server`). Writers take the database one at a time, so ids
    /// commit in order and reading past the last one misses nothing. A
    /// release, expiry or force-release from elsewhere wakes the waiters
    /// (this server's own woke the right one already).
    async fn tail_sqlite(self, mut last_event: i64) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            let ticked = tokio::select! {
                _ = shutdown.changed() => return,
                () = self.inner.tail.notified() => false,
                () = tokio::time::sleep(TAIL_PERIOD) => true,
            };
            // Events this server committed that follow the last one
            // published without a gap are all there is up to them (one
            // writer at a time takes the ids in order): published from
            // memory. A gap is another process's events: read them.
            if !ticked && let Ok(mut local) = self.inner.local_events.lock() {
                local.retain(|id, _| *id > last_event);
                while let Some(entry) = local.first_entry() {
                    if *entry.key() != last_event + 1 {
                        break;
                    }
                    last_event += 1;
                    let _ = self.inner.events.send(entry.remove());
                }
                if local.is_empty() {
                    continue;
                }
            }
            loop {
                let events = match self.inner.store.events_after(last_event, 1000).await {
                    Ok(events) => events,
                    Err(error) => {
                        tracing::warn!(%error, "cannot read events; retrying");
                        break;
                    }
                };
                let full = events.len() == 1000;
                let mut freed = false;
                for event in events {
                    last_event = last_event.max(event.id);
                    let ours = self
                        .inner
                        .local_events
                        .lock()
                        .is_ok_and(|mut local| local.remove(&event.id).is_some());
                    freed |= !ours
                        && matches!(
                            event.kind.as_str(),
                            "release" | "expire" | "force_release" | "abandoned" | "wait_cancelled"
                        );
                    let _ = self.inner.events.send(event);
                }
                // An id noted after the tail read it (the tick came first)
                // is past: forget it.
                if let Ok(mut local) = self.inner.local_events.lock() {
                    local.retain(|id, _| *id > last_event);
                }
                if freed {
                    // Waiters look again; one whose turn it is claims.
                    self.wake_all();
                }
                if !full {
                    break;
                }
            }
        }
    }

    async fn alert_loop(self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                () = tokio::time::sleep(Duration::from_secs(15)) => {}
            }
            if let Err(error) = self.evaluate_alerts().await {
                tracing::warn!(%error, "evaluating alerts failed");
            }
        }
    }
}

/// How long a wait whose grant is being committed waits for it to be
/// handed over, at most.
const HANDOVER_PATIENCE: Duration = Duration::from_secs(5);

/// The lease handed to `slot`, waiting for it while a transaction that
/// grants it is being committed (see `waits.rs`).
async fn handed_over(slot: &WaitSlot) -> Option<Lease> {
    let deadline = tokio::time::Instant::now() + HANDOVER_PATIENCE;
    loop {
        match slot.look() {
            Handed::Lease(lease) => return Some(*lease),
            Handed::Nothing => return None,
            Handed::Coming => {
                if tokio::time::timeout_at(deadline, slot.notify.notified())
                    .await
                    .is_err()
                {
                    return slot.take();
                }
            }
        }
    }
}
