//! How hard a delivery tries: attempts, exponential backoff with jitter, and
//! the time one attempt may take.
//!
//! How it works: attempt `n` (from 1) runs; when it fails with an error that
//! may pass (a refused connection, HTTP 429 or 5xx, an SMTP 4xx) and attempts
//! remain, the delivery sleeps `min(backoff × 2ⁿ⁻¹, backoff_max)` scaled by a
//! random factor in [0.5, 1) — so retries from many releases do not arrive
//! together — and tries again. An error that will not pass (HTTP 4xx, an SMTP
//! 5xx, a missing secret) ends the delivery at once.

use std::future::Future;
use std::time::Duration;

/// Retries and timeouts of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Attempts per delivery, the first included (default 3).
    pub attempts: u32,
    /// The first delay between attempts (default 500ms).
    pub backoff: Duration,
    /// The cap of the delay (default 5s).
    pub backoff_max: Duration,
    /// How long one HTTP request or SMTP exchange may take (default 30s).
    pub timeout: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            attempts: 3,
            backoff: Duration::from_millis(500),
            backoff_max: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }
}

impl DeliverySettings {
    /// The delay after failed attempt `attempt` (from 1), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let base = self
            .backoff
            .saturating_mul(1 << exponent)
            .min(self.backoff_max);
        base.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// An attempt's failure, and whether another attempt may do better.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: crate::NotifyError,
    pub(crate) retryable: bool,
}

impl Failure {
    pub(crate) fn retry(error: crate::NotifyError) -> Failure {
        Failure {
            error,
            retryable: true,
        }
    }

    pub(crate) fn stop(error: crate::NotifyError) -> Failure {
        Failure {
            error,
            retryable: false,
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or runs out of
/// attempts; returns its last result and the attempts made.
pub(crate) async fn with_retries<T, F, Fut>(
    settings: &DeliverySettings,
    mut attempt: F,
) -> (Result<T, crate::NotifyError>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let attempts = settings.attempts.max(1);
    let mut made = 0;
    loop {
        made += 1;
        match attempt().await {
            Ok(value) => return (Ok(value), made),
            Err(failure) if failure.retryable && made < attempts => {
                tracing::debug!(attempt = made, error = %failure.error, "delivery failed; retrying");
                tokio::time::sleep(settings.delay(made)).await;
            }
            Err(failure) => return (Err(failure.error), made),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_up_to_the_cap() {
        let settings = DeliverySettings {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_millis(350),
            ..DeliverySettings::default()
        };
        for _ in 0..50 {
            let first = settings.delay(1);
            assert!(first >= Duration::from_millis(50) && first < Duration::from_millis(100));
            let second = settings.delay(2);
            assert!(second >= Duration::from_millis(100) && second < Duration::from_millis(200));
            let capped = settings.delay(10);
            assert!(capped >= Duration::from_millis(175) && capped < Duration::from_millis(350));
        }
    }

    #[tokio::test]
    async fn stops_at_a_lasting_failure_and_after_the_last_attempt() {
        let settings = DeliverySettings {
            attempts: 4,
            backoff: Duration::from_millis(1),
            backoff_max: Duration::from_millis(2),
            ..DeliverySettings::default()
        };
        let mut calls = 0;
        let (result, made) = with_retries(&settings, || {
            calls += 1;
            let calls = calls;
            async move {
                if calls < 3 {
                    Err(Failure::retry(crate::NotifyError::NoIssueTracker))
                } else {
                    Ok(calls)
                }
            }
        })
        .await;
        assert_eq!((result.unwrap(), made), (3, 3));

        let (result, made) = with_retries(&settings, || async {
            Err::<(), _>(Failure::stop(crate::NotifyError::NoIssueTracker))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(made, 1);

        let (result, made) = with_retries(&settings, || async {
            Err::<(), _>(Failure::retry(crate::NotifyError::NoIssueTracker))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(made, 4);
    }
}
