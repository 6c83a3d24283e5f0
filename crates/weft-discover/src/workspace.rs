//! Finding a workspace's repositories and sorting their files to readers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use weft_model::config::{self, ConfigError, LoadedConfig};
use weft_model::{Diagnostic, Repository, Severity};

use crate::compose::{self, Project};
use crate::config_files::{self, ConfigFormat};
use crate::env::parse_dotenv;
use crate::facts::{Facts, SourceFile};
use crate::{kubernetes, nginx, procfile};

/// Files larger than this are not read.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Directories never descended into.
pub const SKIPPED_DIRECTORIES: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "target",
    "vendor",
    ".venv",
    "venv",
    "__pycache__",
    ".weft",
    ".terraform",
    ".idea",
    ".vscode",
];

/// Directory names that conventionally hold Kubernetes manifests; a YAML
/// syntax error there is an error, elsewhere a warning (it may be any YAML).
const MANIFEST_DIRECTORIES: &[&str] = &[
    "k8s",
    "kubernetes",
    "manifests",
    "deploy",
    "kustomize",
    "kubernetes-manifests",
];

/// The workspace could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("workspace `{}` does not exist", .path.display())]
    NotFound { path: PathBuf },
    #[error("workspace `{}` is not a directory", .path.display())]
    NotADirectory { path: PathBuf },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("failed to list `{}`", .path.display())]
    List {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One repository's files, sorted by reader.
#[derive(Debug, Default)]
pub struct RepositoryFiles {
    pub repository: Repository,
    /// Compose files by project directory, in Compose's reading order.
    pub compose: BTreeMap<String, Vec<SourceFile>>,
    pub kubernetes: Vec<SourceFile>,
    pub nginx: Vec<SourceFile>,
    pub config: Vec<(SourceFile, ConfigFormat)>,
    pub procfiles: Vec<SourceFile>,
    pub diagnostics: Vec<Diagnostic>,
}

impl RepositoryFiles {
    /// Every file handed to a reader, relative to the workspace root.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.compose
            .values()
            .flatten()
            .chain(&self.kubernetes)
            .chain(&self.nginx)
            .chain(self.config.iter().map(|(file, _)| file))
            .chain(&self.procfiles)
            .map(|file| &*file.path)
    }
}

/// Loads weft.yaml and lists the repositories of a workspace, with a
/// diagnostic for each configured repository that does not exist.
pub fn repositories(
    root: &Path,
) -> Result<(LoadedConfig, Vec<Repository>, Vec<Diagnostic>), DiscoverError> {
    if !root.exists() {
        return Err(DiscoverError::NotFound {
            path: root.to_path_buf(),
        });
    }
    if !root.is_dir() {
        return Err(DiscoverError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let loaded = config::load(root)?;
    let mut diagnostics = loaded.warnings.clone();
    let mut repositories = Vec::new();
    if loaded.config.repositories.is_empty() {
        let mut entries: Vec<PathBuf> = fs_err::read_dir(root)
            .map_err(|source| DiscoverError::List {
                path: root.to_path_buf(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        for path in entries {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') || SKIPPED_DIRECTORIES.contains(&name) {
                continue;
            }
            if holds_readable_files(root, &path) {
                repositories.push(Repository {
                    name: name.to_string(),
                    path: name.to_string(),
                });
            }
        }
        // Files at the root itself (a compose file that runs the
        // repositories together, say) form a repository of their own; it
        // reads no file inside another repository.
        let at_root = std::fs::read_dir(root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.path().is_file() && classify(root, &e.path()).is_some())
            })
            .unwrap_or(false);
        if (repositories.is_empty() && holds_readable_files(root, root)) || at_root {
            let name = workspace_name(root, &loaded);
            let name = if repositories.iter().any(|r| r.name == name) {
                format!("{name}-root")
            } else {
                name
            };
            repositories.insert(
                0,
                Repository {
                    name,
                    path: ".".to_string(),
                },
            );
        }
    } else {
        for (name, repository) in &loaded.config.repositories {
            let path = repository.path.clone().unwrap_or_else(|| name.clone());
            let full = root.join(&path);
            if !full.is_dir() {
                let mut diagnostic = Diagnostic::error(
                    "repository-missing",
                    format!("repository `{name}` is not at `{}`", full.display()),
                )
                .in_file(config::FILE_NAME)
                .with_hint("clone it there, or fix its `path` in weft.yaml (relative to the workspace root)");
                if let (Some(span), Some((text, _))) =
                    (loaded.key_span(&["repositories", name]), &loaded.source)
                {
                    diagnostic = diagnostic.at(text, span.start);
                }
                diagnostics.push(diagnostic);
                continue;
            }
            repositories.push(Repository {
                name: name.clone(),
                path: path.trim_end_matches('/').to_string(),
            });
        }
    }
    Ok((loaded, repositories, diagnostics))
}

/// The workspace's name: `name` from weft.yaml, else the directory's name.
pub fn workspace_name(root: &Path, loaded: &LoadedConfig) -> String {
    loaded.config.name.clone().unwrap_or_else(|| {
        root.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "workspace".to_string())
    })
}

/// Whether any file below `directory` is one a reader takes (see
/// [`is_readable`] for `root`).
pub(crate) fn holds_readable_files(root: &Path, directory: &Path) -> bool {
    walk(directory).any(|path| classify(root, &path).is_some())
}

fn walk(directory: &Path) -> impl Iterator<Item = PathBuf> {
    walk_skipping(directory, Vec::new())
}

/// Walks the files below `directory`, skipping `nested` directories (other
/// repositories inside this one) and the directories no reader needs.
fn walk_skipping(directory: &Path, nested: Vec<PathBuf>) -> impl Iterator<Item = PathBuf> {
    crate::walk::files(directory, nested)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Compose,
    Kubernetes,
    Nginx,
    Config(ConfigFormat),
    Procfile,
}

/// Whether some reader takes a file of this path (by its name and place).
/// Only the directories below `root` (the workspace's) say anything of its
/// place: a workspace that lives under `~/src/nginx-stack/` or a `.github`
/// checkout reads the same as anywhere else.
pub(crate) fn is_readable(root: &Path, path: &Path) -> bool {
    classify(root, path).is_some()
}

/// Which reader takes a file, by its path below `root` (see [`is_readable`]).
fn classify(root: &Path, path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let path = path.strip_prefix(root).unwrap_or(path);
    let in_github = path.components().any(|c| c.as_os_str() == ".github");
    if in_github {
        return None;
    }
    if lower == config::FILE_NAME {
        return None;
    }
    if is_compose_file(&lower) {
        return Some(FileKind::Compose);
    }
    if procfile::is_procfile(name) {
        return Some(FileKind::Procfile);
    }
    if let Some(format) = config_files::format_of(name) {
        return Some(FileKind::Config(format));
    }
    let in_nginx_directory = path.parent().is_some_and(|p| {
        p.components()
            .any(|c| c.as_os_str().to_string_lossy().contains("nginx"))
    });
    if lower.ends_with(".conf")
        || lower.ends_with(".conf.template")
        || lower.ends_with(".conf.sample")
        || lower.ends_with(".conf.example")
        || lower.ends_with(".conf.j2")
        || lower.ends_with(".conf.tpl")
        || (in_nginx_directory && (lower == "conf" || lower.ends_with(".template")))
    {
        return Some(FileKind::Nginx);
    }
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        return Some(FileKind::Kubernetes);
    }
    None
}

/// Compose file names: `compose.yaml`, `docker-compose.override.yml`,
/// `docker-compose-zipkin.yml`, `compose.observability.yaml`, `docker-stack.yml`…
pub fn is_compose_file(lower: &str) -> bool {
    let yaml = lower.ends_with(".yml") || lower.ends_with(".yaml");
    yaml && (lower.starts_with("compose")
        || lower.starts_with("docker-compose")
        || lower.contains(".compose.")
        || lower.starts_with("docker-stack")
        || lower == "stack.yml")
}

/// Compose's reading order within a directory: the base file, its override,
/// then the other layers alphabetically.
fn compose_rank(lower: &str) -> (u8, String) {
    let rank = match lower {
        "compose.yaml" | "compose.yml" | "docker-compose.yaml" | "docker-compose.yml" => 0,
        "compose.override.yaml"
        | "compose.override.yml"
        | "docker-compose.override.yaml"
        | "docker-compose.override.yml" => 1,
        _ => 2,
    };
    (rank, lower.to_string())
}

/// For each repository (in the order given), the directories of the other
/// repositories inside it, which are not read as part of it.
///
/// How it works: sorted by path, the repositories inside one follow it
/// directly (paths compare component by component), so one forward scan
/// from each finds them: O(n log n) rather than every pair.
pub fn nested_repositories(root: &Path, repositories: &[Repository]) -> Vec<Vec<PathBuf>> {
    let paths: Vec<PathBuf> = repositories.iter().map(|r| root.join(&r.path)).collect();
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by(|a, b| paths[*a].cmp(&paths[*b]));
    let mut nested = vec![Vec::new(); paths.len()];
    for (position, &index) in order.iter().enumerate() {
        let base = &paths[index];
        for &other in &order[position + 1..] {
            if !paths[other].starts_with(base) {
                break;
            }
            if paths[other] != *base {
                nested[index].push(paths[other].clone());
            }
        }
    }
    nested
}

/// Reads and sorts the files of one repository, leaving out `nested`: the
/// directories of repositories inside it ([`nested_repositories`]).
pub fn collect(
    root: &Path,
    repository: &Repository,
    nested: Vec<PathBuf>,
    exclude: &[String],
) -> RepositoryFiles {
    let mut files = RepositoryFiles {
        repository: repository.clone(),
        ..RepositoryFiles::default()
    };
    let excluded = exclude_set(exclude);
    let base = root.join(&repository.path);
    let mut paths: Vec<PathBuf> = walk_skipping(&base, nested).collect();
    paths.sort();
    // A repository weft.yaml places outside the root: its own directory is
    // where its place starts.
    let inside = base.strip_prefix(root).is_ok_and(|rest| {
        !rest
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    });
    let place = if inside { root } else { &base };
    for path in paths {
        let Some(kind) = classify(place, &path) else {
            continue;
        };
        let within_repository = path.strip_prefix(&base).unwrap_or(&path);
        if excluded
            .as_ref()
            .is_some_and(|set| set.is_match(within_repository))
        {
            continue;
        }
        let relative = relative_path(root, &path);
        let text = match read_small(&path) {
            Ok(None) => {
                files.diagnostics.push(
                    Diagnostic::new(
                        Severity::Note,
                        "file-skipped",
                        format!("larger than {} MiB; not read", MAX_FILE_BYTES >> 20),
                    )
                    .in_file(&relative),
                );
                continue;
            }
            Ok(Some(Ok(text))) => text,
            Ok(Some(Err(_))) => {
                files.diagnostics.push(
                    Diagnostic::warning("file-encoding", "not UTF-8 text; not read")
                        .in_file(&relative)
                        .with_hint("save the file as UTF-8"),
                );
                continue;
            }
            Err(error) => {
                files
                    .diagnostics
                    .push(Diagnostic::error("file-read", error.to_string()).in_file(&relative));
                continue;
            }
        };
        let file = SourceFile::new(relative.clone(), text);
        match kind {
            FileKind::Compose => {
                let directory = crate::paths::parent(&relative).to_string();
                files.compose.entry(directory).or_default().push(file);
            }
            FileKind::Kubernetes if looks_like_compose(&file.text) => {
                let directory = crate::paths::parent(&relative).to_string();
                files.compose.entry(directory).or_default().push(file);
            }
            FileKind::Kubernetes => files.kubernetes.push(file),
            FileKind::Nginx => {
                if looks_like_nginx(&file.text) {
                    files.nginx.push(file);
                }
            }
            // `config.yaml` holding manifests (a ConfigMap next to the
            // Deployments that use it) is Kubernetes, not application config.
            FileKind::Config(ConfigFormat::Structured)
                if is_yaml(&lower_name(&relative)) && looks_like_kubernetes(&file.text) =>
            {
                files.kubernetes.push(file);
            }
            FileKind::Config(format) => files.config.push((file, format)),
            FileKind::Procfile => files.procfiles.push(file),
        }
    }
    for project in files.compose.values_mut() {
        project.sort_by_key(|f| {
            compose_rank(
                &f.path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
            )
        });
    }
    files
}

fn exclude_set(patterns: &[String]) -> Option<GlobSet> {
    if patterns.is_empty() {
        return None;
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        if let Ok(glob) = Glob::new(pattern) {
            builder.add(glob);
        }
    }
    builder.build().ok()
}

/// A file's bytes as text, or `None` when it is larger than
/// [`MAX_FILE_BYTES`]; its size is asked of the open file, not the path.
fn read_small(path: &Path) -> std::io::Result<Option<Result<String, std::string::FromUtf8Error>>> {
    use std::io::Read;
    let mut file = fs_err::File::open(path)?;
    let length = file.metadata()?.len();
    if length > MAX_FILE_BYTES {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(length as usize);
    file.read_to_end(&mut bytes)?;
    Ok(Some(String::from_utf8(bytes)))
}

/// A YAML file under another name that is a compose file (a fragment such
/// as `compose/hs/radarr.yml`): a top-level `services:` and no `apiVersion:`.
fn looks_like_compose(text: &str) -> bool {
    starts_a_line(text, "services:")
        && !starts_a_line(text, "apiVersion:")
        && !starts_a_line(text, "kind:")
}

/// A YAML file whose documents are Kubernetes objects: top-level `apiVersion:`
/// and `kind:` lines.
fn looks_like_kubernetes(text: &str) -> bool {
    starts_a_line(text, "apiVersion:") && starts_a_line(text, "kind:")
}

/// Whether a line of `text` starts with `key` (a top-level YAML key). A
/// text without `key` anywhere, which most are for one of the keys asked
/// about, is passed over in one vectorized search instead of line by line.
fn starts_a_line(text: &str, key: &str) -> bool {
    text.contains(key) && text.lines().any(|line| line.starts_with(key))
}

fn is_yaml(lower: &str) -> bool {
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

fn lower_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase()
}

fn looks_like_nginx(text: &str) -> bool {
    [
        "server {",
        "server{",
        "location ",
        "upstream ",
        "proxy_pass",
        "listen ",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// `path` relative to `root`, with `/` separators.
pub fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let text: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if text.is_empty() {
        ".".to_string()
    } else {
        text.join("/")
    }
}

/// Runs every reader over one repository's files. Also answers the paths,
/// relative to `root`, of the files the readers loaded besides `files` (a
/// compose `include` or `extends` elsewhere): the facts depend on them too.
pub fn read_repository(root: &Path, files: &RepositoryFiles) -> (Facts, BTreeSet<String>) {
    let mut facts = Facts {
        diagnostics: files.diagnostics.clone(),
        ..Facts::default()
    };
    let loaded = std::cell::RefCell::new(BTreeSet::new());
    let load = |relative: &str| -> Option<SourceFile> {
        loaded.borrow_mut().insert(relative.to_string());
        let text = fs_err::read_to_string(root.join(relative)).ok()?;
        Some(SourceFile::new(relative, text))
    };
    // Files another compose file includes are read with the including
    // project. A file that compose files only `extends` from, under a name
    // Compose never loads by itself, is a library of templates: its services
    // are not services of the workspace.
    let mut included = HashSet::new();
    let mut extended: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (directory, project_files) in &files.compose {
        let environment = project_environment(&files.config, directory);
        for file in project_files {
            let pulled_in = compose::pulled_in_files(file, &environment);
            included.extend(pulled_in.included);
            for target in pulled_in.extended {
                extended
                    .entry(target)
                    .or_default()
                    .insert(file.path.to_string());
            }
        }
    }
    for (directory, project_files) in &files.compose {
        let mut read = Vec::new();
        for file in project_files {
            if included.contains(&*file.path) {
                continue;
            }
            let name = lower_name(&file.path);
            if let Some(extenders) = extended
                .get(&*file.path)
                .filter(|_| compose_rank(&name).0 > 1)
            {
                let extenders: Vec<&str> = extenders.iter().map(String::as_str).collect();
                facts.diagnostics.push(
                    Diagnostic::new(
                        Severity::Note,
                        "compose-extends-source",
                        format!(
                            "not read as a compose project: its services are templates that {} `extends`",
                            extenders.join(", ")
                        ),
                    )
                    .in_file(&file.path)
                    .with_hint(
                        "Compose loads this file only through `extends: {file: …}`; \
                         name it compose.yaml (or pass it with -f) to run it as a project",
                    ),
                );
                continue;
            }
            read.push(file.clone());
        }
        if read.is_empty() {
            continue;
        }
        let environment = project_environment(&files.config, directory);
        facts.extend(compose::read_project(&Project {
            directory,
            files: &read,
            environment: &environment,
            load: &load,
        }));
    }
    let mut kubernetes_facts = kubernetes::read(&files.kubernetes);
    for diagnostic in &mut kubernetes_facts.diagnostics {
        let in_manifest_directory = diagnostic.file.as_deref().is_some_and(|f| {
            f.split('/')
                .any(|part| MANIFEST_DIRECTORIES.contains(&part))
        });
        if diagnostic.severity == Severity::Error
            && diagnostic.code == "yaml-syntax"
            && !in_manifest_directory
        {
            diagnostic.severity = Severity::Warning;
        }
    }
    facts.extend(kubernetes_facts);
    for file in &files.nginx {
        facts.extend(nginx::read(file));
    }
    for (file, format) in &files.config {
        facts.extend(config_files::read(file, *format));
    }
    for file in &files.procfiles {
        facts.extend(procfile::read(file, crate::paths::parent(&file.path)));
    }
    (facts, loaded.into_inner())
}

/// The variables of a compose project's `.env`.
fn project_environment(
    config: &[(SourceFile, ConfigFormat)],
    directory: &str,
) -> HashMap<String, String> {
    let wanted = if directory == "." {
        ".env".to_string()
    } else {
        format!("{directory}/.env")
    };
    config
        .iter()
        .find(|(file, _)| *file.path == *wanted)
        .map(|(file, _)| {
            let (entries, _) = parse_dotenv(file);
            let mut environment = HashMap::new();
            for entry in entries {
                let (value, _) =
                    crate::env::interpolate(&entry.value, &|name| environment.get(name).cloned());
                environment.insert(entry.name, value);
            }
            environment
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(name: &str, path: &str) -> Repository {
        Repository {
            name: name.to_owned(),
            path: path.to_owned(),
        }
    }

    #[test]
    fn nested_repositories_are_found_and_siblings_are_not() {
        let root = Path::new("/w");
        let repositories = [
            repository("platform", "platform"),
            repository("platform-ui", "platform-ui"),
            repository("api", "platform/services/api"),
            repository("infra", "infra"),
            repository("charts", "platform/charts"),
            repository("workspace", "."),
        ];
        let nested = nested_repositories(root, &repositories);
        let names = |i: usize| -> Vec<String> {
            nested[i].iter().map(|p| p.display().to_string()).collect()
        };
        assert_eq!(
            names(0),
            ["/w/platform/charts", "/w/platform/services/api"],
            "platform holds api and charts, not platform-ui"
        );
        assert!(names(1).is_empty());
        assert!(names(2).is_empty());
        assert!(names(3).is_empty());
        // The workspace root holds every other repository.
        assert_eq!(names(5).len(), 5, "{:?}", names(5));
    }
}
