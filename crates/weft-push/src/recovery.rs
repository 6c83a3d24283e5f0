//! Repairing what a killed `weft push` left: a rebase stopped half-way, a
//! moved branch, set-aside changes, a lock ref on the remote.
//!
//! The state file says how far the run got. If its push had landed, the
//! branch is put at what landed and set-aside changes are put back; else
//! everything is restored from the backup. Its lock is deleted under a
//! lease on the sha it held, so a lock someone else has since taken is left
//! alone.

use std::path::Path;

use crate::aside::{self, Reapplied};
use crate::backup::abort_operation;
use crate::error::PushError;
use crate::git::Git;
use crate::git_lock::read_record;
use crate::holder::host_name;
use crate::queue::QueueRecord;
use crate::remote::{self, Lease, PushOptions, PushResult};
use crate::report::Recovery;
use crate::state::{RemoteRef, RunState};

/// Repairs a killed run's leftovers; `None` when there are none.
/// [`PushError::Busy`] when the run is still alive.
pub(crate) fn recover(git: &Git, git_dir: &Path) -> Result<Option<Recovery>, PushError> {
    let Some(state) = RunState::load(git_dir)? else {
        return Ok(None);
    };
    if state.is_running(&host_name()) {
        return Err(PushError::Busy { pid: state.pid });
    }
    tracing::info!(pid = state.pid, step = ?state.step, "repairing what a killed weft push left");
    let mut actions = Vec::new();
    if abort_operation(git, git_dir)? {
        actions.push("aborted the rebase it left half-way".to_string());
    }
    let mut landed = match (&state.landing, state.landed) {
        (Some(sha), true) => Some(sha.clone()),
        (Some(sha), false) if has_landed(git, &state, sha) => Some(sha.clone()),
        _ => None,
    };
    if let Some(waiting) = &state.waiting {
        match queue_entry(git, &state.remote, waiting) {
            QueueEntry::Receipt(head) => {
                actions.push(format!(
                    "its commits were landed by the lock holder while it waited ({})",
                    short(&head)
                ));
                landed = Some(head);
            }
            QueueEntry::Waiting => {
                delete(git, &state.remote, waiting);
                actions.push("left the queue it was waiting in".to_string());
            }
            QueueEntry::Gone => {}
        }
    }
    match &landed {
        Some(sha) => {
            if !git
                .run(&["cat-file", "-e", &format!("{sha}^{{commit}}")])?
                .success
            {
                let _ = remote::fetch_branch(git, &state.remote, &state.branch);
            }
            state.backup.head.point_at(git, sha)?;
            git.ok(&["read-tree", "--reset", "-u", "HEAD"])?;
            actions.push(format!(
                "its push of {} had landed; the branch is at it",
                short(sha)
            ));
            if let Some(set_aside) = &state.set_aside {
                match aside::reapply(git, set_aside)? {
                    Reapplied::Kept => {
                        actions.push("put back its uncommitted changes".to_string());
                    }
                    Reapplied::Stashed(name) => actions.push(format!(
                        "its uncommitted changes conflict with what landed; they are in {name}"
                    )),
                }
            }
        }
        None => {
            state.backup.restore(git, git_dir)?;
            actions.push(format!(
                "restored the branch, index and working tree from refs/weft/backup/{}",
                state.backup.head.key()
            ));
        }
    }
    if let Some(lock) = &state.lock {
        let result = remote::push(
            git,
            &state.remote,
            &[format!(":{}", lock.reference)],
            &[Lease::new(lock.reference.clone(), Some(&lock.sha))],
            PushOptions {
                atomic: true,
                hooks: false,
            },
        );
        actions.push(match result {
            Ok(PushResult::Done) => format!("released its push lock {}", lock.reference),
            Ok(PushResult::Refused(_)) => format!(
                "its push lock {} was already released or taken over",
                lock.reference
            ),
            Ok(PushResult::Failed { message }) => format!(
                "could not release its push lock {} ({message}); it expires on its own",
                lock.reference
            ),
            Err(error) => format!(
                "could not release its push lock {} ({error}); it expires on its own",
                lock.reference
            ),
        });
    }
    forget(git, git_dir, &state)?;
    Ok(Some(Recovery {
        pid: state.pid,
        step: state.step,
        actions,
    }))
}

/// What a killed waiter's queue ref has become.
enum QueueEntry {
    /// A receipt: a holder landed its commits; the sha they landed as.
    Receipt(String),
    Waiting,
    Gone,
}

fn queue_entry(git: &Git, remote_name: &str, waiting: &RemoteRef) -> QueueEntry {
    let receipt_ref = crate::queue::receipt_ref(&waiting.reference);
    let Ok(listed) = remote::list(git, remote_name, &[&waiting.reference, &receipt_ref]) else {
        return QueueEntry::Gone;
    };
    if listed
        .iter()
        .any(|(sha, name)| *name == waiting.reference && *sha == waiting.sha)
    {
        return QueueEntry::Waiting;
    }
    let Some((sha, _)) = listed.into_iter().find(|(_, name)| *name == receipt_ref) else {
        return QueueEntry::Gone;
    };
    match read_record::<QueueRecord>(git, remote_name, &receipt_ref, &sha) {
        Ok(Some(QueueRecord {
            landed: Some(receipt),
            ..
        })) => {
            let _ = remote::fetch_objects(git, remote_name, &receipt_ref);
            QueueEntry::Receipt(receipt.head)
        }
        _ => QueueEntry::Gone,
    }
}

/// Deletes a queue ref of ours, whatever it points at now.
fn delete(git: &Git, remote_name: &str, waiting: &RemoteRef) {
    let Ok(listed) = remote::list(git, remote_name, &[&waiting.reference]) else {
        return;
    };
    if let Some((sha, _)) = listed
        .into_iter()
        .find(|(_, name)| *name == waiting.reference)
    {
        let _ = remote::push(
            git,
            remote_name,
            &[format!(":{}", waiting.reference)],
            &[Lease::new(waiting.reference.clone(), Some(&sha))],
            PushOptions {
                atomic: true,
                hooks: false,
            },
        );
    }
}

/// Deletes a run's backup refs and state file.
pub(crate) fn forget(git: &Git, git_dir: &Path, state: &RunState) -> Result<(), PushError> {
    state.backup.delete(git)?;
    let key = state.backup.head.key();
    let mut input = format!("delete {}\n", aside::reference(key));
    input.push_str(&format!(
        "delete {}{}\n",
        remote::FETCHED_NAMESPACE,
        state.branch
    ));
    git.command(&["update-ref", "--stdin"])
        .input(input.into_bytes())
        .ok()?;
    RunState::remove(git_dir)
}

/// Whether the commit a run was pushing is on the remote branch.
pub(crate) fn has_landed(git: &Git, state: &RunState, sha: &str) -> bool {
    match remote::fetch_branch(git, &state.remote, &state.branch) {
        Ok(Some(upstream)) => git.is_ancestor(sha, &upstream).unwrap_or(false),
        _ => false,
    }
}

pub(crate) fn short(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}
