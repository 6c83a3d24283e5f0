//! The primary rate-limit budget (`x-ratelimit-*`), and the secondary limits
//! and server errors tests switch on for the next few requests.
//!
//! How the budget works: `used` counts the requests of the current window;
//! the window ends at `reset_at`, a whole second since the `x-ratelimit-reset`
//! header announces epoch seconds. The first request at or after `reset_at`
//! refills the budget and opens a new window of `window`.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderValue, StatusCode};

use super::clock::{epoch_seconds, next_whole_second};

/// GitHub's hourly budget for a user token.
pub(crate) const DEFAULT_LIMIT: u64 = 5000;
/// And for requests without valid credentials.
pub(crate) const UNAUTHENTICATED_LIMIT: u64 = 60;
const WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub(crate) struct Budget {
    limit: u64,
    used: u64,
    reset_at: SystemTime,
}

impl Budget {
    pub(crate) fn new(limit: u64, now: SystemTime) -> Budget {
        Budget {
            limit,
            used: 0,
            reset_at: next_whole_second(now + WINDOW),
        }
    }

    /// Refills the budget when its window is over.
    pub(crate) fn refresh(&mut self, now: SystemTime) {
        if now >= self.reset_at {
            self.used = 0;
            self.reset_at = next_whole_second(now + WINDOW);
        }
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    pub(crate) fn is_exhausted(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn spend(&mut self) {
        self.used = (self.used + 1).min(self.limit);
    }

    pub(crate) fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
        self.used = self.used.min(limit);
    }

    /// Leaves `remaining` requests until a reset `reset_in` from `now`.
    pub(crate) fn set_remaining(&mut self, remaining: u64, reset_in: Duration, now: SystemTime) {
        self.used = self.limit.saturating_sub(remaining);
        self.reset_at = next_whole_second(now + reset_in);
    }

    /// The `x-ratelimit-*` headers.
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap) {
        let values = [
            ("x-ratelimit-limit", self.limit),
            ("x-ratelimit-remaining", self.remaining()),
            ("x-ratelimit-reset", epoch_seconds(self.reset_at)),
            ("x-ratelimit-used", self.used),
        ];
        for (name, value) in values {
            headers.insert(name, HeaderValue::from(value));
        }
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    }
}

/// The next `requests` requests hit a secondary rate limit.
#[derive(Debug)]
pub(crate) struct SecondaryLimit {
    pub(crate) requests: u32,
    pub(crate) retry_after: Duration,
    pub(crate) status: StatusCode,
}

/// The next `requests` requests to `path` answer `status`.
#[derive(Debug)]
pub(crate) struct ServerErrors {
    pub(crate) path: String,
    pub(crate) requests: u32,
    pub(crate) status: StatusCode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_at_the_announced_second() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(10_500);
        let mut budget = Budget::new(10, now);
        budget.set_remaining(0, Duration::from_millis(700), now);
        assert!(budget.is_exhausted());
        let mut headers = HeaderMap::new();
        budget.write_headers(&mut headers);
        assert_eq!(headers["x-ratelimit-reset"], "12");
        budget.refresh(SystemTime::UNIX_EPOCH + Duration::from_millis(11_999));
        assert!(budget.is_exhausted());
        budget.refresh(SystemTime::UNIX_EPOCH + Duration::from_secs(12));
        assert_eq!(budget.remaining(), 10);
    }
}
