//! What stops `weft ci check` before it can check anything.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("`{}` does not exist", .path.display())]
    NotFound { path: PathBuf },
    #[error("no GitHub Actions workflows found under `{}`", .path.display())]
    NoWorkflows { path: PathBuf },
    /// Reading a directory or file failed (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
