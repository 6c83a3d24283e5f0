//! The stale plan: staleness from the last human activity, exemptions,
//! per-label thresholds, marking, unmarking and closing pull requests, and
//! which branches are stale and deleted.

use weft_monitor::settings::StaleSettings;
use weft_monitor::snapshot::RepositoryData;
use weft_monitor::stale::{Marks, StaleAction, StaleAnalysis, StaleSummary, analyse};

use crate::fixtures::{
    NOW, ThreadExt, branch, comment, commit, days_ago, info, labeled, pull, repository, review,
    unlabeled, weft_comment,
};

fn plan(repositories: &[RepositoryData], settings: &StaleSettings) -> StaleAnalysis {
    analyse(repositories, settings, &Marks::new(), NOW, true)
}

fn with_pulls(pulls: Vec<weft_monitor::items::ThreadItem>) -> Vec<RepositoryData> {
    let mut data = repository("acme/api");
    data.pulls = pulls;
    vec![data]
}

fn mark(number: u64, comment: String) -> StaleAction {
    StaleAction::Mark {
        repository: "acme/api".to_string(),
        number,
        label: "stale".to_string(),
        comment,
    }
}

fn marked_numbers(analysis: &StaleAnalysis) -> Vec<u64> {
    analysis
        .actions
        .iter()
        .filter_map(|a| match a {
            StaleAction::Mark { number, .. } => Some(*number),
            _ => None,
        })
        .collect()
}

#[test]
fn an_idle_pull_request_is_marked_with_a_comment_saying_when_it_closes() {
    let analysis = plan(
        &with_pulls(vec![pull(7, "mona", days_ago(40))]),
        &StaleSettings::default(),
    );
    assert_eq!(
        analysis.actions,
        [mark(
            7,
            "<!-- weft-monitor stale -->\nThis pull request has had no activity from people for \
             40 days, so it is marked stale. It will be closed in 7 days unless someone \
             comments, reviews or pushes."
                .to_string()
        )]
    );
    let stale = &analysis.stale_prs[0];
    assert_eq!(stale.days_inactive, 40);
    assert_eq!(stale.last_human_activity, "2026-12-06T08:00:00.000Z");
    assert_eq!(stale.marked_at, None);
    assert_eq!(stale.closes_at.as_deref(), Some("2027-01-22T08:00:00.000Z"));
    assert_eq!(analysis.repository.as_deref(), Some("acme/api"));
    assert_eq!(analysis.timestamp, "2027-01-15T08:00:00.000Z");
    assert_eq!(
        analysis.recommendations,
        ["Review the 1 stale pull requests: finish, hand over or close them."]
    );
    assert_eq!(
        analysis.actions[0].describe(),
        "label acme/api#7 `stale` and comment"
    );
}

#[test]
fn bots_and_weft_s_own_label_and_comments_never_reset_staleness() {
    let analysis = plan(
        &with_pulls(vec![
            pull(1, "mona", days_ago(40))
                .with(comment("dependabot[bot]", days_ago(1)))
                .with(review("github-actions[bot]", days_ago(1)))
                .with(commit("renovate[bot]", days_ago(1)))
                .with(weft_comment("octo", days_ago(2)))
                .with(labeled("octo", "stale", days_ago(3))),
            pull(2, "mona", days_ago(40)).with(review("lisa", days_ago(1))),
            pull(3, "mona", days_ago(40)).with(commit("Mona Lisa", days_ago(29))),
            pull(4, "dependabot[bot]", days_ago(31)),
            pull(5, "mona", days_ago(40)).with(unlabeled("lisa", "stale", days_ago(3))),
        ]),
        &StaleSettings::default(),
    );
    // A person's review or commit resets it, and so does a person taking
    // the stale label off; a bot's pull request is stale from when it was
    // opened.
    assert_eq!(marked_numbers(&analysis), [1, 4]);
    let days: Vec<i64> = analysis.stale_prs.iter().map(|p| p.days_inactive).collect();
    assert_eq!(days, [40, 31]);
}

#[test]
fn a_pull_request_marked_longer_ago_than_days_until_close_is_closed() {
    let analysis = plan(
        &with_pulls(vec![
            pull(7, "mona", days_ago(40))
                .labelled(&["stale"])
                .with(labeled("octo", "stale", days_ago(8))),
        ]),
        &StaleSettings::default(),
    );
    assert_eq!(
        analysis.actions,
        [StaleAction::Close {
            repository: "acme/api".to_string(),
            number: 7,
            comment: "<!-- weft-monitor stale-close -->\nClosing: no activity from people for 40 \
                      days since it was marked stale. Reopen it when work resumes."
                .to_string(),
        }]
    );
    let stale = &analysis.stale_prs[0];
    assert_eq!(stale.marked_at.as_deref(), Some("2027-01-07T08:00:00.000Z"));
    assert_eq!(stale.closes_at.as_deref(), Some("2027-01-14T08:00:00.000Z"));
}

#[test]
fn a_recent_mark_waits_for_days_until_close() {
    let analysis = plan(
        &with_pulls(vec![
            pull(7, "mona", days_ago(40))
                .labelled(&["stale"])
                .with(labeled("octo", "stale", days_ago(5))),
        ]),
        &StaleSettings::default(),
    );
    assert!(analysis.actions.is_empty(), "{:?}", analysis.actions);
    let stale = &analysis.stale_prs[0];
    assert_eq!(stale.marked_at.as_deref(), Some("2027-01-10T08:00:00.000Z"));
    assert_eq!(stale.closes_at.as_deref(), Some("2027-01-17T08:00:00.000Z"));
}

#[test]
fn the_store_s_mark_counts_when_the_timeline_has_none() {
    let repositories = with_pulls(vec![pull(7, "mona", days_ago(40)).labelled(&["stale"])]);
    let marks = Marks::from([(("acme/api".to_string(), 7), days_ago(10))]);
    let analysis = analyse(&repositories, &StaleSettings::default(), &marks, NOW, false);
    assert!(matches!(
        analysis.actions.as_slice(),
        [StaleAction::Close { number: 7, .. }]
    ));
    assert!(!analysis.dry_run);
    // A mark whose label a person took off no longer counts: marked again.
    let repositories = with_pulls(vec![pull(7, "mona", days_ago(40))]);
    let analysis = analyse(&repositories, &StaleSettings::default(), &marks, NOW, true);
    assert_eq!(marked_numbers(&analysis), [7]);
}

#[test]
fn human_activity_after_the_mark_takes_the_label_off() {
    let analysis = plan(
        &with_pulls(vec![
            pull(7, "mona", days_ago(40))
                .labelled(&["stale"])
                .with(labeled("octo", "stale", days_ago(8)))
                .with(comment("mona", days_ago(2))),
            // Activity before the mark changes nothing.
            pull(8, "mona", days_ago(60))
                .labelled(&["stale"])
                .with(comment("mona", days_ago(40)))
                .with(labeled("octo", "stale", days_ago(5))),
        ]),
        &StaleSettings::default(),
    );
    let unmark = StaleAction::Unmark {
        repository: "acme/api".to_string(),
        number: 7,
        label: "stale".to_string(),
    };
    assert_eq!(
        unmark.describe(),
        "remove `stale` from acme/api#7 (a person was active)"
    );
    assert_eq!(analysis.actions, [unmark]);
    let stale: Vec<u64> = analysis.stale_prs.iter().map(|p| p.number).collect();
    assert_eq!(stale, [8]);
}

#[test]
fn exempt_labels_drafts_milestones_and_assignees_are_never_stale() {
    let mut draft = pull(2, "mona", days_ago(40));
    draft.draft = true;
    let mut milestone = pull(3, "mona", days_ago(40));
    milestone.milestone = true;
    let mut assigned = pull(4, "mona", days_ago(40));
    assigned.assignees = 1;
    let pulls = vec![
        pull(1, "mona", days_ago(40)).labelled(&["bug", "keep"]),
        draft,
        milestone,
        assigned,
    ];
    let exempting = StaleSettings {
        exempt_labels: vec!["keep".to_string()],
        exempt_drafts: true,
        exempt_milestones: true,
        exempt_assignees: true,
        ..StaleSettings::default()
    };
    let analysis = plan(&with_pulls(pulls.clone()), &exempting);
    assert_eq!((analysis.stale_prs.len(), analysis.actions.len()), (0, 0));
    assert_eq!(analysis.summary, StaleSummary::default());
    // The same pull requests without the exemptions are all stale.
    let analysis = plan(&with_pulls(pulls), &StaleSettings::default());
    assert_eq!(marked_numbers(&analysis), [1, 2, 3, 4]);
}

#[test]
fn the_shortest_per_label_threshold_applies() {
    let settings = StaleSettings {
        labels: [
            ("needs-review".to_string(), (Some(14), None)),
            ("waiting".to_string(), (Some(20), Some(3))),
        ]
        .into(),
        ..StaleSettings::default()
    };
    let analysis = plan(
        &with_pulls(vec![
            pull(1, "mona", days_ago(15)).labelled(&["needs-review", "waiting"]),
            pull(2, "mona", days_ago(15)).labelled(&["waiting"]),
            pull(3, "mona", days_ago(15)),
            pull(4, "mona", days_ago(21)).labelled(&["waiting"]),
        ]),
        &settings,
    );
    assert_eq!(marked_numbers(&analysis), [1, 4]);
    let first = &analysis.stale_prs[0];
    assert_eq!(first.days_inactive, 15);
    // waiting's 3 days to close, from now.
    assert_eq!(first.closes_at.as_deref(), Some("2027-01-18T08:00:00.000Z"));
    let StaleAction::Mark { comment, .. } = &analysis.actions[0] else {
        panic!("{:?}", analysis.actions);
    };
    assert!(comment.contains("It will be closed in 3 days"), "{comment}");
}

#[test]
fn zero_days_until_close_marks_but_never_closes() {
    let settings = StaleSettings {
        days_until_close: 0,
        ..StaleSettings::default()
    };
    let analysis = plan(
        &with_pulls(vec![
            pull(1, "mona", days_ago(40)),
            pull(2, "mona", days_ago(200))
                .labelled(&["stale"])
                .with(labeled("octo", "stale", days_ago(100))),
        ]),
        &settings,
    );
    assert_eq!(
        analysis.actions,
        [mark(
            1,
            "<!-- weft-monitor stale -->\nThis pull request has had no activity from people for \
             40 days, so it is marked stale."
                .to_string()
        )]
    );
    assert!(analysis.stale_prs.iter().all(|p| p.closes_at.is_none()));
}

#[test]
fn branches_of_merged_or_no_pull_requests_go_after_stale_and_close_days() {
    let mut data = repository("acme/api");
    data.info = Some(info("acme/api", "trunk", days_ago(1)));
    let mut protected = branch("release", days_ago(100));
    protected.protected = true;
    data.branches = vec![
        branch("trunk", days_ago(100)),
        protected,
        branch("feature-open", days_ago(100)),
        branch("abandoned", days_ago(60)),
        branch("shipped", days_ago(33)),
        branch("old-shipped", days_ago(37)),
        branch("orphan", days_ago(50)),
        branch("fresh", days_ago(29)),
        branch("unknown-head", 0),
    ];
    data.pulls = vec![
        pull(1, "mona", days_ago(2)).head("feature-open"),
        pull(2, "mona", days_ago(70))
            .head("abandoned")
            .closed(days_ago(50)),
        pull(3, "mona", days_ago(35))
            .head("shipped")
            .merged(days_ago(33)),
        pull(4, "mona", days_ago(45))
            .head("old-shipped")
            .merged(days_ago(40)),
    ];
    let analysis = plan(&[data], &StaleSettings::default());
    let stale: Vec<(&str, &str, Option<u64>, i64)> = analysis
        .stale_branches
        .iter()
        .map(|b| (b.name.as_str(), b.reason.as_str(), b.pull, b.days_inactive))
        .collect();
    assert_eq!(
        stale,
        [
            ("shipped", "merged", Some(3), 33),
            ("old-shipped", "merged", Some(4), 37),
            ("orphan", "no_pull_request", None, 50),
        ]
    );
    // Deleted only at 30 + 7 days.
    let deleted: Vec<&str> = analysis
        .actions
        .iter()
        .filter_map(|a| match a {
            StaleAction::DeleteBranch {
                repository, branch, ..
            } => {
                assert_eq!(repository, "acme/api");
                Some(branch.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(deleted, ["old-shipped", "orphan"]);
    assert_eq!(analysis.actions.len(), 2, "{:?}", analysis.actions);
    let orphan = &analysis.stale_branches[2];
    assert_eq!(orphan.url, "https://github.com/acme/api/tree/orphan");
    assert_eq!(orphan.last_commit, "2026-11-26T08:00:00.000Z");
    assert_eq!(
        (
            analysis.summary.total_stale_branches,
            analysis.summary.oldest_branch_days
        ),
        (3, 50)
    );
    assert_eq!(
        analysis.recommendations,
        [
            "2 merged branches are still there: turn on \"Automatically delete head branches\" \
          in the repositories' settings."
        ]
    );
}

#[test]
fn with_delete_branches_off_stale_branches_are_listed_only() {
    let mut data = repository("acme/api");
    data.branches = vec![branch("orphan", days_ago(50))];
    let settings = StaleSettings {
        delete_branches: false,
        ..StaleSettings::default()
    };
    let analysis = plan(&[data], &settings);
    assert_eq!(analysis.stale_branches.len(), 1);
    assert!(analysis.actions.is_empty(), "{:?}", analysis.actions);
    assert_eq!(
        analysis.recommendations,
        ["Stale branches are listed but not deleted (`monitor.stale.delete_branches: false`)."]
    );
}

#[test]
fn the_summary_spans_every_repository() {
    let mut api = repository("acme/api");
    api.pulls = vec![
        pull(1, "mona", days_ago(40)),
        pull(2, "mona", days_ago(35)),
        pull(3, "mona", days_ago(90)).closed(days_ago(80)),
    ];
    let mut web = repository("acme/web");
    web.pulls = vec![pull(1, "lisa", days_ago(61))];
    web.branches = vec![branch("orphan", days_ago(45))];
    let analysis = plan(&[api, web], &StaleSettings::default());
    assert_eq!(analysis.repository, None);
    assert_eq!(analysis.repositories, ["acme/api", "acme/web"]);
    assert_eq!(
        analysis.summary,
        StaleSummary {
            total_stale_prs: 3,
            total_stale_branches: 1,
            oldest_pr_days: 61,
            oldest_branch_days: 45,
        }
    );
    let repositories: Vec<&str> = analysis
        .actions
        .iter()
        .map(StaleAction::repository)
        .collect();
    assert_eq!(
        repositories,
        ["acme/api", "acme/api", "acme/web", "acme/web"]
    );
}

#[test]
fn a_marked_pull_request_that_became_exempt_loses_the_label() {
    let settings = StaleSettings {
        exempt_labels: vec!["keep".to_string()],
        ..StaleSettings::default()
    };
    let pulls = with_pulls(vec![
        pull(1, "mona", days_ago(40))
            .with(labeled("octo", "stale", days_ago(8)))
            .labelled(&["stale", "keep"]),
    ]);
    let analysis = plan(&pulls, &settings);
    assert_eq!(
        analysis.actions,
        [StaleAction::Unmark {
            repository: "acme/api".to_string(),
            number: 1,
            label: "stale".to_string(),
        }]
    );
    assert!(analysis.stale_prs.is_empty());
}
