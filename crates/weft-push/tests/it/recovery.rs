//! A pusher killed with SIGKILL mid-rebase and mid-lock: the next `weft
//! push` or `weft push cleanup` repairs the clone, and other clones take the
//! dead run's lock over once it expires.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use weft_push::{Holder, LockMode, PushOutcome, PushRequest, Pusher, Step};

use crate::support::{Clone, Remote, Snapshot, wait_until};

const CHILD: &str = "WEFT_PUSH_TEST_CHILD";
const READY: &str = "WEFT_PUSH_TEST_READY";
const TTL: &str = "WEFT_PUSH_TEST_TTL_MS";
/// `rebase` (stop in a slow generator) or `wait` (stop in the queue).
const MODE: &str = "WEFT_PUSH_TEST_MODE";

/// Runs in a child process (this test binary, started again): a push that
/// stops in a slow `regenerate` while it holds the lock and the rebase is
/// half-way, or (`wait` mode) waits in line, so that the parent can kill it
/// there.
#[test]
fn child_pusher() {
    let Ok(directory) = std::env::var(CHILD) else {
        return;
    };
    let ready = std::env::var(READY).unwrap();
    let ttl: u64 = std::env::var(TTL).unwrap().parse().unwrap();
    let waiting = std::env::var(MODE).as_deref() == Ok("wait");
    let yaml = if waiting {
        String::new()
    } else {
        format!("push: {{policies: {{gen.txt: {{regenerate: \"touch '{ready}'; sleep 60\"}}}}}}")
    };
    let (config, _) = weft_model::config::parse(&yaml).unwrap();
    let holder = Holder {
        host: "test-child".to_string(),
        pid: std::process::id(),
        ..Holder::default()
    };
    let request = PushRequest {
        lock_ttl: Some(Duration::from_millis(ttl)),
        ..PushRequest::default()
    };
    let settings = weft_push::PushSettings::resolve_for(&config.push, request, holder).unwrap();
    let _ = Pusher::open(std::path::Path::new(&directory), settings, LockMode::Git)
        .unwrap()
        .on_progress(move |progress| {
            if waiting && matches!(progress, weft_push::Progress::Waiting { .. }) {
                std::fs::write(&ready, "").unwrap();
            }
        })
        .run();
    panic!("the child should have been killed");
}

/// A clone whose push was killed with SIGKILL while rebasing under the
/// lock, and its state before that push.
fn killed_run(ttl: Duration) -> (Remote, Clone, Snapshot) {
    let remote = Remote::with_files(&[("gen.txt", "0\n"), ("notes.txt", "n\n")]);
    let clone = remote.clone("a");
    let theirs = remote.clone("theirs");
    theirs.write("gen.txt", "theirs\n");
    theirs.plain_push("their change");
    clone.write("gen.txt", "mine\n");
    clone.commit_all("my change");
    clone.write("notes.txt", "uncommitted\n");
    clone.write("scratch.txt", "untracked\n");
    let before = clone.snapshot();
    let ready: PathBuf = clone.path.join("..").join("child-ready");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "recovery::child_pusher",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, &clone.path)
        .env(READY, &ready)
        .env(TTL, ttl.as_millis().to_string())
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || ready.exists()),
        "the child never reached its generator"
    );
    assert!(clone.git_dir().join("rebase-merge").exists(), "mid-rebase");
    assert!(clone.git_dir().join(weft_push::STATE_FILE).exists());
    assert_eq!(
        remote.refs("refs/weft/locks/"),
        ["refs/weft/locks/main"],
        "mid-lock"
    );
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    killpg(pid, Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    (remote, clone, before)
}

#[test]
fn the_next_push_repairs_a_killed_run_and_lands() {
    let (remote, clone, _) = killed_run(Duration::from_secs(60));
    let report = clone
        .push(clone.settings("push: {policies: {gen.txt: mine}}"))
        .unwrap();
    let recovered = report.recovered.as_ref().expect("a recovery");
    assert_eq!(recovered.step, Step::Rebase);
    let actions = recovered.actions.join("\n");
    assert!(actions.contains("aborted the rebase"), "{actions}");
    assert!(actions.contains("restored the branch"), "{actions}");
    assert!(actions.contains("released its push lock"), "{actions}");
    assert_eq!(report.outcome, PushOutcome::Landed);
    assert_eq!(
        report.lock.took_over_from, None,
        "no wait for the dead run's lock"
    );
    assert_eq!(remote.subjects(), ["my change", "their change", "seed"]);
    assert_eq!(remote.show("gen.txt"), "mine\n");
    assert_eq!(
        clone.read("notes.txt"),
        "uncommitted\n",
        "uncommitted changes survive"
    );
    assert_eq!(clone.read("scratch.txt"), "untracked\n");
}

#[test]
fn cleanup_repairs_a_killed_run_exactly() {
    let (remote, clone, before) = killed_run(Duration::from_secs(60));
    let report = weft_push::cleanup(&clone.path, "origin").unwrap();
    let recovered = report.recovered.expect("a recovery");
    assert!(
        recovered
            .actions
            .iter()
            .any(|a| a.contains("released its push lock"))
    );
    assert_eq!(clone.snapshot(), before);
    assert!(!clone.git_dir().join("rebase-merge").exists());
    assert!(!clone.git_dir().join(weft_push::STATE_FILE).exists());
    assert_eq!(clone.git(&["for-each-ref", "refs/weft/"]), "");
    assert!(remote.leftovers().is_empty());
    assert_eq!(remote.subjects(), ["their change", "seed"]);
}

#[test]
fn another_clone_takes_a_dead_runs_lock_over_after_expiry() {
    let (remote, clone, before) = killed_run(Duration::from_millis(1500));
    let other = remote.clone("other");
    other.write("other.txt", "o\n");
    other.commit_all("other");
    let report = other.push(other.settings("")).unwrap();
    assert!(
        report
            .lock
            .took_over_from
            .as_deref()
            .is_some_and(|holder| holder.contains("test-child")),
        "{:?}",
        report.lock
    );
    assert_eq!(remote.subjects(), ["other", "their change", "seed"]);
    // The dead run's clone is repaired later, and leaves the lock alone.
    let cleanup = weft_push::cleanup(&clone.path, "origin").unwrap();
    let actions = cleanup.recovered.unwrap().actions.join("\n");
    assert!(
        actions.contains("already released or taken over"),
        "{actions}"
    );
    assert_eq!(clone.snapshot(), before);
}

#[test]
fn a_live_run_is_not_mistaken_for_a_dead_one() {
    let remote = Remote::new();
    let clone = remote.clone("a");
    let state = serde_json::json!({
        "pid": 1,
        "host": "another-host",
        "started_at": weft_push::now_ms(),
        "remote": "origin",
        "branch": "main",
        "step": "rebase",
        "backup": {
            "head": {"kind": "branch", "name": "main", "sha": clone.head()},
            "index_tree": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "worktree_tree": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        }
    });
    std::fs::write(
        clone.git_dir().join(weft_push::STATE_FILE),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    let failure = clone.push(clone.settings("")).unwrap_err();
    assert!(
        matches!(failure.error, weft_push::PushError::Busy { pid: 1 }),
        "{:?}",
        failure.error
    );
    assert!(clone.git_dir().join(weft_push::STATE_FILE).exists());
}

#[test]
fn a_killed_waiter_whose_commits_a_holder_landed_is_repaired_without_landing_twice() {
    let remote = Remote::new();
    let planter = remote.clone("planter");
    let planted =
        crate::locking::plant_lock(&planter, "main", 1, Duration::from_secs(60), "busy-runner");
    let clone = remote.clone("a");
    clone.write("a.txt", "a\n");
    clone.commit_all("a commit");
    let ready: PathBuf = clone.path.join("..").join("waiter-ready");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "recovery::child_pusher",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, &clone.path)
        .env(READY, &ready)
        .env(TTL, "60000")
        .env(MODE, "wait")
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(30), || {
        !remote.refs("refs/weft/waiting/main/").is_empty()
    }));
    assert!(ready.exists());
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    killpg(pid, Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // The busy runner lets go; another pusher lines up behind the dead
    // waiter, takes the lock, and lands the dead waiter's commit with its own.
    planter.git(&[
        "push",
        "-q",
        &format!("--force-with-lease=refs/weft/locks/main:{planted}"),
        "origin",
        ":refs/weft/locks/main",
    ]);
    let other = remote.clone("other");
    other.write("b.txt", "b\n");
    other.commit_all("other commit");
    let report = other.push(other.settings("")).unwrap();
    assert_eq!(report.batched.len(), 1, "{report:?}");
    assert_eq!(remote.subjects(), ["a commit", "other commit", "seed"]);
    // The dead waiter's clone finds the receipt and does not land again.
    let cleanup = weft_push::cleanup(&clone.path, "origin").unwrap();
    let actions = cleanup.recovered.unwrap().actions.join("\n");
    assert!(actions.contains("landed by the lock holder"), "{actions}");
    assert_eq!(clone.git(&["status", "--porcelain"]), "");
    let report = clone.push(clone.settings("")).unwrap();
    assert_eq!(report.outcome, PushOutcome::NothingToPush);
    assert_eq!(remote.subjects(), ["a commit", "other commit", "seed"]);
    assert!(remote.leftovers().is_empty(), "{:?}", remote.leftovers());
}
