//! `weft push` with its lock from a running `weft serve`: waiters are
//! granted by priority, not by arrival.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::lock::serve;
use crate::support::weft_in;

fn sh(directory: &Path, script: &str) -> String {
    let output = Command::new("sh")
        .args(["-euc", script])
        .current_dir(directory)
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The queue of the one resource held, as `lock list --format json` shows it.
fn queue(directory: &Path, server: &str) -> serde_json::Value {
    weft_in(
        directory,
        &["lock", "list", "--format", "json", "--server", server],
    )
    .json()["resources"][0]
        .clone()
}

#[test]
fn server_lock_grants_by_priority() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    sh(
        root,
        "git init -q --bare --initial-branch=main remote.git
         git clone -q remote.git seed 2>/dev/null
         cd seed && echo seed > README.md && git add -A && git commit -qm seed && git push -q origin HEAD:main
         cd .. && for c in low high; do
             git clone -q remote.git $c
             (cd $c && echo $c > $c.txt && git add -A && git commit -qm \"from $c\")
         done",
    );
    let server = serve(root);
    let remote = sh(&root.join("low"), "git remote get-url origin");
    // The push lock is named by the remote URL, without `.git`.
    let resource = format!("branch:{}/main", remote.trim().trim_end_matches(".git"));

    // Someone holds the push lock.
    let blocker = weft_in(
        root,
        &[
            "lock",
            "acquire",
            &resource,
            "--ttl",
            "5m",
            "--format",
            "json",
            "--server",
            &server.url,
        ],
    );
    assert_eq!(blocker.code, 0, "{}", blocker.stderr);
    let blocker_lease = blocker.json()["id"].as_str().unwrap().to_owned();

    let push = |clone: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["push", "--server", &server.url, "--lock-wait", "2m"])
            .args(extra)
            .current_dir(root.join(clone))
            .env("NO_COLOR", "1")
            .env_remove("WEFT_WORKSPACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let wait_for_queue = |length: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let view = queue(root, &server.url);
            if view["queue"].as_array().is_some_and(|q| q.len() == length) {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "the queue never reached {length}: {view}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // The low priority arrives first, the high one second.
    let low = push("low", &["--priority", "10"]);
    wait_for_queue(1);
    let high = push("high", &["--class", "cv-enhancement"]);
    let view = wait_for_queue(2);
    assert_eq!(
        view["id"],
        resource.as_str(),
        "push locks its branch on the server"
    );
    assert_eq!(view["queue"][0]["priority"], 100, "{view}");
    assert_eq!(view["queue"][1]["priority"], 10, "{view}");

    let released = weft_in(
        root,
        &["lock", "release", &blocker_lease, "--server", &server.url],
    );
    assert_eq!(released.code, 0, "{}", released.stderr);
    for (name, child) in [("high", high), ("low", low)] {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The high priority landed first, the low one on top of it.
    let log = sh(
        &root.join("seed"),
        "git pull -q origin main && git log --format=%s",
    );
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(subjects, ["from low", "from high", "seed"], "{log}");
    // Both released the lease: nothing is held.
    let list = weft_in(
        root,
        &["lock", "list", "--format", "json", "--server", &server.url],
    );
    assert_eq!(list.json()["resources"], serde_json::json!([]));
}
