//! Issues, as weft's incident channel and the monitor's alerts use them:
//! the open issues of a repository with some labels, opening one,
//! commenting, updating its body, closing; labels on issues and pull
//! requests, and what the stale job does to pull requests and branches.
//!
//! Opening and commenting are not retried on a 5xx: GitHub may have done it
//! anyway, so the caller looks again before trying once more.

use serde_json::{Value, json};

use crate::client::GitHub;
use crate::error::GitHubError;
use crate::link::encode;

/// An issue of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueSummary {
    pub number: u64,
    pub title: String,
    /// Empty when the issue has none.
    pub body: String,
    pub html_url: String,
}

impl GitHub {
    /// The open issues (not pull requests) of `repository` that carry every
    /// one of `labels`, newest first.
    pub fn open_issues(
        &self,
        repository: &str,
        labels: &[String],
    ) -> Result<Vec<IssueSummary>, GitHubError> {
        let mut path = format!("/repos/{repository}/issues?state=open");
        if !labels.is_empty() {
            path.push_str("&labels=");
            path.push_str(&encode(&labels.join(",")));
        }
        let items = self.get_all(&path, None)?;
        Ok(items
            .iter()
            .filter(|item| item.get("pull_request").is_none())
            .filter_map(|item| {
                Some(IssueSummary {
                    number: item["number"].as_u64()?,
                    title: item["title"].as_str().unwrap_or_default().to_string(),
                    body: item["body"].as_str().unwrap_or_default().to_string(),
                    html_url: item["html_url"].as_str().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    /// Opens an issue; its number.
    pub fn open_issue(
        &self,
        repository: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<u64, GitHubError> {
        let path = format!("/repos/{repository}/issues");
        let asked = json!({"title": title, "body": body, "labels": labels});
        let (_, answer) = self.write("POST", &path, &asked, &[], false)?;
        answer
            .as_ref()
            .and_then(|a| a["number"].as_u64())
            .ok_or_else(|| GitHubError::Decode {
                path,
                message: "the new issue has no number".to_string(),
            })
    }

    /// Comments on an issue.
    pub fn comment_issue(
        &self,
        repository: &str,
        number: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let path = format!("/repos/{repository}/issues/{number}/comments");
        self.write("POST", &path, &json!({"body": body}), &[], false)?;
        Ok(())
    }

    /// Closes an issue as completed. Closing a closed issue changes nothing,
    /// so this one is retried.
    pub fn close_issue(&self, repository: &str, number: u64) -> Result<(), GitHubError> {
        let path = format!("/repos/{repository}/issues/{number}");
        let asked: Value = json!({"state": "closed", "state_reason": "completed"});
        self.write("PATCH", &path, &asked, &[], true)?;
        Ok(())
    }

    /// Replaces an issue's body (an alert that fired again: no new comment).
    pub fn update_issue_body(
        &self,
        repository: &str,
        number: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let path = format!("/repos/{repository}/issues/{number}");
        self.write("PATCH", &path, &json!({"body": body}), &[], true)?;
        Ok(())
    }

    /// Adds labels to an issue or pull request (adding one it has changes
    /// nothing, so this is retried).
    pub fn add_labels(
        &self,
        repository: &str,
        number: u64,
        labels: &[String],
    ) -> Result<(), GitHubError> {
        let path = format!("/repos/{repository}/issues/{number}/labels");
        self.write("POST", &path, &json!({"labels": labels}), &[], true)?;
        Ok(())
    }

    /// Takes a label off an issue or pull request; one it does not have is
    /// not an error.
    pub fn remove_label(
        &self,
        repository: &str,
        number: u64,
        label: &str,
    ) -> Result<(), GitHubError> {
        let path = format!(
            "/repos/{repository}/issues/{number}/labels/{}",
            encode(label)
        );
        self.delete(&path, &[404])?;
        Ok(())
    }

    /// Closes a pull request without merging it.
    pub fn close_pull(&self, repository: &str, number: u64) -> Result<(), GitHubError> {
        let path = format!("/repos/{repository}/pulls/{number}");
        self.write("PATCH", &path, &json!({"state": "closed"}), &[], true)?;
        Ok(())
    }

    /// Deletes a branch; one already gone is not an error, a refusal (a
    /// protected or default branch) is.
    pub fn delete_branch(&self, repository: &str, branch: &str) -> Result<(), GitHubError> {
        let path = format!("/repos/{repository}/git/refs/heads/{}", encode_path(branch));
        match self.delete(&path, &[404]) {
            Err(GitHubError::Rejected {
                status: 422,
                message,
                ..
            }) if message.contains("Reference does not exist") => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// A branch name in a path: each segment encoded, slashes kept.
pub fn encode_path(branch: &str) -> String {
    branch.split('/').map(encode).collect::<Vec<_>>().join("/")
}
