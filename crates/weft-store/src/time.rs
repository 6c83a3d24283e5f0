//! Wall-clock time as Unix milliseconds (what the store keeps), rendered as
//! RFC 3339 by jiff, the workspace's date-time crate.

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// `2026-11-23T01:02:03.456Z`: always UTC, always milliseconds. An instant
/// out of jiff's range (years beyond ±9999) is clamped to it; one before
/// year 0 has an expanded year (`-000205-…`).
pub fn rfc3339(ms: i64) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    // A printer made once, rather than a format string read on every call
    // (a lease's two times are rendered on every grant).
    static PRINTER: jiff::fmt::temporal::DateTimePrinter =
        jiff::fmt::temporal::DateTimePrinter::new().precision(Some(3));
    PRINTER.timestamp_to_string(&timestamp)
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

    #[test]
    fn renders_what_the_rfc3339_format_string_does() {
        let format = |ms: i64| {
            let timestamp = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
                jiff::Timestamp::MIN
            } else {
                jiff::Timestamp::MAX
            });
            timestamp.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        };
        // Years 0 to 9999, and the clamp above them. (Before year 0, the
        // year is written in ISO 8601's expanded form, `-000205`, which
        // RFC 3339 has none of, where the format string wrote `-205`.)
        const YEAR_0: i64 = -62_167_219_200_000;
        let mut ms: i64 = 1;
        for _ in 0..60 {
            for value in [ms, -ms, ms / 7 * 3 + 1, 1_795_395_723_000 + ms % 1000] {
                if value >= YEAR_0 {
                    assert_eq!(rfc3339(value), format(value), "{value}");
                }
            }
            ms = ms.saturating_mul(3);
        }
        for value in [0, -1, 999, 1000, YEAR_0, i64::MAX] {
            assert_eq!(rfc3339(value), format(value), "{value}");
        }
        assert_eq!(rfc3339(YEAR_0 - 1), "-000001-12-31T23:59:59.999Z");
    }
}
