//! Uncommitted changes to tracked files, set aside so that the rebase can
//! run, and put back on top of what landed (or into a stash when they
//! conflict with it).

use std::path::Path;

use crate::backup::worktree_tree;
use crate::error::PushError;
use crate::git::Git;
use crate::state::SetAside;

/// The ref that keeps the set-aside tree alive.
pub(crate) fn reference(key: &str) -> String {
    format!("refs/weft/backup-set-aside/{key}")
}

/// Sets aside the differences between the working tree and HEAD, if any,
/// leaving the tracked files at HEAD. Untracked files stay as they are.
pub(crate) fn set_aside(
    git: &Git,
    git_dir: &Path,
    key: &str,
) -> Result<Option<SetAside>, PushError> {
    // Called after the commit of what was staged: the index is HEAD, so only
    // the working tree can differ.
    if git.run(&["diff", "--quiet"])?.success {
        return Ok(None);
    }
    let base = git.line(&["rev-parse", "HEAD"])?;
    let tree = worktree_tree(git, git_dir)?;
    git.ok(&["update-ref", &reference(key), &tree])?;
    Ok(Some(SetAside { base, tree }))
}

/// Empties the working tree's tracked changes once they are set aside.
pub(crate) fn clear(git: &Git) -> Result<(), PushError> {
    git.ok(&["reset", "-q", "--hard", "HEAD"])?;
    Ok(())
}

/// What became of set-aside changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reapplied {
    /// They are back in the working tree, unstaged.
    Kept,
    /// They conflict with what landed: they are in a stash of this name.
    Stashed(String),
}

/// Puts the changes back on top of HEAD with a three-way merge against the
/// commit they were made on.
pub(crate) fn reapply(git: &Git, aside: &SetAside) -> Result<Reapplied, PushError> {
    let head = git.line(&["rev-parse", "HEAD"])?;
    let merged = if head == aside.base {
        Some(aside.tree.clone())
    } else {
        let changes = git.internal_commit(
            &aside.tree,
            &[&aside.base],
            "weft push: uncommitted changes",
        )?;
        let base = format!("--merge-base={}", aside.base);
        let output = git.run(&["merge-tree", "--write-tree", &base, &head, &changes])?;
        match output.code {
            Some(0) => output.stdout.lines().next().map(str::to_string),
            _ => None,
        }
    };
    match merged {
        Some(tree) => {
            git.ok(&["read-tree", "-m", "-u", "HEAD", &tree])?;
            git.ok(&["reset", "-q"])?;
            Ok(Reapplied::Kept)
        }
        None => {
            let base_tree = format!("{}^{{tree}}", aside.base);
            let base_tree = git.line(&["rev-parse", &base_tree])?;
            let index = git.internal_commit(
                &base_tree,
                &[&aside.base],
                "index on weft push's set-aside changes",
            )?;
            let work = git.internal_commit(
                &aside.tree,
                &[&aside.base, &index],
                "WIP: uncommitted changes weft push set aside",
            )?;
            git.ok(&[
                "stash",
                "store",
                "-m",
                "weft push: uncommitted changes that conflict with what landed",
                &work,
            ])?;
            Ok(Reapplied::Stashed("stash@{0}".to_string()))
        }
    }
}
