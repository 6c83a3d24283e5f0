//! What collection keeps of GitHub's objects: only the fields the health
//! score, the failure analysis and the stale job read, read once from
//! GitHub's JSON (tolerant of missing fields, as GitHub Enterprise versions
//! differ) and stored as the item's body.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analyze::Finding;

/// Unix milliseconds of an RFC 3339 time; 0 when absent or unreadable.
pub fn millis(value: &Value) -> i64 {
    value
        .as_str()
        .and_then(|text| text.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| t.as_millisecond())
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// Whether a user object is a bot: `type: Bot`, or a login ending in
/// `[bot]` (GitHub Apps), whatever the object says.
pub fn is_bot(user: &Value) -> bool {
    user["type"].as_str() == Some("Bot") || user["login"].as_str().is_some_and(is_bot_login)
}

/// Whether a login is a GitHub App's (`dependabot[bot]`).
pub fn is_bot_login(login: &str) -> bool {
    login.ends_with("[bot]")
}

/// A repository as collection saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepositoryItem {
    pub full_name: String,
    pub default_branch: String,
    pub archived: bool,
    pub html_url: String,
    /// Unix ms.
    pub pushed_at: i64,
}

impl RepositoryItem {
    pub fn from_github(value: &Value) -> RepositoryItem {
        RepositoryItem {
            full_name: text(&value["full_name"]),
            default_branch: value["default_branch"]
                .as_str()
                .unwrap_or("main")
                .to_string(),
            archived: value["archived"].as_bool().unwrap_or(false),
            html_url: text(&value["html_url"]),
            pushed_at: millis(&value["pushed_at"]),
        }
    }
}

/// A workflow run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunItem {
    pub id: u64,
    pub name: String,
    pub html_url: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub head_branch: String,
    pub event: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The attempt (`run_attempt`): a re-run keeps the id.
    #[serde(default)]
    pub attempt: u64,
    /// Whether the failed jobs of this attempt were fetched and their logs
    /// analysed.
    #[serde(default)]
    pub jobs_fetched: bool,
}

impl RunItem {
    pub fn from_github(value: &Value) -> RunItem {
        RunItem {
            id: value["id"].as_u64().unwrap_or(0),
            name: text(&value["name"]),
            html_url: text(&value["html_url"]),
            status: text(&value["status"]),
            conclusion: value["conclusion"].as_str().map(str::to_string),
            head_branch: text(&value["head_branch"]),
            event: text(&value["event"]),
            created_at: millis(&value["created_at"]),
            updated_at: millis(&value["updated_at"]),
            attempt: value["run_attempt"].as_u64().unwrap_or(1),
            jobs_fetched: false,
        }
    }

    pub fn is_completed(&self) -> bool {
        self.status == "completed"
    }

    /// A completed run that failed (`failure` or `timed_out`).
    pub fn failed(&self) -> bool {
        self.is_completed()
            && matches!(
                self.conclusion.as_deref(),
                Some("failure" | "timed_out" | "startup_failure")
            )
    }

    /// A completed run that counts for the CI success rate: succeeded or
    /// failed (cancelled and skipped runs say nothing about health).
    pub fn counts(&self) -> bool {
        self.failed() || (self.is_completed() && self.conclusion.as_deref() == Some("success"))
    }
}

/// Whether a job's log could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogState {
    Analysed,
    /// 404 or 410: the run is still going, or the log expired.
    Unavailable,
}

/// A failed job and what its log says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    pub id: u64,
    pub run_id: u64,
    pub name: String,
    pub conclusion: Option<String>,
    pub html_url: String,
    pub completed_at: i64,
    pub log: LogState,
    pub findings: Vec<Finding>,
    /// Failure lines no rule knows, by template, most frequent first (at
    /// most a few).
    pub unmatched: Vec<(String, u64)>,
}

/// One piece of activity on an issue or pull request, from its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// `commented`, `reviewed`, `committed`, `labeled`, `unlabeled`,
    /// `closed`, `reopened`, `merged`…
    pub kind: String,
    /// Who did it; a commit's author name when GitHub gives no login.
    pub actor: String,
    pub bot: bool,
    pub at: i64,
    /// The label of `labeled`/`unlabeled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A comment weft wrote itself (it carries weft's marker).
    #[serde(default)]
    pub weft: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// What marks a comment weft wrote, so its own comments never count as
/// activity.
pub const WEFT_MARKER: &str = "<!-- weft-monitor";

impl Activity {
    /// One timeline event; `None` for the kinds that are not activity
    /// (`mentioned`, `subscribed`, `referenced`…).
    pub fn from_timeline(value: &Value) -> Option<Activity> {
        let kind = value["event"].as_str()?;
        let (user, at) = match kind {
            "commented" => (&value["user"], millis(&value["created_at"])),
            "reviewed" => (&value["user"], millis(&value["submitted_at"])),
            "committed" => {
                let name = value["author"]["name"].as_str().unwrap_or_default();
                return Some(Activity {
                    kind: kind.to_string(),
                    actor: name.to_string(),
                    bot: is_bot_login(name),
                    at: millis(&value["author"]["date"]).max(millis(&value["committer"]["date"])),
                    label: None,
                    weft: false,
                    url: text(&value["html_url"]),
                });
            }
            "labeled"
            | "unlabeled"
            | "closed"
            | "reopened"
            | "merged"
            | "ready_for_review"
            | "review_requested"
            | "assigned"
            | "renamed"
            | "head_ref_force_pushed" => (&value["actor"], millis(&value["created_at"])),
            _ => return None,
        };
        Some(Activity {
            kind: kind.to_string(),
            actor: text(&user["login"]),
            bot: is_bot(user),
            at,
            label: value["label"]["name"].as_str().map(str::to_string),
            weft: value["body"]
                .as_str()
                .is_some_and(|b| b.contains(WEFT_MARKER)),
            url: text(&value["html_url"]),
        })
    }
}

/// A pull request or an issue, with its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadItem {
    pub number: u64,
    pub title: String,
    pub html_url: String,
    pub author: String,
    pub author_bot: bool,
    /// `open` or `closed`.
    pub state: String,
    #[serde(default)]
    pub draft: bool,
    pub labels: Vec<String>,
    #[serde(default)]
    pub milestone: bool,
    #[serde(default)]
    pub assignees: usize,
    /// A pull request's head branch.
    #[serde(default)]
    pub head: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub merged_at: Option<i64>,
    /// The `updated_at` the timeline was read at; `None` when it was not.
    pub timeline_at: Option<i64>,
    #[serde(default)]
    pub activity: Vec<Activity>,
}

impl ThreadItem {
    /// A pull request (`pull-request-simple`) or an issue.
    pub fn from_github(value: &Value) -> ThreadItem {
        let optional = |v: &Value| Some(millis(v)).filter(|ms| *ms > 0);
        ThreadItem {
            number: value["number"].as_u64().unwrap_or(0),
            title: text(&value["title"]),
            html_url: text(&value["html_url"]),
            author: text(&value["user"]["login"]),
            author_bot: is_bot(&value["user"]),
            state: text(&value["state"]),
            draft: value["draft"].as_bool().unwrap_or(false),
            labels: value["labels"]
                .as_array()
                .map(|labels| {
                    labels
                        .iter()
                        .filter_map(|l| l["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            milestone: value["milestone"].is_object(),
            assignees: value["assignees"].as_array().map_or(0, Vec::len),
            head: text(&value["head"]["ref"]),
            created_at: millis(&value["created_at"]),
            updated_at: millis(&value["updated_at"]),
            closed_at: optional(&value["closed_at"]),
            merged_at: optional(&value["merged_at"])
                .or_else(|| optional(&value["pull_request"]["merged_at"])),
            timeline_at: None,
            activity: Vec::new(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state == "open"
    }

    /// The last human activity: the author opening it, or anything a person
    /// did since. A bot's activity, weft's comments and the stale label
    /// being put on (weft's doing) never count; the stale label being taken
    /// off does (someone said it is not stale).
    pub fn last_human_activity(&self, stale_label: &str) -> i64 {
        let mut last = if self.author_bot { 0 } else { self.created_at };
        for activity in self.human_activity(stale_label) {
            last = last.max(activity.at);
        }
        if last == 0 { self.created_at } else { last }
    }

    /// What people did: not bots, not weft's comments, not the stale label
    /// being put on.
    pub fn human_activity<'a>(
        &'a self,
        stale_label: &'a str,
    ) -> impl Iterator<Item = &'a Activity> + use<'a> {
        self.activity.iter().filter(move |a| {
            let marked = a.kind == "labeled" && a.label.as_deref() == Some(stale_label);
            !a.bot && !a.weft && !marked
        })
    }

    /// The first response by a person other than the author: a comment, a
    /// review, a label or a close (weft's stale label is not a response).
    pub fn first_human_response<'a>(&'a self, stale_label: &'a str) -> Option<&'a Activity> {
        self.human_activity(stale_label)
            .filter(|a| a.actor != self.author && a.kind != "committed")
            .min_by_key(|a| a.at)
    }
}

/// A branch and when its head commit was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchItem {
    pub name: String,
    pub sha: String,
    pub protected: bool,
    /// Unix ms of the head commit (committer date); 0 when unknown.
    pub committed_at: i64,
}

/// A release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseItem {
    pub id: u64,
    pub tag: String,
    pub html_url: String,
    pub published_at: i64,
    pub draft: bool,
    pub prerelease: bool,
}

impl ReleaseItem {
    pub fn from_github(value: &Value) -> ReleaseItem {
        let published = millis(&value["published_at"]);
        ReleaseItem {
            id: value["id"].as_u64().unwrap_or(0),
            tag: text(&value["tag_name"]),
            html_url: text(&value["html_url"]),
            published_at: if published > 0 {
                published
            } else {
                millis(&value["created_at"])
            },
            draft: value["draft"].as_bool().unwrap_or(false),
            prerelease: value["prerelease"].as_bool().unwrap_or(false),
        }
    }
}

/// An event of the repository's events API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventItem {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub actor: String,
    pub bot: bool,
    pub at: i64,
}

impl EventItem {
    pub fn from_github(value: &Value) -> EventItem {
        EventItem {
            id: text(&value["id"]),
            kind: text(&value["type"]),
            actor: text(&value["actor"]["login"]),
            bot: is_bot(&value["actor"]),
            at: millis(&value["created_at"]),
        }
    }

    /// The id as a number, for ordering (GitHub's are numeric strings).
    pub fn number(&self) -> u64 {
        self.id.parse().unwrap_or(0)
    }
}
