//! What tests read back of issues and pull requests.

use super::stored_issue::StoredIssue;

/// An issue as a test reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `owner/name`.
    pub repository: String,
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub open: bool,
    /// `completed`, `not_planned`… when closed.
    pub state_reason: Option<String>,
    /// The comments' bodies, oldest first.
    pub comments: Vec<String>,
}

/// A pull request as a test reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullState {
    /// `owner/name`.
    pub repository: String,
    pub number: u64,
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub draft: bool,
    /// Who closed it, when closed.
    pub closed_by: Option<String>,
    pub labels: Vec<String>,
    /// The comments' bodies, oldest first.
    pub comments: Vec<String>,
    /// The head branch's name.
    pub head: String,
}

impl StoredIssue {
    pub(crate) fn view(&self) -> Issue {
        Issue {
            repository: self.repository.clone(),
            number: self.number,
            title: self.title.clone(),
            body: self.body.clone(),
            labels: self.labels.clone(),
            open: self.closed.is_none(),
            state_reason: self.closed.as_ref().map(|c| c.reason.to_string()),
            comments: self.comments.iter().map(|c| c.body.clone()).collect(),
        }
    }

    /// `None` for a plain issue.
    pub(crate) fn pull_view(&self) -> Option<PullState> {
        let pull = self.pull.as_ref()?;
        Some(PullState {
            repository: self.repository.clone(),
            number: self.number,
            title: self.title.clone(),
            state: self.state().to_string(),
            merged: pull.merged.is_some(),
            draft: pull.draft,
            closed_by: self.closed.as_ref().map(|c| c.by.login.clone()),
            labels: self.labels.clone(),
            comments: self.comments.iter().map(|c| c.body.clone()).collect(),
            head: pull.head.clone(),
        })
    }
}
