//! Each path policy on a real conflict, seen from the pusher's side.

use weft_push::{ErrorClass, PolicySource, PushError, PushOutcome, Step};

use crate::support::{Clone, Remote};

/// The same conflicts resolved through `git rebase` instead of the replay
/// in the object database.
fn through_git_rebase(mut settings: weft_push::PushSettings) -> weft_push::PushSettings {
    settings.replay = false;
    settings
}

/// A remote with `files`, and two clones: `theirs` has pushed `their`
/// changes, `mine` has committed `my` changes on the old base.
fn conflict(
    files: &[(&str, &str)],
    their: &[(&str, Option<&str>)],
    my: &[(&str, Option<&str>)],
) -> (Remote, Clone) {
    let remote = Remote::with_files(files);
    let mine = remote.clone("mine");
    let theirs = remote.clone("theirs");
    apply(&theirs, their);
    theirs.plain_push("their change");
    apply(&mine, my);
    mine.commit_all("my change");
    (remote, mine)
}

fn apply(clone: &Clone, changes: &[(&str, Option<&str>)]) {
    for (path, text) in changes {
        match text {
            Some(text) => clone.write(path, text),
            None => std::fs::remove_file(clone.path.join(path)).unwrap(),
        }
    }
}

#[test]
fn mine_keeps_the_pushed_version() {
    let (remote, mine) = conflict(
        &[("conf.txt", "base\n")],
        &[("conf.txt", Some("theirs\n"))],
        &[("conf.txt", Some("mine\n"))],
    );
    let report = mine
        .push(mine.settings("push: {policies: {conf.txt: mine}}"))
        .unwrap();
    assert_eq!(remote.show("conf.txt"), "mine\n");
    assert_eq!(remote.subjects(), ["my change", "their change", "seed"]);
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].policy, "mine");
    assert_eq!(
        report.conflicts[0].source,
        PolicySource::Rule("conf.txt".to_string())
    );
    assert!(report.conflicts[0].commit.ends_with("my change"));
    // The replayed commit keeps its author and message.
    assert_eq!(
        remote.git(&["log", "-1", "--format=%an <%ae>|%cn|%B", "main"]),
        "mine <mine@example.invalid>|mine|my change\n\n"
    );
}

#[test]
fn theirs_keeps_the_remote_version() {
    let (remote, mine) = conflict(
        &[("conf.txt", "base\n")],
        &[("conf.txt", Some("theirs\n"))],
        &[("conf.txt", Some("mine\n")), ("other.txt", Some("o\n"))],
    );
    let report = mine
        .push(mine.settings("push: {policies: {conf.txt: theirs}}"))
        .unwrap();
    assert_eq!(report.outcome, PushOutcome::Landed);
    assert_eq!(remote.show("conf.txt"), "theirs\n");
    assert_eq!(remote.show("other.txt"), "o\n");
    assert_eq!(report.conflicts[0].policy, "theirs");
}

#[test]
fn a_commit_left_empty_by_theirs_is_dropped() {
    let (remote, mine) = conflict(
        &[("conf.txt", "base\n")],
        &[("conf.txt", Some("theirs\n"))],
        &[("conf.txt", Some("mine\n"))],
    );
    let report = mine
        .push(mine.settings("push: {policies: {conf.txt: theirs}}"))
        .unwrap();
    assert_eq!(report.outcome, PushOutcome::NothingToPush);
    assert_eq!(remote.subjects(), ["their change", "seed"]);
    assert_eq!(mine.head(), remote.head());
}

#[test]
fn union_keeps_both_additions_and_resurrects_nothing() {
    let (remote, mine) = conflict(
        &[("CHANGELOG.md", "# Changes\nx\ny\nz\n")],
        // Theirs replaces y with t.
        &[("CHANGELOG.md", Some("# Changes\nx\nt\nz\n"))],
        // Mine keeps y and adds m after it.
        &[("CHANGELOG.md", Some("# Changes\nx\ny\nm\nz\n"))],
    );
    let report = mine
        .push(mine.settings("push: {policies: {CHANGELOG.md: union}}"))
        .unwrap();
    assert_eq!(remote.show("CHANGELOG.md"), "# Changes\nx\nt\nm\nz\n");
    assert_eq!(report.conflicts[0].policy, "union");

    // git's own union merge would have brought y back.
    let base = "# Changes\nx\ny\nz\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine"), "# Changes\nx\ny\nm\nz\n").unwrap();
    std::fs::write(dir.path().join("base"), base).unwrap();
    std::fs::write(dir.path().join("theirs"), "# Changes\nx\nt\nz\n").unwrap();
    let output = std::process::Command::new("git")
        .args(["merge-file", "-p", "--union", "mine", "base", "theirs"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("y\n"));
}

#[test]
fn union_appends_from_many_commits_and_deletes_what_either_deleted() {
    let (remote, mine) = conflict(
        &[("data/rows.csv", "id,value\n1,a\n2,b\n3,c\n")],
        // Theirs deletes row 2 and appends row 4.
        &[("data/rows.csv", Some("id,value\n1,a\n3,c\n4,d\n"))],
        // Mine deletes row 1 and appends row 5.
        &[("data/rows.csv", Some("id,value\n2,b\n3,c\n5,e\n"))],
    );
    mine.append("data/rows.csv", "6,f\n");
    mine.commit_all("my second change");
    mine.push(mine.settings("push: {policies: {\"data/*.csv\": union}}"))
        .unwrap();
    assert_eq!(
        remote.show("data/rows.csv"),
        "id,value\n3,c\n4,d\n5,e\n6,f\n"
    );
    assert_eq!(
        remote.subjects(),
        ["my second change", "my change", "their change", "seed"]
    );
}

#[test]
fn regenerate_reruns_the_generator_and_commits_its_output() {
    let (remote, mine) = conflict(
        &[("src/a.txt", "a\n"), ("gen/all.txt", "a\n")],
        &[("src/b.txt", Some("b\n")), ("gen/all.txt", Some("a\nb\n"))],
        &[("src/c.txt", Some("c\n")), ("gen/all.txt", Some("a\nc\n"))],
    );
    let report = mine
        .push(mine.settings(
            "push: {policies: {\"gen/all.txt\": {regenerate: \"cat src/*.txt > gen/all.txt\"}}}",
        ))
        .unwrap();
    assert_eq!(remote.show("gen/all.txt"), "a\nb\nc\n");
    assert_eq!(report.conflicts[0].policy, "regenerate");
    assert_eq!(
        report.conflicts[0].command.as_deref(),
        Some("cat src/*.txt > gen/all.txt")
    );
    assert_eq!(mine.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_failing_generator_fails_the_push_and_restores() {
    let (remote, mine) = conflict(
        &[("gen.txt", "0\n")],
        &[("gen.txt", Some("1\n"))],
        &[("gen.txt", Some("2\n"))],
    );
    let before = mine.snapshot();
    let failure = mine
        .push(
            mine.settings("push: {policies: {gen.txt: {regenerate: \"echo broken >&2; exit 3\"}}}"),
        )
        .unwrap_err();
    assert_eq!(failure.step, Step::Rebase);
    let message = failure.error.to_string();
    assert!(
        message.contains("exit code 3") && message.contains("broken"),
        "{message}"
    );
    assert_eq!(mine.snapshot(), before);
    assert_eq!(remote.subjects(), ["their change", "seed"]);
}

#[test]
fn fail_leaves_everything_untouched_with_a_clear_error() {
    let (remote, mine) = conflict(
        &[("conf.txt", "base\n")],
        &[("conf.txt", Some("theirs\n"))],
        &[("conf.txt", Some("mine\n"))],
    );
    mine.write("untracked.txt", "u\n");
    let before = mine.snapshot();
    let remote_before = remote.head();
    let failure = mine
        .push(mine.settings("push: {policies: {conf.txt: fail}}"))
        .unwrap_err();
    assert_eq!(failure.step, Step::Rebase);
    assert!(matches!(
        &failure.error,
        PushError::ConflictPolicyFail { path, .. } if path == "conf.txt"
    ));
    assert_eq!(failure.error.class(), ErrorClass::Failed);
    assert_eq!(
        failure.to_string(),
        "failed to rebase onto origin/main",
        "the step is named"
    );
    let cause = failure.error.to_string();
    assert!(
        cause.contains("`conf.txt` conflicts")
            && cause.contains("`fail`")
            && cause.contains("my change"),
        "{cause}"
    );
    let summary = failure.report.failure.as_ref().unwrap();
    assert_eq!(summary.restored, "restored");
    assert_eq!(mine.snapshot(), before);
    assert!(!mine.git_dir().join("rebase-merge").exists());
    assert_eq!(remote.head(), remote_before);
    assert!(remote.refs("refs/weft/").is_empty(), "the lock is released");
}

#[test]
fn defaults_keep_mine_for_data_and_theirs_for_code() {
    let (remote, mine) = conflict(
        &[
            ("data/state.json", "{\"n\": 0}\n"),
            ("src/lib.rs", "fn a() {}\n"),
        ],
        &[
            ("data/state.json", Some("{\"n\": 1}\n")),
            ("src/lib.rs", Some("fn their() {}\n")),
        ],
        &[
            ("data/state.json", Some("{\"n\": 2}\n")),
            ("src/lib.rs", Some("fn mine() {}\n")),
        ],
    );
    let report = mine.push(mine.settings("")).unwrap();
    assert_eq!(remote.show("data/state.json"), "{\"n\": 2}\n");
    assert_eq!(remote.show("src/lib.rs"), "fn their() {}\n");
    let sources: Vec<_> = report
        .conflicts
        .iter()
        .map(|c| (c.path.as_str(), c.policy.as_str(), c.source.clone()))
        .collect();
    assert_eq!(
        sources,
        [
            ("data/state.json", "mine", PolicySource::DefaultData),
            ("src/lib.rs", "theirs", PolicySource::DefaultCode),
        ]
    );
}

#[test]
fn deleted_on_one_side_follows_the_policy() {
    // Theirs deleted the file, mine modified it.
    let (remote, mine) = conflict(
        &[("a.txt", "base\n"), ("b.txt", "base\n")],
        &[("a.txt", None), ("b.txt", None)],
        &[
            ("a.txt", Some("mine\n")),
            ("b.txt", Some("mine\n")),
            ("c.txt", Some("c\n")),
        ],
    );
    mine.push(mine.settings("push: {policies: {a.txt: mine, b.txt: theirs}}"))
        .unwrap();
    assert_eq!(remote.show("a.txt"), "mine\n");
    let missing = remote
        .git(&["ls-tree", "--name-only", "main"])
        .lines()
        .all(|name| name != "b.txt");
    assert!(missing, "b.txt stays deleted");
    assert!(!mine.path.join("b.txt").exists());
}

#[test]
fn the_git_rebase_path_resolves_the_same_way() {
    let (remote, mine) = conflict(
        &[
            ("conf.txt", "base\n"),
            ("code.rs", "base\n"),
            ("CHANGELOG.md", "# Changes\nx\ny\nz\n"),
            ("gone.txt", "base\n"),
        ],
        &[
            ("conf.txt", Some("theirs\n")),
            ("code.rs", Some("theirs\n")),
            ("CHANGELOG.md", Some("# Changes\nx\nt\nz\n")),
            ("gone.txt", None),
        ],
        &[
            ("conf.txt", Some("mine\n")),
            ("code.rs", Some("mine\n")),
            ("CHANGELOG.md", Some("# Changes\nx\ny\nm\nz\n")),
            ("gone.txt", Some("mine\n")),
        ],
    );
    let settings = through_git_rebase(mine.settings(
        "push: {policies: {conf.txt: mine, code.rs: theirs, CHANGELOG.md: union, gone.txt: theirs}}",
    ));
    let report = mine.push(settings).unwrap();
    assert_eq!(remote.show("conf.txt"), "mine\n");
    assert_eq!(remote.show("code.rs"), "theirs\n");
    assert_eq!(remote.show("CHANGELOG.md"), "# Changes\nx\nt\nm\nz\n");
    assert!(
        !remote
            .git(&["ls-tree", "--name-only", "main"])
            .contains("gone.txt")
    );
    assert_eq!(report.conflicts.len(), 4);
}

#[test]
fn the_git_rebase_path_fails_and_restores_too() {
    let (remote, mine) = conflict(
        &[("conf.txt", "base\n")],
        &[("conf.txt", Some("theirs\n"))],
        &[("conf.txt", Some("mine\n"))],
    );
    let before = mine.snapshot();
    let failure = mine
        .push(through_git_rebase(
            mine.settings("push: {policies: {conf.txt: fail}}"),
        ))
        .unwrap_err();
    assert!(matches!(
        failure.error,
        PushError::ConflictPolicyFail { .. }
    ));
    assert_eq!(mine.snapshot(), before);
    assert_eq!(remote.subjects(), ["their change", "seed"]);
}
