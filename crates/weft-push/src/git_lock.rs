//! The git-native push lock: `refs/weft/locks/<branch>` on the remote points
//! at an orphan commit (on the empty tree) whose message is a JSON
//! [`LockRecord`]: holder, token, when it was taken and when it expires.
//!
//! How it works: every change of the lock ref is a `git push --atomic` with
//! `--force-with-lease=<lock ref>:<the sha we read>`, so two pushers can
//! never both believe they took it. A free lock is taken with the lease
//! "must not exist"; an expired one is taken over with the lease on the
//! expired record's sha (token + 1); a live one is waited on with jittered
//! backoff, while a `refs/weft/waiting/<id>` ref tells `weft push status`
//! who waits. Landing pushes the branch and deletes the lock ref in one
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
use crate::remote::{self, Lease, PushOptions, PushResult};

/// Where lock refs live on the remote: `refs/weft/locks/<branch>`.
pub const LOCK_NAMESPACE: &str = "refs/weft/locks/";
/// Where waiters announce themselves: `refs/weft/waiting/<id>`.
pub const WAITING_NAMESPACE: &str = "refs/weft/waiting/";

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

/// The JSON message of a waiting commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRecord {
    pub branch: String,
    pub holder: Holder,
    /// When it started waiting.
    pub since: u64,
    /// When it gives up; after that the ref is stale.
    pub expires_at: u64,
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
        for _ in 0..5 {
            let listed = remote::list(&self.git, &self.remote, &[&self.reference])?;
            let Some((sha, _)) = listed.into_iter().find(|(_, name)| *name == self.reference)
            else {
                return Ok(None);
            };
            if let Some(record) = self.records.get(&sha) {
                return Ok(Some((sha, record.clone())));
            }
            match read_record::<LockRecord>(&self.git, &self.remote, &self.reference, &sha)? {
                Some(record) => {
                    self.records.insert(sha.clone(), record.clone());
                    return Ok(Some((sha, record)));
                }
                // The ref moved between listing and fetching: look again.
                None => continue,
            }
        }
        Err(PushError::Transient {
            message: format!("{} keeps changing; could not read it", self.reference),
        })
    }

    fn write<T: Serialize>(&mut self, record: &T) -> Result<String, PushError> {
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
        self.git.internal_commit(&tree, &[], &message)
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

    /// Takes the lock: at once when free or expired, else after waiting for
    /// it with backoff, for at most `wait`.
    pub(crate) fn acquire(
        &mut self,
        request: &AcquireRequest<'_>,
        interrupt: &Interrupt,
        report: &mut dyn FnMut(LockEvent),
    ) -> Result<Acquired, PushError> {
        let started = Instant::now();
        let mut waiter: Option<(String, String)> = None;
        let result = self.acquire_loop(request, interrupt, report, started, &mut waiter);
        if result.is_err()
            && let Some((reference, sha)) = waiter
        {
            self.delete_ref_best_effort(&reference, &sha);
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
    ) -> Result<Acquired, PushError> {
        let mut backoff = Backoff::new(request.poll_base, request.poll_cap);
        let mut announced: Option<String> = None;
        loop {
            interrupt.check()?;
            let out_of_time = started.elapsed() >= request.wait;
            let current = match self.current() {
                Ok(current) => current,
                Err(error) if error.is_retryable() && !out_of_time => {
                    tracing::debug!(%error, "reading the lock failed; trying again");
                    interrupt.sleep(backoff.next_wait())?;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let now = now_ms();
            let (expected, token, previous) = match current {
                None => (None, 1, None),
                Some((sha, record)) if record.expires_at <= now => {
                    report(LockEvent::TakingOver {
                        holder: record.holder.describe(),
                    });
                    let token = record.token + 1;
                    (Some(sha), token, Some(record))
                }
                Some((sha, record)) => {
                    let expires_in = Duration::from_millis(record.expires_at - now);
                    if announced.as_deref() != Some(sha.as_str()) {
                        report(LockEvent::Waiting {
                            holder: record.holder.describe(),
                            expires_in,
                        });
                        announced = Some(sha);
                    }
                    if waiter.is_none() {
                        *waiter = self.announce_waiter(request, started).ok();
                    }
                    if out_of_time {
                        return Err(PushError::LockTimeout {
                            resource: format!("{}/{}", self.remote, self.branch),
                            waited_ms: millis(started.elapsed()),
                            holder: Some(record.holder.describe()),
                        });
                    }
                    let left = request.wait.saturating_sub(started.elapsed());
                    let pause = backoff
                        .next_wait()
                        .min(expires_in + Duration::from_millis(5))
                        .min(left);
                    interrupt.sleep(pause)?;
                    continue;
                }
            };
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
            let sha = self.write(&record)?;
            let mut refspecs = vec![format!("{sha}:{}", self.reference)];
            let mut leases = vec![Lease::new(self.reference.clone(), expected.as_deref())];
            if let Some((reference, waiter_sha)) = waiter.as_ref() {
                refspecs.push(format!(":{reference}"));
                leases.push(Lease::new(reference.clone(), Some(waiter_sha)));
            }
            match self.push(&refspecs, &leases)? {
                PushResult::Done => {
                    *waiter = None;
                    self.records.insert(sha.clone(), record.clone());
                    return Ok(Acquired {
                        held: HeldLock { sha, record },
                        waited: started.elapsed(),
                        took_over: previous,
                    });
                }
                PushResult::Refused(updates) => {
                    let waiter_gone = waiter.as_ref().is_some_and(|(reference, _)| {
                        updates
                            .iter()
                            .any(|u| u.to == *reference && u.lease_broken())
                    });
                    if waiter_gone {
                        // `weft push cleanup` removed our waiting ref; go on without it.
                        *waiter = None;
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

    fn announce_waiter(
        &mut self,
        request: &AcquireRequest<'_>,
        started: Instant,
    ) -> Result<(String, String), PushError> {
        let since = now_ms().saturating_sub(millis(started.elapsed()));
        let record = WaitRecord {
            branch: self.branch.clone(),
            holder: request.holder.clone(),
            since,
            expires_at: since.saturating_add(millis(request.wait)),
        };
        let sha = self.write(&record)?;
        let id = waiter_id(request.holder);
        let reference = format!("{WAITING_NAMESPACE}{id}");
        match self.push(
            &[format!("{sha}:{reference}")],
            &[Lease::new(reference.clone(), None)],
        )? {
            PushResult::Done => Ok((reference, sha)),
            PushResult::Refused(_) => Err(PushError::Transient {
                message: "the waiting ref was refused".into(),
            }),
            PushResult::Failed { message } => Err(PushError::Transient { message }),
        }
    }

    /// Extends the lock by `ttl` from now. [`PushError::Fenced`] when it is
    /// no longer ours.
    pub(crate) fn renew(&mut self, held: &mut HeldLock, ttl: Duration) -> Result<(), PushError> {
        let mut record = held.record.clone();
        record.expires_at = now_ms().saturating_add(millis(ttl));
        let sha = self.write(&record)?;
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

    /// Deletes a ref of ours under a lease, ignoring failure.
    pub(crate) fn delete_ref_best_effort(&self, reference: &str, sha: &str) {
        let result = self.push(
            &[format!(":{reference}")],
            &[Lease::new(reference.to_string(), Some(sha))],
        );
        if !matches!(result, Ok(PushResult::Done)) {
            tracing::debug!(reference, ?result, "could not delete");
        }
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
}

/// A ref-safe, unique name for one waiter.
fn waiter_id(holder: &Holder) -> String {
    let host: String = holder
        .host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{host}-{}-{:08x}", holder.pid, fastrand::u32(..))
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
