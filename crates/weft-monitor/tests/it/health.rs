//! The health score: which probes apply, how weights move to the applicable
//! ones, the bands, and the evidence behind every deduction.

use weft_monitor::MonitorSettings;
use weft_monitor::Severity::{Critical, Medium};
use weft_monitor::health::{Band, Evidence, Health, health, open_critical};
use weft_monitor::settings::DAY_MS;
use weft_monitor::snapshot::RepositoryData;

use crate::fixtures::{
    HOUR_MS, NOW, ThreadExt, applicable, comment, days_ago, event, finding, info, issue, job,
    labeled, probe, pull, release, repository, run, weft_comment,
};

/// The health of `data` at [`NOW`] with the default settings.
fn scored(data: &RepositoryData) -> Health {
    health(data, &MonitorSettings::default(), NOW)
}

fn evidence(title: &str, url: &str) -> Evidence {
    Evidence {
        title: title.to_string(),
        url: url.to_string(),
    }
}

/// Three of four counted runs succeeded; a cancelled run and one older
/// than the window say nothing.
fn three_of_four() -> Vec<weft_monitor::items::RunItem> {
    vec![
        run(1, "ci", "success", days_ago(4)),
        run(2, "ci", "failure", days_ago(3)),
        run(3, "ci", "success", days_ago(2)),
        run(4, "ci", "success", days_ago(1)),
        run(5, "ci", "cancelled", days_ago(1)),
        run(6, "ci", "failure", days_ago(31)),
    ]
}

#[test]
fn ci_alone_shares_the_score_with_the_alerts_probe() {
    let mut data = repository("acme/api");
    data.runs = three_of_four();
    let health = scored(&data);
    // Runs make the alerts probe apply too (no critical failure: 100).
    assert_eq!(applicable(&health), ["ci_success", "alerts"]);
    // (30 × 75 + 10 × 100) / 40 = 81.25.
    assert_eq!(health.score, Some(81));
    assert_eq!(health.band, Band::Healthy);
    assert_eq!(health.url, "https://github.com/acme/api");
    let ci = probe(&health, "ci_success");
    assert_eq!(ci.score, Some(75.0));
    assert_eq!(ci.share, 0.75);
    assert_eq!(ci.deducted, 18.8);
    assert_eq!(ci.detail, "3 of 4 completed runs succeeded");
    assert_eq!(
        ci.evidence,
        [evidence(
            "ci failed on main",
            "https://github.com/acme/api/actions/runs/2"
        )]
    );
    let alerts = probe(&health, "alerts");
    assert_eq!(
        (alerts.score, alerts.share, alerts.deducted),
        (Some(100.0), 0.25, 0.0)
    );
}

#[test]
fn ci_alone_scores_its_success_rate_when_alerts_weigh_nothing() {
    let mut data = repository("acme/api");
    data.runs = three_of_four();
    let mut settings = MonitorSettings::default();
    settings.weights.alerts = 0;
    let health = health(&data, &settings, NOW);
    assert_eq!(health.score, Some(75));
    assert_eq!(health.band, Band::Warning);
    let alerts = probe(&health, "alerts");
    assert!(alerts.applicable);
    assert_eq!((alerts.share, alerts.deducted), (0.0, 0.0));
    assert_eq!(probe(&health, "ci_success").share, 1.0);
}

#[test]
fn nothing_collected_is_unavailable_never_zero() {
    let health = scored(&repository("acme/empty"));
    assert_eq!(health.score, None);
    assert_eq!(health.band, Band::Unavailable);
    assert_eq!(health.probes.len(), 7);
    for p in &health.probes {
        assert!(!p.applicable, "{} applies", p.name);
        assert_eq!(
            (p.score, p.share, p.deducted),
            (None, 0.0, 0.0),
            "{}",
            p.name
        );
    }
    assert_eq!(probe(&health, "releases").detail, "no releases");
}

#[test]
fn bots_alone_leave_the_score_unavailable() {
    let mut data = repository("acme/bots");
    data.issues = vec![
        issue(1, "renovate[bot]", days_ago(2)).with(comment("github-actions[bot]", days_ago(1))),
    ];
    data.events = vec![event(1, "PushEvent", "dependabot[bot]", days_ago(1))];
    let health = scored(&data);
    assert_eq!(applicable(&health), Vec::<&str>::new());
    assert_eq!(health.score, None);
    assert_eq!(health.band, Band::Unavailable);
}

#[test]
fn bands_split_at_80_and_60() {
    assert_eq!(Band::of(Some(100)), Band::Healthy);
    assert_eq!(Band::of(Some(80)), Band::Healthy);
    assert_eq!(Band::of(Some(79)), Band::Warning);
    assert_eq!(Band::of(Some(60)), Band::Warning);
    assert_eq!(Band::of(Some(59)), Band::Critical);
    assert_eq!(Band::of(Some(0)), Band::Critical);
    assert_eq!(Band::of(None), Band::Unavailable);
    assert_eq!(Band::Unavailable.as_str(), "unavailable");
}

#[test]
fn weights_go_to_the_applicable_probes_in_proportion() {
    let mut data = repository("acme/api");
    data.info = Some(info("acme/api", "main", days_ago(1)));
    data.runs = three_of_four();
    data.releases = vec![release("v1.2.0", days_ago(105))];
    let health = scored(&data);
    assert_eq!(
        applicable(&health),
        ["ci_success", "activity", "releases", "alerts"]
    );
    // (30 × 75 + 10 × 100 + 10 × 50 + 10 × 100) / 60 = 79.17.
    assert_eq!(health.score, Some(79));
    assert_eq!(health.band, Band::Warning);
    let ci = probe(&health, "ci_success");
    assert_eq!((ci.share, ci.deducted), (0.5, 12.5));
    let releases = probe(&health, "releases");
    assert_eq!(releases.score, Some(50.0));
    assert_eq!((releases.share, releases.deducted), (0.167, 8.3));
    assert_eq!(releases.detail, "latest release v1.2.0 105 days ago");
    assert_eq!(
        releases.evidence,
        [evidence(
            "release v1.2.0",
            "https://github.com/acme/api/releases/tag/v1.2.0"
        )]
    );
    let activity = probe(&health, "activity");
    assert_eq!((activity.score, activity.deducted), (Some(100.0), 0.0));
    assert_eq!(activity.detail, "last human activity 1 days ago: a push");
    assert!(activity.evidence.is_empty());
}

#[test]
fn response_time_waits_for_a_person_other_than_the_author() {
    let opened = days_ago(10);
    let mut data = repository("acme/api");
    data.issues = vec![
        // The author, a bot and weft's own comment are no response; the
        // person after 48 h is: 100 × (168 − 48) / 144.
        issue(1, "mona", opened)
            .with(comment("mona", opened + HOUR_MS))
            .with(comment("dependabot[bot]", opened + 2 * HOUR_MS))
            .with(weft_comment("octo", opened + 3 * HOUR_MS))
            .with(comment("hubot", opened + 48 * HOUR_MS)),
        // Open 72 h without an answer: 100 × (168 − 72) / 144.
        issue(2, "lisa", days_ago(3)),
        // Under a day old: not due yet.
        issue(3, "newcomer", NOW - 2 * HOUR_MS),
        // Opened by a bot: nobody owes it an answer.
        issue(4, "renovate[bot]", days_ago(5)),
    ];
    let health = scored(&data);
    let response = probe(&health, "response_time");
    assert_eq!(response.score, Some(75.0));
    assert_eq!(
        response.detail,
        "1 of 2 issues and pull requests got a human response; 2 took over a day"
    );
    assert_eq!(
        response.evidence,
        [
            evidence(
                "#2 change 2: no response yet",
                "https://github.com/acme/api/issues/2"
            ),
            evidence(
                "#1 change 1: first response after 48 h",
                "https://github.com/acme/api/issues/1"
            ),
        ]
    );
}

#[test]
fn pull_request_closure_compares_closed_with_opened() {
    let mut data = repository("acme/api");
    data.pulls = vec![
        pull(1, "mona", days_ago(10)).merged(days_ago(9)),
        // Opened before the window, closed in it.
        pull(2, "mona", days_ago(60)).closed(days_ago(5)),
        pull(3, "lisa", days_ago(4)),
        pull(4, "lisa", days_ago(3)),
        pull(5, "lisa", days_ago(2)),
    ];
    let health = scored(&data);
    let closure = probe(&health, "pr_closure");
    assert_eq!(closure.score, Some(50.0));
    assert_eq!(
        closure.detail,
        "pull requests in the window: 2 closed, 4 opened"
    );
    let titles: Vec<&str> = closure.evidence.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "#3 change 3 is still open",
            "#4 change 4 is still open",
            "#5 change 5 is still open"
        ]
    );
}

#[test]
fn the_stale_probe_ignores_bots_and_weft_s_own_label_and_comments() {
    let mut data = repository("acme/api");
    data.pulls = vec![
        pull(1, "mona", days_ago(40))
            .with(comment("dependabot[bot]", days_ago(1)))
            .with(weft_comment("octo", days_ago(1)))
            .with(labeled("octo", "stale", days_ago(2))),
        pull(2, "lisa", days_ago(40)).with(comment("hubot", days_ago(3))),
    ];
    let health = scored(&data);
    let stale = probe(&health, "stale");
    assert_eq!(stale.score, Some(50.0));
    assert_eq!(stale.detail, "1 of 2 open pull requests are stale");
    assert_eq!(
        stale.evidence,
        [evidence(
            "#1 change 1: no human activity for 40 days",
            "https://github.com/acme/api/pull/1"
        )]
    );
}

#[test]
fn activity_falls_linearly_between_a_week_and_a_month() {
    let mut data = repository("acme/api");
    data.info = Some(info("acme/api", "main", days_ago(40)));
    data.events = vec![
        event(1, "PushEvent", "dependabot[bot]", days_ago(1)),
        // 18.5 days: halfway from 7 to 30.
        event(2, "PushEvent", "mona", NOW - 37 * DAY_MS / 2),
    ];
    let health = scored(&data);
    let activity = probe(&health, "activity");
    assert_eq!(activity.score, Some(50.0));
    assert_eq!(
        activity.detail,
        "last human activity 18 days ago: PushEvent by mona"
    );
    assert_eq!(
        activity.evidence,
        [evidence("PushEvent by mona", "https://github.com/acme/api")]
    );
    // Only the activity probe applies: the score is its own.
    assert_eq!(health.score, Some(50));

    data.events.pop();
    // 40 days since the push: nothing left.
    assert_eq!(probe(&scored(&data), "activity").score, Some(0.0));
}

#[test]
fn critical_failures_count_until_a_later_success_clears_them() {
    let mut data = repository("acme/api");
    data.runs = vec![
        run(1, "ci", "failure", days_ago(2)),
        run(2, "ci", "failure", days_ago(1)),
        run(3, "deploy", "failure", days_ago(3)),
        run(4, "deploy", "success", days_ago(2)),
        run(5, "ci", "failure", days_ago(9)),
    ];
    data.jobs = vec![
        job(
            11,
            1,
            vec![
                finding("oom", Critical, "resources"),
                finding("flaky", Medium, "test"),
            ],
        ),
        job(21, 2, vec![finding("oom", Critical, "resources")]),
        job(31, 3, vec![finding("disk-full", Critical, "runner")]),
        job(51, 5, vec![finding("expired", Critical, "secrets")]),
    ];
    // One per rule; the deploy failure was cleared, the week-old one is
    // too old.
    assert_eq!(
        open_critical(&data, NOW),
        [(
            "oom".to_string(),
            "https://github.com/acme/api/actions/runs/1/job/11".to_string()
        )]
    );
    let health = scored(&data);
    let alerts = probe(&health, "alerts");
    assert_eq!(alerts.score, Some(50.0));
    assert_eq!(alerts.detail, "1 open critical failures");
    assert_eq!(
        alerts.evidence,
        [evidence(
            "critical: oom",
            "https://github.com/acme/api/actions/runs/1/job/11"
        )]
    );
}

#[test]
fn every_deduction_names_its_evidence() {
    let mut data = repository("acme/api");
    data.info = Some(info("acme/api", "main", days_ago(12)));
    data.runs = three_of_four();
    data.releases = vec![release("v0.9.0", days_ago(90))];
    data.pulls = vec![
        pull(1, "mona", days_ago(45)),
        pull(2, "lisa", days_ago(5)).with(comment("hubot", days_ago(1))),
    ];
    data.issues = vec![issue(3, "lisa", days_ago(6))];
    let health = scored(&data);
    assert_eq!(health.probes.iter().filter(|p| p.applicable).count(), 7);
    let total: f64 = health.probes.iter().map(|p| p.deducted).sum();
    assert!(total > 0.0);
    for p in health.probes.iter().filter(|p| p.deducted > 0.0) {
        assert!(
            !p.evidence.is_empty(),
            "{} deducts without evidence",
            p.name
        );
        assert!(
            p.evidence
                .iter()
                .all(|e| e.url.starts_with("https://github.com/acme/api")),
            "{}: {:?}",
            p.name,
            p.evidence
        );
    }
    let score = f64::from(health.score.unwrap());
    assert!((100.0 - total - score).abs() <= 1.0, "{total} vs {score}");
}

#[test]
fn exempt_pull_requests_never_count_as_stale_and_weft_s_label_is_not_activity() {
    let mut settings = MonitorSettings::default();
    settings.stale.exempt_labels = vec!["keep".to_string()];
    let mut data = repository("acme/api");
    data.info = Some(info("acme/api", "main", days_ago(60)));
    data.pulls = vec![
        pull(1, "mona", days_ago(40)).labelled(&["keep"]),
        pull(2, "mona", days_ago(45)).with(labeled("octo", "stale", days_ago(1))),
    ];
    let scored = health(&data, &settings, NOW);
    let stale = probe(&scored, "stale");
    assert_eq!(stale.detail, "1 of 1 open pull requests are stale");
    assert!(stale.evidence[0].title.starts_with("#2 "), "{stale:?}");
    // weft labelling #2 a day ago is not a person being active.
    let activity = probe(&scored, "activity");
    assert!(activity.detail.contains("40 days ago"), "{activity:?}");
    assert_eq!(activity.score, Some(0.0));
}
