//! What the store holds of each repository, read back into typed items:
//! the input of the health score, the failure list, the stale job and the
//! reports, which are pure functions of it.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use weft_store::Store;

use crate::error::MonitorError;
use crate::items::{
    BranchItem, EventItem, JobItem, ReleaseItem, RepositoryItem, RunItem, ThreadItem,
};

/// One repository's collected items.
#[derive(Debug, Clone, Default)]
pub struct RepositoryData {
    pub name: String,
    pub info: Option<RepositoryItem>,
    pub events: Vec<EventItem>,
    pub runs: Vec<RunItem>,
    pub jobs: Vec<JobItem>,
    pub pulls: Vec<ThreadItem>,
    pub issues: Vec<ThreadItem>,
    pub branches: Vec<BranchItem>,
    pub releases: Vec<ReleaseItem>,
}

impl RepositoryData {
    pub fn html_url(&self) -> String {
        self.info
            .as_ref()
            .map(|i| i.html_url.clone())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| format!("https://github.com/{}", self.name))
    }

    pub fn default_branch(&self) -> &str {
        self.info
            .as_ref()
            .map_or("main", |i| i.default_branch.as_str())
    }
}

/// Every repository's items, at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Unix ms the snapshot is evaluated at.
    pub now: i64,
    pub repositories: BTreeMap<String, RepositoryData>,
}

fn decode<T: DeserializeOwned>(body: serde_json::Value, what: &str) -> Result<T, MonitorError> {
    serde_json::from_value(body)
        .map_err(|error| MonitorError::Internal(format!("a stored {what} is unreadable: {error}")))
}

impl Snapshot {
    /// Reads the store's items (events, runs and jobs from `since` on;
    /// everything else whatever its age), keeping only `repositories` when
    /// given.
    pub async fn load(
        store: &Store,
        repositories: Option<&[String]>,
        since: i64,
        now: i64,
    ) -> Result<Snapshot, MonitorError> {
        let mut snapshot = Snapshot {
            now,
            repositories: BTreeMap::new(),
        };
        let wanted = |name: &str| {
            repositories.is_none_or(|list| list.iter().any(|r| r.eq_ignore_ascii_case(name)))
        };
        if let Some(list) = repositories {
            for name in list {
                snapshot.entry(name);
            }
        }
        for kind in [
            "repository",
            "event",
            "run",
            "job",
            "pull",
            "issue",
            "branch",
            "release",
        ] {
            let from = if matches!(kind, "event" | "run" | "job") {
                since
            } else {
                0
            };
            for item in store.monitor_items(kind, None, from).await? {
                if !wanted(&item.repository) {
                    continue;
                }
                let data = snapshot.entry(&item.repository);
                match kind {
                    "repository" => data.info = Some(decode(item.body, kind)?),
                    "event" => data.events.push(decode(item.body, kind)?),
                    "run" => data.runs.push(decode(item.body, kind)?),
                    "job" => data.jobs.push(decode(item.body, kind)?),
                    "pull" => data.pulls.push(decode(item.body, kind)?),
                    "issue" => data.issues.push(decode(item.body, kind)?),
                    "branch" => data.branches.push(decode(item.body, kind)?),
                    _ => data.releases.push(decode(item.body, kind)?),
                }
            }
        }
        Ok(snapshot)
    }

    fn entry(&mut self, name: &str) -> &mut RepositoryData {
        self.repositories
            .entry(name.to_string())
            .or_insert_with(|| RepositoryData {
                name: name.to_string(),
                ..RepositoryData::default()
            })
    }
}
