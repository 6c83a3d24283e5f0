//! Exponential backoff with full jitter: the n-th wait is uniform in
//! `[0, min(cap, base · 2ⁿ)]`, so that many pushers retrying at once spread
//! out instead of colliding again.

use std::time::Duration;

/// The waits of one retry loop.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The largest wait the next call may return.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(fastrand::u64(0..=micros))
    }

    /// Starts again from the base.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_under_a_doubling_ceiling_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings: Vec<u128> = (0..6)
            .map(|_| {
                let ceiling = backoff.ceiling();
                let wait = backoff.next_wait();
                assert!(wait <= ceiling);
                ceiling.as_millis()
            })
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn waits_are_spread_over_the_whole_range() {
        let mut low = false;
        let mut high = false;
        for _ in 0..200 {
            let mut backoff = Backoff::new(Duration::from_millis(1000), Duration::from_secs(1));
            let wait = backoff.next_wait();
            low |= wait < Duration::from_millis(250);
            high |= wait > Duration::from_millis(750);
        }
        assert!(low && high, "full jitter uses the whole range");
    }
}
