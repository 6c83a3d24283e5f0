//! `weft notify test`: a real webhook receiver on 127.0.0.1 hears the test
//! message; a channel that is not there, or that cannot be reached, says so.

use std::time::{Duration, Instant};

use weft_testkit::Workspace;
use weft_testkit::http::RecordingServer;

use crate::support::weft_in;

fn workspace(url: &str) -> Workspace {
    let workspace = Workspace::new();
    workspace.write(
        "weft.yaml",
        &format!(
            "name: notify-test\nnotify:\n  channels:\n    audit: {{webhook: {{url: \"{url}\", secret_env: WEFT_TEST_SECRET}}}}\n    hook: {{webhook: {{url: \"{url}\"}}}}\n"
        ),
    );
    workspace
}

#[test]
fn a_test_message_reaches_the_channel() {
    let receiver = RecordingServer::start(&[]);
    let workspace = workspace(&receiver.url("/hook"));
    let run = weft_in(workspace.root(), &["notify", "test", "hook"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("sent a test message to `hook`"),
        "{}",
        run.stdout
    );
    let sent = receiver.requests_to("/hook");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].json()["event"], "test");

    let json = weft_in(
        workspace.root(),
        &["notify", "test", "hook", "--format", "json"],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_eq!(json.json()["ok"], true);
    assert_eq!(json.json()["attempts"], 1);
}

#[test]
fn a_missing_channel_is_bad_input_and_an_unset_secret_is_not_sent() {
    let receiver = RecordingServer::start(&[]);
    let workspace = workspace(&receiver.url("/hook"));
    let missing = weft_in(workspace.root(), &["notify", "test", "pager"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("no notify channel `pager`"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("audit, hook"), "{}", missing.stderr);

    // `audit` signs with a secret whose variable is unset: nothing is sent.
    let unsigned = weft_in(workspace.root(), &["notify", "test", "audit"]);
    assert_eq!(unsigned.code, 3, "{}", unsigned.stdout);
    assert!(
        unsigned.stdout.contains("WEFT_TEST_SECRET"),
        "{}",
        unsigned.stdout
    );
    assert!(receiver.requests().is_empty());
}

#[test]
fn an_unreachable_channel_fails_with_exit_3() {
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let workspace = workspace(&format!("http://127.0.0.1:{dead}/hook"));
    let run = weft_in(
        workspace.root(),
        &["notify", "test", "hook", "--format", "json"],
    );
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let answer = run.json();
    assert_eq!(answer["ok"], false);
    assert!(answer["attempts"].as_u64().unwrap() > 1, "{answer}");
}

#[test]
fn weft_serve_sends_the_escalation_a_finished_release_armed() {
    let receiver = RecordingServer::start(&[]);
    let workspace = Workspace::new().file("a/README.md", "repository a\n").file(
        "weft.yaml",
        &format!(
            "repositories: {{a: {{}}}}\nenvironments: {{prod: {{rollback: manual}}}}\nservices:\n  a:\n    repository: a\n    deploy:\n      steps: [{{run: 'test \"$WEFT_VERSION\" != bad'}}]\nnotify:\n  channels:\n    failures: {{webhook: {{url: \"{failures}\"}}}}\n    pager: {{webhook: {{url: \"{pager}\"}}}}\n  rules:\n    prod:\n      events: [deployment_failed]\n      channels: [failures]\n      escalate_after: 1s\n      escalate_to: [pager]\n",
            failures = receiver.url("/failures"),
            pager = receiver.url("/pager"),
        ),
    );
    let root = workspace.root();
    let failed = weft_in(root, &["deploy", "run", "prod", "--set", "a=bad"]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed
            .stderr
            .contains("an escalation is armed: `weft serve` sends it in"),
        "{}",
        failed.stderr
    );
    assert_eq!(receiver.requests_to("/failures").len(), 1);
    assert!(receiver.requests_to("/pager").is_empty());

    // The release's process is gone; the server sends the escalation once.
    let _server = crate::lock::serve(root);
    let deadline = Instant::now() + Duration::from_secs(15);
    while receiver.requests_to("/pager").is_empty() {
        assert!(Instant::now() < deadline, "no escalation within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let page = receiver.requests_to("/pager")[0].json();
    assert_eq!(page["event"], "deployment_failed");
    assert!(
        page["title"]
            .as_str()
            .unwrap()
            .starts_with("Unresolved after 1s: "),
        "{page}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(receiver.requests_to("/pager").len(), 1, "sent once");
    let status = weft_in(root, &["deploy", "status", "--format", "json"]);
    let told: Vec<(String, bool)> = status.json()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["channel"].as_str().unwrap().to_string(),
                n["escalation"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        told,
        [("failures".to_string(), false), ("pager".to_string(), true)]
    );
}
