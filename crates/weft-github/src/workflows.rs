//! GitHub Actions: dispatching a workflow and finding *that* run, reading a
//! run, and `repository_dispatch` with GitHub's limits checked first.
//!
//! How a dispatch finds its run: it asks for `return_run_details`, which
//! GitHub answers with the run's id and URLs. A server that refuses the
//! field (400 or 422, as older GitHub Enterprise does) gets the dispatch
//! again without it, with a `correlation_id` input added; the run is then
//! the `workflow_dispatch` run on that ref whose title (the workflow's
//! `run-name`) holds the correlation id. Workflows that may run on such a
//! server declare the input and put it in `run-name`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{Fetched, GitHub};
use crate::error::GitHubError;
use crate::link::encode;

/// GitHub's limits on `repository_dispatch` and `workflow_dispatch`.
pub const MAX_EVENT_TYPE_CHARS: usize = 100;
pub const MAX_PAYLOAD_KEYS: usize = 10;
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
pub const MAX_WORKFLOW_INPUTS: usize = 25;

/// A workflow run, as far as weft reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_title: Option<String>,
    /// `queued`, `in_progress`, `completed`, …
    pub status: Option<String>,
    /// `success`, `failure`, `cancelled`, … once completed.
    pub conclusion: Option<String>,
    pub html_url: String,
    pub url: String,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub run_number: Option<u64>,
}

impl WorkflowRun {
    pub fn is_completed(&self) -> bool {
        self.status.as_deref() == Some("completed")
    }
}

/// A dispatched run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispatched {
    pub run_id: u64,
    pub html_url: String,
    pub api_url: String,
    /// Found by the correlation id, because the server did not return the
    /// run's details.
    pub correlated: bool,
}

/// What to dispatch.
#[derive(Debug, Clone)]
pub struct WorkflowDispatch<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    /// The workflow file (`deploy.yml`) or id.
    pub workflow: &'a str,
    /// The ref; `None` is the repository's default branch.
    pub git_ref: Option<&'a str>,
    pub inputs: &'a BTreeMap<String, String>,
    /// Unique to this dispatch; used when the server gives no run details.
    pub correlation_id: &'a str,
    /// How long to look for the run when it must be found by correlation.
    pub find_timeout: Duration,
}

/// Checks `repository_dispatch`'s limits before anything is sent.
pub fn check_repository_dispatch(event_type: &str, payload: &Value) -> Result<(), GitHubError> {
    if event_type.is_empty() || event_type.chars().count() > MAX_EVENT_TYPE_CHARS {
        return Err(GitHubError::Limit {
            what: format!("event type `{event_type}`"),
            limit: format!("1 to {MAX_EVENT_TYPE_CHARS} characters"),
        });
    }
    match payload {
        Value::Null => {}
        Value::Object(keys) => {
            if keys.len() > MAX_PAYLOAD_KEYS {
                return Err(GitHubError::Limit {
                    what: format!("client_payload with {} top-level keys", keys.len()),
                    limit: format!("at most {MAX_PAYLOAD_KEYS} top-level keys"),
                });
            }
            let size = payload.to_string().len();
            if size >= MAX_PAYLOAD_BYTES {
                return Err(GitHubError::Limit {
                    what: format!("client_payload of {size} bytes"),
                    limit: "less than 64 KB".to_string(),
                });
            }
        }
        _ => {
            return Err(GitHubError::Limit {
                what: "client_payload that is not an object".to_string(),
                limit: "a JSON object".to_string(),
            });
        }
    }
    Ok(())
}

/// Checks `workflow_dispatch`'s limit on inputs.
pub fn check_workflow_inputs(inputs: &BTreeMap<String, String>) -> Result<(), GitHubError> {
    if inputs.len() > MAX_WORKFLOW_INPUTS {
        return Err(GitHubError::Limit {
            what: format!("{} workflow inputs", inputs.len()),
            limit: format!("at most {MAX_WORKFLOW_INPUTS} inputs"),
        });
    }
    Ok(())
}

impl GitHub {
    /// The repository's default branch.
    pub fn default_branch(&self, repository: &str) -> Result<String, GitHubError> {
        let path = format!("/repos/{repository}");
        let body = self.get(&path)?.into_inner();
        body["default_branch"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| GitHubError::Decode {
                path,
                message: "no default_branch".to_string(),
            })
    }

    /// Starts a `workflow_dispatch` run and says which run it is.
    pub fn dispatch_workflow(
        &self,
        dispatch: &WorkflowDispatch<'_>,
    ) -> Result<Dispatched, GitHubError> {
        check_workflow_inputs(dispatch.inputs)?;
        let git_ref = match dispatch.git_ref {
            Some(git_ref) => git_ref.to_string(),
            None => self.default_branch(dispatch.repository)?,
        };
        let path = format!(
            "/repos/{}/actions/workflows/{}/dispatches",
            dispatch.repository, dispatch.workflow
        );
        let asked = json!({"ref": git_ref, "inputs": dispatch.inputs, "return_run_details": true});
        let (status, body) = self.post(&path, &asked, &[400, 422])?;
        if status == 200
            && let Some(body) = body
            && let Some(run_id) = body["workflow_run_id"].as_u64()
        {
            return Ok(Dispatched {
                run_id,
                html_url: body["html_url"].as_str().unwrap_or_default().to_string(),
                api_url: body["run_url"].as_str().unwrap_or_default().to_string(),
                correlated: false,
            });
        }
        // No details: dispatch (again, if it was refused) with the
        // correlation id and find the run by it.
        let since = Instant::now();
        if matches!(status, 400 | 422) {
            tracing::info!(%path, "the server does not return run details; finding the run by its correlation id");
            let mut inputs = dispatch.inputs.clone();
            inputs.insert(
                "correlation_id".to_string(),
                dispatch.correlation_id.to_string(),
            );
            check_workflow_inputs(&inputs)?;
            self.post(&path, &json!({"ref": git_ref, "inputs": inputs}), &[])?;
        }
        self.find_run(dispatch, &git_ref, since)
    }

    fn find_run(
        &self,
        dispatch: &WorkflowDispatch<'_>,
        git_ref: &str,
        since: Instant,
    ) -> Result<Dispatched, GitHubError> {
        let path = format!(
            "/repos/{}/actions/runs?event=workflow_dispatch&branch={}",
            dispatch.repository,
            encode(git_ref)
        );
        loop {
            let body = self.get(&path)?.into_inner();
            let found = body["workflow_runs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|run| serde_json::from_value::<WorkflowRun>(run.clone()).ok())
                .find(|run| {
                    run.display_title
                        .as_deref()
                        .into_iter()
                        .chain(run.name.as_deref())
                        .any(|title| title.contains(dispatch.correlation_id))
                });
            if let Some(run) = found {
                return Ok(Dispatched {
                    run_id: run.id,
                    html_url: run.html_url,
                    api_url: run.url,
                    correlated: true,
                });
            }
            if since.elapsed() >= dispatch.find_timeout {
                return Err(GitHubError::Rejected {
                    method: "GET".to_string(),
                    path,
                    status: 200,
                    message: format!(
                        "the dispatch was accepted, but no run titled with `{}` appeared within {} s; \
                         the workflow must declare a `correlation_id` input and use it in `run-name`",
                        dispatch.correlation_id,
                        dispatch.find_timeout.as_secs()
                    ),
                });
            }
            std::thread::sleep(self.poll_interval(Duration::from_secs(1), 1));
        }
    }

    /// A run, through the ETag cache: polling an unchanged run costs a 304.
    pub fn workflow_run(
        &self,
        repository: &str,
        run: u64,
    ) -> Result<Fetched<WorkflowRun>, GitHubError> {
        let path = format!("/repos/{repository}/actions/runs/{run}");
        let fetched = self.get(&path)?;
        let decode = |value: Value| {
            serde_json::from_value::<WorkflowRun>(value).map_err(|error| GitHubError::Decode {
                path: path.clone(),
                message: error.to_string(),
            })
        };
        Ok(match fetched {
            Fetched::Fresh(value) => Fetched::Fresh(decode(value)?),
            Fetched::NotModified(value) => Fetched::NotModified(decode(value)?),
        })
    }

    /// Sends a `repository_dispatch` event, its limits checked first.
    pub fn repository_dispatch(
        &self,
        repository: &str,
        event_type: &str,
        client_payload: &Value,
    ) -> Result<(), GitHubError> {
        check_repository_dispatch(event_type, client_payload)?;
        let mut body = json!({"event_type": event_type});
        if !client_payload.is_null() {
            body["client_payload"] = client_payload.clone();
        }
        self.post(&format!("/repos/{repository}/dispatches"), &body, &[])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_limits_are_checked_before_sending() {
        assert!(check_repository_dispatch("deploy", &json!({"a": 1})).is_ok());
        let long = "x".repeat(101);
        let error = check_repository_dispatch(&long, &Value::Null).unwrap_err();
        assert!(error.to_string().contains("1 to 100 characters"), "{error}");
        let many: serde_json::Map<String, Value> =
            (0..11).map(|i| (format!("k{i}"), json!(i))).collect();
        let error = check_repository_dispatch("e", &Value::Object(many)).unwrap_err();
        assert!(
            error.to_string().contains("at most 10 top-level keys"),
            "{error}"
        );
        let big = json!({"blob": "x".repeat(64 * 1024)});
        let error = check_repository_dispatch("e", &big).unwrap_err();
        assert!(error.to_string().contains("less than 64 KB"), "{error}");
        let inputs: BTreeMap<String, String> =
            (0..26).map(|i| (format!("i{i}"), String::new())).collect();
        assert!(check_workflow_inputs(&inputs).is_err());
    }

    #[test]
    fn refs_are_encoded() {
        assert_eq!(encode("release/1.0"), "release%2F1.0");
    }
}
