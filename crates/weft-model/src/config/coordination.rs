//! The `coordination:` section of weft.yaml: leases, priorities, alerts and
//! the server.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::launch::Duration;

/// How the coordination store and `weft serve` grant leases.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct CoordinationConfig {
    /// Named priority classes (a waiter gives `--class NAME`). Added to the
    /// defaults: cv-enhancement 100, continuous-enhancement 80,
    /// activity-tracker 60, watch-me-work-refresh 40, default 20.
    #[serde(default)]
    pub classes: IndexMap<String, i64>,
    /// TTL of a lease that gives none (default 10m).
    pub default_ttl: Option<Duration>,
    /// The longest TTL a lease may have (default 24h).
    pub max_ttl: Option<Duration>,
    /// How long a waiter waits when it gives no limit (default 30m).
    pub default_wait: Option<Duration>,
    /// A waiter gains `aging_step` priority for every `aging_interval` it has
    /// waited, so that a low priority never starves (default 10 per 1m).
    pub aging_interval: Option<Duration>,
    pub aging_step: Option<i64>,
    /// Operations, events and released leases older than this are removed by
    /// cleanup (default 7 days).
    pub retention: Option<Duration>,
    /// Alert thresholds.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// `weft serve`.
    #[serde(default)]
    pub server: ServerConfig,
}

/// When alerts fire. Rates are evaluated over a sliding window.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct AlertsConfig {
    /// The sliding window (default 15m).
    pub window: Option<Duration>,
    /// Claims that found the resource taken, as a share of all claims (default 0.3).
    pub conflict_rate: Option<f64>,
    /// Failed operations as a share of all finished operations (default 0.1).
    pub failure_rate: Option<f64>,
    /// Average duration of resolution operations (default 5m).
    pub resolution_time: Option<Duration>,
}

/// `weft serve`: where it listens and who may call it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct ServerConfig {
    /// Address to listen on (default 127.0.0.1:7700).
    pub listen: Option<String>,
    /// Store URL: `sqlite://PATH` or `postgres://…` (default `.weft/state.db`).
    pub store: Option<String>,
    /// Bearer tokens. Without any, the server listens on loopback only.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Serve `/api/v1/health` and `/metrics` without a token.
    #[serde(default)]
    pub open_health: bool,
    /// Largest request body in bytes (default 64 KiB).
    pub body_limit: Option<usize>,
}

/// One bearer token. The secret is read from an environment variable, so it
/// never sits in weft.yaml.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct TokenConfig {
    /// A name for logs and audit events.
    pub name: String,
    /// The environment variable holding the secret.
    pub env: String,
    /// Any of `read`, `write`, `admin`.
    pub scopes: Vec<String>,
}
