//! Alerts: what the analysis raises, and the plan that keeps one issue per
//! alert (open, update in place, comment on a rise, close on recovery).

use std::collections::BTreeSet;

use weft_monitor::MonitorSettings;
use weft_monitor::Severity;
use weft_monitor::alerts::{
    Alert, AlertAction, AlertInput, AlertType, OpenAlert, alerts, parse_marker, plan,
};
use weft_monitor::health::{Band, Health, Probe, health};
use weft_monitor::settings::AlertSettings;
use weft_monitor::stale::StaleSummary;

use crate::fixtures::{NOW, days_ago, info, repository};

fn measured(name: &'static str, score: Option<f64>, detail: &str) -> Probe {
    Probe {
        name,
        weight: 10,
        applicable: score.is_some(),
        score,
        share: if score.is_some() { 0.5 } else { 0.0 },
        deducted: score.map_or(0.0, |s| (100.0 - s) / 2.0),
        detail: detail.to_string(),
        evidence: Vec::new(),
    }
}

fn scored(score: Option<u32>, probes: Vec<Probe>) -> Health {
    Health {
        repository: "acme/api".to_string(),
        url: "https://github.com/acme/api".to_string(),
        score,
        band: Band::of(score),
        probes,
    }
}

fn input(health: &Health) -> AlertInput<'_> {
    AlertInput {
        health,
        critical: Vec::new(),
        stale: StaleSummary::default(),
    }
}

fn kinds(alerts: &[Alert]) -> Vec<(AlertType, &str, Severity)> {
    alerts
        .iter()
        .map(|a| (a.kind, a.rule.as_str(), a.severity))
        .collect()
}

#[test]
fn a_healthy_repository_raises_nothing() {
    let health = scored(Some(90), vec![measured("activity", Some(100.0), "recent")]);
    assert_eq!(
        alerts(&[input(&health)], &AlertSettings::default()),
        Vec::<Alert>::new()
    );
}

#[test]
fn each_critical_rule_raises_its_own_alert() {
    let health = scored(Some(90), Vec::new());
    let mut input = input(&health);
    input.critical = vec![
        ("oom".to_string(), "https://ci.example/job/1".to_string()),
        (
            "disk-full".to_string(),
            "https://ci.example/job/2".to_string(),
        ),
    ];
    let raised = alerts(&[input], &AlertSettings::default());
    assert_eq!(
        kinds(&raised),
        [
            (AlertType::Critical, "oom", Severity::Critical),
            (AlertType::Critical, "disk-full", Severity::Critical)
        ]
    );
    assert_eq!(raised[0].fingerprint(), "acme/api|critical|oom");
    assert_eq!(
        raised[0].title,
        "[weft] acme/api: critical CI failure `oom`"
    );
    assert!(
        raised[0]
            .body
            .ends_with("The failed job: https://ci.example/job/1"),
        "{}",
        raised[0].body
    );
}

#[test]
fn a_score_under_the_band_raises_an_ecosystem_alert_with_its_probes() {
    let health = scored(
        Some(55),
        vec![
            measured("ci_success", Some(40.0), "2 of 5 | runs"),
            measured("releases", None, "no releases"),
        ],
    );
    let raised = alerts(&[input(&health)], &AlertSettings::default());
    assert_eq!(
        kinds(&raised),
        [(AlertType::Ecosystem, "health", Severity::High)]
    );
    assert_eq!(raised[0].title, "[weft] acme/api: health critical");
    assert_eq!(
        raised[0].body,
        "The health score of acme/api is **55** (critical).\n\n\
         | probe | score | deducted | detail |\n| --- | ---: | ---: | --- |\n\
         | ci_success | 40 | 30.0 | 2 of 5 \\| runs |\n"
    );
}

#[test]
fn the_warning_band_alerts_only_when_settings_ask_for_it() {
    let health = scored(Some(70), Vec::new());
    assert_eq!(
        alerts(&[input(&health)], &AlertSettings::default()),
        Vec::<Alert>::new()
    );
    let warning = AlertSettings {
        below: 80,
        ..AlertSettings::default()
    };
    let raised = alerts(&[input(&health)], &warning);
    assert_eq!(
        kinds(&raised),
        [(AlertType::Ecosystem, "health", Severity::Medium)]
    );
    assert_eq!(raised[0].title, "[weft] acme/api: health warning");
    // Unavailable is no score, so no alert.
    let unavailable = scored(None, Vec::new());
    assert_eq!(
        alerts(&[input(&unavailable)], &warning),
        Vec::<Alert>::new()
    );
}

#[test]
fn stale_items_raise_a_low_alert() {
    let health = scored(Some(90), Vec::new());
    let mut input = input(&health);
    input.stale = StaleSummary {
        total_stale_prs: 2,
        total_stale_branches: 1,
        oldest_pr_days: 40,
        oldest_branch_days: 50,
    };
    let raised = alerts(&[input], &AlertSettings::default());
    assert_eq!(kinds(&raised), [(AlertType::Stale, "stale", Severity::Low)]);
    assert_eq!(
        raised[0].body,
        "2 stale pull requests (oldest 40 days without human activity) and 1 stale branches \
         (oldest 50 days). `weft monitor stale --dry-run` lists them."
    );
}

#[test]
fn a_month_without_people_raises_maintenance_and_a_critical_health() {
    // Only the activity probe applies, at zero: a push 40 days ago.
    let mut data = repository("acme/api");
    data.info = Some(info("acme/api", "main", days_ago(40)));
    let health = health(&data, &MonitorSettings::default(), NOW);
    assert_eq!(health.score, Some(0));
    let raised = alerts(&[input(&health)], &AlertSettings::default());
    assert_eq!(
        kinds(&raised),
        [
            (AlertType::Ecosystem, "health", Severity::High),
            (AlertType::Maintenance, "inactive", Severity::Low)
        ]
    );
    assert_eq!(
        raised[1].title,
        "[weft] acme/api: no human activity for a month"
    );
    // Little activity is not none.
    let quiet = scored(Some(95), vec![measured("activity", Some(0.5), "29 days")]);
    assert_eq!(
        alerts(&[input(&quiet)], &AlertSettings::default()),
        Vec::<Alert>::new()
    );
}

fn alert(kind: AlertType, rule: &str, severity: Severity, body: &str) -> Alert {
    Alert {
        repository: "acme/api".to_string(),
        kind,
        rule: rule.to_string(),
        severity,
        title: format!("[weft] acme/api: {rule}"),
        body: body.to_string(),
    }
}

/// The body weft writes for `alert`: its text, then the marker.
fn written(alert: &Alert) -> String {
    format!(
        "{}\n\n<!-- weft-monitor alert fingerprint=\"{}\" severity=\"{}\" -->\n",
        alert.body,
        alert.fingerprint(),
        alert.severity.as_str()
    )
}

/// An open issue holding what weft wrote for `alert`.
fn issue_of(alert: &Alert, number: u64) -> OpenAlert {
    let body = written(alert);
    let (fingerprint, severity) = parse_marker(&body).unwrap();
    OpenAlert {
        issue_repository: alert.repository.clone(),
        number,
        fingerprint,
        severity,
        body,
    }
}

fn analysed(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_string()).collect()
}

#[test]
fn the_marker_round_trips() {
    let oom = alert(AlertType::Critical, "oom", Severity::Critical, "CI fails.");
    assert_eq!(
        parse_marker(&written(&oom)),
        Some((
            "acme/api|critical|oom".to_string(),
            Some(Severity::Critical)
        ))
    );
    // What weft writes is exactly this: the unchanged alert plans nothing.
    let open = [issue_of(&oom, 12)];
    let settings = AlertSettings::default();
    assert_eq!(
        plan(&[oom], &open, &analysed(&["acme/api"]), &settings),
        Vec::<AlertAction>::new()
    );
    // A quoted marker earlier in the body does not win over weft's own.
    let quoted = "> <!-- weft-monitor alert fingerprint=\"acme/web|stale|stale\" severity=\"low\" -->\n\n\
                  <!-- weft-monitor alert fingerprint=\"acme/api|stale|stale\" severity=\"low\" -->";
    assert_eq!(
        parse_marker(quoted),
        Some(("acme/api|stale|stale".to_string(), Some(Severity::Low)))
    );
    assert_eq!(
        parse_marker("<!-- weft-monitor alert fingerprint=\"a|b|c\" severity=\"dire\" -->"),
        Some(("a|b|c".to_string(), None))
    );
    assert_eq!(parse_marker("An issue a person wrote."), None);
    assert_eq!(parse_marker("<!-- weft-monitor stale -->"), None);
}

#[test]
fn missing_alerts_are_opened_where_settings_send_them() {
    let stale = alert(AlertType::Stale, "stale", Severity::Low, "2 stale");
    let own = plan(
        std::slice::from_ref(&stale),
        &[],
        &analysed(&["acme/api"]),
        &AlertSettings::default(),
    );
    assert_eq!(
        own,
        [AlertAction::Open {
            issue_repository: "acme/api".to_string(),
            alert: stale.clone(),
        }]
    );
    let central = AlertSettings {
        repository: Some("acme/alerts".to_string()),
        ..AlertSettings::default()
    };
    let actions = plan(&[stale], &[], &analysed(&["acme/api"]), &central);
    assert!(
        matches!(&actions[..], [AlertAction::Open { issue_repository, .. }] if issue_repository == "acme/alerts"),
        "{actions:?}"
    );
}

#[test]
fn a_changed_body_is_updated_in_place_without_a_comment() {
    let before = alert(AlertType::Stale, "stale", Severity::Low, "2 stale");
    let after = alert(AlertType::Stale, "stale", Severity::Low, "3 stale");
    let actions = plan(
        std::slice::from_ref(&after),
        &[issue_of(&before, 4)],
        &analysed(&["acme/api"]),
        &AlertSettings::default(),
    );
    assert_eq!(
        actions,
        [AlertAction::Update {
            issue_repository: "acme/api".to_string(),
            number: 4,
            alert: after,
            comment: None,
        }]
    );
}

#[test]
fn a_rise_in_severity_comments_once_and_a_fall_does_not() {
    let warning = alert(AlertType::Ecosystem, "health", Severity::Medium, "score 70");
    let critical = alert(AlertType::Ecosystem, "health", Severity::High, "score 50");
    let repositories = analysed(&["acme/api"]);
    let settings = AlertSettings::default();
    let rose = plan(
        std::slice::from_ref(&critical),
        &[issue_of(&warning, 9)],
        &repositories,
        &settings,
    );
    assert_eq!(
        rose,
        [AlertAction::Update {
            issue_repository: "acme/api".to_string(),
            number: 9,
            alert: critical.clone(),
            comment: Some("Severity rose from medium to high.".to_string()),
        }]
    );
    let fell = plan(
        std::slice::from_ref(&warning),
        &[issue_of(&critical, 9)],
        &repositories,
        &settings,
    );
    assert!(
        matches!(&fell[..], [AlertAction::Update { comment: None, .. }]),
        "{fell:?}"
    );
    // An issue whose severity cannot be read is updated without a comment.
    let mut unknown = issue_of(&warning, 9);
    unknown.severity = None;
    let actions = plan(&[critical], &[unknown], &repositories, &settings);
    assert!(
        matches!(&actions[..], [AlertAction::Update { comment: None, .. }]),
        "{actions:?}"
    );
}

#[test]
fn alerts_that_disappeared_close_only_for_analysed_repositories() {
    let api = alert(AlertType::Stale, "stale", Severity::Low, "2 stale");
    let mut web = alert(AlertType::Stale, "stale", Severity::Low, "1 stale");
    web.repository = "acme/web".to_string();
    let open = [issue_of(&api, 3), issue_of(&web, 5)];
    let actions = plan(
        &[],
        &open,
        &analysed(&["acme/api"]),
        &AlertSettings::default(),
    );
    assert_eq!(
        actions,
        [AlertAction::Close {
            issue_repository: "acme/api".to_string(),
            number: 3,
            fingerprint: "acme/api|stale|stale".to_string(),
        }]
    );
}

#[test]
fn a_duplicate_alert_issue_is_closed_and_the_oldest_kept() {
    let oom = alert(AlertType::Critical, "oom", Severity::Critical, "CI fails.");
    // Two racing runs opened the same alert.
    let open = [issue_of(&oom, 14), issue_of(&oom, 12)];
    let actions = plan(
        std::slice::from_ref(&oom),
        &open,
        &analysed(&["acme/api"]),
        &AlertSettings::default(),
    );
    assert_eq!(
        actions,
        [AlertAction::CloseDuplicate {
            issue_repository: "acme/api".to_string(),
            number: 14,
            kept: 12,
            fingerprint: "acme/api|critical|oom".to_string(),
        }]
    );
}
