//! Each rule firing, and not firing, on the smallest workflows that show it.

use weft_ci::{Finding, Rule, Workflow, check_repository};

/// Checks workflows (file name, text) as one repository.
fn check(files: &[(&str, &str)]) -> Vec<Finding> {
    let workflows: Vec<Workflow> = files
        .iter()
        .map(|(name, text)| Workflow::parse(&format!(".github/workflows/{name}"), text).unwrap())
        .collect();
    check_repository(&workflows, &[]).findings
}

fn rules(files: &[(&str, &str)]) -> Vec<&'static str> {
    check(files).iter().map(|f| f.rule.as_str()).collect()
}

/// One job on pushes to main, with `header` (permissions, concurrency) and steps.
fn workflow(header: &str, steps: &str) -> String {
    format!(
        "on:\n  push:\n    branches: [main]\n{header}jobs:\n  update:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n{steps}"
    )
}

const WRITE_QUEUED: &str =
    "permissions:\n  contents: write\nconcurrency:\n  group: update\n  queue: max\n";
const PLAIN: &str = "      - run: git push\n";
const WEFT: &str = "      - uses: owner/weft@v1\n";

#[test]
fn push_without_retry() {
    assert_eq!(
        rules(&[("a.yml", &workflow(WRITE_QUEUED, PLAIN))]),
        ["push-without-retry"]
    );
    let action = "      - uses: EndBug/add-and-commit@v9\n        with:\n          message: x\n";
    assert_eq!(
        rules(&[("a.yml", &workflow(WRITE_QUEUED, action))]),
        ["push-without-retry"]
    );
    assert!(rules(&[("a.yml", &workflow(WRITE_QUEUED, WEFT))]).is_empty());
    let no_push = "      - uses: EndBug/add-and-commit@v9\n        with:\n          push: false\n";
    assert!(rules(&[("a.yml", &workflow(WRITE_QUEUED, no_push))]).is_empty());
}

#[test]
fn push_without_concurrency() {
    let header = "permissions:\n  contents: write\n";
    let found = rules(&[("a.yml", &workflow(header, PLAIN))]);
    assert!(found.contains(&"push-without-concurrency"), "{found:?}");
    let locked = format!("      - uses: softprops/turnstyle@v2\n{PLAIN}");
    let found = rules(&[("a.yml", &workflow(header, &locked))]);
    assert!(!found.contains(&"push-without-concurrency"), "{found:?}");
    assert!(found.contains(&"lock-action"), "{found:?}");
    let job_level = workflow(header, PLAIN).replace(
        "    runs-on: ubuntu-latest\n",
        "    runs-on: ubuntu-latest\n    concurrency:\n      group: update\n      queue: max\n",
    );
    assert!(!rules(&[("a.yml", &job_level)]).contains(&"push-without-concurrency"));
}

#[test]
fn cancel_in_progress_push() {
    let header = "permissions:\n  contents: write\nconcurrency:\n  group: update\n  cancel-in-progress: true\n";
    let findings = check(&[("a.yml", &workflow(header, WEFT))]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, Rule::CancelInProgressPush);
    assert_eq!(findings[0].line, 8, "points at `cancel-in-progress`");
    let conditional = header.replace("true", "${{ github.ref != 'refs/heads/main' }}");
    assert_eq!(
        rules(&[("a.yml", &workflow(&conditional, WEFT))]),
        ["concurrency-drops-pending"]
    );
}

#[test]
fn concurrency_drops_pending() {
    let header = "permissions:\n  contents: write\nconcurrency:\n  group: update\n  cancel-in-progress: false\n";
    assert_eq!(
        rules(&[("a.yml", &workflow(header, WEFT))]),
        ["concurrency-drops-pending"]
    );
    assert!(rules(&[("a.yml", &workflow(WRITE_QUEUED, WEFT))]).is_empty());
}

#[test]
fn missing_contents_write_and_permissions_not_declared() {
    let read = "permissions:\n  contents: read\nconcurrency:\n  group: u\n  queue: max\n";
    assert_eq!(
        rules(&[("a.yml", &workflow(read, WEFT))]),
        ["missing-contents-write"]
    );
    let none = "permissions: {}\nconcurrency:\n  group: u\n  queue: max\n";
    assert_eq!(
        rules(&[("a.yml", &workflow(none, WEFT))]),
        ["missing-contents-write"]
    );
    let undeclared = "concurrency:\n  group: u\n  queue: max\n";
    assert_eq!(
        rules(&[("a.yml", &workflow(undeclared, WEFT))]),
        ["permissions-not-declared"]
    );
    // An SSH deploy key or a PAT needs no `contents: write`.
    let ssh = "      - uses: appleboy/git-push-action@v1\n        with:\n          remote: git@github.com:a/b.git\n          ssh_key: ${{ secrets.KEY }}\n          branch: main\n          rebase: true\n";
    let found = rules(&[("a.yml", &workflow(read, ssh))]);
    assert!(!found.contains(&"missing-contents-write"), "{found:?}");
}

#[test]
fn uncoordinated_pushes() {
    let other = "on:\n  schedule:\n    - cron: '0 * * * *'\npermissions:\n  contents: write\nconcurrency:\n  group: other\n  queue: max\njobs:\n  scrape:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: git push origin HEAD:main\n";
    let findings = check(&[("a.yml", &workflow(WRITE_QUEUED, PLAIN)), ("b.yml", other)]);
    let race: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == Rule::UncoordinatedPushes)
        .collect();
    assert_eq!(race.len(), 1, "{findings:#?}");
    assert_eq!(race[0].file, ".github/workflows/a.yml");
    assert_eq!(race[0].related[0].file, ".github/workflows/b.yml");
    // Different branches do not race.
    let gh_pages = other.replace("HEAD:main", "HEAD:gh-pages");
    let found = rules(&[
        ("a.yml", &workflow(WRITE_QUEUED, PLAIN)),
        ("b.yml", &gh_pages),
    ]);
    assert!(!found.contains(&"uncoordinated-pushes"), "{found:?}");
    // A pull request workflow and a push to main do not race.
    let pull_request = "on: pull_request\npermissions:\n  contents: write\njobs:\n  fmt:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: ${{ github.head_ref }}\n      - run: git push\n";
    let found = rules(&[
        ("a.yml", &workflow(WRITE_QUEUED, PLAIN)),
        ("b.yml", pull_request),
    ]);
    assert!(!found.contains(&"uncoordinated-pushes"), "{found:?}");
}

#[test]
fn a_weft_lock_on_the_same_resource_coordinates_two_workflows() {
    let locked = "      - run: weft lock run branch:main -- git push origin HEAD:main\n";
    let second = workflow(WRITE_QUEUED, locked).replace("group: update", "group: other");
    let found = rules(&[
        ("a.yml", &workflow(WRITE_QUEUED, locked)),
        ("b.yml", &second),
    ]);
    assert!(!found.contains(&"uncoordinated-pushes"), "{found:?}");
    // The lock does not make the push survive a push from outside it.
    assert!(found.contains(&"push-without-retry"), "{found:?}");
    let unlocked = second.replace("weft lock run branch:main -- ", "");
    let found = rules(&[
        ("a.yml", &workflow(WRITE_QUEUED, locked)),
        ("b.yml", &unlocked),
    ]);
    assert!(found.contains(&"uncoordinated-pushes"), "{found:?}");
}

#[test]
fn retry_loop_aborts_and_retry_without_rebase() {
    let broken = "      - run: |\n          while true; do\n            git pull --rebase\n            git push && break\n          done\n";
    let findings = check(&[("a.yml", &workflow(WRITE_QUEUED, broken))]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule, Rule::RetryLoopAborts);
    assert_eq!(findings[0].related[0].line, 16);
    let guarded = "      - run: |\n          while true; do\n            git pull --rebase || { git rebase --abort; continue; }\n            git push && break\n          done\n";
    assert!(rules(&[("a.yml", &workflow(WRITE_QUEUED, guarded))]).is_empty());
    let blind = "      - run: |\n          for i in 1 2 3; do git push && break; sleep 2; done\n";
    assert_eq!(
        rules(&[("a.yml", &workflow(WRITE_QUEUED, blind))]),
        ["retry-without-rebase"]
    );
}

#[test]
fn force_push_shared_branch() {
    let force =
        "      - uses: ad-m/github-push-action@master\n        with:\n          force: true\n";
    assert_eq!(
        rules(&[("a.yml", &workflow(WRITE_QUEUED, force))]),
        ["force-push-shared-branch"]
    );
    let lease = "      - run: git push --force-with-lease origin HEAD:main\n";
    assert_eq!(
        rules(&[("a.yml", &workflow(WRITE_QUEUED, lease))]),
        ["push-without-retry"]
    );
    let deploy = "      - uses: JamesIves/github-pages-deploy-action@v4\n        with:\n          folder: site\n";
    assert!(rules(&[("a.yml", &workflow(WRITE_QUEUED, deploy))]).is_empty());
}

#[test]
fn rebase_ours_theirs() {
    let steps = "      - run: |\n          git pull --rebase --strategy-option=ours\n          git merge -X ours other\n";
    let findings = check(&[("a.yml", &workflow(WRITE_QUEUED, steps))]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, Rule::RebaseOursTheirs);
    assert!(findings[0].message.contains("swapped"));
}

#[test]
fn reusable_workflows() {
    let remote = "on: push\njobs:\n  call:\n    uses: acme/ci/.github/workflows/x.yml@v1\n";
    assert_eq!(rules(&[("a.yml", remote)]), ["reusable-workflow"]);
    let missing = "on: push\njobs:\n  call:\n    uses: ./.github/workflows/gone.yml\n";
    assert_eq!(rules(&[("a.yml", missing)]), ["reusable-workflow"]);
    // A local callee is checked in its caller's run: the caller's missing
    // permissions are the callee's problem.
    let caller = "on:\n  push:\n    branches: [main]\npermissions:\n  contents: read\nconcurrency:\n  group: x\n  queue: max\njobs:\n  call:\n    uses: ./.github/workflows/push.yml\n";
    let callee = "on: workflow_call\njobs:\n  land:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: owner/weft@v1\n";
    let findings = check(&[("caller.yml", caller), ("push.yml", callee)]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule, Rule::MissingContentsWrite);
    assert_eq!(findings[0].file, ".github/workflows/push.yml");
    assert_eq!(findings[0].related[0].file, ".github/workflows/caller.yml");
}

#[test]
fn ignored_rules_are_left_out() {
    let workflows = [Workflow::parse("a.yml", &workflow("", PLAIN)).unwrap()];
    let all = check_repository(&workflows, &[]).findings.len();
    let fewer = check_repository(&workflows, &[Rule::PushWithoutRetry]).findings;
    assert_eq!(fewer.len(), all - 1);
    assert!(fewer.iter().all(|f| f.rule != Rule::PushWithoutRetry));
}
