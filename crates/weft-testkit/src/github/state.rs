//! What the fake knows: repositories, runs, the rate-limit budget, what tests
//! switched on, and every request it saw. Handlers lock it briefly and never
//! across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};

use super::issues::StoredIssue;
use super::rate_limit::{
    Budget, DEFAULT_LIMIT, SecondaryLimit, ServerErrors, UNAUTHENTICATED_LIMIT,
};
use super::repository::{HostedRepository, Repository};
use super::run::Run;
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
    pub(crate) issues: Vec<StoredIssue>,
    next_id: u64,
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
            next_id: 0,
        }
    }

    /// A fresh number, for ids that only need to differ.
    pub(crate) fn next_number(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Hosts `repository`, replacing one of the same name.
    pub(crate) fn add_repository(&mut self, repository: Repository) {
        let full_name = repository.full_name();
        self.repositories
            .retain(|r| !r.repository.full_name().eq_ignore_ascii_case(&full_name));
        let known = self
            .repositories
            .iter()
            .find(|r| r.repository.owner.eq_ignore_ascii_case(&repository.owner))
            .map(|r| r.owner_id);
        let owner_id = match known {
            Some(id) => id,
            None => 9_100_000 + self.next_number(),
        };
        let id = 700_000_000 + self.next_number();
        let workflow_ids = (0..repository.workflows.len())
            .map(|_| 61_000_000 + self.next_number())
            .collect();
        self.repositories.push(HostedRepository {
            id,
            owner_id,
            repository,
            workflow_ids,
            created_at: SystemTime::now() - Duration::from_secs(86_400),
        });
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

    fn repository_mut(&mut self, owner: &str, name: &str) -> Option<&mut HostedRepository> {
        self.repositories.iter_mut().find(|r| {
            r.repository.owner.eq_ignore_ascii_case(owner)
                && r.repository.name.eq_ignore_ascii_case(name)
        })
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
