//! What the launch commands share: the workspace's state directory, the
//! connection to its supervisor, and the rendering of service states;
//! and `weft restart`, `weft stop` and `weft start`, which only forward a request.

use std::path::PathBuf;

use weft_launch::control::{Client, Request, Response};
use weft_launch::{LaunchError, ServiceStatus, State};

use super::Context;
use crate::cli::ServicesArgs;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

/// `.weft/` of the workspace, by its absolute path (the supervisor's key).
pub(crate) fn state_dir(context: &Context) -> anyhow::Result<PathBuf> {
    let root = context.workspace(None);
    let root = std::fs::canonicalize(&root).map_err(|_| {
        UsageError::new(format!("workspace `{}` does not exist", root.display()))
            .with_hint("give an existing directory with -w DIR")
    })?;
    Ok(root.join(".weft"))
}

/// Explains a failed connection, with what to do.
pub(crate) fn connection_error(error: LaunchError) -> anyhow::Error {
    match error {
        LaunchError::NotRunning => anyhow::Error::new(NotRunning),
        other => other.into(),
    }
}

/// No supervisor runs for the workspace (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("no supervisor is running for this workspace; start one with `weft up --detach`")]
pub(crate) struct NotRunning;

/// Sends a request that has one answer.
pub(crate) fn ask(context: &Context, request: &Request) -> anyhow::Result<Response> {
    let state_dir = state_dir(context)?;
    let response = Client::ask(&state_dir, request).map_err(connection_error)?;
    if let Response::Error { message } = response {
        return Err(UsageError::new(message)
            .with_hint("`weft status` lists the services")
            .into());
    }
    Ok(response)
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Verb {
    Restart,
    Stop,
    Start,
}

/// `weft restart|stop|start SERVICE...`.
pub(crate) fn control(
    context: &Context,
    args: ServicesArgs,
    verb: Verb,
) -> anyhow::Result<Outcome> {
    let services = args.services;
    let request = match verb {
        Verb::Restart => Request::Restart { services },
        Verb::Stop => Request::Stop { services },
        Verb::Start => Request::Start { services },
    };
    if let Response::Done { message } = ask(context, &request)? {
        console::note(&message);
    }
    Ok(Outcome::Clean)
}

/// A state, coloured by how good it is.
pub(crate) fn paint_state(state: State) -> String {
    let style = match state {
        State::Ready | State::Completed => Style::Green,
        State::Failed => Style::Red,
        State::NotReady | State::Stopping => Style::Yellow,
        State::Pending | State::Starting => Style::Cyan,
        State::Stopped => Style::Dim,
    };
    console::paint(style, state.as_str())
}

/// `3s`, `4m12s`, `2h05m`: how long ago, for people.
pub(crate) fn ago(ms: u64) -> String {
    let elapsed = weft_launch::now_ms().saturating_sub(ms) / 1000;
    match elapsed {
        0..60 => format!("{elapsed}s"),
        60..3600 => format!("{}m{:02}s", elapsed / 60, elapsed % 60),
        _ => format!("{}h{:02}m", elapsed / 3600, elapsed % 3600 / 60),
    }
}

/// The status table.
pub(crate) fn render_statuses(services: &[ServiceStatus]) -> String {
    let headers = [
        "SERVICE",
        "STATE",
        "PID",
        "PORTS",
        "READY FOR",
        "RESTARTS",
        "LAST PROBE",
    ];
    let rows: Vec<[String; 7]> = services
        .iter()
        .map(|s| {
            let probe = s.last_probe.as_ref().map_or_else(String::new, |p| {
                format!(
                    "{} {}: {}",
                    p.probe,
                    if p.ok { "ok" } else { "failing" },
                    p.message
                )
            });
            [
                s.name.clone(),
                s.state.as_str().to_string(),
                s.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                if s.ports.is_empty() {
                    "-".into()
                } else {
                    s.ports
                        .iter()
                        .map(|p| format!("{}={}", p.name, p.port))
                        .collect::<Vec<_>>()
                        .join(",")
                },
                s.ready_since_ms.map_or_else(|| "-".into(), ago),
                s.restarts.to_string(),
                probe,
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = headers
        .iter()
        .zip(widths)
        .map(|(h, w)| format!("{h:w$}"))
        .collect();
    text.push_str(&console::paint(Style::Bold, header.join("  ").trim_end()));
    text.push('\n');
    for (row, service) in rows.iter().zip(services) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                let padded = format!("{cell:width$}");
                if column == 1 {
                    padded.replacen(cell.as_str(), &paint_state(service.state), 1)
                } else {
                    padded
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
        if let Some(reason) = &service.reason
            && !matches!(service.state, State::Ready)
        {
            text.push_str(&format!(
                "  {}\n",
                console::paint(Style::Dim, format!("└ {reason}"))
            ));
        }
    }
    text
}
