//! A workflow file as a test sets it up: how long its runs take, how they
//! end, which inputs it declares and what its job logs say.

use std::time::Duration;

/// How a run of a [`Workflow`] or a [`PastRun`](super::PastRun) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
    TimedOut,
}

impl Conclusion {
    /// The value of a run's `conclusion` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
            Conclusion::TimedOut => "timed_out",
        }
    }
}

/// A workflow under `.github/workflows/`, dispatched by its file name or id.
///
/// A run is `queued` for the first quarter of `duration`, `in_progress` for
/// the rest, then `completed` with `conclusion`.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub(crate) file: String,
    pub(crate) name: String,
    pub(crate) duration: Duration,
    pub(crate) conclusion: Conclusion,
    pub(crate) inputs: Option<Vec<String>>,
    pub(crate) log: String,
}

impl Workflow {
    /// A workflow whose file is `.github/workflows/{file}`, named after the
    /// file's stem, whose runs take 400 ms and succeed.
    pub fn new(file: &str) -> Workflow {
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        Workflow {
            file: file.to_string(),
            name: stem.to_string(),
            duration: Duration::from_millis(400),
            conclusion: Conclusion::Success,
            inputs: None,
            log: String::new(),
        }
    }

    /// The workflow's `name:`, which its runs carry as `name` and, followed
    /// by any `correlation_id` input, as `display_title`.
    pub fn name(mut self, name: &str) -> Workflow {
        self.name = name.to_string();
        self
    }

    /// How long a run takes from dispatch to `completed`.
    pub fn duration(mut self, duration: Duration) -> Workflow {
        self.duration = duration;
        self
    }

    /// How runs end.
    pub fn conclusion(mut self, conclusion: Conclusion) -> Workflow {
        self.conclusion = conclusion;
        self
    }

    /// Declares the workflow's `on.workflow_dispatch.inputs`: a dispatch with
    /// any other input is refused with 422, as GitHub does. Without this, any
    /// input is taken.
    pub fn inputs<I, S>(mut self, names: I) -> Workflow
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inputs = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The text of each run's job log; by default a few lines naming the
    /// workflow and its conclusion.
    pub fn log(mut self, text: &str) -> Workflow {
        self.log = text.to_string();
        self
    }
}
