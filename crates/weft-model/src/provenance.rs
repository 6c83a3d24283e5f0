//! Provenance: the file, line, column and inference rule behind every fact.

use std::sync::Arc;

use serde::Serialize;

use crate::edge::EdgeKind;
use crate::span::Span;

/// The rule that read or inferred a fact. Each edge rule documents the edge
/// kind it produces (see [`Rule::edge_kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// `services` and `depends_on` in weft.yaml.
    WeftYaml,
    ComposeService,
    /// `depends_on` (short form, or long form with a condition): required;
    /// `required: false`: optional.
    ComposeDependsOn,
    /// `links`: required (Compose starts linked services first).
    ComposeLinks,
    /// `external_links`: optional (a container outside the project).
    ComposeExternalLinks,
    /// `network_mode: service:X` and `volumes_from`: required.
    ComposeSharedNamespace,
    /// An `environment` value naming another service's host: soft.
    ComposeEnvironment,
    ComposePorts,
    ComposeContainerName,
    ComposeNetwork,
    ComposeVolume,
    KubernetesWorkload,
    KubernetesService,
    /// `configMapKeyRef`: required, or optional with `optional: true`.
    KubernetesConfigMapKeyRef,
    /// `secretKeyRef`: required, or optional with `optional: true`.
    KubernetesSecretKeyRef,
    /// `envFrom`: required, or optional with `optional: true`.
    KubernetesEnvFrom,
    /// A `configMap`, `secret` or `persistentVolumeClaim` volume: required.
    KubernetesVolume,
    /// An env value naming a Service (`svc`, `svc:port`, `svc.ns`, FQDN): soft.
    KubernetesEnvironment,
    /// The `envFrom` or `valueFrom` line that brings a ConfigMap or Secret
    /// value naming a Service into a container: soft, like the value.
    KubernetesEnvSource,
    /// An Ingress backend: optional (the controller serves other routes without it).
    KubernetesIngressBackend,
    KubernetesHostPort,
    KubernetesNodePort,
    KubernetesIngressRule,
    /// A URL or `host:port` naming a service in `.env`, `config.json`,
    /// `settings.yaml`, `config.yaml`: soft.
    ConfigReference,
    NginxServer,
    /// `proxy_pass`/`upstream` to a literal host: required (nginx refuses to
    /// start when it cannot resolve it); through a variable: soft.
    NginxProxyPass,
    /// A router in Traefik labels: optional edge from the Traefik proxy.
    TraefikRouter,
    ProcfileProcess,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::WeftYaml => "weft-yaml",
            Rule::ComposeService => "compose-service",
            Rule::ComposeDependsOn => "compose-depends-on",
            Rule::ComposeLinks => "compose-links",
            Rule::ComposeExternalLinks => "compose-external-links",
            Rule::ComposeSharedNamespace => "compose-shared-namespace",
            Rule::ComposeEnvironment => "compose-environment",
            Rule::ComposePorts => "compose-ports",
            Rule::ComposeContainerName => "compose-container-name",
            Rule::ComposeNetwork => "compose-network",
            Rule::ComposeVolume => "compose-volume",
            Rule::KubernetesWorkload => "kubernetes-workload",
            Rule::KubernetesService => "kubernetes-service",
            Rule::KubernetesConfigMapKeyRef => "kubernetes-config-map-key-ref",
            Rule::KubernetesSecretKeyRef => "kubernetes-secret-key-ref",
            Rule::KubernetesEnvFrom => "kubernetes-env-from",
            Rule::KubernetesVolume => "kubernetes-volume",
            Rule::KubernetesEnvironment => "kubernetes-environment",
            Rule::KubernetesEnvSource => "kubernetes-env-source",
            Rule::KubernetesIngressBackend => "kubernetes-ingress-backend",
            Rule::KubernetesHostPort => "kubernetes-host-port",
            Rule::KubernetesNodePort => "kubernetes-node-port",
            Rule::KubernetesIngressRule => "kubernetes-ingress-rule",
            Rule::ConfigReference => "config-reference",
            Rule::NginxServer => "nginx-server",
            Rule::NginxProxyPass => "nginx-proxy-pass",
            Rule::TraefikRouter => "traefik-router",
            Rule::ProcfileProcess => "procfile-process",
        }
    }

    /// The edge kind this rule infers by default; readers may weaken it
    /// (`required: false`, `optional: true`, a variable in `proxy_pass`).
    pub fn edge_kind(self) -> EdgeKind {
        match self {
            Rule::ComposeEnvironment
            | Rule::KubernetesEnvironment
            | Rule::KubernetesEnvSource
            | Rule::ConfigReference => EdgeKind::Soft,
            Rule::ComposeExternalLinks | Rule::KubernetesIngressBackend | Rule::TraefikRouter => {
                EdgeKind::Optional
            }
            _ => EdgeKind::Required,
        }
    }

    /// How much a rule's evidence weighs when choosing which edge of a cycle
    /// to cut: explicit declarations weigh most, inferences from values least.
    pub fn evidence_weight(self) -> u8 {
        match self {
            Rule::WeftYaml => 5,
            Rule::ComposeDependsOn | Rule::ComposeSharedNamespace | Rule::ComposeLinks => 4,
            Rule::KubernetesConfigMapKeyRef
            | Rule::KubernetesSecretKeyRef
            | Rule::KubernetesEnvFrom
            | Rule::KubernetesVolume
            | Rule::NginxProxyPass => 3,
            Rule::KubernetesIngressBackend | Rule::TraefikRouter | Rule::ComposeExternalLinks => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a fact came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Provenance {
    /// Path relative to the workspace root, with `/` separators; shared by
    /// every fact read from the file.
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
    pub rule: Rule,
    /// The byte span of the value, for in-place edits.
    #[serde(skip)]
    pub span: Span,
}

impl Provenance {
    pub fn new(file: impl Into<Arc<str>>, span: Span, rule: Rule) -> Self {
        Provenance {
            file: file.into(),
            line: span.start.line,
            column: span.start.column,
            rule,
            span,
        }
    }

    /// `file:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.column)
    }
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.location(), self.rule)
    }
}
