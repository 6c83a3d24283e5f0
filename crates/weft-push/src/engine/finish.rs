//! How a run ends: on success, putting back the set-aside changes and
//! forgetting the backup; on failure, rolling back exactly and releasing the
//! lock; either way, the push log.

use crate::aside::{self, Reapplied};
use crate::error::{PushError, PushFailure};
use crate::git_lock::now_ms;
use crate::log::{self, LogEntry};
use crate::recovery;
use crate::report::{FailureReport, Progress, PushOutcome, PushReport};

use super::{Run, chain, millis};

impl Run {
    pub(super) fn succeed(mut self) -> PushReport {
        if let Some(state) = self.state.take() {
            if let Some(set_aside) = &state.set_aside {
                match aside::reapply(&self.git, set_aside) {
                    Ok(Reapplied::Kept) => self.report.uncommitted = Some("kept".to_string()),
                    Ok(Reapplied::Stashed(name)) => {
                        self.emit(Progress::Stashed { name: name.clone() });
                        self.report.uncommitted = Some(format!("stashed as {name}"));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not put back the uncommitted changes");
                        self.report.uncommitted = Some(format!(
                            "not put back ({error}); the tree is at {}",
                            aside::reference(state.backup.head.key())
                        ));
                        return self.finish();
                    }
                }
            }
            if let Err(error) = recovery::forget(&self.git, &self.git_dir, &state) {
                tracing::warn!(%error, "could not delete the backup refs");
            }
        }
        self.finish()
    }

    fn finish(mut self) -> PushReport {
        self.report.duration_ms = millis(self.started.elapsed());
        if let Err(error) = log::append(&self.git_dir, &LogEntry::of(&self.report, now_ms())) {
            tracing::warn!(%error, "could not write the push log");
        }
        self.report
    }

    pub(super) fn fail(mut self, error: PushError) -> PushFailure {
        tracing::info!(step = ?self.step, %error, "push failed; rolling back");
        // A push cut short (a signal killing git, a dropped connection) may
        // still have landed: never roll back commits that are on the remote.
        let landed = self.state.as_ref().is_some_and(|state| {
            state.landed
                || state
                    .landing
                    .as_deref()
                    .is_some_and(|sha| recovery::has_landed(&self.git, state, sha))
        });
        if let Some(keep_alive) = self.keep_alive.take() {
            keep_alive.stop();
        }
        let restored = match self.state.take() {
            None => "nothing to restore".to_string(),
            Some(state) if landed => {
                if let Some(set_aside) = &state.set_aside {
                    self.report.uncommitted = Some(match aside::reapply(&self.git, set_aside) {
                        Ok(Reapplied::Kept) => "kept".to_string(),
                        Ok(Reapplied::Stashed(name)) => format!("stashed as {name}"),
                        Err(error) => format!("not put back ({error})"),
                    });
                }
                if self.lock.released_by_landing() {
                    self.lock.forget_released();
                    self.mark_released();
                }
                let _ = recovery::forget(&self.git, &self.git_dir, &state);
                "nothing to restore: the commits landed".to_string()
            }
            Some(state) => match state.backup.restore(&self.git, &self.git_dir) {
                Ok(()) => {
                    let _ = recovery::forget(&self.git, &self.git_dir, &state);
                    self.emit(Progress::Restored);
                    "restored".to_string()
                }
                Err(restore_error) => {
                    // Keep the state file and refs: `weft push cleanup` retries.
                    self.state = Some(state);
                    format!(
                        "not restored ({restore_error}); run `weft push cleanup` to restore from refs/weft/backup/"
                    )
                }
            },
        };
        if self.state.is_some() {
            // The restore failed: release the lock but leave the state file.
            let state = self.state.take();
            self.release();
            self.state = state;
        } else {
            self.release();
        }
        self.report.outcome = if landed {
            PushOutcome::Landed
        } else {
            PushOutcome::Failed
        };
        let branch = self.branch();
        self.report.failure = Some(FailureReport {
            step: self.step,
            message: format!(
                "failed to {}: {}",
                self.step.describe(&self.settings.remote, &branch),
                chain(&error)
            ),
            class: error.class(),
            restored,
        });
        let step = self.step;
        let report = self.finish();
        PushFailure {
            step,
            error,
            report: Box::new(report),
        }
    }
}
