//! The state file of a run in progress (`.git/weft-push.json`): which process
//! runs, at which step, where its backup is, which lock it holds. The next
//! `weft push` or `weft push cleanup` reads it to recognise a run that was
//! killed and to repair what it left.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::backup::Snapshot;
use crate::error::{PushError, Step};

/// The file name under the git directory.
pub const STATE_FILE: &str = "weft-push.json";

/// How long a run recorded by another host counts as running.
const OTHER_HOST_STALE_MS: u64 = 3_600_000;

/// Uncommitted changes to tracked files, set aside while the run rebases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SetAside {
    /// The commit the changes were made against.
    pub(crate) base: String,
    /// The tracked files with the changes, as a tree.
    pub(crate) tree: String,
}

/// A ref of the remote the run created and must delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RemoteRef {
    pub(crate) reference: String,
    pub(crate) sha: String,
}

/// One run of `weft push`, as recorded for whoever comes next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunState {
    pub(crate) pid: u32,
    /// The process's start time in clock ticks since boot (Linux), so that a
    /// reused pid is not taken for the run.
    #[serde(default)]
    pub(crate) start_ticks: Option<u64>,
    pub(crate) host: String,
    pub(crate) started_at: u64,
    pub(crate) remote: String,
    pub(crate) branch: String,
    pub(crate) step: Step,
    pub(crate) backup: Snapshot,
    #[serde(default)]
    pub(crate) committed: Option<String>,
    #[serde(default)]
    pub(crate) set_aside: Option<SetAside>,
    #[serde(default)]
    pub(crate) lock: Option<RemoteRef>,
    /// Our place in the branch's queue while waiting for the lock.
    #[serde(default)]
    pub(crate) waiting: Option<RemoteRef>,
    /// The commit being pushed, written just before the push.
    #[serde(default)]
    pub(crate) landing: Option<String>,
    /// Set once the push succeeded.
    #[serde(default)]
    pub(crate) landed: bool,
}

impl RunState {
    pub(crate) fn path(git_dir: &Path) -> PathBuf {
        git_dir.join(STATE_FILE)
    }

    pub(crate) fn load(git_dir: &Path) -> Result<Option<RunState>, PushError> {
        let path = RunState::path(git_dir);
        let text = match fs_err::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(PushError::io(&path)(error)),
        };
        match serde_json::from_str(&text) {
            Ok(state) => Ok(Some(state)),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring an unreadable state file");
                Ok(None)
            }
        }
    }

    /// Writes the file atomically (a temporary file renamed over it).
    pub(crate) fn save(&self, git_dir: &Path) -> Result<(), PushError> {
        let path = RunState::path(git_dir);
        let temporary = git_dir.join(format!("{STATE_FILE}.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(self).map_err(|error| PushError::Unsafe {
            reason: format!("cannot write the state file: {error}"),
        })?;
        fs_err::write(&temporary, text).map_err(PushError::io(&temporary))?;
        fs_err::rename(&temporary, &path).map_err(PushError::io(&path))?;
        Ok(())
    }

    pub(crate) fn remove(git_dir: &Path) -> Result<(), PushError> {
        let path = RunState::path(git_dir);
        match fs_err::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(PushError::io(&path)(error)),
        }
    }

    /// Whether the process that wrote the state still runs (on this host).
    pub(crate) fn is_running(&self, host: &str) -> bool {
        if self.pid == std::process::id() {
            return false;
        }
        if self.host != host {
            // Another machine (or container) shares this directory: its
            // process cannot be checked, so it counts as running for an hour.
            return crate::git_lock::now_ms().saturating_sub(self.started_at) < OTHER_HOST_STALE_MS;
        }
        is_alive(self.pid, self.start_ticks)
    }
}

/// A process's start time in clock ticks since boot, from `/proc`.
pub(crate) fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last `)`. `starttime` is the 22nd field, the 20th after it.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Whether `pid` is alive and, when known, started at `ticks`.
pub(crate) fn is_alive(pid: u32, ticks: Option<u64>) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if Path::new("/proc/self/stat").exists() {
        return match (start_ticks(pid), ticks) {
            (None, _) => false,
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
        };
    }
    let pid = nix::unistd::Pid::from_raw(raw);
    matches!(
        nix::sys::signal::kill(pid, None),
        Ok(()) | Err(nix::errno::Errno::EPERM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let pid = std::process::id();
        let ticks = start_ticks(pid);
        assert!(is_alive(pid, ticks));
        if let Some(ticks) = ticks {
            assert!(!is_alive(pid, Some(ticks + 1)));
        }
        assert!(!is_alive(u32::MAX - 1, None));
    }
}
