//! `weft push cleanup`: repair what a killed run left in this clone, and
//! delete expired locks and stale waiters on the remote (under leases, so a
//! lock taken meanwhile is left alone).

use std::path::Path;

use serde::Serialize;

use crate::backup::rebase_in_progress;
use crate::engine::locate;
use crate::error::PushError;
use crate::git::Git;
use crate::recovery::recover;
use crate::remote::{self, Lease, PushOptions, PushResult};
use crate::report::Recovery;
use crate::state::RunState;
use crate::status::remote_locks;

/// What `weft push cleanup` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// The killed run repaired, if any.
    pub recovered: Option<Recovery>,
    /// Everything else done or left alone, one sentence each.
    pub actions: Vec<String>,
}

/// Repairs this clone and clears the remote's expired locks.
pub fn cleanup(directory: &Path, remote_name: &str) -> Result<CleanupReport, PushError> {
    let (root, git_dir) = locate(directory)?;
    let git = Git::new(root);
    let mut report = CleanupReport {
        recovered: recover(&git, &git_dir)?,
        ..CleanupReport::default()
    };
    if report.recovered.is_none() && rebase_in_progress(&git_dir) {
        report.actions.push(
            "a rebase is in progress that weft push did not start; it is left alone".to_string(),
        );
    }
    if RunState::load(&git_dir)?.is_none() {
        let stale = stale_backup_refs(&git)?;
        if !stale.is_empty() {
            let input: String = stale.iter().map(|r| format!("delete {r}\n")).collect();
            git.command(&["update-ref", "--stdin"])
                .input(input.into_bytes())
                .ok()?;
            report
                .actions
                .push(format!("deleted {} backup refs no run needs", stale.len()));
        }
    }
    let (locks, waiters) = remote_locks(&git, remote_name)?;
    for lock in locks {
        let holder = lock.record.as_ref().map_or_else(
            || "an unreadable record".to_string(),
            |r| r.holder.describe(),
        );
        if !lock.expired {
            report.actions.push(format!(
                "the push lock of {} is held by {holder} for {}s more; left alone",
                lock.branch,
                lock.expires_in_ms / 1000
            ));
            continue;
        }
        report.actions.push(
            match delete(&git, remote_name, &lock.reference, &lock.sha) {
                Ok(true) => format!(
                    "deleted the expired push lock of {} (held by {holder})",
                    lock.branch
                ),
                Ok(false) => format!(
                    "the expired push lock of {} changed meanwhile; left alone",
                    lock.branch
                ),
                Err(error) => format!(
                    "could not delete the expired push lock of {}: {error}",
                    lock.branch
                ),
            },
        );
    }
    for waiter in waiters.into_iter().filter(|w| w.stale) {
        if let Ok(true) = delete(&git, remote_name, &waiter.reference, &waiter.sha) {
            report
                .actions
                .push(format!("deleted the stale waiter {}", waiter.reference));
        }
    }
    Ok(report)
}

fn delete(git: &Git, remote_name: &str, reference: &str, sha: &str) -> Result<bool, PushError> {
    let result = remote::push(
        git,
        remote_name,
        &[format!(":{reference}")],
        &[Lease::new(reference.to_string(), Some(sha))],
        PushOptions {
            atomic: true,
            hooks: false,
        },
    )?;
    match result {
        PushResult::Done => Ok(true),
        PushResult::Refused(_) => Ok(false),
        PushResult::Failed { message } => Err(PushError::Transient { message }),
    }
}

/// Backup refs left by a run killed before it wrote its state file.
fn stale_backup_refs(git: &Git) -> Result<Vec<String>, PushError> {
    let output = git.ok(&[
        "for-each-ref",
        "--format=%(refname)",
        "refs/weft/backup",
        "refs/weft/backup-index",
        "refs/weft/backup-worktree",
        "refs/weft/backup-set-aside",
        "refs/weft/fetched",
    ])?;
    Ok(output.lines().map(str::to_string).collect())
}
