//! A hosted repository's branches: `GET /repos/{owner}/{repo}/branches`
//! (`short-branch` objects), one branch (`branch-with-protection`), and
//! deleting one through `DELETE /repos/{owner}/{repo}/git/refs/heads/{branch}`.

use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::paging::{Page, param};
use super::repository::{HTML_ROOT, HostedRepository};
use super::state::{Shared, lock};
use super::user::User;

const LIST_DOCS: &str = "https://docs.github.com/rest/branches/branches#list-branches";
const GET_DOCS: &str = "https://docs.github.com/rest/branches/branches#get-a-branch";
const DELETE_DOCS: &str = "https://docs.github.com/rest/git/refs#delete-a-reference";

#[derive(Debug, Clone)]
pub(crate) struct HostedBranch {
    pub(crate) name: String,
    /// The head commit, one of the repository's commits.
    pub(crate) sha: String,
    pub(crate) protected: bool,
    /// Who pushed it: a pull request's author, else the owner.
    pub(crate) pusher: User,
    /// When it was created, for its `CreateEvent`.
    pub(crate) created: SystemTime,
}

/// A branch deleted through the API, for its `DeleteEvent`.
#[derive(Debug, Clone)]
pub(crate) struct DeletedBranch {
    pub(crate) name: String,
    pub(crate) at: SystemTime,
}

impl HostedBranch {
    /// The `short-branch` object.
    fn json(&self, base: &str, full_name: &str) -> Value {
        let api = format!("{base}/repos/{full_name}");
        let mut object = json!({
            "name": self.name,
            "commit": {"sha": self.sha, "url": format!("{api}/commits/{}", self.sha)},
            "protected": self.protected,
        });
        if self.protected {
            object["protection_url"] =
                Value::String(format!("{api}/branches/{}/protection", self.name));
        }
        object
    }
}

/// `GET /repos/{owner}/{repo}/branches`: by name, paged; `protected=true`
/// or `false` keeps those.
pub(crate) async fn list_branches(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&query);
    let protected = param(&query, "protected").map(|p| p == "true");
    let state = lock(&shared);
    let hosted = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(LIST_DOCS))?;
    let full_name = hosted.repository.full_name();
    let mut branches: Vec<&HostedBranch> = hosted
        .branches
        .iter()
        .filter(|b| protected.is_none_or(|p| b.protected == p))
        .collect();
    branches.sort_by(|a, b| a.name.cmp(&b.name));
    let total = branches.len();
    let items = page
        .slice(branches)
        .into_iter()
        .map(|b| b.json(&state.base, &full_name))
        .collect();
    let url = format!("{}/repos/{owner}/{repo}/branches", state.base);
    Ok(page.respond(items, total, &url, &query))
}

/// `GET /repos/{owner}/{repo}/branches/{branch}`
pub(crate) async fn get_branch(
    State(shared): State<Shared>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let state = lock(&shared);
    let hosted = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(GET_DOCS))?;
    let found = hosted.branches.iter().find(|b| b.name == branch);
    let Some(found) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Branch not found",
            GET_DOCS,
        ));
    };
    let full_name = hosted.repository.full_name();
    let commit = hosted
        .commits
        .iter()
        .find(|c| c.sha == found.sha)
        .map(|c| c.json(&state.base, &full_name));
    let api = format!("{}/repos/{full_name}", state.base);
    let protection_url = format!("{api}/branches/{}/protection", found.name);
    Ok(Json(json!({
        "name": found.name,
        "commit": commit,
        "_links": {
            "self": format!("{api}/branches/{}", found.name),
            "html": format!("{HTML_ROOT}/{full_name}/tree/{}", found.name),
        },
        "protected": found.protected,
        "protection": {
            "enabled": found.protected,
            "required_status_checks": {
                "enforcement_level": if found.protected { "everyone" } else { "off" },
                "contexts": [],
                "checks": [],
            },
        },
        "protection_url": protection_url,
    }))
    .into_response())
}

/// `DELETE /repos/{owner}/{repo}/git/refs/heads/{branch}`: 204; 422
/// `Reference does not exist` for a branch it does not have, and refusals
/// for the default branch and protected ones.
pub(crate) async fn delete_branch(
    State(shared): State<Shared>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let mut state = lock(&shared);
    let hosted = state
        .repository_mut(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(DELETE_DOCS))?;
    let refuse = |message: &str| {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            message,
            DELETE_DOCS,
        ))
    };
    let Some(index) = hosted.branches.iter().position(|b| b.name == branch) else {
        return refuse("Reference does not exist");
    };
    if branch == hosted.repository.default_branch {
        return refuse("Cannot delete the default branch");
    }
    if hosted.branches[index].protected {
        return refuse("Cannot delete this protected branch");
    }
    let removed = hosted.branches.remove(index);
    hosted.deleted_branches.push(DeletedBranch {
        name: removed.name,
        at: SystemTime::now(),
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

impl HostedRepository {
    /// Whether the branch exists now.
    pub(crate) fn has_branch(&self, branch: &str) -> bool {
        self.branches.iter().any(|b| b.name == branch)
    }
}
