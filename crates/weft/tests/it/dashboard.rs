//! The dashboard of `weft serve`, driven in headless Chromium against the
//! real binary on 127.0.0.1, with a real workspace (the homelab example:
//! conflicts and a cycle), a real stack (`weft up` on the launch example)
//! and leases taken by the CLI, through the server and straight on the
//! store file.

use std::path::{Path, PathBuf};
use std::process::Command;

use weft_testkit::Workspace;
use weft_testkit::browser::{Browser, Session};

use crate::lock::{Server, serve_with};
use crate::support::{repository_root, weft_with};

const READ: &str = "dashboard-read-secret";
const ADMIN: &str = "dashboard-admin-secret";
/// How long a change may take to reach the page.
const LIVE_MS: u64 = 1_000;

/// Screenshots go under target/ (`docs/dashboard/` keeps copies for the README).
fn screenshot(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dashboard")
        .join(format!("{name}.png"))
}

fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".weft" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            fs_err::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The homelab example with two tokens: `viewer` reads, `oncall` is admin.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repository_root().join("examples/homelab"), dir.path());
    let config = dir.path().join("weft.yaml");
    let mut text = fs_err::read_to_string(&config).unwrap();
    assert!(
        !text.contains("\ncoordination:"),
        "the example gained a coordination key"
    );
    text.push_str(
        "coordination:\n  server:\n    tokens:\n      - {name: viewer, env: DASH_READ, scopes: [read]}\n      - {name: oncall, env: DASH_ADMIN, scopes: [admin]}\n",
    );
    fs_err::write(&config, text).unwrap();
    dir
}

fn start(dir: &Path) -> Server {
    serve_with(dir, &[("DASH_READ", READ), ("DASH_ADMIN", ADMIN)])
}

fn sign_in(session: &mut Session, url: &str, token: &str) {
    session.goto(&format!("{url}/login"));
    session.fill("#token", token);
    session.click("form.login button[type=submit]");
}

/// No console errors, no page errors, and nothing asked of another host.
fn assert_clean(session: &mut Session, url: &str, view: &str) {
    let report = session.report();
    assert!(
        report.console_errors.is_empty(),
        "{view}: console errors {:?}",
        report.console_errors
    );
    assert!(
        report.page_errors.is_empty(),
        "{view}: page errors {:?}",
        report.page_errors
    );
    let foreign: Vec<&String> = report
        .requests
        .iter()
        .filter(|r| !r.starts_with(&format!("{url}/")) && r.as_str() != url)
        .collect();
    assert!(
        foreign.is_empty(),
        "{view}: requests to other hosts: {foreign:?}"
    );
    for request in &report.requests {
        assert!(
            !request.contains(READ) && !request.contains(ADMIN),
            "a token in a URL: {request}"
        );
    }
}

fn lock(dir: &Path, arguments: &[&str]) -> serde_json::Value {
    let run = weft_with(dir, arguments, &[("WEFT_TOKEN", ADMIN)]);
    assert_eq!(run.code, 0, "weft {arguments:?}: {}", run.stderr);
    run.json()
}

#[test]
fn every_view_loads_updates_live_and_acts_only_with_its_scope() {
    let Some(browser) = Browser::find("every_view_loads_updates_live_and_acts_only_with_its_scope")
    else {
        return;
    };
    let dir = workspace();
    let server = start(dir.path());
    let url = server.url.trim_end_matches('/').to_owned();
    let mut session = browser.session();
    session.open(true, 1280, 900);

    // Without a session the page asks for a token, and an unknown one is refused.
    session.goto(&format!("{url}/leases"));
    assert!(
        session.url().contains("/login?next=/leases"),
        "{}",
        session.url()
    );
    session.screenshot(&screenshot("login"));
    session.fill("#token", "not-a-token");
    session.click("form.login button[type=submit]");
    assert!(session.text().contains("not one this server knows"));

    // A read token: the graph, with the example's conflicts and cycle marked.
    sign_in(&mut session, &url, READ);
    session.goto(&format!("{url}/"));
    assert!(session.count("svg .node") >= 12, "{}", session.text());
    assert!(
        session.count("svg .node.conflict") > 0,
        "a conflict is marked in the drawing"
    );
    assert!(
        session.count("svg .node.cycle") > 0,
        "the cycle is marked in the drawing"
    );
    assert!(session.count("svg .edge.cut") > 0, "the cut edge is drawn");
    assert!(session.count("table.conflicts tr.conflict") >= 4);
    assert!(session.text().contains("viewer · read"));
    session.screenshot(&screenshot("graph"));
    assert_clean(&mut session, &url, "graph");

    // A resolution applied through the API (an admin's bearer token) is
    // seen by the open page, which reads the graph again.
    assert!(
        session
            .wait("#live-status[data-state=on]", "attached", 5_000)
            .is_some()
    );
    let port = "tr[data-conflict='port:docker/tcp/8080']";
    assert_eq!(session.count(port), 1, "{}", session.text());
    let applied = session.evaluate(&format!(
        "fetch('/api/v1/analysis/resolve', {{method: 'POST', headers: {{'Authorization': 'Bearer {ADMIN}', 'Content-Type': 'application/json'}}, body: JSON.stringify({{conflicts: ['port:docker/tcp/8080'], dry_run: false}})}}).then(r => r.status)"
    ));
    assert_eq!(applied, 200);
    assert!(
        session.wait(port, "detached", 5_000).is_some(),
        "the resolved conflict goes: {}",
        session.text()
    );
    assert!(session.count("table.conflicts tr.conflict") >= 3);

    // A service's explanation links to the line an edge was read from.
    session.click("svg a.node[data-service='api/api']");
    assert!(
        session.url().ends_with("/graph/service/api/api"),
        "{}",
        session.url()
    );
    assert!(session.text().contains("What breaks without it"));
    session.screenshot(&screenshot("explain"));
    session.click("a[href^='/source/api/compose.yaml#L']");
    assert!(
        session.url().contains("/source/api/compose.yaml#L"),
        "{}",
        session.url()
    );
    assert_eq!(
        session.count("pre.source span.line:target"),
        1,
        "the line is highlighted"
    );
    assert_clean(&mut session, &url, "explain and source");

    // Leases: what the CLI takes appears within a second, through the server
    // and straight on the store file alike, and goes on release.
    session.goto(&format!("{url}/leases"));
    assert!(
        session
            .wait("#live-status[data-state=on]", "attached", 5_000)
            .is_some(),
        "the stream opens"
    );
    let through_server = lock(
        dir.path(),
        &[
            "lock",
            "acquire",
            "branch:main",
            "--server",
            &url,
            "--ttl",
            "5m",
            "--format",
            "json",
        ],
    );
    let id = through_server["id"].as_str().unwrap().to_owned();
    let row = format!("tr.holder[data-lease='{id}']");
    let took = session
        .wait(&row, "attached", 5_000)
        .expect("the lease appears");
    assert!(took <= LIVE_MS, "the lease took {took} ms to appear");
    let local = lock(
        dir.path(),
        &[
            "lock",
            "acquire",
            "port:9000",
            "--ttl",
            "5m",
            "--format",
            "json",
        ],
    );
    let local_row = format!("tr.holder[data-lease='{}']", local["id"].as_str().unwrap());
    let took = session
        .wait(&local_row, "attached", 5_000)
        .expect("the local lease appears");
    assert!(
        took <= LIVE_MS,
        "the lease taken on the store file took {took} ms to appear"
    );
    assert_eq!(
        session.count("form.force-release"),
        0,
        "a read token sees no force-release"
    );
    session.screenshot(&screenshot("leases"));
    lock(
        dir.path(),
        &["lock", "release", &id, "--server", &url, "--format", "json"],
    );
    let took = session
        .wait(&row, "detached", 5_000)
        .expect("the lease goes");
    assert!(took <= LIVE_MS, "the released lease took {took} ms to go");
    assert_clean(&mut session, &url, "leases");
    // Posting the form anyway, with the session's form key, is refused for
    // the scope.
    let refused = session.evaluate(
        "fetch('/leases/force-release', {method: 'POST', body: new URLSearchParams({resource: 'port:9000', reason: 'x', form_key: document.querySelector('input[name=form_key]').value})}).then(async r => `${r.status} ${await r.text()}`)",
    );
    assert_eq!(
        refused,
        "403 refused: this takes a token with the `admin` scope"
    );

    for view in ["/services", "/releases", "/alerts", "/health"] {
        assert_eq!(session.goto(&format!("{url}{view}")), 200, "{view}");
        assert_eq!(
            session.count("main#view h1"),
            1,
            "{view}: {}",
            session.text()
        );
        assert_clean(&mut session, &url, view);
    }

    // An admin token shows force-release, and it works.
    session.click("form[action='/logout'] button");
    sign_in(&mut session, &url, ADMIN);
    session.goto(&format!("{url}/leases"));
    assert_eq!(session.count("form.force-release"), 1, "{}", session.text());
    session.fill("form.force-release input[name=reason]", "stuck CI runner");
    session.click("form.force-release button");
    assert!(
        session
            .text()
            .contains("Force-released 1 lease(s) of port:9000"),
        "{}",
        session.text()
    );
    assert_eq!(session.count(&local_row), 0);
    let list = lock(dir.path(), &["lock", "list", "--format", "json"]);
    assert!(
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["holders"].as_array().unwrap().is_empty()),
        "{list}"
    );
    assert_clean(&mut session, &url, "force-release");

    // The keyboard reaches the views first thing.
    session.goto(&format!("{url}/"));
    session.press("Tab");
    assert_eq!(
        session.evaluate("document.activeElement.textContent"),
        "Skip to the view"
    );
    session.press("Tab");
    assert_eq!(
        session.evaluate("document.activeElement.getAttribute('href')"),
        "/"
    );

    // A narrow screen: the page itself does not scroll sideways, even with
    // a wide table of holders (it scrolls inside its own box).
    lock(
        dir.path(),
        &[
            "lock",
            "acquire",
            "lock:nightly-database-migration-window",
            "--server",
            &url,
            "--ttl",
            "5m",
            "--format",
            "json",
        ],
    );
    session.open(true, 375, 800);
    sign_in(&mut session, &url, READ);
    session.goto(&format!("{url}/leases"));
    assert_eq!(
        session.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"),
        true,
        "the page overflows a narrow screen"
    );
    assert_eq!(session.count("tr.holder"), 1, "{}", session.text());
    session.screenshot(&screenshot("leases-narrow"));

    // JavaScript off: sign-in and every read-only view still work.
    session.open(false, 1280, 900);
    sign_in(&mut session, &url, READ);
    session.goto(&format!("{url}/"));
    assert!(
        session.count("svg .node.conflict") > 0,
        "the graph renders without JavaScript"
    );
    for view in ["/services", "/leases", "/releases", "/alerts", "/health"] {
        assert_eq!(session.goto(&format!("{url}{view}")), 200, "{view}");
        assert_eq!(
            session.count("main#view h1"),
            1,
            "{view} without JavaScript"
        );
    }
    drop(server);
}

/// `weft up` stops what it started when the test ends.
struct Stack<'a>(&'a Path);

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["down"])
            .current_dir(self.0)
            .output();
    }
}

#[test]
fn the_services_view_follows_a_running_stack() {
    let Some(browser) = Browser::find("the_services_view_follows_a_running_stack") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repository_root().join("examples/launch"), dir.path());
    let server = serve_with(dir.path(), &[]);
    let url = server.url.trim_end_matches('/').to_owned();
    let mut session = browser.session();
    session.open(true, 1280, 900);
    session.goto(&format!("{url}/services"));
    assert!(
        session.text().contains("No stack is up"),
        "{}",
        session.text()
    );
    assert!(
        session
            .wait("#live-status[data-state=on]", "attached", 5_000)
            .is_some()
    );

    let up = weft_with(dir.path(), &["up", "--detach", "--wait"], &[]);
    let _stack = Stack(dir.path());
    assert_eq!(up.code, 0, "{}", up.stderr);
    // The page was open before the stack: it fills in by itself.
    assert!(
        session
            .wait(
                "tr[data-service='web'][data-state='ready']",
                "attached",
                10_000
            )
            .is_some(),
        "{}",
        session.text()
    );
    assert!(
        session.count("tr[data-service='migrate'][data-state='completed']") == 1,
        "{}",
        session.text()
    );
    assert!(
        session.text().contains("tcp 127.0.0.1:"),
        "the last probe is shown: {}",
        session.text()
    );
    session.screenshot(&screenshot("services"));

    let stop = weft_with(dir.path(), &["stop", "web"], &[]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    let took = session
        .wait(
            "tr[data-service='web'][data-state='stopped']",
            "attached",
            5_000,
        )
        .expect("the stop shows");
    assert!(took <= LIVE_MS, "the stop took {took} ms to show");
    assert_clean(&mut session, &url, "services");

    // `weft down`: the view says no stack is up.
    let down = weft_with(dir.path(), &["down"], &[]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(
        session
            .wait("tr[data-service]", "detached", 5_000)
            .is_some(),
        "{}",
        session.text()
    );
    assert!(
        session.text().contains("No stack is up"),
        "{}",
        session.text()
    );
}

#[test]
fn releases_alerts_and_health_show_what_was_recorded() {
    let Some(browser) = Browser::find("releases_alerts_and_health_show_what_was_recorded") else {
        return;
    };
    let github = crate::monitor_github::organisation();
    let workspace = Workspace::new().file("api/README.md", "the api\n").file(
        "weft.yaml",
        &format!(
            "name: dash\n\
             repositories: {{api: {{}}}}\n\
             github: {{api_url: {}, token_env: FAKE_GITHUB_TOKEN}}\n\
             monitor: {{repositories: [\"acme/*\"]}}\n\
             environments: {{staging: {{rollback: auto}}}}\n\
             services:\n\
             \x20 db:\n\
             \x20   repository: api\n\
             \x20   deploy: {{steps: [{{run: 'true'}}]}}\n\
             \x20 api:\n\
             \x20   repository: api\n\
             \x20   depends_on: {{db: required}}\n\
             \x20   deploy:\n\
             \x20     steps: [{{run: 'echo releasing $WEFT_VERSION'}}]\n\
             \x20     gates: [{{exec: 'test \"$WEFT_VERSION\" != bad', interval: 50ms, failure_limit: 1, timeout: 5s}}]\n",
            github.url()
        ),
    );
    let root = workspace.root();
    let server = serve_with(root, &[]);
    let url = server.url.trim_end_matches('/').to_owned();
    let mut session = browser.session();
    session.open(true, 1280, 900);

    // Releases: the page is open before the release, which runs in another
    // process on the same store, and fills in by itself.
    session.goto(&format!("{url}/releases"));
    assert!(
        session
            .wait("#live-status[data-state=on]", "attached", 5_000)
            .is_some()
    );
    let good = weft_with(
        root,
        &[
            "deploy", "run", "staging", "--set", "db=1.0", "--set", "api=1.0",
        ],
        &[],
    );
    assert_eq!(good.code, 0, "{}\n{}", good.stdout, good.stderr);
    let took = session
        .wait(
            "table.deployments tr[data-status=succeeded]",
            "attached",
            5_000,
        )
        .expect("the release shows");
    assert!(took <= LIVE_MS, "the release took {took} ms to show");
    let bad = weft_with(root, &["deploy", "run", "staging", "--set", "api=bad"], &[]);
    assert_eq!(bad.code, 1, "{}\n{}", bad.stdout, bad.stderr);
    assert!(
        session
            .wait(
                "table.deployments tr[data-status=rolled_back]",
                "attached",
                5_000
            )
            .is_some()
    );
    // What is live is the last good manifest.
    let live = session.text();
    assert!(live.contains("Live where"), "{live}");
    assert_eq!(
        session.evaluate(
            "[...document.querySelectorAll('table.live td.mono')].map(c => c.textContent).join(' ')"
        ),
        "1.0 1.0"
    );
    session.screenshot(&screenshot("releases"));
    assert_clean(&mut session, &url, "releases");
    session.click("table.deployments tr[data-status=rolled_back] a");
    assert!(session.text().contains("rolled_back"), "{}", session.text());
    assert!(
        session.count("table.gates tr") >= 2,
        "the failed gate is listed: {}",
        session.text()
    );
    assert!(session.text().contains("fail"), "{}", session.text());
    session.screenshot(&screenshot("release"));

    // Alerts: a claim refused while the lock is held crosses the conflict rate.
    let held = weft_with(
        root,
        &[
            "lock",
            "acquire",
            "branch:main",
            "--server",
            &url,
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(held.code, 0, "{}", held.stderr);
    // (The releases took the environment's lease too: three refusals make
    // the rate over the default 0.3 whatever else was claimed.)
    for _ in 0..3 {
        let refused = weft_with(
            root,
            &[
                "lock",
                "acquire",
                "branch:main",
                "--server",
                &url,
                "--wait",
                "0",
            ],
            &[],
        );
        assert_eq!(refused.code, 1, "{}", refused.stderr);
    }

    // The monitor's data: the fixture organisation.
    let collect = weft_with(
        root,
        &["monitor", "collect", "--format", "json"],
        &[("FAKE_GITHUB_TOKEN", github.token())],
    );
    assert_eq!(collect.code, 0, "{}", collect.stderr);

    session.goto(&format!("{url}/alerts"));
    assert_eq!(
        session.count("table.alerts tr.alert[data-open=true]"),
        1,
        "{}",
        session.text()
    );
    assert!(
        session.text().contains("conflict_rate"),
        "{}",
        session.text()
    );
    assert!(
        session.count("table.monitor-alerts tbody tr") >= 1,
        "{}",
        session.text()
    );
    // No tokens: everyone may acknowledge.
    session.click("form.acknowledge button");
    assert!(
        session.text().contains("acknowledged by anonymous"),
        "{}",
        session.text()
    );
    session.screenshot(&screenshot("alerts"));
    assert_clean(&mut session, &url, "alerts");

    session.goto(&format!("{url}/health"));
    assert_eq!(
        session.count("table.health tr[data-repository='acme/site'][data-band=critical]"),
        1,
        "{}",
        session.text()
    );
    assert_eq!(
        session.count("table.health tr[data-repository='acme/api'][data-band=warning]"),
        1,
        "{}",
        session.text()
    );
    // The deductions name their evidence.
    session.toggle("table.health tr[data-repository='acme/api'] summary");
    assert!(session.text().contains("stale"), "{}", session.text());
    session.screenshot(&screenshot("health"));
    assert_clean(&mut session, &url, "health");
}
