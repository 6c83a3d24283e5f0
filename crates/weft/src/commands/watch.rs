//! `weft watch`: keeps the model in memory, watches the repositories, and
//! prints what each saved file changed in the plan and the conflicts.

use std::time::{Duration, Instant};

use serde::Serialize;
use weft_analysis::{Analysis, Changes};
use weft_discover::{Applied, ApplyError, Update, Watcher, Workspace};
use weft_model::Severity;

use super::Context;
use crate::cli::{Format, WatchArgs};
use crate::console::{self, Style};
use crate::exit::Outcome;

/// How often the loop looks up from waiting (nothing to do in between).
const WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line<'a> {
    /// The first line: the workspace as read at the start.
    Ready {
        workspace: &'a str,
        repositories: usize,
        services: usize,
        edges: usize,
        conflicts: usize,
        phases: usize,
        watched_directories: usize,
        elapsed_ms: f64,
    },
    /// One batch of changed files and what it changed.
    Change {
        paths: &'a [String],
        reread: &'a [String],
        reloaded: bool,
        timings_ms: Timings,
        changes: &'a Changes,
    },
    /// The changed files could not be read into a model (weft.yaml no
    /// longer parses); the last good model stays.
    Error {
        paths: &'a [String],
        message: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Timings {
    read: f64,
    build: f64,
    analysis: f64,
    total: f64,
}

pub(crate) fn run(context: &Context, args: WatchArgs) -> anyhow::Result<Outcome> {
    let root = context.workspace(args.directory.as_deref());
    let started = Instant::now();
    let mut workspace = Workspace::open(&root)?;
    let mut analysis = Analysis::of(workspace.shared_model())?;
    let mut watcher = Watcher::new(workspace.directory(), &workspace.repository_directories())
        .map_err(|error| with_hint(error.hint(), error.into()))?;
    let model = &analysis.model;
    emit(
        args.format,
        &Line::Ready {
            workspace: &model.name,
            repositories: model.repositories.len(),
            services: model.services.len(),
            edges: model.edges.len(),
            conflicts: analysis.conflicts.len(),
            phases: analysis.plan.phases.len(),
            watched_directories: watcher.watched(),
            elapsed_ms: ms(started.elapsed()),
        },
    )?;
    loop {
        let Some(batch) = watcher
            .next_batch(args.debounce, WAIT)
            .map_err(|error| with_hint(error.hint(), error.into()))?
        else {
            continue;
        };
        let started = Instant::now();
        let update = match watcher.apply(&mut workspace, &batch) {
            Ok(Applied { update, unwatched }) => {
                // A repository that appeared and cannot be watched.
                if let Some(error) = unwatched.into_iter().next() {
                    return Err(with_hint(error.hint(), error.into()));
                }
                update
            }
            Err(ApplyError::Watch(error)) => return Err(with_hint(error.hint(), error.into())),
            Err(ApplyError::Workspace(error)) => {
                emit(
                    args.format,
                    &Line::Error {
                        paths: &workspace.relevant(&batch.paths),
                        message: error.to_string(),
                    },
                )?;
                continue;
            }
        };
        if update.relevant.is_empty() && !update.reloaded {
            continue;
        }
        let analysing = Instant::now();
        let next = if update.rebuilt {
            Analysis::of(workspace.shared_model())?
        } else {
            analysis.clone()
        };
        let changes = next.changes_since(&analysis);
        let timings = Timings {
            read: ms(update.read_time),
            build: ms(update.build_time),
            analysis: ms(analysing.elapsed()),
            total: ms(started.elapsed()),
        };
        // The last model is let go once the change is out: freeing tens of
        // thousands of services is not worth a wait.
        let previous = std::mem::replace(&mut analysis, next);
        emit(
            args.format,
            &Line::Change {
                paths: &update.relevant,
                reread: &update.reread,
                reloaded: update.reloaded,
                timings_ms: timings,
                changes: &changes,
            },
        )?;
        if args.format == Format::Text {
            console::out(&render(&update, &changes, &analysis, timings));
        }
        drop(previous);
    }
}

fn with_hint(hint: Option<&'static str>, error: anyhow::Error) -> anyhow::Error {
    match hint {
        Some(hint) => error.context(hint),
        None => error,
    }
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e4).round() / 10.0
}

/// JSON lines go out as they are; text is written for `Ready` and `Error`
/// here and for changes by [`render`].
fn emit(format: Format, line: &Line<'_>) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string(line)?;
            text.push('\n');
            console::out(&text);
        }
        Format::Text => match line {
            Line::Ready {
                workspace,
                repositories,
                services,
                conflicts,
                phases,
                watched_directories,
                elapsed_ms,
                ..
            } => console::out(&format!(
                "{} {workspace}: {}, {}, {}, {} ({} directories watched; read in {elapsed_ms} ms)\n\
                 Save a file to see what it changes; Ctrl-C stops.\n",
                console::paint(Style::Bold, "Watching"),
                console::count(*repositories, "repository"),
                console::count(*services, "service"),
                console::count(*phases, "phase"),
                console::count(*conflicts, "conflict"),
                watched_directories,
            )),
            Line::Error { paths, message } => console::out(&format!(
                "{} {}: {message}\n  the last good model stays; fix the file and save it again\n",
                console::paint(Style::Red, "error"),
                paths.join(", "),
            )),
            Line::Change { .. } => {}
        },
    }
    Ok(())
}

/// A change as text: the files, then each difference, one per line.
fn render(update: &Update, changes: &Changes, analysis: &Analysis, timings: Timings) -> String {
    let mut text = format!(
        "\n{} {} ({}{} in {} ms)\n",
        console::paint(Style::Bold, "changed"),
        update.relevant.join(", "),
        if update.reloaded {
            "weft.yaml: everything read again".to_string()
        } else {
            format!(
                "{} read again",
                console::count(update.reread.len(), "repository")
            )
        },
        if update.rebuilt { "" } else { ", same facts" },
        timings.total
    );
    if changes.is_empty() {
        text.push_str(&format!(
            "  {}\n",
            console::paint(Style::Dim, "no change to the plan or the conflicts")
        ));
        return text;
    }
    let plus = console::paint(Style::Green, "+");
    let minus = console::paint(Style::Red, "-");
    let tilde = console::paint(Style::Yellow, "~");
    for service in &changes.services.added {
        text.push_str(&format!("  {plus} service {service}\n"));
    }
    for service in &changes.services.removed {
        text.push_str(&format!("  {minus} service {service}\n"));
    }
    for (sign, edges) in [
        (&plus, &changes.edges.added),
        (&minus, &changes.edges.removed),
    ] {
        for edge in edges {
            text.push_str(&format!(
                "  {sign} edge {} → {} ({})\n",
                edge.from,
                edge.to,
                edge.kind.as_str()
            ));
        }
    }
    for (sign, cycles) in [
        (&plus, &changes.cycles.added),
        (&minus, &changes.cycles.removed),
    ] {
        for cycle in cycles {
            let path: Vec<&str> = cycle.iter().map(|s| s.as_str()).collect();
            text.push_str(&format!("  {sign} cycle {}\n", path.join(" → ")));
        }
    }
    for (sign, conflicts) in [
        (&plus, &changes.conflicts.added),
        (&tilde, &changes.conflicts.changed),
    ] {
        for conflict in conflicts {
            let severity = console::severity(conflict.severity);
            text.push_str(&format!(
                "  {sign} conflict {} ({severity}): {}\n",
                conflict.id, conflict.message
            ));
            for claim in &conflict.claims {
                text.push_str(&format!(
                    "      {}  {}\n",
                    claim.service,
                    console::paint(Style::Dim, claim.provenance.location())
                ));
            }
        }
    }
    for id in &changes.conflicts.removed {
        text.push_str(&format!("  {minus} conflict {id}\n"));
    }
    if !changes.phases.is_empty() {
        const SHOWN: usize = 10;
        text.push_str(&format!(
            "  {tilde} plan: {} moved{}\n",
            console::count(changes.phases.len(), "service"),
            changes
                .phase_count
                .map(|[before, after]| format!("; {before} → {after} phases"))
                .unwrap_or_default()
        ));
        for change in changes.phases.iter().take(SHOWN) {
            let phase = |p: Option<usize>| p.map_or("—".to_string(), |p| format!("phase {p}"));
            text.push_str(&format!(
                "      {}: {} → {}\n",
                change.service,
                phase(change.from),
                phase(change.to)
            ));
        }
        if changes.phases.len() > SHOWN {
            text.push_str(&format!(
                "      … and {} more (`weft plan` shows them all)\n",
                changes.phases.len() - SHOWN
            ));
        }
    }
    if let Some([before, after]) = changes.diagnostics {
        text.push_str(&format!(
            "  {tilde} diagnostics: {before} → {after} (`weft check` lists them)\n"
        ));
    }
    let errors = analysis
        .conflicts
        .iter()
        .filter(|c| c.severity == Severity::Error)
        .count();
    text.push_str(&format!(
        "  {}\n",
        console::paint(
            Style::Dim,
            format!(
                "now {}, {} ({errors} errors), {}",
                console::count(analysis.model.services.len(), "service"),
                console::count(analysis.conflicts.len(), "conflict"),
                console::count(analysis.plan.phases.len(), "phase")
            )
        )
    ));
    text
}
