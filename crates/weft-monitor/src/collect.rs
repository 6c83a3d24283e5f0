//! `weft monitor collect`: every watched repository's activity into the
//! store.
//!
//! How it works: the repository patterns are resolved (an organisation
//! glob lists the organisation's repositories); the client is given the
//! answers cached by earlier collections with the same token; then up to
//! `concurrency` repositories are harvested at once on blocking threads,
//! all sharing the client's one rate-limit budget, and each repository's
//! items and cursors are written in one transaction as soon as it is done.
//! When the budget is spent for longer than the longest wait, no new
//! repository is started, the ones done are kept, and the run says what
//! it left out: the next collection picks up from the cursors.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use globset::Glob;
use serde::Serialize;
use weft_github::{CachedGet, GitHub, GitHubError};
use weft_store::{CachedAnswer, Store};

use crate::error::MonitorError;
use crate::harvest::{Harvest, Known, harvest};
use crate::items::{BranchItem, RepositoryItem};
use crate::rules::RuleSet;
use crate::settings::MonitorSettings;

/// What a collection did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CollectReport {
    pub collection: i64,
    pub repositories: Vec<String>,
    /// Requests sent, and how many of them GitHub answered 304.
    pub requests: u64,
    pub not_modified: u64,
    /// Items written to the store.
    pub items: usize,
    pub logs_analysed: usize,
    /// Repositories whose events window overflowed since the last
    /// collection (their runs and pull requests fill the gap).
    pub events_overflowed: Vec<String>,
    /// Repositories that could not be collected, with why.
    pub failed: Vec<RepositoryFailure>,
    /// Repositories left for the next collection: the rate limit would not
    /// reset within the longest wait.
    pub skipped: Vec<String>,
    /// Why the collection stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub rate_limit: weft_github::BudgetSnapshot,
    pub elapsed_ms: u64,
}

/// A repository that could not be collected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepositoryFailure {
    pub repository: String,
    pub error: String,
    /// The permission the token lacks, when that is why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

/// Progress, for a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Resolved {
        repositories: usize,
    },
    Collected {
        repository: String,
        done: usize,
        of: usize,
    },
}

/// What a collection is asked to do.
#[derive(Debug, Clone)]
pub struct CollectRequest {
    /// Patterns to collect instead of the settings' (`--repositories`).
    pub repositories: Option<Vec<String>>,
    /// How far back this collection reaches (`--since`); default: the
    /// stored cursors, or the window for a repository never collected.
    pub since: Option<Duration>,
}

/// Resolves `patterns` (`owner/name`, `owner/*`, `owner/prefix-*`) to
/// repositories, in order and without duplicates. Archived repositories
/// matched by a glob are left out; named ones are kept.
pub fn resolve_repositories(
    github: &GitHub,
    patterns: &[String],
) -> Result<Vec<String>, MonitorError> {
    let mut found = Vec::new();
    let mut listed: HashMap<String, Vec<RepositoryItem>> = HashMap::new();
    for pattern in patterns {
        let Some((owner, name)) = pattern.split_once('/') else {
            return Err(MonitorError::Pattern {
                pattern: pattern.clone(),
                message: "write `owner/name` or an organisation glob such as `acme/*`".into(),
            });
        };
        let is_glob = name.contains(['*', '?', '[']);
        if !is_glob {
            found.push(pattern.clone());
            continue;
        }
        let glob = Glob::new(name)
            .map_err(|error| MonitorError::Pattern {
                pattern: pattern.clone(),
                message: error.to_string(),
            })?
            .compile_matcher();
        if !listed.contains_key(owner) {
            // Each page asked with the last ETag: an unchanged list is free.
            let every = |path: String| github.get_all_cached(&path, None);
            let list = match every(format!("/orgs/{owner}/repos?type=all")) {
                Err(GitHubError::NotFound { .. }) => {
                    every(format!("/users/{owner}/repos?type=owner"))?
                }
                other => other?,
            }
            .into_inner();
            listed.insert(
                owner.to_string(),
                list.iter().map(RepositoryItem::from_github).collect(),
            );
        }
        let mut matched: Vec<&RepositoryItem> = listed[owner].iter().collect();
        matched.sort_by_key(|r| r.full_name.to_ascii_lowercase());
        for repository in matched {
            let short = repository.full_name.split_once('/').map_or("", |(_, n)| n);
            if glob.is_match(short) && !repository.archived {
                found.push(repository.full_name.clone());
            }
        }
    }
    let mut seen = BTreeSet::new();
    found.retain(|r| seen.insert(r.to_ascii_lowercase()));
    Ok(found)
}

/// Collects every repository of `request` (or the settings) into `store`.
pub async fn collect(
    store: &Store,
    github: &GitHub,
    settings: &MonitorSettings,
    rules: Arc<RuleSet>,
    request: &CollectRequest,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<CollectReport, MonitorError> {
    let started = std::time::Instant::now();
    let patterns = request
        .repositories
        .clone()
        .unwrap_or_else(|| settings.repositories.clone());
    if patterns.is_empty() {
        return Err(MonitorError::NoRepositories);
    }
    let cached = store
        .monitor_cached_answers(github.token_identity())
        .await?;
    github.preload(cached.into_iter().map(|a| CachedGet {
        url: a.url,
        etag: a.etag,
        body: a.body,
    }));
    let resolver = github.clone();
    let repositories =
        tokio::task::spawn_blocking(move || resolve_repositories(&resolver, &patterns))
            .await
            .map_err(|error| MonitorError::Internal(error.to_string()))??;
    progress(Progress::Resolved {
        repositories: repositories.len(),
    });
    let collection = store.monitor_start_collection().await?;
    let now = weft_store::time::now_ms();
    let since = request.since.map_or(now - settings.window_ms(), |since| {
        now - i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    });
    let mut report = CollectReport {
        collection,
        repositories: repositories.clone(),
        ..CollectReport::default()
    };
    let advance = request.since.is_none();
    let mut pending = repositories.iter();
    let mut running = tokio::task::JoinSet::new();
    let mut done = 0;
    loop {
        while report.stopped.is_none() && running.len() < settings.concurrency.max(1) {
            let Some(repository) = pending.next() else {
                break;
            };
            let known = known(store, repository).await?;
            let (github, rules, repository) = (github.clone(), rules.clone(), repository.clone());
            running.spawn_blocking(move || {
                let result = harvest(&github, &repository, &known, since, &rules, advance);
                if result.is_err() {
                    // What it read is not kept: the next collection must ask again.
                    github.forget(&format!("/repos/{repository}"));
                }
                (repository, result)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (repository, result) =
            joined.map_err(|error| MonitorError::Internal(error.to_string()))?;
        done += 1;
        match result {
            Ok(harvest) => write(store, &harvest, &mut report).await?,
            Err(GitHubError::RateLimited {
                reset_epoch,
                wait_secs,
                max_wait_secs,
            }) => {
                report.skipped.push(repository.clone());
                report.stopped = Some(format!(
                    "GitHub's rate limit is spent until {} ({wait_secs} s away, longer than the \
                     {max_wait_secs} s weft may wait): the rest is left for the next collection",
                    weft_store::time::rfc3339(i64::try_from(reset_epoch).unwrap_or(0) * 1000)
                ));
            }
            Err(error) => report.failed.push(RepositoryFailure {
                repository: repository.clone(),
                permission: match &error {
                    GitHubError::Forbidden { permission, .. } => permission.clone(),
                    _ => None,
                },
                error: error.to_string(),
            }),
        }
        progress(Progress::Collected {
            repository,
            done,
            of: repositories.len(),
        });
    }
    report.skipped.extend(pending.cloned());
    // Only what changed is written back.
    let answers: Vec<CachedAnswer> = github
        .changed_answers()
        .into_iter()
        .map(|a| CachedAnswer {
            url: a.url,
            etag: a.etag,
            body: a.body,
        })
        .collect();
    store
        .monitor_cache_answers(github.token_identity(), &answers)
        .await?;
    let budget = github.budget();
    report.requests = budget.requests;
    report.not_modified = budget.not_modified;
    report.rate_limit = budget;
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    store
        .monitor_finish_collection(
            collection,
            &serde_json::json!({"collect": serde_json::to_value(&report).unwrap_or_default()}),
        )
        .await?;
    Ok(report)
}

/// What the store knows of `repository`.
async fn known(store: &Store, repository: &str) -> Result<Known, MonitorError> {
    let mut known = Known {
        cursors: store
            .monitor_cursors(repository)
            .await?
            .into_iter()
            .collect(),
        ..Known::default()
    };
    for kind in ["pull", "issue"] {
        for item in store.monitor_items(kind, Some(repository), 0).await? {
            let read_at = item.body["timeline_at"].as_i64();
            if let Some(read_at) = read_at {
                known
                    .threads
                    .insert(format!("{kind}:{}", item.key), read_at);
            }
        }
    }
    for item in store.monitor_items("run", Some(repository), 0).await? {
        if item.body["jobs_fetched"].as_bool() == Some(true) {
            let attempt = item.body["attempt"].as_u64().unwrap_or(1);
            known
                .runs_done
                .insert((item.key.parse().unwrap_or(0), attempt));
        }
    }
    for (sha, at) in store.monitor_keys(repository, "commit").await? {
        known.commits.insert(sha, at);
    }
    for item in store.monitor_items("branch", Some(repository), 0).await? {
        if let Ok(branch) = serde_json::from_value::<BranchItem>(item.body) {
            known.branches.insert(branch.name);
        }
    }
    Ok(known)
}

/// Writes one repository's harvest.
async fn write(
    store: &Store,
    harvest: &Harvest,
    report: &mut CollectReport,
) -> Result<(), MonitorError> {
    store.monitor_put(&harvest.items, &harvest.cursors).await?;
    store
        .monitor_remove(&harvest.repository, "branch", &harvest.removed_branches)
        .await?;
    report.items += harvest.items.len();
    report.logs_analysed += harvest.logs;
    if harvest.events_overflowed {
        report.events_overflowed.push(harvest.repository.clone());
    }
    Ok(())
}
