//! The git-native push lock: `refs/weft/locks/<branch>` on the remote points
//! at an orphan commit (on the empty tree) whose message is a JSON
//! [`LockRecord`]: holder, token, when it was taken and when it expires.
//!
//! How it works: every change of the lock ref is a `git push --atomic` with
//! `--force-with-lease=<lock ref>:<the sha we read>`, so two pushers can
//! never both believe they took it. A free lock is taken with the lease
//! "must not exist"; an expired one is taken over with the lease on the
//! expired record's sha (token + 1); a live one is waited on with jittered
//! backoff in the branch's queue (see `queue`), the first in line looking
//! often, the others less. Landing pushes the branch and deletes the lock ref in one
//! atomic push under leases on both: a holder whose lock expired and was
//! taken over fails at that ref transaction and lands nothing (fencing
//! without a server).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::backoff::Backoff;
use crate::error::PushError;
use crate::git::Git;
use crate::holder::Holder;
use crate::interrupt::Interrupt;
use crate::queue::{self, QueueRecord, Receipt, WaitRecord};
use crate::remote::{self, Lease, PushOptions, PushResult};

/// Where lock refs live on the remote: `refs/weft/locks/<branch>`.
pub const LOCK_NAMESPACE: &str = "refs/weft/locks/";
/// The JSON message of a lock commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// The branch the lock guards.
    pub branch: String,
    pub holder: Holder,
    /// The previous holder's token + 1 (1 when the lock was free).
    pub token: u64,
    /// When it was taken, in milliseconds since the Unix epoch.
    pub acquired_at: u64,
    /// When others may take it over (same clock).
    pub expires_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

/// A lock this process holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldLock {
    /// The sha of our lock commit: the lease of every later change.
    pub(crate) sha: String,
    pub(crate) record: LockRecord,
}

/// How a lock was obtained.
#[derive(Debug, Clone)]
pub(crate) struct Acquired {
    pub(crate) held: HeldLock,
    pub(crate) waited: Duration,
    /// The expired record this run took over.
    pub(crate) took_over: Option<LockRecord>,
}

/// A holder landed the waiter's commits (see `queue`).
#[derive(Debug, Clone)]
pub(crate) struct Batched {
    pub(crate) receipt: Receipt,
    /// The receipt's ref.
    pub(crate) reference: String,
    pub(crate) waited: Duration,
}

/// How the lock loop ended.
#[derive(Debug, Clone)]
pub(crate) enum Acquisition {
    /// The lock is ours.
    Held(Acquired),
    /// We need it no more: a holder landed our commits.
    Batched(Batched),
}

/// What the lock loop reports while it works.
#[derive(Debug, Clone)]
pub(crate) enum LockEvent {
    Waiting {
        holder: String,
        expires_in: Duration,
    },
    TakingOver {
        holder: String,
    },
    /// Our waiting ref was created (`Some`) or is gone (`None`).
    Queued(Option<(String, String)>),
}

/// The lock and the queue as one look at the remote shows them.
#[derive(Debug, Clone)]
struct View {
    lock: Option<(String, LockRecord)>,
    /// Queue entries (ref, sha), in order.
    waiters: Vec<(String, String)>,
    /// The sha of the receipt of our waiting ref, if a holder left one.
    receipt: Option<String>,
}

/// The lock of one branch on one remote.
#[derive(Debug)]
pub(crate) struct GitLock {
    git: Git,
    remote: String,
    branch: String,
    reference: String,
    empty_tree: Option<String>,
    records: HashMap<String, LockRecord>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The lock ref of a branch.
pub fn lock_ref(branch: &str) -> String {
    format!("{LOCK_NAMESPACE}{branch}")
}

impl GitLock {
    pub(crate) fn new(git: Git, remote: &str, branch: &str) -> Self {
        GitLock {
            git,
            remote: remote.to_string(),
            branch: branch.to_string(),
            reference: lock_ref(branch),
            empty_tree: None,
            records: HashMap::new(),
        }
    }

    pub(crate) fn reference(&self) -> &str {
        &self.reference
    }

    /// The lock as the remote has it now: `None` when free.
    pub(crate) fn current(&mut self) -> Result<Option<(String, LockRecord)>, PushError> {
        Ok(self.view(None)?.lock)
    }

    /// The lock and the branch's queue (and the receipt of our waiting ref
    /// `mine`, if any), in one `git ls-remote`.
    fn view(&mut self, mine: Option<&str>) -> Result<View, PushError> {
        let queue = format!("{}*", queue::prefix(&self.branch));
        let receipt_ref = mine.map(queue::receipt_ref);
        let mut patterns = vec![self.reference.as_str(), queue.as_str()];
        patterns.extend(receipt_ref.as_deref());
        for _ in 0..5 {
            let listed = remote::list(&self.git, &self.remote, &patterns)?;
            let receipt = receipt_ref.as_ref().and_then(|receipt_ref| {
                listed
                    .iter()
                    .find(|(_, name)| name == receipt_ref)
                    .map(|(sha, _)| sha.clone())
            });
            let mut waiters: Vec<(String, String)> = listed
                .iter()
                .filter(|(_, name)| queue::entry_name(&self.branch, name).is_some())
                .map(|(sha, name)| (name.clone(), sha.clone()))
                .collect();
            waiters.sort();
            let Some((sha, _)) = listed.into_iter().find(|(_, name)| *name == self.reference)
            else {
                return Ok(View {
                    lock: None,
                    waiters,
                    receipt,
                });
            };
            if let Some(record) = self.records.get(&sha) {
                return Ok(View {
                    lock: Some((sha, record.clone())),
                    waiters,
                    receipt,
                });
            }
            match read_record::<LockRecord>(&self.git, &self.remote, &self.reference, &sha)? {
                Some(record) => {
                    self.records.insert(sha.clone(), record.clone());
                    return Ok(View {
                        lock: Some((sha, record)),
                        waiters,
                        receipt,
                    });
                }
                // The ref moved between listing and fetching: look again.
                None => continue,
            }
        }
        Err(PushError::Transient {
            message: format!("{} keeps changing; could not read it", self.reference),
        })
    }

    /// Writes a record commit (on the empty tree, with these parents).
    pub(crate) fn write<T: Serialize>(
        &mut self,
        record: &T,
        parents: &[&str],
    ) -> Result<String, PushError> {
        let tree = match &self.empty_tree {
            Some(tree) => tree.clone(),
            None => {
                let tree = self.git.empty_tree()?;
                self.empty_tree = Some(tree.clone());
                tree
            }
        };
        let message = serde_json::to_string(record).map_err(|error| PushError::Unsafe {
            reason: format!("cannot write the lock record: {error}"),
        })?;
        self.git.internal_commit(&tree, parents, &message)
    }

    fn push(&self, refspecs: &[String], leases: &[Lease]) -> Result<PushResult, PushError> {
        remote::push(
            &self.git,
            &self.remote,
            refspecs,
            leases,
            PushOptions {
                atomic: true,
                hooks: false,
            },
        )
    }

    /// Takes the lock: at once when free or expired and nobody is in line
    /// before us, else after waiting in line, for at most `wait`. Returns
    /// early when a holder landed our commits.
    pub(crate) fn acquire(
        &mut self,
        request: &AcquireRequest<'_>,
        interrupt: &Interrupt,
        report: &mut dyn FnMut(LockEvent),
    ) -> Result<Acquisition, PushError> {
        let started = Instant::now();
        let mut waiter: Option<(String, String)> = None;
        let result = self.acquire_loop(request, interrupt, report, started, &mut waiter);
        if let (Err(_), Some((reference, sha))) = (&result, waiter) {
            // Leave the line; if that fails because a holder landed our
            // commits meanwhile, they landed.
            if !self.delete_ref(&reference, &sha)
                && let Ok(Some(receipt)) = self.receipt(&reference)
            {
                report(LockEvent::Queued(None));
                return Ok(Acquisition::Batched(Batched {
                    receipt,
                    reference: queue::receipt_ref(&reference),
                    waited: started.elapsed(),
                }));
            }
            report(LockEvent::Queued(None));
        }
        result
    }

    fn acquire_loop(
        &mut self,
        request: &AcquireRequest<'_>,
        interrupt: &Interrupt,
        report: &mut dyn FnMut(LockEvent),
        started: Instant,
        waiter: &mut Option<(String, String)>,
    ) -> Result<Acquisition, PushError> {
        let mut backoff = Backoff::new(request.poll_base, request.poll_cap);
        let mut announced: Option<String> = None;
        let mut free_seen = false;
        loop {
            interrupt.check()?;
            let out_of_time = started.elapsed() >= request.wait;
            let mine = waiter.as_ref().map(|(reference, _)| reference.clone());
            let view = match self.view(mine.as_deref()) {
                Ok(view) => view,
                Err(error) if error.is_retryable() && !out_of_time => {
                    tracing::debug!(%error, "reading the lock failed; trying again");
                    interrupt.sleep(backoff.next_wait())?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            if let Some((reference, sha)) = waiter.clone() {
                if let Some(receipt_sha) = &view.receipt
                    && let Some(receipt) = self.read_receipt(&reference, receipt_sha)?
                {
                    *waiter = None;
                    report(LockEvent::Queued(None));
                    return Ok(Acquisition::Batched(Batched {
                        receipt,
                        reference: queue::receipt_ref(&reference),
                        waited: started.elapsed(),
                    }));
                }
                if !view
                    .waiters
                    .iter()
                    .any(|(name, current)| *name == reference && *current == sha)
                {
                    // Gone without a receipt (`weft push cleanup`): queue again.
                    *waiter = None;
                    report(LockEvent::Queued(None));
                }
            }
            let now = now_ms();
            let stale_before = now.saturating_sub(millis(request.wait));
            let mine = waiter.as_ref().map(|(reference, _)| reference.as_str());
            let ahead = view
                .waiters
                .iter()
                .filter(|(reference, _)| Some(reference.as_str()) != mine)
                .filter(|(reference, _)| {
                    queue::entry_name(&self.branch, reference)
                        .and_then(queue::since_of)
                        .is_some_and(|since| since >= stale_before)
                })
                .filter(|(reference, _)| mine.is_none_or(|mine| reference.as_str() < mine))
                .count();
            let left = request.wait.saturating_sub(started.elapsed());
            let (expected, token, previous) = match view.lock {
                Some((sha, record)) if record.expires_at > now => {
                    free_seen = false;
                    let expires_in = Duration::from_millis(record.expires_at - now);
                    if announced.as_deref() != Some(sha.as_str()) {
                        report(LockEvent::Waiting {
                            holder: record.holder.describe(),
                            expires_in,
                        });
                        announced = Some(sha);
                    }
                    if waiter.is_none() {
                        *waiter = self.enqueue(request, started, report).ok();
                    }
                    if out_of_time {
                        return Err(PushError::LockTimeout {
                            resource: format!("{}/{}", self.remote, self.branch),
                            waited_ms: millis(started.elapsed()),
                            holder: Some(record.holder.describe()),
                        });
                    }
                    let pause = pause(&mut backoff, request, ahead)
                        .min(expires_in + Duration::from_millis(5))
                        .min(left);
                    interrupt.sleep(pause)?;
                    continue;
                }
                _ if ahead > 0 && !free_seen && !out_of_time => {
                    // Free, but others were in line first: give them one look
                    // to take it, then take it if it is still free.
                    free_seen = true;
                    if waiter.is_none() {
                        *waiter = self.enqueue(request, started, report).ok();
                    }
                    interrupt.sleep(pause(&mut backoff, request, ahead).min(left))?;
                    continue;
                }
                None => (None, 1, None),
                Some((sha, record)) => {
                    report(LockEvent::TakingOver {
                        holder: record.holder.describe(),
                    });
                    let token = record.token + 1;
                    (Some(sha), token, Some(record))
                }
            };
            free_seen = false;
            let now = now_ms();
            let record = LockRecord {
                branch: self.branch.clone(),
                holder: request.holder.clone(),
                token,
                acquired_at: now,
                expires_at: now.saturating_add(millis(request.ttl)),
                priority: request.priority,
                class: request.class.map(str::to_string),
            };
            let sha = self.write(&record, &[])?;
            let mut refspecs = vec![format!("{sha}:{}", self.reference)];
            let mut leases = vec![Lease::new(self.reference.clone(), expected.as_deref())];
            if let Some((reference, waiter_sha)) = waiter.as_ref() {
                refspecs.push(format!(":{reference}"));
                leases.push(Lease::new(reference.clone(), Some(waiter_sha)));
            }
            match self.push(&refspecs, &leases)? {
                PushResult::Done => {
                    if waiter.take().is_some() {
                        report(LockEvent::Queued(None));
                    }
                    self.records.insert(sha.clone(), record.clone());
                    return Ok(Acquisition::Held(Acquired {
                        held: HeldLock { sha, record },
                        waited: started.elapsed(),
                        took_over: previous,
                    }));
                }
                PushResult::Refused(updates) => {
                    let waiter_changed = waiter.as_ref().is_some_and(|(reference, _)| {
                        updates
                            .iter()
                            .any(|u| u.to == *reference && u.lease_broken())
                    });
                    if waiter_changed {
                        // Our waiting ref changed: a receipt, or deleted by
                        // `weft push cleanup`; the next look tells.
                        continue;
                    }
                    tracing::debug!(?updates, "another pusher took the lock first");
                    if out_of_time {
                        continue;
                    }
                    interrupt.sleep(backoff.next_wait())?;
                }
                PushResult::Failed { message } => {
                    if remote::failure_is_permanent(&message) {
                        return Err(PushError::Rejected {
                            reference: self.reference.clone(),
                            reason: message,
                        });
                    }
                    if out_of_time {
                        return Err(PushError::Transient { message });
                    }
                    tracing::debug!(%message, "taking the lock failed; trying again");
                    interrupt.sleep(backoff.next_wait())?;
                }
            }
        }
    }

    /// Joins the branch's queue; returns the waiting ref and its sha.
    fn enqueue(
        &mut self,
        request: &AcquireRequest<'_>,
        started: Instant,
        report: &mut dyn FnMut(LockEvent),
    ) -> Result<(String, String), PushError> {
        let since = now_ms().saturating_sub(millis(started.elapsed()));
        let record = QueueRecord {
            waiting: Some(WaitRecord {
                branch: self.branch.clone(),
                holder: request.holder.clone(),
                since,
                expires_at: since.saturating_add(millis(request.wait)),
                batch: request.head.is_some(),
                head: request.head.map(str::to_string),
            }),
            landed: None,
        };
        let parents: Vec<&str> = request.head.into_iter().collect();
        let sha = self.write(&record, &parents)?;
        let reference = format!(
            "{}{}",
            queue::prefix(&self.branch),
            queue::new_name(since, request.holder)
        );
        // Recorded before the push, so that a run killed right after it
        // still knows its place in line.
        report(LockEvent::Queued(Some((reference.clone(), sha.clone()))));
        let result = self.push(
            &[format!("{sha}:{reference}")],
            &[Lease::new(reference.clone(), None)],
        );
        match result {
            Ok(PushResult::Done) => Ok((reference, sha)),
            other => {
                report(LockEvent::Queued(None));
                Err(match other {
                    Ok(PushResult::Failed { message }) => PushError::Transient { message },
                    Err(error) => error,
                    _ => PushError::Transient {
                        message: "the waiting ref was refused".into(),
                    },
                })
            }
        }
    }

    /// The receipt a holder left for our waiting ref, with its sha.
    fn receipt(&mut self, waiting: &str) -> Result<Option<Receipt>, PushError> {
        let receipt_ref = queue::receipt_ref(waiting);
        let listed = remote::list(&self.git, &self.remote, &[&receipt_ref])?;
        let Some((sha, _)) = listed.into_iter().find(|(_, name)| *name == receipt_ref) else {
            return Ok(None);
        };
        self.read_receipt(waiting, &sha)
    }

    fn read_receipt(&mut self, waiting: &str, sha: &str) -> Result<Option<Receipt>, PushError> {
        let receipt_ref = queue::receipt_ref(waiting);
        let record = read_record::<QueueRecord>(&self.git, &self.remote, &receipt_ref, sha)?;
        Ok(record.and_then(|record| record.landed))
    }

    /// Extends the lock by `ttl` from now. [`PushError::Fenced`] when it is
    /// no longer ours.
    pub(crate) fn renew(&mut self, held: &mut HeldLock, ttl: Duration) -> Result<(), PushError> {
        let mut record = held.record.clone();
        record.expires_at = now_ms().saturating_add(millis(ttl));
        let sha = self.write(&record, &[])?;
        let result = self.push(
            &[format!("{sha}:{}", self.reference)],
            &[Lease::new(self.reference.clone(), Some(&held.sha))],
        )?;
        match result {
            PushResult::Done => {
                self.records.insert(sha.clone(), record.clone());
                *held = HeldLock { sha, record };
                Ok(())
            }
            PushResult::Refused(updates) if updates.iter().any(|u| u.lease_broken()) => {
                Err(self.fenced())
            }
            PushResult::Refused(updates) => Err(PushError::Transient {
                message: updates
                    .first()
                    .map(|u| u.summary.clone())
                    .unwrap_or_default(),
            }),
            PushResult::Failed { message } => Err(PushError::Transient { message }),
        }
    }

    /// The refspec and lease that delete our lock in the landing push.
    pub(crate) fn release_in_push(&self, held: &HeldLock) -> (String, Lease) {
        (
            format!(":{}", self.reference),
            Lease::new(self.reference.clone(), Some(&held.sha)),
        )
    }

    /// Deletes the lock ref if it is still ours. Returns false when someone
    /// else holds it now.
    pub(crate) fn release(&mut self, held: &HeldLock) -> Result<bool, PushError> {
        let (refspec, lease) = self.release_in_push(held);
        let mut last = String::new();
        for attempt in 0..3 {
            match self.push(std::slice::from_ref(&refspec), std::slice::from_ref(&lease))? {
                PushResult::Done => return Ok(true),
                PushResult::Refused(updates) if updates.iter().any(|u| u.lease_broken()) => {
                    return Ok(false);
                }
                PushResult::Refused(updates) => {
                    last = updates
                        .first()
                        .map(|u| u.summary.clone())
                        .unwrap_or_default();
                }
                PushResult::Failed { message } => last = message,
            }
            std::thread::sleep(Duration::from_millis(100 << attempt));
        }
        Err(PushError::Transient { message: last })
    }

    /// The error of a holder whose lock was taken over, naming the new holder.
    pub(crate) fn fenced(&mut self) -> PushError {
        let by = match self.current() {
            Ok(Some((_, record))) => format!("{} (token {})", record.holder, record.token),
            Ok(None) => "nobody (it was deleted)".to_string(),
            Err(_) => "someone else".to_string(),
        };
        PushError::Fenced {
            resource: format!("{}/{}", self.remote, self.branch),
            by,
        }
    }

    /// Deletes a ref of ours under a lease; false when it was not deleted.
    pub(crate) fn delete_ref(&self, reference: &str, sha: &str) -> bool {
        let result = self.push(
            &[format!(":{reference}")],
            &[Lease::new(reference.to_string(), Some(sha))],
        );
        let done = matches!(result, Ok(PushResult::Done));
        if !done {
            tracing::debug!(reference, ?result, "could not delete");
        }
        done
    }
}

/// What the lock loop needs of the settings.
#[derive(Debug, Clone)]
pub(crate) struct AcquireRequest<'a> {
    pub(crate) holder: &'a Holder,
    pub(crate) ttl: Duration,
    pub(crate) wait: Duration,
    pub(crate) poll_base: Duration,
    pub(crate) poll_cap: Duration,
    pub(crate) priority: Option<i64>,
    pub(crate) class: Option<&'a str>,
    /// HEAD, published with our waiting ref so that the holder may land
    /// our commits; `None` opts out of batching.
    pub(crate) head: Option<&'a str>,
}

/// How long to wait before the next look: often for the first in line,
/// less often further back.
fn pause(backoff: &mut Backoff, request: &AcquireRequest<'_>, ahead: usize) -> Duration {
    if ahead == 0 {
        return backoff.next_wait();
    }
    let ceiling = request.poll_cap.saturating_mul(3);
    let floor = ceiling / 2;
    let spread = u64::try_from((ceiling - floor).as_micros()).unwrap_or(0);
    floor + Duration::from_micros(fastrand::u64(0..=spread))
}

/// Reads the JSON record a remote ref points at, fetching it when it is not
/// here yet. `None` when the ref no longer points at `sha`.
pub(crate) fn read_record<T: DeserializeOwned>(
    git: &Git,
    remote: &str,
    reference: &str,
    sha: &str,
) -> Result<Option<T>, PushError> {
    let have = |git: &Git| -> Result<bool, PushError> {
        Ok(git
            .run(&["cat-file", "-e", &format!("{sha}^{{commit}}")])?
            .success)
    };
    if !have(git)? && (!remote::fetch_objects(git, remote, reference)? || !have(git)?) {
        return Ok(None);
    }
    let commit = git.ok(&["cat-file", "commit", sha])?;
    let message = commit
        .split_once("\n\n")
        .map(|(_, message)| message)
        .unwrap_or_default();
    serde_json::from_str(message.trim())
        .map(Some)
        .map_err(|error| PushError::BadLockRecord {
            reference: reference.to_string(),
            message: error.to_string(),
        })
}
