//! `weft lock` and `weft claim`, on the local store and on a `weft serve`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::weft_in;

/// Kills the server when the test ends, passing or not.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `weft serve` on a free port of 127.0.0.1 in `directory`.
pub(crate) fn serve(directory: &std::path::Path) -> Server {
    serve_with(directory, &[])
}

/// [`serve`] with extra environment variables.
pub(crate) fn serve_with(directory: &std::path::Path, env: &[(&str, &str)]) -> Server {
    serve_at(directory, "127.0.0.1:0", env)
}

/// [`serve_with`] on the address `listen`.
fn serve_at(directory: &std::path::Path, listen: &str, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["serve", "--listen", listen])
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .env_remove("WEFT_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = loop {
        assert!(
            Instant::now() < deadline,
            "weft serve never said where it listens"
        );
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

#[test]
fn local_store_grants_refuses_and_releases() {
    let dir = tempfile::tempdir().unwrap();
    let first = weft_in(
        dir.path(),
        &[
            "lock",
            "acquire",
            "branch:origin/main",
            "--ttl",
            "5m",
            "--format",
            "json",
        ],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let lease = first.json();
    assert_eq!(lease["token"], 1);
    assert_eq!(lease["resource"], "branch:origin/main");
    assert!(dir.path().join(".weft/state.db").is_file());

    // Another process: taken, exit 1, the holder named.
    let second = weft_in(
        dir.path(),
        &["lock", "acquire", "branch:origin/main", "--wait", "0"],
    );
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(second.stderr.contains("held by"), "{}", second.stderr);

    let list = weft_in(dir.path(), &["lock", "list", "--format", "json"]);
    assert_eq!(list.json()["resources"][0]["holders"][0]["token"], 1);

    let id = lease["id"].as_str().unwrap();
    let release = weft_in(dir.path(), &["lock", "release", id]);
    assert_eq!(release.code, 0, "{}", release.stderr);
    // Asked again (as after a lost answer): the same answer.
    let again = weft_in(dir.path(), &["lock", "release", id]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, release.stdout);
    // A lease that never was is bad input.
    let unknown = weft_in(
        dir.path(),
        &["lock", "release", "5f0c6a52-4d7e-4a8e-9d55-1f1b0c1e2d3a"],
    );
    assert_eq!(
        unknown.code, 2,
        "releasing an unknown lease is bad input: {}",
        unknown.stderr
    );

    let third = weft_in(
        dir.path(),
        &[
            "lock",
            "acquire",
            "branch:origin/main",
            "--wait",
            "0",
            "--format",
            "json",
        ],
    );
    assert_eq!(third.json()["token"], 2, "tokens strictly increase");
}

#[test]
fn bad_input_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for arguments in [
        &["lock", "acquire", "x", "--ttl", "-5s"][..],
        &["lock", "acquire", "x", "--class", "no-such-class"],
        &["lock", "acquire", "bad type:x"],
        &["lock", "renew", "no-such-lease"],
        &["lock", "acquire", "x", "--server", "ftp://nowhere"],
        &[
            "lock",
            "acquire",
            "x",
            "--server",
            "http://127.0.0.1:1,ftp://nowhere",
        ],
        &["serve", "--threads", "0"],
    ] {
        let run = weft_in(dir.path(), arguments);
        assert_eq!(run.code, 2, "{arguments:?}: {}", run.stderr);
    }
}

#[test]
fn run_holds_the_lock_passes_the_token_and_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let run = weft_in(
        dir.path(),
        &[
            "lock",
            "run",
            "deploy",
            "--wait",
            "0",
            "--",
            "sh",
            "-c",
            "echo \"$WEFT_LEASE_RESOURCE $WEFT_FENCING_TOKEN\"; exit 7",
        ],
    );
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "lock:deploy 1");
    // Released on exit: the next claim gets token 2 at once.
    let next = weft_in(
        dir.path(),
        &["claim", "lock", "deploy", "--wait", "0", "--format", "json"],
    );
    assert_eq!(next.json()["token"], 2, "{}", next.stderr);
}

#[test]
fn server_mode_waits_for_a_release() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let with_server = |arguments: &[&str]| {
        let mut all = arguments.to_vec();
        all.extend(["--server", server.url.as_str()]);
        weft_in(dir.path(), &all)
    };
    let held = with_server(&["claim", "environment", "staging", "--format", "json"]);
    assert_eq!(held.code, 0, "{}", held.stderr);
    let id = held.json()["id"].as_str().unwrap().to_owned();

    // A waiter in another process, granted when the holder releases.
    let waiter = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "claim",
            "environment",
            "staging",
            "--wait",
            "60s",
            "--format",
            "json",
        ])
        .args(["--server", &server.url])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = with_server(&["lock", "list", "--format", "json"]);
        if list.json()["resources"][0]["queue"]
            .as_array()
            .is_some_and(|q| q.len() == 1)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the waiter never queued");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(with_server(&["lock", "release", &id]).code, 0);
    let output = waiter.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lease: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(lease["token"], 2);

    let forced = with_server(&[
        "lock",
        "force-release",
        "environment:staging",
        "--reason",
        "stuck runner",
    ]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let list = with_server(&["lock", "list", "--format", "json"]);
    assert_eq!(list.json()["resources"], serde_json::json!([]));
}

/// A child process killed when the test ends, passing or not.
struct Reap(Option<Child>);

impl Reap {
    fn output(mut self) -> std::process::Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The case: `weft lock run --wait 60s` queued on a server that is
/// SIGKILLed and started again on the same address and store, with a
/// `weft claim --wait 60s` queued behind it. Both ride out the restart
/// (passing over a replica in their list that is down throughout), keep
/// their order, and get the lease in turn once the holder lets go.
#[test]
fn lock_run_rides_out_a_killed_and_restarted_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path());
    let address = server.url.trim_start_matches("http://").to_owned();
    let with_server = |url: &str, arguments: &[&str]| {
        let mut all = arguments.to_vec();
        all.extend(["--server", url]);
        weft_in(dir.path(), &all)
    };
    let held = with_server(
        &server.url,
        &["claim", "lock", "deploy", "--format", "json"],
    );
    assert_eq!(held.code, 0, "{}", held.stderr);
    let id = held.json()["id"].as_str().unwrap().to_owned();

    // Port 1: nothing listens there.
    let servers = format!("http://127.0.0.1:1,{}", server.url);
    let spawn = |arguments: &[&str]| {
        Reap(Some(
            Command::new(env!("CARGO_BIN_EXE_weft"))
                .args(arguments)
                .args(["--server", &servers])
                .current_dir(dir.path())
                .env("NO_COLOR", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ))
    };
    let queued = |waiters: usize| {
        let list = with_server(&server.url, &["lock", "list", "--format", "json"]);
        list.json()["resources"][0]["queue"]
            .as_array()
            .is_some_and(|q| q.len() == waiters)
    };
    let wait_for = |waiters: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !queued(waiters) {
            assert!(Instant::now() < deadline, "{waiters} waiters never queued");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let first = spawn(&[
        "lock",
        "run",
        "deploy",
        "--wait",
        "60s",
        "--",
        "sh",
        "-c",
        "echo \"ran with token $WEFT_FENCING_TOKEN\"",
    ]);
    wait_for(1);
    let second = spawn(&[
        "claim", "lock", "deploy", "--wait", "60s", "--format", "json",
    ]);
    wait_for(2);

    // SIGKILL, then the same address and store again.
    let url = server.url.clone();
    drop(server);
    server = serve_at(dir.path(), &address, &[]);
    assert_eq!(server.url, url);
    assert_eq!(with_server(&server.url, &["lock", "release", &id]).code, 0);

    let output = first.output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "ran with token 2",
        "{stderr}"
    );
    let output = second.output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lease: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(lease["token"], 3, "{stderr}");
}
