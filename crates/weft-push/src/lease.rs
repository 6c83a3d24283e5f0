//! The lock a run holds, shared between the run and its keep-alive thread:
//! taking it, renewing it, landing under it, and giving it back.
//!
//! The run and the keep-alive thread never push the lock ref at the same
//! time: both hold the mutex for the whole push, so that a renewal cannot
//! break the lease of the landing push (nor the other way round).

use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{ExternalLockError, PushError};
use crate::git::Git;
use crate::git_lock::{
    AcquireRequest, Acquisition, Batched, GitLock, HeldLock, LockEvent, lock_ref, now_ms,
};
use crate::holder::Holder;
use crate::interrupt::Interrupt;
use crate::lock::{ExternalLock, LockHandle, LockMode, LockRequest};
use crate::remote::{self, Lease, PushOptions, PushResult};
use crate::report::Progress;
use crate::settings::PushSettings;
use crate::state::RemoteRef;

/// Where `--emergency` pushes are recorded on the remote.
pub const EMERGENCY_NAMESPACE: &str = "refs/weft/emergency/";

pub(crate) struct GitLease {
    lock: GitLock,
    held: Option<HeldLock>,
}

pub(crate) struct ExternalLease {
    lock: Box<dyn ExternalLock>,
    handle: Option<LockHandle>,
}

/// The lock of a run.
#[derive(Clone)]
pub(crate) enum LockState {
    None,
    /// Empty until the branch is known.
    Git(Arc<Mutex<Option<GitLease>>>),
    External(Arc<Mutex<ExternalLease>>),
}

/// What taking the lock came to.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) mode: &'static str,
    pub(crate) token: Option<u64>,
    pub(crate) waited: Duration,
    /// The holder of the expired lock taken over.
    pub(crate) took_over: Option<String>,
    /// The lock ref and our sha, for the state file.
    pub(crate) reference: Option<RemoteRef>,
}

/// How taking the lock ended.
#[derive(Debug, Clone)]
pub(crate) enum Granted {
    Lock(Grant),
    /// A holder landed our commits while we waited.
    Batched(Batched),
}

/// What a landing push needs to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Landing<'a> {
    pub(crate) remote: &'a str,
    pub(crate) branch: &'a str,
    pub(crate) head: &'a str,
    /// The fetched remote branch: the lease of the push.
    pub(crate) upstream: Option<&'a str>,
    pub(crate) holder: &'a Holder,
    pub(crate) ttl: Duration,
    /// More refs to update in the same push (receipts of batched waiters).
    pub(crate) extra: &'a [(String, Lease)],
}

/// The lock-less record of an `--emergency` push.
#[derive(Debug, Serialize)]
struct EmergencyRecord<'a> {
    branch: &'a str,
    holder: &'a Holder,
    at: u64,
    head: &'a str,
    upstream: Option<&'a str>,
}

impl From<LockMode> for LockState {
    fn from(mode: LockMode) -> Self {
        match mode {
            LockMode::None => LockState::None,
            LockMode::Git => LockState::Git(Arc::new(Mutex::new(None))),
            LockMode::External(lock) => {
                LockState::External(Arc::new(Mutex::new(ExternalLease { lock, handle: None })))
            }
        }
    }
}

fn guard<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl LockState {
    /// Sets up the git lock of `branch` (the other kinds need nothing).
    pub(crate) fn target(&self, git: &Git, remote: &str, branch: &str) {
        if let LockState::Git(lease) = self {
            *guard(lease) = Some(GitLease {
                lock: GitLock::new(git.clone(), remote, branch),
                held: None,
            });
        }
    }

    pub(crate) fn is_none(&self) -> bool {
        matches!(self, LockState::None)
    }

    /// Whether landing releases the lock (the git lock ref is deleted by
    /// the landing push itself).
    pub(crate) fn released_by_landing(&self) -> bool {
        matches!(self, LockState::Git(_))
    }

    /// Whether a lock is wanted and not held (lost to a takeover).
    pub(crate) fn lost(&self) -> bool {
        match self {
            LockState::None => false,
            LockState::Git(lease) => guard(lease).as_ref().is_none_or(|l| l.held.is_none()),
            LockState::External(lease) => guard(lease).handle.is_none(),
        }
    }

    /// Takes the lock, waiting for it as the settings allow.
    /// `head` is published with our place in the queue, for the holder to
    /// land (`None` opts out); `on_queue` hears of our waiting ref.
    pub(crate) fn acquire(
        &self,
        settings: &PushSettings,
        head: Option<&str>,
        resource: impl FnOnce() -> String,
        interrupt: &Interrupt,
        progress: &(dyn Fn(&Progress) + Send + Sync),
        on_queue: &mut dyn FnMut(Option<RemoteRef>),
    ) -> Result<Granted, PushError> {
        match self {
            LockState::None => Ok(Granted::Lock(Grant {
                mode: "none",
                token: None,
                waited: Duration::ZERO,
                took_over: None,
                reference: None,
            })),
            LockState::Git(lease) => {
                let mut lease = guard(lease);
                let Some(lease) = lease.as_mut() else {
                    return Err(PushError::Unsafe {
                        reason: "the git lock was not set up".to_string(),
                    });
                };
                let request = AcquireRequest {
                    holder: &settings.holder,
                    ttl: settings.lock_ttl,
                    wait: settings.lock_wait,
                    poll_base: settings.poll_base,
                    poll_cap: settings.poll_cap,
                    priority: settings.priority,
                    class: settings.class.as_deref(),
                    head,
                };
                let acquisition =
                    lease
                        .lock
                        .acquire(&request, interrupt, &mut |event| match event {
                            LockEvent::Waiting { holder, expires_in } => {
                                progress(&Progress::Waiting { holder, expires_in });
                            }
                            LockEvent::TakingOver { holder } => {
                                progress(&Progress::TakingOver { holder });
                            }
                            LockEvent::Queued(entry) => {
                                on_queue(entry.map(|(reference, sha)| RemoteRef { reference, sha }))
                            }
                        })?;
                let acquired = match acquisition {
                    Acquisition::Held(acquired) => acquired,
                    Acquisition::Batched(batched) => return Ok(Granted::Batched(batched)),
                };
                lease.held = Some(acquired.held.clone());
                Ok(Granted::Lock(Grant {
                    mode: "git",
                    token: Some(acquired.held.record.token),
                    waited: acquired.waited,
                    took_over: acquired.took_over.map(|record| record.holder.describe()),
                    reference: Some(RemoteRef {
                        reference: lease.lock.reference().to_string(),
                        sha: acquired.held.sha,
                    }),
                }))
            }
            LockState::External(lease) => {
                let started = Instant::now();
                let request = LockRequest {
                    resource: resource(),
                    holder: settings.holder.clone(),
                    priority: settings.priority,
                    class: settings.class.clone(),
                    ttl: settings.lock_ttl,
                    wait: settings.lock_wait,
                };
                let mut lease = guard(lease);
                let handle = lease.lock.acquire(&request, interrupt)?;
                let token = handle.token;
                lease.handle = Some(handle);
                Ok(Granted::Lock(Grant {
                    mode: "external",
                    token: Some(token),
                    waited: started.elapsed(),
                    took_over: None,
                    reference: None,
                }))
            }
        }
    }

    /// Renews the lock every third of `ttl` until stopped.
    pub(crate) fn keep_alive(&self, ttl: Duration) -> KeepAlive {
        let lock = self.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let period = (ttl / 3).max(Duration::from_millis(50));
        let thread = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                lock.renew(ttl);
            }
        });
        KeepAlive { stop, thread }
    }

    fn renew(&self, ttl: Duration) {
        match self {
            LockState::None => {}
            LockState::Git(lease) => {
                let mut lease = guard(lease);
                let Some(GitLease { lock, held }) = lease.as_mut() else {
                    return;
                };
                let Some(current) = held.as_mut() else {
                    return;
                };
                match lock.renew(current, ttl) {
                    Ok(()) => tracing::debug!(sha = %current.sha, "renewed the push lock"),
                    Err(error @ PushError::Fenced { .. }) => {
                        tracing::warn!(%error, "the push lock was lost");
                        *held = None;
                    }
                    Err(error) => tracing::warn!(%error, "could not renew the push lock"),
                }
            }
            LockState::External(lease) => {
                let mut lease = guard(lease);
                let ExternalLease { lock, handle } = &mut *lease;
                let Some(current) = handle.as_ref() else {
                    return;
                };
                match lock.renew(current, ttl) {
                    Ok(()) => {}
                    Err(error @ ExternalLockError::Lost { .. }) => {
                        tracing::warn!(%error, "the push lease was lost");
                        *handle = None;
                    }
                    Err(error) => tracing::warn!(%error, "could not renew the push lease"),
                }
            }
        }
    }

    /// Pushes `head` to the branch under the lock: with the git lock, in one
    /// atomic push that also deletes the lock ref (so the lock is released
    /// when this returns `Ok`); with an external lease, after checking it;
    /// with none, together with the emergency record.
    pub(crate) fn land(&self, git: &Git, landing: &Landing<'_>) -> Result<(), PushError> {
        let branch_ref = format!("refs/heads/{}", landing.branch);
        let mut refspecs = vec![format!("{}:{branch_ref}", landing.head)];
        let mut leases = vec![Lease::new(branch_ref.clone(), landing.upstream)];
        for (refspec, lease) in landing.extra {
            refspecs.push(refspec.clone());
            leases.push(lease.clone());
        }
        let options = PushOptions {
            atomic: true,
            hooks: true,
        };
        match self {
            LockState::Git(lease) => {
                let mut lease = guard(lease);
                let Some(lease) = lease.as_mut() else {
                    return Err(PushError::Unsafe {
                        reason: "the git lock was not set up".to_string(),
                    });
                };
                let Some(held) = lease.held.clone() else {
                    return Err(lease.lock.fenced());
                };
                let (refspec, lock_lease) = lease.lock.release_in_push(&held);
                refspecs.push(refspec);
                leases.push(lock_lease);
                let result = remote::push(git, landing.remote, &refspecs, &leases, options)?;
                let lock_reference = lock_ref(landing.branch);
                if let PushResult::Refused(updates) = &result
                    && updates
                        .iter()
                        .any(|u| u.to == lock_reference && u.lease_broken())
                {
                    lease.held = None;
                    return Err(lease.lock.fenced());
                }
                classify(result, &branch_ref, landing)?;
                lease.held = None;
                Ok(())
            }
            LockState::External(lease) => {
                {
                    let mut lease = guard(lease);
                    let ExternalLease { lock, handle } = &mut *lease;
                    let Some(current) = handle.clone() else {
                        return Err(ExternalLockError::Lost {
                            message: "the lease was lost before landing".to_string(),
                        }
                        .into());
                    };
                    // Fencing with an external lock is best effort: the lease
                    // is checked right before the push.
                    if let Err(error) = lock.renew(&current, landing.ttl) {
                        if matches!(error, ExternalLockError::Lost { .. }) {
                            *handle = None;
                        }
                        return Err(error.into());
                    }
                }
                let result = remote::push(git, landing.remote, &refspecs, &leases, options)?;
                classify(result, &branch_ref, landing)
            }
            LockState::None => {
                let tree = git.empty_tree()?;
                let record = EmergencyRecord {
                    branch: landing.branch,
                    holder: landing.holder,
                    at: now_ms(),
                    head: landing.head,
                    upstream: landing.upstream,
                };
                let message =
                    serde_json::to_string(&record).map_err(|error| PushError::Unsafe {
                        reason: format!("cannot write the emergency record: {error}"),
                    })?;
                let sha = git.internal_commit(&tree, &[], &message)?;
                refspecs.push(format!("+{sha}:{EMERGENCY_NAMESPACE}{}", landing.branch));
                let result = remote::push(git, landing.remote, &refspecs, &leases, options)?;
                classify(result, &branch_ref, landing)
            }
        }
    }

    /// Forgets a git lock that a landing push deleted without our hearing
    /// of it (the connection dropped after the remote took the push).
    pub(crate) fn forget_released(&self) {
        if let LockState::Git(lease) = self
            && let Some(lease) = guard(lease).as_mut()
        {
            lease.held = None;
        }
    }

    /// Gives the lock back if it is still held. Failures are warnings: the
    /// lock expires on its own. Returns whether it was given back.
    pub(crate) fn release(&self) -> bool {
        match self {
            LockState::None => false,
            LockState::Git(lease) => {
                let mut lease = guard(lease);
                let Some(lease) = lease.as_mut() else {
                    return false;
                };
                let Some(held) = lease.held.take() else {
                    return false;
                };
                match lease.lock.release(&held) {
                    Ok(true) => true,
                    Ok(false) => {
                        tracing::warn!("the push lock had been taken over; nothing to release");
                        false
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not release the push lock; it expires on its own");
                        false
                    }
                }
            }
            LockState::External(lease) => {
                let mut lease = guard(lease);
                let ExternalLease { lock, handle } = &mut *lease;
                let Some(current) = handle.take() else {
                    return false;
                };
                match lock.release(&current) {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::warn!(%error, "could not release the push lease; it expires on its own");
                        false
                    }
                }
            }
        }
    }
}

/// The error of a landing push's result, if any.
fn classify(result: PushResult, branch_ref: &str, landing: &Landing<'_>) -> Result<(), PushError> {
    match result {
        PushResult::Done => Ok(()),
        PushResult::Refused(updates) => {
            if updates
                .iter()
                .any(|u| u.to == branch_ref && u.lease_broken())
            {
                return Err(PushError::BranchMoved {
                    remote: landing.remote.to_string(),
                    branch: landing.branch.to_string(),
                });
            }
            let culprit = updates
                .iter()
                .find(|u| u.rejected() && !u.atomic_collateral())
                .or(updates.first());
            let (reference, reason) = culprit
                .map(|u| (u.to.clone(), u.summary.clone()))
                .unwrap_or_default();
            if culprit.is_some_and(|u| u.refused_for_good()) {
                Err(PushError::Rejected { reference, reason })
            } else {
                Err(PushError::Transient {
                    message: format!("{reference}: {reason}"),
                })
            }
        }
        PushResult::Failed { message } => {
            if remote::failure_is_permanent(&message) {
                Err(PushError::Rejected {
                    reference: branch_ref.to_string(),
                    reason: message,
                })
            } else {
                Err(PushError::Transient { message })
            }
        }
    }
}

/// The thread renewing the lock.
pub(crate) struct KeepAlive {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl KeepAlive {
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// For the report.
pub(crate) fn waited_ms(grant: &Grant) -> u64 {
    millis(grant.waited)
}
