//! A workspace in a temporary directory, written file by file.

use std::path::{Path, PathBuf};

/// A temporary workspace: `Workspace::new().file("api/compose.yaml", "…")`.
/// The directory is removed when the value is dropped.
#[derive(Debug)]
pub struct Workspace {
    directory: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            directory: tempfile::tempdir()
                .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}")),
        }
    }

    /// A copy of an existing directory (such as `examples/homelab`).
    pub fn copy_of(source: &Path) -> Self {
        let workspace = Workspace::new();
        copy_directory(source, workspace.root());
        workspace
    }

    /// Writes a file (creating its directories), relative to the root.
    pub fn file(self, relative: &str, text: &str) -> Self {
        self.write(relative, text);
        self
    }

    /// Writes a file in place, for tests that change a workspace as they go.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.root().join(relative);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        fs_err::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn read(&self, relative: &str) -> String {
        fs_err::read_to_string(self.root().join(relative)).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn root(&self) -> &Path {
        self.directory.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

fn copy_directory(source: &Path, target: &Path) {
    fs_err::create_dir_all(target).unwrap_or_else(|e| panic!("{e}"));
    for entry in fs_err::read_dir(source).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let path = entry.path();
        let destination = target.join(entry.file_name());
        if path.is_dir() {
            copy_directory(&path, &destination);
        } else {
            fs_err::copy(&path, &destination).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
