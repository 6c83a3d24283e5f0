//! Dispatching workflows and finding their runs; repository_dispatch.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use weft_github::{GitHubError, WorkflowDispatch};

use crate::client::{client, github, statuses};

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
    let fake = github(Duration::from_millis(300));
    let github = client(&fake, Some(fake.token()));
    let inputs: BTreeMap<String, String> = [("version".to_string(), "1.2.0".to_string())].into();
    let dispatched = github
        .dispatch_workflow(&dispatch(&inputs, "weft-d-1"))
        .unwrap();
    // GitHub named the run in its answer: no search by correlation.
    assert!(!dispatched.correlated);
    let sent = &fake.runs()[0];
    assert_eq!(sent.id, dispatched.run_id);
    assert!(
        dispatched
            .html_url
            .ends_with(&format!("/acme/app/actions/runs/{}", sent.id)),
        "{}",
        dispatched.html_url
    );
    // The default branch was asked for and dispatched on.
    assert_eq!(sent.head_branch, "main");
    assert_eq!(sent.inputs["version"], "1.2.0");
    assert!(!sent.inputs.contains_key("correlation_id"));
    let mut seen = Vec::new();
    let run = loop {
        let run = github
            .workflow_run("acme/app", dispatched.run_id)
            .unwrap()
            .into_inner();
        if seen.last() != run.status.as_ref() {
            seen.push(run.status.clone().unwrap());
        }
        if run.is_completed() {
            break run;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(seen, ["queued", "in_progress", "completed"]);
    assert_eq!(run.conclusion.as_deref(), Some("success"));
}

#[test]
fn without_run_details_the_run_is_found_by_its_correlation_id() {
    let fake = github(Duration::from_secs(5));
    fake.set_run_details_supported(false);
    let github = client(&fake, Some(fake.token()));
    let inputs = BTreeMap::new();
    // Another run on the branch first: it must not be taken for ours.
    github
        .dispatch_workflow(&dispatch(&inputs, "someone-else"))
        .unwrap();
    let dispatched = github
        .dispatch_workflow(&dispatch(&inputs, "weft-d-2-api-1"))
        .unwrap();
    assert!(dispatched.correlated);
    let runs = fake.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(dispatched.run_id, runs[1].id);
    assert_eq!(runs[1].inputs["correlation_id"], "weft-d-2-api-1");
    // Each dispatch was refused once with return_run_details, then sent with the input.
    let refused = statuses(&fake).iter().filter(|s| **s == 422).count();
    assert_eq!(refused, 2);
}

#[test]
fn repository_dispatch_checks_the_limits_before_sending() {
    let fake = github(Duration::from_secs(1));
    let github = client(&fake, Some(fake.token()));
    github
        .repository_dispatch("acme/app", "deploy-requested", &json!({"version": "1.0"}))
        .unwrap();
    let sent = fake.repository_dispatches();
    assert_eq!(sent[0].event_type, "deploy-requested");
    assert_eq!(sent[0].client_payload, json!({"version": "1.0"}));
    let too_many: serde_json::Map<String, serde_json::Value> =
        (0..11).map(|i| (format!("k{i}"), json!(i))).collect();
    let error = github
        .repository_dispatch("acme/app", "e", &serde_json::Value::Object(too_many))
        .unwrap_err();
    assert!(matches!(error, GitHubError::Limit { .. }), "{error}");
    // Nothing was sent for the refused one.
    assert_eq!(fake.requests(), 1);
}
