//! Launch settings: what `weft up` runs, resolved once from the workspace
//! model and weft.yaml, before anything starts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use weft_model::config::{
    Condition, DependencyDetails, OnRestart, PortRange, ProbeConfig, RestartPolicy, ServiceConfig,
};
use weft_model::{Edge, EdgeKind, LookupIndex, Model, Rule, Service, ServiceId};

use crate::error::SettingsError;

/// Everything the supervisor needs, resolved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchSettings {
    /// The workspace root.
    pub root: PathBuf,
    /// `.weft/` under the root: registry, socket, logs.
    pub state_dir: PathBuf,
    /// The services to run, dependencies before dependents.
    pub services: Vec<ServiceSettings>,
    pub max_parallel_starts: Option<usize>,
    pub readiness_timeout: Duration,
    pub startup_retry_count: u32,
    pub graceful_degradation: bool,
    /// Services whose failure fails `--wait` (by index).
    pub required: BTreeSet<usize>,
    pub log: LogSettings,
    pub port_range: PortRange,
}

/// How much output is kept, in memory and on disk.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct LogSettings {
    /// Lines kept in memory per service.
    pub lines: usize,
    /// Bytes kept in memory per service.
    pub bytes: usize,
    /// Size at which a log file is rotated.
    pub file_size: u64,
    /// Rotated files kept.
    pub files: usize,
}

/// One service as the supervisor runs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceSettings {
    /// `repository/service`.
    pub id: String,
    /// The shortest unambiguous name: the plain name, or the id.
    pub name: String,
    pub command: String,
    pub workdir: PathBuf,
    /// Files read before `env`, in order.
    pub env_files: Vec<PathBuf>,
    /// Variables as written; `${…}` references are expanded at start.
    pub env: Vec<(String, String)>,
    pub ports: Vec<PortRequest>,
    pub ready: Option<ProbeSettings>,
    pub live: Option<ProbeSettings>,
    pub restart: RestartPolicy,
    pub max_restarts: u32,
    pub backoff: Duration,
    pub backoff_max: Duration,
    pub stop: StopSettings,
    pub dependencies: Vec<DependencySettings>,
}

/// A port to allocate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    /// As written; the variable is `WEFT_PORT_<NAME>` in upper case.
    pub name: String,
    pub preferred: Option<u16>,
    pub range: PortRange,
}

/// How a service is asked to stop.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopSettings {
    #[serde(with = "signal_name")]
    pub signal: Signal,
    pub command: Option<String>,
    pub timeout: Duration,
}

/// One edge as the supervisor enforces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DependencySettings {
    /// Index into [`LaunchSettings::services`].
    pub service: usize,
    pub kind: EdgeKind,
    pub condition: Condition,
    pub timeout: Duration,
    pub on_restart: OnRestart,
    /// Where the edge was read: `file:line:col (rule)`.
    pub provenance: String,
}

impl DependencySettings {
    /// Whether this edge holds the dependent back until it is met.
    pub fn gates(&self) -> bool {
        self.kind != EdgeKind::Soft
    }
}

/// A probe and its timing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeSettings {
    pub check: Check,
    pub initial_delay: Duration,
    pub period: Duration,
    pub start_period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

/// What a probe checks; targets may hold `${…}` references.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Check {
    Http {
        url: String,
        status: Option<u16>,
    },
    Tcp {
        address: String,
    },
    Exec {
        command: String,
    },
    Log {
        #[serde(with = "pattern_text")]
        pattern: regex::Regex,
    },
    File {
        path: String,
    },
}

impl Check {
    pub fn describe(&self) -> String {
        match self {
            Check::Http { url, .. } => format!("http {url}"),
            Check::Tcp { address } => format!("tcp {address}"),
            Check::Exec { command } => format!("exec `{command}`"),
            Check::Log { pattern } => format!("log /{pattern}/"),
            Check::File { path } => format!("file {path}"),
        }
    }
}

/// A signal as its name (`SIGTERM`), for [`StopSettings`]'s serde.
mod signal_name {
    use nix::sys::signal::Signal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(signal: &Signal, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(signal.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Signal, D::Error> {
        let name = String::deserialize(input)?;
        name.parse()
            .map_err(|_| serde::de::Error::custom(format!("unknown signal `{name}`")))
    }
}

/// A regular expression as its pattern, for [`Check::Log`]'s serde.
mod pattern_text {
    use regex::Regex;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(pattern: &Regex, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(pattern.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Regex, D::Error> {
        let text = String::deserialize(input)?;
        Regex::new(&text).map_err(serde::de::Error::custom)
    }
}

/// What the user asked to start.
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    /// Service names; empty means every service with a command.
    pub services: Vec<String>,
    /// Start only the named services, not their dependencies.
    pub no_dependencies: bool,
}

/// Something the user should know about the selection, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub service: String,
    pub message: String,
}

const DEFAULT_DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(300);

impl LaunchSettings {
    /// Resolves the services to run from the model.
    pub fn from_model(
        model: &Model,
        request: &LaunchRequest,
    ) -> Result<(LaunchSettings, Vec<Notice>), SettingsError> {
        let config = &model.config;
        let launch = &config.launch;
        let mut notices = Vec::new();
        let launchable = |s: &Service| s.command.as_deref().is_some_and(|c| !c.trim().is_empty());
        let names = model.lookup_index();
        let mut outgoing: HashMap<&ServiceId, Vec<&Edge>> = HashMap::new();
        for edge in &model.edges {
            outgoing.entry(&edge.from).or_default().push(edge);
        }

        // The selection: named services and, unless told otherwise, what they need.
        let mut selected: BTreeSet<usize> = BTreeSet::new();
        if request.services.is_empty() {
            for (index, service) in model.services.iter().enumerate() {
                if launchable(service) {
                    selected.insert(index);
                }
            }
            if selected.is_empty() {
                return Err(SettingsError::NothingToRun);
            }
        } else {
            let mut stack = Vec::new();
            for name in &request.services {
                let service = names.lookup(name)?;
                if !launchable(service) {
                    return Err(SettingsError::NoCommand {
                        service: service.id.to_string(),
                    });
                }
                stack.extend(names.position(&service.id));
            }
            while let Some(index) = stack.pop() {
                if !selected.insert(index) || request.no_dependencies {
                    continue;
                }
                for edge in outgoing
                    .get(&model.services[index].id)
                    .into_iter()
                    .flatten()
                {
                    if let Some(to) = names.position(&edge.to) {
                        stack.push(to);
                    }
                }
            }
        }
        for &index in &selected {
            let service = &model.services[index];
            if !launchable(service) {
                notices.push(Notice {
                    service: service.id.to_string(),
                    message: "has no command, so weft up does not run it; what needs it is not held back by it".into(),
                });
            }
        }
        selected.retain(|&index| launchable(&model.services[index]));

        let order = order(model, &names, &selected)?;
        let position: BTreeMap<usize, usize> = order
            .iter()
            .enumerate()
            .map(|(at, &index)| (index, at))
            .collect();
        let short = short_names(model, &order);
        // weft.yaml's entry of each service, and what each entry's
        // `depends_on` names, resolved once: a stack of a thousand services
        // has a hundred thousand edges.
        let mut configs: HashMap<&ServiceId, &ServiceConfig> = HashMap::new();
        let mut dependency_details: HashMap<(&ServiceId, &ServiceId), DependencyDetails> =
            HashMap::new();
        for (key, service_config) in &model.config.services {
            let Ok(service) = names.lookup(key) else {
                continue;
            };
            if configs.contains_key(&service.id) {
                continue;
            }
            configs.insert(&service.id, service_config);
            for (name, dependency) in &service_config.depends_on {
                if let Ok(to) = names.lookup(name) {
                    dependency_details
                        .entry((&service.id, &to.id))
                        .or_insert_with(|| dependency.details());
                }
            }
        }
        let range = config.ports.range.unwrap_or_default();
        let dependency_timeout = launch
            .dependency_timeout
            .map_or(DEFAULT_DEPENDENCY_TIMEOUT, |d| d.0);
        let mut services = Vec::with_capacity(order.len());
        for (at, &index) in order.iter().enumerate() {
            let service = &model.services[index];
            let service_config = configs.get(&service.id).copied();
            let mut dependencies = Vec::new();
            for edge in outgoing.get(&service.id).into_iter().flatten() {
                let Some(to) = names.position(&edge.to) else {
                    continue;
                };
                let Some(&target) = position.get(&to) else {
                    continue;
                };
                let details = dependency_details.get(&(&service.id, &edge.to)).cloned();
                let details = details.unwrap_or(DependencyDetails {
                    kind: edge.kind,
                    condition: None,
                    timeout: None,
                    on_restart: None,
                });
                let provenance = edge.provenance.first().map_or_else(String::new, |p| {
                    format!("{}:{}:{} ({})", p.file, p.line, p.column, p.rule.as_str())
                });
                dependencies.push(DependencySettings {
                    service: target,
                    kind: edge.kind,
                    condition: details.condition.unwrap_or(Condition::Ready),
                    timeout: details.timeout.map_or(dependency_timeout, |d| d.0),
                    on_restart: details.on_restart.unwrap_or(OnRestart::Wait),
                    provenance,
                });
            }
            services.push(service_settings(
                model,
                service,
                service_config,
                short[at].clone(),
                dependencies,
                range,
            )?);
        }

        let mut required: BTreeSet<usize> = (0..services.len()).collect();
        for name in &launch.optional {
            let service = names.lookup(name)?;
            if let Some(&at) = names.position(&service.id).and_then(|i| position.get(&i)) {
                required.remove(&at);
            }
        }
        if !launch.required.is_empty() {
            required.clear();
            for name in &launch.required {
                let service = names.lookup(name)?;
                if let Some(&at) = names.position(&service.id).and_then(|i| position.get(&i)) {
                    required.insert(at);
                }
            }
        }
        let settings = LaunchSettings {
            root: model.root.clone(),
            state_dir: model.root.join(".weft"),
            services,
            max_parallel_starts: launch.max_parallel_starts.filter(|&n| n > 0),
            readiness_timeout: launch
                .readiness_timeout
                .map_or(Duration::from_secs(300), |d| d.0),
            startup_retry_count: launch.startup_retry_count.unwrap_or(0),
            graceful_degradation: launch.graceful_degradation.unwrap_or(true),
            required,
            log: LogSettings {
                lines: launch.log_lines.unwrap_or(1000).max(1),
                bytes: 256 * 1024,
                file_size: launch.log_file_size.unwrap_or(10 * 1024 * 1024).max(4096),
                files: launch.log_files.unwrap_or(3),
            },
            port_range: range,
        };
        Ok((settings, notices))
    }

    /// The index of a service by id or name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.services
            .iter()
            .position(|s| s.id == name || s.name == name)
            .or_else(|| {
                let mut matches = self
                    .services
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.id.rsplit('/').next() == Some(name));
                match (matches.next(), matches.next()) {
                    (Some((index, _)), None) => Some(index),
                    _ => None,
                }
            })
    }
}

/// Dependencies before dependents (Kahn's algorithm over the gating edges,
/// ties in model order, one layer at a time); a cycle is an error naming its
/// services.
fn order(
    model: &Model,
    names: &LookupIndex<'_>,
    selected: &BTreeSet<usize>,
) -> Result<Vec<usize>, SettingsError> {
    let mut needs: HashMap<usize, BTreeSet<usize>> =
        selected.iter().map(|&i| (i, BTreeSet::new())).collect();
    for edge in &model.edges {
        if edge.kind == EdgeKind::Soft {
            continue;
        }
        if let (Some(from), Some(to)) = (names.position(&edge.from), names.position(&edge.to))
            && selected.contains(&from)
            && selected.contains(&to)
            && from != to
        {
            needs.entry(from).or_default().insert(to);
        }
    }
    let mut waiting: HashMap<usize, usize> = HashMap::with_capacity(needs.len());
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&from, tos) in &needs {
        waiting.insert(from, tos.len());
        for &to in tos {
            dependents.entry(to).or_default().push(from);
        }
    }
    let mut layer: Vec<usize> = selected
        .iter()
        .copied()
        .filter(|index| waiting[index] == 0)
        .collect();
    let mut order = Vec::with_capacity(selected.len());
    while !layer.is_empty() {
        let mut next = Vec::new();
        for &index in &layer {
            for &dependent in dependents.get(&index).into_iter().flatten() {
                let count = waiting
                    .get_mut(&dependent)
                    .expect("every service is counted");
                *count -= 1;
                if *count == 0 {
                    next.push(dependent);
                }
            }
        }
        order.append(&mut layer);
        next.sort_unstable();
        layer = next;
    }
    if order.len() < selected.len() {
        let placed: BTreeSet<usize> = order.iter().copied().collect();
        let cycle: Vec<String> = selected
            .iter()
            .filter(|index| !placed.contains(index))
            .map(|&index| model.services[index].id.to_string())
            .collect();
        return Err(SettingsError::Cycle { services: cycle });
    }
    Ok(order)
}

/// Plain names where they are unique among the launched services, else ids.
fn short_names(model: &Model, order: &[usize]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for &index in order {
        *counts
            .entry(model.services[index].name.as_str())
            .or_default() += 1;
    }
    order
        .iter()
        .map(|&index| {
            let service = &model.services[index];
            if counts[service.name.as_str()] == 1 {
                service.name.clone()
            } else {
                service.id.to_string()
            }
        })
        .collect()
}

fn service_settings(
    model: &Model,
    service: &Service,
    config: Option<&ServiceConfig>,
    name: String,
    dependencies: Vec<DependencySettings>,
    range: PortRange,
) -> Result<ServiceSettings, SettingsError> {
    let default = ServiceConfig::default();
    let config = config.unwrap_or(&default);
    let invalid = |key: &str, message: String| SettingsError::Invalid {
        service: service.id.to_string(),
        key: key.to_string(),
        message,
    };
    let repository = model
        .repositories
        .iter()
        .find(|r| r.name == service.repository)
        .map_or_else(|| model.root.clone(), |r| model.root.join(&r.path));
    // A Procfile process runs where its Procfile is.
    let procfile_directory = service
        .provenance
        .iter()
        .find(|p| p.rule == Rule::ProcfileProcess)
        .and_then(|p| Path::new(&*p.file).parent().map(|d| model.root.join(d)));
    let workdir = match &config.workdir {
        Some(workdir) => repository.join(workdir),
        None => procfile_directory.unwrap_or(repository),
    };
    let mut ports = Vec::new();
    for (at, port) in config.ports.iter().enumerate() {
        let port_name = port.name.clone().unwrap_or_else(|| {
            if at == 0 {
                "http".to_string()
            } else {
                format!("port{}", at + 1)
            }
        });
        ports.push(PortRequest {
            name: port_name,
            preferred: port.preferred,
            range: port.range.unwrap_or(range),
        });
    }
    let ready = config
        .ready
        .as_ref()
        .map(|p| probe(p, Duration::from_secs(5)))
        .transpose()
        .map_err(|m| invalid("ready", m))?;
    let live = config
        .live
        .as_ref()
        .map(|p| probe(p, Duration::from_secs(10)))
        .transpose()
        .map_err(|m| invalid("live", m))?;
    let signal = match &config.stop_signal {
        None => Signal::SIGTERM,
        Some(name) => parse_signal(name).map_err(|m| invalid("stop_signal", m))?,
    };
    Ok(ServiceSettings {
        id: service.id.to_string(),
        name,
        command: service.command.clone().unwrap_or_default(),
        env_files: config.env_file.iter().map(|f| workdir.join(f)).collect(),
        workdir,
        env: config
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ports,
        ready,
        live,
        restart: config.restart.unwrap_or_default(),
        max_restarts: config.max_restarts.unwrap_or(5),
        backoff: config.backoff.map_or(Duration::from_millis(200), |d| d.0),
        backoff_max: config.backoff_max.map_or(Duration::from_secs(30), |d| d.0),
        stop: StopSettings {
            signal,
            command: config.stop_command.clone(),
            timeout: config.stop_timeout.map_or(Duration::from_secs(10), |d| d.0),
        },
        dependencies,
    })
}

fn probe(config: &ProbeConfig, default_period: Duration) -> Result<ProbeSettings, String> {
    let check = if let Some(url) = &config.http {
        if !url.starts_with("http://") {
            return Err(format!(
                "`{url}` is not an http:// URL (https probes are not supported; probe the plain port or use `exec`)"
            ));
        }
        Check::Http {
            url: url.clone(),
            status: config.status,
        }
    } else if let Some(address) = &config.tcp {
        Check::Tcp {
            address: address.clone(),
        }
    } else if let Some(command) = &config.exec {
        Check::Exec {
            command: command.clone(),
        }
    } else if let Some(pattern) = &config.log {
        Check::Log {
            pattern: regex::Regex::new(pattern)
                .map_err(|e| format!("invalid regular expression: {e}"))?,
        }
    } else if let Some(path) = &config.file {
        Check::File { path: path.clone() }
    } else {
        return Err("names no probe; give one of http, tcp, exec, log or file".into());
    };
    let at_least_one = |n: Option<u32>, default: u32| n.unwrap_or(default).max(1);
    Ok(ProbeSettings {
        check,
        initial_delay: config.initial_delay.map_or(Duration::ZERO, |d| d.0),
        period: config
            .period
            .map_or(default_period, |d| d.0)
            .max(Duration::from_millis(10)),
        start_period: config
            .start_period
            .map_or(Duration::from_millis(50), |d| d.0)
            .max(Duration::from_millis(10)),
        timeout: config.timeout.map_or(Duration::from_secs(1), |d| d.0),
        success_threshold: at_least_one(config.success_threshold, 1),
        failure_threshold: at_least_one(config.failure_threshold, 3),
    })
}

/// `TERM`, `SIGTERM`, `15` → SIGTERM.
pub fn parse_signal(name: &str) -> Result<Signal, String> {
    let trimmed = name.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| format!("unknown signal number {number}"));
    }
    let upper = trimmed.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>()
        .map_err(|_| format!("unknown signal `{trimmed}`; use a name such as TERM, INT or QUIT"))
}

/// `db-primary` → `DB_PRIMARY`: the form used in environment variable names.
pub fn variable_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_and_variable_names() {
        assert_eq!(parse_signal("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("sigint"), Ok(Signal::SIGINT));
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert!(parse_signal("NOPE").is_err());
        assert_eq!(variable_name("db-primary.v2"), "DB_PRIMARY_V2");
    }
}
