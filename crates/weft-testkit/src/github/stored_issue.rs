//! An issue or pull request as the fake keeps it — GitHub's pull requests
//! are issues too, numbered with them — with its comments and timeline, and
//! its `issue`, `issue-comment` and `label` objects.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::clock::rfc3339;
use super::commit::HostedCommit;
use super::repository::HTML_ROOT;
use super::state::Ids;
use super::user::User;

#[derive(Debug, Clone)]
pub(crate) struct StoredIssue {
    pub(crate) id: u64,
    /// `owner/name`.
    pub(crate) repository: String,
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) author: User,
    pub(crate) labels: Vec<String>,
    pub(crate) assignees: Vec<User>,
    pub(crate) milestone: Option<String>,
    pub(crate) closed: Option<Closing>,
    /// Oldest first.
    pub(crate) comments: Vec<StoredComment>,
    /// Everything else that happened, oldest first.
    pub(crate) timeline: Vec<TimelineEntry>,
    pub(crate) pull: Option<PullPart>,
    pub(crate) created: SystemTime,
    pub(crate) updated: SystemTime,
}

#[derive(Debug, Clone)]
pub(crate) struct Closing {
    pub(crate) at: SystemTime,
    pub(crate) reason: &'static str,
    pub(crate) by: User,
}

#[derive(Debug, Clone)]
pub(crate) struct StoredComment {
    pub(crate) id: u64,
    pub(crate) body: String,
    pub(crate) author: User,
    pub(crate) created: SystemTime,
}

/// What a pull request has that an issue has not.
#[derive(Debug, Clone)]
pub(crate) struct PullPart {
    pub(crate) head: String,
    pub(crate) head_sha: String,
    pub(crate) base: String,
    pub(crate) base_sha: String,
    pub(crate) draft: bool,
    pub(crate) merged: Option<SystemTime>,
    pub(crate) commits: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct TimelineEntry {
    pub(crate) id: u64,
    pub(crate) at: SystemTime,
    pub(crate) actor: User,
    pub(crate) kind: TimelineKind,
}

#[derive(Debug, Clone)]
pub(crate) enum TimelineKind {
    Committed(HostedCommit),
    Reviewed {
        state: &'static str,
        body: String,
        commit: String,
    },
    Labeled(String),
    Unlabeled(String),
    Closed,
    Reopened,
    Merged {
        commit: String,
    },
}

impl StoredIssue {
    pub(crate) fn is_pull(&self) -> bool {
        self.pull.is_some()
    }

    pub(crate) fn state(&self) -> &'static str {
        if self.closed.is_some() {
            "closed"
        } else {
            "open"
        }
    }

    pub(crate) fn html_url(&self) -> String {
        let kind = if self.is_pull() { "pull" } else { "issues" };
        format!("{HTML_ROOT}/{}/{kind}/{}", self.repository, self.number)
    }

    /// `OWNER`, `MEMBER` (the token's user), `NONE` (a bot) or
    /// `CONTRIBUTOR`, as `author_association` says of `user` here.
    pub(crate) fn association(&self, user: &User) -> &'static str {
        let owner = self.repository.split('/').next().unwrap_or_default();
        if user.login.eq_ignore_ascii_case(owner) {
            "OWNER"
        } else if user == &User::token() {
            "MEMBER"
        } else if user.bot {
            "NONE"
        } else {
            "CONTRIBUTOR"
        }
    }

    /// The `issue` object; a pull request's has `pull_request` and `draft`.
    pub(crate) fn json(&self, base: &str) -> Value {
        let api = format!("{base}/repos/{}/issues/{}", self.repository, self.number);
        let repository_url = format!("{base}/repos/{}", self.repository);
        let assignees: Vec<Value> = self.assignees.iter().map(|a| a.json(base)).collect();
        let mut object = json!({
            "id": self.id,
            "node_id": format!("I_kwDO{:010X}", self.id),
            "url": api,
            "repository_url": repository_url,
            "labels_url": format!("{api}/labels{{/name}}"),
            "comments_url": format!("{api}/comments"),
            "events_url": format!("{api}/events"),
            "html_url": self.html_url(),
            "number": self.number,
            "state": self.state(),
            "state_reason": self.closed.as_ref().filter(|_| !self.is_pull()).map(|c| c.reason),
            "title": self.title,
            "body": self.body,
            "user": self.author.json(base),
            "labels": self.labels_json(base),
            "assignee": assignees.first(),
            "assignees": assignees,
            "milestone": self.milestone_json(base),
            "locked": false,
            "active_lock_reason": null,
            "comments": self.comments.len(),
            "closed_at": self.closed.as_ref().map(|c| rfc3339(c.at)),
            "closed_by": self.closed.as_ref().map(|c| c.by.json(base)),
            "created_at": rfc3339(self.created),
            "updated_at": rfc3339(self.updated),
            "author_association": self.association(&self.author),
            "timeline_url": format!("{api}/timeline"),
        });
        if let Some(pull) = &self.pull {
            let pulls = format!("{base}/repos/{}/pulls/{}", self.repository, self.number);
            let html = self.html_url();
            object["draft"] = Value::Bool(pull.draft);
            object["pull_request"] = json!({
                "url": pulls,
                "html_url": html,
                "diff_url": format!("{html}.diff"),
                "patch_url": format!("{html}.patch"),
                "merged_at": pull.merged.map(rfc3339),
            });
        }
        object
    }

    pub(crate) fn labels_json(&self, base: &str) -> Vec<Value> {
        self.labels
            .iter()
            .map(|name| label_json(base, &self.repository, name))
            .collect()
    }

    /// The `milestone` object, if it has one.
    pub(crate) fn milestone_json(&self, base: &str) -> Option<Value> {
        let title = self.milestone.as_ref()?;
        let number = 1 + title
            .bytes()
            .fold(0u64, |h, b| (h * 31 + u64::from(b)) % 997);
        let id = 8_000_000 + number;
        let api = format!("{base}/repos/{}/milestones/{number}", self.repository);
        let owner = self.repository.split('/').next().unwrap_or_default();
        Some(json!({
            "url": api,
            "html_url": format!("{HTML_ROOT}/{}/milestone/{number}", self.repository),
            "labels_url": format!("{api}/labels"),
            "id": id,
            "node_id": format!("MI_kwDO{id:010X}"),
            "number": number,
            "state": "open",
            "title": title,
            "description": null,
            "creator": User::new(owner, false).json(base),
            "open_issues": 1,
            "closed_issues": 0,
            "created_at": rfc3339(self.created),
            "updated_at": rfc3339(self.created),
            "closed_at": null,
            "due_on": null,
        }))
    }

    /// The `issue-comment` object of one of its comments.
    pub(crate) fn comment_json(&self, base: &str, comment: &StoredComment) -> Value {
        let issue_url = format!("{base}/repos/{}/issues/{}", self.repository, self.number);
        json!({
            "id": comment.id,
            "node_id": format!("IC_kwDO{:010X}", comment.id),
            "url": format!("{base}/repos/{}/issues/comments/{}", self.repository, comment.id),
            "html_url": format!("{}#issuecomment-{}", self.html_url(), comment.id),
            "issue_url": issue_url,
            "body": comment.body,
            "user": comment.author.json(base),
            "created_at": rfc3339(comment.created),
            "updated_at": rfc3339(comment.created),
            "author_association": self.association(&comment.author),
        })
    }

    pub(crate) fn record(
        &mut self,
        ids: &mut Ids,
        actor: &User,
        at: SystemTime,
        kind: TimelineKind,
    ) {
        self.timeline.push(TimelineEntry {
            id: ids.next(),
            at,
            actor: actor.clone(),
            kind,
        });
        self.updated = self.updated.max(at);
    }

    /// Puts on the labels it lacks, each a `labeled` event by `actor`.
    pub(crate) fn label(&mut self, names: &[String], actor: &User, at: SystemTime, ids: &mut Ids) {
        for name in names {
            if !self.labels.iter().any(|l| l.eq_ignore_ascii_case(name)) {
                self.labels.push(name.clone());
                self.record(ids, actor, at, TimelineKind::Labeled(name.clone()));
            }
        }
    }

    /// Takes a label off, an `unlabeled` event by `actor`; false when it
    /// was not on.
    pub(crate) fn unlabel(
        &mut self,
        name: &str,
        actor: &User,
        at: SystemTime,
        ids: &mut Ids,
    ) -> bool {
        let Some(index) = self
            .labels
            .iter()
            .position(|l| l.eq_ignore_ascii_case(name))
        else {
            return false;
        };
        let removed = self.labels.remove(index);
        self.record(ids, actor, at, TimelineKind::Unlabeled(removed));
        true
    }

    /// Replaces the labels, recording what went off and what came on.
    pub(crate) fn set_labels(
        &mut self,
        names: &[String],
        actor: &User,
        at: SystemTime,
        ids: &mut Ids,
    ) {
        let gone: Vec<String> = self
            .labels
            .iter()
            .filter(|l| !names.iter().any(|n| n.eq_ignore_ascii_case(l)))
            .cloned()
            .collect();
        for name in gone {
            self.unlabel(&name, actor, at, ids);
        }
        self.label(names, actor, at, ids);
    }

    /// Closes it (a `closed` event), unless closed already.
    pub(crate) fn close(
        &mut self,
        reason: &'static str,
        actor: &User,
        at: SystemTime,
        ids: &mut Ids,
    ) {
        if self.closed.is_some() {
            return;
        }
        self.closed = Some(Closing {
            at,
            reason,
            by: actor.clone(),
        });
        self.record(ids, actor, at, TimelineKind::Closed);
    }

    /// Reopens it (a `reopened` event), unless open or merged.
    pub(crate) fn reopen(&mut self, actor: &User, at: SystemTime, ids: &mut Ids) {
        let merged = self.pull.as_ref().is_some_and(|p| p.merged.is_some());
        if self.closed.is_none() || merged {
            return;
        }
        self.closed = None;
        self.record(ids, actor, at, TimelineKind::Reopened);
    }

    /// Adds a comment by `author`.
    pub(crate) fn comment(
        &mut self,
        body: String,
        author: &User,
        at: SystemTime,
        ids: &mut Ids,
    ) -> &StoredComment {
        self.comments.push(StoredComment {
            id: 3_000_000_000 + ids.next(),
            body,
            author: author.clone(),
            created: at,
        });
        self.updated = self.updated.max(at);
        let last = self.comments.len() - 1;
        &self.comments[last]
    }
}

/// A `label` object; `description` is a string, as a pull request's
/// labels need it to be.
pub(crate) fn label_json(base: &str, repository: &str, name: &str) -> Value {
    let id = name.bytes().fold(5_000_000u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b)) % 1_000_000_000
    });
    json!({
        "id": id,
        "node_id": format!("LA_kwDO{id:010X}"),
        "url": format!("{base}/repos/{repository}/labels/{}", name.replace(' ', "%20")),
        "name": name,
        "description": "",
        "color": "d73a4a",
        "default": false,
    })
}
