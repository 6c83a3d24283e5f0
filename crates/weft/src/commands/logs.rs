//! `weft logs`: services' output from their log files, then live with `-f`.

use std::path::{Path, PathBuf};

use weft_launch::control::{Client, Request, Response};
use weft_launch::output::{LogLine, Stream, log_path, read_log_files};
use weft_launch::registry;

use super::Context;
use super::launch::{connection_error, state_dir};
use crate::cli::{Format, LogsArgs};
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

pub(crate) fn run(context: &Context, args: LogsArgs) -> anyhow::Result<Outcome> {
    let state_dir = state_dir(context)?;
    let known = services(&state_dir);
    let selected: Vec<(String, String)> = if args.services.is_empty() {
        known.clone()
    } else {
        args.services
            .iter()
            .map(|name| {
                known
                    .iter()
                    .find(|(id, short)| {
                        id == name || short == name || id.rsplit('/').next() == Some(name)
                    })
                    .cloned()
                    .ok_or_else(|| {
                        UsageError::new(format!("no logs of a service named `{name}`")).with_hint(
                            "`weft status` lists the services; logs are kept under .weft/logs",
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let since_ms = args.since.map_or(0, |d| {
        weft_launch::now_ms().saturating_sub(d.as_millis() as u64)
    });
    let width = selected
        .iter()
        .map(|(_, n)| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<(usize, LogLine)> = Vec::new();
    for (index, (id, _)) in selected.iter().enumerate() {
        let mut own = read_log_files(&log_path(&state_dir, id), index, since_ms);
        if let Some(tail) = args.tail {
            own.drain(..own.len().saturating_sub(tail));
        }
        lines.extend(own.into_iter().map(|l| (index, l)));
    }
    // Interleaved by time; a service's own lines keep their order.
    lines.sort_by_key(|(index, line)| (line.at_ms, *index));
    for (index, line) in &lines {
        print_line(&selected[*index].1, width, line, args.format)?;
    }
    if !args.follow {
        return Ok(Outcome::Clean);
    }
    let names: Vec<String> = args.services.clone();
    let mut client = Client::connect(&state_dir).map_err(connection_error)?;
    client.send(&Request::Follow { services: names })?;
    while let Some(response) = client.receive()? {
        match response {
            Response::Line { name, line } => print_line(&name, width, &line, args.format)?,
            Response::Lagged { missed } => console::note(&console::paint_note(&format!(
                "({missed} lines not shown: output came faster than it was read; all of it is in .weft/logs)"
            ))),
            Response::Error { message } => return Err(UsageError::new(message).into()),
            _ => {}
        }
    }
    Ok(Outcome::Clean)
}

fn print_line(name: &str, width: usize, line: &LogLine, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string(&serde_json::json!({
                "service": name,
                "stream": line.stream,
                "at_ms": line.at_ms,
                "text": line.text,
            }))?;
            text.push('\n');
            console::out(&text);
        }
        Format::Text => console::out(&format_line(name, width, line)),
    }
    Ok(())
}

/// `api  | text`, the prefix coloured per service; weft's own lines dimmed.
pub(crate) fn format_line(name: &str, width: usize, line: &LogLine) -> String {
    const PALETTE: [&str; 6] = ["36", "32", "33", "35", "34", "96"];
    let colour = PALETTE[name.bytes().map(usize::from).sum::<usize>() % PALETTE.len()];
    let prefix = console::paint_code(colour, format!("{name:width$} |"));
    match line.stream {
        Stream::Weft => format!(
            "{prefix} {}\n",
            console::paint(Style::Dim, format!("[weft] {}", line.text))
        ),
        _ => format!("{prefix} {}\n", line.text),
    }
}

/// `(id, name)` of the services with logs: from the registry, else the log files.
fn services(state_dir: &Path) -> Vec<(String, String)> {
    if let Some(registry) = registry::read(state_dir) {
        return registry
            .services
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
    }
    let root = state_dir.join("logs");
    let mut found = Vec::new();
    let Ok(repositories) = std::fs::read_dir(&root) else {
        return found;
    };
    for repository in repositories.flatten() {
        let Ok(files) = std::fs::read_dir(repository.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path: PathBuf = file.path();
            if path.extension().is_some_and(|e| e == "log")
                && let (Some(stem), Some(repo)) =
                    (path.file_stem(), repository.file_name().to_str())
            {
                let name = stem.to_string_lossy().to_string();
                found.push((format!("{repo}/{name}"), name));
            }
        }
    }
    found.sort();
    found
}
