//! `monitor.schedule`: when `weft serve` runs the monitor, as a cron
//! expression in UTC (five fields, or six with seconds first).
//!
//! How it works: the next run's time is kept in the store. On start the
//! server schedules the job unless the store already has a time for the
//! same expression, so a restart keeps it. When that time comes (or has
//! passed while the server was down), the server claims the run by moving
//! the stored time to the next occurrence after now in one conditional
//! update: whoever moves it runs the job, a replica that loses skips it,
//! and runs missed while down are caught up once, not once each.

use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::error::MonitorError;

/// A parsed `monitor.schedule`.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
}

impl Schedule {
    /// Parses a cron expression: `0 */4 * * *`, or with seconds first.
    pub fn parse(expression: &str) -> Result<Schedule, MonitorError> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|error| {
                MonitorError::Invalid(format!(
                    "monitor.schedule `{expression}` is not a cron expression: {error}"
                ))
            })?;
        Ok(Schedule {
            expression: expression.to_string(),
            cron,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first occurrence strictly after `after` (Unix ms), in UTC.
    pub fn next_after(&self, after: i64) -> Result<i64, MonitorError> {
        let at = jiff::Timestamp::from_millisecond(after)
            .map_err(|error| MonitorError::Internal(error.to_string()))?
            .to_zoned(jiff::tz::TimeZone::UTC);
        let next = self
            .cron
            .find_next_occurrence(&at, false)
            .map_err(|error| {
                MonitorError::Invalid(format!(
                    "monitor.schedule `{}` never comes: {error}",
                    self.expression
                ))
            })?;
        Ok(next.timestamp().as_millisecond())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>()
            .expect("a timestamp")
            .as_millisecond()
    }

    #[test]
    fn every_four_hours_in_utc() {
        let schedule = Schedule::parse("0 */4 * * *").expect("parses");
        assert_eq!(
            schedule
                .next_after(ms("2026-12-05T09:13:00Z"))
                .expect("next"),
            ms("2026-12-05T12:00:00Z")
        );
        // Strictly after: a run at 12:00 schedules 16:00.
        assert_eq!(
            schedule
                .next_after(ms("2026-12-05T12:00:00Z"))
                .expect("next"),
            ms("2026-12-05T16:00:00Z")
        );
        assert_eq!(
            schedule
                .next_after(ms("2026-12-31T23:30:00Z"))
                .expect("next"),
            ms("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn seconds_are_optional_and_bad_expressions_are_named() {
        let schedule = Schedule::parse("*/5 * * * * *").expect("parses with seconds");
        assert_eq!(
            schedule
                .next_after(ms("2026-12-05T09:13:01Z"))
                .expect("next"),
            ms("2026-12-05T09:13:05Z")
        );
        let error = Schedule::parse("every four hours").expect_err("not cron");
        assert!(error.to_string().contains("`every four hours`"), "{error}");
    }
}
