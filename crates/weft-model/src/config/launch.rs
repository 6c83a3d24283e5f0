//! The keys of weft.yaml that `weft up` reads: how a service is run, probed,
//! restarted and stopped, and the coordinator's settings.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use super::PortRange;

/// A duration written with a unit: `50ms`, `30s`, `10m`, `1h`, `7d`, or a sum such as `1m30s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(try_from = "String")]
#[schemars(with = "String")]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_duration(text).map(Duration)
    }
}

impl TryFrom<String> for Duration {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Duration::parse(&text)
    }
}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let millis = self.0.as_millis();
        if !millis.is_multiple_of(1000) || millis == 0 {
            write!(f, "{millis}ms")
        } else if !millis.is_multiple_of(60_000) {
            write!(f, "{}s", millis / 1000)
        } else {
            write!(f, "{}m", millis / 60_000)
        }
    }
}

/// Parses `50ms`, `30s`, `10m`, `2h`, `7d`, `1m30s`; a bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let invalid = || {
        format!(
            "invalid duration `{text}`: write a number with a unit, such as 50ms, 30s, 10m or 1h"
        )
    };
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let mut rest = trimmed;
    let mut total = std::time::Duration::ZERO;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_length = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_length];
        rest = &rest[unit_length..];
        let part = match unit {
            "ms" => std::time::Duration::from_millis(value),
            "s" => std::time::Duration::from_secs(value),
            "m" => std::time::Duration::from_secs(value.saturating_mul(60)),
            "h" => std::time::Duration::from_secs(value.saturating_mul(3600)),
            "d" => std::time::Duration::from_secs(value.saturating_mul(86_400)),
            _ => return Err(invalid()),
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// When a dependency counts as satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Its process has been started.
    Started,
    /// Its readiness probe passes (or, without one, it has started).
    Ready,
    /// It ran to completion and exited 0 (a migration, a build step).
    CompletedSuccessfully,
}

/// What a dependent does when its dependency restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnRestart {
    /// Restart the dependent once the dependency is back.
    Restart,
    /// Keep running, and report not ready until the dependency is back.
    Wait,
    /// Nothing.
    Ignore,
}

/// When a service's process is started again after it exits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, serde::Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    /// Never (the default).
    #[default]
    No,
    /// When it exits non-zero, is killed by a signal, or fails its liveness probe.
    OnFailure,
    /// Whenever it exits, unless weft stopped it.
    Always,
}

/// A port `weft up` allocates for a service; the first is injected as `PORT`,
/// each as `WEFT_PORT_<NAME>`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct PortConfig {
    /// Names the variable `WEFT_PORT_<NAME>` (default: `http` for the first, else `port<N>`).
    pub name: Option<String>,
    /// Tried first; when it is taken another is picked from `range`.
    pub preferred: Option<u16>,
    /// Where to pick (default: the workspace's `ports.range`).
    pub range: Option<PortRange>,
}

/// A readiness or liveness probe: exactly one of `http`, `tcp`, `exec`, `log`,
/// `file`, with its timing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct ProbeConfig {
    /// An `http://` URL; passes on the expected status (default: any 2xx or 3xx).
    pub http: Option<String>,
    /// The HTTP status that passes.
    pub status: Option<u16>,
    /// `host:port`; passes when a connection opens.
    pub tcp: Option<String>,
    /// A shell command; passes when it exits 0.
    pub exec: Option<String>,
    /// A regular expression; passes once a line of the service's output matches.
    pub log: Option<String>,
    /// A path (relative to the working directory); passes when it exists.
    pub file: Option<String>,
    /// Wait this long after the start before the first check.
    pub initial_delay: Option<Duration>,
    /// Time between checks once started (default 10s for liveness, 2s for readiness).
    pub period: Option<Duration>,
    /// The fast period used until the first success (default 50ms).
    pub start_period: Option<Duration>,
    /// How long one check may take (default 1s).
    pub timeout: Option<Duration>,
    /// Consecutive passes that make the probe pass (default 1).
    pub success_threshold: Option<u32>,
    /// Consecutive failures that make the probe fail (default 3).
    pub failure_threshold: Option<u32>,
}

impl ProbeConfig {
    /// The keys that name a probe kind and are set.
    pub fn kinds(&self) -> Vec<&'static str> {
        [
            ("http", self.http.is_some()),
            ("tcp", self.tcp.is_some()),
            ("exec", self.exec.is_some()),
            ("log", self.log.is_some()),
            ("file", self.file.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// The coordinator's settings for `weft up`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct LaunchConfig {
    /// At most this many services starting at once (default: no limit).
    pub max_parallel_starts: Option<usize>,
    /// How long a service waits for its dependencies (default 5m); a dependency
    /// edge's own `timeout` wins.
    pub dependency_timeout: Option<Duration>,
    /// How long a started service may take to become ready (default 5m).
    pub readiness_timeout: Option<Duration>,
    /// Attempts after a failed first start before a service is failed (default 0).
    pub startup_retry_count: Option<u32>,
    /// Start the dependents of a failed optional dependency, degraded (default true).
    pub graceful_degradation: Option<bool>,
    /// Services that must become ready for `weft up --wait` to succeed (default: all requested).
    #[serde(default)]
    pub required: Vec<String>,
    /// Services whose failure never fails `weft up --wait`.
    #[serde(default)]
    pub optional: Vec<String>,
    /// Lines of output kept in memory per service (default 1000).
    pub log_lines: Option<usize>,
    /// Size at which a service's log file is rotated, in bytes (default 10 MiB).
    pub log_file_size: Option<u64>,
    /// Rotated log files kept per service (default 3).
    pub log_files: Option<usize>,
}

/// Accepts one string or a list of strings (`env_file`, a rule's
/// `when.environment`).
pub(super) fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    struct OneOrMany;
    impl<'de> serde::de::Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut values = Vec::new();
            while let Some(value) = seq.next_element::<String>()? {
                values.push(value);
            }
            Ok(values)
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = std::time::Duration::from_millis;
        assert_eq!(parse_duration("50ms"), Ok(ms(50)));
        assert_eq!(parse_duration("30s"), Ok(ms(30_000)));
        assert_eq!(parse_duration("10m"), Ok(ms(600_000)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("0"), Ok(ms(0)));
        for bad in ["", "5", "s", "5x", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(Duration(ms(90_000)).to_string(), "90s");
        assert_eq!(Duration(ms(120_000)).to_string(), "2m");
        assert_eq!(Duration(ms(50)).to_string(), "50ms");
    }
}
