//! `weft watch`: the real binary watching real files, its JSON lines read as
//! a user's script would read them.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use weft_testkit::Workspace;

/// `weft watch --format json` on a workspace, killed however the test ends.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    fn start(workspace: &Workspace) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["watch", "--format", "json", "--debounce", "30ms"])
            .current_dir(workspace.root())
            .env("NO_COLOR", "1")
            .env_remove("WEFT_WORKSPACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    /// The next JSON line that is not a `change` with nothing in it (a
    /// directory seen before the file written into it), within 10 s.
    fn next(&self) -> Value {
        loop {
            let line = self.line();
            if line["event"] != "change" || !is_empty(&line["changes"]) {
                return line;
            }
        }
    }

    /// The next JSON line, within 10 s.
    fn line(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("weft watch printed a line within 10 s");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An empty change: no items in any list, no counts.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.values().all(is_empty),
        _ => false,
    }
}

/// Writes a file whole, as editors save: a temporary file renamed into place.
fn save(workspace: &Workspace, relative: &str, text: &str) {
    let path = workspace.path(relative);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    let temporary = path.with_extension("weft-test-tmp");
    fs_err::write(&temporary, text).unwrap();
    fs_err::rename(&temporary, &path).unwrap();
}

fn ids(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().or_else(|| v["id"].as_str()).unwrap())
        .collect()
}

#[test]
fn saved_files_print_what_they_change_and_a_broken_weft_yaml_keeps_the_last_model() {
    let workspace = Workspace::new()
        .file(
            "api/compose.yaml",
            "services:\n  api:\n    image: api\n    ports: [\"8080:80\"]\n    environment:\n      DB_HOST: db\n",
        )
        .file(
            "data/compose.yaml",
            "services:\n  db:\n    image: postgres\n",
        );
    let watch = Watch::start(&workspace);
    let ready = watch.next();
    assert_eq!(ready["event"], "ready", "{ready}");
    assert_eq!(ready["services"], 2);
    assert_eq!(ready["conflicts"], 0);
    assert_eq!(ready["phases"], 2);

    // A second repository publishing the same port: a conflict appears,
    // with its claims, and only that repository was read again.
    save(
        &workspace,
        "web/compose.yaml",
        "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n",
    );
    let change = watch.next();
    assert_eq!(change["event"], "change", "{change}");
    assert_eq!(ids(&change["reread"]), ["web"]);
    assert_eq!(ids(&change["changes"]["services"]["added"]), ["web/web"]);
    let added = &change["changes"]["conflicts"]["added"];
    assert_eq!(added.as_array().unwrap().len(), 1, "{change}");
    assert_eq!(added[0]["claims"].as_array().unwrap().len(), 2);
    let conflict = added[0]["id"].as_str().unwrap().to_string();
    assert!(change["timings_ms"]["total"].as_f64().unwrap() > 0.0);

    // Moving the port away takes the conflict away; the edge from api to db
    // goes when api stops naming db.
    save(
        &workspace,
        "web/compose.yaml",
        "services:\n  web:\n    image: nginx\n    ports: [\"8081:80\"]\n",
    );
    let change = watch.next();
    assert_eq!(
        ids(&change["changes"]["conflicts"]["removed"]),
        [conflict.as_str()]
    );
    save(
        &workspace,
        "api/compose.yaml",
        "services:\n  api:\n    image: api\n    ports: [\"8080:80\"]\n",
    );
    let change = watch.next();
    let removed = &change["changes"]["edges"]["removed"];
    assert_eq!(removed[0]["from"], "api/api", "{change}");
    assert_eq!(removed[0]["to"], "data/db");
    let moved: Vec<&str> = change["changes"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["service"].as_str().unwrap())
        .collect();
    assert_eq!(moved, ["api/api"], "{change}");

    // An editor's swap file changes nothing and prints nothing; the next
    // line is the next real change.
    workspace.write("api/.compose.yaml.swp", "binary junk");
    save(&workspace, "weft.yaml", "repositories: [unclosed\n");
    let error = watch.next();
    assert_eq!(error["event"], "error", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("weft.yaml"),
        "{error}"
    );
    save(&workspace, "weft.yaml", "name: fixed\n");
    let change = watch.line();
    assert_eq!(change["event"], "change", "{change}");
    assert_eq!(change["reloaded"], true);
    assert!(
        is_empty(&change["changes"]),
        "only the name changed: {change}"
    );
}

#[test]
fn the_example_shows_a_conflict_come_and_go() {
    let output = Command::new("sh")
        .arg(crate::support::repository_root().join("examples/watch/run.sh"))
        .env("WEFT", env!("CARGO_BIN_EXE_weft"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let changes: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("  +") || line.starts_with("  -"))
        .collect();
    assert_eq!(
        changes,
        [
            "  + service infra/extra",
            "  + conflict port:docker/tcp/9090 (error): host port tcp/9090 (docker) is published by infra/extra, monitoring/prometheus",
            "  - conflict port:docker/tcp/9090",
            "  - service infra/extra",
        ],
        "{stdout}"
    );
}
