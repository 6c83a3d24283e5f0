//! One rate-limit budget for every call of a client: GitHub's primary limit
//! (`x-ratelimit-remaining` until `x-ratelimit-reset`) and its secondary
//! limits (`retry-after`). A request is never sent into a known limit: it
//! waits for the reset (up to the client's longest wait) or fails at once.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::GitHubError;

/// What the budget knows, for reports and polling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BudgetSnapshot {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Unix seconds.
    pub reset_epoch: Option<u64>,
    /// Requests sent by this client.
    pub requests: u64,
    /// Conditional requests GitHub answered 304 (free of the budget).
    pub not_modified: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Budget {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    snapshot: BudgetSnapshot,
    /// A secondary limit asked us to stay away until then.
    blocked_until: Option<Instant>,
}

pub(crate) fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Budget {
    /// How long to wait before the next request, or an error when that is
    /// longer than `max_wait`.
    pub(crate) fn wait_before_request(&self, max_wait: Duration) -> Result<Duration, GitHubError> {
        let state = self.state.lock().map_err(|_| poisoned())?;
        let mut wait = Duration::ZERO;
        if let Some(until) = state.blocked_until {
            wait = until.saturating_duration_since(Instant::now());
        }
        let snapshot = state.snapshot;
        if snapshot.remaining == Some(0)
            && let Some(reset) = snapshot.reset_epoch
        {
            let now = now_epoch();
            if reset >= now {
                // One second past the reset: GitHub's clock and ours differ.
                wait = wait.max(Duration::from_secs(reset - now + 1));
            }
        }
        if wait > max_wait {
            return Err(GitHubError::RateLimited {
                reset_epoch: snapshot.reset_epoch.unwrap_or_else(now_epoch),
                wait_secs: wait.as_secs(),
                max_wait_secs: max_wait.as_secs(),
            });
        }
        Ok(wait)
    }

    pub(crate) fn sent(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.snapshot.requests += 1;
        }
    }

    pub(crate) fn not_modified(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.snapshot.not_modified += 1;
        }
    }

    /// Takes the `x-ratelimit-*` headers of an answer.
    pub(crate) fn observe(&self, header: &dyn Fn(&str) -> Option<String>) {
        let number = |name: &str| header(name).and_then(|v| v.trim().parse::<u64>().ok());
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some(limit) = number("x-ratelimit-limit") {
            state.snapshot.limit = Some(limit);
        }
        if let Some(remaining) = number("x-ratelimit-remaining") {
            state.snapshot.remaining = Some(remaining);
        }
        if let Some(reset) = number("x-ratelimit-reset") {
            state.snapshot.reset_epoch = Some(reset);
        }
    }

    /// A secondary limit: nothing is sent for `retry_after`.
    pub(crate) fn back_off(&self, retry_after: Duration) {
        if let Ok(mut state) = self.state.lock() {
            let until = Instant::now() + retry_after;
            state.blocked_until = Some(state.blocked_until.map_or(until, |u| u.max(until)));
        }
    }

    pub(crate) fn snapshot(&self) -> BudgetSnapshot {
        self.state.lock().map(|s| s.snapshot).unwrap_or_default()
    }

    /// How often one poller may look, sharing what is left until the reset
    /// with `pollers` others: never faster than `floor`.
    pub(crate) fn poll_interval(&self, floor: Duration, pollers: u32) -> Duration {
        let snapshot = self.snapshot();
        match (snapshot.remaining, snapshot.reset_epoch) {
            (Some(remaining), Some(reset)) => {
                let window = reset.saturating_sub(now_epoch()).max(1);
                let share = remaining.max(1) / u64::from(pollers.max(1));
                floor.max(Duration::from_secs_f64(window as f64 / share.max(1) as f64))
            }
            _ => floor,
        }
    }
}

fn poisoned() -> GitHubError {
    GitHubError::Decode {
        path: String::new(),
        message: "the rate-limit budget's lock was poisoned".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_waits_for_the_reset_or_refuses() {
        let budget = Budget::default();
        let reset = (now_epoch() + 30).to_string();
        budget.observe(&|name| match name {
            "x-ratelimit-remaining" => Some("0".to_string()),
            "x-ratelimit-reset" => Some(reset.clone()),
            _ => None,
        });
        let wait = budget
            .wait_before_request(Duration::from_secs(60))
            .expect("within the longest wait");
        assert!((29..=32).contains(&wait.as_secs()), "{wait:?}");
        assert!(matches!(
            budget.wait_before_request(Duration::from_secs(5)),
            Err(GitHubError::RateLimited { .. })
        ));
    }

    #[test]
    fn polling_shares_what_is_left() {
        let budget = Budget::default();
        let reset = (now_epoch() + 100).to_string();
        budget.observe(&|name| match name {
            "x-ratelimit-remaining" => Some("10".to_string()),
            "x-ratelimit-reset" => Some(reset.clone()),
            _ => None,
        });
        // 10 calls left for 100 s among 2 pollers: one call each 20 s.
        let interval = budget.poll_interval(Duration::from_secs(1), 2);
        assert!((19..=21).contains(&interval.as_secs()), "{interval:?}");
        assert_eq!(
            Budget::default().poll_interval(Duration::from_secs(1), 4),
            Duration::from_secs(1)
        );
    }
}
