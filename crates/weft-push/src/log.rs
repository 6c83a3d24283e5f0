//! The local push log (`.git/weft-push-log.jsonl`): one JSON line per run,
//! read back by `weft push status` as the recent pushes.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::PushError;
use crate::report::{PushOutcome, PushReport};

/// The file name under the git directory.
pub const LOG_FILE: &str = "weft-push-log.jsonl";

/// One run, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// When it ended, in milliseconds since the Unix epoch.
    pub at: u64,
    pub remote: String,
    pub branch: String,
    /// `landed`, `nothing_to_push` or `failed`.
    pub outcome: String,
    /// Commits landed.
    pub landed: usize,
    #[serde(default)]
    pub head: Option<String>,
    pub attempts: u32,
    pub lock: String,
    pub lock_waited_ms: u64,
    #[serde(default)]
    pub token: Option<u64>,
    pub conflicts: usize,
    pub emergency: bool,
    pub duration_ms: u64,
    #[serde(default)]
    pub error: Option<String>,
    pub pid: u32,
}

impl LogEntry {
    pub(crate) fn of(report: &PushReport, at: u64) -> Self {
        LogEntry {
            at,
            remote: report.remote.clone(),
            branch: report.branch.clone(),
            outcome: match report.outcome {
                PushOutcome::Landed => "landed",
                PushOutcome::NothingToPush => "nothing_to_push",
                PushOutcome::Failed => "failed",
            }
            .to_string(),
            landed: report.landed.len(),
            head: report.head.clone(),
            attempts: report.attempts,
            lock: report.lock.mode.clone(),
            lock_waited_ms: report.lock.waited_ms,
            token: report.lock.token,
            conflicts: report.conflicts.len(),
            emergency: report.emergency,
            duration_ms: report.duration_ms,
            error: report.failure.as_ref().map(|f| f.message.clone()),
            pid: std::process::id(),
        }
    }
}

/// Appends one entry.
pub(crate) fn append(git_dir: &Path, entry: &LogEntry) -> Result<(), PushError> {
    let path = git_dir.join(LOG_FILE);
    let mut line = serde_json::to_string(entry).map_err(|error| PushError::Unsafe {
        reason: format!("cannot write the push log: {error}"),
    })?;
    line.push('\n');
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(PushError::io(&path))?;
    file.write_all(line.as_bytes())
        .map_err(PushError::io(&path))?;
    Ok(())
}

/// The last `count` entries, oldest first; unreadable lines are skipped.
pub(crate) fn recent(git_dir: &Path, count: usize) -> Result<Vec<LogEntry>, PushError> {
    let path = git_dir.join(LOG_FILE);
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(PushError::io(&path)(error)),
    };
    let entries: Vec<LogEntry> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let skip = entries.len().saturating_sub(count);
    Ok(entries.into_iter().skip(skip).collect())
}
