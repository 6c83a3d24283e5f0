//! `monitor:`: the ecosystem monitor's keys: which repositories, when
//! `weft serve` collects, the stale thresholds, the health weights, extra
//! failure-log rules and where alert issues go.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::launch::Duration;

/// The ecosystem monitor (`weft monitor`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct MonitorConfig {
    /// The repositories to watch: `owner/name`, or an organisation glob
    /// such as `acme/*` or `acme/service-*`.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// When `weft serve` collects and reports: a cron expression with five
    /// fields, in UTC (default `0 */4 * * *`).
    pub schedule: Option<String>,
    /// Stale pull requests and branches.
    pub stale: Option<StaleConfig>,
    /// The health score.
    pub health: Option<HealthConfig>,
    /// Extra failure-log rules: a YAML file with a `rules:` list, relative
    /// to the workspace, tried before the built-in set.
    pub rules: Option<String>,
    /// Alert issues.
    pub alerts: Option<MonitorAlertsConfig>,
    /// The longest a collection waits for GitHub's rate limit to reset
    /// before it stops with what it has (default `15m`).
    pub max_wait: Option<Duration>,
    /// Repositories collected at once (default 4).
    pub concurrency: Option<u32>,
    /// Where `weft monitor report` writes (default `reports`, relative to
    /// the workspace).
    pub output_dir: Option<String>,
}

/// `monitor.stale`: when a pull request or branch is stale, and what to do.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct StaleConfig {
    /// Days without human activity before a pull request or branch is
    /// stale (default 30).
    pub days_until_stale: Option<u32>,
    /// Days after it was marked stale before a pull request is closed and
    /// a branch deleted (default 7).
    pub days_until_close: Option<u32>,
    /// Pull requests with any of these labels are never stale.
    #[serde(default)]
    pub exempt_labels: Vec<String>,
    /// The label that marks a stale pull request (default `stale`).
    pub label: Option<String>,
    /// Draft pull requests are never stale (default false).
    #[serde(default)]
    pub exempt_drafts: bool,
    /// Pull requests in a milestone are never stale (default false).
    #[serde(default)]
    pub exempt_milestones: bool,
    /// Pull requests with an assignee are never stale (default false).
    #[serde(default)]
    pub exempt_assignees: bool,
    /// Thresholds for pull requests with a label, such as
    /// `{needs-review: {days_until_stale: 14}}`; the shortest applies.
    #[serde(default)]
    pub labels: IndexMap<String, StaleThresholds>,
    /// Whether stale branches are deleted (default true).
    pub delete_branches: Option<bool>,
}

/// Per-label stale thresholds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct StaleThresholds {
    pub days_until_stale: Option<u32>,
    pub days_until_close: Option<u32>,
}

/// `monitor.health`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct HealthConfig {
    /// Each probe's weight. A probe that cannot be computed for a
    /// repository gives its weight to the others.
    pub weights: Option<HealthWeights>,
}

/// The probes' weights (defaults in brackets).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct HealthWeights {
    /// Completed workflow runs that succeeded [30].
    pub ci_success: Option<u32>,
    /// Time to the first human response on issues and pull requests [20].
    pub response_time: Option<u32>,
    /// Pull requests closed against pull requests opened [15].
    pub pr_closure: Option<u32>,
    /// Open pull requests that are not stale [15].
    pub stale: Option<u32>,
    /// How recently people were active [10].
    pub activity: Option<u32>,
    /// How recently a release was published [10].
    pub releases: Option<u32>,
    /// Open critical failures in CI [10].
    pub alerts: Option<u32>,
}

/// `monitor.alerts`: where alert issues are opened.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct MonitorAlertsConfig {
    /// One repository for every alert issue (default: each alert in the
    /// repository it is about).
    pub repository: Option<String>,
    /// Labels every alert issue carries (default `[weft-monitor]`).
    pub labels: Option<Vec<String>>,
    /// The health band that opens an alert: `critical` (a score under 60,
    /// the default) or `warning` (under 80).
    pub band: Option<AlertBand>,
}

/// A health band that opens an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertBand {
    Warning,
    Critical,
}
