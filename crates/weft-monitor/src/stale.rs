//! Stale pull requests and branches: the analysis and the actions it
//! calls for, planned from the collected items and then (unless it is a
//! dry run) carried out exactly as planned.
//!
//! Staleness counts from the last *human* activity: the author opening it,
//! commits, comments, reviews, label changes by people. A bot's activity
//! and weft's own stale label and comments never reset it. A pull request
//! is labelled and told when it becomes stale; weft keeps when it did that
//! in the store, and closes it `days_until_close` days later unless a
//! person did something since, in which case the label comes off. A
//! branch is stale when it was merged through a pull request, or never
//! was in one, and its head commit is older than the threshold; it is
//! deleted `days_until_close` days after that. The default branch,
//! protected branches and the branches of open pull requests are never
//! touched.

use std::collections::HashMap;

use serde::Serialize;
use weft_github::{GitHub, GitHubError};

use crate::items::{ThreadItem, WEFT_MARKER};
use crate::settings::{DAY_MS, StaleSettings};
use crate::snapshot::RepositoryData;

/// One thing the stale job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StaleAction {
    /// Marks a pull request stale, with a comment saying when it closes.
    Mark {
        repository: String,
        number: u64,
        label: String,
        comment: String,
    },
    /// A person was active since it was marked: the label comes off.
    Unmark {
        repository: String,
        number: u64,
        label: String,
    },
    /// Closes a pull request marked long enough ago, with a comment.
    Close {
        repository: String,
        number: u64,
        comment: String,
    },
    /// Deletes a branch whose head is `sha`; checked again on GitHub first.
    DeleteBranch {
        repository: String,
        branch: String,
        sha: String,
    },
}

impl StaleAction {
    pub fn repository(&self) -> &str {
        match self {
            StaleAction::Mark { repository, .. }
            | StaleAction::Unmark { repository, .. }
            | StaleAction::Close { repository, .. }
            | StaleAction::DeleteBranch { repository, .. } => repository,
        }
    }

    /// One line for people: `label acme/api#7 stale`.
    pub fn describe(&self) -> String {
        match self {
            StaleAction::Mark {
                repository,
                number,
                label,
                ..
            } => format!("label {repository}#{number} `{label}` and comment"),
            StaleAction::Unmark {
                repository,
                number,
                label,
            } => format!("remove `{label}` from {repository}#{number} (a person was active)"),
            StaleAction::Close {
                repository, number, ..
            } => format!("comment on and close {repository}#{number}"),
            StaleAction::DeleteBranch {
                repository, branch, ..
            } => format!("delete branch {branch} of {repository}"),
        }
    }
}

/// A stale pull request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StalePull {
    pub repository: String,
    pub number: u64,
    pub title: String,
    pub url: String,
    pub author: String,
    /// Days since the last human activity.
    pub days_inactive: i64,
    /// RFC 3339.
    pub last_human_activity: String,
    pub labels: Vec<String>,
    /// When weft marked it stale (RFC 3339), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marked_at: Option<String>,
    /// When it will be closed, if nothing happens (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes_at: Option<String>,
}

/// A stale branch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaleBranch {
    pub repository: String,
    pub name: String,
    pub days_inactive: i64,
    pub last_commit: String,
    /// `merged` (through pull request `pull`) or `no_pull_request`.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull: Option<u64>,
    pub url: String,
}

/// The seed's `summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StaleSummary {
    pub total_stale_prs: usize,
    pub total_stale_branches: usize,
    pub oldest_pr_days: i64,
    pub oldest_branch_days: i64,
}

/// `stale_analysis.json`: the seed's shape, and the actions planned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaleAnalysis {
    pub timestamp: String,
    /// The repository when there is one; `null` for several (see
    /// `repositories`).
    pub repository: Option<String>,
    pub repositories: Vec<String>,
    pub summary: StaleSummary,
    pub stale_prs: Vec<StalePull>,
    pub stale_branches: Vec<StaleBranch>,
    pub recommendations: Vec<String>,
    pub actions: Vec<StaleAction>,
    pub dry_run: bool,
}

fn rfc3339(ms: i64) -> String {
    weft_store::time::rfc3339(ms)
}

/// When weft marked each pull request stale: the store's record, else the
/// last time the stale label was put on.
pub type Marks = HashMap<(String, u64), i64>;

/// Plans the stale job over `repositories` at `now`.
pub fn analyse<'a>(
    repositories: impl IntoIterator<Item = &'a RepositoryData>,
    settings: &StaleSettings,
    marks: &Marks,
    now: i64,
    dry_run: bool,
) -> StaleAnalysis {
    let mut analysis = StaleAnalysis {
        timestamp: rfc3339(now),
        repository: None,
        repositories: Vec::new(),
        summary: StaleSummary::default(),
        stale_prs: Vec::new(),
        stale_branches: Vec::new(),
        recommendations: Vec::new(),
        actions: Vec::new(),
        dry_run,
    };
    for data in repositories {
        analysis.repositories.push(data.name.clone());
        for pull in data.pulls.iter().filter(|p| p.is_open()) {
            pull_verdict(data, pull, settings, marks, now, &mut analysis);
        }
        branches(data, settings, now, &mut analysis);
    }
    if analysis.repositories.len() == 1 {
        analysis.repository = analysis.repositories.first().cloned();
    }
    let s = &mut analysis.summary;
    s.total_stale_prs = analysis.stale_prs.len();
    s.total_stale_branches = analysis.stale_branches.len();
    s.oldest_pr_days = analysis
        .stale_prs
        .iter()
        .map(|p| p.days_inactive)
        .max()
        .unwrap_or(0);
    s.oldest_branch_days = analysis
        .stale_branches
        .iter()
        .map(|b| b.days_inactive)
        .max()
        .unwrap_or(0);
    analysis.recommendations = recommendations(&analysis, settings);
    analysis
}

/// Whether `pull` can never be stale (its labels, draft, milestone or
/// assignees, as the settings say).
pub(crate) fn exempt(pull: &ThreadItem, settings: &StaleSettings) -> bool {
    pull.labels
        .iter()
        .any(|l| settings.exempt_labels.contains(l))
        || (settings.exempt_drafts && pull.draft)
        || (settings.exempt_milestones && pull.milestone)
        || (settings.exempt_assignees && pull.assignees > 0)
}

fn pull_verdict(
    data: &RepositoryData,
    pull: &ThreadItem,
    settings: &StaleSettings,
    marks: &Marks,
    now: i64,
    analysis: &mut StaleAnalysis,
) {
    let label = &settings.label;
    let (days_stale, days_close) = settings.thresholds(&pull.labels);
    let last = pull.last_human_activity(label);
    let labelled = pull.labels.contains(label);
    let marked = marks
        .get(&(data.name.clone(), pull.number))
        .copied()
        .or_else(|| {
            labelled
                .then(|| {
                    pull.activity
                        .iter()
                        .filter(|a| a.kind == "labeled" && a.label.as_deref() == Some(label))
                        .map(|a| a.at)
                        .max()
                })
                .flatten()
        });
    let repository = data.name.clone();
    // A person was active since it was marked, or it became exempt: the
    // label comes off.
    let exempted = exempt(pull, settings);
    if labelled && marked.is_some_and(|m| last > m || exempted) {
        analysis.actions.push(StaleAction::Unmark {
            repository,
            number: pull.number,
            label: label.clone(),
        });
        return;
    }
    if exempted {
        return;
    }
    let idle = now - last;
    if idle < i64::from(days_stale) * DAY_MS {
        return;
    }
    let closes_at = |from: i64| from + i64::from(days_close) * DAY_MS;
    let mut stale = StalePull {
        repository: repository.clone(),
        number: pull.number,
        title: pull.title.clone(),
        url: pull.html_url.clone(),
        author: pull.author.clone(),
        days_inactive: idle / DAY_MS,
        last_human_activity: rfc3339(last),
        labels: pull.labels.clone(),
        marked_at: None,
        closes_at: None,
    };
    match marked.filter(|_| labelled) {
        None => {
            stale.closes_at = (days_close > 0).then(|| rfc3339(closes_at(now)));
            analysis.actions.push(StaleAction::Mark {
                repository,
                number: pull.number,
                label: label.clone(),
                comment: mark_comment(idle / DAY_MS, days_close),
            });
        }
        Some(marked) => {
            stale.marked_at = Some(rfc3339(marked));
            if days_close > 0 {
                stale.closes_at = Some(rfc3339(closes_at(marked)));
                if now >= closes_at(marked) {
                    analysis.actions.push(StaleAction::Close {
                        repository,
                        number: pull.number,
                        comment: close_comment(idle / DAY_MS),
                    });
                }
            }
        }
    }
    analysis.stale_prs.push(stale);
}

fn mark_comment(days: i64, days_close: u32) -> String {
    let closing = if days_close > 0 {
        format!(
            " It will be closed in {days_close} days unless someone comments, reviews or pushes."
        )
    } else {
        String::new()
    };
    format!(
        "{WEFT_MARKER} stale -->\nThis pull request has had no activity from people for {days} \
         days, so it is marked stale.{closing}"
    )
}

fn close_comment(days: i64) -> String {
    format!(
        "{WEFT_MARKER} stale-close -->\nClosing: no activity from people for {days} days since \
         it was marked stale. Reopen it when work resumes."
    )
}

fn branches(
    data: &RepositoryData,
    settings: &StaleSettings,
    now: i64,
    analysis: &mut StaleAnalysis,
) {
    let default = data.default_branch();
    for branch in &data.branches {
        if branch.name == default || branch.protected || branch.committed_at == 0 {
            continue;
        }
        let pulls: Vec<&ThreadItem> = data
            .pulls
            .iter()
            .filter(|p| p.head == branch.name)
            .collect();
        if pulls.iter().any(|p| p.is_open()) {
            continue;
        }
        let merged = pulls.iter().find(|p| p.merged_at.is_some());
        let (reason, pull) = match (merged, pulls.is_empty()) {
            (Some(pull), _) => ("merged", Some(pull.number)),
            (None, true) => ("no_pull_request", None),
            // Closed without merging: someone may still want it.
            (None, false) => continue,
        };
        let idle = now - branch.committed_at;
        if idle < i64::from(settings.days_until_stale) * DAY_MS {
            continue;
        }
        analysis.stale_branches.push(StaleBranch {
            repository: data.name.clone(),
            name: branch.name.clone(),
            days_inactive: idle / DAY_MS,
            last_commit: rfc3339(branch.committed_at),
            reason: reason.to_string(),
            pull,
            url: format!("{}/tree/{}", data.html_url(), branch.name),
        });
        let due = i64::from(settings.days_until_stale) + i64::from(settings.days_until_close);
        if settings.delete_branches && idle >= due * DAY_MS {
            analysis.actions.push(StaleAction::DeleteBranch {
                repository: data.name.clone(),
                branch: branch.name.clone(),
                sha: branch.sha.clone(),
            });
        }
    }
}

fn recommendations(analysis: &StaleAnalysis, settings: &StaleSettings) -> Vec<String> {
    let mut out = Vec::new();
    if !analysis.stale_prs.is_empty() {
        out.push(format!(
            "Review the {} stale pull requests: finish, hand over or close them.",
            analysis.stale_prs.len()
        ));
    }
    let merged = analysis
        .stale_branches
        .iter()
        .filter(|b| b.reason == "merged")
        .count();
    if merged > 0 {
        out.push(format!(
            "{merged} merged branches are still there: turn on \"Automatically delete head \
             branches\" in the repositories' settings."
        ));
    }
    if !settings.delete_branches && !analysis.stale_branches.is_empty() {
        out.push(
            "Stale branches are listed but not deleted (`monitor.stale.delete_branches: false`)."
                .into(),
        );
    }
    out
}

/// What carrying out the plan did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    #[serde(flatten)]
    pub action: StaleAction,
    pub ok: bool,
    /// Why it was left undone: GitHub showed, when asked just before, that
    /// it is no longer safe (a branch with new commits or a pull request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Carries out `actions` in order; a failed one does not stop the rest.
pub fn execute(github: &GitHub, actions: &[StaleAction]) -> Vec<ActionOutcome> {
    actions
        .iter()
        .map(|action| {
            let mut skipped = None;
            let result: Result<(), GitHubError> = match action {
                StaleAction::Mark {
                    repository,
                    number,
                    label,
                    comment,
                } => github
                    .add_labels(repository, *number, std::slice::from_ref(label))
                    .and_then(|()| github.comment_issue(repository, *number, comment)),
                StaleAction::Unmark {
                    repository,
                    number,
                    label,
                } => github.remove_label(repository, *number, label),
                StaleAction::Close {
                    repository,
                    number,
                    comment,
                } => github
                    .comment_issue(repository, *number, comment)
                    .and_then(|()| github.close_pull(repository, *number)),
                StaleAction::DeleteBranch {
                    repository,
                    branch,
                    sha,
                } => match still_deletable(github, repository, branch, sha) {
                    Ok(None) => github.delete_branch(repository, branch),
                    Ok(Some(reason)) => {
                        skipped = Some(reason);
                        Ok(())
                    }
                    Err(error) => Err(error),
                },
            };
            ActionOutcome {
                action: action.clone(),
                ok: result.is_ok(),
                skipped,
                error: result.err().map(|e| e.to_string()),
            }
        })
        .collect()
}

/// Why `branch` must not be deleted after all, asked of GitHub just
/// before: its head moved since the analysis, or a pull request that is
/// open or was closed without merging comes from it (collection may not
/// have seen an old one). `None`: still safe.
fn still_deletable(
    github: &GitHub,
    repository: &str,
    branch: &str,
    sha: &str,
) -> Result<Option<String>, GitHubError> {
    let path = format!(
        "/repos/{repository}/branches/{}",
        weft_github::encode_path(branch)
    );
    let head = match github.get_uncached(&path) {
        Ok(head) => head,
        // Already gone: deleting it again is harmless.
        Err(GitHubError::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error),
    };
    if head["commit"]["sha"].as_str() != Some(sha) {
        return Ok(Some("it has new commits".to_string()));
    }
    let owner = repository.split('/').next().unwrap_or_default();
    let pulls = github.get_all(
        &format!(
            "/repos/{repository}/pulls?state=all&head={}",
            weft_github::encode(&format!("{owner}:{branch}"))
        ),
        None,
    )?;
    for pull in &pulls {
        let number = pull["number"].as_u64().unwrap_or(0);
        if pull["state"].as_str() == Some("open") {
            return Ok(Some(format!("pull request #{number} from it is open")));
        }
        if pull["merged_at"].is_null() {
            return Ok(Some(format!(
                "pull request #{number} from it was closed without merging"
            )));
        }
    }
    Ok(None)
}
