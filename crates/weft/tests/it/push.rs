//! `weft push`, `weft push status` and `weft push cleanup` end to end: real
//! git repositories, the real binary, its output and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;

fn git(directory: &Path, arguments: &[&str]) -> String {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {arguments:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A bare remote with a `main` branch and clones of it.
struct Fixture {
    directory: TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Fixture {
        let directory = tempfile::tempdir().unwrap();
        git(
            directory.path(),
            &[
                "init",
                "-q",
                "--bare",
                "--initial-branch=main",
                "remote.git",
            ],
        );
        let fixture = Fixture { directory };
        let seed = fixture.clone("seed");
        for (path, text) in files {
            write(&seed, path, text);
        }
        write(&seed, "README.md", "seed\n");
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-q", "-m", "seed"]);
        git(&seed, &["push", "-q", "origin", "HEAD:main"]);
        fixture
    }

    fn remote(&self) -> PathBuf {
        self.directory.path().join("remote.git")
    }

    fn clone(&self, name: &str) -> PathBuf {
        git(self.directory.path(), &["clone", "-q", "remote.git", name]);
        let path = self.directory.path().join(name);
        git(&path, &["config", "user.name", name]);
        git(&path, &["config", "user.email", "someone@example.invalid"]);
        if Command::new("git")
            .args(["rev-parse", "-q", "--verify", "origin/main"])
            .current_dir(&path)
            .output()
            .unwrap()
            .status
            .success()
        {
            git(&path, &["checkout", "-q", "-B", "main", "origin/main"]);
        }
        path
    }

    fn subjects(&self) -> Vec<String> {
        git(&self.remote(), &["log", "--format=%s", "main"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn write(directory: &Path, path: &str, text: &str) {
    let file = directory.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

fn weft(directory: &Path, arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command
        .args(arguments)
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .env_remove("WEFT_WORKSPACE")
        .env_remove("WEFT_SERVER")
        .env_remove("GITHUB_WORKFLOW");
    command
}

fn run(directory: &Path, arguments: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = weft(directory, arguments).output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    )
}

#[test]
fn push_lands_and_status_lists_it() {
    let fixture = Fixture::new(&[]);
    let clone = fixture.clone("a");
    write(&clone, "data/rows.csv", "1\n");
    let (code, stdout, stderr) = run(
        &clone,
        &[
            "push", "--add", "data", "-m", "Add rows", "--format", "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["outcome"], "landed");
    assert_eq!(report["landed"][0]["subject"], "Add rows");
    assert_eq!(report["lock"]["mode"], "git");
    assert_eq!(report["lock"]["released"], true);
    assert!(stderr.contains("took the push lock"), "{stderr}");
    assert_eq!(fixture.subjects(), ["Add rows", "seed"]);

    let (code, stdout, _) = run(&clone, &["push", "status", "--format", "json"]);
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["locks"], serde_json::json!([]));
    assert_eq!(status["recent"][0]["outcome"], "landed");

    let (code, stdout, _) = run(&clone, &["push", "status"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("no push lock is held on origin"),
        "{stdout}"
    );
    assert!(stdout.contains("landed 1 commit"), "{stdout}");

    let (code, stdout, _) = run(&clone, &["push"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing to push"), "{stdout}");

    let (code, stdout, _) = run(&clone, &["push", "cleanup"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, "nothing to clean up\n");
}

#[test]
fn a_conflict_under_fail_exits_1_naming_the_step_and_restores() {
    let fixture = Fixture::new(&[
        ("conf.txt", "base\n"),
        ("weft.yaml", "push:\n  policies:\n    conf.txt: fail\n"),
    ]);
    let mine = fixture.clone("mine");
    let theirs = fixture.clone("theirs");
    write(&theirs, "conf.txt", "theirs\n");
    git(&theirs, &["commit", "-q", "-am", "theirs"]);
    git(&theirs, &["push", "-q", "origin", "HEAD:main"]);
    write(&mine, "conf.txt", "mine\n");
    git(&mine, &["add", "conf.txt"]);
    let (code, stdout, stderr) = run(&mine, &["push", "-m", "mine"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("error: failed to rebase onto origin/main"),
        "{stderr}"
    );
    assert!(
        stderr.contains("caused by: `conf.txt` conflicts") && stderr.contains("`fail`"),
        "{stderr}"
    );
    assert!(stderr.contains("as they were before weft push"), "{stderr}");
    // The staged change is staged again, uncommitted.
    assert_eq!(git(&mine, &["status", "--porcelain"]), "M  conf.txt\n");
    assert_eq!(fixture.subjects(), ["theirs", "seed"]);
}

#[test]
fn bad_input_exits_2() {
    let fixture = Fixture::new(&[("weft.yaml", "push:\n  policies:\n    a: newest\n")]);
    let clone = fixture.clone("a");
    let (code, _, stderr) = run(&clone, &["push"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("newest") && stderr.contains("weft.yaml"),
        "{stderr}"
    );

    let outside = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(outside.path(), &["push"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not inside a git working tree"), "{stderr}");

    let fixture = Fixture::new(&[]);
    let clone = fixture.clone("b");
    // Each replica of a list is checked, not only the first.
    for (servers, bad) in [
        ("ftp://127.0.0.1:1", "ftp://127.0.0.1:1"),
        ("http://127.0.0.1:1, ftp://127.0.0.1:2", "ftp://127.0.0.1:2"),
    ] {
        let output = weft(&clone, &["push"])
            .env("WEFT_SERVER", servers)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("server `{bad}` is not an http(s) URL")),
            "{stderr}"
        );
    }

    let (code, _, stderr) = run(&clone, &["push", "--priority", "1", "--class", "batch"]);
    assert_eq!(code, 2, "{stderr}");

    let (code, _, stderr) = run(&clone, &["push", "--add", "no-such-file"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot stage no-such-file"), "{stderr}");
    assert!(
        stderr.contains("failed to commit the staged changes"),
        "{stderr}"
    );
}

#[test]
fn sigterm_while_waiting_rolls_back_and_exits_143() {
    let fixture = Fixture::new(&[]);
    let holder = fixture.clone("holder");
    // A live lock held by someone else.
    let record = serde_json::json!({
        "branch": "main",
        "holder": {"host": "elsewhere", "pid": 1},
        "token": 1,
        "acquired_at": 0,
        "expires_at": 32503680000000u64,
    });
    let sha = git(
        &holder,
        &[
            "commit-tree",
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "-m",
            &record.to_string(),
        ],
    );
    git(
        &holder,
        &[
            "push",
            "-q",
            "origin",
            &format!("{}:refs/weft/locks/main", sha.trim()),
        ],
    );
    let clone = fixture.clone("a");
    write(&clone, "x.txt", "x\n");
    git(&clone, &["add", "x.txt"]);
    let before = git(&clone, &["status", "--porcelain"]);
    let head = git(&clone, &["rev-parse", "HEAD"]);
    let child = weft(&clone, &["push", "-m", "x"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while git(&fixture.remote(), &["for-each-ref", "refs/weft/waiting/"]).is_empty() {
        assert!(Instant::now() < deadline, "weft push never started waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("waiting for the push lock, held by elsewhere"),
        "{stderr}"
    );
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert_eq!(git(&clone, &["status", "--porcelain"]), before);
    assert_eq!(git(&clone, &["rev-parse", "HEAD"]), head);
    assert!(
        git(&fixture.remote(), &["for-each-ref", "refs/weft/waiting/"]).is_empty(),
        "the waiter is gone"
    );
}
