//! Small constructors for the monitor's items, at fixed times, so each test
//! states only what matters to it.

use weft_monitor::health::{Health, Probe};
use weft_monitor::items::{
    Activity, BranchItem, EventItem, JobItem, LogState, ReleaseItem, RepositoryItem, RunItem,
    ThreadItem, is_bot_login,
};
use weft_monitor::settings::DAY_MS;
use weft_monitor::snapshot::{RepositoryData, Snapshot};
use weft_monitor::{Finding, Severity};

/// The instant every test is evaluated at: 2027-01-15T08:00:00Z.
pub(crate) const NOW: i64 = 1_800_000_000_000;

pub(crate) const HOUR_MS: i64 = 3_600_000;

/// `days` before [`NOW`].
pub(crate) fn days_ago(days: i64) -> i64 {
    NOW - days * DAY_MS
}

/// A repository with nothing collected but its name.
pub(crate) fn repository(name: &str) -> RepositoryData {
    RepositoryData {
        name: name.to_string(),
        ..RepositoryData::default()
    }
}

/// The snapshot of `repositories` at [`NOW`].
pub(crate) fn snapshot(repositories: Vec<RepositoryData>) -> Snapshot {
    Snapshot {
        now: NOW,
        repositories: repositories
            .into_iter()
            .map(|data| (data.name.clone(), data))
            .collect(),
    }
}

/// A repository as the repositories API describes it.
pub(crate) fn info(name: &str, default_branch: &str, pushed_at: i64) -> RepositoryItem {
    RepositoryItem {
        full_name: name.to_string(),
        default_branch: default_branch.to_string(),
        archived: false,
        html_url: format!("https://github.com/{name}"),
        pushed_at,
    }
}

/// A completed workflow run that ended with `conclusion`.
pub(crate) fn run(id: u64, workflow: &str, conclusion: &str, created_at: i64) -> RunItem {
    RunItem {
        id,
        name: workflow.to_string(),
        html_url: format!("https://github.com/acme/api/actions/runs/{id}"),
        status: "completed".to_string(),
        conclusion: Some(conclusion.to_string()),
        head_branch: "main".to_string(),
        event: "push".to_string(),
        created_at,
        updated_at: created_at,
        attempt: 1,
        jobs_fetched: true,
    }
}

/// A failed job of run `run_id` whose log was analysed.
pub(crate) fn job(id: u64, run_id: u64, findings: Vec<Finding>) -> JobItem {
    JobItem {
        id,
        run_id,
        name: format!("job {id}"),
        conclusion: Some("failure".to_string()),
        html_url: format!("https://github.com/acme/api/actions/runs/{run_id}/job/{id}"),
        completed_at: 0,
        log: LogState::Analysed,
        findings,
        unmatched: Vec::new(),
    }
}

/// A finding of `rule` on line 1.
pub(crate) fn finding(rule: &str, severity: Severity, category: &str) -> Finding {
    Finding {
        rule: rule.to_string(),
        pattern: format!("{rule}-pattern"),
        category: category.to_string(),
        severity,
        file: "job.log".to_string(),
        line: 1,
        text: format!("error: {rule}"),
        context: Vec::new(),
        suggestions: vec![format!("fix {rule}")],
    }
}

fn thread(kind: &str, number: u64, author: &str, created_at: i64) -> ThreadItem {
    ThreadItem {
        number,
        title: format!("change {number}"),
        html_url: format!("https://github.com/acme/api/{kind}/{number}"),
        author: author.to_string(),
        author_bot: is_bot_login(author),
        state: "open".to_string(),
        draft: false,
        labels: Vec::new(),
        milestone: false,
        assignees: 0,
        head: String::new(),
        created_at,
        updated_at: created_at,
        closed_at: None,
        merged_at: None,
        timeline_at: Some(created_at),
        activity: Vec::new(),
    }
}

/// An open pull request by `author` (a bot when it ends in `[bot]`).
pub(crate) fn pull(number: u64, author: &str, created_at: i64) -> ThreadItem {
    thread("pull", number, author, created_at)
}

/// An open issue by `author`.
pub(crate) fn issue(number: u64, author: &str, created_at: i64) -> ThreadItem {
    thread("issues", number, author, created_at)
}

/// Changes to a thread, one at a time.
pub(crate) trait ThreadExt {
    fn with(self, activity: Activity) -> Self;
    fn labelled(self, labels: &[&str]) -> Self;
    fn head(self, branch: &str) -> Self;
    fn closed(self, at: i64) -> Self;
    fn merged(self, at: i64) -> Self;
}

impl ThreadExt for ThreadItem {
    fn with(mut self, activity: Activity) -> ThreadItem {
        self.activity.push(activity);
        self
    }

    fn labelled(mut self, labels: &[&str]) -> ThreadItem {
        self.labels = labels.iter().map(|l| (*l).to_string()).collect();
        self
    }

    fn head(mut self, branch: &str) -> ThreadItem {
        self.head = branch.to_string();
        self
    }

    fn closed(mut self, at: i64) -> ThreadItem {
        self.state = "closed".to_string();
        self.closed_at = Some(at);
        self
    }

    fn merged(self, at: i64) -> ThreadItem {
        let mut pull = self.closed(at);
        pull.merged_at = Some(at);
        pull
    }
}

fn activity(kind: &str, actor: &str, at: i64) -> Activity {
    Activity {
        kind: kind.to_string(),
        actor: actor.to_string(),
        bot: is_bot_login(actor),
        at,
        label: None,
        weft: false,
        url: String::new(),
    }
}

/// A comment by `actor` (a bot when it ends in `[bot]`).
pub(crate) fn comment(actor: &str, at: i64) -> Activity {
    activity("commented", actor, at)
}

/// A comment carrying weft's marker, posted with a person's token.
pub(crate) fn weft_comment(actor: &str, at: i64) -> Activity {
    Activity {
        weft: true,
        ..activity("commented", actor, at)
    }
}

pub(crate) fn review(actor: &str, at: i64) -> Activity {
    activity("reviewed", actor, at)
}

pub(crate) fn commit(author: &str, at: i64) -> Activity {
    activity("committed", author, at)
}

pub(crate) fn labeled(actor: &str, label: &str, at: i64) -> Activity {
    Activity {
        label: Some(label.to_string()),
        ..activity("labeled", actor, at)
    }
}

pub(crate) fn unlabeled(actor: &str, label: &str, at: i64) -> Activity {
    Activity {
        label: Some(label.to_string()),
        ..activity("unlabeled", actor, at)
    }
}

pub(crate) fn branch(name: &str, committed_at: i64) -> BranchItem {
    BranchItem {
        name: name.to_string(),
        sha: "5".repeat(40),
        protected: false,
        committed_at,
    }
}

pub(crate) fn release(tag: &str, published_at: i64) -> ReleaseItem {
    ReleaseItem {
        id: 1,
        tag: tag.to_string(),
        html_url: format!("https://github.com/acme/api/releases/tag/{tag}"),
        published_at,
        draft: false,
        prerelease: false,
    }
}

/// An event of the events API by `actor` (a bot when it ends in `[bot]`).
pub(crate) fn event(id: u64, kind: &str, actor: &str, at: i64) -> EventItem {
    EventItem {
        id: id.to_string(),
        kind: kind.to_string(),
        actor: actor.to_string(),
        bot: is_bot_login(actor),
        at,
    }
}

/// The probe called `name`.
pub(crate) fn probe<'a>(health: &'a Health, name: &str) -> &'a Probe {
    health
        .probes
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no probe {name}"))
}

/// The names of the probes that apply, in order.
pub(crate) fn applicable(health: &Health) -> Vec<&'static str> {
    health
        .probes
        .iter()
        .filter(|p| p.applicable)
        .map(|p| p.name)
        .collect()
}
