//! The monitor's resolved settings: weft.yaml's `monitor:` keys with their
//! defaults filled in, and the command line's overrides applied once, at
//! the edge.

use std::collections::BTreeMap;
use std::time::Duration;

use weft_model::config::{AlertBand, MonitorConfig};

/// A day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// The default cron schedule of `weft serve`'s collections.
pub const DEFAULT_SCHEDULE: &str = "0 */4 * * *";

/// Everything the monitor's jobs need to know.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorSettings {
    /// `owner/name` or `owner/glob`.
    pub repositories: Vec<String>,
    pub schedule: String,
    pub stale: StaleSettings,
    pub weights: Weights,
    pub alerts: AlertSettings,
    /// The longest wait for a rate limit's reset.
    pub max_wait: Duration,
    /// Repositories collected at once.
    pub concurrency: usize,
    /// How far back the first collection, the health window and the
    /// failure list reach: 30 days.
    pub window: Duration,
}

/// When pull requests and branches are stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleSettings {
    pub days_until_stale: u32,
    pub days_until_close: u32,
    pub exempt_labels: Vec<String>,
    pub label: String,
    pub exempt_drafts: bool,
    pub exempt_milestones: bool,
    pub exempt_assignees: bool,
    /// Per-label thresholds: (days until stale, days until close).
    pub labels: BTreeMap<String, (Option<u32>, Option<u32>)>,
    pub delete_branches: bool,
}

impl Default for StaleSettings {
    fn default() -> StaleSettings {
        StaleSettings {
            days_until_stale: 30,
            days_until_close: 7,
            exempt_labels: Vec::new(),
            label: "stale".to_string(),
            exempt_drafts: false,
            exempt_milestones: false,
            exempt_assignees: false,
            labels: BTreeMap::new(),
            delete_branches: true,
        }
    }
}

impl StaleSettings {
    /// The thresholds for an item with `labels`: the shortest of its
    /// labels' overrides, else the defaults.
    pub fn thresholds(&self, labels: &[String]) -> (u32, u32) {
        let mut stale: Option<u32> = None;
        let mut close: Option<u32> = None;
        for label in labels {
            if let Some((s, c)) = self.labels.get(label) {
                if let Some(s) = s {
                    stale = Some(stale.map_or(*s, |x| x.min(*s)));
                }
                if let Some(c) = c {
                    close = Some(close.map_or(*c, |x| x.min(*c)));
                }
            }
        }
        (
            stale.unwrap_or(self.days_until_stale),
            close.unwrap_or(self.days_until_close),
        )
    }
}

/// The health probes' weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub ci_success: u32,
    pub response_time: u32,
    pub pr_closure: u32,
    pub stale: u32,
    pub activity: u32,
    pub releases: u32,
    pub alerts: u32,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            ci_success: 30,
            response_time: 20,
            pr_closure: 15,
            stale: 15,
            activity: 10,
            releases: 10,
            alerts: 10,
        }
    }
}

/// Where alert issues go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// One repository for all alerts, or `None`: each in its own.
    pub repository: Option<String>,
    pub labels: Vec<String>,
    /// A score below this opens a health alert (60: critical; 80: warning).
    pub below: u32,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        AlertSettings {
            repository: None,
            labels: vec!["weft-monitor".to_string()],
            below: 60,
        }
    }
}

impl Default for MonitorSettings {
    fn default() -> MonitorSettings {
        MonitorSettings {
            repositories: Vec::new(),
            schedule: DEFAULT_SCHEDULE.to_string(),
            stale: StaleSettings::default(),
            weights: Weights::default(),
            alerts: AlertSettings::default(),
            max_wait: Duration::from_secs(15 * 60),
            concurrency: 4,
            window: Duration::from_secs(30 * 86_400),
        }
    }
}

impl MonitorSettings {
    /// weft.yaml's keys over the defaults.
    pub fn from_config(config: &MonitorConfig) -> MonitorSettings {
        let mut settings = MonitorSettings {
            repositories: config.repositories.clone(),
            ..MonitorSettings::default()
        };
        if let Some(schedule) = &config.schedule {
            settings.schedule.clone_from(schedule);
        }
        if let Some(stale) = &config.stale {
            let s = &mut settings.stale;
            s.days_until_stale = stale.days_until_stale.unwrap_or(s.days_until_stale);
            s.days_until_close = stale.days_until_close.unwrap_or(s.days_until_close);
            s.exempt_labels.clone_from(&stale.exempt_labels);
            if let Some(label) = &stale.label {
                s.label.clone_from(label);
            }
            s.exempt_drafts = stale.exempt_drafts;
            s.exempt_milestones = stale.exempt_milestones;
            s.exempt_assignees = stale.exempt_assignees;
            s.labels = stale
                .labels
                .iter()
                .map(|(label, t)| (label.clone(), (t.days_until_stale, t.days_until_close)))
                .collect();
            s.delete_branches = stale.delete_branches.unwrap_or(true);
        }
        if let Some(weights) = config.health.as_ref().and_then(|h| h.weights.as_ref()) {
            let w = &mut settings.weights;
            w.ci_success = weights.ci_success.unwrap_or(w.ci_success);
            w.response_time = weights.response_time.unwrap_or(w.response_time);
            w.pr_closure = weights.pr_closure.unwrap_or(w.pr_closure);
            w.stale = weights.stale.unwrap_or(w.stale);
            w.activity = weights.activity.unwrap_or(w.activity);
            w.releases = weights.releases.unwrap_or(w.releases);
            w.alerts = weights.alerts.unwrap_or(w.alerts);
        }
        if let Some(alerts) = &config.alerts {
            settings.alerts.repository.clone_from(&alerts.repository);
            if let Some(labels) = &alerts.labels {
                settings.alerts.labels.clone_from(labels);
            }
            if alerts.band == Some(AlertBand::Warning) {
                settings.alerts.below = 80;
            }
        }
        if let Some(wait) = config.max_wait {
            settings.max_wait = wait.0;
        }
        if let Some(concurrency) = config.concurrency {
            settings.concurrency = usize::try_from(concurrency.max(1)).unwrap_or(4);
        }
        settings
    }

    pub fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }
}
