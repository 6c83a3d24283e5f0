//! Workspace-relative paths with `/` separators.

/// Joins a relative path onto a directory and normalizes `.` and `..`
/// lexically (`infra` + `./nginx/../conf` = `infra/conf`). A `..` above the
/// root is kept, so the result may leave the workspace.
pub fn join_relative(directory: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let start = if path.starts_with('/') { "" } else { directory };
    for part in start.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The directory of a workspace-relative file path (`.` at the root).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/')
        .map_or(".", |(directory, _)| directory)
}

/// Whether `path` is `directory` or inside it.
pub fn is_within(path: &str, directory: &str) -> bool {
    directory == "."
        || path == directory
        || path
            .strip_prefix(directory)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_normalizes() {
        assert_eq!(
            join_relative("infra", "./nginx/../conf/a.conf"),
            "infra/conf/a.conf"
        );
        assert_eq!(join_relative(".", "./x"), "x");
        assert_eq!(join_relative("a", "../../b"), "../b");
        assert_eq!(join_relative("a", "."), "a");
        assert_eq!(parent("a/b/c.yml"), "a/b");
        assert_eq!(parent("c.yml"), ".");
        assert!(is_within("a/b/c", "a/b"));
        assert!(!is_within("a/bc", "a/b"));
    }
}
