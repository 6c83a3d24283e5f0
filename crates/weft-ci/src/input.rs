//! Which files to check: a workflow file, a directory of workflows, a
//! repository (its `.github/workflows`), or a directory of repositories.

use std::path::{Path, PathBuf};

use crate::error::CiError;

/// Where workflows live inside a repository.
pub const WORKFLOWS: &str = ".github/workflows";

/// How deep to look for repositories under a directory that is not one.
const SEARCH_DEPTH: usize = 3;

/// One workflow file: where it is, and the path shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowPath {
    pub path: PathBuf,
    pub display: String,
}

/// The workflow files of one repository, which are checked together (races
/// are looked for between them, not across repositories).
pub type RepositoryWorkflows = Vec<WorkflowPath>;

/// Collects the workflows under `path`.
///
/// - a file: that workflow alone;
/// - a directory with `.github/workflows`: that repository's workflows, and,
///   when `nested` (a workspace), those of every repository below it too;
/// - `.github`: its `workflows`;
/// - any other directory: every repository found below it (three levels),
///   or, when there is none and the directory is not itself a repository,
///   the `.yml`/`.yaml` files it holds (`action.yml` files are actions, not
///   workflows, and are skipped).
pub fn collect(path: &Path, nested: bool) -> Result<Vec<RepositoryWorkflows>, CiError> {
    if !path.exists() {
        return Err(CiError::NotFound {
            path: path.to_path_buf(),
        });
    }
    if path.is_file() {
        return Ok(vec![vec![workflow_path(path)]]);
    }
    let own = path.join(WORKFLOWS);
    let github =
        path.file_name().is_some_and(|n| n == ".github") && path.join("workflows").is_dir();
    let mut repositories = Vec::new();
    if own.is_dir() {
        repositories.push(yaml_files(&own)?);
        if nested {
            search(path, SEARCH_DEPTH, true, &mut repositories)?;
        }
    } else if github {
        repositories.push(yaml_files(&path.join("workflows"))?);
    } else {
        search(path, SEARCH_DEPTH, true, &mut repositories)?;
        if repositories.is_empty() && !path.join(".git").exists() {
            repositories.push(yaml_files(path)?);
        }
    }
    repositories.retain(|files| !files.is_empty());
    if repositories.is_empty() {
        return Err(CiError::NoWorkflows {
            path: path.to_path_buf(),
        });
    }
    Ok(repositories)
}

/// Looks for repositories (directories with `.github/workflows`) below
/// `directory`, skipping hidden and dependency directories.
fn search(
    directory: &Path,
    depth: usize,
    top: bool,
    found: &mut Vec<RepositoryWorkflows>,
) -> Result<(), CiError> {
    if depth == 0 {
        return Ok(());
    }
    let mut children: Vec<PathBuf> = fs_err::read_dir(directory)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|child| child.is_dir())
        .filter(|child| {
            let name = child
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            !name.starts_with('.') && !matches!(name, "node_modules" | "target" | "vendor")
        })
        .collect();
    children.sort();
    for child in children {
        let workflows = child.join(WORKFLOWS);
        if workflows.is_dir() {
            found.push(yaml_files(&workflows)?);
            if !top {
                continue;
            }
        }
        search(&child, depth - 1, false, found)?;
    }
    Ok(())
}

/// The `.yml` and `.yaml` files directly in `directory`, sorted.
fn yaml_files(directory: &Path) -> Result<RepositoryWorkflows, CiError> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(directory)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            path.is_file()
                && !matches!(name, "action.yml" | "action.yaml")
                && path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e == "yml" || e == "yaml")
        })
        .collect();
    files.sort();
    Ok(files.iter().map(|path| workflow_path(path)).collect())
}

fn workflow_path(path: &Path) -> WorkflowPath {
    let display = path.to_string_lossy().replace('\\', "/");
    let display = display.strip_prefix("./").unwrap_or(&display).to_string();
    WorkflowPath {
        path: path.to_path_buf(),
        display,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str) {
        let path = root.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, "on: push\njobs: {}\n").unwrap();
    }

    #[test]
    fn files_directories_repositories_and_workspaces() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(root, ".github/workflows/a.yml");
        write(root, ".github/workflows/b.yaml");
        write(root, ".github/workflows/notes.txt");
        write(root, "api/.github/workflows/c.yml");
        write(root, "group/web/.github/workflows/d.yml");
        let count = |repositories: Vec<RepositoryWorkflows>| -> Vec<usize> {
            repositories.iter().map(Vec::len).collect()
        };
        assert_eq!(count(collect(root, false).unwrap()), [2]);
        assert_eq!(count(collect(root, true).unwrap()), [2, 1, 1]);
        assert_eq!(
            count(collect(&root.join(".github/workflows"), false).unwrap()),
            [2]
        );
        assert_eq!(count(collect(&root.join("group"), false).unwrap()), [1]);
        assert_eq!(count(collect(&root.join(".github"), false).unwrap()), [2]);
        assert_eq!(
            count(collect(&root.join("api/.github/workflows/c.yml"), false).unwrap()),
            [1]
        );
        assert!(matches!(
            collect(&root.join("nope"), false),
            Err(CiError::NotFound { .. })
        ));
        fs_err::create_dir_all(root.join("empty")).unwrap();
        assert!(matches!(
            collect(&root.join("empty"), false),
            Err(CiError::NoWorkflows { .. })
        ));
        // A repository without workflows, whose root holds action.yml and other YAML.
        write(root, "action/action.yml");
        write(root, "action/config.yml");
        fs_err::create_dir_all(root.join("action/.git")).unwrap();
        assert!(matches!(
            collect(&root.join("action"), false),
            Err(CiError::NoWorkflows { .. })
        ));
        fs_err::remove_dir(root.join("action/.git")).unwrap();
        assert_eq!(count(collect(&root.join("action"), false).unwrap()), [1]);
    }
}
