//! Hosting a [`Repository`]: its fixtures' ages become times before now,
//! its branches get head commits, its pull requests and issues become
//! stored issues with their timelines, its past runs join the runs.

use std::cmp::Reverse;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Map;

use super::activity::{Activity, ActivityKind};
use super::branches::HostedBranch;
use super::clock::ago;
use super::commit::HostedCommit;
use super::conversation::Conversation;
use super::events::WatchEvent;
use super::past_run::PastRun;
use super::releases::HostedRelease;
use super::repository::{HostedRepository, Repository, object_id};
use super::run::Run;
use super::state::{Ids, State};
use super::stored_issue::{PullPart, StoredIssue, TimelineKind};
use super::user::{User, user_id};
use super::workflow::Workflow;

const DAY: Duration = Duration::from_secs(86_400);

impl State {
    /// Hosts `repository`, replacing one of the same name with its issues,
    /// pull requests and past runs (runs dispatched on it stay).
    ///
    /// # Panics
    /// When two of its pull requests and issues share a number.
    pub(crate) fn add_repository(&mut self, mut repository: Repository) {
        let now = SystemTime::now();
        let full_name = repository.full_name();
        self.repositories
            .retain(|r| !r.repository.full_name().eq_ignore_ascii_case(&full_name));
        self.issues
            .retain(|i| !i.repository.eq_ignore_ascii_case(&full_name));
        self.runs
            .retain(|r| !(r.past && r.repository.eq_ignore_ascii_case(&full_name)));
        for run in &repository.past_runs {
            if !repository
                .workflows
                .iter()
                .any(|w| w.file == run.workflow_file)
            {
                repository.workflows.push(Workflow::new(&run.workflow_file));
            }
        }
        let id = 700_000_000 + self.next_number();
        let workflow_ids = (0..repository.workflows.len())
            .map(|_| 61_000_000 + self.next_number())
            .collect();
        let oldest = oldest_age(&repository);
        let created_at = ago(now, if oldest < DAY { DAY } else { oldest + DAY });
        let mut hosted = HostedRepository {
            id,
            owner_id: user_id(&repository.owner),
            pushed_at: ago(now, repository.pushed.unwrap_or(DAY)),
            repository,
            workflow_ids,
            created_at,
            branches: Vec::new(),
            deleted_branches: Vec::new(),
            commits: Vec::new(),
            releases: Vec::new(),
            watch_events: Vec::new(),
        };
        add_branches(&mut hosted, now);
        let mut numbers = Vec::new();
        for pull in hosted.repository.pulls.clone() {
            numbers.push(pull.conversation.number);
            let commits = fixture_commits(&hosted, &pull.conversation, &pull.head, true, now);
            let head_sha = commits.last().map_or_else(String::new, |c| c.sha.clone());
            let author = author(&pull.conversation);
            let opened = ago(now, pull.conversation.age);
            if !pull.head_deleted && !hosted.has_branch(&pull.head) {
                hosted.branches.push(HostedBranch {
                    name: pull.head.clone(),
                    sha: head_sha.clone(),
                    protected: false,
                    pusher: author.clone(),
                    created: opened,
                });
            }
            let base = hosted.repository.default_branch.clone();
            let base_sha = hosted.branches.iter().find(|b| b.name == base);
            let merged = pull.merged.map(|age| ago(now, age));
            let fixture = Fixture {
                conversation: &pull.conversation,
                commits: &commits,
                merged,
            };
            let mut issue = stored_issue(&full_name, &fixture, now, &mut self.ids);
            issue.pull = Some(PullPart {
                head: pull.head.clone(),
                head_sha,
                base_sha: base_sha.map_or_else(String::new, |b| b.sha.clone()),
                base,
                draft: pull.draft,
                merged,
                commits: commits.len(),
            });
            hosted.commits.extend(commits);
            self.issues.push(issue);
        }
        for spec in hosted.repository.issues.clone() {
            numbers.push(spec.conversation.number);
            let branch = hosted.repository.default_branch.clone();
            let commits = fixture_commits(&hosted, &spec.conversation, &branch, false, now);
            let fixture = Fixture {
                conversation: &spec.conversation,
                commits: &commits,
                merged: None,
            };
            let issue = stored_issue(&full_name, &fixture, now, &mut self.ids);
            hosted.commits.extend(commits);
            self.issues.push(issue);
        }
        numbers.sort_unstable();
        if let Some(pair) = numbers.windows(2).find(|pair| pair[0] == pair[1]) {
            panic!(
                "`{full_name}` has two pull requests or issues numbered {}",
                pair[0]
            );
        }
        for spec in hosted.repository.releases.clone() {
            hosted.releases.push(HostedRelease {
                id: 150_000_000 + self.next_number(),
                tag: spec.tag,
                created: ago(now, spec.age),
                draft: spec.draft,
                prerelease: spec.prerelease,
                target: hosted.repository.default_branch.clone(),
                author: hosted.owner(),
            });
        }
        for (count, age) in hosted.repository.watch_events.clone() {
            for _ in 0..count {
                let number = self.next_number();
                hosted.watch_events.push(WatchEvent {
                    id: number,
                    login: format!("stargazer-{number}"),
                    at: ago(now, age),
                });
            }
        }
        let mut past_runs = hosted.repository.past_runs.clone();
        past_runs.sort_by_key(|run| Reverse(run.age));
        for past in past_runs {
            let run = self.past_run(&hosted, &past, now);
            self.runs.push(run);
        }
        self.repositories.push(hosted);
    }

    fn past_run(&mut self, hosted: &HostedRepository, past: &PastRun, now: SystemTime) -> Run {
        let workflows = &hosted.repository.workflows;
        let index = workflows
            .iter()
            .position(|w| w.file == past.workflow_file)
            .unwrap_or_default();
        let workflow_id = hosted.workflow_ids[index];
        let workflow_name = workflows[index].name.clone();
        let full_name = hosted.repository.full_name();
        let branch = past
            .branch
            .clone()
            .unwrap_or_else(|| hosted.repository.default_branch.clone());
        let head_sha = hosted
            .branches
            .iter()
            .find(|b| b.name == branch)
            .map_or_else(
                || object_id(&format!("{full_name} {branch}")),
                |b| b.sha.clone(),
            );
        let number = self.next_number();
        let run_number = 1 + self
            .runs
            .iter()
            .filter(|r| r.workflow_id == workflow_id)
            .count() as u64;
        Run {
            id: 12_000_000_000 + number,
            job_id: 34_000_000_000 + number,
            run_number,
            repository: full_name,
            workflow_id,
            workflow_file: past.workflow_file.clone(),
            display_title: workflow_name.clone(),
            workflow_name,
            head_branch: branch,
            head_sha,
            inputs: Map::new(),
            conclusion: past.conclusion,
            duration: past.duration,
            dispatched: Instant::now(),
            dispatched_at: ago(now, past.age),
            log: past.log.clone(),
            event: past.event.clone(),
            job_name: past.job_name.clone(),
            past: true,
        }
    }
}

/// The age of the oldest thing the repository has.
fn oldest_age(repository: &Repository) -> Duration {
    let pulls = repository.pulls.iter().map(|p| &p.conversation);
    let issues = repository.issues.iter().map(|i| &i.conversation);
    pulls
        .chain(issues)
        .map(Conversation::oldest_age)
        .chain(repository.past_runs.iter().map(|r| r.age))
        .chain(repository.branches.iter().map(|b| b.age))
        .chain(repository.releases.iter().map(|r| r.age))
        .chain(repository.watch_events.iter().map(|(_, age)| *age))
        .chain(repository.pushed)
        .fold(Duration::ZERO, Duration::max)
}

/// The default branch, dated at `pushed_at` unless given, and the other
/// declared branches, each with a head commit by the owner.
fn add_branches(hosted: &mut HostedRepository, now: SystemTime) {
    let full_name = hosted.repository.full_name();
    let default = hosted.repository.default_branch.clone();
    let declared = hosted.repository.branches.clone();
    let owner = hosted.owner();
    let default_sha = object_id(&format!("{full_name} {default}"));
    let (default_at, default_protected) = declared
        .iter()
        .find(|b| b.name == default)
        .map_or((hosted.pushed_at, false), |b| {
            (ago(now, b.age), b.protected)
        });
    let mut heads = vec![(default.clone(), default_at, default_protected, None)];
    for branch in declared.iter().filter(|b| b.name != default) {
        let parent = Some(default_sha.clone());
        heads.push((
            branch.name.clone(),
            ago(now, branch.age),
            branch.protected,
            parent,
        ));
    }
    for (name, at, protected, parent) in heads {
        let sha = object_id(&format!("{full_name} {name}"));
        hosted.commits.push(HostedCommit {
            sha: sha.clone(),
            message: format!("Update {name}"),
            author: owner.clone(),
            at,
            parent,
        });
        hosted.branches.push(HostedBranch {
            name,
            sha,
            protected,
            pusher: owner.clone(),
            created: at,
        });
    }
}

fn author(conversation: &Conversation) -> User {
    User::new(&conversation.author, conversation.bot_author)
}

/// The commits of a pull request or issue, oldest first: its
/// `Activity::commit`s, or else (with `opening`) one by its author when
/// opened; the first's parent is the default branch's head.
fn fixture_commits(
    hosted: &HostedRepository,
    conversation: &Conversation,
    head: &str,
    opening: bool,
    now: SystemTime,
) -> Vec<HostedCommit> {
    let full_name = hosted.repository.full_name();
    let number = conversation.number;
    let mut parent = hosted
        .branches
        .iter()
        .find(|b| b.name == hosted.repository.default_branch)
        .map(|b| b.sha.clone());
    let activities: Vec<&Activity> = in_time_order(&conversation.activities)
        .into_iter()
        .filter(|a| a.kind == ActivityKind::Commit)
        .collect();
    if activities.is_empty() {
        return opening
            .then(|| HostedCommit {
                sha: object_id(&format!("{full_name} #{number} opened")),
                message: conversation.title.clone(),
                author: author(conversation),
                at: ago(now, conversation.age),
                parent,
            })
            .into_iter()
            .collect();
    }
    activities
        .iter()
        .enumerate()
        .map(|(index, activity)| {
            let sha = object_id(&format!("{full_name} #{number} commit {index}"));
            HostedCommit {
                sha: sha.clone(),
                message: activity
                    .body
                    .clone()
                    .unwrap_or_else(|| format!("Update {head}")),
                author: User::new(&activity.login, activity.bot),
                at: ago(now, activity.age),
                parent: parent.replace(sha),
            }
        })
        .collect()
}

/// Oldest first; the order given among those of the same age.
fn in_time_order(activities: &[Activity]) -> Vec<&Activity> {
    let mut sorted: Vec<&Activity> = activities.iter().collect();
    sorted.sort_by_key(|activity| Reverse(activity.age));
    sorted
}

/// A pull request or issue of a fixture, with its commits and when it was
/// merged.
struct Fixture<'f> {
    conversation: &'f Conversation,
    commits: &'f [HostedCommit],
    merged: Option<SystemTime>,
}

/// The stored issue of a fixture, its timeline replayed from its labels
/// (put on by the author when opened), its activities and commits, and its
/// merge and closing (by the author).
fn stored_issue(
    full_name: &str,
    fixture: &Fixture<'_>,
    now: SystemTime,
    ids: &mut Ids,
) -> StoredIssue {
    let conversation = fixture.conversation;
    let author = author(conversation);
    let opened = ago(now, conversation.age);
    let mut issue = StoredIssue {
        id: 2_000_000_000 + ids.next(),
        repository: full_name.to_string(),
        number: conversation.number,
        title: conversation.title.clone(),
        body: conversation.body.clone(),
        author: author.clone(),
        labels: Vec::new(),
        assignees: conversation
            .assignees
            .iter()
            .map(|login| User::new(login, false))
            .collect(),
        milestone: conversation.milestone.clone(),
        closed: None,
        comments: Vec::new(),
        timeline: Vec::new(),
        pull: None,
        created: opened,
        updated: opened,
    };
    issue.label(&conversation.labels, &author, opened, ids);
    let head = fixture
        .commits
        .last()
        .map(|c| c.sha.clone())
        .unwrap_or_default();
    let explicit = conversation
        .activities
        .iter()
        .any(|a| a.kind == ActivityKind::Commit);
    let mut commits = fixture.commits.iter();
    if !explicit && let Some(commit) = commits.next() {
        let kind = TimelineKind::Committed(commit.clone());
        issue.record(ids, &author, commit.at, kind);
    }
    for activity in in_time_order(&conversation.activities) {
        let actor = User::new(&activity.login, activity.bot);
        let at = ago(now, activity.age);
        match &activity.kind {
            ActivityKind::Comment => {
                let body = activity.body.clone().unwrap_or_else(|| "A comment.".into());
                issue.comment(body, &actor, at, ids);
            }
            ActivityKind::Review(state) => {
                let kind = TimelineKind::Reviewed {
                    state,
                    body: activity.body.clone().unwrap_or_default(),
                    commit: head.clone(),
                };
                issue.record(ids, &actor, at, kind);
            }
            ActivityKind::Commit => {
                if let Some(commit) = commits.next() {
                    issue.record(ids, &actor, at, TimelineKind::Committed(commit.clone()));
                }
            }
            ActivityKind::Labeled(label) => {
                issue.label(std::slice::from_ref(label), &actor, at, ids)
            }
            ActivityKind::Unlabeled(label) => {
                issue.unlabel(label, &actor, at, ids);
            }
        }
    }
    if let Some(at) = fixture.merged {
        issue.record(ids, &author, at, TimelineKind::Merged { commit: head });
    }
    if let Some(age) = conversation.closed {
        issue.close("completed", &author, ago(now, age), ids);
    }
    issue
}
