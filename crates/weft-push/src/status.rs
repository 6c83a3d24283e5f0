//! `weft push status`: who holds the push lock of each branch, who waits,
//! whether a run is going on here, and the recent pushes of this clone.

use std::path::Path;

use serde::Serialize;

use crate::engine::{chain, locate};
use crate::error::{PushError, Step};
use crate::git::Git;
use crate::git_lock::{LOCK_NAMESPACE, LockRecord, now_ms, read_record};
use crate::holder::host_name;
use crate::log::{self, LogEntry};
use crate::queue::{QueueRecord, RECEIPT_NAMESPACE, Receipt, WAITING_NAMESPACE, WaitRecord};
use crate::remote;
use crate::state::RunState;

/// One lock ref on the remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockStatus {
    pub branch: String,
    pub reference: String,
    pub sha: String,
    /// `None` when the record could not be read (see `error`).
    pub record: Option<LockRecord>,
    /// Whether others may take it over.
    pub expired: bool,
    /// Milliseconds until it expires (negative: since it expired).
    pub expires_in_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How long a receipt stays before `weft push cleanup` deletes it (its
/// waiter deletes it as soon as it has read it).
pub(crate) const RECEIPT_STALE_MS: u64 = 600_000;

/// One entry of a branch's queue on the remote: a waiter, or the receipt
/// a holder left for a waiter whose commits it landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaiterStatus {
    pub reference: String,
    pub sha: String,
    pub record: Option<WaitRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Past its deadline (its run is gone), or a receipt nobody read.
    pub stale: bool,
}

/// A run recorded in this clone's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalRun {
    pub pid: u32,
    pub branch: String,
    pub step: Step,
    /// False when it was killed: `weft push cleanup` repairs it.
    pub alive: bool,
}

/// The answer of `weft push status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushStatus {
    pub remote: String,
    /// When the status was taken (milliseconds since the Unix epoch).
    pub now: u64,
    pub locks: Vec<LockStatus>,
    pub waiters: Vec<WaiterStatus>,
    pub local_run: Option<LocalRun>,
    /// This clone's last pushes, oldest first.
    pub recent: Vec<LogEntry>,
}

/// The remote's push locks and waiters, and this clone's runs.
pub fn status(directory: &Path, remote_name: &str, recent: usize) -> Result<PushStatus, PushError> {
    let (root, git_dir) = locate(directory)?;
    let git = Git::new(root);
    let (locks, waiters) = remote_locks(&git, remote_name)?;
    let local_run = RunState::load(&git_dir)?.map(|state| LocalRun {
        alive: state.is_running(&host_name()) || state.pid == std::process::id(),
        pid: state.pid,
        branch: state.branch,
        step: state.step,
    });
    Ok(PushStatus {
        remote: remote_name.to_string(),
        now: now_ms(),
        locks,
        waiters,
        local_run,
        recent: log::recent(&git_dir, recent)?,
    })
}

/// Every lock and waiter of the remote, with their records.
pub(crate) fn remote_locks(
    git: &Git,
    remote_name: &str,
) -> Result<(Vec<LockStatus>, Vec<WaiterStatus>), PushError> {
    let patterns = [
        format!("{LOCK_NAMESPACE}*"),
        format!("{WAITING_NAMESPACE}*"),
        format!("{RECEIPT_NAMESPACE}*"),
    ];
    let listed = remote::list(
        git,
        remote_name,
        &[
            patterns[0].as_str(),
            patterns[1].as_str(),
            patterns[2].as_str(),
        ],
    )?;
    let now = now_ms();
    let mut locks = Vec::new();
    let mut waiters = Vec::new();
    for (sha, reference) in listed {
        if let Some(branch) = reference.strip_prefix(LOCK_NAMESPACE) {
            let (record, error) =
                match read_record::<LockRecord>(git, remote_name, &reference, &sha) {
                    Ok(record) => (record, None),
                    Err(error) => (None, Some(chain(&error))),
                };
            let expires_at = record.as_ref().map_or(0, |r| r.expires_at);
            locks.push(LockStatus {
                branch: branch.to_string(),
                expired: expires_at <= now,
                expires_in_ms: i64::try_from(i128::from(expires_at) - i128::from(now)).unwrap_or(0),
                reference,
                sha,
                record,
                error,
            });
        } else if reference.starts_with(WAITING_NAMESPACE)
            || reference.starts_with(RECEIPT_NAMESPACE)
        {
            let record = read_record::<QueueRecord>(git, remote_name, &reference, &sha)
                .ok()
                .flatten()
                .unwrap_or_default();
            let stale = match (&record.waiting, &record.landed) {
                (Some(waiting), _) => waiting.expires_at <= now,
                (None, Some(receipt)) => receipt.at.saturating_add(RECEIPT_STALE_MS) <= now,
                (None, None) => true,
            };
            waiters.push(WaiterStatus {
                stale,
                reference,
                sha,
                record: record.waiting,
                receipt: record.landed,
            });
        }
    }
    Ok((locks, waiters))
}
