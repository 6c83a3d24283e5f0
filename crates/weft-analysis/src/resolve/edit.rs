//! Edits to source files and their application.

use std::path::Path;

use serde::Serialize;

/// Replace `[start, end)` of a file with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEdit {
    /// Path relative to the workspace root.
    pub file: String,
    pub line: u32,
    pub column: u32,
    #[serde(skip)]
    pub start: usize,
    #[serde(skip)]
    pub end: usize,
    /// The text replaced, as written.
    pub before: String,
    pub after: String,
}

/// A whole file before and after every edit of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub file: String,
    /// The file does not exist yet (an override file weft writes).
    pub created: bool,
    pub before: String,
    pub after: String,
}

impl FileChange {
    /// The change as a unified diff with `a/` and `b/` headers.
    pub fn unified_diff(&self) -> String {
        similar::TextDiff::from_lines(&self.before, &self.after)
            .unified_diff()
            .context_radius(3)
            .header(
                &if self.created {
                    "/dev/null".to_string()
                } else {
                    format!("a/{}", self.file)
                },
                &format!("b/{}", self.file),
            )
            .to_string()
    }

    /// Writes the new text, refusing if the file changed since it was read.
    /// The write goes to a temporary file renamed over the original, so a
    /// crash never leaves half a file.
    pub fn write(&self, root: &Path) -> std::io::Result<()> {
        if self.created {
            // Never over a file that appeared meanwhile.
            let mut file = fs_err::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(root.join(&self.file))?;
            return std::io::Write::write_all(&mut file, self.after.as_bytes());
        }
        // Through a symbolic link, write the file it points at.
        let path = fs_err::canonicalize(root.join(&self.file))?;
        let current = fs_err::read_to_string(&path)?;
        if current != self.before {
            return Err(std::io::Error::other(format!(
                "{} changed since weft read it; run `weft resolve` again",
                self.file
            )));
        }
        let temporary = path.with_file_name(format!(
            ".{}.weft-tmp",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        fs_err::write(&temporary, &self.after)?;
        if let Ok(metadata) = fs_err::metadata(&path) {
            let _ = fs_err::set_permissions(&temporary, metadata.permissions());
        }
        fs_err::rename(&temporary, &path)
    }
}

/// Applies non-overlapping edits (sorted here) to a text.
pub(crate) fn apply_edits(text: &str, edits: &[&FileEdit]) -> Result<String, (usize, usize)> {
    let mut sorted: Vec<&&FileEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    for edit in sorted {
        if edit.start < position || edit.end > text.len() || edit.start > edit.end {
            // (Insertions at one place are fine: `start == position`.)
            return Err((edit.start, edit.end));
        }
        out.push_str(&text[position..edit.start]);
        out.push_str(&edit.after);
        position = edit.end;
    }
    out.push_str(&text[position..]);
    Ok(out)
}
