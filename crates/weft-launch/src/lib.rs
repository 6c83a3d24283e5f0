//! weft's process supervisor: `weft up` starts a workspace's services in
//! dependency order, each in a process group of its own, with readiness and
//! liveness probes, allocated ports, discovery variables and restarts, and
//! stops them cleanly in reverse order.
//!
//! [`LaunchSettings`] resolves what to run from the workspace model;
//! [`Supervisor`] runs it (one actor per service, see `service`); the
//! [`control`] socket lets other shells ask a background supervisor.

pub mod control;
mod error;
mod listener;
pub mod output;
pub mod ports;
pub mod probe;
pub mod process;
pub mod reaper;
pub mod registry;
pub mod report;
mod service;
pub mod settings;
mod state;
mod supervisor;

pub use error::{LaunchError, SettingsError};
pub use settings::{LaunchRequest, LaunchSettings, Notice, ServiceSettings};
pub use state::{ExitInfo, PortAssignment, ProbeResult, ServiceStatus, State, now_ms};
pub use supervisor::{Supervisor, SupervisorOptions};
