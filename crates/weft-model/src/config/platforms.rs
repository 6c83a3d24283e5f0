//! The `platforms:` section of weft.yaml: where the platforms a workspace
//! runs on put their host ports.

use schemars::JsonSchema;
use serde::Deserialize;

/// Where the workspace's platforms run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct PlatformsConfig {
    /// The Kubernetes cluster the manifests are applied to.
    #[serde(default)]
    pub kubernetes: KubernetesPlatformConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct KubernetesPlatformConfig {
    /// Whether the cluster's nodes include the host that runs the compose
    /// projects (default `same_host`: a single-node k3s, kind or minikube
    /// next to compose, the usual home lab). With `same_host` a `hostPort`
    /// or `nodePort` collides with a compose `ports:` entry on the same port
    /// and protocol; `separate` keeps the two apart.
    #[serde(default)]
    pub nodes: NodePlacement,
}

/// Where a Kubernetes cluster's nodes are, relative to the compose host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodePlacement {
    /// The compose host is one of the cluster's nodes.
    #[default]
    SameHost,
    /// The cluster runs elsewhere.
    Separate,
}
