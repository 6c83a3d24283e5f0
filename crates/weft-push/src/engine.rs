//! The push engine: one run of `weft push`.
//!
//! How it works:
//! 1. **Prepare**: repair what a killed run left (see `recovery`), refuse a
//!    repository in the middle of a merge or rebase, then back up HEAD, the
//!    index and the tracked files (see `backup`) and write the state file.
//! 2. **Commit** what is staged (after `--add`), and set aside remaining
//!    changes to tracked files so that the rebase can run.
//! 3. **Lock**: the git lock ref, an external lease, or none (`--emergency`).
//!    A keep-alive thread renews it every third of its TTL. While waiting in
//!    line, a holder may land our commits with its own: then we find a
//!    receipt, move the branch to what landed, and are done (see `queue`).
//! 4. **Fetch** the remote branch, **rebase** the local commits onto it
//!    resolving conflicts by path policy (see `replay` and `rebase`), add
//!    the commits of those waiting in line (see `batch`), and **land**: one
//!    atomic push of the branch (leased on the fetched sha, so only ever a
//!    fast-forward of what was fetched), of the lock ref's deletion (leased
//!    on our lock's sha, so a holder whose lock was taken over lands
//!    nothing) and of the batched waiters' receipts.
//! 5. A rejected or failed push goes back to 4 after a full-jitter backoff,
//!    at most `retries` times; a lost lock is taken again first.
//! 6. The lock is released in every case. On failure (or SIGINT/SIGTERM)
//!    the rebase is aborted and the backup restored exactly; on success the
//!    set-aside changes are put back. The run is appended to the push log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aside;
use crate::backoff::Backoff;
use crate::backup::{HeadState, Snapshot, operation_in_progress};
use crate::batch::{self, Batch, BatchRequest};
use crate::error::{PushError, PushFailure, Step};
use crate::git::{Git, split_nul};
use crate::git_lock::Batched;
use crate::git_lock::now_ms;
use crate::interrupt::Interrupt;
use crate::lease::{Granted, KeepAlive, Landing, LockState, waited_ms};
use crate::lock::LockMode;
use crate::recovery;
use crate::remote;
use crate::report::{BatchedPush, LandedCommit, Progress, PushOutcome, PushReport};
use crate::settings::{PushSettings, check_branch};
use crate::state::{RunState, start_ticks};

mod finish;

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// One push of one repository, set up and ready to [`Pusher::run`].
pub struct Pusher {
    git: Git,
    git_dir: PathBuf,
    settings: PushSettings,
    lock: LockMode,
    interrupt: Interrupt,
    progress: ProgressFn,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("root", &self.git.directory())
            .field("settings", &self.settings)
            .field("lock", &self.lock)
            .finish_non_exhaustive()
    }
}

/// The working tree root and git directory of the repository holding
/// `directory`.
pub fn locate(directory: &Path) -> Result<(PathBuf, PathBuf), PushError> {
    let output =
        Git::new(directory).run(&["rev-parse", "--show-toplevel", "--absolute-git-dir"])?;
    let mut lines = output.stdout.lines();
    match (output.success, lines.next(), lines.next()) {
        (true, Some(root), Some(git_dir)) if !root.is_empty() => {
            Ok((PathBuf::from(root), PathBuf::from(git_dir)))
        }
        _ => Err(PushError::NotARepository {
            path: directory.to_path_buf(),
        }),
    }
}

impl Pusher {
    /// A push of the repository holding `directory`.
    pub fn open(
        directory: &Path,
        settings: PushSettings,
        lock: LockMode,
    ) -> Result<Self, PushError> {
        let (root, git_dir) = locate(directory)?;
        Ok(Pusher {
            git: Git::new(root),
            git_dir,
            settings,
            lock,
            interrupt: Interrupt::new(),
            progress: Arc::new(|_| {}),
        })
    }

    /// Stops at the next step (rolling back) when `interrupt` is raised.
    pub fn with_interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }

    /// Calls `progress` for every step.
    pub fn on_progress(mut self, progress: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Arc::new(progress);
        self
    }

    /// The repository's working tree root.
    pub fn root(&self) -> &Path {
        self.git.directory()
    }

    /// Runs the push. On failure the repository is as it was before (see
    /// [`PushFailure`]'s report) and the lock is released.
    pub fn run(self) -> Result<PushReport, PushFailure> {
        let emergency = matches!(self.lock, LockMode::None);
        let report = PushReport {
            remote: self.settings.remote.clone(),
            branch: self.settings.branch.clone().unwrap_or_default(),
            emergency,
            lock: crate::report::LockReport {
                mode: self.lock.name().to_string(),
                ..Default::default()
            },
            ..PushReport::default()
        };
        let mut run = Run {
            lock: LockState::from(self.lock),
            git: self.git,
            git_dir: self.git_dir,
            settings: self.settings,
            interrupt: self.interrupt,
            progress: self.progress,
            report,
            state: None,
            step: Step::Prepare,
            started: Instant::now(),
            keep_alive: None,
            locked_at: None,
        };
        match run.execute() {
            Ok(()) => Ok(run.succeed()),
            Err(error) => Err(run.fail(error)),
        }
    }
}

struct Run {
    git: Git,
    git_dir: PathBuf,
    settings: PushSettings,
    lock: LockState,
    interrupt: Interrupt,
    progress: ProgressFn,
    report: PushReport,
    state: Option<RunState>,
    step: Step,
    started: Instant,
    keep_alive: Option<KeepAlive>,
    /// When the lock was last taken.
    locked_at: Option<Instant>,
}

impl Run {
    fn emit(&self, progress: Progress) {
        (self.progress)(&progress);
    }

    fn branch(&self) -> String {
        self.report.branch.clone()
    }

    /// The lock was given back: account for how long it was held.
    fn mark_released(&mut self) {
        self.report.lock.released = true;
        if let Some(locked_at) = self.locked_at.take() {
            self.report.lock.held_ms += millis(locked_at.elapsed());
        }
    }

    fn set_step(&mut self, step: Step) -> Result<(), PushError> {
        self.step = step;
        if let Some(state) = &mut self.state {
            state.step = step;
            state.save(&self.git_dir)?;
        }
        Ok(())
    }

    fn save_state(&mut self, change: impl FnOnce(&mut RunState)) -> Result<(), PushError> {
        if let Some(state) = &mut self.state {
            change(state);
            state.save(&self.git_dir)?;
        }
        Ok(())
    }

    fn execute(&mut self) -> Result<(), PushError> {
        self.prepare()?;
        self.set_step(Step::Commit)?;
        let committed = self.commit()?;
        self.set_aside()?;
        if !committed && self.nothing_to_push()? {
            return Ok(());
        }
        self.set_step(Step::Lock)?;
        if !self.acquire()? {
            self.push_loop()?;
        }
        self.set_step(Step::Release)?;
        self.release();
        Ok(())
    }

    fn prepare(&mut self) -> Result<(), PushError> {
        if let Some(recovery) = recovery::recover(&self.git, &self.git_dir)? {
            self.emit(Progress::Recovered(recovery.clone()));
            self.report.recovered = Some(recovery);
        }
        if let Some(operation) = operation_in_progress(&self.git_dir) {
            return Err(PushError::OperationInProgress { operation });
        }
        let head = HeadState::current(&self.git)?;
        let branch = self
            .settings
            .branch
            .clone()
            .or_else(|| head.branch().map(str::to_string))
            .ok_or(PushError::NoBranch)?;
        check_branch(&branch).map_err(|error| PushError::Unsafe {
            reason: error.to_string(),
        })?;
        self.report.branch = branch.clone();
        self.lock.target(&self.git, &self.settings.remote, &branch);
        let backup = Snapshot::take(&self.git, &self.git_dir, head)?;
        backup.save(&self.git)?;
        let pid = std::process::id();
        let state = RunState {
            pid,
            start_ticks: start_ticks(pid),
            host: crate::holder::host_name(),
            started_at: now_ms(),
            remote: self.settings.remote.clone(),
            branch,
            step: Step::Prepare,
            backup,
            committed: None,
            set_aside: None,
            lock: None,
            waiting: None,
            landing: None,
            landed: false,
        };
        state.save(&self.git_dir)?;
        self.state = Some(state);
        Ok(())
    }

    /// Stages `--add` paths and commits what is staged. Returns whether a
    /// commit was made.
    fn commit(&mut self) -> Result<bool, PushError> {
        if !self.settings.add.is_empty() {
            let mut arguments = vec!["add", "-A", "--"];
            arguments.extend(self.settings.add.iter().map(String::as_str));
            let output = self.git.run(&arguments)?;
            if !output.success {
                return Err(PushError::Add {
                    paths: self.settings.add.clone(),
                    message: remote::first_line(&output.stderr),
                });
            }
        }
        if self.git.run(&["diff", "--cached", "--quiet"])?.success {
            return Ok(false);
        }
        let message = match &self.settings.message {
            Some(message) => message.clone(),
            None => {
                let names = self.git.ok(&["diff", "--cached", "--name-only", "-z"])?;
                default_message(&split_nul(&names).collect::<Vec<_>>())
            }
        };
        let output = self.git.run(&["commit", "-q", "-m", &message])?;
        if !output.success {
            let mut text = remote::first_line(&output.stderr);
            if text.is_empty() {
                text = remote::first_line(&output.stdout);
            }
            return Err(PushError::Commit { message: text });
        }
        let sha = self.git.line(&["rev-parse", "HEAD"])?;
        let subject = message.lines().next().unwrap_or_default().to_string();
        self.emit(Progress::Committed {
            sha: sha.clone(),
            subject,
        });
        self.report.committed = Some(sha.clone());
        self.save_state(|state| state.committed = Some(sha))?;
        Ok(true)
    }

    fn set_aside(&mut self) -> Result<(), PushError> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let key = state.backup.head.key().to_string();
        if let Some(set_aside) = aside::set_aside(&self.git, &self.git_dir, &key)? {
            self.save_state(|state| state.set_aside = Some(set_aside))?;
            aside::clear(&self.git)?;
            self.emit(Progress::SetAside);
        }
        Ok(())
    }

    /// Without a new commit, whether HEAD is already on the remote branch
    /// (so that a run with nothing to do does not wait for the lock).
    fn nothing_to_push(&mut self) -> Result<bool, PushError> {
        self.set_step(Step::Fetch)?;
        let branch = self.branch();
        let upstream = remote::fetch_branch(&self.git, &self.settings.remote, &branch)?;
        let Some(upstream) = upstream else {
            return Ok(false);
        };
        if !self.git.is_ancestor("HEAD", &upstream)? {
            return Ok(false);
        }
        self.report.upstream = Some(upstream.clone());
        self.report.head = Some(upstream);
        self.report.outcome = PushOutcome::NothingToPush;
        self.emit(Progress::NothingToPush);
        Ok(true)
    }

    /// Takes the lock. Returns true when, instead, a holder landed our
    /// commits while we waited (see `queue`): nothing is left to push.
    fn acquire(&mut self) -> Result<bool, PushError> {
        if self.lock.is_none() {
            tracing::warn!("--emergency: pushing without the push lock");
            self.emit(Progress::NoLock);
            return Ok(false);
        }
        let head = if self.settings.batch {
            Some(self.git.line(&["rev-parse", "HEAD"])?)
        } else {
            None
        };
        let progress = Arc::clone(&self.progress);
        let resource = if matches!(self.lock, LockState::External(_)) {
            self.resource()
        } else {
            String::new()
        };
        let Run {
            lock,
            settings,
            interrupt,
            state,
            git_dir,
            ..
        } = self;
        let mut queue_error = None;
        let granted = lock.acquire(
            settings,
            head.as_deref(),
            || resource,
            interrupt,
            progress.as_ref(),
            &mut |entry| {
                if let Some(state) = state.as_mut() {
                    state.waiting = entry;
                    if let Err(error) = state.save(git_dir) {
                        queue_error = Some(error);
                    }
                }
            },
        )?;
        if let Some(error) = queue_error {
            return Err(error);
        }
        let grant = match granted {
            Granted::Lock(grant) => grant,
            Granted::Batched(batched) => {
                self.finish_batched(batched)?;
                return Ok(true);
            }
        };
        if let Some(reference) = grant.reference.clone() {
            self.save_state(|state| state.lock = Some(reference))?;
        }
        self.report.lock.waited_ms += waited_ms(&grant);
        self.locked_at = Some(Instant::now());
        self.report.lock.token = grant.token;
        if grant.took_over.is_some() {
            self.report.lock.took_over_from = grant.took_over.clone();
        }
        self.emit(Progress::Locked {
            mode: grant.mode,
            token: grant.token,
            waited: grant.waited,
        });
        if self.settings.keep_alive && self.keep_alive.is_none() {
            self.keep_alive = Some(self.lock.keep_alive(self.settings.lock_ttl));
        }
        Ok(false)
    }

    /// A holder landed our commits: move the branch to them as they landed.
    fn finish_batched(&mut self, batched: Batched) -> Result<(), PushError> {
        self.set_step(Step::Land)?;
        let receipt = batched.receipt;
        let remote_name = self.settings.remote.clone();
        let have = |git: &Git| -> Result<bool, PushError> {
            Ok(git
                .run(&["cat-file", "-e", &format!("{}^{{commit}}", receipt.head)])?
                .success)
        };
        if !have(&self.git)? {
            remote::fetch_objects(&self.git, &remote_name, &batched.reference)?;
        }
        if !have(&self.git)? {
            remote::fetch_branch(&self.git, &remote_name, &self.branch())?;
        }
        let head = self.git.line(&["rev-parse", "HEAD"])?;
        let tree = self
            .git
            .line(&["rev-parse", &format!("{}^{{tree}}", receipt.head)])?;
        let by = receipt.landed_by.describe();
        crate::replay::move_head(&self.git, &head, &receipt.head, &tree, &by)?;
        let landed_head = receipt.head.clone();
        self.save_state(|state| {
            state.landing = Some(landed_head);
            state.landed = true;
            state.waiting = None;
        })?;
        self.report.lock.waited_ms += millis(batched.waited);
        self.report.lock.batched_by = Some(by.clone());
        self.report
            .conflicts
            .extend(receipt.conflicts.iter().cloned());
        self.emit(Progress::Batched {
            by,
            commits: receipt.commits.len(),
        });
        self.landed(&receipt.tip, receipt.commits.clone());
        Ok(())
    }

    /// `branch:<remote>/<branch>`, the remote named by its URL without
    /// credentials when it has one.
    fn resource(&self) -> String {
        let remote = &self.settings.remote;
        let url = self
            .git
            .line(&["remote", "get-url", remote])
            .unwrap_or_else(|_| remote.clone());
        format!("branch:{}/{}", normalize_url(&url), self.branch())
    }

    fn push_loop(&mut self) -> Result<(), PushError> {
        let mut backoff = Backoff::new(self.settings.retry_base, self.settings.retry_cap);
        let mut attempt = 0u32;
        loop {
            if self.lock.lost() {
                self.set_step(Step::Lock)?;
                if self.acquire()? {
                    return Ok(());
                }
            }
            attempt += 1;
            self.report.attempts = attempt;
            let error = match self.attempt() {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            if attempt > self.settings.retries {
                return Err(PushError::RetriesExhausted {
                    attempts: attempt,
                    last: Box::new(error),
                });
            }
            if let PushError::Fenced { by, .. } = &error {
                self.report.lock.fenced += 1;
                self.emit(Progress::Fenced { by: by.clone() });
            }
            let wait = backoff.next_wait();
            tracing::info!(attempt, %error, ?wait, "retrying");
            self.emit(Progress::Retrying {
                attempt,
                reason: error.to_string(),
                wait,
            });
            self.interrupt.sleep(wait)?;
        }
    }

    /// One fetch, rebase and push.
    fn attempt(&mut self) -> Result<(), PushError> {
        self.interrupt.check()?;
        self.set_step(Step::Fetch)?;
        let branch = self.branch();
        let remote_name = self.settings.remote.clone();
        let upstream = remote::fetch_branch(&self.git, &remote_name, &branch)?;
        self.emit(Progress::Fetched {
            upstream: upstream.clone(),
        });
        if self.report.attempts == 1 {
            self.report.upstream = upstream.clone();
        }
        // A push that failed after the remote took it (a dropped connection).
        let landing = self.state.as_ref().and_then(|s| s.landing.clone());
        if let (Some(landing), Some(upstream)) = (&landing, &upstream)
            && self.git.is_ancestor(landing, upstream)?
        {
            self.lock.forget_released();
            self.mark_released();
            let first_upstream = self.report.upstream.clone();
            let commits = self.commits_between(first_upstream.as_deref(), landing)?;
            self.landed(landing, commits);
            return Ok(());
        }
        self.interrupt.check()?;
        self.set_step(Step::Rebase)?;
        if let Some(upstream) = &upstream
            && !self.git.is_ancestor(upstream, "HEAD")?
        {
            let resolutions = crate::rebase::rebase(
                &self.git,
                &self.git_dir,
                upstream,
                &self.settings.policies,
                self.settings.replay,
                &self.interrupt,
            )?;
            for resolution in resolutions {
                self.emit(Progress::Resolved(resolution.clone()));
                self.report.conflicts.push(resolution);
            }
        }
        let new_commits = self.new_commits(upstream.as_deref())?;
        let commits = new_commits.len();
        if commits == 0 {
            self.report.outcome = PushOutcome::NothingToPush;
            self.report.head = upstream;
            self.emit(Progress::NothingToPush);
            return Ok(());
        }
        self.emit(Progress::Rebased { commits });
        let head = self.git.line(&["rev-parse", "HEAD"])?;
        if let Some(upstream) = &upstream
            && !self.git.is_ancestor(upstream, &head)?
        {
            return Err(PushError::Unsafe {
                reason: format!(
                    "the rebased branch does not contain {remote_name}/{branch}; that push would not be a fast-forward"
                ),
            });
        }
        self.interrupt.check()?;
        let batch = if self.settings.batch && self.lock.released_by_landing() {
            let request = BatchRequest {
                remote: &remote_name,
                branch: &branch,
                head: &head,
                rules: &self.settings.policies,
                limit: self.settings.batch_limit,
            };
            batch::collect(&self.git, &self.git_dir, &request, &self.interrupt)?
        } else {
            Batch {
                tip: head.clone(),
                entries: Vec::new(),
                old_receipts: Vec::new(),
                objects: None,
            }
        };
        let mut batch = batch;
        let receipts = batch::receipts(
            &self.git,
            &self.git_dir,
            &mut batch,
            &branch,
            &self.settings.holder,
            self.report.lock.token,
        )?;
        self.set_step(Step::Land)?;
        let landing = batch.tip.clone();
        self.save_state(|state| state.landing = Some(landing))?;
        self.emit(Progress::Landing { commits });
        self.land(&batch.tip, upstream.as_deref(), &receipts)?;
        self.save_state(|state| state.landed = true)?;
        self.report.batched = batch
            .entries
            .iter()
            .map(|entry| BatchedPush {
                waiter: entry.waiter.describe(),
                commits: entry.replayed.commits.len(),
            })
            .collect();
        if !batch.entries.is_empty() {
            self.emit(Progress::LandedForOthers {
                waiters: batch.entries.len(),
                commits: batch.entries.iter().map(|e| e.replayed.commits.len()).sum(),
            });
        }
        self.landed(&batch.tip, new_commits);
        Ok(())
    }

    /// Commits of HEAD not on the remote branch (not on any of the
    /// remote's branches when it has none yet), oldest first.
    fn new_commits(&self, upstream: Option<&str>) -> Result<Vec<LandedCommit>, PushError> {
        self.commits_between(upstream, "HEAD")
    }

    fn commits_between(
        &self,
        upstream: Option<&str>,
        head: &str,
    ) -> Result<Vec<LandedCommit>, PushError> {
        let range = match upstream {
            Some(upstream) => format!("{upstream}..{head}"),
            None => head.to_string(),
        };
        let mut arguments = vec!["log", "--reverse", "--format=%H%x00%s", range.as_str()];
        let not_remotes = format!("--remotes={}", self.settings.remote);
        if upstream.is_none() {
            arguments.extend(["--not", not_remotes.as_str()]);
        }
        let log = self.git.ok(&arguments)?;
        Ok(log
            .lines()
            .filter_map(|line| {
                let (sha, subject) = line.split_once('\0')?;
                Some(LandedCommit {
                    sha: sha.to_string(),
                    subject: subject.to_string(),
                })
            })
            .collect())
    }

    fn land(
        &mut self,
        head: &str,
        upstream: Option<&str>,
        extra: &[(String, remote::Lease)],
    ) -> Result<(), PushError> {
        let branch = self.branch();
        let landing = Landing {
            remote: &self.settings.remote,
            branch: &branch,
            head,
            upstream,
            holder: &self.settings.holder,
            ttl: self.settings.lock_ttl,
            extra,
        };
        self.lock.land(&self.git, &landing)?;
        if self.lock.released_by_landing() {
            self.mark_released();
            if let Some(state) = &mut self.state {
                state.lock = None;
            }
        }
        Ok(())
    }

    fn landed(&mut self, head: &str, commits: Vec<LandedCommit>) {
        self.report.landed = commits;
        self.report.head = Some(head.to_string());
        self.report.outcome = PushOutcome::Landed;
        self.emit(Progress::Landed {
            commits: self.report.landed.len(),
            head: head.to_string(),
        });
    }

    /// Gives the lock back if the landing push did not.
    fn release(&mut self) {
        if let Some(keep_alive) = self.keep_alive.take() {
            keep_alive.stop();
        }
        if self.lock.release() {
            self.mark_released();
        }
        if self.report.lock.released {
            self.emit(Progress::Released);
        }
        if let Some(state) = &mut self.state {
            state.lock = None;
        }
    }
}

/// An error and its causes, `: `-separated.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `Update a.csv, b.csv and 3 more files`.
fn default_message(paths: &[&str]) -> String {
    match paths {
        [] => "Update".to_string(),
        [one] => format!("Update {one}"),
        [first, second] => format!("Update {first} and {second}"),
        [first, second, third] => format!("Update {first}, {second} and {third}"),
        [first, second, rest @ ..] => {
            format!("Update {first}, {second} and {} more files", rest.len())
        }
    }
}

/// A remote URL without scheme, credentials or `.git`.
fn normalize_url(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let without_credentials = without_scheme
        .split_once('@')
        .filter(|(credentials, _)| !credentials.contains('/'))
        .map_or(without_scheme, |(_, rest)| rest);
    without_credentials
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .replacen(':', "/", usize::from(!url.contains("://")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_messages_name_the_files() {
        assert_eq!(default_message(&["a"]), "Update a");
        assert_eq!(default_message(&["a", "b", "c"]), "Update a, b and c");
        assert_eq!(
            default_message(&["a", "b", "c", "d", "e"]),
            "Update a, b and 3 more files"
        );
    }

    #[test]
    fn urls_lose_credentials_and_schemes() {
        assert_eq!(
            normalize_url("https://x-access-token:secret@github.com/org/data.git"),
            "github.com/org/data"
        );
        assert_eq!(
            normalize_url("git@github.com:org/data.git"),
            "github.com/org/data"
        );
        assert_eq!(normalize_url("/tmp/remote.git"), "/tmp/remote");
    }

    #[test]
    fn errors_read_with_their_causes() {
        let error = PushError::ExternalLock(crate::ExternalLockError::Refused {
            message: "no such class".to_string(),
        });
        assert_eq!(
            chain(&error),
            "the lock service failed: the lock service refused: no such class"
        );
    }
}
