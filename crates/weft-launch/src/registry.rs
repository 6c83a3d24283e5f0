//! The registry: `.weft/launch.json`, what the running supervisor has
//! started, so that `weft status` works from another shell without it and
//! the next `weft up` can reap what a killed supervisor left behind.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::error::LaunchError;
use crate::process;
use crate::state::ServiceStatus;

/// The supervisor's own entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorRecord {
    pub pid: u32,
    #[serde(default)]
    pub start_ticks: Option<u64>,
    /// The control socket.
    pub socket: PathBuf,
    pub started_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub supervisor: SupervisorRecord,
    pub services: Vec<ServiceStatus>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("launch.json")
}

/// Writes the registry atomically: a reader sees the old or the new file.
pub fn write(state_dir: &Path, registry: &Registry) -> Result<(), LaunchError> {
    let target = path(state_dir);
    let temporary = state_dir.join(format!("launch.json.{}.tmp", std::process::id()));
    let text = serde_json::to_vec_pretty(registry).map_err(|e| LaunchError::Protocol {
        message: e.to_string(),
    })?;
    std::fs::write(&temporary, text).map_err(LaunchError::io(&temporary))?;
    std::fs::rename(&temporary, &target).map_err(LaunchError::io(&target))
}

pub fn read(state_dir: &Path) -> Option<Registry> {
    let text = std::fs::read(path(state_dir)).ok()?;
    serde_json::from_slice(&text).ok()
}

pub fn remove(state_dir: &Path) {
    let _ = std::fs::remove_file(path(state_dir));
}

/// Whether the process `pid` still is the one that started at `start_ticks`.
pub fn is_alive(pid: u32, start_ticks: Option<u64>) -> bool {
    match (process::start_time(pid), start_ticks) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Kills the processes a dead supervisor recorded and that still run,
/// and removes its registry. Returns what was reaped, in words.
pub fn reap_stale(state_dir: &Path) -> Vec<String> {
    let Some(registry) = read(state_dir) else {
        return Vec::new();
    };
    if is_alive(registry.supervisor.pid, registry.supervisor.start_ticks) {
        return Vec::new();
    }
    let mut reaped = Vec::new();
    for service in &registry.services {
        let Some(pid) = service.pid else { continue };
        if is_alive(pid, service.start_ticks) || process::group_alive(pid) {
            process::signal_group(pid, Signal::SIGKILL);
            reaped.push(format!("{} (pid {pid})", service.id));
        }
    }
    remove(state_dir);
    reaped
}
