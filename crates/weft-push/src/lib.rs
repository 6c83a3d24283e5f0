//! weft's safe-push engine: `weft push` lands local commits on a busy
//! branch. It takes a push lock (a lock ref on the remote, an external
//! lease, or none), fetches, rebases resolving conflicts by path policy,
//! pushes atomically under leases, retries with backoff and full jitter,
//! and on failure or interruption puts the repository back exactly as it
//! was.
//!
//! [`PushSettings`] resolves one push from weft.yaml and the command line;
//! [`Pusher`] runs it (see `engine` for how); [`status()`] and [`cleanup()`]
//! serve `weft push status` and `weft push cleanup`. The crate drives the
//! `git` command line and is synchronous.

mod aside;
mod backoff;
mod backup;
mod batch;
mod cat_file;
mod cleanup;
mod engine;
mod error;
mod git;
mod git_lock;
mod holder;
mod interrupt;
mod lease;
mod lock;
mod log;
mod objects;
mod queue;
mod rebase;
mod recovery;
mod remote;
mod replay;
mod report;
mod settings;
mod state;
mod status;
mod union;

pub use backoff::Backoff;
pub use cleanup::{CleanupReport, cleanup};
pub use engine::{Pusher, locate};
pub use error::{ErrorClass, ExternalLockError, PushError, PushFailure, SettingsError, Step};
pub use git_lock::{LOCK_NAMESPACE, LockRecord, lock_ref, now_ms};
pub use holder::Holder;
pub use interrupt::Interrupt;
pub use lease::EMERGENCY_NAMESPACE;
pub use lock::{ExternalLock, LockHandle, LockMode, LockRequest};
pub use log::{LOG_FILE, LogEntry};
pub use queue::{QueueRecord, RECEIPT_NAMESPACE, Receipt, WAITING_NAMESPACE, WaitRecord};
pub use rebase::Resolution;
pub use report::{
    BatchedPush, FailureReport, LandedCommit, LockReport, Progress, PushOutcome, PushReport,
    Recovery,
};
pub use settings::{
    DATA_GLOBS, DEFAULT_LOCK_TTL, DEFAULT_LOCK_WAIT, DEFAULT_RETRIES, PathPolicy, PolicyRules,
    PolicySource, PushRequest, PushSettings,
};
pub use state::STATE_FILE;
pub use status::{LocalRun, LockStatus, PushStatus, WaiterStatus, status};
