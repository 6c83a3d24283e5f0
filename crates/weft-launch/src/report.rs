//! Explanations: why a service waits or failed, the path that blocks a
//! start-up, and the critical chain that gated it.

use serde::{Deserialize, Serialize};

use crate::service::condition_word;
use crate::settings::LaunchSettings;
use crate::state::{ServiceStatus, State};

/// `weft why SERVICE`: what it waits on, its last probe, its last output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Why {
    pub service: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its dependencies and whether each is met.
    pub dependencies: Vec<DependencyView>,
    /// From the service through what blocks it to the cause.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub blocked_path: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_probe: Option<crate::state::ProbeResult>,
    pub last_output: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyView {
    pub service: String,
    pub kind: String,
    pub condition: String,
    pub state: State,
    pub met: bool,
    pub provenance: String,
}

/// One link of the critical chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub service: String,
    /// When it became ready, in ms after the supervisor started.
    pub ready_after_ms: u64,
    /// How long it took from its own start to ready.
    pub own_ms: u64,
}

fn is_met(condition: weft_model::config::Condition, state: State) -> bool {
    use weft_model::config::Condition;
    match condition {
        Condition::Started => matches!(
            state,
            State::Starting | State::Ready | State::NotReady | State::Completed
        ),
        Condition::Ready => matches!(state, State::Ready | State::Completed),
        Condition::CompletedSuccessfully => state == State::Completed,
    }
}

/// Explains one service.
pub fn why(
    settings: &LaunchSettings,
    statuses: &[ServiceStatus],
    index: usize,
    last_output: Vec<String>,
) -> Why {
    let status = &statuses[index];
    let dependencies = settings.services[index]
        .dependencies
        .iter()
        .map(|d| {
            let other = &statuses[d.service];
            DependencyView {
                service: other.name.clone(),
                kind: d.kind.to_string(),
                condition: condition_word(d.condition).to_string(),
                state: other.state,
                met: is_met(d.condition, other.state),
                provenance: d.provenance.clone(),
            }
        })
        .collect();
    Why {
        service: status.name.clone(),
        state: status.state,
        reason: status.reason.clone(),
        dependencies,
        blocked_path: blocked_path(settings, statuses, index),
        last_probe: status.last_probe.clone(),
        last_output,
    }
}

/// From a service that is not ready, down the dependencies that hold it back,
/// to the first that is not held back by another: `web → api → db: exited with code 1`.
pub fn blocked_path(
    settings: &LaunchSettings,
    statuses: &[ServiceStatus],
    index: usize,
) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = index;
    let mut seen = vec![false; statuses.len()];
    loop {
        let status = &statuses[current];
        if matches!(status.state, State::Ready | State::Completed) || seen[current] {
            return path;
        }
        seen[current] = true;
        let blocker = settings.services[current]
            .dependencies
            .iter()
            .filter(|d| d.gates() && !is_met(d.condition, statuses[d.service].state))
            // The failed one first: it is the cause.
            .min_by_key(|d| !statuses[d.service].state.is_settled());
        let describe = |status: &ServiceStatus| {
            let mut text = format!("{} is {}", status.name, status.state);
            if let Some(reason) = &status.reason {
                text.push_str(": ");
                text.push_str(reason);
            } else if let Some(exit) = &status.last_exit {
                text.push_str(&format!(": {exit}"));
            }
            if let Some(probe) = &status.last_probe
                && !probe.ok
            {
                text.push_str(&format!(
                    " (last {} probe, {}: {})",
                    probe.probe, probe.check, probe.message
                ));
            }
            text
        };
        match blocker {
            Some(dependency) if status.state == State::Pending || status.state == State::Failed => {
                path.push(format!(
                    "{} needs {} ({}, until {})",
                    status.name,
                    statuses[dependency.service].name,
                    dependency.kind,
                    condition_word(dependency.condition)
                ));
                current = dependency.service;
            }
            _ => {
                path.push(describe(status));
                return path;
            }
        }
    }
}

/// The chain of services that gated start-up: from the last to become ready,
/// back through the dependency each waited on last.
pub fn critical_chain(statuses: &[ServiceStatus], started_at_ms: u64) -> Vec<ChainLink> {
    // Ready since, or for a one-shot, when it completed.
    let ready_at = |s: &ServiceStatus| match s.state {
        State::Ready => s.ready_since_ms,
        State::Completed => s.last_exit.as_ref().map(|e| e.at_ms),
        _ => None,
    };
    let Some(mut current) = statuses
        .iter()
        .enumerate()
        .filter_map(|(i, s)| ready_at(s).map(|at| (i, at)))
        .max_by_key(|&(_, at)| at)
        .map(|(i, _)| i)
    else {
        return Vec::new();
    };
    let mut chain = Vec::new();
    for _ in 0..statuses.len() {
        let status = &statuses[current];
        let ready = ready_at(status).unwrap_or(started_at_ms);
        chain.push(ChainLink {
            service: status.name.clone(),
            ready_after_ms: ready.saturating_sub(started_at_ms),
            own_ms: ready.saturating_sub(status.started_at_ms.unwrap_or(started_at_ms)),
        });
        let Some((gate, _)) = &status.gated_by else {
            break;
        };
        let Some(next) = statuses.iter().position(|s| &s.name == gate) else {
            break;
        };
        current = next;
    }
    chain.reverse();
    chain
}
