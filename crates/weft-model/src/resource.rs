//! Shared resources that services claim and can collide on.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::provenance::Provenance;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// Where a host port is bound: on the Docker host (Compose) or on every
/// Kubernetes node (`hostPort`, `nodePort`). Ports only collide on one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Docker,
    Kubernetes,
}

/// The proxy that serves a route; precedence rules differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    Nginx,
    Traefik,
    Ingress,
}

/// How a route's path matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathMatch {
    Prefix,
    Exact,
    Regex,
}

/// A thing services share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    /// A published host port range (`start == end` for one port).
    HostPort {
        platform: Platform,
        protocol: Protocol,
        /// `None` binds every address.
        #[serde(skip_serializing_if = "Option::is_none")]
        host_ip: Option<String>,
        start: u16,
        end: u16,
    },
    /// A domain and path routed by a proxy.
    Route {
        proxy: ProxyKind,
        host: String,
        path: String,
        path_match: PathMatch,
        /// Which proxy instance serves it (the service or file that configures it).
        router: String,
        /// The router's own name (Traefik router, nginx `listen` port).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Explicit precedence where the proxy has one (Traefik `priority`).
        #[serde(skip_serializing_if = "Option::is_none")]
        priority: Option<i64>,
        /// The rule as written (a Traefik rule, an nginx `server_name`).
        #[serde(skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
        /// The proxy's entry points the route listens on (Traefik
        /// `entrypoints`); empty: every entry point.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        entry_points: Vec<String>,
        /// The route also matches on something besides host and path (a
        /// header, a method, a negation): it takes only part of the
        /// requests its host and path name.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        narrowed: bool,
    },
    ContainerName {
        name: String,
    },
    /// A declared or referenced network, by its real (engine-level) name.
    Network {
        name: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        subnets: Vec<String>,
        external: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        driver: Option<String>,
    },
    /// A declared or referenced named volume, by its real name.
    Volume {
        name: String,
        external: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        driver: Option<String>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        options: BTreeMap<String, String>,
    },
    /// A value given to an environment variable.
    EnvVar {
        name: String,
        value: String,
    },
}

impl Resource {
    /// A short kind name: `host_port`, `route`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::HostPort { .. } => "host_port",
            Resource::Route { .. } => "route",
            Resource::ContainerName { .. } => "container_name",
            Resource::Network { .. } => "network",
            Resource::Volume { .. } => "volume",
            Resource::EnvVar { .. } => "env_var",
        }
    }
}

/// A claim of one resource by a service (or, for top-level network and
/// volume declarations, by a repository).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The service id, or the repository name for repository-level declarations.
    pub service: String,
    pub repository: String,
    pub resource: Resource,
    pub provenance: Provenance,
}
