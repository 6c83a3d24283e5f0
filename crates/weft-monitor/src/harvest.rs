//! One repository's collection: what GitHub has that the store does not.
//!
//! How it works: every list is asked for newest first, its first page with
//! the ETag of the last collection, so an unchanged list is one free 304
//! and nothing after it is asked for. A changed list is paged only until
//! what the stored cursor says was seen before. Per-item calls are made
//! only for what changed: a pull request's or issue's timeline when its
//! `updated_at` moved, a failed run's jobs and logs once, a branch head's
//! commit once per sha. The work is blocking (one thread per repository),
//! and every call goes through the client's shared rate-limit budget.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use weft_github::{Fetched, GitHub, GitHubError};
use weft_store::MonitorItem;

use crate::analyze::analyze;
use crate::items::{
    Activity, BranchItem, EventItem, JobItem, LogState, ReleaseItem, RepositoryItem, RunItem,
    ThreadItem, millis,
};
use crate::rules::RuleSet;

/// What the events API keeps: 300 events, 30 days.
pub const EVENTS_WINDOW: usize = 300;
/// Unmatched failure templates kept per job.
const UNMATCHED_KEPT: usize = 5;

/// What the store knows of a repository before its collection.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub cursors: HashMap<String, String>,
    /// Pull request or issue number → the `updated_at` its timeline was
    /// read at.
    pub threads: HashMap<String, i64>,
    /// Runs (id, attempt) whose failed jobs were analysed.
    pub runs_done: HashSet<(u64, u64)>,
    /// Commit sha → its time.
    pub commits: HashMap<String, i64>,
    /// Branch names stored.
    pub branches: HashSet<String>,
}

/// What one repository's collection found.
#[derive(Debug, Clone, Default)]
pub struct Harvest {
    pub repository: String,
    pub items: Vec<MonitorItem>,
    pub cursors: Vec<(String, String, String)>,
    /// Branches that are gone.
    pub removed_branches: Vec<String>,
    /// Lists that were unchanged (304).
    pub unchanged: usize,
    /// Lists that changed.
    pub changed: usize,
    /// Failed jobs whose logs were analysed.
    pub logs: usize,
    /// The events API's window may have dropped events between this
    /// collection and the last: runs and pull requests fill the gap.
    pub events_overflowed: bool,
}

impl Harvest {
    fn item(&mut self, kind: &str, key: impl ToString, at: i64, body: Value) {
        self.items.push(MonitorItem {
            repository: self.repository.clone(),
            kind: kind.to_string(),
            key: key.to_string(),
            at,
            body,
        });
    }

    fn cursor(&mut self, stream: &str, value: impl ToString) {
        self.cursors.push((
            self.repository.clone(),
            stream.to_string(),
            value.to_string(),
        ));
    }

    fn count<T>(&mut self, fetched: &Fetched<T>) {
        if fetched.is_fresh() {
            self.changed += 1;
        } else {
            self.unchanged += 1;
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Collects `repository` from `since` (Unix ms) on. Without
/// `advance_cursors` (a `--since` window, which may not reach back to
/// where the last collection stopped) the cursors stay where they were.
pub fn harvest(
    github: &GitHub,
    repository: &str,
    known: &Known,
    since: i64,
    rules: &RuleSet,
    advance_cursors: bool,
) -> Result<Harvest, GitHubError> {
    let mut harvest = Harvest {
        repository: repository.to_string(),
        ..Harvest::default()
    };
    let cursor = |stream: &str| known.cursors.get(stream).cloned();

    let fetched = github.get(&format!("/repos/{repository}"))?;
    harvest.count(&fetched);
    let fresh = fetched.is_fresh();
    let info = RepositoryItem::from_github(&fetched.into_inner());
    if fresh {
        harvest.item("repository", "", info.pushed_at, json(&info));
    }

    events(github, repository, cursor("events"), since, &mut harvest)?;
    runs(github, repository, known, since, rules, &mut harvest)?;
    for (stream, path) in [
        (
            "pulls",
            format!("/repos/{repository}/pulls?state=all&sort=updated&direction=desc&per_page=100"),
        ),
        (
            "issues",
            format!(
                "/repos/{repository}/issues?state=all&sort=updated&direction=desc&per_page=100"
            ),
        ),
    ] {
        threads(
            github,
            repository,
            stream,
            &path,
            known,
            since,
            &mut harvest,
        )?;
    }
    open_pulls(github, repository, known, &mut harvest)?;
    branches(github, repository, &info, known, &mut harvest)?;
    releases(github, repository, &mut harvest)?;
    if !advance_cursors {
        harvest.cursors.clear();
    }
    Ok(harvest)
}

/// The events API, newest first, until the last collection's newest.
fn events(
    github: &GitHub,
    repository: &str,
    cursor: Option<String>,
    since: i64,
    harvest: &mut Harvest,
) -> Result<(), GitHubError> {
    let seen: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
    let fetched = github.get_pages(
        &format!("/repos/{repository}/events?per_page=100"),
        None,
        |page| {
            page.last().is_some_and(|e| {
                EventItem::from_github(e).number() > seen && millis(&e["created_at"]) >= since
            })
        },
    )?;
    harvest.count(&fetched);
    let Fetched::Fresh(events) = fetched else {
        return Ok(());
    };
    let events: Vec<EventItem> = events.iter().map(EventItem::from_github).collect();
    let newest = events.iter().map(EventItem::number).max().unwrap_or(seen);
    let oldest = events.iter().min_by_key(|e| e.number());
    // All the API holds was read and it still did not reach back to what
    // was seen (or to the window's start): events were dropped in between.
    harvest.events_overflowed =
        events.len() >= EVENTS_WINDOW && oldest.is_some_and(|e| e.number() > seen && e.at > since);
    for event in events.iter().filter(|e| e.number() > seen && e.at >= since) {
        harvest.item("event", &event.id, event.at, json(event));
    }
    harvest.cursor("events", newest.max(seen));
    Ok(())
}

/// Workflow runs, newest first, back to the oldest run that was not yet
/// completed at the last collection (or the window's start); the jobs and
/// logs of each failed run, once.
fn runs(
    github: &GitHub,
    repository: &str,
    known: &Known,
    since: i64,
    rules: &RuleSet,
    harvest: &mut Harvest,
) -> Result<(), GitHubError> {
    let back_to: i64 = known
        .cursors
        .get("runs")
        .and_then(|c| c.parse().ok())
        .unwrap_or(since)
        .max(since);
    let fetched = github.get_pages(
        &format!("/repos/{repository}/actions/runs?per_page=100"),
        Some("workflow_runs"),
        |page| {
            page.last()
                .is_some_and(|run| millis(&run["created_at"]) >= back_to)
        },
    )?;
    harvest.count(&fetched);
    let Fetched::Fresh(runs) = fetched else {
        return Ok(());
    };
    let mut runs: Vec<RunItem> = runs
        .iter()
        .map(RunItem::from_github)
        .filter(|run| run.created_at >= since)
        .collect();
    // The next collection reaches back to the oldest run still going, so
    // its end is seen; with none, to the newest run.
    let next_cursor = runs
        .iter()
        .filter(|run| !run.is_completed())
        .map(|run| run.created_at)
        .min()
        .or_else(|| runs.iter().map(|run| run.created_at).max())
        .unwrap_or(back_to);
    for run in &mut runs {
        if run.failed() {
            if known.runs_done.contains(&(run.id, run.attempt)) {
                run.jobs_fetched = true;
            } else {
                run.jobs_fetched = failed_jobs(github, repository, run, rules, harvest)?;
            }
        }
        let at = run.created_at;
        harvest.item("run", run.id, at, json(&*run));
    }
    harvest.cursor("runs", next_cursor);
    Ok(())
}

/// The failed jobs of `run`, each log analysed; whether every log was read
/// (one not there yet is tried again next time).
fn failed_jobs(
    github: &GitHub,
    repository: &str,
    run: &RunItem,
    rules: &RuleSet,
    harvest: &mut Harvest,
) -> Result<bool, GitHubError> {
    let jobs = github.get_all(
        &format!(
            "/repos/{repository}/actions/runs/{}/jobs?filter=latest",
            run.id
        ),
        Some("jobs"),
    )?;
    let mut complete = true;
    for job in &jobs {
        let conclusion = job["conclusion"].as_str();
        if !matches!(conclusion, Some("failure" | "timed_out")) {
            continue;
        }
        let id = job["id"].as_u64().unwrap_or(0);
        let name = job["name"].as_str().unwrap_or_default().to_string();
        let (log, findings, unmatched) = match github.job_log(repository, id)? {
            Some(text) => {
                let label = format!("{repository} {} / {name}", run.name);
                let analysis = analyze(rules, &label, text.as_bytes()).unwrap_or_default();
                harvest.logs += 1;
                let unmatched = analysis
                    .unmatched
                    .iter()
                    .take(UNMATCHED_KEPT)
                    .map(|u| (u.template.clone(), u.count))
                    .collect();
                (LogState::Analysed, analysis.findings, unmatched)
            }
            None => {
                complete = false;
                (LogState::Unavailable, Vec::new(), Vec::new())
            }
        };
        let item = JobItem {
            id,
            run_id: run.id,
            name,
            conclusion: conclusion.map(str::to_string),
            html_url: job["html_url"].as_str().unwrap_or_default().to_string(),
            completed_at: millis(&job["completed_at"]).max(run.updated_at),
            log,
            findings,
            unmatched,
        };
        harvest.item("job", id, run.created_at, json(&item));
    }
    Ok(complete)
}

/// Pull requests or issues, most recently updated first, back to the last
/// collection's newest update; the timeline of each that changed.
fn threads(
    github: &GitHub,
    repository: &str,
    stream: &str,
    path: &str,
    known: &Known,
    since: i64,
    harvest: &mut Harvest,
) -> Result<(), GitHubError> {
    let back_to: i64 = known
        .cursors
        .get(stream)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let fetched = github.get_pages(path, None, |page| {
        page.last().is_some_and(|item| {
            let updated = millis(&item["updated_at"]);
            updated >= back_to && updated >= since
        })
    })?;
    harvest.count(&fetched);
    let Fetched::Fresh(list) = fetched else {
        return Ok(());
    };
    let kind = if stream == "pulls" { "pull" } else { "issue" };
    let mut newest = back_to;
    for value in &list {
        // The issues list holds pull requests too; they are collected as pulls.
        if kind == "issue" && value.get("pull_request").is_some() {
            continue;
        }
        let thread = ThreadItem::from_github(value);
        newest = newest.max(thread.updated_at);
        if thread.is_open() || thread.updated_at >= since {
            thread_item(github, repository, kind, thread, known, harvest)?;
        }
    }
    harvest.cursor(stream, newest);
    Ok(())
}

/// Every open pull request, however long untouched (the stale ones are
/// exactly those the updated-first list never reaches), each page asked
/// for with its ETag.
fn open_pulls(
    github: &GitHub,
    repository: &str,
    known: &Known,
    harvest: &mut Harvest,
) -> Result<(), GitHubError> {
    let fetched = github.get_all_cached(&format!("/repos/{repository}/pulls?state=open"), None)?;
    harvest.count(&fetched);
    let Fetched::Fresh(list) = fetched else {
        return Ok(());
    };
    for value in &list {
        let thread = ThreadItem::from_github(value);
        let done = harvest
            .items
            .iter()
            .any(|i| i.kind == "pull" && i.key == thread.number.to_string());
        if !done {
            thread_item(github, repository, "pull", thread, known, harvest)?;
        }
    }
    Ok(())
}

/// Stores `thread` with its timeline, read again only when its
/// `updated_at` moved since the last read.
fn thread_item(
    github: &GitHub,
    repository: &str,
    kind: &str,
    mut thread: ThreadItem,
    known: &Known,
    harvest: &mut Harvest,
) -> Result<(), GitHubError> {
    let key = format!("{kind}:{}", thread.number);
    if known.threads.get(&key).copied() == Some(thread.updated_at) {
        return Ok(());
    }
    let timeline = github.get_all(
        &format!("/repos/{repository}/issues/{}/timeline", thread.number),
        None,
    )?;
    thread.activity = timeline
        .iter()
        .filter_map(Activity::from_timeline)
        .collect();
    thread.timeline_at = Some(thread.updated_at);
    harvest.item(kind, thread.number, thread.updated_at, json(&thread));
    Ok(())
}

/// Every branch, with its head commit's time (one call per new sha).
fn branches(
    github: &GitHub,
    repository: &str,
    info: &RepositoryItem,
    known: &Known,
    harvest: &mut Harvest,
) -> Result<(), GitHubError> {
    // Sorted by name, not by change: every page is asked for with its ETag.
    let fetched = github.get_all_cached(&format!("/repos/{repository}/branches"), None)?;
    harvest.count(&fetched);
    let Fetched::Fresh(list) = fetched else {
        return Ok(());
    };
    let mut names = BTreeMap::new();
    for value in &list {
        let name = value["name"].as_str().unwrap_or_default().to_string();
        let sha = value["commit"]["sha"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let committed_at = match known.commits.get(&sha) {
            Some(at) => *at,
            None if name == info.default_branch => info.pushed_at,
            None => {
                // A sha never changes: asked for once, not cached.
                let commit = github.get_uncached(&format!("/repos/{repository}/commits/{sha}"))?;
                let at = millis(&commit["commit"]["committer"]["date"])
                    .max(millis(&commit["commit"]["author"]["date"]));
                harvest.item("commit", &sha, at, serde_json::json!({"at": at}));
                at
            }
        };
        let branch = BranchItem {
            protected: value["protected"].as_bool().unwrap_or(false),
            name: name.clone(),
            sha,
            committed_at,
        };
        harvest.item("branch", &name, committed_at, json(&branch));
        names.insert(name, ());
    }
    harvest.removed_branches = known
        .branches
        .iter()
        .filter(|name| !names.contains_key(*name))
        .cloned()
        .collect();
    Ok(())
}

/// The newest page of releases (cadence needs the latest few).
fn releases(github: &GitHub, repository: &str, harvest: &mut Harvest) -> Result<(), GitHubError> {
    let fetched = github.get_pages(
        &format!("/repos/{repository}/releases?per_page=100"),
        None,
        |_| false,
    )?;
    harvest.count(&fetched);
    let Fetched::Fresh(list) = fetched else {
        return Ok(());
    };
    for value in &list {
        let release = ReleaseItem::from_github(value);
        if release.draft {
            continue;
        }
        harvest.item("release", release.id, release.published_at, json(&release));
    }
    Ok(())
}
