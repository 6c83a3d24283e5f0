//! Wall-clock time as Unix milliseconds (what the store keeps), rendered as
//! RFC 3339 by jiff, the workspace's date-time crate.

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// `2026-11-23T01:02:03.456Z`: always UTC, always milliseconds. An instant
/// out of jiff's range (years beyond ±9999) is clamped to it.
pub fn rfc3339(ms: i64) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    timestamp.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_395_723_456), "2026-11-23T01:02:03.456Z");
    }
}
