//! `weft deploy` end to end: the example released, broken and rolled back;
//! a release killed with SIGKILL and restored; bad weft.yaml located.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weft_testkit::Workspace;

use crate::support::{repository_root, weft_in, weft_with};

/// Stops the example's servers however the test ends.
struct StopServers<'w>(&'w Workspace);

impl Drop for StopServers<'_> {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg(self.0.path("tools/stop.sh"))
            .status();
    }
}

/// A child killed and waited for however the test ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_example_releases_breaks_and_rolls_back() {
    let workspace = Workspace::copy_of(&repository_root().join("examples/release"));
    let _stop = StopServers(&workspace);
    let root = workspace.root();
    // The notify channel's receiver, as the example's header says.
    let _receiver = Reaped(
        Command::new("python3")
            .arg(workspace.path("tools/receiver.py"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", 18309)).is_err() {
        assert!(Instant::now() < deadline, "the receiver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let test = weft_in(root, &["notify", "test", "log"]);
    assert_eq!(test.code, 0, "{}{}", test.stdout, test.stderr);
    let plan = weft_in(
        root,
        &[
            "deploy", "plan", "local", "--set", "db=1.0", "--set", "api=1.0", "--set", "web=1.0",
            "--format", "json",
        ],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let phases: Vec<Vec<String>> = plan.json()["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["services"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(phases, [["db/db"], ["api/api"], ["web/web"]]);

    let first = weft_in(
        root,
        &[
            "deploy", "run", "local", "--set", "db=1.0", "--set", "api=1.0", "--set", "web=1.0",
        ],
    );
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.starts_with("deployment d-"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("released d-"), "{}", first.stdout);
    assert_eq!(workspace.read("web/.release/site/health"), "web 1.0 ok\n");

    let broken = weft_in(
        root,
        &[
            "deploy",
            "run",
            "local",
            "--set",
            "api=1.1",
            "--set",
            "web=bad-1.1",
            "--format",
            "json",
        ],
    );
    assert_eq!(broken.code, 1, "{}\n{}", broken.stdout, broken.stderr);
    let answer = broken.json();
    assert_eq!(answer["outcome"]["status"], "rolled_back");
    assert_eq!(answer["deployment"]["status"], "rolled_back");
    // Both changed services are back at 1.0, serving again.
    assert_eq!(workspace.read("api/.release/site/health"), "api 1.0 ok\n");
    assert_eq!(workspace.read("web/.release/site/health"), "web 1.0 ok\n");

    let history = weft_in(root, &["deploy", "history", "local", "--format", "json"]);
    assert_eq!(history.code, 0);
    let statuses: Vec<String> = history.json()["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["rolled_back", "succeeded"]);

    let explain = weft_in(root, &["deploy", "explain", "local"]);
    assert!(explain.stdout.contains("web/web"), "{}", explain.stdout);
    assert!(explain.stdout.contains("404"), "{}", explain.stdout);

    // Every event reached the receiver, in order, after the channel's test.
    let events: Vec<String> = workspace
        .read("notifications.jsonl")
        .lines()
        .map(|line| {
            let body: serde_json::Value = serde_json::from_str(line).unwrap();
            body["event"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        events,
        [
            "test",
            "deployment_started",
            "deployment_succeeded",
            "deployment_started",
            "gate_failed",
            "deployment_failed",
            "rollback_started",
            "rollback_succeeded",
        ]
    );
    let status = weft_in(root, &["deploy", "status"]);
    assert!(
        status
            .stdout
            .contains("notified\n  log  deployment_started\n"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_release_killed_with_sigkill_is_interrupted_and_rollback_restores_the_last_manifest() {
    let workspace = Workspace::new()
        .file("a/README.md", "repository a\n")
        .file(
            "weft.yaml",
            "repositories: {a: {}}\nenvironments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps:\n        - run: 'echo \"$WEFT_VERSION\" > ../version; [ \"$WEFT_VERSION\" != slow ] || sleep 5'\n",
        );
    let root = workspace.root();
    let first = weft_in(root, &["deploy", "run", "prod", "--set", "a=1.0"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["deploy", "run", "prod", "--set", "a=slow"])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while fs_err::read_to_string(workspace.path("version"))
        .unwrap_or_default()
        .trim()
        != "slow"
    {
        assert!(Instant::now() < deadline, "the slow step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let status = weft_in(root, &["deploy", "status", "--format", "json"]);
    assert_eq!(status.json()["status"], "interrupted", "{}", status.stdout);
    let again = weft_in(root, &["deploy", "rollback", "prod"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(workspace.read("version").trim(), "1.0");
    let history = weft_in(root, &["deploy", "history", "prod", "--format", "json"]);
    let rows = history.json()["deployments"].clone();
    assert_eq!(rows[0]["kind"], "rollback");
    assert_eq!(rows[0]["status"], "succeeded");
    assert_eq!(rows[1]["status"], "interrupted");
    // The lease of the killed run was given back: a new release goes at once.
    let next = weft_in(root, &["deploy", "run", "prod", "--set", "a=2.0"]);
    assert_eq!(next.code, 0, "{}\n{}", next.stdout, next.stderr);
}

#[test]
fn a_bad_weft_yaml_is_exit_two_at_its_place() {
    for (yaml, message, line) in [
        (
            "environments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps:\n        - run: ./deploy.sh\n          webhook: {url: \"http://127.0.0.1:9/\"}\n",
            "a step is exactly one of `run`, `workflow` or `webhook`, but this one has `run` and `webhook`",
            7,
        ),
        (
            "environments: {prod: {strategy: rolling}}\n",
            "unknown variant `rolling`",
            1,
        ),
        (
            "environments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      gates:\n        - interval: 2s\n",
            "a gate needs a target",
            7,
        ),
    ] {
        let workspace = Workspace::new()
            .file("a/README.md", "repository a\n")
            .file("weft.yaml", &format!("repositories: {{a: {{}}}}\n{yaml}"));
        let run = weft_in(
            workspace.root(),
            &["deploy", "plan", "prod", "--set", "a=1"],
        );
        assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(message), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("weft.yaml:{}:", line + 1)),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn sigterm_stops_the_release_and_rolls_back_what_it_changed() {
    let workspace = Workspace::new()
        .file("a/README.md", "repository a\n")
        .file("b/README.md", "repository b\n")
        .file(
            "weft.yaml",
            "repositories: {a: {}, b: {}}\nenvironments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps: [{run: 'echo \"$WEFT_VERSION\" > version'}]\n  b:\n    repository: b\n    depends_on: {a: required}\n    deploy:\n      steps: [{run: 'echo \"$WEFT_VERSION\" > version; [ \"$WEFT_VERSION\" != 2.0 ] || sleep 20'}]\n",
        );
    let root = workspace.root();
    let first = weft_in(
        root,
        &["deploy", "run", "prod", "--set", "a=1.0", "--set", "b=1.0"],
    );
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "deploy", "run", "prod", "--set", "a=2.0", "--set", "b=2.0", "--format", "json",
        ])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while fs_err::read_to_string(workspace.path("b/version"))
        .unwrap_or_default()
        .trim()
        != "2.0"
    {
        assert!(Instant::now() < deadline, "b's slow step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    // The step's process group is stopped at once, not after its 20 s sleep.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["outcome"]["status"], "rolled_back", "{answer}");
    assert_eq!(workspace.read("a/version").trim(), "1.0");
    assert_eq!(workspace.read("b/version").trim(), "1.0");
}

#[test]
fn a_detached_release_prints_its_id_and_goes_on_in_the_background() {
    let workspace = Workspace::new().file("a/README.md", "repository a\n").file(
        "weft.yaml",
        "repositories: {a: {}}\nenvironments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps: [{run: 'sleep 0.5; echo \"$WEFT_VERSION\" > version'}]\n",
    );
    let root = workspace.root();
    let started = Instant::now();
    let detached = weft_in(
        root,
        &[
            "deploy", "run", "prod", "--set", "a=1.0", "--detach", "--format", "json",
        ],
    );
    assert_eq!(detached.code, 0, "{}\n{}", detached.stdout, detached.stderr);
    let id = detached.json()["deployment"].as_str().unwrap().to_string();
    assert!(started.elapsed() < Duration::from_secs(5));
    let follow = weft_in(root, &["deploy", "status", &id, "--follow"]);
    assert_eq!(follow.code, 0, "{}\n{}", follow.stdout, follow.stderr);
    assert!(follow.stdout.contains("succeeded"), "{}", follow.stdout);
    assert_eq!(workspace.read("a/version").trim(), "1.0");
    // A release that cannot be planned fails in the foreground, exit 2.
    let bad = weft_in(
        root,
        &["deploy", "run", "prod", "--set", "nope=1", "--detach"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn artifacts_pass_between_services_and_are_checked_on_the_way_out() {
    let workspace = Workspace::new()
        .file("a/README.md", "repository a\n")
        .file("b/README.md", "repository b\n")
        .file(
            "weft.yaml",
            "repositories: {a: {}, b: {}}\nenvironments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps: [{run: 'echo \"built $WEFT_VERSION\" > \"$WEFT_ARTIFACTS_DIR/build.txt\"'}]\n  b:\n    repository: b\n    depends_on: {a: required}\n    deploy:\n      steps: [{run: 'cp \"$WEFT_ARTIFACTS_DIR/build.txt\" seen.txt'}]\n",
        )
        .file("notes.txt", "release notes\n");
    let root = workspace.root();
    let run = weft_in(
        root,
        &[
            "deploy", "run", "prod", "--set", "a=1.0", "--set", "b=1.0", "--format", "json",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let answer = run.json();
    let id = answer["outcome"]["deployment"]
        .as_str()
        .unwrap()
        .to_string();
    // b read what a's step left; the manifest names it with its digest.
    assert_eq!(workspace.read("b/seen.txt"), "built 1.0\n");
    let artifacts = answer["deployment"]["artifacts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert_eq!(artifacts[0]["name"], "build.txt");
    assert!(
        artifacts[0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    let put = weft_in(
        root,
        &["deploy", "artifact", "put", &id, "notes.txt", "notes.txt"],
    );
    assert_eq!(put.code, 0, "{}", put.stderr);
    let list = weft_in(
        root,
        &["deploy", "artifact", "list", &id, "--format", "json"],
    );
    let names: Vec<String> = list.json()["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["build.txt", "notes.txt"]);
    let get = weft_in(
        root,
        &["deploy", "artifact", "get", &id, "notes.txt", "copy.txt"],
    );
    assert_eq!(get.code, 0, "{}", get.stderr);
    assert_eq!(workspace.read("copy.txt"), "release notes\n");

    // A kept file that changed is refused; bad names and ids are bad input.
    workspace.write(&format!(".weft/artifacts/{id}/notes.txt"), "tampered\n");
    let changed = weft_in(
        root,
        &["deploy", "artifact", "get", &id, "notes.txt", "again.txt"],
    );
    assert_eq!(changed.code, 2, "{}", changed.stderr);
    assert!(
        changed.stderr.contains("changed since it was recorded"),
        "{}",
        changed.stderr
    );
    assert!(!workspace.path("again.txt").exists());
    let bad = weft_in(
        root,
        &["deploy", "artifact", "put", &id, "../x", "notes.txt"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let unknown = weft_in(
        root,
        &["deploy", "artifact", "put", "d-nothing", "x", "notes.txt"],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}

#[test]
fn artifacts_in_an_s3_bucket_pass_between_services() {
    let Some(moto) =
        weft_testkit::s3::MotoServer::start("artifacts_in_an_s3_bucket_pass_between_services")
    else {
        return;
    };
    let yaml = format!(
        "repositories: {{a: {{}}, b: {{}}}}\nenvironments: {{prod: {{}}}}\nartifacts:\n  s3: {{bucket: releases, prefix: ci/, endpoint: \"{}\", access_key_env: S3_KEY, secret_key_env: S3_SECRET}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps: [{{run: 'echo \"built $WEFT_VERSION\" > \"$WEFT_ARTIFACTS_DIR/build.txt\"'}}]\n  b:\n    repository: b\n    depends_on: {{a: required}}\n    deploy:\n      steps: [{{run: 'cp \"$WEFT_ARTIFACTS_DIR/build.txt\" seen.txt'}}]\n",
        moto.endpoint()
    );
    let workspace = Workspace::new()
        .file("a/README.md", "repository a\n")
        .file("b/README.md", "repository b\n")
        .file("weft.yaml", &yaml);
    let root = workspace.root();
    let env = [("S3_KEY", "testing"), ("S3_SECRET", "testing-secret")];
    let config: weft_model::config::S3Config = weft_model::config::S3Config {
        bucket: "releases".into(),
        endpoint: Some(moto.endpoint()),
        access_key_env: Some("S3_KEY".into()),
        secret_key_env: Some("S3_SECRET".into()),
        ..Default::default()
    };
    let lookup = |name: &str| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_string())
    };
    weft_deploy::bucket::Bucket::new(&config, &lookup)
        .unwrap()
        .create()
        .unwrap();

    // Without the credentials: bad configuration, named.
    let missing = weft_in(
        root,
        &["deploy", "run", "prod", "--set", "a=1.0", "--set", "b=1.0"],
    );
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("S3_KEY"), "{}", missing.stderr);

    let run = weft_with(
        root,
        &[
            "deploy", "run", "prod", "--set", "a=1.0", "--set", "b=1.0", "--format", "json",
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let answer = run.json();
    let id = answer["outcome"]["deployment"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(workspace.read("b/seen.txt"), "built 1.0\n");
    let artifacts = answer["deployment"]["artifacts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert_eq!(
        artifacts[0]["location"],
        format!("s3://releases/ci/{id}/build.txt").as_str()
    );

    // Out of the bucket, with no local copy left.
    fs_err::remove_dir_all(workspace.path(".weft/artifacts")).unwrap();
    let get = weft_with(
        root,
        &["deploy", "artifact", "get", &id, "build.txt", "copy.txt"],
        &env,
    );
    assert_eq!(get.code, 0, "{}", get.stderr);
    assert_eq!(workspace.read("copy.txt"), "built 1.0\n");
}

#[test]
fn a_release_runs_on_a_weft_serve_and_is_followed_from_here() {
    let workspace = Workspace::new().file("a/README.md", "repository a\n").file(
        "weft.yaml",
        "repositories: {a: {}}\nenvironments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps: [{run: 'echo \"$WEFT_VERSION\" > version'}]\n      gates: [{exec: 'test -s version', interval: 50ms}]\n",
    );
    let server = crate::lock::serve(workspace.root());
    let elsewhere = tempfile::tempdir().unwrap();
    let run = weft_in(
        elsewhere.path(),
        &[
            "deploy",
            "run",
            "prod",
            "--set",
            "a=1.0",
            "--server",
            &server.url,
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["deployment"]["status"], "succeeded");
    assert_eq!(workspace.read("a/version").trim(), "1.0");
    // What the server cannot plan is bad input here.
    let bad = weft_in(
        elsewhere.path(),
        &[
            "deploy",
            "run",
            "staging",
            "--set",
            "a=1",
            "--server",
            &server.url,
        ],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("no environment `staging`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_release_whose_output_nobody_reads_any_more_still_finishes() {
    use std::io::{BufRead, BufReader};
    let workspace = Workspace::new().file("a/README.md", "repository a\n").file(
        "weft.yaml",
        "repositories: {a: {}}\nenvironments: {prod: {}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps: [{run: 'sleep 0.3; echo \"$WEFT_VERSION\" > version'}]\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["deploy", "run", "prod", "--set", "a=1.0"])
        .current_dir(workspace.root())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // `| head -1`: read the deployment id, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("deployment d-"), "{first}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(workspace.read("a/version").trim(), "1.0");
    let history = weft_in(
        workspace.root(),
        &["deploy", "history", "prod", "--format", "json"],
    );
    assert_eq!(history.json()["deployments"][0]["status"], "succeeded");
}
