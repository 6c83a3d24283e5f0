//! The reaper: a tiny process, started by the supervisor, that outlives it
//! only to kill what it leaves behind.
//!
//! The supervisor tells it each process group it starts (`+PGID`) and each
//! that is gone (`-PGID`) over a pipe. When the pipe closes, the supervisor
//! has exited; if that was a crash or SIGKILL, the groups it still listed are
//! killed. PR_SET_PDEATHSIG only reaches a group's leader; the reaper reaches
//! the grandchildren too. It sits in its own process group, so a Ctrl-C at the
//! terminal does not reach it.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

use nix::sys::signal::Signal;

/// The environment variable that makes the weft binary act as the reaper.
pub const REAPER_ENV: &str = "WEFT_INTERNAL_REAPER";

/// The supervisor's end of the reaper.
#[derive(Debug)]
pub struct Reaper {
    stdin: Mutex<Option<ChildStdin>>,
    child: Mutex<Child>,
}

impl Reaper {
    /// Starts `program` (the weft binary) as the reaper.
    pub fn spawn(program: &Path) -> std::io::Result<Reaper> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(program)
            .env(REAPER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Reaper {
            stdin: Mutex::new(stdin),
            child: Mutex::new(child),
        })
    }

    fn send(&self, line: String) {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pipe) = stdin.as_mut()
            && pipe.write_all(line.as_bytes()).is_err()
        {
            tracing::warn!("the reaper is gone; processes may outlive a crash of the supervisor");
            *stdin = None;
        }
    }

    /// A group to kill if the supervisor dies.
    pub fn watch(&self, group: u32) {
        self.send(format!("+{group}\n"));
    }

    /// A group that is gone.
    pub fn forget(&self, group: u32) {
        self.send(format!("-{group}\n"));
    }

    /// Ends the reaper after a clean shutdown.
    pub fn finish(&self) {
        self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take();
        let _ = self.child.lock().unwrap_or_else(|e| e.into_inner()).wait();
    }
}

/// The reaper's own loop, run by the weft binary when [`REAPER_ENV`] is set:
/// reads `+PGID`/`-PGID` lines until the pipe closes, then kills every group
/// still listed.
pub fn run_reaper() {
    let mut groups: BTreeSet<u32> = BTreeSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (sign, number) = line.split_at(line.len().min(1));
        let Ok(group) = number.trim().parse::<u32>() else {
            continue;
        };
        match sign {
            "+" => {
                groups.insert(group);
            }
            "-" => {
                groups.remove(&group);
            }
            _ => {}
        }
    }
    for group in groups {
        crate::process::signal_group(group, Signal::SIGKILL);
    }
}
