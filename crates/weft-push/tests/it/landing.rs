//! Plain landings: staged changes, `--add`, existing commits, nothing to
//! push, a new branch, uncommitted changes kept, and a remote that moved.

use weft_push::{PushOutcome, PushRequest};

use crate::support::Remote;

#[test]
fn staged_changes_are_committed_and_land() {
    let remote = Remote::new();
    let clone = remote.clone("a");
    clone.write("notes.txt", "hello\n");
    clone.git(&["add", "notes.txt"]);
    let request = PushRequest {
        message: Some("Add notes".to_string()),
        ..PushRequest::default()
    };
    let report = clone.push(clone.settings_with("", request)).unwrap();
    assert_eq!(report.outcome, PushOutcome::Landed);
    assert_eq!(report.landed.len(), 1);
    assert_eq!(report.landed[0].subject, "Add notes");
    assert_eq!(report.attempts, 1);
    assert_eq!(report.lock.mode, "git");
    assert_eq!(report.lock.token, Some(1));
    assert!(report.lock.released);
    assert_eq!(remote.subjects(), ["Add notes", "seed"]);
    assert_eq!(remote.show("notes.txt"), "hello\n");
    assert_eq!(report.head.as_deref(), Some(remote.head().as_str()));
    // The lock is gone, and so are the backup refs and the state file.
    assert!(
        remote.refs("refs/weft/").is_empty(),
        "{:?}",
        remote.refs("refs/weft/")
    );
    assert_eq!(clone.git(&["for-each-ref", "refs/weft/"]), "");
    assert!(!clone.git_dir().join(weft_push::STATE_FILE).exists());
    // The user's remote-tracking ref follows, as after a plain push.
    assert_eq!(
        clone.git(&["rev-parse", "origin/main"]).trim(),
        remote.head()
    );
}

#[test]
fn add_paths_are_staged_with_a_default_message() {
    let remote = Remote::new();
    let clone = remote.clone("a");
    clone.write("data/one.csv", "1\n");
    clone.write("data/two.csv", "2\n");
    clone.write("unrelated.txt", "stays untracked\n");
    let request = PushRequest {
        add: vec!["data".to_string()],
        ..PushRequest::default()
    };
    let report = clone.push(clone.settings_with("", request)).unwrap();
    assert_eq!(
        report.landed[0].subject,
        "Update data/one.csv and data/two.csv"
    );
    assert_eq!(remote.show("data/two.csv"), "2\n");
    assert!(
        clone
            .git(&["status", "--porcelain"])
            .contains("?? unrelated.txt"),
        "the untracked file is left alone"
    );
}

#[test]
fn existing_commits_land_on_top_of_others() {
    let remote = Remote::new();
    let mine = remote.clone("mine");
    let other = remote.clone("other");
    mine.write("mine.txt", "m\n");
    mine.commit_all("mine 1");
    mine.write("mine.txt", "m2\n");
    mine.commit_all("mine 2");
    other.write("other.txt", "o\n");
    other.plain_push("other");
    let report = mine.push(mine.settings("")).unwrap();
    assert_eq!(report.landed.len(), 2);
    assert_eq!(remote.subjects(), ["mine 2", "mine 1", "other", "seed"]);
    assert_eq!(mine.head(), remote.head());
    assert_eq!(mine.read("other.txt"), "o\n");
}

#[test]
fn nothing_to_push_takes_no_lock() {
    let remote = Remote::new();
    let clone = remote.clone("a");
    let report = clone.push(clone.settings("")).unwrap();
    assert_eq!(report.outcome, PushOutcome::NothingToPush);
    assert_eq!(report.lock.token, None);
    assert!(report.landed.is_empty());
}

#[test]
fn a_new_branch_is_created() {
    let remote = Remote::new();
    let clone = remote.clone("a");
    clone.git(&["checkout", "-q", "-b", "feature/x"]);
    clone.write("x.txt", "x\n");
    clone.commit_all("x");
    let report = clone.push(clone.settings("")).unwrap();
    assert_eq!(report.outcome, PushOutcome::Landed);
    assert_eq!(report.branch, "feature/x");
    assert_eq!(report.upstream, None);
    assert_eq!(report.landed.len(), 1, "only the commit not on the remote");
    assert_eq!(remote.git(&["rev-parse", "feature/x"]).trim(), clone.head());
}

#[test]
fn uncommitted_changes_are_set_aside_and_put_back() {
    let remote = Remote::with_files(&[("wip.txt", "1\n2\n3\n"), ("shared.txt", "a\n")]);
    let clone = remote.clone("a");
    let other = remote.clone("other");
    other.write("shared.txt", "a\nfrom other\n");
    other.plain_push("other");
    clone.write("new.txt", "committed\n");
    clone.git(&["add", "new.txt"]);
    clone.write("wip.txt", "1\n2\n3\nwork in progress\n");
    clone.write("scratch.txt", "untracked\n");
    let report = clone.push(clone.settings("")).unwrap();
    assert_eq!(report.outcome, PushOutcome::Landed);
    assert_eq!(report.uncommitted.as_deref(), Some("kept"));
    assert_eq!(
        remote.show("wip.txt"),
        "1\n2\n3\n",
        "the unstaged change did not land"
    );
    assert_eq!(clone.read("wip.txt"), "1\n2\n3\nwork in progress\n");
    assert_eq!(clone.read("scratch.txt"), "untracked\n");
    assert_eq!(clone.read("shared.txt"), "a\nfrom other\n");
    let status = clone.git(&["status", "--porcelain"]);
    assert!(status.contains(" M wip.txt"), "{status}");
    assert!(status.contains("?? scratch.txt"), "{status}");
}

#[test]
fn a_branch_moved_by_someone_outside_the_lock_is_retried() {
    let remote = Remote::new();
    let clone = remote.clone("a");
    let intruder = remote.clone("intruder");
    // A pre-push hook that lands someone else's commit once, between our
    // fetch and our push.
    let intruder_path = intruder.path.to_string_lossy().into_owned();
    let marker = clone.path.join(".git/intruded");
    let hook = format!(
        "#!/bin/sh\nunset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX\nif [ ! -e '{marker}' ]; then touch '{marker}'; cd '{intruder_path}' && echo i > i.txt && git add i.txt && git commit -q -m intruder && git push -q origin HEAD:main; fi\nexit 0\n",
        marker = marker.display()
    );
    let hook_path = clone.path.join(".git/hooks/pre-push");
    std::fs::write(&hook_path, hook).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook_path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    clone.write("a.txt", "a\n");
    clone.commit_all("mine");
    let report = clone.push(clone.settings("")).unwrap();
    assert_eq!(report.attempts, 2, "{report:?}");
    assert_eq!(remote.subjects(), ["mine", "intruder", "seed"]);
}
