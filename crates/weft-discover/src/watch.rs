//! Watching a workspace's files for changes, for [`Workspace::update`].
//!
//! Each directory discovery reads is watched on its own (not one recursive
//! watch on the root), so that `.git`, `node_modules`, `target` and the
//! other directories discovery skips cost no watch and send no event. A
//! directory created later is watched as it appears, and the files already
//! in it count as changed. Changes are handed out in batches: a batch closes
//! once the files have been quiet for a moment (editors write a file in
//! several steps) or has been open for [`LONGEST_BATCH`].
//!
//! [`Workspace::update`]: crate::Workspace::update

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};

use crate::workspace::SKIPPED_DIRECTORIES;

/// A batch is handed out after this long even if changes keep coming.
pub const LONGEST_BATCH: Duration = Duration::from_secs(1);

/// The watcher could not be set up or stopped working.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch `{}`: {source}", .path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("the file watcher stopped: {0}")]
    Stopped(#[source] notify::Error),
}

impl WatchError {
    /// What to do about it, where there is something to do.
    pub fn hint(&self) -> Option<&'static str> {
        let source = match self {
            WatchError::Watch { source, .. } | WatchError::Stopped(source) => source,
        };
        matches!(source.kind, notify::ErrorKind::MaxFilesWatch).then_some(
            "the system's limit on watched directories is reached; raise it with \
             `sysctl fs.inotify.max_user_watches=524288`",
        )
    }
}

/// Changed paths, as [`Watcher::next_batch`] hands them out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Files and directories created, written, renamed or removed; sorted.
    pub paths: Vec<PathBuf>,
    /// Events were lost (the system's queue overflowed): read everything.
    pub rescan: bool,
}

/// Watches the directories of a workspace.
pub struct Watcher {
    inner: notify::RecommendedWatcher,
    events: mpsc::Receiver<notify::Result<notify::Event>>,
    watched: HashSet<PathBuf>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watched", &self.watched.len())
            .finish()
    }
}

impl Watcher {
    /// Watches `root` and every directory below it that discovery reads,
    /// and also `also` (repositories weft.yaml places under a directory
    /// discovery would skip, or outside the root).
    pub fn new(root: &Path, also: &[PathBuf]) -> Result<Self, WatchError> {
        let (sender, events) = mpsc::channel();
        let inner = notify::recommended_watcher(move |event| {
            // The receiver is gone only once the watcher is dropped.
            let _ = sender.send(event);
        })
        .map_err(|source| WatchError::Watch {
            path: root.to_path_buf(),
            source,
        })?;
        let mut watcher = Watcher {
            inner,
            events,
            watched: HashSet::new(),
        };
        watcher.watch_tree(root, &mut Vec::new())?;
        for directory in also {
            if !directory.starts_with(root) && directory.is_dir() {
                watcher.watch_tree(directory, &mut Vec::new())?;
            }
        }
        Ok(watcher)
    }

    /// Watches `directory` and what is below it too, if it is not watched
    /// yet: a repository that appeared outside the root.
    pub fn also_watch(&mut self, directory: &Path) -> Result<(), WatchError> {
        if self.watched.contains(directory) || !directory.is_dir() {
            return Ok(());
        }
        self.watch_tree(directory, &mut Vec::new())
    }

    /// How many directories are watched.
    pub fn watched(&self) -> usize {
        self.watched.len()
    }

    /// Waits up to `timeout` for a change, then until nothing has changed
    /// for `quiet`, and answers what changed; `None` when nothing changed
    /// within `timeout`.
    pub fn next_batch(
        &mut self,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<Option<Batch>, WatchError> {
        let mut paths = BTreeSet::new();
        let mut rescan = false;
        let first = match self.events.recv_timeout(timeout) {
            Ok(event) => event,
            Err(mpsc::RecvTimeoutError::Timeout) => return Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
        };
        self.take(first, &mut paths, &mut rescan)?;
        let opened = Instant::now();
        loop {
            let left = LONGEST_BATCH.saturating_sub(opened.elapsed());
            if left.is_zero() {
                break;
            }
            match self.events.recv_timeout(quiet.min(left)) {
                Ok(event) => self.take(event, &mut paths, &mut rescan)?,
                Err(_) => break,
            }
        }
        if paths.is_empty() && !rescan {
            // Only events that change nothing (reads, attribute changes).
            return Ok(None);
        }
        Ok(Some(Batch {
            paths: paths.into_iter().collect(),
            rescan,
        }))
    }

    fn take(
        &mut self,
        event: notify::Result<notify::Event>,
        paths: &mut BTreeSet<PathBuf>,
        rescan: &mut bool,
    ) -> Result<(), WatchError> {
        let event = event.map_err(WatchError::Stopped)?;
        if event.need_rescan() {
            *rescan = true;
        }
        let counts = match event.kind {
            EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
            EventKind::Any
            | EventKind::Create(_)
            | EventKind::Modify(_)
            | EventKind::Remove(_)
            | EventKind::Other => true,
        };
        if !counts {
            return Ok(());
        }
        for path in event.paths {
            if is_skipped(&path) {
                continue;
            }
            if path.is_dir() && !self.watched.contains(&path) {
                // A new directory (or one renamed into place): watch it, and
                // count what it already holds, written before the watch.
                let mut found = Vec::new();
                self.watch_tree(&path, &mut found)?;
                paths.extend(found);
            }
            if !path.exists() {
                self.watched.remove(&path);
            }
            paths.insert(path);
        }
        Ok(())
    }

    /// Watches `directory` and the directories below it that discovery
    /// reads, adding the files found to `files`.
    fn watch_tree(&mut self, directory: &Path, files: &mut Vec<PathBuf>) -> Result<(), WatchError> {
        let walk = ignore::WalkBuilder::new(directory)
            .standard_filters(false)
            .follow_links(true)
            .filter_entry(|entry| {
                entry.depth() == 0
                    || !entry.file_type().is_some_and(|t| t.is_dir())
                    || !entry
                        .file_name()
                        .to_str()
                        .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name))
            })
            .build();
        for entry in walk.filter_map(Result::ok) {
            let path = entry.path();
            if !entry.file_type().is_some_and(|t| t.is_dir()) {
                files.push(path.to_path_buf());
                continue;
            }
            if self.watched.contains(path) {
                continue;
            }
            match self.inner.watch(path, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(path.to_path_buf());
                }
                // Gone between the listing and the watch: nothing to watch.
                Err(error)
                    if matches!(error.kind, notify::ErrorKind::PathNotFound)
                        || matches!(&error.kind, notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) =>
                    {}
                Err(source) => {
                    return Err(WatchError::Watch {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Whether `path` lies under a directory discovery never enters.
fn is_skipped(path: &Path) -> bool {
    path.parent().is_some_and(|parent| {
        parent.components().any(|component| {
            component
                .as_os_str()
                .to_str()
                .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name))
        })
    }) || path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name) && path.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(watcher: &mut Watcher) -> Batch {
        watcher
            .next_batch(Duration::from_millis(100), Duration::from_secs(5))
            .expect("watch")
            .expect("a change within 5 s")
    }

    #[test]
    fn writes_new_directories_and_removals_are_seen_and_skipped_directories_are_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical root");
        fs_err::create_dir_all(root.join("api/.git")).expect("mkdir");
        fs_err::create_dir_all(root.join("api/node_modules/x")).expect("mkdir");
        fs_err::write(root.join("api/compose.yaml"), "services: {}\n").expect("write");
        let mut watcher = Watcher::new(&root, &[]).expect("watcher");
        assert_eq!(
            watcher.watched(),
            2,
            "the root and api, not .git or node_modules"
        );

        fs_err::write(root.join("api/compose.yaml"), "services: {web: {}}\n").expect("write");
        assert_eq!(batch(&mut watcher).paths, [root.join("api/compose.yaml")]);

        // Skipped directories send nothing; the next batch is the next real change.
        fs_err::write(root.join("api/.git/HEAD"), "ref: x\n").expect("write");
        fs_err::write(root.join("api/node_modules/x/a.yaml"), "a: 1\n").expect("write");
        fs_err::write(root.join("api/.env"), "A=1\n").expect("write");
        assert_eq!(batch(&mut watcher).paths, [root.join("api/.env")]);

        // A repository that appears at once, files and all.
        fs_err::create_dir_all(root.join("web/k8s")).expect("mkdir");
        fs_err::write(root.join("web/k8s/app.yaml"), "kind: Service\n").expect("write");
        let paths = batch(&mut watcher).paths;
        assert!(paths.contains(&root.join("web/k8s/app.yaml")), "{paths:?}");
        fs_err::write(root.join("web/k8s/app.yaml"), "kind: Deployment\n").expect("write");
        assert_eq!(batch(&mut watcher).paths, [root.join("web/k8s/app.yaml")]);

        fs_err::remove_file(root.join("api/.env")).expect("remove");
        assert_eq!(batch(&mut watcher).paths, [root.join("api/.env")]);
    }
}
