//! The control socket: how `weft status`, `logs`, `why`, `stop`, `restart`
//! and `down` talk to a supervisor running in the background. One JSON
//! request per connection, answered by one JSON line, or by a stream of
//! lines for `follow` and `wait`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream as AsyncUnixStream};
use tokio::sync::broadcast;

use crate::error::LaunchError;
use crate::output::LogLine;
use crate::registry::{self, SupervisorRecord};
use crate::report::{self, ChainLink, Why};
use crate::state::ServiceStatus;
use crate::supervisor::Supervisor;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "request")]
pub enum Request {
    Status,
    Why {
        service: String,
    },
    Stop {
        services: Vec<String>,
    },
    Start {
        services: Vec<String>,
    },
    Restart {
        services: Vec<String>,
    },
    Down,
    /// Live output of `services` (all when empty) until the client leaves.
    Follow {
        services: Vec<String>,
    },
    /// The status now, then again after every change, until the client
    /// leaves: what the dashboard of `weft serve` shows live.
    Watch,
    /// Answers once `services` (all when empty) are ready, or cannot be.
    Wait {
        services: Vec<String>,
        timeout_ms: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "response")]
pub enum Response {
    Status {
        supervisor: SupervisorRecord,
        services: Vec<ServiceStatus>,
        critical_chain: Vec<ChainLink>,
    },
    Why(Box<Why>),
    Done {
        message: String,
    },
    Line {
        name: String,
        line: LogLine,
    },
    /// A follower fell behind and missed this many lines.
    Lagged {
        missed: u64,
    },
    Waited {
        ready: bool,
        blocked: Vec<Why>,
    },
    Error {
        message: String,
    },
}

/// Where a workspace's control socket lives: `.weft/weft.sock`, or a short
/// path under the temporary directory when that is too long for a socket.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    let path = state_dir.join("weft.sock");
    if path.as_os_str().len() < 100 {
        return path;
    }
    let mut hasher = DefaultHasher::new();
    state_dir.hash(&mut hasher);
    std::env::temp_dir()
        .join(format!("weft-{}", nix::unistd::getuid()))
        .join(format!("{:016x}.sock", hasher.finish()))
}

/// Binds the control socket, replacing a stale one.
pub fn bind(path: &Path) -> Result<UnixListener, LaunchError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(LaunchError::io(parent))?;
    }
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path).map_err(LaunchError::io(path))
}

/// Answers requests until the listener is dropped with the runtime.
pub async fn serve(supervisor: Supervisor, listener: UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(handle(supervisor.clone(), stream));
    }
}

async fn handle(supervisor: Supervisor, stream: AsyncUnixStream) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read.take(64 * 1024));
    if reader.read_line(&mut line).await.is_err() {
        return;
    }
    let request: Request = match serde_json::from_str(&line) {
        Ok(request) => request,
        Err(error) => {
            let _ = send(
                &mut write,
                &Response::Error {
                    message: format!("bad request: {error}"),
                },
            )
            .await;
            return;
        }
    };
    let resolve = |names: &[String]| -> Result<Vec<usize>, String> {
        if names.is_empty() {
            return Ok((0..supervisor.settings().services.len()).collect());
        }
        names
            .iter()
            .map(|name| {
                supervisor
                    .settings()
                    .find(name)
                    .ok_or_else(|| format!("no running service is named `{name}`"))
            })
            .collect()
    };
    let response = match request {
        Request::Status => status(&supervisor),
        Request::Why { service } => match resolve(std::slice::from_ref(&service)) {
            Ok(indices) => Response::Why(Box::new(why(&supervisor, indices[0]))),
            Err(message) => Response::Error { message },
        },
        Request::Stop { services }
        | Request::Start { services }
        | Request::Restart { services }
            if services.is_empty() =>
        {
            Response::Error {
                message: "name the services".into(),
            }
        }
        Request::Stop { services } => match resolve(&services) {
            Ok(indices) => {
                for index in indices {
                    supervisor.stop(index).await;
                }
                Response::Done {
                    message: format!("stopped {}", services.join(", ")),
                }
            }
            Err(message) => Response::Error { message },
        },
        Request::Start { services } => match resolve(&services) {
            Ok(indices) => {
                for index in indices {
                    supervisor.start_again(index).await;
                }
                Response::Done {
                    message: format!("started {}", services.join(", ")),
                }
            }
            Err(message) => Response::Error { message },
        },
        Request::Restart { services } => match resolve(&services) {
            Ok(indices) => {
                for index in indices {
                    supervisor.restart(index).await;
                }
                Response::Done {
                    message: format!("restarted {}", services.join(", ")),
                }
            }
            Err(message) => Response::Error { message },
        },
        Request::Down => {
            supervisor.request_down();
            // The answer is the socket closing once everything stopped.
            std::future::pending::<()>().await;
            return;
        }
        Request::Watch => {
            watch(&supervisor, &mut write).await;
            return;
        }
        Request::Follow { services } => match resolve(&services) {
            Ok(indices) => {
                follow(&supervisor, &indices, &mut write).await;
                return;
            }
            Err(message) => Response::Error { message },
        },
        Request::Wait {
            services,
            timeout_ms,
        } => match resolve(&services) {
            Ok(indices) => {
                let waited = supervisor
                    .wait_ready(&indices, timeout_ms.map(Duration::from_millis))
                    .await;
                match waited {
                    Ok(()) => Response::Waited {
                        ready: true,
                        blocked: Vec::new(),
                    },
                    Err(not_ready) => Response::Waited {
                        ready: false,
                        blocked: not_ready.into_iter().map(|i| why(&supervisor, i)).collect(),
                    },
                }
            }
            Err(message) => Response::Error { message },
        },
    };
    let _ = send(&mut write, &response).await;
}

/// The supervisor's status, as `weft status` shows it.
pub fn status(supervisor: &Supervisor) -> Response {
    let services = supervisor.statuses();
    Response::Status {
        supervisor: SupervisorRecord {
            pid: std::process::id(),
            start_ticks: crate::process::start_time(std::process::id()),
            socket: supervisor.socket().to_path_buf(),
            started_at_ms: supervisor.started_at_ms(),
        },
        critical_chain: report::critical_chain(&services, supervisor.started_at_ms()),
        services,
    }
}

/// Explains one service with its last lines of output.
pub fn why(supervisor: &Supervisor, index: usize) -> Why {
    let output = supervisor
        .recent_output(index, 10)
        .iter()
        .map(|l| l.text.clone())
        .collect();
    report::why(supervisor.settings(), &supervisor.statuses(), index, output)
}

async fn follow(
    supervisor: &Supervisor,
    indices: &[usize],
    write: &mut (impl AsyncWriteExt + Unpin),
) {
    let names: Vec<String> = supervisor
        .settings()
        .services
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let mut lines = supervisor.follow();
    loop {
        let response = match lines.recv().await {
            Ok(line) if indices.contains(&line.service) => Response::Line {
                name: names[line.service].clone(),
                line: Arc::unwrap_or_clone(line),
            },
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Lagged(missed)) => Response::Lagged { missed },
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if send(write, &response).await.is_err() {
            return;
        }
    }
}

/// Sends the status, then the status after each change. Changes that come
/// while one is being sent are folded into the next.
async fn watch(supervisor: &Supervisor, write: &mut (impl AsyncWriteExt + Unpin)) {
    let mut changes = supervisor.changes();
    loop {
        changes.mark_unchanged();
        if send(write, &status(supervisor)).await.is_err() || changes.changed().await.is_err() {
            return;
        }
    }
}

async fn send(
    write: &mut (impl AsyncWriteExt + Unpin),
    response: &Response,
) -> std::io::Result<()> {
    let mut text = serde_json::to_vec(response).map_err(std::io::Error::other)?;
    text.push(b'\n');
    write.write_all(&text).await
}

/// A connection to the supervisor of a workspace.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects to the workspace's supervisor, if one runs.
    pub fn connect(state_dir: &Path) -> Result<Client, LaunchError> {
        let path = registry::read(state_dir)
            .map(|r| r.supervisor.socket)
            .unwrap_or_else(|| socket_path(state_dir));
        let stream = UnixStream::connect(&path).map_err(|_| LaunchError::NotRunning)?;
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }

    /// Sends one request.
    pub fn send(&mut self, request: &Request) -> Result<(), LaunchError> {
        let mut text = serde_json::to_vec(request).map_err(|e| LaunchError::Protocol {
            message: e.to_string(),
        })?;
        text.push(b'\n');
        self.reader
            .get_mut()
            .write_all(&text)
            .map_err(|e| LaunchError::Protocol {
                message: e.to_string(),
            })
    }

    /// The next response; `None` once the supervisor closed the connection.
    pub fn receive(&mut self) -> Result<Option<Response>, LaunchError> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Ok(None),
            Ok(_) => serde_json::from_str(&line)
                .map(Some)
                .map_err(|e| LaunchError::Protocol {
                    message: e.to_string(),
                }),
            // A supervisor that exits while answering closes the connection.
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => Ok(None),
            Err(error) => Err(LaunchError::Protocol {
                message: error.to_string(),
            }),
        }
    }

    /// Sends a request and reads its one answer.
    pub fn ask(state_dir: &Path, request: &Request) -> Result<Response, LaunchError> {
        let mut client = Client::connect(state_dir)?;
        client.send(request)?;
        client.receive()?.ok_or_else(|| LaunchError::Protocol {
            message: "the supervisor closed the connection without answering".into(),
        })
    }
}
