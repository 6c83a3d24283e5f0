//! The entry point: read a whole workspace into one model.

use std::path::Path;

use weft_model::Model;

use crate::incremental::Workspace;
use crate::workspace::DiscoverError;

/// Reads every repository of the workspace at `root` into one [`Model`].
///
/// Problems in input files become diagnostics in the model; only a workspace
/// that cannot be read at all (missing directory, invalid weft.yaml) is an error.
/// Repositories are read in parallel, one thread per core. To keep the
/// model up to date as files change, hold a [`Workspace`] instead.
pub fn discover(root: &Path) -> Result<Model, DiscoverError> {
    Workspace::open(root).map(Workspace::into_model)
}
