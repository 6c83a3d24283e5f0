//! Items read from GitHub's JSON: timeline events in their real shapes, who
//! is a bot, and a thread's last human activity and first human response.

use serde_json::json;
use weft_monitor::items::{Activity, RunItem, ThreadItem, is_bot};

use crate::fixtures::{
    HOUR_MS, NOW, ThreadExt, comment, commit, days_ago, issue, labeled, pull, review, unlabeled,
    weft_comment,
};

/// 2024-05-01T10:00:00Z.
const MAY_1: i64 = 1_714_557_600_000;
/// 2024-05-02T09:30:00Z.
const MAY_2: i64 = 1_714_642_200_000;

fn octocat() -> serde_json::Value {
    json!({"login": "octocat", "id": 1, "type": "User", "site_admin": false})
}

#[test]
fn a_comment() {
    let event = json!({
        "url": "https://api.github.com/repos/acme/api/issues/comments/1",
        "html_url": "https://github.com/acme/api/pull/7#issuecomment-1",
        "id": 1,
        "user": octocat(),
        "actor": octocat(),
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-02T09:30:00Z",
        "author_association": "MEMBER",
        "body": "Looks good, one question.",
        "event": "commented"
    });
    assert_eq!(
        Activity::from_timeline(&event),
        Some(Activity {
            kind: "commented".to_string(),
            actor: "octocat".to_string(),
            bot: false,
            at: MAY_1,
            label: None,
            weft: false,
            url: "https://github.com/acme/api/pull/7#issuecomment-1".to_string(),
        })
    );
}

#[test]
fn a_comment_weft_wrote_carries_its_marker() {
    let event = json!({
        "event": "commented",
        "user": octocat(),
        "created_at": "2024-05-01T10:00:00Z",
        "body": "<!-- weft-monitor stale -->\nThis pull request has had no activity…"
    });
    let activity = Activity::from_timeline(&event).unwrap();
    assert!(activity.weft);
    assert!(!activity.bot);
}

#[test]
fn a_review_counts_when_it_was_submitted() {
    let event = json!({
        "id": 80,
        "user": octocat(),
        "body": null,
        "commit_id": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
        "submitted_at": "2024-05-02T09:30:00Z",
        "state": "approved",
        "html_url": "https://github.com/acme/api/pull/7#pullrequestreview-80",
        "author_association": "MEMBER",
        "event": "reviewed"
    });
    let activity = Activity::from_timeline(&event).unwrap();
    assert_eq!(
        (activity.kind.as_str(), activity.actor.as_str(), activity.at),
        ("reviewed", "octocat", MAY_2)
    );
    assert!(!activity.weft);
    assert_eq!(
        activity.url,
        "https://github.com/acme/api/pull/7#pullrequestreview-80"
    );
}

#[test]
fn a_commit_counts_from_the_later_of_its_dates() {
    let event = json!({
        "sha": "7638417db6d59f3c431d3e1f261cc637155684cd",
        "html_url": "https://github.com/acme/api/commit/7638417db6d59f3c431d3e1f261cc637155684cd",
        "author": {"name": "Mona Lisa", "email": "mona@example.com", "date": "2024-05-01T10:00:00Z"},
        "committer": {"name": "GitHub", "email": "noreply@github.com", "date": "2024-05-02T09:30:00Z"},
        "message": "Fix the build",
        "event": "committed"
    });
    let activity = Activity::from_timeline(&event).unwrap();
    assert_eq!(
        (
            activity.kind.as_str(),
            activity.actor.as_str(),
            activity.bot,
            activity.at
        ),
        ("committed", "Mona Lisa", false, MAY_2)
    );
    let by_bot = json!({
        "author": {"name": "dependabot[bot]", "date": "2024-05-01T10:00:00Z"},
        "committer": {"name": "GitHub", "date": "2024-05-01T10:00:00Z"},
        "event": "committed"
    });
    assert!(Activity::from_timeline(&by_bot).unwrap().bot);
}

#[test]
fn a_label_names_its_label_and_its_actor() {
    let event = json!({
        "id": 6430295168_u64,
        "actor": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
        "event": "labeled",
        "commit_id": null,
        "created_at": "2024-05-01T10:00:00Z",
        "label": {"name": "stale", "color": "ededed"},
        "performed_via_github_app": null
    });
    assert_eq!(
        Activity::from_timeline(&event),
        Some(Activity {
            kind: "labeled".to_string(),
            actor: "github-actions[bot]".to_string(),
            bot: true,
            at: MAY_1,
            label: Some("stale".to_string()),
            weft: false,
            url: String::new(),
        })
    );
}

#[test]
fn events_that_are_not_activity_are_skipped() {
    for kind in ["mentioned", "subscribed", "cross-referenced", "referenced"] {
        let event =
            json!({"event": kind, "actor": octocat(), "created_at": "2024-05-01T10:00:00Z"});
        assert_eq!(Activity::from_timeline(&event), None, "{kind}");
    }
    assert_eq!(Activity::from_timeline(&json!({"user": octocat()})), None);
}

#[test]
fn bots_by_type_or_login() {
    assert!(is_bot(&json!({"login": "renovate", "type": "Bot"})));
    assert!(is_bot(&json!({"login": "dependabot[bot]", "type": "User"})));
    assert!(is_bot(&json!({"login": "my-app[bot]"})));
    assert!(!is_bot(&octocat()));
    assert!(!is_bot(&json!({"login": "robot", "type": "User"})));
    assert!(!is_bot(&json!({"login": "bot-keeper"})));
    assert!(!is_bot(&json!(null)));
}

#[test]
fn a_pull_request_from_the_list() {
    let value = json!({
        "number": 7,
        "title": "Add retries",
        "html_url": "https://github.com/acme/api/pull/7",
        "user": {"login": "dependabot[bot]", "type": "Bot"},
        "state": "open",
        "draft": true,
        "labels": [{"name": "dependencies"}, {"name": "stale"}],
        "milestone": {"number": 1, "title": "v2"},
        "assignees": [octocat(), {"login": "hubot", "type": "User"}],
        "head": {"ref": "retries", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-02T09:30:00Z",
        "closed_at": null,
        "merged_at": null
    });
    let pull = ThreadItem::from_github(&value);
    assert_eq!((pull.number, pull.title.as_str()), (7, "Add retries"));
    assert!(pull.author_bot && pull.draft && pull.milestone && pull.is_open());
    assert_eq!(pull.labels, ["dependencies", "stale"]);
    assert_eq!((pull.assignees, pull.head.as_str()), (2, "retries"));
    assert_eq!((pull.created_at, pull.updated_at), (MAY_1, MAY_2));
    assert_eq!(
        (pull.closed_at, pull.merged_at, pull.timeline_at),
        (None, None, None)
    );
}

#[test]
fn runs_that_count_for_the_success_rate() {
    let run = |status: &str, conclusion: serde_json::Value| {
        RunItem::from_github(&json!({
            "id": 30433642, "name": "ci", "status": status, "conclusion": conclusion,
            "head_branch": "main", "event": "push", "created_at": "2024-05-01T10:00:00Z"
        }))
    };
    let verdicts: Vec<(bool, bool)> = [
        run("completed", json!("success")),
        run("completed", json!("failure")),
        run("completed", json!("timed_out")),
        run("completed", json!("cancelled")),
        run("in_progress", json!(null)),
    ]
    .iter()
    .map(|r| (r.failed(), r.counts()))
    .collect();
    assert_eq!(
        verdicts,
        [
            (false, true),
            (true, true),
            (true, true),
            (false, false),
            (false, false)
        ]
    );
}

#[test]
fn the_last_human_activity_skips_bots_and_weft_s_own_doings() {
    let opened = days_ago(40);
    let thread = pull(1, "mona", opened)
        .with(comment("lisa", days_ago(20)))
        .with(labeled("hubot", "bug", days_ago(15)))
        .with(comment("dependabot[bot]", days_ago(3)))
        .with(weft_comment("octo", days_ago(2)))
        .with(labeled("octo", "stale", days_ago(2)))
        .with(unlabeled("octo", "stale", days_ago(1)));
    // Taking the stale label off says it is not stale: that counts.
    assert_eq!(thread.last_human_activity("stale"), days_ago(1));
    let marked = pull(4, "mona", opened)
        .with(comment("lisa", days_ago(20)))
        .with(labeled("octo", "stale", days_ago(2)));
    assert_eq!(marked.last_human_activity("stale"), days_ago(20));
    // Under another stale label, `stale` is an ordinary label.
    assert_eq!(thread.last_human_activity("inactive"), days_ago(1));
    // Nobody but the author: when it was opened.
    assert_eq!(pull(2, "mona", opened).last_human_activity("stale"), opened);
    // A bot's pull request: the first person's activity, else its opening.
    let bot = pull(3, "renovate[bot]", opened).with(comment("renovate[bot]", days_ago(1)));
    assert_eq!(bot.last_human_activity("stale"), opened);
    let bot = bot.with(commit("Mona Lisa", days_ago(5)));
    assert_eq!(bot.last_human_activity("stale"), days_ago(5));
}

#[test]
fn the_first_human_response_is_someone_else_s_earliest() {
    let opened = NOW - 10 * HOUR_MS;
    let thread = issue(1, "mona", opened)
        .with(review("hubot", opened + 5 * HOUR_MS))
        .with(comment("mona", opened + HOUR_MS))
        .with(commit("Lisa", opened + HOUR_MS))
        .with(comment("dependabot[bot]", opened + 2 * HOUR_MS))
        .with(weft_comment("octo", opened + 2 * HOUR_MS))
        .with(labeled("lisa", "bug", opened + 3 * HOUR_MS));
    let first = thread.first_human_response("stale").unwrap();
    assert_eq!(
        (first.kind.as_str(), first.actor.as_str(), first.at),
        ("labeled", "lisa", opened + 3 * HOUR_MS)
    );
    let unanswered = issue(2, "mona", opened).with(comment("mona", opened + HOUR_MS));
    assert_eq!(unanswered.first_human_response("stale"), None);
}
