//! Real git fixtures: a bare remote in a temporary directory and clones of
//! it, settings that retry fast, and a snapshot of everything a rollback must
//! put back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use weft_push::{Holder, LockMode, PushFailure, PushReport, PushRequest, PushSettings, Pusher};

/// A bare remote repository with a `main` branch, and room for clones.
pub(crate) struct Remote {
    directory: TempDir,
    pub(crate) bare: PathBuf,
}

/// One clone of the remote.
#[derive(Debug, Clone)]
pub(crate) struct Clone {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
}

fn git_in(directory: &Path, arguments: &[&str]) -> Output {
    Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap()
}

fn git_ok(directory: &Path, arguments: &[&str]) -> String {
    let output = git_in(directory, arguments);
    assert!(
        output.status.success(),
        "git {arguments:?} in {} failed: {}",
        directory.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Remote {
    /// A remote whose `main` has one commit with these files.
    pub(crate) fn with_files(files: &[(&str, &str)]) -> Remote {
        let directory = tempfile::tempdir().unwrap();
        let bare = directory.path().join("remote.git");
        git_ok(
            directory.path(),
            &[
                "init",
                "-q",
                "--bare",
                "--initial-branch=main",
                "remote.git",
            ],
        );
        let remote = Remote { directory, bare };
        let seed = remote.clone("seed");
        for (path, text) in files {
            seed.write(path, text);
        }
        seed.write("README.md", "seed\n");
        seed.git(&["add", "-A"]);
        seed.git(&["commit", "-q", "-m", "seed"]);
        seed.git(&["push", "-q", "origin", "HEAD:refs/heads/main"]);
        remote
    }

    pub(crate) fn new() -> Remote {
        Remote::with_files(&[])
    }

    /// A new clone on `main`.
    pub(crate) fn clone(&self, name: &str) -> Clone {
        let path = self.directory.path().join(name);
        let bare = self.bare.to_string_lossy().into_owned();
        git_ok(self.directory.path(), &["clone", "-q", &bare, name]);
        let clone = Clone {
            path,
            name: name.to_string(),
        };
        clone.git(&["config", "user.name", name]);
        clone.git(&["config", "user.email", &format!("{name}@example.invalid")]);
        clone.git(&["config", "commit.gpgSign", "false"]);
        let has_main = git_in(&clone.path, &["rev-parse", "-q", "--verify", "origin/main"])
            .status
            .success();
        if has_main {
            clone.git(&["checkout", "-q", "-B", "main", "origin/main"]);
        }
        clone
    }

    pub(crate) fn git(&self, arguments: &[&str]) -> String {
        git_ok(&self.bare, arguments)
    }

    /// The subjects of `main`, newest first.
    pub(crate) fn subjects(&self) -> Vec<String> {
        self.git(&["log", "--format=%s", "main"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A file on `main`.
    pub(crate) fn show(&self, path: &str) -> String {
        self.git(&["show", &format!("main:{path}")])
    }

    /// Refs of the remote under a prefix.
    pub(crate) fn refs(&self, prefix: &str) -> Vec<String> {
        self.git(&["for-each-ref", "--format=%(refname)", prefix])
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub(crate) fn head(&self) -> String {
        self.git(&["rev-parse", "main"]).trim().to_string()
    }

    /// Locks and waiters left on the remote (receipts excluded: later
    /// holders delete them).
    pub(crate) fn leftovers(&self) -> Vec<String> {
        let mut refs = self.refs("refs/weft/locks/");
        refs.extend(self.refs("refs/weft/waiting/"));
        refs
    }
}

impl Clone {
    pub(crate) fn git(&self, arguments: &[&str]) -> String {
        git_ok(&self.path, arguments)
    }

    pub(crate) fn try_git(&self, arguments: &[&str]) -> Output {
        git_in(&self.path, arguments)
    }

    pub(crate) fn write(&self, path: &str, text: &str) {
        let file = self.path.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(file, text).unwrap();
    }

    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path.join(path)).unwrap()
    }

    pub(crate) fn append(&self, path: &str, text: &str) {
        let file = self.path.join(path);
        let mut current = std::fs::read_to_string(&file).unwrap_or_default();
        current.push_str(text);
        self.write(path, &current);
    }

    /// Commits every change with a message.
    pub(crate) fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// Commits and pushes with plain git (someone not using weft).
    pub(crate) fn plain_push(&self, message: &str) {
        self.commit_all(message);
        self.git(&["push", "-q", "origin", "HEAD:main"]);
    }

    pub(crate) fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Settings that retry and poll fast, for this clone's own holder.
    pub(crate) fn settings(&self, yaml: &str) -> PushSettings {
        self.settings_with(yaml, PushRequest::default())
    }

    pub(crate) fn settings_with(&self, yaml: &str, request: PushRequest) -> PushSettings {
        let (config, warnings) = weft_model::config::parse(yaml).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let holder = Holder {
            host: format!("test-{}", self.name),
            pid: std::process::id(),
            ..Holder::default()
        };
        let mut settings = PushSettings::resolve_for(&config.push, request, holder).unwrap();
        settings.retry_base = Duration::from_millis(20);
        settings.retry_cap = Duration::from_millis(200);
        settings.poll_base = Duration::from_millis(10);
        settings.poll_cap = Duration::from_millis(100);
        settings
    }

    /// `weft push` with the git lock.
    pub(crate) fn push(&self, settings: PushSettings) -> Result<PushReport, PushFailure> {
        Pusher::open(&self.path, settings, LockMode::Git)
            .unwrap()
            .run()
    }

    pub(crate) fn git_dir(&self) -> PathBuf {
        self.path.join(".git")
    }

    /// Everything weft push may touch locally.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let refs = self
            .git(&["for-each-ref", "--format=%(refname) %(objectname)"])
            .lines()
            .filter(|line| !line.starts_with("refs/weft/"))
            .map(str::to_string)
            .collect();
        let mut files = BTreeMap::new();
        collect_files(&self.path, &self.path, &mut files);
        Snapshot {
            head: String::from_utf8_lossy(&self.try_git(&["symbolic-ref", "-q", "HEAD"]).stdout)
                .trim()
                .to_string(),
            head_commit: self.head(),
            refs,
            index: self
                .git(&["ls-files", "-s"])
                .lines()
                .map(str::to_string)
                .collect(),
            status: self.git(&["status", "--porcelain=v2", "--untracked-files=all"]),
            files,
        }
    }
}

fn collect_files(root: &Path, directory: &Path, files: &mut BTreeMap<String, (String, bool)>) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(directory).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        if path.is_dir() {
            collect_files(root, &path, files);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let executable = entry.metadata().unwrap().permissions().mode() & 0o111 != 0;
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            files.insert(relative, (text, executable));
        }
    }
}

/// Refs (outside weft's own), HEAD, the index, `git status` and every file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) head: String,
    pub(crate) head_commit: String,
    pub(crate) refs: Vec<String>,
    pub(crate) index: Vec<String>,
    pub(crate) status: String,
    pub(crate) files: BTreeMap<String, (String, bool)>,
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}
