//! Past runs listed with dispatched ones, filtered, with their jobs and logs.

use std::time::Duration;

use serde_json::{Value, json};

use super::{HOUR, about, ago, descending, ecosystem, encode, ok};
use crate::github::{get, get_url, post};

#[test]
fn past_runs_are_listed_with_dispatched_ones_and_filtered_as_github_does() {
    let github = ecosystem();
    let body = json!({"ref": "main", "return_run_details": true}).to_string();
    let dispatched = post(
        &github,
        "/repos/eco/lib/actions/workflows/deploy.yml/dispatches",
        &body,
    );
    let dispatched = dispatched.json()["workflow_run_id"].as_u64().unwrap();
    let runs = |query: &str| -> Vec<Value> {
        let path = format!("/repos/eco/lib/actions/runs?{query}");
        let body = ok(&github, &path);
        let runs = body["workflow_runs"].as_array().unwrap().clone();
        assert_eq!(body["total_count"], runs.len(), "{query}");
        runs
    };
    let all = runs("");
    assert_eq!(all.len(), 4);
    assert_eq!(all[0]["id"], dispatched);
    let names: Vec<&str> = all.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            ".github/workflows/deploy.yml",
            ".github/workflows/ci.yml",
            ".github/workflows/ci.yml",
            ".github/workflows/nightly.yml"
        ]
    );
    let created: Vec<String> = all
        .iter()
        .map(|r| r["created_at"].as_str().unwrap().to_string())
        .collect();
    assert!(descending(&created), "{created:?}");
    about(&all[1]["created_at"], 3 * HOUR);
    about(
        &all[1]["updated_at"],
        3 * HOUR - Duration::from_secs(5 * 60),
    );
    assert_eq!(all[1]["status"], "completed");
    assert_eq!(all[1]["conclusion"], "failure");
    assert_eq!(all[1]["event"], "push");
    assert_eq!(all[3]["conclusion"], "timed_out");
    assert_eq!(all[3]["head_branch"], "feature/fresh");
    assert_eq!(all[1]["run_number"], 2, "the older ci.yml run is the first");
    assert_eq!(all[1]["workflow_id"], all[2]["workflow_id"]);

    let ids = |query: &str| -> Vec<Value> { runs(query).iter().map(|r| r["id"].clone()).collect() };
    assert_eq!(ids("status=failure"), [all[1]["id"].clone()]);
    assert_eq!(ids("status=timed_out"), [all[3]["id"].clone()]);
    assert_eq!(
        ids("status=completed").len(),
        3,
        "the dispatched run is not done"
    );
    assert_eq!(ids("event=schedule"), [all[3]["id"].clone()]);
    assert_eq!(ids("event=push").len(), 2);
    assert_eq!(ids("event=workflow_dispatch"), [json!(dispatched)]);
    assert_eq!(ids("branch=feature%2Ffresh"), [all[3]["id"].clone()]);
    let since = encode(&format!(">={}", ago(4 * HOUR)));
    assert_eq!(ids(&format!("created={since}")).len(), 2);
    let until = encode(&format!("<={}", ago(4 * HOUR)));
    assert_eq!(ids(&format!("created={until}")).len(), 2);
    let newer = encode(&format!(">{}", ago(40 * HOUR)));
    assert_eq!(ids(&format!("created={newer}")).len(), 3);
    let range = format!("{}..{}", ago(40 * HOUR), ago(20 * HOUR));
    assert_eq!(ids(&format!("created={range}")), [all[2]["id"].clone()]);
    let day = &created[3][..10];
    let on_that_day = runs(&format!("created={day}"));
    assert!(on_that_day.iter().any(|r| r["id"] == all[3]["id"]));
    assert!(
        on_that_day
            .iter()
            .all(|r| r["created_at"].as_str().unwrap().starts_with(day))
    );

    let failed = all[1]["id"].as_u64().unwrap();
    let jobs = ok(
        &github,
        &format!("/repos/eco/lib/actions/runs/{failed}/jobs"),
    );
    let job = &jobs["jobs"][0];
    assert_eq!(job["name"], "test");
    assert_eq!(job["conclusion"], "failure");
    assert!(job["html_url"].as_str().unwrap().contains("/job/"));
    let failures: Vec<&Value> = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["conclusion"] == "failure")
        .collect();
    assert_eq!(failures.len(), 1);
    let job_id = job["id"].as_u64().unwrap();
    let redirect = get(
        &github,
        &format!("/repos/eco/lib/actions/jobs/{job_id}/logs"),
    );
    assert_eq!(redirect.status, 302);
    let log = get_url(redirect.header("location").unwrap(), &[]);
    assert_eq!(log.text, "error: boom\n");
}
