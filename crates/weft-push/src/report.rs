//! What a push did, for people (progress events) and for programs (the
//! report printed by `--format json` and kept in the push log).

use std::time::Duration;

use serde::Serialize;

use crate::error::{ErrorClass, Step};
use crate::rebase::Resolution;

/// How a push ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushOutcome {
    /// The commits are on the remote branch.
    Landed,
    /// There was nothing to push.
    NothingToPush,
    /// It failed; the repository was restored.
    #[default]
    Failed,
}

/// A commit that landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LandedCommit {
    pub sha: String,
    pub subject: String,
}

/// How the push lock went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LockReport {
    /// `git`, `external` or `none`.
    pub mode: String,
    /// Time spent waiting for it, in milliseconds.
    pub waited_ms: u64,
    /// Time it was held (from taken to released), in milliseconds.
    pub held_ms: u64,
    /// The fencing token held at the end.
    pub token: Option<u64>,
    /// The holder of an expired lock this run took over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<String>,
    /// How many times the lock was lost to a takeover and taken again.
    pub fenced: u32,
    /// Whether it was given back (by the landing push or afterwards).
    pub released: bool,
    /// The holder that landed our commits while we waited (batching).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batched_by: Option<String>,
}

/// A waiter whose commits this run landed with its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchedPush {
    pub waiter: String,
    pub commits: usize,
}

/// What the run found left by a killed run, and did about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// The killed run's process.
    pub pid: u32,
    /// The step it was killed in.
    pub step: Step,
    /// What was done, one sentence each.
    pub actions: Vec<String>,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureReport {
    pub step: Step,
    pub message: String,
    pub class: ErrorClass,
    /// `restored`, `nothing to restore`, or why restoring failed.
    pub restored: String,
}

/// The result of one `weft push`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub remote: String,
    pub branch: String,
    pub outcome: PushOutcome,
    /// The commits that landed, oldest first.
    pub landed: Vec<LandedCommit>,
    /// The commit made of the staged changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committed: Option<String>,
    /// The remote branch before the push (`None`: it did not exist).
    pub upstream: Option<String>,
    /// The remote branch after it.
    pub head: Option<String>,
    /// Fetch-rebase-push attempts made.
    pub attempts: u32,
    pub lock: LockReport,
    /// Conflicts resolved by policy, across attempts.
    pub conflicts: Vec<Resolution>,
    /// Waiters whose commits landed with ours.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batched: Vec<BatchedPush>,
    /// `--emergency`: no lock was taken.
    pub emergency: bool,
    /// What became of uncommitted changes to tracked files: `kept`, or
    /// stashed (with the stash's name) when they conflict with what landed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncommitted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Recovery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureReport>,
    pub duration_ms: u64,
}

/// What the engine reports while it works; the command line prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A killed run's leftovers were repaired.
    Recovered(Recovery),
    /// The staged changes were committed.
    Committed { sha: String, subject: String },
    /// Uncommitted changes to tracked files were set aside for the rebase.
    SetAside,
    /// The lock is held by someone else.
    Waiting {
        holder: String,
        expires_in: Duration,
    },
    /// The lock expired; taking it over.
    TakingOver { holder: String },
    /// The lock is ours.
    Locked {
        mode: &'static str,
        token: Option<u64>,
        waited: Duration,
    },
    /// `--emergency`: going without a lock.
    NoLock,
    /// The remote branch was fetched.
    Fetched { upstream: Option<String> },
    /// A conflict was resolved.
    Resolved(Resolution),
    /// The local commits are on top of the remote branch.
    Rebased { commits: usize },
    /// The push is being sent.
    Landing { commits: usize },
    /// The commits landed.
    Landed { commits: usize, head: String },
    /// The holder of the lock landed our commits with its own.
    Batched { by: String, commits: usize },
    /// We landed the commits of waiters with ours.
    LandedForOthers { waiters: usize, commits: usize },
    /// Nothing to push.
    NothingToPush,
    /// An attempt failed and will be retried after `wait`.
    Retrying {
        attempt: u32,
        reason: String,
        wait: Duration,
    },
    /// The lock was lost to a takeover; taking it again.
    Fenced { by: String },
    /// The lock was given back.
    Released,
    /// The repository was put back as it was.
    Restored,
    /// Set-aside changes could not be re-applied; they are in a stash.
    Stashed { name: String },
}
