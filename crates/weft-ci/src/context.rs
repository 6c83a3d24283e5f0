//! The run a job belongs to: its triggers, the concurrency groups and
//! permissions that apply to it. For a job of a reusable workflow those come
//! partly from the job that calls it.

use crate::concurrency::Concurrency;
use crate::job_facts::JobFacts;
use crate::permissions::Permissions;
use crate::triggers::BranchSet;
use crate::workflow::{Job, Workflow};

/// A job as it runs: on its own, or called from another workflow's job.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobContext<'a> {
    /// The workflow the job is written in.
    pub workflow: &'a Workflow,
    pub job: &'a Job,
    pub facts: &'a JobFacts,
    /// The caller, when the job runs as part of a reusable workflow call.
    pub caller: Option<(&'a Workflow, &'a Job)>,
}

impl<'a> JobContext<'a> {
    /// The workflow whose run this is: the caller's, for a called workflow.
    pub(crate) fn run_workflow(&self) -> &'a Workflow {
        self.caller.map_or(self.workflow, |(workflow, _)| workflow)
    }

    /// The job that orders this one against its siblings (`needs`).
    pub(crate) fn run_job(&self) -> &'a Job {
        self.caller.map_or(self.job, |(_, job)| job)
    }

    /// The branches `github.ref` can name.
    pub(crate) fn refs(&self) -> &'a BranchSet {
        &self.run_workflow().triggers.refs
    }

    /// Job-level groups: these serialize the job against other jobs.
    pub(crate) fn job_groups(&self) -> Vec<&'a Concurrency> {
        let mut groups: Vec<&Concurrency> = self.job.concurrency.iter().collect();
        if let Some((_, caller)) = self.caller {
            groups.extend(caller.concurrency.iter());
        }
        groups
    }

    /// Every group that covers the job: its own, its workflow's, its caller's.
    pub(crate) fn groups(&self) -> Vec<&'a Concurrency> {
        let mut groups = self.job_groups();
        if self.caller.is_some() {
            groups.extend(self.workflow.concurrency.iter());
        }
        groups.extend(self.run_workflow().concurrency.iter());
        groups
    }

    /// The permissions in force: the job's, else its workflow's, else the
    /// caller job's, else the caller's workflow's.
    pub(crate) fn permissions(&self) -> Option<&'a Permissions> {
        self.job
            .permissions
            .as_ref()
            .or(self.workflow.permissions.as_ref())
            .or_else(|| self.caller.and_then(|(_, job)| job.permissions.as_ref()))
            .or_else(|| {
                self.caller
                    .and_then(|(workflow, _)| workflow.permissions.as_ref())
            })
    }

    /// The name a group's `${{ github.workflow }}` takes in this run.
    pub(crate) fn run_name(&self) -> &'a str {
        &self.run_workflow().name
    }

    /// Concurrency group keys and lock keys, for finding shared coordination.
    pub(crate) fn coordination_keys(&self, job_level_only: bool) -> Vec<String> {
        let groups = if job_level_only {
            self.job_groups()
        } else {
            self.groups()
        };
        let mut keys: Vec<String> = groups
            .iter()
            .map(|g| format!("group:{}", g.key(self.run_name())))
            .collect();
        keys.extend(
            self.facts
                .locks
                .iter()
                .filter_map(|(lock, _)| lock.key.as_ref().map(|k| format!("lock:{k}"))),
        );
        keys
    }
}
