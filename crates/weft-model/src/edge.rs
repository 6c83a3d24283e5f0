//! Dependency edges between services.

use serde::{Deserialize, Serialize};

use crate::provenance::Provenance;
use crate::service::ServiceId;

/// How strongly a service needs another, as in the startup-coordination seed.
///
/// - `required`: must be up (ready) first; if it fails, the dependent cannot start.
/// - `optional`: started first when present; if it fails, the dependent starts degraded.
/// - `soft`: an ordering preference from a runtime reference; never blocks.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    Soft,
    Optional,
    Required,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Required => "required",
            EdgeKind::Optional => "optional",
            EdgeKind::Soft => "soft",
        }
    }
}

impl std::fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `from` needs `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub from: ServiceId,
    pub to: ServiceId,
    pub kind: EdgeKind,
    /// Every place the edge was read from; never empty.
    pub provenance: Vec<Provenance>,
    /// Set by `weft.yaml`, which overrides what discovery inferred.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub explicit: bool,
}
