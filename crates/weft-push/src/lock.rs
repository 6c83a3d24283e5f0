//! The push lock: which kind a push takes, and the interface of a lock held
//! elsewhere (the coordination server) so that the engine stays free of HTTP.

use std::time::Duration;

use crate::error::ExternalLockError;
use crate::holder::Holder;
use crate::interrupt::Interrupt;

/// What a push asks of a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    /// What is locked: `branch:<remote>/<branch>`, where `<remote>` is the
    /// remote's URL when it has one (so that clones naming it differently
    /// share the lock).
    pub resource: String,
    pub holder: Holder,
    /// A higher priority is served first.
    pub priority: Option<i64>,
    /// A named class the server maps to a priority.
    pub class: Option<String>,
    /// How long the lease lives unless renewed.
    pub ttl: Duration,
    /// How long [`ExternalLock::acquire`] may wait before it gives up.
    pub wait: Duration,
}

/// A lease granted by an external lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHandle {
    /// The lease, as the service names it.
    pub lease_id: String,
    /// The fencing token: larger for every new holder of the resource.
    pub token: u64,
}

/// A lock held by a service outside the repository (the coordination
/// server). The engine calls `acquire` once, `renew` from a keep-alive
/// thread every third of the TTL and right before it lands, and `release`
/// always, on success, failure and interruption.
pub trait ExternalLock: Send {
    /// Blocks until the lease is granted, `request.wait` passes
    /// ([`ExternalLockError::TimedOut`]) or `interrupt` is raised
    /// ([`ExternalLockError::Interrupted`]).
    fn acquire(
        &mut self,
        request: &LockRequest,
        interrupt: &Interrupt,
    ) -> Result<LockHandle, ExternalLockError>;

    /// Extends the lease by `ttl`; [`ExternalLockError::Lost`] when it has
    /// expired or been taken over.
    fn renew(&mut self, handle: &LockHandle, ttl: Duration) -> Result<(), ExternalLockError>;

    /// Gives the lease back.
    fn release(&mut self, handle: &LockHandle) -> Result<(), ExternalLockError>;
}

/// Which lock a push takes.
pub enum LockMode {
    /// A lock ref on the remote (`refs/weft/locks/<branch>`), taken and
    /// released with atomic pushes under `--force-with-lease`.
    Git,
    /// A lease from an external service.
    External(Box<dyn ExternalLock>),
    /// No lock (`--emergency`): recorded, and still never forces over
    /// others' commits.
    None,
}

impl LockMode {
    /// `git`, `external` or `none`.
    pub fn name(&self) -> &'static str {
        match self {
            LockMode::Git => "git",
            LockMode::External(_) => "external",
            LockMode::None => "none",
        }
    }
}

impl std::fmt::Debug for LockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockMode::{}", self.name())
    }
}
