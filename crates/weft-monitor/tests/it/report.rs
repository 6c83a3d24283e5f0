//! The ecosystem report: the failures of the window, the summary's counts,
//! the recommendations and the Markdown table.

use std::collections::BTreeMap;

use weft_monitor::MonitorSettings;
use weft_monitor::Severity::{Critical, Medium};
use weft_monitor::health::{Band, Evidence};
use weft_monitor::items::LogState;
use weft_monitor::report::{EcosystemAnalysis, Summary, TrendPoint, analyse, failures, markdown};
use weft_monitor::snapshot::RepositoryData;
use weft_monitor::stale::StaleSummary;

use crate::fixtures::{
    HOUR_MS, NOW, days_ago, event, finding, info, job, release, repository, run, snapshot,
};

fn report(repositories: Vec<RepositoryData>) -> EcosystemAnalysis {
    analyse(
        &snapshot(repositories),
        &MonitorSettings::default(),
        &BTreeMap::new(),
        Vec::new(),
    )
}

/// Two failed CI runs with critical findings, and people active an hour ago.
fn failing() -> RepositoryData {
    let mut data = repository("acme/api");
    data.runs = vec![
        run(1, "ci", "failure", days_ago(2)),
        run(2, "ci", "failure", days_ago(1)),
    ];
    data.jobs = vec![
        job(
            11,
            1,
            vec![
                finding("oom", Critical, "resources"),
                finding("oom", Critical, "resources"),
                finding("flaky", Medium, "test"),
            ],
        ),
        job(21, 2, vec![finding("oom", Critical, "resources")]),
    ];
    data.events = vec![
        event(1, "PushEvent", "mona", NOW - HOUR_MS),
        event(2, "IssuesEvent", "lisa", days_ago(2)),
        event(3, "PushEvent", "dependabot[bot]", days_ago(3)),
    ];
    data
}

#[test]
fn failures_include_failed_runs_whose_jobs_were_not_read() {
    let mut data = repository("acme/api");
    let mut unread = run(2, "ci", "failure", days_ago(1));
    unread.jobs_fetched = false;
    data.runs = vec![
        run(1, "ci", "failure", days_ago(2)),
        unread,
        run(3, "ci", "success", days_ago(1)),
        run(4, "ci", "failure", days_ago(40)),
        run(5, "ci", "cancelled", days_ago(1)),
    ];
    data.jobs = vec![
        job(11, 1, vec![finding("oom", Critical, "resources")]),
        job(41, 4, vec![finding("oom", Critical, "resources")]),
        // A job of a run that was not collected.
        job(91, 9, Vec::new()),
    ];
    let list = failures(&data, days_ago(30));
    let seen: Vec<(u64, &str, LogState)> = list
        .iter()
        .map(|f| (f.run_id, f.job.as_str(), f.log))
        .collect();
    assert_eq!(
        seen,
        [
            (2, "", LogState::Unavailable),
            (1, "job 11", LogState::Analysed)
        ]
    );
    let unread = &list[0];
    assert_eq!(unread.run_url, "https://github.com/acme/api/actions/runs/2");
    assert_eq!(unread.job_url, "");
    assert_eq!(unread.at, "2027-01-14T08:00:00.000Z");
    assert!(unread.findings.is_empty());
    let read = &list[1];
    assert_eq!(
        (read.workflow.as_str(), read.branch.as_str()),
        ("ci", "main")
    );
    assert_eq!(read.findings.len(), 1);
    let oom = &read.findings[0];
    assert_eq!(
        (
            oom.rule.as_str(),
            oom.pattern.as_str(),
            oom.category.as_str()
        ),
        ("oom", "oom-pattern", "resources")
    );
    assert_eq!(
        (oom.severity, oom.line, oom.text.as_str()),
        (Critical, 1, "error: oom")
    );
    assert_eq!(oom.suggestions, ["fix oom"]);
}

#[test]
fn the_summary_counts_domains_events_and_issues() {
    let mut web = repository("acme/web");
    web.info = Some(info("acme/web", "main", days_ago(1)));
    let stale = StaleSummary {
        total_stale_prs: 1,
        total_stale_branches: 0,
        oldest_pr_days: 40,
        oldest_branch_days: 0,
    };
    let trends = vec![TrendPoint {
        at: "2027-01-14T08:00:00.000Z".to_string(),
        scores: BTreeMap::from([("acme/api".to_string(), Some(35))]),
    }];
    let report = analyse(
        &snapshot(vec![failing(), web, repository("acme/docs")]),
        &MonitorSettings::default(),
        &BTreeMap::from([("acme/api".to_string(), stale.clone())]),
        trends.clone(),
    );
    assert_eq!(
        report.summary,
        Summary {
            total_domains: 3,
            healthy_domains: 1,
            unhealthy_domains: 1,
            total_events: 3,
            // oom in two failed jobs, flaky in one.
            total_issues: 3,
            critical_issues: 2,
        }
    );
    assert_eq!(report.timestamp, "2027-01-15T08:00:00.000Z");
    assert_eq!(report.trends, trends);
    assert_eq!(report.failures.len(), 2);

    let api = &report.domains["acme/api"];
    // (30 × 0 + 10 × 100 + 10 × 50) / 50: no run succeeded, people were
    // active an hour ago, one open critical failure.
    assert_eq!((api.health_score, api.band), (Some(30), Band::Critical));
    assert_eq!((api.total_events, api.recent_activity), (3, 1));
    assert_eq!(api.stale, stale);
    let issues: Vec<(&str, usize, &str)> = api
        .issues_detected
        .iter()
        .map(|i| (i.rule.as_str(), i.count, i.url.as_str()))
        .collect();
    assert_eq!(
        issues,
        [
            (
                "oom",
                2,
                "https://github.com/acme/api/actions/runs/2/job/21"
            ),
            (
                "flaky",
                1,
                "https://github.com/acme/api/actions/runs/1/job/11"
            ),
        ]
    );
    // Biggest deduction first: CI (60 points), then alerts (10).
    let evidence = |title: &str, url: &str| Evidence {
        title: title.to_string(),
        url: url.to_string(),
    };
    assert_eq!(
        api.evidence,
        [
            evidence(
                "ci failed on main",
                "https://github.com/acme/api/actions/runs/2"
            ),
            evidence(
                "ci failed on main",
                "https://github.com/acme/api/actions/runs/1"
            ),
            evidence(
                "critical: oom",
                "https://github.com/acme/api/actions/runs/1/job/11"
            ),
        ]
    );
    assert_eq!(report.domains["acme/web"].band, Band::Healthy);
    assert_eq!(report.domains["acme/web"].stale, StaleSummary::default());
    let docs = &report.domains["acme/docs"];
    assert_eq!((docs.health_score, docs.band), (None, Band::Unavailable));
    assert_eq!(
        report.recommendations,
        [
            "oom (critical, 3×): fix oom",
            "flaky (medium, 1×): fix flaky",
            "acme/api: ci_success costs 60 points (0 of 2 completed runs succeeded)",
        ]
    );
}

#[test]
fn markdown_lists_every_repository_and_the_failures() {
    let text = markdown(&report(vec![failing(), repository("acme/docs")]));
    assert!(text.starts_with("# Ecosystem summary\n\nGenerated 2027-01-15T08:00:00.000Z.\n"));
    assert!(
        text.contains(
            "Repositories: 2 (0 healthy, 1 unhealthy). Events: 3. Issues detected: 3 (2 critical).\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "| [acme/api](https://github.com/acme/api) | 30 | critical | 3 | 2 | 0 | \
             ci_success −60: 0 of 2 completed runs succeeded |\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "| [acme/docs](https://github.com/acme/docs) | n/a | unavailable | 0 | 0 | 0 |  |\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "- [acme/api ci / job 21](https://github.com/acme/api/actions/runs/2/job/21) on main: \
             oom (critical, resources)\n"
        ),
        "{text}"
    );
}

#[test]
fn markdown_escapes_pipes_in_the_table() {
    // A tag may hold `|`; the releases probe's detail quotes it.
    let mut data = repository("acme/api");
    data.releases = vec![release("v1|rc", days_ago(200))];
    let text = markdown(&report(vec![data]));
    assert!(
        text.contains(
            "| [acme/api](https://github.com/acme/api) | 0 | critical | 0 | 0 | 0 | \
             releases −100: latest release v1\\|rc 200 days ago |\n"
        ),
        "{text}"
    );
    for row in text.lines().filter(|l| l.starts_with('|')) {
        let cells = row
            .match_indices('|')
            .filter(|(i, _)| !row[..*i].ends_with('\\'));
        assert_eq!(cells.count(), 8, "{row}");
    }
}
