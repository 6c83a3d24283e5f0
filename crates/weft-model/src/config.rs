//! `weft.yaml`: the workspace file, its schema and its loading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::diagnostic::Diagnostic;
use crate::edge::EdgeKind;
use crate::span::Span;
use crate::yaml::{self, Node};

mod coordination;
mod deploy;
mod launch;
mod monitor;
mod notify;
mod platforms;
mod push;

pub use coordination::{AlertsConfig, CoordinationConfig, ServerConfig, TokenConfig};
pub use deploy::{
    ArtifactsConfig, DeployConfig, EnvironmentConfig, GateCheck, GateConfig, GithubConfig,
    HttpGate, JsonExpectation, PrometheusGate, RollbackMode, S3Config, StepAction, StepConfig,
    Strategy, WebhookStep, WorkflowStep,
};
pub use monitor::{
    AlertBand, HealthConfig, HealthWeights, MonitorAlertsConfig, MonitorConfig, StaleConfig,
    StaleThresholds,
};
pub use notify::{
    ChannelConfig, EmailConfig, GithubIssueConfig, NotifyConfig, NotifyEvent, NotifySeverity,
    RawChannel, RuleConfig, RuleWhen, SlackConfig, SmtpServer, StartTls, WebhookConfig,
};
pub use platforms::{KubernetesPlatformConfig, NodePlacement, PlatformsConfig};
pub use push::PushConfig;

pub use launch::{
    Condition, Duration, LaunchConfig, OnRestart, PortConfig, ProbeConfig, RestartPolicy,
    parse_duration,
};

/// The file name weft looks for at the workspace root.
pub const FILE_NAME: &str = "weft.yaml";

/// The workspace: its repositories and what discovery cannot know.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(title = "weft.yaml", extend("additionalProperties" = false))]
pub struct WorkspaceConfig {
    /// A name for the workspace (default: the directory's name).
    pub name: Option<String>,
    /// Repositories by name. Without this key every sub-directory that holds
    /// something weft can read is a repository.
    #[serde(default)]
    pub repositories: IndexMap<String, RepositoryConfig>,
    /// Services to add, or to override what discovery found: a plain name when
    /// unique, else `repository/service`.
    #[serde(default)]
    pub services: IndexMap<String, ServiceConfig>,
    /// Environment variables whose value must agree across repositories.
    #[serde(default)]
    pub shared_env: Vec<String>,
    /// Where `weft resolve` and `weft up` pick free ports.
    #[serde(default)]
    pub ports: PortsConfig,
    /// Where the platforms run: whether Kubernetes host ports share the
    /// compose host.
    #[serde(default)]
    pub platforms: PlatformsConfig,
    /// How `weft up` coordinates start-up.
    #[serde(default)]
    pub launch: LaunchConfig,
    /// How `weft push` locks, rebases and retries.
    #[serde(default)]
    pub push: PushConfig,
    /// Leases, priorities and `weft serve`.
    #[serde(default)]
    pub coordination: CoordinationConfig,
    /// The GitHub API, for workflow steps and the monitor.
    #[serde(default)]
    pub github: GithubConfig,
    /// Where `weft deploy` releases to, by name (`staging`, `production`).
    #[serde(default)]
    pub environments: IndexMap<String, EnvironmentConfig>,
    /// Where release artifacts are kept (default: the workspace's
    /// `.weft/artifacts/`).
    #[serde(default)]
    pub artifacts: ArtifactsConfig,
    /// Where release notifications go, and which events go where.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// The ecosystem monitor.
    #[serde(default)]
    pub monitor: MonitorConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct RepositoryConfig {
    /// Path of the repository, relative to the workspace root (default: its name).
    pub path: Option<String>,
    /// Glob patterns (relative to the repository) of files discovery skips.
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct ServiceConfig {
    /// The repository a service only weft.yaml defines belongs to.
    pub repository: Option<String>,
    pub image: Option<String>,
    /// The shell command `weft up` runs.
    pub command: Option<String>,
    /// Where the command runs, relative to the repository (default: the
    /// repository, or the directory of the Procfile that names it).
    pub workdir: Option<String>,
    /// Environment variables; values may refer to `${PORT}`, `${WEFT_PORT_<NAME>}`
    /// and the discovery variables.
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// `.env` files (relative to the working directory) read before `env`.
    #[serde(default, deserialize_with = "launch::one_or_many")]
    #[schemars(with = "Vec<String>")]
    pub env_file: Vec<String>,
    /// Ports `weft up` allocates: the first is `PORT`, each is `WEFT_PORT_<NAME>`.
    #[serde(default)]
    pub ports: Vec<PortConfig>,
    /// When the service can take traffic; checked for as long as it runs.
    pub ready: Option<ProbeConfig>,
    /// Whether the service is alive; failures restart it per `restart`.
    pub live: Option<ProbeConfig>,
    /// `no` (default), `on_failure` or `always`.
    pub restart: Option<RestartPolicy>,
    /// Restarts allowed before the service is failed (default 5).
    pub max_restarts: Option<u32>,
    /// First delay before a restart, doubled each time (default 200ms).
    pub backoff: Option<Duration>,
    /// The cap of the restart delay (default 30s).
    pub backoff_max: Option<Duration>,
    /// The signal that asks it to stop (default `TERM`).
    pub stop_signal: Option<String>,
    /// A shell command that asks it to stop, run instead of sending `stop_signal`.
    pub stop_command: Option<String>,
    /// How long it may take to stop before it is killed (default 10s).
    pub stop_timeout: Option<Duration>,
    /// What it needs: `OTHER: required|optional|soft`, or `OTHER: {kind: …}`.
    /// These edges override inferred ones between the same two services.
    #[serde(default)]
    pub depends_on: IndexMap<String, DependencyConfig>,
    /// How `weft deploy` releases it: steps, rollback steps and gates.
    pub deploy: Option<DeployConfig>,
}

/// One dependency in weft.yaml; a bare kind is shorthand for `{kind: KIND}`.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(untagged)]
pub enum DependencyConfig {
    Kind(EdgeKind),
    Detailed(DependencyDetails),
}

impl DependencyConfig {
    pub fn kind(&self) -> EdgeKind {
        match self {
            DependencyConfig::Kind(kind) => *kind,
            DependencyConfig::Detailed(details) => details.kind,
        }
    }

    /// The details, with defaults for the shorthand.
    pub fn details(&self) -> DependencyDetails {
        match self {
            DependencyConfig::Kind(kind) => DependencyDetails {
                kind: *kind,
                condition: None,
                timeout: None,
                on_restart: None,
            },
            DependencyConfig::Detailed(details) => details.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct DependencyDetails {
    #[serde(default = "required")]
    pub kind: EdgeKind,
    /// When the dependency counts as up: `started`, `ready` (default) or
    /// `completed_successfully`.
    pub condition: Option<Condition>,
    /// How long to wait for it (default: `launch.dependency_timeout`).
    pub timeout: Option<Duration>,
    /// What to do when it restarts: `restart`, `wait` (default) or `ignore`.
    pub on_restart: Option<OnRestart>,
}

fn required() -> EdgeKind {
    EdgeKind::Required
}

impl<'de> Deserialize<'de> for DependencyConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DependencyVisitor;
        impl<'de> serde::de::Visitor<'de> for DependencyVisitor {
            type Value = DependencyConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`required`, `optional`, `soft` or a mapping with `kind`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "required" => Ok(DependencyConfig::Kind(EdgeKind::Required)),
                    "optional" => Ok(DependencyConfig::Kind(EdgeKind::Optional)),
                    "soft" => Ok(DependencyConfig::Kind(EdgeKind::Soft)),
                    other => Err(E::unknown_variant(other, &["required", "optional", "soft"])),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                DependencyDetails::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(DependencyConfig::Detailed)
            }
        }
        deserializer.deserialize_any(DependencyVisitor)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct PortsConfig {
    /// `FIRST-LAST`, inclusive; default `20000-29999`.
    pub range: Option<PortRange>,
}

/// An inclusive range of ports written `FIRST-LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange {
            first: 20000,
            last: 29999,
        }
    }
}

impl From<PortRange> for String {
    /// As written in weft.yaml: `FIRST-LAST`.
    fn from(range: PortRange) -> String {
        format!("{}-{}", range.first, range.last)
    }
}

impl TryFrom<String> for PortRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let invalid =
            || format!("invalid port range `{text}`: expected FIRST-LAST, such as 20000-29999");
        let (first, last) = text.split_once('-').ok_or_else(invalid)?;
        let first: u16 = first.trim().parse().map_err(|_| invalid())?;
        let last: u16 = last.trim().parse().map_err(|_| invalid())?;
        if first == 0 || first > last {
            return Err(invalid());
        }
        Ok(PortRange { first, last })
    }
}

/// weft.yaml could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .diagnostic.message)]
    Invalid { diagnostic: Box<Diagnostic> },
}

/// A loaded weft.yaml and the warnings it raised (unknown keys).
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    pub config: WorkspaceConfig,
    /// `None` when the workspace has no weft.yaml.
    pub file: Option<PathBuf>,
    /// The text of weft.yaml and where its keys are.
    pub source: Option<(String, KeySpans)>,
    pub warnings: Vec<Diagnostic>,
}

impl LoadedConfig {
    /// The span of a key path in weft.yaml (`["services", "api", "depends_on", "db"]`):
    /// the key itself, or the closest key found.
    pub fn key_span(&self, keys: &[&str]) -> Option<Span> {
        let mut node = &self.source.as_ref()?.1;
        let mut span = None;
        for key in keys {
            let Some((_, key_span, value)) = node.keys.iter().find(|(k, _, _)| k == key) else {
                break;
            };
            span = Some(*key_span);
            node = value;
        }
        span
    }

    /// The spans of the keys of the mapping at `keys`, by key: one walk for
    /// what [`LoadedConfig::key_span`] would find one key at a time.
    pub fn child_key_spans(&self, keys: &[&str]) -> HashMap<&str, Span> {
        let Some(mut node) = self.source.as_ref().map(|(_, keys)| keys) else {
            return HashMap::new();
        };
        for key in keys {
            match node.keys.iter().find(|(k, _, _)| k == key) {
                Some((_, _, value)) => node = value,
                None => return HashMap::new(),
            }
        }
        node.keys
            .iter()
            .map(|(key, span, _)| (key.as_str(), *span))
            .collect()
    }
}

/// The keys of weft.yaml's mappings and where each is written, nested as
/// they are in the file: what locates a key once the YAML tree is gone.
/// Of a key written twice in one mapping, the first is kept, as
/// [`Node::entry`] finds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySpans {
    keys: Vec<(String, Span, KeySpans)>,
}

impl KeySpans {
    pub fn of(node: &Node<'_>) -> KeySpans {
        let mut seen = std::collections::HashSet::new();
        let keys = node
            .as_mapping()
            .unwrap_or_default()
            .iter()
            .filter_map(|(key, value)| {
                let text = key.as_str().filter(|text| seen.insert(*text))?;
                Some((text.to_string(), key.span, KeySpans::of(value)))
            })
            .collect();
        KeySpans { keys }
    }
}

/// Reads `weft.yaml` from the workspace root; a workspace without one gets the
/// default (empty) configuration.
pub fn load(root: &Path) -> Result<LoadedConfig, ConfigError> {
    let path = root.join(FILE_NAME);
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LoadedConfig::default());
        }
        Err(error) => {
            return Err(ConfigError::Read {
                path,
                source: error,
            });
        }
    };
    let (config, warnings, keys) = parse_with_tree(&text)?;
    Ok(LoadedConfig {
        config,
        file: Some(path),
        source: Some((text, keys)),
        warnings,
    })
}

/// Parses the text of a weft.yaml.
pub fn parse(text: &str) -> Result<(WorkspaceConfig, Vec<Diagnostic>), ConfigError> {
    parse_with_tree(text).map(|(config, warnings, _)| (config, warnings))
}

fn parse_with_tree(
    text: &str,
) -> Result<(WorkspaceConfig, Vec<Diagnostic>, KeySpans), ConfigError> {
    let invalid = |diagnostic: Diagnostic| ConfigError::Invalid {
        diagnostic: Box::new(diagnostic),
    };
    let arena = yaml::Arena::new();
    let node = yaml::parse_one(&arena, text).map_err(|error| {
        invalid(
            Diagnostic::error(
                "yaml-syntax",
                format!("weft.yaml is not valid YAML: {}", error.message),
            )
            .in_file(FILE_NAME)
            .at(text, error.location)
            .with_hint("fix the YAML syntax at this position"),
        )
    })?;
    if node.is_null() {
        return Ok((WorkspaceConfig::default(), Vec::new(), KeySpans::default()));
    }
    let mut warnings = Vec::new();
    let config: WorkspaceConfig = yaml::from_node(&node, |path, span: Span| {
        warnings.push(
            Diagnostic::warning(
                "unknown-key",
                format!("unknown key `{path}` in weft.yaml is ignored"),
            )
            .in_file(FILE_NAME)
            .at(text, span.start)
            .with_hint("check the spelling; `weft schema` prints every key weft.yaml accepts"),
        );
    })
    .map_err(|error| {
        let location = error.span.unwrap_or(node.span).start;
        invalid(
            Diagnostic::error(
                "invalid-config",
                format!("invalid weft.yaml: {}", error.message),
            )
            .in_file(FILE_NAME)
            .at(text, location)
            .with_hint("`weft schema` prints every key weft.yaml accepts and its type"),
        )
    })?;
    validate(&config, &node, text)?;
    Ok((config, warnings, KeySpans::of(&node)))
}

fn validate(config: &WorkspaceConfig, node: &Node, text: &str) -> Result<(), ConfigError> {
    for (name, repository) in &config.repositories {
        let bad_name = name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.');
        let bad_path = repository
            .path
            .as_deref()
            .is_some_and(|p| p.trim().is_empty());
        if bad_name || bad_path {
            let at = node
                .get("repositories")
                .and_then(|r| r.entry(name))
                .map_or(node.span, |(key, _)| key.span);
            let message = if bad_name {
                format!("repository name `{name}` must not be empty, start with `.` or contain `/`")
            } else {
                format!("repository `{name}` has an empty path")
            };
            return Err(ConfigError::Invalid {
                diagnostic: Box::new(
                    Diagnostic::error("invalid-config", message)
                        .in_file(FILE_NAME)
                        .at(text, at.start),
                ),
            });
        }
    }
    for (name, service) in &config.services {
        for (key, probe) in [("ready", &service.ready), ("live", &service.live)] {
            let Some(probe) = probe else { continue };
            let kinds = probe.kinds();
            if kinds.len() == 1 {
                continue;
            }
            let at = node
                .get("services")
                .and_then(|s| s.get(name))
                .and_then(|s| s.entry(key))
                .map_or(node.span, |(key, _)| key.span);
            let message = if kinds.is_empty() {
                format!("`services.{name}.{key}` names no probe")
            } else {
                format!(
                    "`services.{name}.{key}` names {} probes ({}); a probe is one check",
                    kinds.len(),
                    kinds.join(", ")
                )
            };
            return Err(ConfigError::Invalid {
                diagnostic: Box::new(
                    Diagnostic::error("invalid-config", message)
                        .in_file(FILE_NAME)
                        .at(text, at.start)
                        .with_hint("give exactly one of `http`, `tcp`, `exec`, `log` or `file`"),
                ),
            });
        }
    }
    notify::validate(config, node, text)?;
    Ok(())
}

/// The JSON Schema of weft.yaml, for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WorkspaceConfig)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_design_example() {
        let text = "name: homelab\nrepositories:\n  infra: {path: repos/infra}\nshared_env: [TZ]\nports: {range: 21000-21999}\nservices:\n  api:\n    depends_on:\n      db: required\n      cache: {kind: optional}\n";
        let (config, warnings) = parse(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.name.as_deref(), Some("homelab"));
        assert_eq!(
            config.ports.range,
            Some(PortRange {
                first: 21000,
                last: 21999
            })
        );
        let api = &config.services["api"];
        assert_eq!(api.depends_on["db"].kind(), EdgeKind::Required);
        assert_eq!(api.depends_on["cache"].kind(), EdgeKind::Optional);
    }

    #[test]
    fn unknown_keys_warn_with_location() {
        let (_, warnings) = parse("name: x\nrepositries: {}\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, Some(2));
        assert!(warnings[0].message.contains("repositries"));
    }

    #[test]
    fn bad_values_are_errors_at_the_value() {
        let Err(ConfigError::Invalid { diagnostic }) =
            parse("services:\n  api:\n    depends_on:\n      db: mandatory\n")
        else {
            panic!("expected an error");
        };
        assert_eq!((diagnostic.line, diagnostic.column), (Some(4), Some(11)));
        assert!(
            diagnostic.message.contains("mandatory"),
            "{}",
            diagnostic.message
        );
        let Err(ConfigError::Invalid { diagnostic }) = parse("ports: {range: 9-1}\n") else {
            panic!("expected an error");
        };
        assert_eq!(diagnostic.line, Some(1));
    }

    #[test]
    fn key_spans_find_the_first_of_repeated_keys_or_the_closest_key() {
        let text = "services:\n  api:\n    depends_on:\n      db: required\n  api:\n    other: 1\n  web: {}\n";
        let arena = yaml::Arena::new();
        let node = yaml::parse_one(&arena, text).unwrap();
        let loaded = LoadedConfig {
            source: Some((text.to_string(), KeySpans::of(&node))),
            ..LoadedConfig::default()
        };
        let at = |keys: &[&str]| {
            loaded
                .key_span(keys)
                .map(|s| (s.start.line, s.start.column))
        };
        assert_eq!(at(&["services", "api", "depends_on", "db"]), Some((4, 7)));
        // `other` is under the second `api`, which a lookup never reaches.
        assert_eq!(at(&["services", "api", "other"]), Some((2, 3)));
        assert_eq!(at(&["services", "nope"]), Some((1, 1)));
        assert_eq!(at(&["nope"]), None);
        let mut children: Vec<(&str, u32)> = loaded
            .child_key_spans(&["services"])
            .into_iter()
            .map(|(key, span)| (key, span.start.line))
            .collect();
        children.sort();
        assert_eq!(children, [("api", 2), ("web", 7)]);
        assert!(loaded.child_key_spans(&["services", "nope"]).is_empty());
    }
}
