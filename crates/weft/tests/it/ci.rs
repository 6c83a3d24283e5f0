//! `weft ci check` end to end: each rule firing and not firing on workflows
//! written into temporary repositories, exit codes, the JSON shape, broken
//! files, and every workflow of the shared corpus.

use weft_testkit::Workspace;

use crate::support::{Run, repository_root, weft_in};

const CHECKOUT: &str = "      - uses: actions/checkout@v4\n";

/// A repository with one workflow at `.github/workflows/{name}`.
fn repository(name: &str, workflow: &str) -> Workspace {
    Workspace::new().file(&format!(".github/workflows/{name}"), workflow)
}

fn check(workspace: &Workspace) -> Run {
    weft_in(workspace.root(), &["ci", "check", "--format", "json"])
}

/// The rule ids of a run's findings, in order.
fn rules(run: &Run) -> Vec<String> {
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

fn has(run: &Run, rule: &str) -> bool {
    rules(run).iter().any(|r| r == rule)
}

/// A workflow on pushes to main with one job whose steps are given.
fn on_main(permissions: &str, concurrency: &str, steps: &str) -> String {
    format!(
        "name: Data\non:\n  push:\n    branches: [main]\n{permissions}{concurrency}jobs:\n  update:\n    runs-on: ubuntu-latest\n    steps:\n{CHECKOUT}{steps}"
    )
}

const WRITE: &str = "permissions:\n  contents: write\n";
const QUEUED: &str = "concurrency:\n  group: data\n  cancel-in-progress: false\n  queue: max\n";
const PLAIN_PUSH: &str = "      - run: |\n          git commit -am 'data'\n          git push\n";
const WEFT_PUSH: &str = "      - uses: owner/weft@v1\n        with:\n          branch: main\n";

#[test]
fn a_plain_push_without_concurrency_is_reported_with_file_line_and_the_weft_step() {
    let workspace = repository("data.yml", &on_main(WRITE, "", PLAIN_PUSH));
    let run = weft_in(workspace.root(), &["ci", "check"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(".github/workflows/data.yml:14:11: error[push-without-retry]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("warning[push-without-concurrency]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("  fix: "), "{}", run.stdout);
    assert!(
        run.stdout.contains("- uses: owner/weft@v1"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("message: data"), "{}", run.stdout);
}

#[test]
fn weft_push_with_write_permission_is_clean() {
    let workspace = repository("data.yml", &on_main(WRITE, "", WEFT_PUSH));
    let run = check(&workspace);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(rules(&run), Vec::<String>::new());
    let run = weft_in(workspace.root(), &["ci", "check"]);
    assert!(run.stdout.starts_with("ok: 0 errors"), "{}", run.stdout);
    let via_run = repository(
        "data.yml",
        &on_main(
            WRITE,
            "",
            "      - run: weft push --branch main --retries 5\n",
        ),
    );
    assert_eq!(check(&via_run).code, 0);
}

#[test]
fn workflows_that_do_not_push_are_clean() {
    let workspace = repository(
        "ci.yml",
        "on: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: |\n          cargo test\n          git fetch origin main\n          echo 'git push' > notes.txt\n      - uses: docker/build-push-action@v6\n        with:\n          push: true\n",
    );
    let run = check(&workspace);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["pushes"], serde_json::json!([]));
}

#[test]
fn tag_only_pushes_are_not_branch_pushes() {
    let workspace = repository(
        "release.yml",
        "on:\n  release:\n    types: [published]\njobs:\n  tag:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: |\n          git tag -fa v1 -m 'move v1'\n          git push origin v1 --force\n          git push --tags\n          git push origin refs/tags/v1.2.3\n",
    );
    let run = check(&workspace);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_guarded_rebase_retry_loop_is_retry_safe() {
    let steps = "      - run: |\n          for i in 1 2 3 4 5; do\n            git pull --rebase origin main || { git rebase --abort; continue; }\n            git push origin HEAD:main && break\n            sleep $((i * 2))\n          done\n";
    let run = check(&repository("data.yml", &on_main(WRITE, QUEUED, steps)));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["pushes"][0]["retry_safe"], true);
}

#[test]
fn a_retry_loop_that_bash_e_ends_is_reported() {
    let steps = "      - run: |\n          for i in 1 2 3; do\n            git pull --rebase origin main\n            git push origin HEAD:main && break\n          done\n";
    let run = check(&repository("data.yml", &on_main(WRITE, QUEUED, steps)));
    assert_eq!(run.code, 1);
    assert_eq!(rules(&run), ["retry-loop-aborts"]);
    let finding = &run.json()["findings"][0];
    assert_eq!(finding["related"][0]["line"], 18, "{finding}");
    // `set +e` (or a non-`-e` shell) makes the same loop work.
    let steps = "      - shell: bash {0}\n        run: |\n          for i in 1 2 3; do\n            git pull --rebase origin main\n            git push origin HEAD:main && break\n          done\n";
    assert_eq!(
        check(&repository("data.yml", &on_main(WRITE, QUEUED, steps))).code,
        0
    );
}

#[test]
fn a_loop_that_never_rebases_is_reported() {
    let steps = "      - run: |\n          until git push origin HEAD:main; do sleep 5; done\n";
    let run = check(&repository("data.yml", &on_main(WRITE, QUEUED, steps)));
    assert_eq!(rules(&run), ["retry-without-rebase"]);
}

#[test]
fn cancel_in_progress_on_a_pushing_job_is_reported_at_the_key() {
    let concurrency = "concurrency:\n  group: data\n  cancel-in-progress: true\n";
    let run = check(&repository(
        "data.yml",
        &on_main(WRITE, concurrency, WEFT_PUSH),
    ));
    assert_eq!(run.code, 1);
    assert_eq!(rules(&run), ["cancel-in-progress-push"]);
    assert_eq!(run.json()["findings"][0]["line"], 9);
    // On a workflow that does not push, cancelling is fine.
    let quiet = "on: push\nconcurrency:\n  group: ci\n  cancel-in-progress: true\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo test\n";
    assert_eq!(check(&repository("ci.yml", quiet)).code, 0);
}

#[test]
fn a_group_without_queue_max_drops_pending_runs() {
    let concurrency = "concurrency: data\n";
    let run = check(&repository(
        "data.yml",
        &on_main(WRITE, concurrency, WEFT_PUSH),
    ));
    assert_eq!(rules(&run), ["concurrency-drops-pending"]);
    let message = run.json()["findings"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("pending"), "{message}");
    let fix = run.json()["findings"][0]["fix"]["snippet"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fix.contains("queue: max"), "{fix}");
}

#[test]
fn permissions_read_only_undeclared_and_tokens_of_their_own() {
    let read = "permissions:\n  contents: read\n";
    let run = check(&repository("data.yml", &on_main(read, QUEUED, WEFT_PUSH)));
    assert_eq!(rules(&run), ["missing-contents-write"]);
    assert_eq!(run.json()["findings"][0]["related"][0]["line"], 5);
    let run = check(&repository("data.yml", &on_main("", QUEUED, WEFT_PUSH)));
    assert_eq!(rules(&run), ["permissions-not-declared"]);
    // A job-level grant overrides the workflow's.
    let job_level = on_main(read, QUEUED, WEFT_PUSH).replace(
        "    runs-on: ubuntu-latest\n",
        "    runs-on: ubuntu-latest\n    permissions: write-all\n",
    );
    assert_eq!(check(&repository("data.yml", &job_level)).code, 0);
    // A token of its own needs no `contents: write`.
    let pat = on_main(read, QUEUED, WEFT_PUSH).replace(
        CHECKOUT,
        "      - uses: actions/checkout@v4\n        with:\n          token: ${{ secrets.BOT_TOKEN }}\n",
    );
    assert_eq!(check(&repository("data.yml", &pat)).code, 0);
}

#[test]
fn two_workflows_pushing_to_the_same_branch_are_a_race_naming_both() {
    let first = on_main(WRITE, "", PLAIN_PUSH);
    let second = "on:\n  schedule:\n    - cron: '0 * * * *'\npermissions:\n  contents: write\njobs:\n  scrape:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: stefanzweifel/git-auto-commit-action@v5\n        with:\n          branch: main\n";
    let workspace = Workspace::new()
        .file(".github/workflows/data.yml", &first)
        .file(".github/workflows/scrape.yml", second);
    let run = check(&workspace);
    let json = run.json();
    let race = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "uncoordinated-pushes")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(race["file"], ".github/workflows/data.yml");
    assert_eq!(race["related"][0]["file"], ".github/workflows/scrape.yml");
    assert_eq!(race["related"][0]["line"], 11);
    // One group shared by both: no race.
    let shared = "concurrency:\n  group: push-main\n  queue: max\n";
    let workspace = Workspace::new()
        .file(
            ".github/workflows/data.yml",
            &on_main(WRITE, shared, WEFT_PUSH),
        )
        .file(
            ".github/workflows/scrape.yml",
            &second.replace("jobs:\n", &format!("{shared}jobs:\n")),
        );
    assert!(!has(&check(&workspace), "uncoordinated-pushes"));
    // Both landing with weft push: no race.
    let workspace = Workspace::new()
        .file(
            ".github/workflows/data.yml",
            &on_main(WRITE, QUEUED, WEFT_PUSH),
        )
        .file(
            ".github/workflows/other.yml",
            &on_main(
                WRITE,
                "concurrency:\n  group: other\n  queue: max\n",
                WEFT_PUSH,
            ),
        );
    assert!(!has(&check(&workspace), "uncoordinated-pushes"));
}

#[test]
fn parallel_jobs_race_but_jobs_ordered_by_needs_do_not() {
    let job = |name: &str, needs: &str| {
        format!("  {name}:\n    runs-on: ubuntu-latest\n{needs}    steps:\n{CHECKOUT}{PLAIN_PUSH}")
    };
    let parallel = format!(
        "on:\n  push:\n    branches: [main]\n{WRITE}{QUEUED}jobs:\n{}{}",
        job("a", ""),
        job("b", "")
    );
    assert!(has(
        &check(&repository("two.yml", &parallel)),
        "uncoordinated-pushes"
    ));
    let ordered = format!(
        "on:\n  push:\n    branches: [main]\n{WRITE}{QUEUED}jobs:\n{}{}",
        job("a", ""),
        job("b", "    needs: a\n")
    );
    assert!(!has(
        &check(&repository("two.yml", &ordered)),
        "uncoordinated-pushes"
    ));
}

#[test]
fn matrix_copies_pushing_one_branch_race() {
    let workflow = on_main(WRITE, QUEUED, PLAIN_PUSH).replace(
        "    runs-on: ubuntu-latest\n",
        "    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        part: [a, b, c]\n",
    );
    let run = check(&repository("data.yml", &workflow));
    assert!(has(&run, "uncoordinated-pushes"), "{:?}", rules(&run));
    let one_at_a_time =
        workflow.replace("      matrix:\n", "      max-parallel: 1\n      matrix:\n");
    assert!(!has(
        &check(&repository("data.yml", &one_at_a_time)),
        "uncoordinated-pushes"
    ));
}

#[test]
fn force_pushes_and_ours_theirs_during_a_rebase() {
    let steps = "      - run: |\n          git pull --rebase -X theirs origin main\n          git push --force origin HEAD:main\n";
    let run = check(&repository("data.yml", &on_main(WRITE, QUEUED, steps)));
    assert_eq!(
        rules(&run),
        ["rebase-ours-theirs", "force-push-shared-branch"]
    );
    // Forcing a branch of the run's own is fine.
    let own = "      - run: |\n          git checkout -b \"bump-${{ github.run_id }}\"\n          git push --force -u origin HEAD\n";
    assert_eq!(
        check(&repository("data.yml", &on_main(WRITE, QUEUED, own))).code,
        0
    );
}

#[test]
fn pull_request_branches_want_a_cancelling_group() {
    let workflow = "on: pull_request\npermissions:\n  contents: write\njobs:\n  format:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.head_ref }}\n      - run: npx prettier --write .\n      - uses: stefanzweifel/git-auto-commit-action@v5\n";
    let run = check(&repository("format.yml", workflow));
    assert_eq!(rules(&run), ["push-without-concurrency"]);
    let snippet = run.json()["findings"][0]["fix"]["snippet"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(snippet.contains("cancel-in-progress: true"), "{snippet}");
    let grouped = workflow.replace(
        "jobs:\n",
        "concurrency:\n  group: ${{ github.workflow }}-${{ github.head_ref }}\n  cancel-in-progress: true\njobs:\n",
    );
    assert_eq!(check(&repository("format.yml", &grouped)).code, 0);
}

#[test]
fn reusable_workflows_are_noted_and_local_ones_checked_in_their_callers_context() {
    let caller = "on:\n  push:\n    branches: [main]\nconcurrency:\n  group: fmt\n  queue: max\njobs:\n  remote:\n    uses: acme/automation/.github/workflows/format.yml@v1\n  local:\n    uses: ./.github/workflows/format.yml\n    permissions:\n      contents: write\n";
    let callee = "on:\n  workflow_call:\njobs:\n  format:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: owner/weft@v1\n";
    let workspace = Workspace::new()
        .file(".github/workflows/caller.yml", caller)
        .file(".github/workflows/format.yml", callee);
    let run = check(&workspace);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(rules(&run), ["reusable-workflow"]);
    assert_eq!(run.json()["findings"][0]["severity"], "note");
    let text = weft_in(workspace.root(), &["ci", "check"]);
    assert!(!text.stdout.contains("note["), "{}", text.stdout);
    assert!(text.stdout.contains("1 note not shown"), "{}", text.stdout);
    let verbose = weft_in(workspace.root(), &["ci", "check", "--verbose"]);
    assert!(
        verbose.stdout.contains("note[reusable-workflow]"),
        "{}",
        verbose.stdout
    );
    // Alone, the called workflow's context is unknown: a note, not a permissions warning.
    let alone = check(&repository("format.yml", callee));
    assert_eq!(rules(&alone), ["reusable-workflow"]);
}

#[test]
fn ignore_comments_and_the_ignore_option() {
    let steps = "      - run: |\n          git commit -am data\n          git push # weft: ignore[push-without-retry]\n";
    let workflow = on_main(WRITE, QUEUED, steps);
    assert_eq!(check(&repository("data.yml", &workflow)).code, 0);
    let run = weft_in(
        repository("data.yml", &on_main(WRITE, "", PLAIN_PUSH)).root(),
        &[
            "ci",
            "check",
            "--ignore",
            "push-without-retry",
            "--ignore",
            "push-without-concurrency",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let workspace = repository("data.yml", &workflow);
    let run = weft_in(
        workspace.root(),
        &["ci", "check", "--ignore", "no-such-rule"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--list-rules"), "{}", run.stderr);
}

#[test]
fn the_json_shape_is_stable() {
    let run = check(&repository("data.yml", &on_main("", "", PLAIN_PUSH)));
    let json = run.json();
    assert_eq!(json["files_checked"], 1);
    let summary = &json["summary"];
    for key in ["errors", "warnings", "notes", "input_errors", "by_rule"] {
        assert!(!summary[key].is_null(), "{key} missing: {summary}");
    }
    assert_eq!(summary["by_rule"]["push-without-retry"], 1);
    let finding = &json["findings"][0];
    for key in [
        "rule", "severity", "file", "line", "column", "message", "fix",
    ] {
        assert!(!finding[key].is_null(), "{key} missing: {finding}");
    }
    assert!(finding["fix"]["summary"].is_string());
    let push = &json["pushes"][0];
    for key in [
        "file",
        "line",
        "column",
        "job",
        "mechanism",
        "branch",
        "force",
        "retry_safe",
    ] {
        assert!(!push[key].is_null(), "{key} missing: {push}");
    }
}

#[test]
fn malformed_yaml_exits_2_with_its_location_and_the_rest_is_still_checked() {
    let workspace = Workspace::new()
        .file(".github/workflows/broken.yml", "on: push\njobs:\n  a: [\n")
        .file(
            ".github/workflows/data.yml",
            &on_main(WRITE, "", PLAIN_PUSH),
        )
        .file(".github/workflows/list.yaml", "- not\n- a workflow\n");
    let run = check(&workspace);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let json = run.json();
    assert_eq!(json["summary"]["input_errors"], 2);
    assert_eq!(json["files_checked"], 3);
    let broken = &json["findings"][0];
    assert_eq!(broken["rule"], "yaml-syntax");
    assert_eq!(broken["file"], ".github/workflows/broken.yml");
    assert!(broken["line"].as_u64().unwrap() >= 3, "{broken}");
    assert!(has(&run, "push-without-retry"));
    assert!(has(&run, "invalid-workflow"));
}

#[test]
fn paths_files_repositories_and_missing_directories() {
    let workspace = repository("data.yml", &on_main(WRITE, "", PLAIN_PUSH));
    let root = workspace.root().to_str().unwrap().to_string();
    let file = format!("{root}/.github/workflows/data.yml");
    let run = weft_in(workspace.root(), &["ci", "check", &file]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(&format!("{file}:14:11")),
        "{}",
        run.stdout
    );
    let run = weft_in(workspace.root(), &["ci", "check", &root]);
    assert_eq!(run.code, 1);
    let run = weft_in(workspace.root(), &["ci", "check", "./nope"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    let empty = Workspace::new().file("README.md", "hi\n");
    let run = weft_in(empty.root(), &["ci", "check"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no GitHub Actions workflows"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_workspace_checks_every_repository_and_races_stay_within_one() {
    let workflow = on_main(WRITE, "", PLAIN_PUSH);
    let workspace = Workspace::new()
        .file("api/.github/workflows/data.yml", &workflow)
        .file("web/.github/workflows/data.yml", &workflow);
    let run = weft_in(
        workspace.root(),
        &["-w", ".", "ci", "check", "--format", "json"],
    );
    let json = run.json();
    assert_eq!(json["files_checked"], 2);
    assert!(!has(&run, "uncoordinated-pushes"), "{json:#}");
    assert_eq!(json["summary"]["by_rule"]["push-without-retry"], 2);
}

#[test]
fn list_rules_names_every_rule() {
    let run = weft_in(&repository_root(), &["ci", "check", "--list-rules"]);
    assert_eq!(run.code, 0);
    for id in [
        "push-without-retry",
        "uncoordinated-pushes",
        "retry-loop-aborts",
        "yaml-syntax",
    ] {
        assert!(run.stdout.contains(id), "{}", run.stdout);
    }
}

/// Every workflow of the shared corpus: no panic, valid JSON, a documented
/// exit code, and no finding on a workflow that does not push.
#[test]
fn every_corpus_workflow_is_checked_without_panics() {
    let corpus = repository_root().join("../shared/corpus");
    if !corpus.is_dir() {
        println!("SKIP: no corpus at {}", corpus.display());
        return;
    }
    let run = weft_in(&corpus, &["ci", "check", ".", "--format", "json"]);
    assert!([0, 1, 2].contains(&run.code), "{}", run.stderr);
    let json = run.json();
    assert!(json["files_checked"].as_u64().unwrap() > 50, "{json:#}");
    let pushing: std::collections::BTreeSet<&str> = json["pushes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    for finding in json["findings"].as_array().unwrap() {
        let file = finding["file"].as_str().unwrap();
        let input =
            ["yaml-syntax", "invalid-workflow"].contains(&finding["rule"].as_str().unwrap());
        let note = finding["severity"] == "note";
        assert!(
            input || note || pushing.contains(file),
            "finding on a workflow that does not push: {finding:#}"
        );
    }
}
