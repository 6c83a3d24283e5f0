//! A workspace brought up to date by the files that changed answers what a
//! fresh discovery of the same files answers, over random sequences of
//! edits: compose files written, rewritten and removed, repositories that
//! appear and go away, `.env` files, compose `include`s across repositories,
//! and weft.yaml coming and going.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use weft_analysis::Analysis;
use weft_discover::{Workspace, discover};

const REPOSITORIES: &[&str] = &["alpha", "beta", "gamma", "."];
const NAMES: &[&str] = &["web", "db", "cache", "api"];
const PORTS: &[u16] = &[8080, 5432, 6379];

#[derive(Debug, Clone)]
struct ComposeService {
    name: usize,
    port: Option<usize>,
    depends_on: Option<usize>,
    /// A host name in the environment, which may name a service anywhere.
    host: Option<usize>,
}

#[derive(Debug, Clone)]
enum Edit {
    /// Writes a repository's compose file (or the root's).
    Compose {
        repository: usize,
        services: Vec<ComposeService>,
        /// Also `include` beta's `shared.yaml`.
        include: bool,
    },
    /// Writes beta's `shared.yaml`, which other compose files include.
    Shared { name: usize, port: usize },
    /// Writes a repository's `.env`.
    Env { repository: usize, port: usize },
    /// Removes a repository's compose file.
    RemoveCompose { repository: usize },
    /// Removes a repository altogether.
    RemoveRepository { repository: usize },
    /// Writes weft.yaml listing some repositories, or removes it.
    Config { listed: Option<Vec<usize>> },
}

fn service() -> impl Strategy<Value = ComposeService> {
    (
        0..NAMES.len(),
        proptest::option::of(0..PORTS.len()),
        proptest::option::of(0..NAMES.len()),
        proptest::option::of(0..NAMES.len()),
    )
        .prop_map(|(name, port, depends_on, host)| ComposeService {
            name,
            port,
            depends_on,
            host,
        })
}

fn edit() -> impl Strategy<Value = Edit> {
    let repository = 0..REPOSITORIES.len();
    prop_oneof![
        6 => (repository.clone(), proptest::collection::vec(service(), 0..4), any::<bool>())
            .prop_map(|(repository, services, include)| Edit::Compose { repository, services, include }),
        1 => (0..NAMES.len(), 0..PORTS.len()).prop_map(|(name, port)| Edit::Shared { name, port }),
        1 => (repository.clone(), 0..PORTS.len()).prop_map(|(repository, port)| Edit::Env { repository, port }),
        2 => repository.clone().prop_map(|repository| Edit::RemoveCompose { repository }),
        1 => (0..REPOSITORIES.len() - 1).prop_map(|repository| Edit::RemoveRepository { repository }),
        1 => proptest::option::of(proptest::collection::vec(0..REPOSITORIES.len() - 1, 1..3))
            .prop_map(|listed| Edit::Config { listed }),
    ]
}

fn compose_text(services: &[ComposeService], include: bool) -> String {
    let mut text = String::new();
    if include {
        text.push_str("include:\n  - ../beta/shared.yaml\n");
    }
    text.push_str("services:\n");
    if services.is_empty() {
        text.push_str("  placeholder:\n    image: busybox\n");
    }
    let mut seen = std::collections::BTreeSet::new();
    for service in services {
        let name = NAMES[service.name];
        if !seen.insert(name) {
            continue;
        }
        text.push_str(&format!("  {name}:\n    image: example/{name}\n"));
        if let Some(port) = service.port {
            text.push_str(&format!("    ports:\n      - \"{}:80\"\n", PORTS[port]));
        }
        if let Some(other) = service.depends_on.filter(|&o| NAMES[o] != name) {
            text.push_str(&format!("    depends_on:\n      - {}\n", NAMES[other]));
        }
        if let Some(host) = service.host {
            text.push_str(&format!(
                "    environment:\n      UPSTREAM_URL: http://{}:80\n",
                NAMES[host]
            ));
        }
    }
    text
}

/// Applies `edit` to the files, and answers the paths a watcher would report.
fn apply(root: &Path, edit: &Edit) -> Vec<PathBuf> {
    let directory = |repository: usize| root.join(REPOSITORIES[repository]);
    let write = |path: PathBuf, text: String| -> Vec<PathBuf> {
        let mut changed = Vec::new();
        let mut missing = path.parent().map(Path::to_path_buf);
        while let Some(parent) = missing.filter(|p| !p.exists()) {
            changed.push(parent.clone());
            missing = parent.parent().map(Path::to_path_buf);
        }
        fs_err::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs_err::write(&path, text).expect("write");
        changed.push(path);
        changed
    };
    match edit {
        Edit::Compose {
            repository,
            services,
            include,
        } => write(
            directory(*repository).join("compose.yaml"),
            compose_text(services, *include && REPOSITORIES[*repository] != "beta"),
        ),
        Edit::Shared { name, port } => write(
            root.join("beta/shared.yaml"),
            format!(
                "services:\n  shared-{}:\n    image: example/shared\n    ports:\n      - \"{}:80\"\n",
                NAMES[*name], PORTS[*port]
            ),
        ),
        Edit::Env { repository, port } => write(
            directory(*repository).join(".env"),
            format!(
                "PORT={}\nDATABASE_URL=postgres://db:5432/app\n",
                PORTS[*port]
            ),
        ),
        Edit::RemoveCompose { repository } => {
            let path = directory(*repository).join("compose.yaml");
            if fs_err::remove_file(&path).is_ok() {
                vec![path]
            } else {
                Vec::new()
            }
        }
        Edit::RemoveRepository { repository } => {
            let directory = directory(*repository);
            if !directory.is_dir() {
                return Vec::new();
            }
            let mut changed: Vec<PathBuf> = walk(&directory);
            changed.push(directory.clone());
            fs_err::remove_dir_all(&directory).expect("remove");
            changed
        }
        Edit::Config { listed } => {
            let path = root.join("weft.yaml");
            match listed {
                Some(listed) => {
                    let mut text = String::from("repositories:\n");
                    for &repository in listed {
                        text.push_str(&format!("  {}: {{}}\n", REPOSITORIES[repository]));
                    }
                    write(path, text)
                }
                None if fs_err::remove_file(&path).is_ok() => vec![path],
                None => Vec::new(),
            }
        }
    }
}

fn walk(directory: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs_err::read_dir(directory).expect("list").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

fn seed(root: &Path) {
    for (repository, names) in [("alpha", [0, 1]), ("beta", [2, 3])] {
        let services: Vec<ComposeService> = names
            .iter()
            .map(|&name| ComposeService {
                name,
                port: Some(name % PORTS.len()),
                depends_on: None,
                host: Some((name + 1) % NAMES.len()),
            })
            .collect();
        let path = root.join(repository).join("compose.yaml");
        fs_err::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs_err::write(path, compose_text(&services, false)).expect("write");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn updates_answer_what_a_fresh_discovery_answers(edits in proptest::collection::vec(edit(), 1..10)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        seed(root);
        let mut workspace = Workspace::open(root).expect("open");
        for edit in &edits {
            let changed = apply(root, edit);
            let fresh = discover(root);
            let update = workspace.update(&changed);
            match (fresh, update) {
                (Ok(fresh), Ok(_)) => {
                    prop_assert_eq!(workspace.model(), &fresh, "after {:?}", edit);
                    let (incremental, fresh) = (
                        Analysis::of(workspace.shared_model()).expect("analysis"),
                        Analysis::of(fresh).expect("analysis"),
                    );
                    prop_assert!(incremental.changes_since(&fresh).is_empty());
                }
                (Err(_), Err(_)) => {}
                (fresh, update) => prop_assert!(
                    false,
                    "after {:?}: fresh {:?}, update {:?}",
                    edit,
                    fresh.map(|m| m.services.len()),
                    update
                ),
            }
        }
    }
}

#[test]
fn a_file_that_changes_nothing_rebuilds_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    seed(root);
    let mut workspace = Workspace::open(root).expect("open");
    let path = root.join("alpha/compose.yaml");
    let text = fs_err::read_to_string(&path).expect("read");
    fs_err::write(&path, &text).expect("write");
    let update = workspace
        .update(std::slice::from_ref(&path))
        .expect("update");
    assert_eq!(update.reread, ["alpha"]);
    assert!(!update.rebuilt, "the same facts: no rebuild");

    let ignored = root.join("alpha/node_modules/x/compose.yaml");
    fs_err::create_dir_all(ignored.parent().expect("a parent")).expect("mkdir");
    fs_err::write(&ignored, "services: {x: {image: x}}\n").expect("write");
    let update = workspace.update(&[ignored]).expect("update");
    assert!(update.relevant.is_empty() && update.reread.is_empty());

    fs_err::write(&path, text.replace("web", "frontend")).expect("write");
    let update = workspace
        .update(std::slice::from_ref(&path))
        .expect("update");
    assert!(update.rebuilt);
    assert_eq!(update.reread, ["alpha"], "beta keeps its facts");
    assert!(workspace.model().lookup("frontend").is_ok());
}

#[test]
fn a_broken_weft_yaml_keeps_the_last_good_model_until_it_is_fixed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    seed(root);
    let mut workspace = Workspace::open(root).expect("open");
    let before = workspace.model().clone();
    let config = root.join("weft.yaml");
    fs_err::write(&config, "repositories: [unclosed\n").expect("write");
    assert!(workspace.update(std::slice::from_ref(&config)).is_err());
    assert_eq!(workspace.model(), &before);
    fs_err::write(&config, "name: fixed\n").expect("write");
    let update = workspace
        .update(std::slice::from_ref(&config))
        .expect("update");
    assert!(update.reloaded);
    assert_eq!(workspace.model().name, "fixed");
    assert_eq!(workspace.model(), &discover(root).expect("discover"));
}

#[test]
fn repositories_outside_the_root_and_ones_that_appear_inside_another_are_followed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("ws");
    let write = |path: PathBuf, text: &str| {
        fs_err::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs_err::write(&path, text).expect("write");
        path
    };
    write(
        root.join("weft.yaml"),
        "repositories:\n  platform: {}\n  api: {path: platform/services/api}\n  ext: {path: ../ext}\n",
    );
    write(
        root.join("platform/compose.yaml"),
        "services:\n  gateway:\n    image: nginx\n",
    );
    let external = write(
        dir.path().join("ext/compose.yaml"),
        "services:\n  billing:\n    image: billing\n",
    );
    let mut workspace = Workspace::open(&root).expect("open");
    assert!(workspace.model().lookup("billing").is_ok());

    // A change in the repository weft.yaml places outside the root.
    fs_err::write(&external, "services:\n  invoices:\n    image: invoices\n").expect("write");
    let update = workspace
        .update(std::slice::from_ref(&external))
        .expect("update");
    assert_eq!(update.reread, ["ext"]);
    assert_eq!(workspace.model(), &discover(&root).expect("discover"));
    assert!(workspace.model().lookup("invoices").is_ok());

    // The missing `api` appears inside `platform`: it is a repository of
    // its own, not files of platform's.
    let file = write(
        root.join("platform/services/api/compose.yaml"),
        "services:\n  api:\n    image: api\n",
    );
    let changed = [
        root.join("platform/services"),
        root.join("platform/services/api"),
        file,
    ];
    workspace.update(&changed).expect("update");
    let fresh = discover(&root).expect("discover");
    assert_eq!(workspace.model(), &fresh);
    assert_eq!(fresh.lookup("api").expect("api").repository, "api");
}
