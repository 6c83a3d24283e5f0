//! A commit of a hosted repository (a branch's head, a pull request's
//! commits), its `commit` object and `GET /repos/{owner}/{repo}/commits/{ref}`.

use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::clock::rfc3339;
use super::error::ApiError;
use super::repository::{HTML_ROOT, object_id};
use super::state::{Shared, lock};
use super::user::User;

const COMMIT_DOCS: &str = "https://docs.github.com/rest/commits/commits#get-a-commit";
/// The shortest SHA prefix GitHub resolves.
const MIN_SHA_PREFIX: usize = 7;

#[derive(Debug, Clone)]
pub(crate) struct HostedCommit {
    pub(crate) sha: String,
    pub(crate) message: String,
    /// Author and committer both.
    pub(crate) author: User,
    pub(crate) at: SystemTime,
    pub(crate) parent: Option<String>,
}

impl HostedCommit {
    fn tree(&self) -> String {
        object_id(&format!("tree {}", self.sha))
    }

    fn parents_json(&self, base: &str, full_name: &str) -> Value {
        let parents: Vec<Value> = self
            .parent
            .iter()
            .map(|sha| {
                json!({
                    "sha": sha,
                    "url": format!("{base}/repos/{full_name}/commits/{sha}"),
                    "html_url": format!("{HTML_ROOT}/{full_name}/commit/{sha}"),
                })
            })
            .collect();
        Value::Array(parents)
    }

    /// The `commit` object of `GET /repos/{owner}/{repo}/commits/{ref}`.
    pub(crate) fn json(&self, base: &str, full_name: &str) -> Value {
        let api = format!("{base}/repos/{full_name}");
        let date = rfc3339(self.at);
        let git = self.author.git_json(&date);
        let user = self.author.json(base);
        json!({
            "url": format!("{api}/commits/{}", self.sha),
            "sha": self.sha,
            "node_id": format!("C_kwDO{}", &self.sha[..16]),
            "html_url": format!("{HTML_ROOT}/{full_name}/commit/{}", self.sha),
            "comments_url": format!("{api}/commits/{}/comments", self.sha),
            "commit": {
                "url": format!("{api}/git/commits/{}", self.sha),
                "author": git,
                "committer": git,
                "message": self.message,
                "comment_count": 0,
                "tree": {"sha": self.tree(), "url": format!("{api}/git/trees/{}", self.tree())},
                "verification": unverified(),
            },
            "author": user,
            "committer": user,
            "parents": self.parents_json(base, full_name),
            "stats": {"total": 2, "additions": 1, "deletions": 1},
            "files": [],
        })
    }

    /// The `committed` event of an issue's timeline: no actor, as GitHub's.
    pub(crate) fn timeline_json(&self, base: &str, full_name: &str) -> Value {
        let api = format!("{base}/repos/{full_name}");
        let date = rfc3339(self.at);
        let git = self.author.git_json(&date);
        json!({
            "event": "committed",
            "sha": self.sha,
            "node_id": format!("C_kwDO{}", &self.sha[..16]),
            "url": format!("{api}/git/commits/{}", self.sha),
            "html_url": format!("{HTML_ROOT}/{full_name}/commit/{}", self.sha),
            "author": git,
            "committer": git,
            "tree": {"sha": self.tree(), "url": format!("{api}/git/trees/{}", self.tree())},
            "message": self.message,
            "parents": self.parents_json(base, full_name),
            "verification": unverified(),
        })
    }
}

fn unverified() -> Value {
    json!({
        "verified": false,
        "reason": "unsigned",
        "signature": null,
        "payload": null,
        "verified_at": null,
    })
}

/// `GET /repos/{owner}/{repo}/commits/{ref}`: by SHA (seven digits or
/// more) or by a branch's name; 422 `No commit found for SHA: …` otherwise,
/// as GitHub answers.
pub(crate) async fn get_commit(
    State(shared): State<Shared>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let state = lock(&shared);
    let hosted = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(COMMIT_DOCS))?;
    let by_branch = hosted
        .branches
        .iter()
        .find(|b| b.name == reference)
        .map(|b| b.sha.as_str());
    let wanted = by_branch.unwrap_or(&reference).to_ascii_lowercase();
    let commit = hosted.commits.iter().find(|c| {
        c.sha == wanted || (wanted.len() >= MIN_SHA_PREFIX && c.sha.starts_with(&wanted))
    });
    let Some(commit) = commit else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("No commit found for SHA: {reference}"),
            COMMIT_DOCS,
        ));
    };
    let full_name = hosted.repository.full_name();
    Ok(Json(commit.json(&state.base, &full_name)).into_response())
}
