//! The conflict report's types (part of the JSON contract).

use serde::Serialize;
use weft_model::{Provenance, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Two services publish the same host port (same platform, protocol, overlapping address).
    Port,
    /// Two services claim the same domain and path.
    Domain,
    /// A route that never receives traffic because another on the same proxy takes it first.
    RouteShadowed,
    ContainerName,
    /// One network name declared with different subnets.
    Network,
    /// Subnets of different networks overlap (Docker refuses the second).
    SubnetOverlap,
    /// One volume name declared with different drivers or options.
    Volume,
    /// A `shared_env` variable with different values.
    SharedEnv,
    /// An external network no repository creates.
    ExternalNetwork,
    /// An external volume no repository creates.
    ExternalVolume,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Port => "port",
            ConflictKind::Domain => "domain",
            ConflictKind::RouteShadowed => "route_shadowed",
            ConflictKind::ContainerName => "container_name",
            ConflictKind::Network => "network",
            ConflictKind::SubnetOverlap => "subnet_overlap",
            ConflictKind::Volume => "volume",
            ConflictKind::SharedEnv => "shared_env",
            ConflictKind::ExternalNetwork => "external_network",
            ConflictKind::ExternalVolume => "external_volume",
        }
    }
}

/// One claim taking part in a conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictClaim {
    /// The service id, or the repository for repository-level declarations.
    pub service: String,
    pub repository: String,
    /// What this claim says, where claims differ (a value, a subnet, a rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub provenance: Provenance,
}

/// A way to resolve a conflict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyOption {
    pub name: &'static str,
    /// How likely the strategy gives what the user wants, 0 to 1.
    pub confidence: f32,
    /// Whether `weft resolve` can apply it without a person.
    pub automatic: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ConflictKind,
    pub severity: Severity,
    /// The contested resource, as people write it (`tcp/8080`, `app.example.com/api`).
    pub resource: String,
    pub message: String,
    pub claims: Vec<ConflictClaim>,
    /// Best first.
    pub strategies: Vec<StrategyOption>,
}

/// Every strategy a conflict may offer, by name.
pub const STRATEGIES: &[&str] = &[
    "container-rename",
    "path-routing",
    "port-based-separation",
    "port-reassignment",
    "repository-override",
    "service-consolidation",
    "subdomain-separation",
    "subnet-reassignment",
    "value-standardization",
];
