//! `weft monitor` against the fake GitHub: a fixture organisation whose
//! answers are known. Collection and what a second one costs, health
//! scores with their evidence, failures classified, stale dry run equal to
//! the real run, bot activity ignored, alerts deduplicated and closed on
//! recovery, dispatch limits, rate limits and a missing permission.

use std::time::Duration;

use serde_json::Value;
use weft_testkit::Workspace;
use weft_testkit::browser::Browser;
use weft_testkit::github::{
    Activity, Conclusion, FakeGitHub, IssueSpec, PastRun, Pull, Repository, Workflow,
};
use weft_testkit::http::RecordingServer;

use crate::support::{Run, repository_root, weft_with};

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);

const CONAN_LOG: &str = "\
2026-11-02T08:14:09.9100000Z ======== Computing necessary packages ========
2026-11-02T08:14:09.9100000Z ERROR: Missing prebuilt package for 'zlib/1.3.1'
2026-11-02T08:14:12.5000000Z ##[error]Process completed with exit code 1.
";

/// The organisation `acme`: an active service with one failed run, a quiet
/// site nobody answers, and an archived repository the glob leaves out.
pub(crate) fn organisation() -> FakeGitHub {
    let github = FakeGitHub::start();
    github.add_repository(
        Repository::new("acme/api")
            .pushed(HOUR)
            .past_run(PastRun::new("ci.yml").age(4 * DAY))
            .past_run(PastRun::new("ci.yml").age(3 * DAY))
            .past_run(
                PastRun::new("ci.yml")
                    .age(2 * DAY)
                    .conclusion(Conclusion::Failure)
                    .log(CONAN_LOG),
            )
            .past_run(PastRun::new("ci.yml").age(DAY))
            // Untouched by people for 40 days; a bot commented since.
            .pull(
                Pull::new(1, "alice")
                    .title("Rework the cache")
                    .age(40 * DAY)
                    .activity(Activity::comment("dependabot[bot]", 2 * DAY)),
            )
            .pull(
                Pull::new(2, "bob")
                    .title("Fix the login")
                    .age(3 * DAY)
                    .activity(Activity::comment("carol", 3 * DAY - HOUR)),
            )
            .pull(
                Pull::new(3, "carol")
                    .title("Old feature")
                    .age(20 * DAY)
                    .merged(15 * DAY),
            )
            .branch_at("spike-2025", 60 * DAY)
            .protected_branch("release-1", 90 * DAY)
            .release("v1.0.0", 5 * DAY),
    );
    github.add_repository(
        Repository::new("acme/site").pushed(40 * DAY).issue(
            IssueSpec::new(1, "dave")
                .title("The logo is blurry")
                .age(10 * DAY),
        ),
    );
    github.add_repository(Repository::new("acme/old").archived(true));
    github
}

fn workspace(github: &FakeGitHub, extra: &str) -> Workspace {
    Workspace::new().file(
        "weft.yaml",
        &format!(
            "github:\n  api_url: {}\n  token_env: FAKE_GITHUB_TOKEN\nmonitor:\n  repositories: [\"acme/*\"]\n{extra}",
            github.url()
        ),
    )
}

fn monitor(workspace: &Workspace, github: &FakeGitHub, arguments: &[&str]) -> Run {
    let mut all = vec!["monitor"];
    all.extend_from_slice(arguments);
    weft_with(
        workspace.root(),
        &all,
        &[("FAKE_GITHUB_TOKEN", github.token())],
    )
}

fn probe<'a>(repository: &'a Value, name: &str) -> &'a Value {
    repository["probes"]
        .as_array()
        .and_then(|probes| probes.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no probe {name} in {repository:#}"))
}

#[test]
fn a_second_collection_with_nothing_new_costs_only_304s() {
    let github = organisation();
    let workspace = workspace(&github, "");
    let first = monitor(&workspace, &github, &["collect", "--format", "json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first = first.json();
    assert_eq!(
        first["repositories"],
        serde_json::json!(["acme/api", "acme/site"]),
        "a glob's repositories in name order, the archived one left out"
    );
    assert_eq!(first["logs_analysed"], 1);
    assert_eq!(first["failed"], serde_json::json!([]));
    // The log is fetched from the short-lived URL without the token.
    let downloads: Vec<_> = github
        .request_log()
        .into_iter()
        .filter(|r| r.path.starts_with("/_logs/"))
        .collect();
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    assert!(
        !downloads[0].authorization,
        "the token never follows the redirect"
    );

    let before = github.requests();
    let second = monitor(&workspace, &github, &["collect", "--format", "json"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let second = second.json();
    let sent = github.requests() - before;
    assert_eq!(second["requests"], sent);
    assert_eq!(
        second["not_modified"], sent,
        "every request of the second collection is a 304"
    );
    assert_eq!(second["items"], 0, "nothing is processed again");
    assert_eq!(
        github
            .request_log()
            .iter()
            .skip(before)
            .filter(|r| r.path.contains("/logs"))
            .count(),
        0,
        "a stored log is not fetched again"
    );
}

#[test]
fn health_explains_every_deduction_and_bots_are_not_people() {
    let github = organisation();
    let workspace = workspace(&github, "");
    assert_eq!(monitor(&workspace, &github, &["collect"]).code, 0);
    let health = monitor(&workspace, &github, &["health", "--format", "json"]);
    assert_eq!(health.code, 0, "{}", health.stderr);
    let health = health.json();
    let repositories = health["repositories"].as_array().expect("a list");
    let api = repositories
        .iter()
        .find(|r| r["repository"] == "acme/api")
        .expect("api");
    let site = repositories
        .iter()
        .find(|r| r["repository"] == "acme/site")
        .expect("site");

    let ci = probe(api, "ci_success");
    assert_eq!(ci["score"], 75.0);
    assert_eq!(ci["detail"], "3 of 4 completed runs succeeded");
    let evidence = ci["evidence"].as_array().expect("evidence");
    assert_eq!(evidence.len(), 1, "{evidence:#?}");
    assert!(
        evidence[0]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/actions/runs/"))
    );
    // The bot's comment two days ago does not make #1 fresh.
    let stale = probe(api, "stale");
    assert_eq!(stale["detail"], "1 of 2 open pull requests are stale");
    assert!(
        stale["evidence"][0]["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("#1 "))
    );

    // No CI and no releases: not applicable, their weight redistributed.
    for name in ["ci_success", "releases", "alerts", "pr_closure", "stale"] {
        assert_eq!(probe(site, name)["applicable"], false, "{name}");
    }
    // Response time 0 (weight 20) and activity 10 days ago (weight 10):
    // (0·20 + 87·10) / 30.
    assert_eq!(probe(site, "response_time")["score"], 0.0);
    assert_eq!(site["score"], 29);
    assert_eq!(site["band"], "critical");

    let text = monitor(&workspace, &github, &["health", "acme/site"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains("acme/site 29 critical"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("#1 The logo is blurry: no response yet"),
        "{}",
        text.stdout
    );
    let unknown = monitor(&workspace, &github, &["health", "acme/nope"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}

#[test]
fn failures_are_classified_and_reports_are_written() {
    let github = organisation();
    let workspace = workspace(&github, "");
    assert_eq!(monitor(&workspace, &github, &["collect"]).code, 0);
    let failures = monitor(&workspace, &github, &["failures", "--format", "json"]);
    assert_eq!(failures.code, 0, "{}", failures.stderr);
    let failures = failures.json();
    let list = failures["failures"].as_array().expect("a list");
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["repository"], "acme/api");
    assert_eq!(list[0]["findings"][0]["pattern"], "conan-missing-binary");
    assert_eq!(list[0]["findings"][0]["severity"], "high");
    assert_eq!(list[0]["findings"][0]["category"], "dependency");
    let failing = monitor(&workspace, &github, &["failures", "--fail-on", "high"]);
    assert_eq!(failing.code, 1, "{}", failing.stdout);
    let recent = monitor(
        &workspace,
        &github,
        &["failures", "--since", "24h", "--format", "json"],
    );
    assert_eq!(recent.json()["failures"], serde_json::json!([]));

    let report = monitor(&workspace, &github, &["report"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let dir = workspace.root().join("reports");
    let analysis: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("ecosystem_analysis.json")).expect("the JSON report"),
    )
    .expect("JSON");
    assert_eq!(analysis["summary"]["total_domains"], 2);
    // The site is critical; the service, at 73, a warning.
    assert_eq!(analysis["summary"]["unhealthy_domains"], 2);
    assert_eq!(analysis["domains"]["acme/api"]["health_score"], 73);
    assert_eq!(analysis["domains"]["acme/api"]["band"], "warning");
    assert_eq!(
        analysis["summary"]["total_issues"], 1,
        "{:#}",
        analysis["domains"]["acme/api"]["issues_detected"]
    );
    assert_eq!(analysis["domains"]["acme/site"]["health_score"], 29);
    assert_eq!(
        analysis["domains"]["acme/api"]["issues_detected"][0]["rule"],
        "conan-missing-binary"
    );
    let html = std::fs::read_to_string(dir.join("index.html")).expect("the page");
    assert!(
        html.contains("data-repository=\"acme/api\"")
            && html.contains("data-repository=\"acme/site\"")
    );
    assert!(
        !html.contains("http://") || !html.contains("<script"),
        "no script, no external asset"
    );
    let markdown = std::fs::read_to_string(dir.join("ecosystem_summary.md")).expect("markdown");
    assert!(markdown.contains("| [acme/site]("), "{markdown}");
}

#[test]
fn the_stale_dry_run_lists_exactly_what_the_real_run_does() {
    let github = organisation();
    let workspace = workspace(&github, "");
    assert_eq!(monitor(&workspace, &github, &["collect"]).code, 0);
    let dry = monitor(
        &workspace,
        &github,
        &["stale", "--dry-run", "--format", "json"],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let dry = dry.json();
    assert_eq!(dry["summary"]["total_stale_prs"], 1);
    assert_eq!(dry["stale_prs"][0]["number"], 1);
    let branches: Vec<&str> = dry["stale_branches"]
        .as_array()
        .expect("branches")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert!(branches.contains(&"spike-2025"), "{branches:?}");
    assert!(
        !branches.contains(&"release-1"),
        "protected branches are never touched"
    );
    assert!(!branches.contains(&"main"));
    assert_eq!(
        github
            .pulls("acme/api")
            .iter()
            .filter(|p| p.labels.iter().any(|l| l == "stale"))
            .count(),
        0,
        "a dry run changes nothing"
    );

    let real = monitor(&workspace, &github, &["stale", "--format", "json"]);
    assert_eq!(real.code, 0, "{}", real.stderr);
    let real = real.json();
    assert_eq!(
        real["actions"], dry["actions"],
        "the real run does exactly the dry run's list"
    );
    assert!(
        real["outcomes"]
            .as_array()
            .expect("outcomes")
            .iter()
            .all(|o| o["ok"] == true)
    );
    let pulls = github.pulls("acme/api");
    let first = pulls.iter().find(|p| p.number == 1).expect("#1");
    assert!(first.labels.iter().any(|l| l == "stale"), "{first:?}");
    // The bot's comment, and weft's.
    assert_eq!(first.comments.len(), 2, "{first:?}");
    assert!(first.comments[1].contains("marked stale"), "{first:?}");
    assert!(
        !github
            .branches("acme/api")
            .iter()
            .any(|b| b == "spike-2025")
    );

    // Nothing new to do until the close time comes: no second label or comment.
    let again = monitor(&workspace, &github, &["stale", "--format", "json"]);
    assert_eq!(again.json()["actions"], serde_json::json!([]));
    // After the next collection too: weft's own label and comment are not activity.
    assert_eq!(monitor(&workspace, &github, &["collect"]).code, 0);
    let after = monitor(
        &workspace,
        &github,
        &["stale", "--dry-run", "--format", "json"],
    );
    assert_eq!(after.json()["actions"], serde_json::json!([]));
}

#[test]
fn alerts_are_opened_once_and_closed_on_recovery() {
    let github = organisation();
    let hook = RecordingServer::start(&[]);
    let notify = format!(
        "notify:\n  channels:\n    hook: {{webhook: {{url: \"{}\"}}}}\n  rules:\n    monitor:\n      events: [monitor_alert, monitor_recovered]\n      channels: [hook]\n",
        hook.url("/hook")
    );
    let workspace = workspace(&github, &notify);
    assert_eq!(monitor(&workspace, &github, &["collect"]).code, 0);
    let first = monitor(&workspace, &github, &["alert", "--format", "json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let opened: Vec<_> = github
        .issues()
        .into_iter()
        .filter(|i| i.labels.iter().any(|l| l == "weft-monitor"))
        .collect();
    let health = opened
        .iter()
        .find(|i| i.repository == "acme/site" && i.title.contains("health"))
        .expect("a health alert for the critical site");
    assert!(
        health
            .body
            .contains("fingerprint=\"acme/site|ecosystem|health\""),
        "{}",
        health.body
    );
    let count = opened.len();
    // Each opened alert went through the notify rule.
    let told: Vec<serde_json::Value> = hook.requests().iter().map(|r| r.json()).collect();
    assert_eq!(told.len(), count, "{told:#?}");
    assert!(
        told.iter().all(|t| t["event"] == "monitor_alert"),
        "{told:#?}"
    );

    let second = monitor(&workspace, &github, &["alert", "--format", "json"]);
    assert_eq!(
        second.json()["actions"],
        serde_json::json!([]),
        "a repeat changes nothing"
    );
    let again: Vec<_> = github
        .issues()
        .into_iter()
        .filter(|i| i.labels.iter().any(|l| l == "weft-monitor"))
        .collect();
    assert_eq!(again.len(), count);
    assert!(
        again.iter().all(|i| i.comments.is_empty()),
        "no comment pile-up"
    );
    assert_eq!(hook.requests().len(), count, "nor a second notification");

    // Response time no longer counts: the site recovers and its alert closes.
    let weights = format!("  health: {{weights: {{response_time: 0}}}}\n{notify}");
    let recovered = self::workspace(&github, &weights);
    std::fs::create_dir_all(recovered.root().join(".weft")).expect("mkdir");
    std::fs::copy(
        workspace.root().join(".weft/state.db"),
        recovered.root().join(".weft/state.db"),
    )
    .expect("copy the store");
    let third = monitor(&recovered, &github, &["alert", "--format", "json"]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    let closed = github
        .issues()
        .into_iter()
        .find(|i| i.number == health.number && i.repository == "acme/site")
        .expect("the alert issue");
    assert!(!closed.open, "{closed:?}");
    assert_eq!(closed.comments.len(), 1, "one recovery comment");
    let last = hook.requests().last().map(|r| r.json()).expect("told");
    assert_eq!(last["event"], "monitor_recovered", "{last:#}");
}

#[test]
fn dispatch_checks_github_limits_before_sending() {
    let github = organisation();
    let workspace = workspace(&github, "");
    let keys: Vec<String> = (0..11).map(|i| format!("\"k{i}\": {i}")).collect();
    let payload = format!("{{{}}}", keys.join(","));
    let refused = monitor(
        &workspace,
        &github,
        &[
            "dispatch",
            "ecosystem-alert",
            "--repo",
            "acme/api",
            "--payload",
            &payload,
        ],
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("10"), "{}", refused.stderr);
    let long = "x".repeat(101);
    let refused = monitor(
        &workspace,
        &github,
        &["dispatch", &long, "--repo", "acme/api"],
    );
    assert_eq!(refused.code, 2);
    assert!(
        github.repository_dispatches().is_empty(),
        "nothing was sent"
    );

    let sent = monitor(
        &workspace,
        &github,
        &[
            "dispatch",
            "domain-failure",
            "--repo",
            "acme/api,acme/site",
            "--payload",
            "{\"domain\": \"api\"}",
        ],
    );
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let dispatches = github.repository_dispatches();
    assert_eq!(dispatches.len(), 2);
    assert_eq!(dispatches[0].event_type, "domain-failure");
    assert_eq!(dispatches[1].client_payload["domain"], "api");
}

#[test]
fn a_spent_rate_limit_is_waited_out_or_stops_cleanly() {
    let github = organisation();
    let workspace = workspace(&github, "");
    github.exhaust_rate_limit(Duration::from_secs(2));
    let waited = monitor(&workspace, &github, &["collect", "--format", "json"]);
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    assert_eq!(
        waited.json()["logs_analysed"],
        1,
        "it resumed after the reset"
    );

    let github = organisation();
    let impatient = self::workspace(&github, "  max_wait: 1s\n");
    // Enough for the organisation and part of the first repository.
    github.set_rate_limit_remaining(5, Duration::from_secs(120));
    let stopped = monitor(&impatient, &github, &["collect"]);
    assert_eq!(stopped.code, 3, "{}", stopped.stdout);
    assert!(
        stopped.stdout.contains("stopped early"),
        "{}",
        stopped.stdout
    );
}

#[test]
fn a_secondary_rate_limit_is_waited_out() {
    let github = organisation();
    let workspace = workspace(&github, "");
    // The next two requests get 403 with retry-after: 1.
    github.secondary_rate_limit(2, Duration::from_secs(1), 403);
    let started = std::time::Instant::now();
    let run = monitor(&workspace, &github, &["collect", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["failed"], serde_json::json!([]));
    // Each limited answer made it wait as retry-after said, then retry.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let limited = github
        .request_log()
        .iter()
        .filter(|r| r.status == 403)
        .count();
    assert_eq!(limited, 2);
}

#[test]
fn a_missing_permission_is_named() {
    let github = organisation();
    let workspace = workspace(&github, "");
    github.deny("/repos/acme/api/actions", "actions=read");
    let run = monitor(&workspace, &github, &["collect", "--format", "json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["failed"][0]["repository"], "acme/api");
    assert_eq!(report["failed"][0]["permission"], "actions=read");
}

#[test]
fn the_html_report_opens_in_chromium_without_errors_or_outside_requests() {
    let Some(browser) = Browser::find("the_html_report_opens_in_chromium") else {
        return;
    };
    let github = organisation();
    let workspace = workspace(&github, "");
    assert_eq!(monitor(&workspace, &github, &["collect"]).code, 0);
    assert_eq!(monitor(&workspace, &github, &["report"]).code, 0);
    let page = workspace.root().join("reports/index.html");
    let url = format!("file://{}", page.display());
    let screenshot = repository_root().join("target/screenshots/monitor-report.png");
    let report = browser.open(
        &url,
        &screenshot,
        &["tr[data-repository]", ".band.critical"],
    );
    assert!(
        report.console_errors.is_empty(),
        "{:?}",
        report.console_errors
    );
    assert!(report.page_errors.is_empty(), "{:?}", report.page_errors);
    assert_eq!(
        report.requests,
        std::slice::from_ref(&url),
        "the page asks for nothing else"
    );
    assert_eq!(
        report.counts["tr[data-repository]"], 2,
        "a row per repository"
    );
    assert_eq!(report.counts[".band.critical"], 1, "the site is critical");
    assert!(
        report.text.contains("conan-missing-binary"),
        "{}",
        report.text
    );
    assert!(screenshot.is_file());
}

#[test]
fn the_example_runs_against_the_fake_github() {
    let github = organisation();
    let copy = tempfile::tempdir().expect("a directory");
    let example = repository_root().join("examples/monitor");
    for file in ["weft.yaml", "failure-rules.yaml"] {
        std::fs::copy(example.join(file), copy.path().join(file)).expect("copy the example");
    }
    let env = [("GITHUB_TOKEN", github.token())];
    let run = |arguments: &[&str]| {
        let mut all = vec!["monitor"];
        all.extend_from_slice(arguments);
        all.extend_from_slice(&["--api-url", github.url()]);
        weft_with(copy.path(), &all, &env)
    };
    let collected = run(&["collect", "--format", "json"]);
    assert_eq!(collected.code, 0, "{}", collected.stderr);
    assert_eq!(
        collected.json()["repositories"],
        serde_json::json!(["acme/api", "acme/site"])
    );
    let health = run(&["health"]);
    assert_eq!(health.code, 0, "{}", health.stderr);
    assert!(
        health.stdout.contains("acme/site 29 critical"),
        "{}",
        health.stdout
    );
    let stale = run(&["stale", "--dry-run"]);
    assert_eq!(stale.code, 0, "{}", stale.stderr);
    assert!(
        stale.stdout.contains("would: label acme/api#1 `stale`"),
        "{}",
        stale.stdout
    );
    assert_eq!(run(&["report"]).code, 0);
    assert!(copy.path().join("reports/index.html").is_file());
}

#[test]
fn workflow_dispatch_fans_out_with_its_inputs() {
    let github = organisation();
    for repository in ["acme/api", "acme/site"] {
        github.add_workflow(repository, Workflow::new("fix.yml"));
    }
    let workspace = workspace(&github, "");
    let inputs: Vec<String> = (0..26).map(|i| format!("k{i}=v")).collect();
    let mut too_many = vec!["dispatch", "--workflow", "fix.yml", "--repo", "acme/api"];
    for input in &inputs {
        too_many.extend(["--input", input.as_str()]);
    }
    let refused = monitor(&workspace, &github, &too_many);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("25"), "{}", refused.stderr);
    assert!(github.runs().is_empty(), "nothing was sent");

    let sent = monitor(
        &workspace,
        &github,
        &[
            "dispatch",
            "--workflow",
            "fix.yml",
            "--repo",
            "acme/api,acme/site",
            "--input",
            "reason=ecosystem-alert",
            "--format",
            "json",
        ],
    );
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let runs = github.runs();
    let repositories: Vec<&str> = runs.iter().map(|r| r.repository.as_str()).collect();
    assert_eq!(repositories, ["acme/api", "acme/site"]);
    assert!(
        runs.iter()
            .all(|r| r.workflow == "fix.yml" && r.head_branch == "main")
    );
    assert_eq!(runs[0].inputs["reason"], "ecosystem-alert");
    let answer = sent.json();
    assert_eq!(answer["sent"][0]["run_id"], runs[0].id);
}

#[test]
fn long_idle_pull_requests_are_found_and_their_branches_kept() {
    let github = FakeGitHub::start();
    github.add_repository(
        Repository::new("acme/tool")
            .pushed(HOUR)
            // Open, untouched for 60 days: beyond the 30-day window of the
            // updated-first list, found through the open list.
            .pull(
                Pull::new(9, "erin")
                    .title("Old work")
                    .age(60 * DAY)
                    .head("old-work"),
            )
            // Closed without merging 45 days ago: never collected.
            .pull(
                Pull::new(10, "erin")
                    .title("Experiment")
                    .age(50 * DAY)
                    .closed(45 * DAY)
                    .head("experiment"),
            )
            .branch_at("old-work", 60 * DAY)
            .branch_at("experiment", 50 * DAY),
    );
    let workspace = Workspace::new().file(
        "weft.yaml",
        &format!(
            "github:\n  api_url: {}\n  token_env: FAKE_GITHUB_TOKEN\nmonitor:\n  repositories: [acme/tool]\n",
            github.url()
        ),
    );
    assert_eq!(monitor(&workspace, &github, &["collect"]).code, 0);
    let run = monitor(&workspace, &github, &["stale", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = run.json();
    let stale: Vec<u64> = run["stale_prs"]
        .as_array()
        .expect("stale pull requests")
        .iter()
        .filter_map(|p| p["number"].as_u64())
        .collect();
    assert_eq!(stale, [9], "{run:#}");
    // The branch of the open pull request is never a candidate; the one of
    // the pull request closed without merging looked unused to the
    // analysis, and GitHub, asked just before, said otherwise.
    let outcomes = run["outcomes"].as_array().expect("outcomes");
    let experiment = outcomes
        .iter()
        .find(|o| o["branch"] == "experiment")
        .expect("the experiment branch was planned");
    assert_eq!(
        experiment["skipped"], "pull request #10 from it was closed without merging",
        "{experiment:#}"
    );
    assert!(!outcomes.iter().any(|o| o["branch"] == "old-work"));
    let branches = github.branches("acme/tool");
    assert!(branches.iter().any(|b| b == "experiment") && branches.iter().any(|b| b == "old-work"));
}
