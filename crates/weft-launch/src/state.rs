//! The states a service goes through and the snapshot of one that
//! `weft status` shows.

use serde::{Deserialize, Serialize};

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for its dependencies.
    Pending,
    /// Its process runs; not yet ready.
    Starting,
    /// Its process runs and its readiness probe passes.
    Ready,
    /// It was ready and its readiness probe now fails, or a dependency it
    /// waits on went away.
    NotReady,
    /// It cannot run: its process failed, a probe failed past the restarts
    /// allowed, or a required dependency failed.
    Failed,
    /// It exited 0 on its own and is not restarted.
    Completed,
    /// It is being stopped.
    Stopping,
    /// weft stopped it.
    Stopped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Starting => "starting",
            State::Ready => "ready",
            State::NotReady => "not_ready",
            State::Failed => "failed",
            State::Completed => "completed",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
        }
    }

    /// Whether its process may be running.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            State::Starting | State::Ready | State::NotReady | State::Stopping
        )
    }

    /// Whether it will not change without a command.
    pub fn is_settled(self) -> bool {
        matches!(self, State::Failed | State::Completed | State::Stopped)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latest result of a probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// `ready` or `live`.
    pub probe: String,
    /// What is checked: `http http://127.0.0.1:20001/healthz`.
    pub check: String,
    pub ok: bool,
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    pub at_ms: u64,
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, &self.signal) {
            (Some(code), _) => write!(f, "exited with code {code}"),
            (None, Some(signal)) => write!(f, "killed by {signal}"),
            (None, None) => f.write_str("exited"),
        }
    }
}

/// One allocated port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortAssignment {
    pub name: String,
    pub port: u16,
}

/// What the supervisor knows of one service right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub id: String,
    pub name: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ports: Vec<PortAssignment>,
    /// The start time of the process in clock ticks since boot (from
    /// `/proc`): with the pid it tells a live process from a reused pid.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub start_ticks: Option<u64>,
    /// When the current process started (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// Since when it is ready (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_since_ms: Option<u64>,
    pub restarts: u32,
    /// Counts each start of a process; dependents watch it to see restarts.
    pub generation: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_probe: Option<ProbeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<ExitInfo>,
    /// Why it is in this state, in words: what it waits on, why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Optional dependencies that failed; it runs without them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub degraded: Vec<String>,
    /// The dependency it waited on last before starting, and for how long (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gated_by: Option<(String, u64)>,
    /// Lines of output that live followers missed because they fell behind.
    pub dropped_lines: u64,
}

impl ServiceStatus {
    pub fn new(id: &str, name: &str) -> Self {
        ServiceStatus {
            id: id.to_string(),
            name: name.to_string(),
            state: State::Pending,
            pid: None,
            start_ticks: None,
            ports: Vec::new(),
            started_at_ms: None,
            ready_since_ms: None,
            restarts: 0,
            generation: 0,
            last_probe: None,
            last_exit: None,
            reason: None,
            degraded: Vec::new(),
            gated_by: None,
            dropped_lines: 0,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
