//! How `weft deploy` shows a release to people: the plan, progress as it
//! happens, the outcome, and the plan as a Mermaid flowchart.

use std::collections::BTreeMap;

use weft_deploy::{Outcome as ReleaseOutcome, Plan, Progress};
use weft_store::{DeploymentStatus, ServiceState, StepStatus, Verdict};

use crate::cli::Format;
use crate::console::{self, Style};

pub(super) struct Printer {
    pub(super) verbose: bool,
    pub(super) format: Format,
    /// The last lines of each service's current step, shown when it fails.
    pub(super) tails: BTreeMap<String, Vec<String>>,
}

impl Printer {
    pub(super) fn print(&mut self, event: &Progress) {
        if self.format == Format::Json {
            return;
        }
        match event {
            Progress::Started { deployment } => console::out_or_ignore(&format!(
                "deployment {}\n",
                console::paint(Style::Bold, deployment)
            )),
            Progress::Phase {
                number,
                total,
                services,
                canary,
            } => console::out_or_ignore(&format!(
                "phase {number}/{total}{}: {}\n",
                if *canary { " (canary)" } else { "" },
                services.join(", ")
            )),
            Progress::Service {
                service,
                state,
                detail,
            } => {
                let text = match state {
                    ServiceState::Deployed => console::paint(Style::Green, "deployed"),
                    ServiceState::RolledBack => console::paint(Style::Green, "rolled back"),
                    ServiceState::Failed | ServiceState::RollbackFailed => {
                        console::paint(Style::Red, state.as_str())
                    }
                    other => other.as_str().replace('_', " "),
                };
                let detail = detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                console::out_or_ignore(&format!("  {service}  {text}{detail}\n"));
            }
            Progress::Step {
                service,
                description,
                status,
                attempts,
                message,
                ..
            } => match status {
                StepStatus::Running => {
                    self.tails.insert(service.clone(), Vec::new());
                    console::out_or_ignore(&format!("  {service}  {description}\n"));
                }
                StepStatus::Succeeded => {}
                _ => {
                    console::out_or_ignore(&format!(
                        "  {service}  {} {description} after {attempts} attempt(s): {}\n",
                        console::paint(Style::Red, "✗"),
                        message.as_deref().unwrap_or_default()
                    ));
                    if !self.verbose {
                        for line in self.tails.get(service).into_iter().flatten() {
                            console::out_or_ignore(&format!("    │ {line}\n"));
                        }
                    }
                }
            },
            Progress::Output { service, line } => {
                let tail = self.tails.entry(service.clone()).or_default();
                tail.push(line.clone());
                if tail.len() > 10 {
                    tail.remove(0);
                }
                if self.verbose {
                    console::out_or_ignore(&format!("    │ {line}\n"));
                }
            }
            Progress::Retry {
                service,
                attempt,
                delay_ms,
            } => console::out_or_ignore(&format!(
                "  {service}  retrying (attempt {attempt}) in {delay_ms} ms\n"
            )),
            Progress::Gate {
                service,
                gate,
                verdict,
                message,
                ..
            } => {
                let mark = match verdict {
                    Verdict::Pass => console::paint(Style::Green, "pass"),
                    Verdict::Fail => console::paint(Style::Red, "fail"),
                    Verdict::Inconclusive => console::paint(Style::Yellow, "inconclusive"),
                };
                console::out_or_ignore(&format!("  {service}  gate {gate}: {mark} {message}\n"));
            }
            // The failing observation was printed, and the release's
            // failure names the gate.
            Progress::GateFailed { .. } => {}
            Progress::Analysis {
                services,
                duration_ms,
            } => console::out_or_ignore(&format!(
                "canary analysis: {} must keep passing for {} ms\n",
                services.join(", "),
                duration_ms
            )),
            Progress::RollingBack { reason, services } => {
                console::out_or_ignore(&format!(
                    "{} {reason}\n",
                    console::paint(Style::Red, "release failed:")
                ));
                if services.is_empty() {
                    console::out_or_ignore(
                        "rolling back: no changed service has an earlier version\n",
                    );
                } else {
                    console::out_or_ignore(&format!(
                        "rolling back, in reverse order: {}\n",
                        services.join(", ")
                    ));
                }
            }
            Progress::Finished { .. } => {}
        }
    }
}

pub(super) fn render_outcome(outcome: &ReleaseOutcome) -> String {
    let id = &outcome.deployment;
    let mut text = String::new();
    match outcome.status {
        DeploymentStatus::Succeeded => text.push_str(&format!(
            "{} {id}\n",
            console::paint(Style::Green, "released")
        )),
        DeploymentStatus::RolledBack => {
            let restored: Vec<&str> = outcome
                .services
                .iter()
                .filter(|(_, state)| **state == ServiceState::RolledBack)
                .map(|(service, _)| service.as_str())
                .collect();
            text.push_str(&format!(
                "{} {id}: {}\n",
                console::paint(Style::Red, "release failed and was rolled back"),
                outcome.failure.as_deref().unwrap_or_default()
            ));
            if !restored.is_empty() {
                text.push_str(&format!(
                    "back at their previous versions: {}\n",
                    restored.join(", ")
                ));
            }
        }
        DeploymentStatus::RollbackFailed => {
            text.push_str(&format!(
                "{} {id}: {}\n",
                console::paint(Style::Red, "rollback failed"),
                outcome.failure.as_deref().unwrap_or_default()
            ));
            for (service, state) in &outcome.services {
                text.push_str(&format!(
                    "  {service}: {}\n",
                    state.as_str().replace('_', " ")
                ));
            }
        }
        _ => {
            text.push_str(&format!(
                "{} {id}: {}\n",
                console::paint(Style::Red, "release failed"),
                outcome.failure.as_deref().unwrap_or_default()
            ));
            text.push_str(&format!(
                "nothing was rolled back; to roll back: weft deploy rollback {}\n",
                environment_of(outcome)
            ));
        }
    }
    if !outcome.left_as_is.is_empty() {
        text.push_str(&format!(
            "left as they are (no earlier version recorded): {}\n",
            outcome.left_as_is.join(", ")
        ));
    }
    text
}

fn environment_of(outcome: &ReleaseOutcome) -> String {
    outcome.environment.clone()
}

pub(super) fn render_plan(plan: &Plan, expanded: bool) -> String {
    let mut text = format!(
        "release of {} ({}, rollback {}): {} in {}\n",
        plan.environment,
        plan.strategy.as_str(),
        match plan.rollback {
            weft_model::config::RollbackMode::Auto => "auto",
            weft_model::config::RollbackMode::Manual => "manual",
        },
        console::count(plan.services.len(), "service"),
        console::count(plan.phases.len(), "phase"),
    );
    for phase in &plan.phases {
        text.push_str(&format!(
            "phase {}{}{}\n",
            phase.number,
            if phase.parallel { " (at once)" } else { "" },
            if phase.canary { " (canary)" } else { "" }
        ));
        for id in &phase.services {
            let Some(service) = plan.service(id) else {
                continue;
            };
            let previous = service
                .previous_version
                .as_deref()
                .unwrap_or("nothing recorded");
            text.push_str(&format!("  {id}  {previous} → {}\n", service.version));
            if expanded {
                for step in &service.steps {
                    text.push_str(&format!(
                        "    step {}: {} (timeout {} ms, {} retries)\n",
                        step.index + 1,
                        step.description,
                        step.timeout_ms,
                        step.retries
                    ));
                }
                for gate in &service.gates {
                    text.push_str(&format!(
                        "    gate {}: {} (every {} ms, {} passes, {} failures allowed, timeout {} ms)\n",
                        gate.index + 1,
                        gate.description,
                        gate.interval_ms,
                        gate.success_threshold,
                        gate.failure_limit,
                        gate.timeout_ms
                    ));
                }
                let how = if service.default_rollback {
                    "its steps again"
                } else {
                    "its rollback steps"
                };
                text.push_str(&format!("    rollback: {how}, to {previous}\n"));
            }
        }
    }
    if let Some(analysis) = plan.analysis_ms {
        text.push_str(&format!("canary analysis: {analysis} ms\n"));
    }
    text
}

pub(super) fn mermaid(plan: &Plan) -> String {
    let mut text = String::from("flowchart LR\n");
    for phase in &plan.phases {
        text.push_str(&format!(
            "  subgraph phase{}[\"phase {}\"]\n",
            phase.number, phase.number
        ));
        for id in &phase.services {
            let version = plan
                .service(id)
                .map(|s| s.version.as_str())
                .unwrap_or_default();
            text.push_str(&format!("    {}[\"{id} {version}\"]\n", mermaid_id(id)));
        }
        text.push_str("  end\n");
    }
    for pair in plan.phases.windows(2) {
        text.push_str(&format!(
            "  phase{} --> phase{}\n",
            pair[0].number, pair[1].number
        ));
    }
    text
}

fn mermaid_id(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
