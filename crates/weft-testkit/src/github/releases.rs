//! A hosted repository's releases: the `release` object and
//! `GET /repos/{owner}/{repo}/releases`, newest first.

use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::clock::rfc3339;
use super::error::ApiError;
use super::paging::Page;
use super::repository::HTML_ROOT;
use super::state::{Shared, lock};
use super::user::User;

const LIST_DOCS: &str = "https://docs.github.com/rest/releases/releases#list-releases";

#[derive(Debug, Clone)]
pub(crate) struct HostedRelease {
    pub(crate) id: u64,
    pub(crate) tag: String,
    pub(crate) created: SystemTime,
    pub(crate) draft: bool,
    pub(crate) prerelease: bool,
    pub(crate) target: String,
    pub(crate) author: User,
}

impl HostedRelease {
    /// The `release` object; a draft has no `published_at`.
    pub(crate) fn json(&self, base: &str, full_name: &str) -> Value {
        let api = format!("{base}/repos/{full_name}/releases/{}", self.id);
        let created = rfc3339(self.created);
        let tag = &self.tag;
        json!({
            "url": api,
            "html_url": format!("{HTML_ROOT}/{full_name}/releases/tag/{tag}"),
            "assets_url": format!("{api}/assets"),
            "upload_url": format!(
                "https://uploads.github.com/repos/{full_name}/releases/{}/assets{{?name,label}}",
                self.id
            ),
            "tarball_url": format!("{base}/repos/{full_name}/tarball/{tag}"),
            "zipball_url": format!("{base}/repos/{full_name}/zipball/{tag}"),
            "id": self.id,
            "node_id": format!("RE_kwDO{:010X}", self.id),
            "tag_name": tag,
            "target_commitish": self.target,
            "name": tag,
            "body": format!("Release {tag}"),
            "draft": self.draft,
            "prerelease": self.prerelease,
            "immutable": false,
            "created_at": created,
            "published_at": (!self.draft).then_some(&created),
            "updated_at": created,
            "author": self.author.json(base),
            "assets": [],
        })
    }
}

/// `GET /repos/{owner}/{repo}/releases`: newest first, paged.
pub(crate) async fn list_releases(
    State(shared): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&query);
    let state = lock(&shared);
    let hosted = state
        .repository(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(LIST_DOCS))?;
    let full_name = hosted.repository.full_name();
    let mut releases: Vec<&HostedRelease> = hosted.releases.iter().collect();
    releases.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    let total = releases.len();
    let items = page
        .slice(releases)
        .into_iter()
        .map(|r| r.json(&state.base, &full_name))
        .collect();
    let url = format!("{}/repos/{owner}/{repo}/releases", state.base);
    Ok(page.respond(items, total, &url, &query))
}
