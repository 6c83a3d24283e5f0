//! The entry point: read a whole workspace into one model.

use std::path::Path;

use weft_model::Model;

use crate::builder::Builder;
use crate::facts::Facts;
use crate::workspace::{self, DiscoverError};

/// Reads every repository of the workspace at `root` into one [`Model`].
///
/// Problems in input files become diagnostics in the model; only a workspace
/// that cannot be read at all (missing directory, invalid weft.yaml) is an error.
/// Repositories are read in parallel, one thread per core.
pub fn discover(root: &Path) -> Result<Model, DiscoverError> {
    let (loaded, repositories, diagnostics) = workspace::repositories(root)?;
    let name = workspace::workspace_name(root, &loaded);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(repositories.len().max(1));
    let chunk = repositories.len().div_ceil(threads).max(1);
    let exclude = |name: &str| -> Vec<String> {
        loaded
            .config
            .repositories
            .get(name)
            .map(|r| r.exclude.clone())
            .unwrap_or_default()
    };
    let mut nested = workspace::nested_repositories(root, &repositories);
    let facts: Vec<Facts> = std::thread::scope(|scope| {
        let handles: Vec<_> = repositories
            .chunks(chunk)
            .zip(nested.chunks_mut(chunk))
            .map(|(group, nested)| {
                let exclude = &exclude;
                scope.spawn(move || {
                    group
                        .iter()
                        .zip(nested.iter_mut())
                        .map(|(repository, nested)| {
                            let files = workspace::collect(
                                root,
                                repository,
                                std::mem::take(nested),
                                &exclude(&repository.name),
                            );
                            workspace::read_repository(root, &files)
                        })
                        .collect::<Vec<Facts>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let builder = Builder::new(&loaded, name, diagnostics);
    Ok(builder.build(
        root.to_path_buf(),
        repositories.into_iter().zip(facts).collect(),
    ))
}
