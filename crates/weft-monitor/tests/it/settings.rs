//! The monitor's settings: weft.yaml's `monitor:` keys over the defaults,
//! and the stale thresholds an item's labels give.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use weft_model::config::MonitorConfig;
use weft_monitor::MonitorSettings;
use weft_monitor::settings::{DAY_MS, DEFAULT_SCHEDULE, StaleSettings, Weights};

fn config(value: serde_json::Value) -> MonitorConfig {
    serde_json::from_value(value).unwrap()
}

#[test]
fn no_keys_give_the_defaults() {
    let settings = MonitorSettings::from_config(&MonitorConfig::default());
    assert_eq!(settings, MonitorSettings::default());
    assert_eq!(settings.schedule, DEFAULT_SCHEDULE);
    assert_eq!(settings.schedule, "0 */4 * * *");
    assert_eq!(
        (
            settings.stale.days_until_stale,
            settings.stale.days_until_close
        ),
        (30, 7)
    );
    assert_eq!(settings.stale.label, "stale");
    assert!(settings.stale.delete_branches);
    assert!(!settings.stale.exempt_drafts);
    assert_eq!(
        settings.weights,
        Weights {
            ci_success: 30,
            response_time: 20,
            pr_closure: 15,
            stale: 15,
            activity: 10,
            releases: 10,
            alerts: 10,
        }
    );
    assert_eq!(settings.alerts.repository, None);
    assert_eq!(settings.alerts.labels, ["weft-monitor"]);
    assert_eq!(settings.alerts.below, 60);
    assert_eq!(settings.max_wait, Duration::from_secs(900));
    assert_eq!(settings.concurrency, 4);
    assert_eq!(settings.window_ms(), 30 * DAY_MS);
}

#[test]
fn every_key_overrides_its_default() {
    let settings = MonitorSettings::from_config(&config(json!({
        "repositories": ["acme/api", "acme/service-*"],
        "schedule": "30 2 * * *",
        "stale": {
            "days_until_stale": 14,
            "days_until_close": 3,
            "exempt_labels": ["keep", "security"],
            "label": "inactive",
            "exempt_drafts": true,
            "exempt_milestones": true,
            "exempt_assignees": true,
            "labels": {"needs-review": {"days_until_stale": 7}, "blocked": {"days_until_close": 30}},
            "delete_branches": false
        },
        "health": {"weights": {"ci_success": 50, "releases": 0}},
        "alerts": {"repository": "acme/alerts", "labels": ["ops", "monitor"], "band": "warning"},
        "max_wait": "10m",
        "concurrency": 8
    })));
    assert_eq!(settings.repositories, ["acme/api", "acme/service-*"]);
    assert_eq!(settings.schedule, "30 2 * * *");
    assert_eq!(
        settings.stale,
        StaleSettings {
            days_until_stale: 14,
            days_until_close: 3,
            exempt_labels: vec!["keep".to_string(), "security".to_string()],
            label: "inactive".to_string(),
            exempt_drafts: true,
            exempt_milestones: true,
            exempt_assignees: true,
            labels: BTreeMap::from([
                ("blocked".to_string(), (None, Some(30))),
                ("needs-review".to_string(), (Some(7), None)),
            ]),
            delete_branches: false,
        }
    );
    // Weights not given keep their defaults.
    assert_eq!(
        settings.weights,
        Weights {
            ci_success: 50,
            releases: 0,
            ..Weights::default()
        }
    );
    assert_eq!(settings.alerts.repository.as_deref(), Some("acme/alerts"));
    assert_eq!(settings.alerts.labels, ["ops", "monitor"]);
    assert_eq!(settings.alerts.below, 80);
    assert_eq!(settings.max_wait, Duration::from_secs(600));
    assert_eq!(settings.concurrency, 8);
}

#[test]
fn partial_sections_keep_the_rest_of_the_defaults() {
    let settings = MonitorSettings::from_config(&config(json!({
        "stale": {"days_until_close": 10},
        "alerts": {"band": "critical"},
        "concurrency": 0
    })));
    assert_eq!(
        settings.stale,
        StaleSettings {
            days_until_close: 10,
            ..StaleSettings::default()
        }
    );
    assert_eq!(settings.alerts.below, 60);
    assert_eq!(settings.alerts.labels, ["weft-monitor"]);
    // At least one repository at a time.
    assert_eq!(settings.concurrency, 1);
}

#[test]
fn the_shortest_of_an_item_s_label_thresholds_applies() {
    let stale = StaleSettings {
        labels: BTreeMap::from([
            ("needs-review".to_string(), (Some(14), None)),
            ("waiting".to_string(), (Some(20), Some(3))),
            ("blocked".to_string(), (None, Some(60))),
        ]),
        ..StaleSettings::default()
    };
    let labels = |list: &[&str]| -> Vec<String> { list.iter().map(|l| (*l).to_string()).collect() };
    assert_eq!(stale.thresholds(&[]), (30, 7));
    assert_eq!(stale.thresholds(&labels(&["bug"])), (30, 7));
    assert_eq!(stale.thresholds(&labels(&["needs-review"])), (14, 7));
    assert_eq!(
        stale.thresholds(&labels(&["waiting", "needs-review"])),
        (14, 3)
    );
    assert_eq!(stale.thresholds(&labels(&["blocked"])), (30, 60));
    assert_eq!(stale.thresholds(&labels(&["blocked", "waiting"])), (20, 3));
}
