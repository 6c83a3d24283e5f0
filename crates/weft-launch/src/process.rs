//! One service's process: started in a process group of its own, so that a
//! signal reaches everything it started.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::settings::StopSettings;

/// The open-file limits the process started with, before
/// [`raise_open_file_limit`]: what services get back.
static STARTING_FILE_LIMIT: OnceLock<(u64, u64)> = OnceLock::new();

/// Raises this process's soft limit on open files to the hard limit: the
/// supervisor holds two pipes and a reserved port per service, so a stack of
/// a thousand services needs more than the usual 1,024. Services are started
/// with the limits the process started with, as if weft were not between
/// them and the shell (a program built on `select` breaks above 1,024).
/// Answers the soft limit now in force.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let _ = STARTING_FILE_LIMIT.set((soft, hard));
    if soft >= hard {
        return Ok(soft);
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(hard)
}

/// Starts `command` with `sh -c` in `workdir`, with exactly `env`, in a new
/// process group.
///
/// Nothing runs between fork and exec, so the standard library spawns with
/// `posix_spawn` (a `vfork`-style clone) instead of `fork`: a supervisor of a
/// thousand services no longer copies its page tables once per start, which
/// was most of the time a large stack took to come up. What a `pre_exec` hook
/// used to do is done otherwise: the shell lowers the open-file limit back to
/// what weft started with (see [`raise_open_file_limit`]) before it runs the
/// command, and the reaper (not a parent-death signal, which would need the
/// hook) kills the group if the supervisor dies.
pub fn spawn(
    command: &str,
    workdir: &Path,
    env: &BTreeMap<String, String>,
) -> std::io::Result<Child> {
    let mut script = shell_command(command);
    if let Some(&(soft, hard)) = STARTING_FILE_LIMIT.get()
        && soft < hard
    {
        script = format!("ulimit -Sn {soft}\n{script}");
    }
    // A path, not `sh`: with `PATH` in `env`, a bare name makes the standard
    // library fall back to fork to search it.
    let mut process = Command::new("/bin/sh");
    process
        .arg("-c")
        .arg(script)
        .current_dir(workdir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    process.spawn()
}

/// `exec`s simple commands so that the service, not a shell, is the group
/// leader and gets the signals; anything with shell syntax runs as written.
fn shell_command(command: &str) -> String {
    let trimmed = command.trim();
    let special = |c: char| matches!(c, ';' | '&' | '|' | '(' | ')' | '<' | '>' | '\n' | '`');
    let first = trimmed.split_whitespace().next().unwrap_or_default();
    let keyword = matches!(
        first,
        "if" | "for" | "while" | "until" | "case" | "exec" | "{" | "!" | "export" | "cd"
    ) || first.contains('=');
    if trimmed.contains(special) || keyword {
        trimmed.to_string()
    } else {
        format!("exec {trimmed}")
    }
}

/// Sends `signal` to a whole process group; a group already gone is fine.
pub fn signal_group(group: u32, signal: Signal) {
    let Ok(group) = i32::try_from(group) else {
        return;
    };
    if group <= 1 {
        return;
    }
    match killpg(Pid::from_raw(group), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(error) => tracing::warn!("cannot signal process group {group}: {error}"),
    }
}

/// Whether a process group still has a member.
pub fn group_alive(group: u32) -> bool {
    i32::try_from(group).is_ok_and(|g| g > 1 && killpg(Pid::from_raw(g), None).is_ok())
}

/// Stops a process: the stop command or signal, `timeout` of grace, then
/// SIGKILL to the group. Whatever else is left in the group is killed too.
/// Returns the exit status and whether it had to be killed.
pub async fn stop(
    child: &mut Child,
    group: u32,
    settings: &StopSettings,
    workdir: &Path,
    env: &BTreeMap<String, String>,
) -> (Option<ExitStatus>, bool) {
    if let Ok(Some(status)) = child.try_wait() {
        signal_group(group, Signal::SIGKILL);
        return (Some(status), false);
    }
    match &settings.command {
        Some(command) => {
            let run = Command::new("/bin/sh")
                .arg("-c")
                .arg(command)
                .current_dir(workdir)
                .env_clear()
                .envs(env)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .status();
            if !matches!(tokio::time::timeout(settings.timeout, run).await, Ok(Ok(s)) if s.success())
            {
                signal_group(group, settings.signal);
            }
        }
        None => signal_group(group, settings.signal),
    }
    let (status, killed) = match tokio::time::timeout(settings.timeout, child.wait()).await {
        Ok(status) => (status.ok(), false),
        Err(_) => {
            signal_group(group, Signal::SIGKILL);
            (
                tokio::time::timeout(Duration::from_secs(5), child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok),
                true,
            )
        }
    };
    signal_group(group, Signal::SIGKILL);
    (status, killed)
}

/// The start time of a process in clock ticks since boot (field 22 of
/// `/proc/PID/stat`): with the pid, it names a process unambiguously.
/// Read once per process, never polled.
/// `None` for a process that is gone or a zombie (exited, not yet collected).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last `)`.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_commands_are_execed() {
        assert_eq!(
            shell_command("./api --port $PORT"),
            "exec ./api --port $PORT"
        );
        assert_eq!(shell_command("make build && ./api"), "make build && ./api");
        assert_eq!(shell_command("FOO=1 ./api"), "FOO=1 ./api");
        assert_eq!(shell_command("exec ./api"), "exec ./api");
    }

    #[test]
    fn start_time_of_this_process() {
        let pid = std::process::id();
        assert!(start_time(pid).is_some());
        assert_eq!(start_time(pid), start_time(pid));
    }
}
