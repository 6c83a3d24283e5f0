//! The `push:` section of weft.yaml: how `weft push` lands commits on a busy branch.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// How `weft push` locks, rebases and retries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct PushConfig {
    /// Path glob → what to do when a rebase conflicts on a matching path. The
    /// first matching glob wins.
    #[serde(default)]
    pub policies: IndexMap<String, serde_json::Value>,
}
