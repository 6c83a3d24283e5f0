//! Walking a repository's files: symbolic links followed, loops cut, the
//! directories no reader needs skipped.
//!
//! One `readdir` per directory and no `stat` per file (the entry's type comes
//! with it); only directories and symbolic links are looked up, the
//! directories to tell a loop. A workspace of a thousand repositories is
//! thousands of files, so this is a good part of what `weft plan` costs.

use std::fs::ReadDir;
use std::path::{Path, PathBuf};

use crate::workspace::SKIPPED_DIRECTORIES;

/// The files below `root`, in no particular order, leaving out the
/// directories in `nested` (other repositories inside this one) and
/// [`SKIPPED_DIRECTORIES`]. Unreadable entries are passed over.
pub(crate) fn files(root: &Path, nested: Vec<PathBuf>) -> Files {
    Files {
        nested,
        pending: vec![(root.to_path_buf(), Vec::new())],
        current: None,
    }
}

/// Identifies a directory however it was reached, to tell a loop.
#[cfg(unix)]
type DirectoryId = (u64, u64);
#[cfg(not(unix))]
type DirectoryId = PathBuf;

#[cfg(unix)]
fn directory_id(path: &Path) -> Option<DirectoryId> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn directory_id(path: &Path) -> Option<DirectoryId> {
    std::fs::canonicalize(path).ok()
}

pub(crate) struct Files {
    nested: Vec<PathBuf>,
    /// Directories still to read, each with the directories above it.
    pending: Vec<(PathBuf, Vec<DirectoryId>)>,
    /// The directory being read, with itself and the directories above it.
    current: Option<(ReadDir, Vec<DirectoryId>)>,
}

impl Iterator for Files {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        loop {
            if let Some((entries, above)) = &mut self.current {
                let Some(entry) = entries.next() else {
                    self.current = None;
                    continue;
                };
                let Ok(entry) = entry else { continue };
                let Ok(file_type) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                let (is_directory, is_file) = if file_type.is_symlink() {
                    match std::fs::metadata(&path) {
                        Ok(target) => (target.is_dir(), target.is_file()),
                        Err(_) => continue,
                    }
                } else {
                    (file_type.is_dir(), file_type.is_file())
                };
                if is_file {
                    return Some(path);
                }
                let skipped = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name))
                    || self.nested.contains(&path);
                if is_directory && !skipped {
                    self.pending.push((path, above.clone()));
                }
                continue;
            }
            let (directory, mut above) = self.pending.pop()?;
            let Some(id) = directory_id(&directory) else {
                continue;
            };
            if above.contains(&id) {
                // A link back to a directory above: a loop.
                continue;
            }
            above.push(id);
            if let Ok(entries) = std::fs::read_dir(&directory) {
                self.current = Some((entries, above));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_links_cuts_loops_and_skips() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path();
        std::fs::create_dir_all(path.join("a/b")).unwrap();
        std::fs::create_dir_all(path.join("node_modules/x")).unwrap();
        std::fs::create_dir_all(path.join("inner/repo")).unwrap();
        std::fs::write(path.join("top.yaml"), "").unwrap();
        std::fs::write(path.join("a/b/deep.yaml"), "").unwrap();
        std::fs::write(path.join("node_modules/x/skipped.yaml"), "").unwrap();
        std::fs::write(path.join("inner/repo/nested.yaml"), "").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("linked.yaml"), "").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(elsewhere.path(), path.join("a/link")).unwrap();
            std::os::unix::fs::symlink(path.join("a"), path.join("a/b/loop")).unwrap();
            // A loop inside a linked directory.
            std::os::unix::fs::symlink(elsewhere.path(), elsewhere.path().join("back")).unwrap();
            std::os::unix::fs::symlink(path.join("top.yaml"), path.join("alias.yaml")).unwrap();
            std::os::unix::fs::symlink(path.join("gone"), path.join("dangling.yaml")).unwrap();
        }
        let mut found: Vec<String> = files(path, vec![path.join("inner/repo")])
            .map(|file| {
                file.strip_prefix(path)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        found.sort();
        // The links back up to `a` and to `elsewhere` are cut; the dangling
        // link is passed over.
        let expected = if cfg!(unix) {
            vec![
                "a/b/deep.yaml",
                "a/link/linked.yaml",
                "alias.yaml",
                "top.yaml",
            ]
        } else {
            vec!["a/b/deep.yaml", "top.yaml"]
        };
        assert_eq!(found, expected);
    }
}
