//! What the fake knows: repositories, runs, the rate-limit budget, what tests
//! switched on, and every request it saw. Handlers lock it briefly and never
//! across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

use super::rate_limit::{
    Budget, DEFAULT_LIMIT, SecondaryLimit, ServerErrors, UNAUTHENTICATED_LIMIT,
};
use super::repository::HostedRepository;
use super::run::Run;
use super::stored_issue::StoredIssue;
use super::workflow::Workflow;

pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the state; a test that panicked while holding it leaves it usable.
pub(crate) fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The query string without its `?`, if there was one.
    pub query: Option<String>,
    /// Whether an `Authorization` header was sent, whatever its value.
    pub authorization: bool,
    pub status: u16,
}

/// A run created by a workflow dispatch, with what GitHub does not return
/// on a run object: the dispatch's `inputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchedRun {
    pub id: u64,
    pub job_id: u64,
    /// `owner/name`.
    pub repository: String,
    /// The workflow's file name.
    pub workflow: String,
    pub head_branch: String,
    pub inputs: Map<String, Value>,
    pub status: &'static str,
    pub conclusion: Option<&'static str>,
}

/// A `repository_dispatch` event the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryDispatch {
    /// `owner/name`.
    pub repository: String,
    pub event_type: String,
    pub client_payload: Value,
}

/// A log download URL handed out by a 302.
#[derive(Debug)]
pub(crate) struct LogGrant {
    pub(crate) job_id: u64,
    pub(crate) expires: Instant,
}

#[derive(Debug)]
pub(crate) struct State {
    /// The API root, `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    pub(crate) tokens: Vec<String>,
    pub(crate) repositories: Vec<HostedRepository>,
    pub(crate) runs: Vec<Run>,
    pub(crate) run_details_supported: bool,
    pub(crate) core: Budget,
    pub(crate) unauthenticated: Budget,
    pub(crate) secondary: Option<SecondaryLimit>,
    pub(crate) server_errors: Vec<ServerErrors>,
    pub(crate) log_grants: HashMap<String, LogGrant>,
    pub(crate) log_url_lifetime: Duration,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) repository_dispatches: Vec<RepositoryDispatch>,
    /// Issues and pull requests of every repository.
    pub(crate) issues: Vec<StoredIssue>,
    pub(crate) denials: Vec<Denial>,
    pub(crate) ids: Ids,
}

/// Requests under `prefix` lack `permission` (`actions=read`): 403.
#[derive(Debug, Clone)]
pub(crate) struct Denial {
    pub(crate) prefix: String,
    pub(crate) permission: String,
}

/// Hands out numbers for ids that only need to differ.
#[derive(Debug, Default)]
pub(crate) struct Ids(u64);

impl Ids {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

impl State {
    pub(crate) fn new(base: String, token: &str) -> State {
        let now = SystemTime::now();
        State {
            base,
            tokens: vec![token.to_string()],
            repositories: Vec::new(),
            runs: Vec::new(),
            run_details_supported: true,
            core: Budget::new(DEFAULT_LIMIT, now),
            unauthenticated: Budget::new(UNAUTHENTICATED_LIMIT, now),
            secondary: None,
            server_errors: Vec::new(),
            log_grants: HashMap::new(),
            log_url_lifetime: Duration::from_secs(60),
            requests: Vec::new(),
            repository_dispatches: Vec::new(),
            issues: Vec::new(),
            denials: Vec::new(),
            ids: Ids::default(),
        }
    }

    /// A fresh number, for ids that only need to differ.
    pub(crate) fn next_number(&mut self) -> u64 {
        self.ids.next()
    }

    /// Adds `workflow` to a hosted repository, replacing one of the same
    /// file; false when there is no such repository.
    pub(crate) fn add_workflow(&mut self, full_name: &str, workflow: Workflow) -> bool {
        let id = 61_000_000 + self.next_number();
        let Some((owner, name)) = full_name.split_once('/') else {
            return false;
        };
        let Some(hosted) = self.repository_mut(owner, name) else {
            return false;
        };
        let workflows = &mut hosted.repository.workflows;
        match workflows.iter().position(|w| w.file == workflow.file) {
            Some(index) => workflows[index] = workflow,
            None => {
                workflows.push(workflow);
                hosted.workflow_ids.push(id);
            }
        }
        true
    }

    /// Owner and name are matched without regard to case, as GitHub does.
    pub(crate) fn repository(&self, owner: &str, name: &str) -> Option<&HostedRepository> {
        self.repositories.iter().find(|r| {
            r.repository.owner.eq_ignore_ascii_case(owner)
                && r.repository.name.eq_ignore_ascii_case(name)
        })
    }

    pub(crate) fn repository_mut(
        &mut self,
        owner: &str,
        name: &str,
    ) -> Option<&mut HostedRepository> {
        self.repositories.iter_mut().find(|r| {
            r.repository.owner.eq_ignore_ascii_case(owner)
                && r.repository.name.eq_ignore_ascii_case(name)
        })
    }

    /// How many issues and pull requests of `full_name` are open.
    pub(crate) fn open_issues(&self, full_name: &str) -> usize {
        self.issues
            .iter()
            .filter(|i| i.repository == full_name && i.closed.is_none())
            .count()
    }

    pub(crate) fn dispatched_run(&self, run: &Run, now: Instant) -> DispatchedRun {
        DispatchedRun {
            id: run.id,
            job_id: run.job_id,
            repository: run.repository.clone(),
            workflow: run.workflow_file.clone(),
            head_branch: run.head_branch.clone(),
            inputs: run.inputs.clone(),
            status: run.phase(now).as_str(),
            conclusion: run.conclusion_at(now),
        }
    }
}
