//! The errors of the supervisor and its clients.

use std::path::PathBuf;

/// The services to run could not be worked out.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Lookup(#[from] weft_model::LookupError),
    #[error("no service of the workspace has a command to run")]
    NothingToRun,
    #[error("`{service}` has no command, so weft up cannot run it")]
    NoCommand { service: String },
    #[error("the services {} need each other in a cycle, so none of them can start first", .services.join(", "))]
    Cycle { services: Vec<String> },
    #[error("`services.{service}.{key}` in weft.yaml: {message}")]
    Invalid {
        service: String,
        key: String,
        message: String,
    },
}

/// The supervisor could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("failed to use {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a supervisor is already running for this workspace (pid {pid})")]
    AlreadyRunning { pid: u32 },
    #[error("no free port for `{service}` ({name}) in {first}-{last}")]
    NoFreePort {
        service: String,
        name: String,
        first: u16,
        last: u16,
    },
    #[error("port {port} is taken, and `{service}` asks for it")]
    PortTaken { service: String, port: u16 },
    #[error("no supervisor is running for this workspace")]
    NotRunning,
    #[error("the supervisor answered with something weft does not understand: {message}")]
    Protocol { message: String },
    #[error("{message}")]
    Refused { message: String },
}

impl LaunchError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LaunchError {
        let path = path.into();
        move |source| LaunchError::Io { path, source }
    }
}
