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

use crate::incremental::{Update, Workspace};
use crate::workspace::{DiscoverError, SKIPPED_DIRECTORIES};

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

/// Why [`Watcher::apply`] could not bring a workspace up to date.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Watching everything again failed: the watcher is of no more use.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// The files no longer read (weft.yaml broke, the root went away); the
    /// workspace keeps its last good model until a later batch mends them.
    #[error(transparent)]
    Workspace(#[from] DiscoverError),
}

/// What [`Watcher::apply`] did.
#[derive(Debug)]
pub struct Applied {
    pub update: Update,
    /// Repositories that appeared but cannot be watched; their files were
    /// read all the same.
    pub unwatched: Vec<WatchError>,
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
    /// The trees watched: the root and repositories outside it or under a
    /// directory the walk from the root skips. Skipping is judged below them.
    tops: Vec<PathBuf>,
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
    /// and also the trees of `also` (the repositories: weft.yaml may place
    /// one outside the root, or under a directory the walk from the root
    /// skips).
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
            tops: vec![root.to_path_buf()],
            watched: HashSet::new(),
        };
        watcher.watch_tree(root, &mut Vec::new())?;
        for directory in also {
            watcher.also_watch(directory)?;
        }
        Ok(watcher)
    }

    /// Watches everything again, after events were lost: directories made
    /// meanwhile are watched, and those gone are forgotten.
    pub fn rescan(&mut self) -> Result<(), WatchError> {
        self.watched.retain(|path| path.is_dir());
        for top in self.tops.clone() {
            if top.is_dir() {
                self.watch_tree(&top, &mut Vec::new())?;
            }
        }
        Ok(())
    }

    /// Watches `directory` and what is below it too, if it is not watched
    /// yet: a repository that appeared outside the root.
    pub fn also_watch(&mut self, directory: &Path) -> Result<(), WatchError> {
        if self.watched.contains(directory) || !directory.is_dir() {
            return Ok(());
        }
        // One that could not be watched (it is not readable) is tried again
        // on each call, but rescanned as one tree.
        if !self.tops.iter().any(|top| top == directory) {
            self.tops.push(directory.to_path_buf());
        }
        self.watch_tree(directory, &mut Vec::new())
    }

    /// Brings `workspace` up to date with a batch, as `weft watch` and
    /// `weft serve` do: everything read and watched again after lost events,
    /// else the changed paths read again; then repositories that appeared
    /// are watched too.
    pub fn apply(
        &mut self,
        workspace: &mut Workspace,
        batch: &Batch,
    ) -> Result<Applied, ApplyError> {
        let update = if batch.rescan {
            self.rescan()?;
            workspace.reload()?
        } else {
            workspace.update(&batch.paths)?
        };
        let mut unwatched = Vec::new();
        if update.reloaded || !update.reread.is_empty() {
            for directory in workspace.repository_directories() {
                if let Err(error) = self.also_watch(&directory) {
                    unwatched.push(error);
                }
            }
        }
        Ok(Applied { update, unwatched })
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
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(WatchError::Stopped(notify::Error::generic(
                    "the file system's notifications ended",
                )));
            }
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
            if self.is_skipped(&path) {
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
                // Gone, or renamed away: so is everything below it.
                self.watched.retain(|watched| !watched.starts_with(&path));
            }
            paths.insert(path);
        }
        Ok(())
    }

    /// Whether `path` lies under a directory discovery never enters, judged
    /// below the watched tree that holds it (a workspace may itself live
    /// under a directory named `target`).
    fn is_skipped(&self, path: &Path) -> bool {
        let top = self
            .tops
            .iter()
            .filter(|top| path.starts_with(top))
            .max_by_key(|top| top.as_os_str().len());
        let Some(within) = top.and_then(|top| path.strip_prefix(top).ok()) else {
            return true;
        };
        let skipped = |name: &std::ffi::OsStr| {
            name.to_str()
                .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name))
        };
        within
            .parent()
            .is_some_and(|parent| parent.components().any(|c| skipped(c.as_os_str())))
            || (within.file_name().is_some_and(skipped) && path.is_dir())
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
                // Gone between the listing and the watch, or not ours to
                // read (a container's data directory): discovery cannot
                // read it either.
                Err(error) if is_unwatchable(&error) => {}
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

/// A directory gone before its watch, or one this user may not read.
fn is_unwatchable(error: &notify::Error) -> bool {
    match &error.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
        ),
        _ => false,
    }
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

    #[test]
    fn a_workspace_under_a_directory_named_like_a_skipped_one_is_watched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir
            .path()
            .canonicalize()
            .expect("canonical")
            .join("target/ws");
        fs_err::create_dir_all(root.join("api")).expect("mkdir");
        let vendored = root.join("vendor/lib");
        fs_err::create_dir_all(&vendored).expect("mkdir");
        let mut watcher = Watcher::new(&root, std::slice::from_ref(&vendored)).expect("watcher");
        fs_err::write(root.join("api/compose.yaml"), "services: {}\n").expect("write");
        assert_eq!(batch(&mut watcher).paths, [root.join("api/compose.yaml")]);
        // A repository weft.yaml places under `vendor` is watched too.
        fs_err::write(vendored.join("compose.yaml"), "services: {}\n").expect("write");
        assert_eq!(batch(&mut watcher).paths, [vendored.join("compose.yaml")]);
    }

    #[test]
    fn applying_batches_follows_a_repository_weft_yaml_adds_and_keeps_the_model_on_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = dir.path().canonicalize().expect("canonical");
        let (root, external) = (base.join("ws"), base.join("ext"));
        fs_err::create_dir_all(root.join("api")).expect("mkdir");
        fs_err::create_dir_all(&external).expect("mkdir");
        fs_err::write(root.join("api/compose.yaml"), "services: {web: {}}\n").expect("write");
        fs_err::write(external.join("compose.yaml"), "services: {billing: {}}\n").expect("write");
        fs_err::write(root.join("weft.yaml"), "repositories:\n  api: {}\n").expect("write");
        let mut workspace = Workspace::open(&root).expect("open");
        let mut watcher =
            Watcher::new(&root, &workspace.repository_directories()).expect("watcher");
        let watched = watcher.watched();

        // weft.yaml now lists a repository outside the root: it is read and watched.
        fs_err::write(
            root.join("weft.yaml"),
            "repositories:\n  api: {}\n  ext: {path: ../ext}\n",
        )
        .expect("write");
        let changed = batch(&mut watcher);
        let applied = watcher.apply(&mut workspace, &changed).expect("apply");
        assert!(applied.update.reloaded && applied.unwatched.is_empty());
        assert!(workspace.model().lookup("billing").is_ok());
        assert_eq!(watcher.watched(), watched + 1, "ext is watched");

        // A change in it arrives and is read.
        fs_err::write(external.join("compose.yaml"), "services: {invoices: {}}\n").expect("write");
        let changed = batch(&mut watcher);
        let applied = watcher.apply(&mut workspace, &changed).expect("apply");
        assert_eq!(applied.update.reread, ["ext"]);
        assert!(workspace.model().lookup("invoices").is_ok());

        // weft.yaml breaks: the error is the workspace's, and the model stays.
        let before = workspace.model().clone();
        fs_err::write(root.join("weft.yaml"), "repositories: [unclosed\n").expect("write");
        let changed = batch(&mut watcher);
        let error = watcher
            .apply(&mut workspace, &changed)
            .expect_err("weft.yaml does not read");
        assert!(matches!(error, ApplyError::Workspace(_)), "{error:?}");
        assert_eq!(workspace.model(), &before);
    }
}
