//! The release plan: which services go, at which versions, in which phases.
//!
//! How it is built: the services being released are the ones named with
//! `--set` (or, with `--all`, every service that has a `deploy:`). One
//! service must go before another when it is reachable from it over
//! `required` edges of the workspace graph (through services that are not
//! being released too) or over `deploy.depends_on`; soft and optional edges
//! never order a release. The released services are layered by that order
//! (a layer holds services with nothing left to wait for), and the strategy
//! turns layers into phases: one service a phase (`sequential`), layers cut
//! to `max_parallel` (`parallel`), or the canaries and what they require
//! first (`canary`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use weft_analysis::ServiceGraph;
use weft_model::config::{
    DeployConfig, EnvironmentConfig, GateCheck, RollbackMode, StepAction, StepConfig, Strategy,
};
use weft_model::{EdgeKind, Model};

use crate::error::PlanError;
use crate::expand::Variables;

/// The default time a step may take.
pub const DEFAULT_STEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The default services of one phase deployed at once.
pub const DEFAULT_MAX_PARALLEL: u32 = 4;
/// The default time a canary's gates must keep passing.
pub const DEFAULT_ANALYSIS: std::time::Duration = std::time::Duration::from_secs(60);

/// What the user asked to release.
#[derive(Debug, Clone, Default)]
pub struct ReleaseRequest {
    pub environment: String,
    /// `--set SERVICE=VERSION`, names as typed.
    pub set: Vec<(String, String)>,
    /// Redeploy every service that has a `deploy:`, at its current version
    /// unless `--set` names another.
    pub all: bool,
    /// Overrides the environment's strategy.
    pub strategy: Option<Strategy>,
    /// The versions of an earlier manifest to release again (service id →
    /// version); services at another version than now are released.
    pub from_manifest: Option<BTreeMap<String, String>>,
}

/// A release, ready to run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub environment: String,
    pub strategy: Strategy,
    pub rollback: RollbackMode,
    /// `canary`: how long the canaries' gates must keep passing, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis_ms: Option<u64>,
    pub phases: Vec<PlanPhase>,
    /// Every released service, in plan order.
    pub services: Vec<PlannedService>,
    /// The environment after success: service id → version.
    pub versions: BTreeMap<String, String>,
    /// The environment's `variables`, expanded.
    pub variables: BTreeMap<String, String>,
    /// A rollback to a recorded manifest: every service runs its rollback
    /// steps, with `WEFT_ROLLBACK=1`, towards `version`.
    pub restore: bool,
    /// Where `workflow` steps reach GitHub (weft.yaml's `github:`).
    pub github: GithubTarget,
    /// The environment's `notify:` rules; empty: every rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

/// weft.yaml's `github:` as a release uses it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GithubTarget {
    /// The API root (default `https://api.github.com`).
    pub api_url: Option<String>,
    /// The variable holding the token (default `GITHUB_TOKEN`).
    pub token_env: Option<String>,
}

impl Plan {
    /// Whether any step (or rollback step) dispatches a workflow.
    pub fn uses_github(&self) -> bool {
        self.services.iter().any(|service| {
            service
                .steps
                .iter()
                .chain(&service.rollback_steps)
                .any(|step| matches!(step.config.action, StepAction::Workflow(_)))
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanPhase {
    /// 1-based.
    pub number: usize,
    pub services: Vec<String>,
    /// Whether its services are deployed at once.
    pub parallel: bool,
    /// `canary`: the canary phase(s).
    pub canary: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedService {
    /// `repository/service`.
    pub id: String,
    pub name: String,
    pub repository: String,
    /// Where its `run` steps run.
    pub directory: PathBuf,
    pub version: String,
    pub previous_version: Option<String>,
    pub phase: usize,
    pub steps: Vec<PlannedStep>,
    /// Its own `rollback:` steps, or its steps again (`default_rollback`).
    pub rollback_steps: Vec<PlannedStep>,
    pub default_rollback: bool,
    pub gates: Vec<PlannedGate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub index: usize,
    pub kind: &'static str,
    /// What it does, with variables expanded where known.
    pub description: String,
    pub timeout_ms: u64,
    pub retries: u32,
    #[serde(skip)]
    pub config: StepConfig,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedGate {
    pub index: usize,
    pub kind: &'static str,
    pub description: String,
    pub interval_ms: u64,
    pub success_threshold: u32,
    pub failure_limit: u32,
    pub timeout_ms: u64,
    #[serde(skip)]
    pub check: GateCheck,
}

/// The defaults of a gate.
pub const DEFAULT_GATE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
pub const DEFAULT_GATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A service that has a `deploy:` section.
struct Deployable<'m> {
    id: String,
    name: String,
    repository: String,
    config: &'m DeployConfig,
}

impl Plan {
    /// Builds the plan for `request`, given the versions now live in the
    /// environment (service id → version, from its last successful manifest).
    pub fn build(
        model: &Model,
        request: &ReleaseRequest,
        current: &BTreeMap<String, String>,
    ) -> Result<Plan, PlanError> {
        let environment = model
            .config
            .environments
            .get(&request.environment)
            .ok_or_else(|| PlanError::UnknownEnvironment {
                name: request.environment.clone(),
                known: model.config.environments.keys().cloned().collect(),
            })?;
        let deployables = deployables(model)?;
        let targets = targets(model, request, current, &deployables)?;
        let strategy = request
            .strategy
            .or(environment.strategy)
            .unwrap_or_default();
        let order = order(model, &targets, &deployables)?;
        let phases = phases(model, environment, strategy, &order)?;
        let mut versions = current.clone();
        for (id, version) in &targets {
            versions.insert(id.clone(), version.clone());
        }
        let variables = Variables::environment(environment, &request.environment);
        let mut services = Vec::new();
        for phase in &phases {
            for id in &phase.services {
                let deployable = deployables
                    .iter()
                    .find(|d| &d.id == id)
                    .expect("targets are deployable");
                let version = targets[id].clone();
                let previous_version = current.get(id).cloned();
                services.push(planned_service(
                    model,
                    deployable,
                    version,
                    previous_version,
                    phase.number,
                    &variables,
                    &request.environment,
                ));
            }
        }
        Ok(Plan {
            environment: request.environment.clone(),
            strategy,
            rollback: environment.rollback.unwrap_or_default(),
            analysis_ms: (strategy == Strategy::Canary)
                .then(|| millis(environment.analysis.map_or(DEFAULT_ANALYSIS, |a| a.0))),
            phases,
            services,
            versions,
            variables: variables.into_map(),
            restore: false,
            github: GithubTarget {
                api_url: model.config.github.api_url.clone(),
                token_env: model.config.github.token_env.clone(),
            },
            notify: environment.notify.clone(),
        })
    }

    /// This plan as a return to recorded versions: each service's rollback
    /// steps (or its steps again) take it to `version`, with `WEFT_ROLLBACK=1`.
    pub fn restoring(mut self) -> Plan {
        let mut base = Variables::default();
        for (name, value) in &self.variables {
            base.set(name, value);
        }
        for service in &mut self.services {
            let variables = base.for_service(
                &service.name,
                &service.id,
                &service.version,
                service.previous_version.as_deref(),
                &self.environment,
                true,
            );
            service.steps = service
                .rollback_steps
                .iter()
                .map(|step| PlannedStep {
                    description: describe_step(&step.config.action, &variables),
                    ..step.clone()
                })
                .collect();
        }
        self.restore = true;
        self
    }

    pub fn service(&self, id: &str) -> Option<&PlannedService> {
        self.services.iter().find(|s| s.id == id)
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn deployables(model: &Model) -> Result<Vec<Deployable<'_>>, PlanError> {
    let mut found = Vec::new();
    for (key, service) in &model.config.services {
        let Some(config) = &service.deploy else {
            continue;
        };
        let resolved = model
            .lookup(key)
            .map_err(|error| PlanError::UnknownService {
                name: key.clone(),
                reason: error.to_string(),
            })?;
        found.push(Deployable {
            id: resolved.id.to_string(),
            name: resolved.name.clone(),
            repository: resolved.repository.clone(),
            config,
        });
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// The services to release, by id, with their versions.
fn targets(
    model: &Model,
    request: &ReleaseRequest,
    current: &BTreeMap<String, String>,
    deployables: &[Deployable<'_>],
) -> Result<BTreeMap<String, String>, PlanError> {
    let deployable_id = |name: &str| -> Result<String, PlanError> {
        let service = model
            .lookup(name)
            .map_err(|error| PlanError::UnknownService {
                name: name.to_string(),
                reason: error.to_string(),
            })?;
        let id = service.id.to_string();
        if deployables.iter().any(|d| d.id == id) {
            Ok(id)
        } else {
            Err(PlanError::NotDeployable { service: id })
        }
    };
    let mut targets = BTreeMap::new();
    if let Some(manifest) = &request.from_manifest {
        for (id, version) in manifest {
            if deployables.iter().any(|d| &d.id == id)
                && (request.all || current.get(id) != Some(version))
            {
                targets.insert(id.clone(), version.clone());
            }
        }
    }
    if request.all {
        for deployable in deployables {
            if let Some(version) = current.get(&deployable.id) {
                targets
                    .entry(deployable.id.clone())
                    .or_insert_with(|| version.clone());
            }
        }
    }
    for (name, version) in &request.set {
        if version.trim().is_empty() {
            return Err(PlanError::EmptyVersion {
                service: name.clone(),
            });
        }
        targets.insert(deployable_id(name)?, version.clone());
    }
    if request.all {
        let missing: Vec<String> = deployables
            .iter()
            .filter(|d| !targets.contains_key(&d.id))
            .map(|d| d.id.clone())
            .collect();
        if !missing.is_empty() {
            return Err(PlanError::NoVersion { services: missing });
        }
    }
    if targets.is_empty() {
        return Err(PlanError::NothingToRelease {
            deployable: deployables.iter().map(|d| d.id.clone()).collect(),
        });
    }
    Ok(targets)
}

/// The released services layered by the order they must go in: layer 0
/// waits for nothing released, layer n for something in layer n - 1.
fn order(
    model: &Model,
    targets: &BTreeMap<String, String>,
    deployables: &[Deployable<'_>],
) -> Result<Vec<Vec<String>>, PlanError> {
    let graph = ServiceGraph::new(model);
    // Extra edges from `deploy.depends_on`, by node.
    let mut extra: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for deployable in deployables {
        let Some(from) = node(&graph, &deployable.id) else {
            continue;
        };
        for name in &deployable.config.depends_on {
            let to = model
                .lookup(name)
                .map_err(|error| PlanError::UnknownService {
                    name: name.clone(),
                    reason: format!("{error} (in `deploy.depends_on` of {})", deployable.id),
                })?;
            if let Some(to) = node(&graph, to.id.as_str()) {
                extra.entry(from).or_default().insert(to);
            }
        }
    }
    let target_nodes: BTreeMap<usize, &str> = targets
        .keys()
        .filter_map(|id| Some((node(&graph, id)?, id.as_str())))
        .collect();
    // For each released service, the released services it must follow.
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (&start, &id) in &target_nodes {
        let mut seen = BTreeSet::from([start]);
        let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
        let mut stack = vec![start];
        let entry = needs.entry(id).or_default();
        while let Some(at) = stack.pop() {
            let required = graph
                .outgoing(at)
                .iter()
                .map(|&edge| graph.edge(edge))
                .filter(|edge| edge.edge.kind == EdgeKind::Required)
                .map(|edge| edge.to);
            let declared = extra.get(&at).into_iter().flatten().copied();
            for next in required.chain(declared).collect::<Vec<_>>() {
                if next == start {
                    // Back where it started: a cycle through `start`.
                    let mut back = Vec::new();
                    let mut hop = at;
                    while hop != start {
                        back.push(graph.id(hop).to_string());
                        hop = parent[&hop];
                    }
                    back.reverse();
                    let mut path = vec![graph.id(start).to_string()];
                    path.extend(back);
                    path.push(graph.id(start).to_string());
                    return Err(PlanError::Cycle { path });
                }
                if !seen.insert(next) {
                    continue;
                }
                parent.insert(next, at);
                if let Some(&target) = target_nodes.get(&next) {
                    entry.insert(target);
                }
                stack.push(next);
            }
        }
    }
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = needs;
    let mut layers = Vec::new();
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining
            .iter()
            .filter(|(_, needs)| needs.is_empty())
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            return Err(PlanError::Cycle {
                path: cycle_path(&remaining),
            });
        }
        for id in &ready {
            remaining.remove(id);
        }
        for needs in remaining.values_mut() {
            for id in &ready {
                needs.remove(id);
            }
        }
        layers.push(ready.into_iter().map(str::to_string).collect());
    }
    Ok(layers)
}

fn node(graph: &ServiceGraph<'_>, id: &str) -> Option<usize> {
    graph.node(&weft_model::ServiceId::from(id))
}

/// A cycle among services that all still wait: follow any need until a
/// service repeats.
fn cycle_path(remaining: &BTreeMap<&str, BTreeSet<&str>>) -> Vec<String> {
    let Some(first) = remaining.keys().next() else {
        return Vec::new();
    };
    let mut path: Vec<&str> = vec![first];
    loop {
        let at = path[path.len() - 1];
        let Some(next) = remaining.get(at).and_then(|needs| needs.iter().next()) else {
            return path.into_iter().map(str::to_string).collect();
        };
        if let Some(position) = path.iter().position(|p| p == next) {
            let mut cycle: Vec<String> = path[position..].iter().map(|s| s.to_string()).collect();
            cycle.push((*next).to_string());
            return cycle;
        }
        path.push(next);
    }
}

fn phases(
    model: &Model,
    environment: &EnvironmentConfig,
    strategy: Strategy,
    layers: &[Vec<String>],
) -> Result<Vec<PlanPhase>, PlanError> {
    let max_parallel = environment
        .max_parallel
        .unwrap_or(DEFAULT_MAX_PARALLEL)
        .max(1) as usize;
    let mut phases: Vec<PlanPhase> = Vec::new();
    let mut push = |services: Vec<String>, parallel: bool, canary: bool| {
        let number = phases.len() + 1;
        phases.push(PlanPhase {
            number,
            parallel: parallel && services.len() > 1,
            services,
            canary,
        });
    };
    match strategy {
        Strategy::Sequential => {
            for id in layers.iter().flatten() {
                push(vec![id.clone()], false, false);
            }
        }
        Strategy::Parallel => {
            for layer in layers {
                for chunk in layer.chunks(max_parallel) {
                    push(chunk.to_vec(), true, false);
                }
            }
        }
        Strategy::Canary => {
            let released: BTreeSet<&str> = layers.iter().flatten().map(String::as_str).collect();
            let mut canaries = BTreeSet::new();
            for name in &environment.canary {
                let service = model
                    .lookup(name)
                    .map_err(|error| PlanError::UnknownService {
                        name: name.clone(),
                        reason: format!("{error} (in the environment's `canary`)"),
                    })?;
                if released.contains(service.id.as_str()) {
                    canaries.insert(service.id.to_string());
                }
            }
            if canaries.is_empty() {
                return Err(PlanError::NoCanary {
                    canary: environment.canary.clone(),
                });
            }
            // What a canary requires goes with it: every earlier layer
            // member it needs. Layers are in order, so anything a canary
            // needs sits in an earlier layer; take, per layer, the released
            // services some canary (or its requirement) needs.
            let closure = canary_closure(model, layers, &canaries);
            for layer in layers {
                let first: Vec<String> = layer
                    .iter()
                    .filter(|id| closure.contains(*id))
                    .cloned()
                    .collect();
                for chunk in first.chunks(max_parallel) {
                    push(chunk.to_vec(), true, true);
                }
            }
            for layer in layers {
                let rest: Vec<String> = layer
                    .iter()
                    .filter(|id| !closure.contains(*id))
                    .cloned()
                    .collect();
                for chunk in rest.chunks(max_parallel) {
                    push(chunk.to_vec(), true, false);
                }
            }
        }
    }
    Ok(phases)
}

/// The canaries and every released service they require, directly or not.
fn canary_closure(
    model: &Model,
    layers: &[Vec<String>],
    canaries: &BTreeSet<String>,
) -> BTreeSet<String> {
    let graph = ServiceGraph::new(model);
    let released: BTreeSet<&str> = layers.iter().flatten().map(String::as_str).collect();
    let mut closure: BTreeSet<String> = canaries.clone();
    let starts: Vec<usize> = canaries.iter().filter_map(|id| node(&graph, id)).collect();
    let mut seen: BTreeSet<usize> = starts.iter().copied().collect();
    let mut stack = starts;
    let deploy_needs: BTreeMap<String, Vec<String>> = model
        .config
        .services
        .iter()
        .filter_map(|(key, service)| {
            let id = model.lookup(key).ok()?.id.to_string();
            Some((id, service.deploy.as_ref()?.depends_on.clone()))
        })
        .collect();
    while let Some(at) = stack.pop() {
        let mut next: Vec<usize> = graph
            .outgoing(at)
            .iter()
            .map(|&edge| graph.edge(edge))
            .filter(|edge| edge.edge.kind == EdgeKind::Required)
            .map(|edge| edge.to)
            .collect();
        for name in deploy_needs
            .get(graph.id(at).as_str())
            .into_iter()
            .flatten()
        {
            if let Some(to) = model
                .lookup(name)
                .ok()
                .and_then(|s| node(&graph, s.id.as_str()))
            {
                next.push(to);
            }
        }
        for to in next {
            if seen.insert(to) {
                let id = graph.id(to).to_string();
                if released.contains(id.as_str()) {
                    closure.insert(id);
                }
                stack.push(to);
            }
        }
    }
    closure
}

fn planned_service(
    model: &Model,
    deployable: &Deployable<'_>,
    version: String,
    previous_version: Option<String>,
    phase: usize,
    variables: &Variables,
    environment: &str,
) -> PlannedService {
    let config = deployable.config;
    let directory = model
        .repositories
        .iter()
        .find(|r| r.name == deployable.repository)
        .map_or_else(|| model.root.clone(), |r| model.root.join(&r.path));
    let step_variables = variables.for_service(
        &deployable.name,
        &deployable.id,
        &version,
        previous_version.as_deref(),
        environment,
        false,
    );
    let plan_steps = |steps: &[StepConfig], vars: &Variables| -> Vec<PlannedStep> {
        steps
            .iter()
            .enumerate()
            .map(|(index, step)| PlannedStep {
                index,
                kind: step.action.kind(),
                description: describe_step(&step.action, vars),
                timeout_ms: millis(
                    step.timeout
                        .or(config.timeout)
                        .map_or(DEFAULT_STEP_TIMEOUT, |t| t.0),
                ),
                retries: step.retries.or(config.retries).unwrap_or(0),
                config: step.clone(),
            })
            .collect()
    };
    let steps = plan_steps(&config.steps, &step_variables);
    let rollback_variables = variables.for_service(
        &deployable.name,
        &deployable.id,
        previous_version.as_deref().unwrap_or(""),
        Some(&version),
        environment,
        true,
    );
    let (rollback_steps, default_rollback) = match &config.rollback {
        Some(steps) => (plan_steps(steps, &rollback_variables), false),
        None => (plan_steps(&config.steps, &rollback_variables), true),
    };
    let gates = config
        .gates
        .iter()
        .enumerate()
        .map(|(index, gate)| PlannedGate {
            index,
            kind: gate.check.kind(),
            description: crate::gate::describe(&gate.check, &step_variables),
            interval_ms: millis(gate.interval.map_or(DEFAULT_GATE_INTERVAL, |i| i.0)),
            success_threshold: gate.success_threshold.unwrap_or(1),
            failure_limit: gate.failure_limit.unwrap_or(0),
            timeout_ms: millis(gate.timeout.map_or(DEFAULT_GATE_TIMEOUT, |t| t.0)),
            check: gate.check.clone(),
        })
        .collect();
    PlannedService {
        id: deployable.id.clone(),
        name: deployable.name.clone(),
        repository: deployable.repository.clone(),
        directory,
        version,
        previous_version,
        phase,
        steps,
        rollback_steps,
        default_rollback,
        gates,
    }
}

fn describe_step(action: &StepAction, variables: &Variables) -> String {
    match action {
        StepAction::Run(command) => format!("run `{}`", variables.expand(command)),
        StepAction::Workflow(workflow) => match (&workflow.file, &workflow.event_type) {
            (Some(file), _) => format!(
                "workflow {} {file}@{}",
                workflow.repository,
                workflow.git_ref.as_deref().unwrap_or("default branch")
            ),
            (None, Some(event)) => {
                format!("repository_dispatch `{event}` to {}", workflow.repository)
            }
            (None, None) => format!("workflow {}", workflow.repository),
        },
        StepAction::Webhook(webhook) => format!(
            "POST {}",
            crate::expand::redact_url(&variables.expand(&webhook.url))
        ),
    }
}
