//! Running the `git` command line: one environment for every call (C locale,
//! no prompts, no editor, no auto-stash), and its output as text.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::PushError;

/// Configuration weft passes to every git command so that the user's
/// settings cannot turn a rebase into something else (auto-stash, updated
/// stacked branches) or stop it for an editor. Hooks are respected.
const CONFIG: &[&str] = &[
    "rebase.autoStash=false",
    "rebase.updateRefs=false",
    "rebase.autoSquash=false",
    "rebase.missingCommitsCheck=ignore",
    "pull.rebase=false",
    "core.editor=true",
    "core.quotePath=false",
    "color.ui=false",
    "advice.detachedHead=false",
    "advice.mergeConflict=false",
    "advice.skippedCherryPicks=false",
    "push.useForceIfIncludes=false",
    "push.followTags=false",
    "push.recurseSubmodules=no",
    "fetch.recurseSubmodules=false",
    "gc.auto=0",
    "maintenance.auto=false",
];

/// The identity of the commits weft makes for itself (lock records,
/// snapshots); never used for the user's commits.
const INTERNAL_IDENTITY: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "weft push"),
    ("GIT_AUTHOR_EMAIL", "weft-push@localhost"),
    ("GIT_COMMITTER_NAME", "weft push"),
    ("GIT_COMMITTER_EMAIL", "weft-push@localhost"),
];

/// A git repository's working tree, driven through the `git` command.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    directory: PathBuf,
}

/// What one git command printed and returned.
#[derive(Debug)]
pub(crate) struct GitOutput {
    pub(crate) success: bool,
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl GitOutput {
    /// The output as an error of the command `arguments`.
    pub(crate) fn into_error(self, arguments: &[&str]) -> PushError {
        PushError::Git {
            command: arguments.join(" "),
            code: self.code,
            stderr: self.stderr.trim().to_string(),
        }
    }
}

/// One git command being set up.
#[derive(Debug)]
pub(crate) struct GitCommand<'a> {
    git: &'a Git,
    arguments: Vec<String>,
    environment: Vec<(OsString, OsString)>,
    input: Option<Vec<u8>>,
}

impl Git {
    pub(crate) fn new(directory: impl Into<PathBuf>) -> Self {
        Git {
            directory: directory.into(),
        }
    }

    /// The working tree's root (or the directory weft was given).
    pub(crate) fn directory(&self) -> &Path {
        &self.directory
    }

    /// A command with these arguments.
    pub(crate) fn command<'a, S: AsRef<str>>(&'a self, arguments: &[S]) -> GitCommand<'a> {
        GitCommand {
            git: self,
            arguments: arguments.iter().map(|a| a.as_ref().to_string()).collect(),
            environment: Vec::new(),
            input: None,
        }
    }

    /// Runs a command; a non-zero exit is returned, not an error.
    pub(crate) fn run<S: AsRef<str>>(&self, arguments: &[S]) -> Result<GitOutput, PushError> {
        self.command(arguments).run()
    }

    /// Runs a command that must succeed, and returns its standard output.
    pub(crate) fn ok<S: AsRef<str>>(&self, arguments: &[S]) -> Result<String, PushError> {
        self.command(arguments).ok()
    }

    /// Runs a command that must succeed, and returns its trimmed output.
    pub(crate) fn line<S: AsRef<str>>(&self, arguments: &[S]) -> Result<String, PushError> {
        Ok(self.ok(arguments)?.trim().to_string())
    }

    /// The object a revision names, or `None` when it names nothing.
    pub(crate) fn resolve(&self, revision: &str) -> Result<Option<String>, PushError> {
        let output = self.run(&["rev-parse", "-q", "--verify", "--end-of-options", revision])?;
        Ok(output
            .success
            .then(|| output.stdout.trim().to_string())
            .filter(|sha| !sha.is_empty()))
    }

    /// Whether `ancestor` is an ancestor of (or equal to) `descendant`.
    pub(crate) fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, PushError> {
        let arguments = ["merge-base", "--is-ancestor", ancestor, descendant];
        let output = self.run(&arguments)?;
        match output.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(output.into_error(&arguments)),
        }
    }

    /// The hash of the empty tree, written into the object database.
    pub(crate) fn empty_tree(&self) -> Result<String, PushError> {
        self.command(&["mktree"]).input(Vec::new()).line()
    }

    /// Makes a commit weft keeps for itself (a lock record, a snapshot) with
    /// weft's own identity.
    pub(crate) fn internal_commit(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
    ) -> Result<String, PushError> {
        let mut arguments = vec!["commit-tree".to_string(), tree.to_string()];
        for parent in parents {
            arguments.push("-p".to_string());
            arguments.push((*parent).to_string());
        }
        arguments.push("-F".to_string());
        arguments.push("-".to_string());
        let mut command = self.command(&arguments).input(message.as_bytes().to_vec());
        for (name, value) in INTERNAL_IDENTITY {
            command = command.env(name, value);
        }
        command.line()
    }
}

impl GitCommand<'_> {
    pub(crate) fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.environment.push((name.into(), value.into()));
        self
    }

    pub(crate) fn input(mut self, input: Vec<u8>) -> Self {
        self.input = Some(input);
        self
    }

    pub(crate) fn run(self) -> Result<GitOutput, PushError> {
        let (status, stdout, stderr) = self.run_raw()?;
        Ok(GitOutput {
            success: status.success(),
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr,
        })
    }

    /// Runs a command that must succeed, and returns its output as bytes
    /// (file contents).
    pub(crate) fn bytes(self) -> Result<Vec<u8>, PushError> {
        let arguments = self.arguments.clone();
        let (status, stdout, stderr) = self.run_raw()?;
        if status.success() {
            return Ok(stdout);
        }
        Err(PushError::Git {
            command: arguments.join(" "),
            code: status.code(),
            stderr: stderr.trim().to_string(),
        })
    }

    /// Like [`GitCommand::bytes`] for commands whose exit code counts
    /// something (`git merge-file` exits with the number of conflicts):
    /// codes 0 to 127 are success.
    pub(crate) fn bytes_allowing_codes(self) -> Result<Vec<u8>, PushError> {
        let arguments = self.arguments.clone();
        let (status, stdout, stderr) = self.run_raw()?;
        match status.code() {
            Some(0..=127) => Ok(stdout),
            code => Err(PushError::Git {
                command: arguments.join(" "),
                code,
                stderr: stderr.trim().to_string(),
            }),
        }
    }

    /// The `git` command with weft's configuration and environment.
    fn build(&self) -> Command {
        let mut command = Command::new("git");
        for setting in CONFIG {
            command.arg("-c").arg(setting);
        }
        command
            .args(&self.arguments)
            .current_dir(&self.git.directory)
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_EDITOR", "true")
            .env("GIT_SEQUENCE_EDITOR", "true")
            .env("GIT_MERGE_AUTOEDIT", "no")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if self.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        for (name, value) in &self.environment {
            command.env(name, value);
        }
        command
    }

    /// Starts the command with its standard input and output piped, for a
    /// conversation (`git cat-file --batch`).
    pub(crate) fn spawn_piped(self) -> Result<std::process::Child, PushError> {
        let mut command = self.build();
        command.stdin(Stdio::piped()).stderr(Stdio::null());
        tracing::debug!(arguments = ?self.arguments, "git (piped)");
        command
            .spawn()
            .map_err(|source| PushError::Spawn { source })
    }

    fn run_raw(self) -> Result<(std::process::ExitStatus, Vec<u8>, String), PushError> {
        let mut command = self.build();
        tracing::debug!(arguments = ?self.arguments, "git");
        let mut child = command
            .spawn()
            .map_err(|source| PushError::Spawn { source })?;
        if let (Some(input), Some(mut stdin)) = (self.input, child.stdin.take()) {
            // A command that exits without reading its input is not an error here.
            let _ = stdin.write_all(&input);
        }
        let output = child
            .wait_with_output()
            .map_err(|source| PushError::Spawn { source })?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            tracing::debug!(arguments = ?self.arguments, code = ?output.status.code(), stderr = %stderr.trim(), "git failed");
        }
        Ok((output.status, output.stdout, stderr))
    }

    pub(crate) fn ok(self) -> Result<String, PushError> {
        let arguments = self.arguments.clone();
        let output = self.run()?;
        if output.success {
            Ok(output.stdout)
        } else {
            let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
            Err(output.into_error(&arguments))
        }
    }

    pub(crate) fn line(self) -> Result<String, PushError> {
        Ok(self.ok()?.trim().to_string())
    }
}

/// Splits NUL-separated output (`-z`).
pub(crate) fn split_nul(text: &str) -> impl Iterator<Item = &str> {
    text.split('\0').filter(|part| !part.is_empty())
}
