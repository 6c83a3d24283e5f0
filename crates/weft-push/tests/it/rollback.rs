//! After a final failure or an interruption the branch, the index and the
//! working tree are exactly as before `weft push`, and the lock is released.

use std::sync::{Arc, Mutex};

use weft_push::{ErrorClass, Interrupt, LockMode, Progress, PushError, PushRequest, Pusher, Step};

use crate::support::{Clone, Remote};

/// A clone with a bit of everything: a local commit, a staged change, a
/// staged new file, a staged deletion, unstaged changes, a file deleted
/// without staging, an executable bit, and untracked files.
fn messy_clone(remote: &Remote) -> Clone {
    let clone = remote.clone("messy");
    clone.write("local.txt", "a local commit\n");
    clone.commit_all("local commit");
    clone.write("conf.txt", "mine\n");
    clone.git(&["add", "conf.txt"]);
    clone.write("staged-new.txt", "new and staged\n");
    clone.git(&["add", "staged-new.txt"]);
    clone.git(&["rm", "-q", "gone.txt"]);
    clone.write("both.txt", "staged\n");
    clone.git(&["add", "both.txt"]);
    clone.write("both.txt", "staged, then changed again\n");
    clone.write("edit.txt", "unstaged edit\n");
    std::fs::remove_file(clone.path.join("deleted.txt")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let script = clone.path.join("run.sh");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    clone.write("untracked.txt", "untracked\n");
    clone.write("ignored/cache.bin", "ignored\n");
    clone
}

fn messy_remote() -> Remote {
    Remote::with_files(&[
        ("conf.txt", "base\n"),
        ("gone.txt", "to be removed\n"),
        ("both.txt", "base\n"),
        ("edit.txt", "base\n"),
        ("deleted.txt", "base\n"),
        ("run.sh", "#!/bin/sh\n"),
        (".gitignore", "ignored/\n"),
    ])
}

#[test]
fn a_final_failure_restores_refs_index_and_files_exactly() {
    let remote = messy_remote();
    let clone = messy_clone(&remote);
    let theirs = remote.clone("theirs");
    theirs.write("conf.txt", "theirs\n");
    theirs.plain_push("their change");
    let before = clone.snapshot();
    let stash_list = clone.git(&["stash", "list"]);
    let failure = clone
        .push(clone.settings("push: {policies: {conf.txt: fail}}"))
        .unwrap_err();
    assert_eq!(failure.step, Step::Rebase);
    assert_eq!(clone.snapshot(), before);
    assert_eq!(clone.git(&["stash", "list"]), stash_list);
    assert_eq!(
        clone.git(&["for-each-ref", "refs/weft/"]),
        "",
        "no backup refs left"
    );
    assert!(!clone.git_dir().join(weft_push::STATE_FILE).exists());
    assert!(remote.refs("refs/weft/").is_empty());
    assert_eq!(remote.subjects(), ["their change", "seed"]);
}

#[test]
fn retries_exhausted_restore_too() {
    let remote = messy_remote();
    let clone = messy_clone(&remote);
    let intruder = remote.clone("intruder");
    // Someone outside the lock lands a commit before every push of ours.
    let hook = format!(
        "#!/bin/sh\nunset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX\ncd '{}' && date +%s%N >> i.txt && git add i.txt && git commit -q -m intruder && git push -q origin HEAD:main\nexit 0\n",
        intruder.path.display()
    );
    let hook_path = clone.path.join(".git/hooks/pre-push");
    std::fs::write(&hook_path, hook).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook_path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let before = clone.snapshot();
    let request = PushRequest {
        retries: Some(2),
        ..PushRequest::default()
    };
    let failure = clone.push(clone.settings_with("", request)).unwrap_err();
    assert!(
        matches!(&failure.error, PushError::RetriesExhausted { attempts: 3, last } if matches!(**last, PushError::BranchMoved { .. })),
        "{:?}",
        failure.error
    );
    assert_eq!(failure.step, Step::Land);
    assert_eq!(failure.report.attempts, 3);
    assert_eq!(clone.snapshot(), before);
    assert!(remote.refs("refs/weft/").is_empty(), "the lock is released");
    assert!(!remote.subjects().contains(&"local commit".to_string()));
}

#[test]
fn an_interrupt_mid_rebase_rolls_back_and_releases_the_lock() {
    let remote = messy_remote();
    let clone = messy_clone(&remote);
    let theirs = remote.clone("theirs");
    theirs.write("conf.txt", "theirs\n");
    theirs.plain_push("their change");
    let before = clone.snapshot();
    let interrupt = Interrupt::new();
    let raise = interrupt.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let failure = Pusher::open(&clone.path, clone.settings(""), LockMode::Git)
        .unwrap()
        .with_interrupt(interrupt)
        .on_progress(move |progress| {
            record.lock().unwrap().push(format!("{progress:?}"));
            if matches!(progress, Progress::Fetched { .. }) {
                raise.raise(15);
            }
        })
        .run()
        .unwrap_err();
    assert_eq!(failure.error.class(), ErrorClass::Interrupted(15));
    assert_eq!(failure.to_string(), "failed to fetch origin/main");
    assert_eq!(failure.error.to_string(), "interrupted by SIGTERM");
    assert_eq!(clone.snapshot(), before);
    assert!(remote.refs("refs/weft/").is_empty(), "the lock is released");
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|p| p.starts_with("Locked")), "{seen:?}");
    assert!(seen.iter().any(|p| p == "Restored"), "{seen:?}");
}

#[test]
fn a_repository_mid_rebase_is_refused_untouched() {
    let remote = Remote::with_files(&[("conf.txt", "base\n")]);
    let clone = remote.clone("a");
    let theirs = remote.clone("theirs");
    theirs.write("conf.txt", "theirs\n");
    theirs.plain_push("their change");
    clone.write("conf.txt", "mine\n");
    clone.commit_all("mine");
    clone.git(&["fetch", "-q"]);
    assert!(!clone.try_git(&["rebase", "origin/main"]).status.success());
    let before = clone.snapshot();
    let failure = clone.push(clone.settings("")).unwrap_err();
    assert!(matches!(
        failure.error,
        PushError::OperationInProgress {
            operation: "rebase"
        }
    ));
    assert_eq!(failure.error.class(), ErrorClass::BadInput);
    assert_eq!(
        clone.snapshot(),
        before,
        "the user's own rebase is left alone"
    );
    assert!(clone.git_dir().join("rebase-merge").exists());
}

#[test]
fn an_index_with_conflicts_is_refused_untouched() {
    let remote = Remote::with_files(&[("conf.txt", "base\n")]);
    let clone = remote.clone("a");
    clone.write("conf.txt", "stashed\n");
    clone.git(&["stash", "-q"]);
    clone.write("conf.txt", "committed\n");
    clone.commit_all("committed");
    // `git stash pop` conflicts without leaving a merge in progress.
    assert!(!clone.try_git(&["stash", "pop", "-q"]).status.success());
    let before = clone.snapshot();
    let failure = clone.push(clone.settings("")).unwrap_err();
    assert!(
        matches!(&failure.error, PushError::UnmergedIndex { paths } if paths == &["conf.txt"]),
        "{:?}",
        failure.error
    );
    assert_eq!(failure.error.class(), ErrorClass::BadInput);
    assert_eq!(clone.snapshot(), before);
}
