//! How leases are granted: priority classes, aging, TTL and wait limits.

use indexmap::IndexMap;
use weft_model::config::CoordinationConfig;

use crate::error::StoreError;

/// The priority classes every store knows, from the workflow-coordination
/// seed. weft.yaml's `coordination.classes` adds to and overrides them.
pub const DEFAULT_CLASSES: [(&str, i64); 5] = [
    ("cv-enhancement", 100),
    ("continuous-enhancement", 80),
    ("activity-tracker", 60),
    ("watch-me-work-refresh", 40),
    ("default", 20),
];

/// Resolved lease settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasePolicy {
    pub classes: IndexMap<String, i64>,
    pub default_ttl_ms: i64,
    pub max_ttl_ms: i64,
    pub default_wait_ms: i64,
    /// The longest wait a request may ask for.
    pub max_wait_ms: i64,
    pub aging_interval_ms: i64,
    pub aging_step: i64,
    pub retention_ms: i64,
}

impl Default for LeasePolicy {
    fn default() -> Self {
        LeasePolicy {
            classes: DEFAULT_CLASSES
                .iter()
                .map(|(name, priority)| ((*name).to_owned(), *priority))
                .collect(),
            default_ttl_ms: 10 * 60_000,
            max_ttl_ms: 24 * 3_600_000,
            default_wait_ms: 30 * 60_000,
            max_wait_ms: 24 * 3_600_000,
            aging_interval_ms: 60_000,
            aging_step: 10,
            retention_ms: 7 * 24 * 3_600_000,
        }
    }
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl LeasePolicy {
    pub fn from_config(config: &CoordinationConfig) -> Self {
        let mut policy = LeasePolicy::default();
        for (name, priority) in &config.classes {
            policy.classes.insert(name.clone(), *priority);
        }
        if let Some(ttl) = config.default_ttl {
            policy.default_ttl_ms = millis(ttl.0);
        }
        if let Some(ttl) = config.max_ttl {
            policy.max_ttl_ms = millis(ttl.0);
        }
        if let Some(wait) = config.default_wait {
            policy.default_wait_ms = millis(wait.0);
        }
        if let Some(interval) = config.aging_interval {
            policy.aging_interval_ms = millis(interval.0).max(1);
        }
        if let Some(step) = config.aging_step {
            policy.aging_step = step;
        }
        if let Some(retention) = config.retention {
            policy.retention_ms = millis(retention.0);
        }
        policy
    }

    /// The priority of a request: a number, a class, or the `default` class.
    pub fn priority(&self, priority: Option<i64>, class: Option<&str>) -> Result<i64, StoreError> {
        match (priority, class) {
            (Some(_), Some(_)) => Err(StoreError::invalid(
                "priority",
                "give a priority or a class, not both",
            )),
            (Some(priority), None) => {
                if priority.abs() > 1_000_000 {
                    Err(StoreError::invalid(
                        "priority",
                        format!("{priority} is out of range (-1000000..=1000000)"),
                    ))
                } else {
                    Ok(priority)
                }
            }
            (None, Some(name)) => {
                self.classes
                    .get(name)
                    .copied()
                    .ok_or_else(|| StoreError::UnknownClass {
                        name: name.to_owned(),
                        known: self.classes.keys().cloned().collect::<Vec<_>>().join(", "),
                    })
            }
            (None, None) => Ok(self.classes.get("default").copied().unwrap_or(0)),
        }
    }

    /// A TTL within `0 < ttl <= max_ttl`.
    pub fn ttl(&self, ttl_ms: Option<i64>) -> Result<i64, StoreError> {
        let ttl = ttl_ms.unwrap_or(self.default_ttl_ms);
        if ttl <= 0 {
            return Err(StoreError::invalid("ttl", "must be positive"));
        }
        if ttl > self.max_ttl_ms {
            return Err(StoreError::invalid(
                "ttl",
                format!(
                    "{ttl} ms is longer than max_ttl ({} ms); renew instead",
                    self.max_ttl_ms
                ),
            ));
        }
        Ok(ttl)
    }

    pub fn wait(&self, wait_ms: Option<i64>) -> Result<i64, StoreError> {
        let wait = wait_ms.unwrap_or(self.default_wait_ms);
        if wait < 0 {
            return Err(StoreError::invalid("wait", "must not be negative"));
        }
        if wait > self.max_wait_ms {
            return Err(StoreError::invalid(
                "wait",
                format!("{wait} ms is longer than {} ms", self.max_wait_ms),
            ));
        }
        Ok(wait)
    }

    /// Priority plus what waiting has earned.
    pub fn effective_priority(&self, priority: i64, waited_ms: i64) -> i64 {
        let intervals = waited_ms.max(0) / self.aging_interval_ms.max(1);
        priority.saturating_add(intervals.saturating_mul(self.aging_step))
    }
}
