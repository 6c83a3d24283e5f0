//! The query parameters of `GET /repos/{owner}/{repo}/actions/runs`:
//! `event`, `status` (a status or a conclusion), `branch`, `head_sha`,
//! `actor` and `created` with GitHub's date-range syntax (`>=2026-01-01`,
//! `<2026-01-01T10:00:00Z`, `2026-01-01..2026-01-31`, `2026-01-01..*`, a
//! bare date or time).

use std::time::{Duration, Instant, SystemTime};

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::Offset;

use super::run::{ACTOR, Run};

#[derive(Debug, Default)]
pub(crate) struct RunFilter {
    event: Option<String>,
    status: Option<String>,
    branch: Option<String>,
    head_sha: Option<String>,
    actor: Option<String>,
    /// `created` as the half-open range `[from, until)`.
    from: Option<SystemTime>,
    until: Option<SystemTime>,
}

/// A `created` value that does not parse, named in the 422.
#[derive(Debug)]
pub(crate) struct BadCreated(pub(crate) String);

impl RunFilter {
    pub(crate) fn from_query(query: &[(String, String)]) -> Result<RunFilter, BadCreated> {
        let value = |name: &str| {
            query
                .iter()
                .rev()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.clone())
        };
        let mut filter = RunFilter {
            event: value("event"),
            status: value("status"),
            branch: value("branch"),
            head_sha: value("head_sha"),
            actor: value("actor"),
            ..RunFilter::default()
        };
        if let Some(created) = value("created") {
            let (from, until) = created_range(&created).ok_or(BadCreated(created))?;
            filter.from = from;
            filter.until = until;
        }
        Ok(filter)
    }

    pub(crate) fn matches(&self, run: &Run, now: Instant) -> bool {
        let status = self.status.as_deref().is_none_or(|wanted| {
            run.phase(now).as_str() == wanted || run.conclusion_at(now) == Some(wanted)
        });
        let created = run.created_at();
        status
            && self.event.as_deref().is_none_or(|e| e == run.event)
            && self.branch.as_deref().is_none_or(|b| b == run.head_branch)
            && self.head_sha.as_deref().is_none_or(|s| s == run.head_sha)
            && self.actor.as_deref().is_none_or(|a| a == ACTOR.0)
            && self.from.is_none_or(|from| created >= from)
            && self.until.is_none_or(|until| created < until)
    }
}

type Range = (Option<SystemTime>, Option<SystemTime>);

/// A date is the whole UTC day; a time is its second.
fn created_range(text: &str) -> Option<Range> {
    if let Some((low, high)) = text.split_once("..") {
        let from = if low == "*" {
            None
        } else {
            Some(bound(low)?.0)
        };
        let until = if high == "*" {
            None
        } else {
            Some(bound(high)?.1)
        };
        return Some((from, until));
    }
    for (operator, kind) in [(">=", 0), ("<=", 1), (">", 2), ("<", 3)] {
        if let Some(rest) = text.strip_prefix(operator) {
            let (start, end) = bound(rest)?;
            return Some(match kind {
                0 => (Some(start), None),
                1 => (None, Some(end)),
                2 => (Some(end), None),
                _ => (None, Some(start)),
            });
        }
    }
    let (start, end) = bound(text)?;
    Some((Some(start), Some(end)))
}

/// The first instant of `text` and the first one after it.
fn bound(text: &str) -> Option<(SystemTime, SystemTime)> {
    if let Ok(date) = text.parse::<Date>() {
        let start = Offset::UTC
            .to_timestamp(date.to_datetime(Time::midnight()))
            .ok()?;
        let end = Offset::UTC
            .to_timestamp(date.tomorrow().ok()?.to_datetime(Time::midnight()))
            .ok()?;
        return Some((start.into(), end.into()));
    }
    let at: SystemTime = text.parse::<Timestamp>().ok()?.into();
    let at = super::clock::whole_second(at);
    Some((at, at + Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        text.parse::<Timestamp>().unwrap().into()
    }

    #[test]
    fn reads_githubs_date_ranges() {
        let day = (
            Some(at("2026-01-02T00:00:00Z")),
            Some(at("2026-01-03T00:00:00Z")),
        );
        assert_eq!(created_range("2026-01-02").unwrap(), day);
        assert_eq!(created_range(">2026-01-02").unwrap(), (day.1, None));
        assert_eq!(created_range("<=2026-01-02").unwrap(), (None, day.1));
        assert_eq!(created_range("<2026-01-02").unwrap(), (None, day.0));
        assert_eq!(created_range("2026-01-02..*").unwrap(), (day.0, None));
        assert_eq!(
            created_range(">=2026-01-02T10:00:00Z").unwrap(),
            (Some(at("2026-01-02T10:00:00Z")), None)
        );
        assert!(created_range("yesterday").is_none());
    }
}
