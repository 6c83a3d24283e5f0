//! Running one step: a shell command in the service's repository, or a
//! webhook POST, with a timeout and retries (exponential backoff with full
//! jitter). A command runs in a process group of its own, so a timeout or a
//! cancelled release stops everything it started, not just the shell.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use weft_model::config::StepAction;

use crate::expand::Variables;
use crate::plan::PlannedStep;

/// The first retry delay's cap; it doubles per attempt.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest delay between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long a stopped command gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long output is still read after a command exits.
const OUTPUT_GRACE: Duration = Duration::from_millis(300);

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    Succeeded {
        attempts: u32,
    },
    Failed {
        attempts: u32,
        exit_code: Option<i32>,
        message: String,
    },
    TimedOut {
        attempts: u32,
        message: String,
    },
    Cancelled {
        attempts: u32,
    },
}

/// Where a step's output goes, line by line, as it is produced.
pub trait OutputSink: Send + Sync {
    fn line(&self, line: &str);
    /// A new attempt begins (after a failure and a backoff).
    fn attempt(&self, attempt: u32, delay: Duration);
    /// A workflow step's run, where people can watch it.
    fn run_url(&self, _url: &str) {}
}

/// What a step runs with.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    pub variables: &'a Variables,
    /// The service's repository: where `run` commands run.
    pub directory: &'a Path,
    /// For `workflow` steps.
    pub github: Option<&'a weft_github::GitHub>,
    /// Makes a workflow dispatch findable (with the attempt appended).
    pub correlation_id: &'a str,
}

/// Runs a step with its retries.
pub async fn run(
    step: &PlannedStep,
    context: StepContext<'_>,
    sink: &dyn OutputSink,
    cancelled: &mut tokio::sync::watch::Receiver<bool>,
) -> StepOutcome {
    let attempts = step.retries + 1;
    let timeout = Duration::from_millis(step.timeout_ms);
    let mut attempt = 1;
    loop {
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(timeout, once(&step.config.action, context, attempt, sink, cancelled.clone())) => match outcome {
                Ok(outcome) => outcome,
                Err(_) => Once::TimedOut,
            },
            () = crate::cancel::requested(cancelled) => Once::Cancelled,
        };
        match outcome {
            Once::Succeeded => return StepOutcome::Succeeded { attempts: attempt },
            Once::Cancelled => return StepOutcome::Cancelled { attempts: attempt },
            Once::TimedOut if attempt >= attempts => {
                return StepOutcome::TimedOut {
                    attempts: attempt,
                    message: format!("did not finish within {} ms", step.timeout_ms),
                };
            }
            Once::Failed { exit_code, message } if attempt >= attempts => {
                return StepOutcome::Failed {
                    attempts: attempt,
                    exit_code,
                    message,
                };
            }
            Once::TimedOut | Once::Failed { .. } => {}
        }
        let delay = backoff(attempt);
        sink.attempt(attempt + 1, delay);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            () = crate::cancel::requested(cancelled) => return StepOutcome::Cancelled { attempts: attempt },
        }
        attempt += 1;
    }
}

/// Full jitter: uniform in [0, min(BACKOFF_MAX, BACKOFF_BASE · 2^(attempt-1))].
fn backoff(attempt: u32) -> Duration {
    let cap = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_MAX);
    let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(0..=millis))
}

enum Once {
    Succeeded,
    Failed {
        exit_code: Option<i32>,
        message: String,
    },
    TimedOut,
    Cancelled,
}

async fn once(
    action: &StepAction,
    context: StepContext<'_>,
    attempt: u32,
    sink: &dyn OutputSink,
    mut cancelled: tokio::sync::watch::Receiver<bool>,
) -> Once {
    let (variables, directory) = (context.variables, context.directory);
    match action {
        StepAction::Run(command) => {
            run_command(command, variables, directory, sink, cancelled).await
        }
        StepAction::Webhook(webhook) => {
            let url = variables.expand(&webhook.url);
            let body = variables.expand_json(&webhook.body);
            sink.line(&format!("POST {}", crate::expand::redact_url(&url)));
            let answer = tokio::task::spawn_blocking(move || post(&url, &body)).await;
            match answer {
                Ok(Ok(line)) => {
                    sink.line(&line);
                    Once::Succeeded
                }
                Ok(Err(message)) => Once::Failed {
                    exit_code: None,
                    message,
                },
                Err(error) => Once::Failed {
                    exit_code: None,
                    message: format!("the webhook call panicked: {error}"),
                },
            }
        }
        StepAction::Workflow(workflow) => {
            let report = |report: crate::workflow::Report| match report {
                crate::workflow::Report::Line(line) => sink.line(&line),
                crate::workflow::Report::RunUrl(url) => sink.run_url(&url),
            };
            let correlation = format!("{}-{attempt}", context.correlation_id);
            match crate::workflow::run(
                workflow,
                context.github,
                variables,
                correlation,
                &report,
                &mut cancelled,
            )
            .await
            {
                Ok(()) => Once::Succeeded,
                Err(crate::workflow::Failure::Cancelled) => Once::Cancelled,
                Err(crate::workflow::Failure::Failed(message)) => Once::Failed {
                    exit_code: None,
                    message,
                },
            }
        }
    }
}

fn post(url: &str, body: &serde_json::Value) -> Result<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|error| format!("POST {}: {error}", crate::expand::redact_url(url)))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    if (200..300).contains(&status) {
        Ok(format!("HTTP {status}"))
    } else {
        let said = text.lines().next().unwrap_or_default();
        Err(format!(
            "POST {}: HTTP {status} {said}",
            crate::expand::redact_url(url)
        ))
    }
}

async fn run_command(
    command: &str,
    variables: &Variables,
    directory: &Path,
    sink: &dyn OutputSink,
    mut cancelled: tokio::sync::watch::Receiver<bool>,
) -> Once {
    let mut child = variables.shell(command, directory);
    child
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match child.spawn() {
        Ok(child) => child,
        Err(error) => {
            return Once::Failed {
                exit_code: None,
                message: format!("cannot run sh in {}: {error}", directory.display()),
            };
        }
    };
    let group = child.id().and_then(|id| i32::try_from(id).ok());
    let guard = GroupGuard(group);
    let stdout = child.stdout.take().map(BufReader::new);
    let stderr = child.stderr.take().map(BufReader::new);
    let forward = async {
        let mut out = stdout.map(|r| r.lines());
        let mut err = stderr.map(|r| r.lines());
        loop {
            tokio::select! {
                line = async { match out.as_mut() { Some(lines) => lines.next_line().await, None => std::future::pending().await } } => match line {
                    Ok(Some(line)) => sink.line(&line),
                    _ => out = None,
                },
                line = async { match err.as_mut() { Some(lines) => lines.next_line().await, None => std::future::pending().await } } => match line {
                    Ok(Some(line)) => sink.line(&line),
                    _ => err = None,
                },
            }
            if out.is_none() && err.is_none() {
                break;
            }
        }
    };
    // The command's exit ends the step. Its output is read until the pipes
    // close, or briefly after the exit: something it started in the
    // background (a server) may hold them open for good.
    let wait = child.wait();
    tokio::pin!(forward);
    tokio::pin!(wait);
    let mut forwarded = false;
    let status = loop {
        tokio::select! {
            () = &mut forward, if !forwarded => forwarded = true,
            status = &mut wait => break status,
            () = crate::cancel::requested(&mut cancelled) => {
                guard.stop().await;
                return Once::Cancelled;
            }
        }
    };
    if !forwarded {
        let _ = tokio::time::timeout(OUTPUT_GRACE, &mut forward).await;
    }
    // It finished by itself: what it left running (a started service) stays.
    guard.disarm();
    match status {
        Ok(status) if status.success() => Once::Succeeded,
        Ok(status) => Once::Failed {
            exit_code: status.code(),
            message: match status.code() {
                Some(code) => format!("`{command}` exited with code {code}"),
                None => format!("`{command}` was killed by a signal"),
            },
        },
        Err(error) => Once::Failed {
            exit_code: None,
            message: format!("cannot wait for `{command}`: {error}"),
        },
    }
}

/// Stops a step's whole process group when the step is dropped early (a
/// timeout drops the future) or cancelled.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn disarm(mut self) {
        self.0 = None;
    }

    async fn stop(&self) {
        let Some(group) = self.0 else {
            return;
        };
        signal_group(group, nix::sys::signal::Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while tokio::time::Instant::now() < deadline && group_alive(group) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        signal_group(group, nix::sys::signal::Signal::SIGKILL);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0.take()
            && group_alive(group)
        {
            // Dropped without `stop` (a timeout): no time to wait politely.
            signal_group(group, nix::sys::signal::Signal::SIGTERM);
            signal_group(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

fn signal_group(group: i32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(group), signal);
}

fn group_alive(group: i32) -> bool {
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(group), None).is_ok()
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_is_jittered_under_a_doubling_cap() {
        for attempt in 1..20 {
            let cap =
                std::time::Duration::from_secs(1 << (attempt - 1).min(5)).min(super::BACKOFF_MAX);
            assert!(backoff(attempt) <= cap, "attempt {attempt}");
        }
    }
}
