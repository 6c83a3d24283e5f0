//! A workspace held in memory and brought up to date by the files that
//! changed, instead of read again from scratch.
//!
//! The unit of re-reading is the repository: a changed file makes its
//! repository's files be listed and read again (readers look across the files
//! of a repository: a compose project's `.env`, `include` and `extends`), and
//! every other repository keeps the facts it had. The model is then built
//! from the facts again, which is what makes an update answer exactly what a
//! fresh [`discover`](crate::discover) of the same files answers: names
//! resolve across the whole workspace, so one repository's new service can
//! change what another repository's host names point at.
//!
//! What is read again, by what changed:
//! - `weft.yaml`: everything, as on [`Workspace::open`];
//! - a path outside every repository, right under the root, or (in a
//!   workspace without `weft.yaml`) a removed one: the list of repositories
//!   is taken again, and repositories that appeared, or whose nested
//!   repositories changed, are read; the others keep their facts;
//! - a path inside a repository, or a file a repository's readers loaded
//!   from elsewhere (a compose `include` outside it): that repository.
//!
//! Paths under directories discovery never enters (`.git`, `node_modules`,
//! `target`…) change nothing.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use weft_model::config::{self, LoadedConfig};
use weft_model::{Diagnostic, Model, Repository};

use crate::builder::Builder;
use crate::facts::Facts;
use crate::workspace::{self, DiscoverError, SKIPPED_DIRECTORIES};

/// A workspace's facts and the model built from them.
#[derive(Debug)]
pub struct Workspace {
    /// The root as given: the model's `root`, and what errors name.
    root: PathBuf,
    /// The root made absolute, which changed paths are matched against.
    base: PathBuf,
    loaded: LoadedConfig,
    name: String,
    /// Diagnostics of listing the repositories (weft.yaml's warnings, a
    /// configured repository that is missing).
    listing: Vec<Diagnostic>,
    repositories: Vec<Repository>,
    /// Each repository's directory, absolute and normalized: what a changed
    /// path is matched against (see `owner`). Set wherever `repositories`
    /// is listed, so that the two stay in step.
    directories: Vec<PathBuf>,
    reads: Vec<Read>,
    model: Arc<Model>,
}

/// What one repository's readers found, and what they read to find it.
#[derive(Debug, Clone)]
struct Read {
    /// Directories of the repositories inside this one, left out of it.
    nested: Vec<PathBuf>,
    facts: Facts,
    /// The files handed to readers (absolute paths).
    files: Vec<PathBuf>,
    /// Files loaded besides the repository's own (absolute paths).
    loaded: BTreeSet<PathBuf>,
}

impl Read {
    /// Whether the readers loaded `path`, or a file under it (a directory
    /// renamed or removed).
    fn loads_under(&self, path: &Path) -> bool {
        self.loaded.iter().any(|file| file.starts_with(path))
    }
}

/// What [`Workspace::update`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// The changed paths that could matter (inside the workspace, outside
    /// the directories discovery skips), relative to the root.
    pub relevant: Vec<String>,
    /// The repositories read again, by name.
    pub reread: Vec<String>,
    /// Whether weft.yaml changed, so that everything was read again.
    pub reloaded: bool,
    /// Whether the model was built again: false when nothing relevant
    /// changed or the files read again gave the facts they gave before.
    pub rebuilt: bool,
    /// Time spent reading files.
    pub read_time: Duration,
    /// Time spent building the model.
    pub build_time: Duration,
}

impl Workspace {
    /// Reads every repository of the workspace at `root`, as
    /// [`discover`](crate::discover) does, keeping the facts for updates.
    pub fn open(root: &Path) -> Result<Self, DiscoverError> {
        let base = absolute(root);
        let (loaded, repositories, listing) = workspace::repositories(root)?;
        let name = workspace::workspace_name(root, &loaded);
        let nested = workspace::nested_repositories(&base, &repositories);
        let work: Vec<(&Repository, Vec<PathBuf>)> = repositories.iter().zip(nested).collect();
        let reads = read_all(&base, &loaded, work);
        let model = build(root, &loaded, &name, &listing, &repositories, &reads);
        let directories = directories(&base, &repositories);
        Ok(Workspace {
            root: root.to_path_buf(),
            base,
            loaded,
            name,
            listing,
            repositories,
            directories,
            reads,
            model: Arc::new(model),
        })
    }

    /// The model as of the last update.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model as of the last update, shared rather than copied: an
    /// update replaces it and leaves this one as it was.
    pub fn shared_model(&self) -> Arc<Model> {
        Arc::clone(&self.model)
    }

    /// Gives up the model.
    ///
    /// What it was read from (every file's text and facts) is freed on a
    /// thread of its own when there is much of it: the caller goes on with
    /// the model meanwhile, and need not wait for it at all.
    pub fn into_model(self) -> Model {
        let Workspace { reads, model, .. } = self;
        if reads.len() >= 64 {
            let freeing = std::thread::Builder::new().name("weft-free".to_string());
            // If no thread can be had, the caller frees them.
            let _ = freeing.spawn(move || drop(reads));
        }
        Arc::try_unwrap(model).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The workspace's root, as given to [`Workspace::open`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The workspace's root made absolute: what to watch.
    pub fn directory(&self) -> &Path {
        &self.base
    }

    /// Brings the model up to date with `changed`: paths (absolute, or
    /// relative to the current directory) of files and directories that were
    /// created, written, renamed or removed since the last update.
    ///
    /// On an error (weft.yaml no longer reads, the root is gone) the
    /// workspace keeps its last good model; a later update that fixes the
    /// cause recovers.
    pub fn update(&mut self, changed: &[PathBuf]) -> Result<Update, DiscoverError> {
        let mut update = Update::default();
        let started = Instant::now();
        let relevant: Vec<PathBuf> = changed
            .iter()
            .map(|path| absolute(path))
            .filter(|path| self.is_relevant(path))
            .collect();
        update.relevant = self.shown(&relevant);
        if relevant.is_empty() {
            return Ok(update);
        }
        let config_file = self.base.join(config::FILE_NAME);
        if relevant.contains(&config_file) {
            return self.reload_from(update, started);
        }

        let mut touched: BTreeSet<usize> = BTreeSet::new();
        let mut relist = false;
        for path in &relevant {
            let owner = self.owner(path);
            relist |= self.needs_relist(path, owner);
            touched.extend(owner);
            for (index, read) in self.reads.iter().enumerate() {
                if read.loads_under(path) {
                    touched.insert(index);
                }
            }
        }

        // Which repositories there are now, and which of them to read.
        let (repositories, listing, nested) = if relist {
            let (loaded, repositories, listing) = workspace::repositories(&self.root)?;
            if loaded.config != self.loaded.config {
                // weft.yaml changed too and its event is still on the way.
                return self.reload_from(update, started);
            }
            let nested = workspace::nested_repositories(&self.base, &repositories);
            (repositories, listing, nested)
        } else {
            let nested = self.reads.iter().map(|r| r.nested.clone()).collect();
            (self.repositories.clone(), self.listing.clone(), nested)
        };
        let previous: HashMap<&Repository, usize> = self
            .repositories
            .iter()
            .enumerate()
            .map(|(index, repository)| (repository, index))
            .collect();
        // For each repository now: the index of its read to keep, or of the
        // read it had before, if any, to compare the new one with.
        let mut plan: Vec<(Option<usize>, Option<usize>)> = Vec::with_capacity(repositories.len());
        let mut work = Vec::new();
        for (repository, nested) in repositories.iter().zip(nested) {
            let before = previous.get(repository).copied();
            match before
                .filter(|&index| !touched.contains(&index) && self.reads[index].nested == nested)
            {
                Some(index) => plan.push((Some(index), None)),
                None => {
                    update.reread.push(repository.name.clone());
                    plan.push((None, before));
                    work.push((repository, nested));
                }
            }
        }
        drop(previous);
        let mut fresh = read_all(&self.base, &self.loaded, work).into_iter();
        let mut old: Vec<Option<Read>> = std::mem::take(&mut self.reads)
            .into_iter()
            .map(Some)
            .collect();
        // Unless listed again, the repositories and the listing are copies
        // of the ones held.
        let mut same = !relist || (repositories == self.repositories && listing == self.listing);
        let reads: Vec<Read> = plan
            .into_iter()
            .map(|(keep, before)| match keep {
                Some(index) => old[index].take().expect("each read is kept once"),
                None => {
                    let read = fresh.next().expect("one read per repository");
                    same &= before
                        .and_then(|index| old[index].as_ref())
                        .is_some_and(|old| old.facts == read.facts);
                    read
                }
            })
            .collect();
        update.read_time = started.elapsed();
        if relist {
            self.directories = directories(&self.base, &repositories);
        }
        self.repositories = repositories;
        self.listing = listing;
        self.reads = reads;
        if !same {
            let building = Instant::now();
            self.model = Arc::new(build(
                &self.root,
                &self.loaded,
                &self.name,
                &self.listing,
                &self.repositories,
                &self.reads,
            ));
            update.rebuilt = true;
            update.build_time = building.elapsed();
        }
        Ok(update)
    }

    /// Of `changed`, those that could change the model, relative to the
    /// root and sorted: what [`Update::relevant`] holds, and what to show
    /// when an update fails.
    pub fn relevant(&self, changed: &[PathBuf]) -> Vec<String> {
        let relevant: Vec<PathBuf> = changed
            .iter()
            .map(|path| absolute(path))
            .filter(|path| self.is_relevant(path))
            .collect();
        self.shown(&relevant)
    }

    fn shown(&self, paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|path| workspace::relative_path(&self.base, path))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Reads everything again, as [`Workspace::open`] does: after events
    /// were lost, say. On an error the last good model stays.
    pub fn reload(&mut self) -> Result<Update, DiscoverError> {
        let started = Instant::now();
        self.reload_from(Update::default(), started)
    }

    /// The directories of the repositories, absolute: with
    /// [`Workspace::directory`], what to watch.
    pub fn repository_directories(&self) -> Vec<PathBuf> {
        self.directories.clone()
    }

    fn reload_from(
        &mut self,
        mut update: Update,
        started: Instant,
    ) -> Result<Update, DiscoverError> {
        let fresh = Workspace::open(&self.root)?;
        update.reloaded = true;
        update.reread = fresh.repositories.iter().map(|r| r.name.clone()).collect();
        update.rebuilt = true;
        update.read_time = started.elapsed();
        *self = fresh;
        Ok(update)
    }

    /// Whether a change at `path` may change which repositories there are.
    fn needs_relist(&self, path: &Path, owner: Option<usize>) -> bool {
        let Some(owner) = owner else {
            // Outside every repository: a configured one that was missing
            // may be there now, or (without weft.yaml) a new directory.
            return true;
        };
        if path.parent() == Some(self.base.as_path())
            || self.holds_repository(path)
            || self.in_missing_repository(path)
        {
            return true;
        }
        if !self.loaded.config.repositories.is_empty() {
            // weft.yaml lists them, and its changes reload everything.
            return false;
        }
        let repository = &self.repositories[owner];
        if repository.path == "." {
            // A directory under the root that was no repository may hold a
            // readable file now.
            return true;
        }
        // A removal may leave the repository nothing to read.
        !path.exists()
            && !workspace::holds_readable_files(&self.base, &self.base.join(&repository.path))
    }

    /// Whether a change at `path` can change the model: a file some reader
    /// loaded; or, inside the root and not under a directory discovery
    /// skips, a file a reader takes by its name, a directory, or a removed
    /// directory that held files that were read. An editor's swap and
    /// backup files are none of these.
    fn is_relevant(&self, path: &Path) -> bool {
        if self.reads.iter().any(|read| read.loads_under(path)) {
            return true;
        }
        let could_matter = path == self.base.join(config::FILE_NAME)
            || workspace::is_readable(&self.base, path)
            || path.is_dir()
            || (!path.exists()
                && (self.holds_repository(path)
                    || self
                        .reads
                        .iter()
                        .any(|read| read.files.iter().any(|file| file.starts_with(path)))));
        if !could_matter {
            return false;
        }
        if path == self.base {
            return false;
        }
        // Inside a repository (which weft.yaml may place outside the root),
        // or else inside the root.
        let base = self.owner(path).map(|index| &self.directories[index]);
        let within = match base.and_then(|base| path.strip_prefix(base).ok()) {
            Some(within) => within,
            None => match path.strip_prefix(&self.base) {
                Ok(relative) => relative,
                Err(_) => return false,
            },
        };
        // The last component may be a skipped directory being created: it
        // holds nothing yet.
        !within.components().any(|component| {
            component
                .as_os_str()
                .to_str()
                .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name))
        })
    }

    /// Whether `path` is at, in or above the directory of a repository
    /// weft.yaml lists that was missing at the last listing (it may be
    /// there now, inside another repository).
    fn in_missing_repository(&self, path: &Path) -> bool {
        self.loaded
            .config
            .repositories
            .iter()
            .filter(|(name, _)| !self.repositories.iter().any(|r| &r.name == *name))
            .any(|(name, repository)| {
                let directory = normal(
                    &self
                        .base
                        .join(repository.path.as_deref().unwrap_or(name.as_str())),
                );
                path.starts_with(&directory) || directory.starts_with(path)
            })
    }

    /// Whether `path` is a repository's directory or holds one.
    fn holds_repository(&self, path: &Path) -> bool {
        self.directories
            .iter()
            .any(|directory| directory.starts_with(path))
    }

    /// The repository whose files `path` is among: the deepest one holding it.
    fn owner(&self, path: &Path) -> Option<usize> {
        self.directories
            .iter()
            .enumerate()
            .filter_map(|(index, base)| {
                path.starts_with(base)
                    .then_some((base.components().count(), index))
            })
            .max()
            .map(|(_, index)| index)
    }
}

/// Reads each repository, leaving out its nested repositories, in parallel
/// across the cores; the answers keep the order of `work`. `root` is the
/// absolute root.
fn read_all(
    root: &Path,
    loaded: &LoadedConfig,
    work: Vec<(&Repository, Vec<PathBuf>)>,
) -> Vec<Read> {
    let exclude = |name: &str| -> &[String] {
        loaded
            .config
            .repositories
            .get(name)
            .map_or(&[], |r| r.exclude.as_slice())
    };
    let read_one = |(repository, nested): &(&Repository, Vec<PathBuf>)| -> Read {
        let files = workspace::collect(root, repository, nested.clone(), exclude(&repository.name));
        let (facts, loaded) = workspace::read_repository(root, &files);
        Read {
            nested: nested.clone(),
            facts,
            files: files.paths().map(|path| root.join(path)).collect(),
            loaded: loaded
                .iter()
                .map(|relative| normal(&root.join(relative)))
                .collect(),
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(work.len());
    if threads <= 1 {
        return work.iter().map(read_one).collect();
    }
    // Each thread takes the next repository as it finishes one, rather
    // than a fixed share: repositories differ in size, and a core of a
    // shared machine can stall, where a fixed share leaves the other
    // threads idle while the last one finishes. The calling thread is one
    // of them.
    let next = AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = work.get(index) else {
                return done;
            };
            done.push((index, read_one(item)));
        }
    };
    let mut reads: Vec<(usize, Read)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(take)).collect();
        let mut reads = take();
        for helper in helpers {
            reads.extend(
                helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        reads
    });
    reads.sort_unstable_by_key(|(index, _)| *index);
    reads.into_iter().map(|(_, read)| read).collect()
}

/// Each repository's directory under `base`, normalized.
fn directories(base: &Path, repositories: &[Repository]) -> Vec<PathBuf> {
    repositories
        .iter()
        .map(|repository| normal(&base.join(&repository.path)))
        .collect()
}

fn build(
    root: &Path,
    loaded: &LoadedConfig,
    name: &str,
    listing: &[Diagnostic],
    repositories: &[Repository],
    reads: &[Read],
) -> Model {
    let facts: Vec<&Facts> = reads.iter().map(|read| &read.facts).collect();
    Builder::new(loaded, name.to_string(), listing.to_vec()).build(
        root.to_path_buf(),
        repositories,
        &facts,
    )
}

/// `path` made absolute against the current directory, normalized.
fn absolute(path: &Path) -> PathBuf {
    normal(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// `path` with `.` and `..` taken out, without asking the file system (a
/// file that is gone must still compare equal to the one that was loaded).
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
