//! Readiness and liveness probes.
//!
//! A probe runs in its own task for as long as its process runs: a fast
//! cadence (`start_period`) until its first pass, the normal `period` after.
//! It reports only changes of verdict (and each result, for `weft status`),
//! so the service's actor wakes once per check at most. A log probe does not
//! poll at all: it waits on the service's output until a line matches.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};

use crate::output::{LogLine, Stream};
use crate::settings::{Check, ProbeSettings};
use crate::state::{ProbeResult, now_ms};

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Ready,
    Live,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Ready => "ready",
            ProbeKind::Live => "live",
        }
    }
}

/// What a probe task tells its service.
#[derive(Debug, Clone)]
pub struct ProbeEvent {
    pub kind: ProbeKind,
    pub generation: u64,
    pub result: ProbeResult,
    /// `Some` when the verdict changed: passing (`true`) or failing (`false`).
    pub verdict: Option<bool>,
}

/// What a check needs from its process.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// The process's environment, for `${…}` in targets and for `exec`.
    pub env: Arc<BTreeMap<String, String>>,
    pub workdir: PathBuf,
    pub generation: u64,
}

/// Runs a probe until the receiver is dropped.
pub async fn run(
    kind: ProbeKind,
    settings: ProbeSettings,
    context: ProbeContext,
    mut log: Option<broadcast::Receiver<Arc<LogLine>>>,
    events: mpsc::Sender<ProbeEvent>,
) {
    tokio::time::sleep(settings.initial_delay).await;
    // `${…}` filled in once: the environment is the process's, fixed for
    // this task's life.
    let target = expanded(&settings.check, &context);
    let described = target.describe();
    if let (Check::Log { pattern }, Some(log)) = (&settings.check, log.as_mut()) {
        loop {
            match log.recv().await {
                // weft's own notes are not the service's output.
                Ok(line) if line.stream != Stream::Weft && pattern.is_match(&line.text) => {
                    let result = result(kind, &described, true, format!("matched `{}`", line.text));
                    let _ = events
                        .send(ProbeEvent {
                            kind,
                            generation: context.generation,
                            result,
                            verdict: Some(true),
                        })
                        .await;
                    return;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
    let mut successes = 0u32;
    let mut failures = 0u32;
    let mut verdict: Option<bool> = None;
    let mut passed_once = false;
    let mut witness = None;
    loop {
        let checking = check(&target, &context, &mut witness);
        let outcome = match tokio::time::timeout(settings.timeout, checking).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "no answer within {}ms",
                settings.timeout.as_millis()
            )),
        };
        let ok = outcome.is_ok();
        if ok {
            successes += 1;
            failures = 0;
        } else {
            failures += 1;
            successes = 0;
        }
        let mut changed = None;
        if ok && successes >= settings.success_threshold && verdict != Some(true) {
            verdict = Some(true);
            passed_once = true;
            changed = Some(true);
        } else if !ok && failures >= settings.failure_threshold && verdict != Some(false) {
            verdict = Some(false);
            changed = Some(false);
        }
        let message = match outcome {
            Ok(message) | Err(message) => message,
        };
        let event = ProbeEvent {
            kind,
            generation: context.generation,
            result: result(kind, &described, ok, message),
            verdict: changed,
        };
        if events.send(event).await.is_err() {
            return;
        }
        if passed_once {
            tokio::time::sleep_until(on_rest_grid(
                tokio::time::Instant::now() + settings.period,
                settings.period,
            ))
            .await;
        } else {
            tokio::time::sleep(settings.start_period).await;
        }
    }
}

/// The shared grid the checks of services at rest fire on.
const REST_GRID: Duration = Duration::from_millis(100);

/// `deadline`, moved up to the next point of a grid shared by every probe
/// (at most [`REST_GRID`] later) when `period` is long enough not to mind: a
/// thousand services checked every 5 s then wake the supervisor ten times a
/// second, not two hundred.
fn on_rest_grid(deadline: tokio::time::Instant, period: Duration) -> tokio::time::Instant {
    static EPOCH: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    if period < Duration::from_secs(1) {
        return deadline;
    }
    let epoch = *EPOCH.get_or_init(tokio::time::Instant::now);
    let Some(since) = deadline.checked_duration_since(epoch) else {
        return deadline;
    };
    let grid = REST_GRID.as_nanos();
    let late = (grid - since.as_nanos() % grid) % grid;
    deadline + Duration::from_nanos(late as u64)
}

fn result(kind: ProbeKind, check: &str, ok: bool, message: String) -> ProbeResult {
    ProbeResult {
        probe: kind.as_str().to_string(),
        check: check.to_string(),
        ok,
        message,
        at_ms: now_ms(),
    }
}

/// The check with its `${…}` references filled in.
pub fn describe(check: &Check, context: &ProbeContext) -> String {
    expanded(check, context).describe()
}

/// The check with `${…}` filled in where a target is named.
fn expanded(check: &Check, context: &ProbeContext) -> Check {
    match check {
        Check::Http { url, status } => Check::Http {
            url: expand(url, context),
            status: *status,
        },
        Check::Tcp { address } => Check::Tcp {
            address: expand(address, context),
        },
        Check::File { path } => Check::File {
            path: expand(path, context),
        },
        other => other.clone(),
    }
}

/// Fills in `${PORT}`, `${WEFT_PORT_…}` and the rest of the process's environment.
pub fn expand(text: &str, context: &ProbeContext) -> String {
    let env = context.env.clone();
    weft_discover::env::interpolate(text, &move |name| env.get(name).cloned()).0
}

/// What a passing TCP check says, connected or asked of the kernel: one
/// message, so that a check's way of passing changes nothing of a status.
const ACCEPTING: &str = "accepting connections";

/// Runs a check once. `witness` is a TCP check's listener that a connect
/// last reached (see [`crate::listener`]), kept from one check to the next.
async fn check(
    check: &Check,
    context: &ProbeContext,
    witness: &mut Option<crate::listener::Witness>,
) -> Result<String, String> {
    match check {
        Check::Http { url, status } => http(url, *status).await,
        Check::Tcp { address } => {
            let loopback = address
                .parse()
                .ok()
                .filter(|address: &std::net::SocketAddr| address.ip().is_loopback());
            if let Some(address) = loopback
                && crate::listener::still_listening(address, witness.as_ref())
            {
                return Ok(ACCEPTING.to_string());
            }
            let connected = TcpStream::connect(address.as_str())
                .await
                .map(|_| ACCEPTING.to_string())
                .map_err(|e| format!("cannot connect: {e}"));
            // The listener this connect reached vouches for the next checks.
            *witness = loopback
                .filter(|_| connected.is_ok())
                .and_then(crate::listener::witness);
            connected
        }
        Check::Exec { command } => {
            let output = tokio::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(command)
                .env_clear()
                .envs(context.env.iter())
                .current_dir(&context.workdir)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| format!("cannot run sh: {e}"))?;
            let said = String::from_utf8_lossy(if output.stderr.is_empty() {
                &output.stdout
            } else {
                &output.stderr
            })
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
            if output.status.success() {
                Ok("exited 0".to_string())
            } else {
                Err(match output.status.code() {
                    Some(code) if said.is_empty() => format!("exited with code {code}"),
                    Some(code) => format!("exited with code {code}: {said}"),
                    None => "killed by a signal".to_string(),
                })
            }
        }
        Check::File { path } => {
            let path = context.workdir.join(path);
            if path.exists() {
                Ok(format!("{} exists", path.display()))
            } else {
                Err(format!("{} does not exist", path.display()))
            }
        }
        // Without a subscription (never the case in the supervisor) it cannot pass.
        Check::Log { pattern } => Err(format!("no line matched /{pattern}/ yet")),
    }
}

/// A minimal HTTP/1.1 GET: the status line is all a probe needs.
async fn http(url: &str, expected: Option<u16>) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: weft-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut buffer = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or_default();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: `{line}`"))?;
    let ok = match expected {
        Some(expected) => status == expected,
        None => (200..400).contains(&status),
    };
    if ok {
        Ok(format!("HTTP {status}"))
    } else {
        let wanted = expected.map_or_else(|| "2xx or 3xx".to_string(), |s| s.to_string());
        Err(format!("HTTP {status}, expected {wanted}"))
    }
}

/// Waits `duration`, or forever when `None`.
pub async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn checks_at_rest_share_a_grid() {
        let now = tokio::time::Instant::now();
        let period = Duration::from_secs(5);
        let asked = |ms: u64| now + period + Duration::from_millis(ms * 7);
        let deadlines: Vec<_> = (0..40).map(|ms| on_rest_grid(asked(ms), period)).collect();
        for (ms, deadline) in (0..40).zip(&deadlines) {
            assert!(*deadline >= asked(ms) && *deadline - asked(ms) < REST_GRID);
        }
        // 280 ms of deadlines land on at most four points of the grid.
        let mut points = deadlines.clone();
        points.dedup();
        assert!(points.len() <= 4, "{} points", points.len());
        // A fast cadence is kept as asked.
        let fast = Duration::from_millis(50);
        assert_eq!(on_rest_grid(now + fast, fast), now + fast);
    }

    fn context() -> ProbeContext {
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_default(),
        );
        ProbeContext {
            env: Arc::new(env),
            workdir: std::env::temp_dir(),
            generation: 1,
        }
    }

    #[tokio::test]
    async fn http_probe_reads_the_status_line() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer).await;
                let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let url = format!("http://127.0.0.1:{port}/healthz");
        assert_eq!(http(&url, None).await, Ok("HTTP 200".to_string()));
        assert_eq!(
            http(&url, None).await,
            Err("HTTP 503, expected 2xx or 3xx".to_string())
        );
        server.await.unwrap();
        // A dead port (not a backlog that accepts and never answers): bound
        // but not listening, so that no other test can take it meanwhile,
        // as one could the port the server above let go of.
        let dead = tokio::net::TcpSocket::new_v4().unwrap();
        dead.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let dead = format!("http://{}/healthz", dead.local_addr().unwrap());
        assert!(
            http(&dead, None)
                .await
                .unwrap_err()
                .starts_with("cannot connect")
        );
    }

    #[tokio::test]
    async fn exec_and_file_checks() {
        let context = context();
        let pass = Check::Exec {
            command: "true".into(),
        };
        let fail = Check::Exec {
            command: "echo broken >&2; exit 3".into(),
        };
        assert!(check(&pass, &context, &mut None).await.is_ok());
        assert_eq!(
            check(&fail, &context, &mut None).await,
            Err("exited with code 3: broken".to_string())
        );
        let missing = Check::File {
            path: "weft-no-such-file-here".into(),
        };
        assert!(check(&missing, &context, &mut None).await.is_err());
    }
}
