//! The workspace model kept current while the server runs: read once, then
//! brought up to date as its files change ([`weft_discover::Workspace`] fed
//! by a [`weft_discover::Watcher`]), so pages answer from memory and every
//! change goes out on the event stream as a `model` event.
//!
//! Where watching is not possible (the system's watch limit, a workspace
//! that does not read yet), nothing is held and pages read the workspace on
//! each load, as before.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use weft_analysis::{Analysis, Changes};
use weft_discover::{Applied, ApplyError, Watcher, Workspace};

/// How long files must be quiet before a batch of changes is read.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// How often the watching thread looks whether the server is stopping.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// How long to wait before trying again to read a workspace that does not read.
const RETRY: Duration = Duration::from_secs(2);

/// The model as last read, and the changes to it as they happen.
#[derive(Debug)]
pub(crate) struct LiveModel {
    current: watch::Sender<Option<Arc<Analysis>>>,
    changes: broadcast::Sender<Arc<str>>,
    stop: Arc<AtomicBool>,
}

impl Default for LiveModel {
    fn default() -> Self {
        LiveModel {
            current: watch::channel(None).0,
            changes: broadcast::channel(64).0,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// The data of one `model` event; its JSON form is documented in docs/json.md.
#[derive(Debug, Serialize)]
struct ModelEvent<'a> {
    /// Changed paths, relative to the workspace root.
    paths: &'a [String],
    /// Repositories read again.
    reread: &'a [String],
    /// weft.yaml changed: everything was read again.
    reloaded: bool,
    /// The files could not be read into a model; the last good one stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a Changes>,
    services: usize,
    conflicts: usize,
    phases: usize,
    elapsed_ms: f64,
}

impl LiveModel {
    /// The model with its plan and conflicts, when one is held.
    pub(crate) fn current(&self) -> Option<Arc<Analysis>> {
        self.current.borrow().clone()
    }

    /// `model` events' data, as JSON, from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.changes.subscribe()
    }

    /// Ends the watching thread within [`LOOK_EVERY`].
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Reads the workspace at `root` and keeps watching it, on a thread of
    /// its own (reading is blocking work), until [`LiveModel::stop`] or the
    /// guard answered is dropped.
    pub(crate) fn start(self: &Arc<Self>, root: PathBuf) -> Watching {
        let live = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("weft-watch".to_string())
            .spawn(move || live.run(&root));
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start watching the workspace; pages read it on each load");
        }
        Watching(Arc::clone(self))
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run(&self, root: &std::path::Path) {
        let (mut workspace, analysis) = loop {
            let opened = Workspace::open(root)
                .map_err(|error| error.to_string())
                .and_then(|workspace| {
                    let analysis =
                        Analysis::of(workspace.shared_model()).map_err(|e| e.to_string())?;
                    Ok((workspace, analysis))
                });
            match opened {
                Ok(opened) => break opened,
                Err(error) => {
                    tracing::debug!(%error, "the workspace does not read yet");
                    std::thread::sleep(RETRY);
                    if self.stopping() {
                        return;
                    }
                }
            }
        };
        let mut watcher = match Watcher::new(
            workspace.directory(),
            &workspace.repository_directories(),
        ) {
            Ok(watcher) => watcher,
            Err(error) => {
                tracing::warn!(%error, hint = error.hint().unwrap_or(""), "cannot watch the workspace; pages read it on each load");
                return;
            }
        };
        tracing::info!(
            services = analysis.model.services.len(),
            directories = watcher.watched(),
            "watching the workspace"
        );
        let mut analysis = Arc::new(analysis);
        self.current.send_replace(Some(Arc::clone(&analysis)));
        while !self.stopping() {
            let batch = match watcher.next_batch(DEBOUNCE, LOOK_EVERY) {
                Ok(Some(batch)) => batch,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, "the workspace watcher stopped; pages read the workspace on each load");
                    self.current.send_replace(None);
                    return;
                }
            };
            let started = Instant::now();
            let update = match watcher.apply(&mut workspace, &batch) {
                Ok(Applied { update, unwatched }) => {
                    for error in unwatched {
                        tracing::warn!(%error, "cannot watch a new repository");
                    }
                    update
                }
                Err(ApplyError::Watch(error)) => {
                    tracing::warn!(%error, "the workspace watcher stopped; pages read the workspace on each load");
                    self.current.send_replace(None);
                    return;
                }
                Err(ApplyError::Workspace(error)) => {
                    // Reads go to the files (and answer the error) until
                    // they read again.
                    self.current.send_replace(None);
                    let paths = workspace.relevant(&batch.paths);
                    self.publish(&ModelEvent {
                        paths: &paths,
                        reread: &[],
                        reloaded: false,
                        error: Some(error.to_string()),
                        changes: None,
                        services: analysis.model.services.len(),
                        conflicts: analysis.conflicts.len(),
                        phases: analysis.plan.phases.len(),
                        elapsed_ms: elapsed_ms(started),
                    });
                    continue;
                }
            };
            if !update.rebuilt {
                continue;
            }
            let next = match Analysis::of(workspace.shared_model()) {
                Ok(next) => Arc::new(next),
                Err(error) => {
                    tracing::warn!(%error, "cannot analyse the changed workspace");
                    continue;
                }
            };
            let changes = next.changes_since(&analysis);
            // The last model is let go once the change is out: freeing
            // tens of thousands of services is not worth a wait.
            let previous = std::mem::replace(&mut analysis, next);
            self.current.send_replace(Some(Arc::clone(&analysis)));
            if changes.is_empty() {
                continue;
            }
            self.publish(&ModelEvent {
                paths: &update.relevant,
                reread: &update.reread,
                reloaded: update.reloaded,
                error: None,
                changes: Some(&changes),
                services: analysis.model.services.len(),
                conflicts: analysis.conflicts.len(),
                phases: analysis.plan.phases.len(),
                elapsed_ms: elapsed_ms(started),
            });
            drop(previous);
        }
    }

    fn publish(&self, event: &ModelEvent<'_>) {
        match serde_json::to_string(event) {
            // Nobody listening is fine.
            Ok(data) => drop(self.changes.send(Arc::from(data))),
            Err(error) => tracing::warn!(%error, "cannot write a model event"),
        }
    }
}

/// Stops the watching thread when dropped, however `serve` ends.
#[derive(Debug)]
pub(crate) struct Watching(Arc<LiveModel>);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.stop();
    }
}

fn elapsed_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e4).round() / 10.0
}
