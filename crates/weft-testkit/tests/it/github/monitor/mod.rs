//! What `weft monitor` reads and does: a repository with a past (runs,
//! pull requests, issues, branches, releases) listed through an owner's
//! repositories, runs, events, pull requests, issues, comments, timelines,
//! branches, commits and releases; labels, comments, closing and branch
//! deletion; and a token that lacks a permission.

mod branches;
mod events;
mod openapi;
mod pulls;
mod runs;
mod timeline;

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use weft_testkit::github::{
    Activity, Conclusion, FakeGitHub, IssueSpec, PastRun, Pull, Repository, Workflow,
};

use super::{Reply, get, get_url, links};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// `eco/lib`, with a past, and `eco/tool`, private and archived.
fn ecosystem() -> FakeGitHub {
    let github = FakeGitHub::start();
    github.add_repository(
        Repository::new("eco/lib")
            .pushed(2 * DAY)
            .protected_branch("main", 2 * DAY)
            .branch_at("old-feature", 120 * DAY)
            .branch_at("feature/fresh", HOUR)
            .workflow(Workflow::new("deploy.yml").duration(Duration::from_secs(60)))
            .past_run(
                PastRun::new("ci.yml")
                    .age(3 * HOUR)
                    .conclusion(Conclusion::Failure)
                    .job_name("test")
                    .log("error: boom\n"),
            )
            .past_run(PastRun::new("ci.yml").age(30 * HOUR))
            .past_run(
                PastRun::new("nightly.yml")
                    .age(50 * HOUR)
                    .event("schedule")
                    .branch("feature/fresh")
                    .conclusion(Conclusion::TimedOut),
            )
            .pull(
                Pull::new(1, "alice")
                    .title("Add a cache")
                    .age(90 * DAY)
                    .labels(&["enhancement"])
                    .activity(Activity::commit("alice", 89 * DAY))
                    .activity(Activity::approval("gina", 70 * DAY))
                    .activity(Activity::comment("bob", 60 * DAY).body("Any news?")),
            )
            .pull(
                Pull::new(2, "dependabot")
                    .bot_author()
                    .age(3 * DAY)
                    .activity(Activity::comment("renovate", 2 * DAY).bot())
                    .activity(Activity::labeled("carol", "dependencies", 2 * DAY)),
            )
            .pull(
                Pull::new(3, "carol")
                    .age(10 * DAY)
                    .merged(5 * DAY)
                    .milestone("v1.1")
                    .assignee("carol"),
            )
            .pull(
                Pull::new(5, "dave")
                    .age(40 * DAY)
                    .draft(true)
                    .closed(35 * DAY)
                    .head_deleted(),
            )
            .issue(
                IssueSpec::new(4, "erin")
                    .title("Crash on start")
                    .age(20 * DAY)
                    .labels(&["bug"])
                    .activity(Activity::comment("frank", DAY)),
            )
            .release("v1.0.0", 40 * DAY)
            .release("v1.1.0", 5 * DAY)
            .prerelease("v1.2.0-rc.1", DAY),
    );
    github.add_repository(
        Repository::new("eco/tool")
            .private(true)
            .archived(true)
            .pushed(10 * DAY),
    );
    github
}

/// `at` as GitHub writes it.
fn timestamp(at: SystemTime) -> String {
    jiff::Timestamp::try_from(at)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn ago(age: Duration) -> String {
    timestamp(SystemTime::now() - age)
}

/// Asserts that `value` is a timestamp `age` ago, give or take the seconds
/// a test takes.
fn about(value: &Value, age: Duration) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a timestamp, not {value}"));
    let at: SystemTime = text.parse::<jiff::Timestamp>().unwrap().into();
    let expected = SystemTime::now() - age;
    let off = expected.duration_since(at).unwrap_or_else(|e| e.duration());
    assert!(off <= Duration::from_secs(3), "{text} is not {age:?} ago");
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ok(github: &FakeGitHub, path: &str) -> Value {
    let reply = get(github, path);
    assert_eq!(reply.status, 200, "{path}: {reply:?}");
    reply.json()
}

fn field(items: &Value, name: &str) -> Vec<Value> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[name].clone())
        .collect()
}

fn strings(items: &Value, name: &str) -> Vec<String> {
    field(items, name)
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn numbers(items: &Value) -> Vec<u64> {
    field(items, "number")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

fn descending(times: &[String]) -> bool {
    times.windows(2).all(|pair| pair[0] >= pair[1])
}

#[test]
fn an_owners_repositories_are_listed_paged_and_an_unknown_owner_is_404() {
    let github = ecosystem();
    let repositories = ok(&github, "/orgs/eco/repos");
    assert_eq!(
        strings(&repositories, "full_name"),
        ["eco/tool", "eco/lib"],
        "newest first"
    );
    let tool = &repositories[0];
    assert_eq!(tool["archived"], true);
    assert_eq!(tool["private"], true);
    assert_eq!(tool["default_branch"], "main");
    assert_eq!(tool["html_url"], "https://github.com/eco/tool");
    let lib = &repositories[1];
    about(&lib["pushed_at"], 2 * DAY);
    assert_eq!(lib["open_issues_count"], 3, "pulls 1 and 2, issue 4");
    assert_eq!(ok(&github, "/repos/eco/lib")["pushed_at"], lib["pushed_at"]);
    assert_eq!(
        strings(&ok(&github, "/orgs/eco/repos?type=public"), "full_name"),
        ["eco/lib"]
    );
    assert_eq!(
        strings(&ok(&github, "/users/eco/repos"), "full_name"),
        ["eco/lib", "eco/tool"],
        "by name for a user"
    );
    let first = get(&github, "/orgs/eco/repos?per_page=1");
    assert!(
        links(&first)["next"].ends_with("per_page=1&page=2"),
        "{first:?}"
    );
    assert_eq!(get(&github, "/orgs/nobody/repos").status, 404);
    assert_eq!(get(&github, "/users/nobody/repos").status, 404);
}

#[test]
fn every_new_list_answers_304_to_a_matching_if_none_match() {
    let github = ecosystem();
    let bearer = format!("Bearer {}", github.token());
    for path in [
        "/orgs/eco/repos",
        "/users/eco/repos",
        "/repos/eco/lib/events",
        "/repos/eco/lib/pulls?state=all",
        "/repos/eco/lib/pulls/1",
        "/repos/eco/lib/issues?state=all",
        "/repos/eco/lib/issues/1/comments",
        "/repos/eco/lib/issues/1/timeline",
        "/repos/eco/lib/issues/1/labels",
        "/repos/eco/lib/branches",
        "/repos/eco/lib/branches/main",
        "/repos/eco/lib/commits/main",
        "/repos/eco/lib/releases",
    ] {
        let url = format!("{}{path}", github.url());
        let first = get_url(&url, &[("Authorization", &bearer)]);
        assert_eq!(first.status, 200, "{path}: {first:?}");
        let etag = first.header("etag").unwrap().to_string();
        let again: Reply = get_url(
            &url,
            &[("Authorization", &bearer), ("If-None-Match", &etag)],
        );
        assert_eq!(again.status, 304, "{path}");
    }
}

#[test]
fn a_denied_permission_is_a_403_naming_it() {
    let github = ecosystem();
    github.deny("/repos/eco/lib/actions", "actions=read");
    let denied = get(&github, "/repos/eco/lib/actions/runs");
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.header("x-accepted-github-permissions"),
        Some("actions=read")
    );
    assert_eq!(
        denied.json(),
        json!({
            "message": "Resource not accessible by personal access token",
            "documentation_url": "https://docs.github.com/rest",
            "status": "403",
        })
    );
    assert!(denied.header("x-ratelimit-remaining").is_some());
    assert_eq!(get(&github, "/repos/eco/lib/pulls").status, 200);
    github.allow("/repos/eco/lib/actions");
    assert_eq!(get(&github, "/repos/eco/lib/actions/runs").status, 200);
}
