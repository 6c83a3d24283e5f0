//! The `coordination:` section of weft.yaml: leases, priorities and the server.

use schemars::JsonSchema;
use serde::Deserialize;

/// How the coordination store and `weft serve` grant leases.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct CoordinationConfig {}
