//! Dispatching workflows and finding their runs; repository_dispatch.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use weft_github::{GitHubError, WorkflowDispatch};
use weft_testkit::fake_github::{FakeGitHub, TOKEN};

use crate::client::client;

fn dispatch<'a>(
    inputs: &'a BTreeMap<String, String>,
    correlation: &'a str,
) -> WorkflowDispatch<'a> {
    WorkflowDispatch {
        repository: "acme/app",
        workflow: "deploy.yml",
        git_ref: None,
        inputs,
        correlation_id: correlation,
        find_timeout: Duration::from_secs(5),
    }
}

#[test]
fn a_dispatch_names_its_run_and_the_run_concludes() {
    let fake = FakeGitHub::start();
    fake.with(|s| s.run_duration = Duration::from_millis(300));
    let github = client(&fake, Some(TOKEN));
    let inputs: BTreeMap<String, String> = [("version".to_string(), "1.2.0".to_string())].into();
    let dispatched = github
        .dispatch_workflow(&dispatch(&inputs, "weft-d-1"))
        .unwrap();
    assert!(!dispatched.correlated);
    assert!(
        dispatched.html_url.ends_with("/actions/runs/1000"),
        "{}",
        dispatched.html_url
    );
    // The default branch was asked for, and the dispatch asked for details.
    let sent = fake.state.lock().unwrap().dispatches[0].clone();
    assert_eq!(sent["ref"], "main");
    assert_eq!(sent["inputs"]["version"], "1.2.0");
    assert_eq!(sent["return_run_details"], true);
    let mut statuses = Vec::new();
    let run = loop {
        let run = github
            .workflow_run("acme/app", dispatched.run_id)
            .unwrap()
            .into_inner();
        if statuses.last() != run.status.as_ref() {
            statuses.push(run.status.clone().unwrap());
        }
        if run.is_completed() {
            break run;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(statuses, ["queued", "in_progress", "completed"]);
    assert_eq!(run.conclusion.as_deref(), Some("success"));
}

#[test]
fn without_run_details_the_run_is_found_by_its_correlation_id() {
    let fake = FakeGitHub::start();
    fake.with(|s| s.no_run_details = true);
    let github = client(&fake, Some(TOKEN));
    let inputs = BTreeMap::new();
    // Another run on the branch first: it must not be taken for ours.
    github
        .dispatch_workflow(&dispatch(&inputs, "someone-else"))
        .unwrap();
    let dispatched = github
        .dispatch_workflow(&dispatch(&inputs, "weft-d-2-api-1"))
        .unwrap();
    assert!(dispatched.correlated);
    assert_eq!(dispatched.run_id, 1001);
    let state = fake.state.lock().unwrap();
    // Each dispatch was refused once with return_run_details, then sent with the input.
    assert_eq!(state.dispatches.len(), 2);
    assert_eq!(
        state.dispatches[1]["inputs"]["correlation_id"],
        "weft-d-2-api-1"
    );
    assert!(state.dispatches[1].get("return_run_details").is_none());
    let refused = state.seen.iter().filter(|s| s.status == 422).count();
    assert_eq!(refused, 2);
}

#[test]
fn repository_dispatch_checks_the_limits_before_sending() {
    let fake = FakeGitHub::start();
    let github = client(&fake, Some(TOKEN));
    github
        .repository_dispatch("acme/app", "deploy-requested", &json!({"version": "1.0"}))
        .unwrap();
    assert_eq!(
        fake.state.lock().unwrap().dispatches[0]["event_type"],
        "deploy-requested"
    );
    let too_many: serde_json::Map<String, serde_json::Value> =
        (0..11).map(|i| (format!("k{i}"), json!(i))).collect();
    let error = github
        .repository_dispatch("acme/app", "e", &serde_json::Value::Object(too_many))
        .unwrap_err();
    assert!(matches!(error, GitHubError::Limit { .. }), "{error}");
    // Nothing was sent for the refused one.
    assert_eq!(fake.seen().len(), 1);
}
