//! A workflow run that had completed before its repository was added.

use std::time::Duration;

use super::workflow::Conclusion;

/// A completed run of `.github/workflows/{file}`, listed with dispatched
/// runs, with one job and its log. The workflow need not be declared with
/// [`Repository::workflow`](super::Repository::workflow): one is made up
/// from the file name.
///
/// ```
/// use std::time::Duration;
/// use weft_testkit::github::{Conclusion, PastRun};
///
/// let run = PastRun::new("ci.yml")
///     .conclusion(Conclusion::Failure)
///     .age(Duration::from_secs(3 * 3600))
///     .log("error: linker `cc` not found\n");
/// ```
#[derive(Debug, Clone)]
pub struct PastRun {
    pub(crate) workflow_file: String,
    pub(crate) conclusion: Conclusion,
    pub(crate) age: Duration,
    pub(crate) duration: Duration,
    pub(crate) branch: Option<String>,
    pub(crate) event: String,
    pub(crate) log: String,
    pub(crate) job_name: String,
}

impl PastRun {
    /// A successful `push` run on the default branch, created an hour
    /// before the repository was added, that took five minutes; its job is
    /// `build`.
    pub fn new(workflow_file: &str) -> PastRun {
        PastRun {
            workflow_file: workflow_file.to_string(),
            conclusion: Conclusion::Success,
            age: Duration::from_secs(3600),
            duration: Duration::from_secs(300),
            branch: None,
            event: "push".to_string(),
            log: String::new(),
            job_name: "build".to_string(),
        }
    }

    pub fn conclusion(mut self, conclusion: Conclusion) -> PastRun {
        self.conclusion = conclusion;
        self
    }

    /// How long before the repository was added the run was created.
    pub fn age(mut self, age: Duration) -> PastRun {
        self.age = age;
        self
    }

    /// From creation to completion.
    pub fn duration(mut self, duration: Duration) -> PastRun {
        self.duration = duration;
        self
    }

    /// `head_branch` (the default branch unless set).
    pub fn branch(mut self, branch: &str) -> PastRun {
        self.branch = Some(branch.to_string());
        self
    }

    /// The triggering `event` (`push` unless set).
    pub fn event(mut self, event: &str) -> PastRun {
        self.event = event.to_string();
        self
    }

    /// The text of its job's log; by default a few lines saying how it went.
    pub fn log(mut self, text: &str) -> PastRun {
        self.log = text.to_string();
        self
    }

    /// Its job's `name`.
    pub fn job_name(mut self, name: &str) -> PastRun {
        self.job_name = name.to_string();
        self
    }
}
