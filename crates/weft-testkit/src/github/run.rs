//! A workflow run and its one job: the status timeline and the `workflow-run`
//! and `job` objects.
//!
//! How it works: a run keeps the instant it was dispatched; its status is
//! computed on every read from the time elapsed since, so a run moves from
//! `queued` (the first quarter of its duration) to `in_progress` to
//! `completed` without any background task, and `updated_at` is the wall
//! time of the last move. A past run (a fixture's) is `completed` from the
//! start, its times counted from its `dispatched_at` in the past.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};

use super::clock::{rfc3339, whole_second};
use super::repository::{HTML_ROOT, HostedRepository};
use super::user::user_json;
use super::workflow::Conclusion;

/// The login and id of the user behind every accepted token.
pub(crate) const ACTOR: (&str, u64) = ("weft-bot", 583_231);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Queued,
    InProgress,
    Completed,
}

impl Phase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::InProgress => "in_progress",
            Phase::Completed => "completed",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) id: u64,
    pub(crate) job_id: u64,
    pub(crate) run_number: u64,
    pub(crate) repository: String,
    pub(crate) workflow_id: u64,
    pub(crate) workflow_file: String,
    pub(crate) workflow_name: String,
    pub(crate) head_branch: String,
    pub(crate) head_sha: String,
    pub(crate) inputs: Map<String, Value>,
    pub(crate) display_title: String,
    pub(crate) conclusion: Conclusion,
    pub(crate) duration: Duration,
    pub(crate) dispatched: Instant,
    pub(crate) dispatched_at: SystemTime,
    pub(crate) log: String,
    /// `workflow_dispatch`, or a past run's event.
    pub(crate) event: String,
    pub(crate) job_name: String,
    /// A run that completed before its repository was added: always
    /// `completed`, timed from `dispatched_at` alone.
    pub(crate) past: bool,
}

impl Run {
    pub(crate) fn phase(&self, now: Instant) -> Phase {
        if self.past {
            return Phase::Completed;
        }
        let elapsed = now.saturating_duration_since(self.dispatched);
        if elapsed >= self.duration {
            Phase::Completed
        } else if elapsed >= self.duration / 4 {
            Phase::InProgress
        } else {
            Phase::Queued
        }
    }

    /// The conclusion, once completed.
    pub(crate) fn conclusion_at(&self, now: Instant) -> Option<&'static str> {
        (self.phase(now) == Phase::Completed).then(|| self.conclusion.as_str())
    }

    pub(crate) fn created_at(&self) -> SystemTime {
        whole_second(self.dispatched_at)
    }

    fn started_at(&self) -> SystemTime {
        self.dispatched_at + self.duration / 4
    }

    fn completed_at(&self) -> SystemTime {
        self.dispatched_at + self.duration
    }

    fn updated_at(&self, now: Instant) -> SystemTime {
        match self.phase(now) {
            Phase::Queued => self.dispatched_at,
            Phase::InProgress => self.started_at(),
            Phase::Completed => self.completed_at(),
        }
    }

    fn api_url(&self, base: &str) -> String {
        format!("{base}/repos/{}/actions/runs/{}", self.repository, self.id)
    }

    pub(crate) fn html_url(&self) -> String {
        format!("{HTML_ROOT}/{}/actions/runs/{}", self.repository, self.id)
    }

    /// The `workflow-run` object.
    pub(crate) fn json(&self, base: &str, repository: &HostedRepository, now: Instant) -> Value {
        let api = format!("{base}/repos/{}", self.repository);
        let url = self.api_url(base);
        let created = rfc3339(self.created_at());
        let actor = user_json(base, ACTOR.0, ACTOR.1);
        let minimal = repository.minimal_json(base);
        let mut object = json!({
            "id": self.id,
            "name": self.workflow_name,
            "node_id": format!("WFR_kwLO{:010X}", self.id),
            "head_branch": self.head_branch,
            "head_sha": self.head_sha,
            "path": format!(".github/workflows/{}", self.workflow_file),
            "display_title": self.display_title,
            "run_number": self.run_number,
            "event": self.event,
            "status": self.phase(now).as_str(),
            "conclusion": self.conclusion_at(now),
            "workflow_id": self.workflow_id,
            "check_suite_id": self.id + 1_000_000,
            "check_suite_node_id": format!("CS_kwDO{:010X}", self.id + 1_000_000),
            "url": url,
            "html_url": self.html_url(),
            "pull_requests": [],
            "created_at": created,
            "updated_at": rfc3339(self.updated_at(now)),
        });
        let links = json!({
            "actor": actor,
            "run_attempt": 1,
            "referenced_workflows": [],
            "run_started_at": created,
            "triggering_actor": actor,
            "jobs_url": format!("{url}/jobs"),
            "logs_url": format!("{url}/logs"),
            "check_suite_url": format!("{api}/check-suites/{}", self.id + 1_000_000),
            "artifacts_url": format!("{url}/artifacts"),
            "cancel_url": format!("{url}/cancel"),
            "rerun_url": format!("{url}/rerun"),
            "previous_attempt_url": null,
            "workflow_url": format!("{api}/actions/workflows/{}", self.workflow_id),
            "head_commit": {
                "id": self.head_sha,
                "tree_id": super::repository::object_id(&format!("tree {}", self.head_sha)),
                "message": format!("Update {}", self.workflow_file),
                "timestamp": rfc3339(if self.past { self.created_at() } else { repository.created_at }),
                "author": {"name": "Weft Bot", "email": "weft-bot@example.com"},
                "committer": {"name": "GitHub", "email": "noreply@github.com"},
            },
            "repository": minimal,
            "head_repository": minimal,
            "head_repository_id": repository.id,
        });
        if let (Value::Object(object), Value::Object(links)) = (&mut object, links) {
            object.extend(links);
        }
        object
    }

    /// The run's one `job` object.
    pub(crate) fn job_json(&self, base: &str, now: Instant) -> Value {
        let phase = self.phase(now);
        let api = format!("{base}/repos/{}", self.repository);
        let created = rfc3339(self.created_at());
        let started = match phase {
            Phase::Queued => created.clone(),
            _ => rfc3339(self.started_at()),
        };
        let completed = (phase == Phase::Completed).then(|| rfc3339(self.completed_at()));
        let runner = phase != Phase::Queued;
        json!({
            "id": self.job_id,
            "run_id": self.id,
            "workflow_name": self.workflow_name,
            "head_branch": self.head_branch,
            "run_url": self.api_url(base),
            "run_attempt": 1,
            "node_id": format!("CR_kwDO{:010X}", self.job_id),
            "head_sha": self.head_sha,
            "url": format!("{api}/actions/jobs/{}", self.job_id),
            "html_url": format!("{}/job/{}", self.html_url(), self.job_id),
            "status": phase.as_str(),
            "conclusion": self.conclusion_at(now),
            "created_at": created,
            "started_at": started,
            "completed_at": completed,
            "name": self.job_name,
            "steps": self.steps_json(phase, &started, completed.as_deref()),
            "check_run_url": format!("{api}/check-runs/{}", self.job_id),
            "labels": ["ubuntu-latest"],
            "runner_id": runner.then_some(2),
            "runner_name": runner.then_some("GitHub Actions 2"),
            "runner_group_id": runner.then_some(2),
            "runner_group_name": runner.then_some("GitHub Actions"),
        })
    }

    fn steps_json(&self, phase: Phase, started: &str, completed: Option<&str>) -> Value {
        if phase == Phase::Queued {
            return json!([]);
        }
        let main = format!("Run {}", self.workflow_name);
        let (main_status, main_conclusion, last_status, last_conclusion) = match phase {
            Phase::Completed => (
                "completed",
                Some(self.conclusion.as_str()),
                "completed",
                Some("success"),
            ),
            _ => ("in_progress", None, "queued", None),
        };
        json!([
            {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1,
             "started_at": started, "completed_at": started},
            {"name": main, "status": main_status, "conclusion": main_conclusion, "number": 2,
             "started_at": started, "completed_at": completed},
            {"name": "Complete job", "status": last_status, "conclusion": last_conclusion, "number": 3,
             "started_at": completed, "completed_at": completed},
        ])
    }

    /// The job log's text: the workflow's, or a few lines saying how it went.
    pub(crate) fn log_text(&self) -> String {
        if !self.log.is_empty() {
            return self.log.clone();
        }
        let at = rfc3339(self.started_at());
        let at = at.trim_end_matches('Z');
        format!(
            "{at}.0000000Z Requested labels: ubuntu-latest\n\
             {at}.0000000Z ##[group]Run {name}\n\
             {at}.0000000Z {name} on {branch}\n\
             {at}.0000000Z ##[endgroup]\n\
             {at}.0000000Z Conclusion: {conclusion}\n",
            name = self.workflow_name,
            branch = self.head_branch,
            conclusion = self.conclusion.as_str(),
        )
    }
}
