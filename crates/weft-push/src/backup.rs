//! The backup taken before a push touches anything, and the exact restore
//! from it: HEAD (the branch and its commit, or a detached commit), the
//! index as a tree, and the tracked files of the working tree as a tree.
//! Untracked files are never touched, so they need no backup.
//!
//! The three are kept as refs (`refs/weft/backup/<key>`,
//! `refs/weft/backup-index/<key>`, `refs/weft/backup-worktree/<key>`; a ref
//! may point at a tree) so that the objects survive a killed run and `git gc`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::PushError;
use crate::git::Git;

/// Where HEAD was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub(crate) enum HeadState {
    /// On a branch (`name` without `refs/heads/`).
    Branch { name: String, sha: String },
    /// Detached at a commit.
    Detached { sha: String },
}

impl HeadState {
    /// HEAD now. [`PushError::Unborn`] on a branch without commits.
    pub(crate) fn current(git: &Git) -> Result<HeadState, PushError> {
        let sha = git.resolve("HEAD^{commit}")?.ok_or(PushError::Unborn)?;
        let symbolic = git.run(&["symbolic-ref", "-q", "HEAD"])?;
        let name = symbolic.stdout.trim();
        Ok(match name.strip_prefix("refs/heads/") {
            Some(name) if symbolic.success => HeadState::Branch {
                name: name.to_string(),
                sha,
            },
            _ => HeadState::Detached { sha },
        })
    }

    pub(crate) fn sha(&self) -> &str {
        match self {
            HeadState::Branch { sha, .. } | HeadState::Detached { sha } => sha,
        }
    }

    pub(crate) fn branch(&self) -> Option<&str> {
        match self {
            HeadState::Branch { name, .. } => Some(name),
            HeadState::Detached { .. } => None,
        }
    }

    /// The key of the backup refs: the branch, or `HEAD` when detached.
    pub(crate) fn key(&self) -> &str {
        self.branch().unwrap_or("HEAD")
    }

    /// Points HEAD (and its branch) at `sha`.
    pub(crate) fn point_at(&self, git: &Git, sha: &str) -> Result<(), PushError> {
        match self {
            HeadState::Branch { name, .. } => {
                let reference = format!("refs/heads/{name}");
                git.ok(&["update-ref", "-m", "weft push: restore", &reference, sha])?;
                git.ok(&["symbolic-ref", "HEAD", &reference])?;
            }
            HeadState::Detached { .. } => {
                git.ok(&[
                    "update-ref",
                    "--no-deref",
                    "-m",
                    "weft push: restore",
                    "HEAD",
                    sha,
                ])?;
            }
        }
        Ok(())
    }
}

/// Everything `weft push` may change locally, as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub(crate) head: HeadState,
    /// The index, written as a tree.
    pub(crate) index_tree: String,
    /// The tracked files of the working tree, written as a tree.
    pub(crate) worktree_tree: String,
}

impl Snapshot {
    /// Takes the snapshot; the index must have no conflicts.
    pub(crate) fn take(git: &Git, git_dir: &Path, head: HeadState) -> Result<Snapshot, PushError> {
        let written = git.run(&["write-tree"])?;
        if !written.success {
            let paths = unmerged_paths(git)?;
            if !paths.is_empty() {
                return Err(PushError::UnmergedIndex { paths });
            }
            return Err(written.into_error(&["write-tree"]));
        }
        let index_tree = written.stdout.trim().to_string();
        let worktree_tree = worktree_tree(git, git_dir)?;
        Ok(Snapshot {
            head,
            index_tree,
            worktree_tree,
        })
    }

    /// The refs holding the snapshot.
    pub(crate) fn references(key: &str) -> [String; 3] {
        [
            format!("refs/weft/backup/{key}"),
            format!("refs/weft/backup-index/{key}"),
            format!("refs/weft/backup-worktree/{key}"),
        ]
    }

    pub(crate) fn save(&self, git: &Git) -> Result<(), PushError> {
        let [head, index, worktree] = Snapshot::references(self.head.key());
        let mut input = String::new();
        for (reference, value) in [
            (head, self.head.sha()),
            (index, self.index_tree.as_str()),
            (worktree, self.worktree_tree.as_str()),
        ] {
            input.push_str(&format!("update {reference} {value}\n"));
        }
        git.command(&["update-ref", "--stdin"])
            .input(input.into_bytes())
            .ok()?;
        Ok(())
    }

    pub(crate) fn delete(&self, git: &Git) -> Result<(), PushError> {
        let input: String = Snapshot::references(self.head.key())
            .iter()
            .map(|reference| format!("delete {reference}\n"))
            .collect();
        git.command(&["update-ref", "--stdin"])
            .input(input.into_bytes())
            .ok()?;
        Ok(())
    }

    /// Puts HEAD, the index and the tracked files back exactly as they were,
    /// aborting a rebase first. Untracked files are left alone.
    pub(crate) fn restore(&self, git: &Git, git_dir: &Path) -> Result<(), PushError> {
        abort_operation(git, git_dir)?;
        self.head.point_at(git, self.head.sha())?;
        git.ok(&["read-tree", "--reset", "-u", &self.worktree_tree])?;
        git.ok(&["read-tree", "--reset", &self.index_tree])?;
        // Exit 1 only says some entries differ from the files: expected.
        git.run(&["update-index", "-q", "--refresh"])?;
        Ok(())
    }
}

/// The tracked files of the working tree as a tree, through a scratch index
/// so that the real one is not touched.
pub(crate) fn worktree_tree(git: &Git, git_dir: &Path) -> Result<String, PushError> {
    let scratch = git_dir.join("weft-push-index");
    let index = git_dir.join("index");
    match fs_err::copy(&index, &scratch) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(PushError::io(&scratch)(error)),
    }
    let result = (|| {
        git.command(&["add", "-u", "--", ":/"])
            .env("GIT_INDEX_FILE", &scratch)
            .ok()?;
        git.command(&["write-tree"])
            .env("GIT_INDEX_FILE", &scratch)
            .line()
    })();
    let _ = fs_err::remove_file(&scratch);
    result
}

/// What is in progress in the working tree, if anything.
pub(crate) fn operation_in_progress(git_dir: &Path) -> Option<&'static str> {
    [
        ("rebase-merge", "rebase"),
        ("rebase-apply", "rebase"),
        ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    ]
    .into_iter()
    .find(|(file, _)| git_dir.join(file).exists())
    .map(|(_, operation)| operation)
}

/// Whether a rebase is stopped half-way.
pub(crate) fn rebase_in_progress(git_dir: &Path) -> bool {
    git_dir.join("rebase-merge").exists() || git_dir.join("rebase-apply").exists()
}

/// Aborts a rebase left half-way; when git cannot, forgets it.
pub(crate) fn abort_operation(git: &Git, git_dir: &Path) -> Result<bool, PushError> {
    if !rebase_in_progress(git_dir) {
        return Ok(false);
    }
    let output = git.run(&["rebase", "--abort"])?;
    if !output.success {
        tracing::warn!(stderr = %output.stderr.trim(), "git rebase --abort failed; quitting the rebase");
        git.ok(&["rebase", "--quit"])?;
    }
    Ok(true)
}

/// Paths with unresolved conflicts in the index.
pub(crate) fn unmerged_paths(git: &Git) -> Result<Vec<String>, PushError> {
    let output = git.ok(&["diff", "--name-only", "--diff-filter=U", "-z"])?;
    let mut paths: Vec<String> = crate::git::split_nul(&output).map(str::to_string).collect();
    paths.dedup();
    Ok(paths)
}
