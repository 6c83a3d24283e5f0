//! `monitor:`: the ecosystem monitor's keys. So far the failure-log rules.

use schemars::JsonSchema;
use serde::Deserialize;

/// The ecosystem monitor (`weft monitor`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct MonitorConfig {
    /// Extra failure-log rules: a YAML file with a `rules:` list, relative
    /// to the workspace, tried before the built-in set.
    pub rules: Option<String>,
}
