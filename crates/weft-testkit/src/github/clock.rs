//! Wall-clock helpers: GitHub's timestamps are RFC 3339 in UTC to the second
//! (`2026-01-22T19:33:08Z`) and its rate-limit resets are epoch seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;

/// Whole seconds since the Unix epoch, rounded down.
pub(crate) fn epoch_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `at` rounded down to the whole second, as GitHub stores times.
pub(crate) fn whole_second(at: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(epoch_seconds(at))
}

/// `at` rounded up to the whole second: a reset announced in epoch seconds
/// must not come before the moment it announces.
pub(crate) fn next_whole_second(at: SystemTime) -> SystemTime {
    let floor = whole_second(at);
    if floor == at {
        at
    } else {
        floor + Duration::from_secs(1)
    }
}

/// The instant `age` before `now` (the epoch if that is earlier).
pub(crate) fn ago(now: SystemTime, age: Duration) -> SystemTime {
    now.checked_sub(age).unwrap_or(UNIX_EPOCH)
}

/// An RFC 3339 timestamp (`since` of a query), or `None`.
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    text.parse::<Timestamp>().ok().map(SystemTime::from)
}

/// RFC 3339 in UTC with a `Z`, to the second.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    Timestamp::try_from(at).map_or_else(
        |_| "1970-01-01T00:00:00Z".to_string(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_in_utc() {
        let at = UNIX_EPOCH + Duration::from_millis(1_579_721_588_750);
        assert_eq!(rfc3339(at), "2020-01-22T19:33:08Z");
        assert_eq!(epoch_seconds(at), 1_579_721_588);
        assert_eq!(epoch_seconds(next_whole_second(at)), 1_579_721_589);
        assert_eq!(next_whole_second(whole_second(at)), whole_second(at));
    }
}
