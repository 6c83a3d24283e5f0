//! The services view: what `weft up` runs in the server's workspace —
//! state, readiness, the last probe, restarts and ports — read from the
//! supervisor's control socket.
//!
//! How it works: a task of `weft serve` looks for the supervisor's socket
//! (the registry names it) once a second while no stack is up; once
//! connected it asks to `watch` and receives the status after every change,
//! which it keeps in a `watch` channel. The event stream sends each change
//! as a `services` event, so the page updates as the stack does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::watch;
use weft_launch::control::{Request, Response as ControlResponse};
use weft_launch::{ServiceStatus, State as ServiceState};

use super::page::{Fragment, Page, View, require_read, span_ms};
use super::session::Viewer;
use crate::state::AppState;

/// How often the server looks for a stack while none is up.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The running stack, as its supervisor last told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LaunchView {
    pub(crate) supervisor_pid: u32,
    pub(crate) started_at_ms: u64,
    pub(crate) services: Vec<ServiceStatus>,
}

/// Follows the stack of the workspace whose state directory is
/// `state_dir`, for as long as the server runs.
pub(crate) async fn watch_launch(
    state_dir: PathBuf,
    sender: watch::Sender<Option<Arc<LaunchView>>>,
) {
    loop {
        let socket = weft_launch::registry::read(&state_dir)
            .map(|r| r.supervisor.socket)
            .unwrap_or_else(|| weft_launch::control::socket_path(&state_dir));
        if let Ok(stream) = UnixStream::connect(&socket).await {
            follow(&socket, stream, &sender).await;
            sender.send_if_modified(|view| view.take().is_some());
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// Keeps `sender` current with what the supervisor says.
fn publish(sender: &watch::Sender<Option<Arc<LaunchView>>>, response: ControlResponse) {
    if let ControlResponse::Status {
        supervisor,
        services,
        ..
    } = response
    {
        let view = LaunchView {
            supervisor_pid: supervisor.pid,
            started_at_ms: supervisor.started_at_ms,
            services,
        };
        sender.send_if_modified(|current| {
            let changed = current.as_deref() != Some(&view);
            if changed {
                *current = Some(Arc::new(view));
            }
            changed
        });
    }
}

/// One request on a fresh connection, and its one answer.
async fn ask(socket: &Path, request: &Request) -> Option<ControlResponse> {
    let stream = UnixStream::connect(socket).await.ok()?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request).ok()?;
    line.push(b'\n');
    write.write_all(&line).await.ok()?;
    let answer = BufReader::new(read).lines().next_line().await.ok()??;
    serde_json::from_str(&answer).ok()
}

/// For a supervisor without `watch`: its status every [`LOOK_EVERY`],
/// until it goes.
async fn poll(socket: &Path, sender: &watch::Sender<Option<Arc<LaunchView>>>) {
    while let Some(response) = ask(socket, &Request::Status).await {
        publish(sender, response);
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

async fn follow(
    socket: &Path,
    stream: UnixStream,
    sender: &watch::Sender<Option<Arc<LaunchView>>>,
) {
    let (read, mut write) = stream.into_split();
    let Ok(mut request) = serde_json::to_vec(&Request::Watch) else {
        return;
    };
    request.push(b'\n');
    if write.write_all(&request).await.is_err() {
        return;
    }
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match serde_json::from_str::<ControlResponse>(&line) {
            Ok(response @ ControlResponse::Status { .. }) => publish(sender, response),
            Ok(ControlResponse::Error { message }) => {
                // An older supervisor that does not know `watch`: ask for
                // its status once a second instead.
                tracing::debug!(%message, "the supervisor does not stream its status; asking instead");
                poll(socket, sender).await;
                return;
            }
            Ok(_) | Err(_) => {}
        }
    }
}

pub(crate) async fn view(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
) -> Response {
    if let Some(redirect) = require_read(&viewer, "/services", fragment) {
        return redirect;
    }
    let current = state.dashboard.launch.borrow().clone();
    let body = body(current.as_deref(), weft_launch::now_ms());
    Page::new(View::Services, "Services", body)
        .live(&["services"])
        .render(&viewer, fragment)
}

fn state_class(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Ready | ServiceState::Completed => "good",
        ServiceState::Failed => "bad",
        ServiceState::Starting | ServiceState::NotReady | ServiceState::Pending => "warn",
        ServiceState::Stopping | ServiceState::Stopped => "muted",
    }
}

fn body(view: Option<&LaunchView>, now: u64) -> Markup {
    let ago = |at: u64| span_ms(i64::try_from(now.saturating_sub(at)).unwrap_or(i64::MAX));
    html! {
        h1 { "Services" }
        @match view {
            None => p.notice {
                "No stack is up in this workspace. " code { "weft up" } " starts one; this view fills in as it does."
            },
            Some(view) => {
                @let ready = view.services.iter().filter(|s| matches!(s.state, ServiceState::Ready | ServiceState::Completed)).count();
                p.lead {
                    (ready) " of " (view.services.len()) " ready · supervisor pid " (view.supervisor_pid)
                    " · up " (ago(view.started_at_ms))
                }
                div.table-wrap {
                    table.services {
                        thead { tr {
                            th { "service" } th { "state" } th { "ready for" } th { "last probe" }
                            th.num { "restarts" } th { "ports" } th.num { "pid" } th { "why" }
                        } }
                        tbody {
                            @for service in &view.services {
                                tr data-service=(service.name) data-state=(service.state.as_str()) {
                                    td { a href={ "/graph/service/" (weft_github::encode_path(&service.id)) } { (service.name) } }
                                    td { span class={ "badge " (state_class(service.state)) } { (service.state.as_str()) } }
                                    td {
                                        @if let (ServiceState::Ready, Some(since)) = (service.state, service.ready_since_ms) { (ago(since)) }
                                    }
                                    td {
                                        @if let Some(probe) = &service.last_probe {
                                            span class=(if probe.ok { "good" } else { "bad" }) { (if probe.ok { "✓ " } else { "✗ " }) }
                                            code { (probe.check) } " · " (ago(probe.at_ms)) " ago"
                                            @if !probe.ok && !probe.message.is_empty() { br; span.muted { (probe.message) } }
                                        } @else { span.muted { "—" } }
                                    }
                                    td.num { (service.restarts) }
                                    td.mono {
                                        @for (i, port) in service.ports.iter().enumerate() {
                                            @if i > 0 { ", " }
                                            (port.name) "=" (port.port)
                                        }
                                    }
                                    td.num { @if let Some(pid) = service.pid { (pid) } }
                                    td {
                                        @if let Some(reason) = &service.reason { (reason) }
                                        @if let Some(exit) = &service.last_exit { br; span.muted { "last exit: " (exit.to_string()) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
