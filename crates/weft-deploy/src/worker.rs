//! One service's part of a release: its steps, then its gates, with every
//! fact recorded as it happens; cloned into a task per service.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use weft_store::{ServiceState, Stage, StepStatus};

use crate::cancel::{first_failure, merge};
use crate::engine::{Progress, starting_state};
use crate::error::DeployError;
use crate::expand::Variables;
use crate::gate::{self, GateOutcome};
use crate::plan::{Plan, PlannedService, PlannedStep};
use crate::recorder::{GateRecorder, Recorder, StepRecorder};
use crate::step::{self, StepOutcome};

/// One service's work, cloneable into a task.
#[derive(Clone)]
pub(crate) struct Worker {
    pub(crate) id: String,
    pub(crate) artifacts: Option<crate::artifacts::Artifacts>,
    pub(crate) github: Option<weft_github::GitHub>,
    pub(crate) plan: Arc<Plan>,
    pub(crate) recorder: Recorder,
    pub(crate) progress: mpsc::UnboundedSender<Progress>,
    pub(crate) states: Arc<Mutex<BTreeMap<String, ServiceState>>>,
}

impl Worker {
    pub(crate) fn variables(&self, service: &PlannedService, stage: Stage) -> Variables {
        let mut base = Variables::default();
        for (name, value) in &self.plan.variables {
            base.set(name, value);
        }
        let rollback = stage == Stage::Rollback || self.plan.restore;
        let (version, previous) = if stage == Stage::Rollback {
            (
                service.previous_version.clone().unwrap_or_default(),
                Some(service.version.clone()),
            )
        } else {
            (service.version.clone(), service.previous_version.clone())
        };
        let mut variables = base.for_service(
            &service.name,
            &service.id,
            &version,
            previous.as_deref(),
            &self.plan.environment,
            rollback,
        );
        variables.set("WEFT_DEPLOYMENT_ID", &self.id);
        if let Some(artifacts) = &self.artifacts {
            variables.set(
                "WEFT_ARTIFACTS_DIR",
                &artifacts.directory(&self.id).display().to_string(),
            );
        }
        variables
    }

    pub(crate) fn gate_sink(&self, service: &str, stage: Stage) -> GateRecorder {
        GateRecorder {
            recorder: self.recorder.clone(),
            service: service.to_string(),
            stage,
        }
    }

    async fn state(
        &self,
        service: &str,
        state: ServiceState,
        detail: Option<String>,
    ) -> Result<(), DeployError> {
        if let Ok(mut states) = self.states.lock() {
            states.insert(service.to_string(), state);
        }
        self.recorder
            .service_state(&self.id, service, state, detail)
            .await
    }

    /// Marks the service started, then [`Worker::started`].
    pub(crate) async fn service(
        &self,
        service: &PlannedService,
        stage: Stage,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Option<String>, DeployError> {
        self.state(&service.id, starting_state(stage), None).await?;
        self.started(service, stage, cancel).await
    }

    /// Steps, then gates, of a service recorded as started; the failure, if
    /// any.
    pub(crate) async fn started(
        &self,
        service: &PlannedService,
        stage: Stage,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Option<String>, DeployError> {
        let (done, failed) = match stage {
            Stage::Deploy => (ServiceState::Deployed, ServiceState::Failed),
            Stage::Rollback => (ServiceState::RolledBack, ServiceState::RollbackFailed),
        };
        if let Some(artifacts) = &self.artifacts {
            // What was attached from elsewhere, for the steps to read.
            if let Err(error) = artifacts.fetch(self.recorder.store(), &self.id).await {
                tracing::warn!(%error, "cannot fetch the release's artifacts");
            }
        }
        let variables = self.variables(service, stage);
        let steps = match stage {
            Stage::Deploy => &service.steps,
            Stage::Rollback => &service.rollback_steps,
        };
        for step in steps {
            if let Some(failure) = self.step(service, stage, step, &variables, cancel).await? {
                self.state(&service.id, failed, Some(failure.clone()))
                    .await?;
                return Ok(Some(failure));
            }
        }
        if let Some(artifacts) = &self.artifacts {
            // What the steps left for the services after it.
            if let Err(error) = artifacts.collect(self.recorder.store(), &self.id).await {
                tracing::warn!(%error, "cannot record the release's artifacts");
            }
        }
        if stage == Stage::Deploy {
            self.state(&service.id, ServiceState::Verifying, None)
                .await?;
        }
        if let Some(failure) = self.gates(service, stage, &variables, cancel).await? {
            self.state(&service.id, failed, Some(failure.clone()))
                .await?;
            return Ok(Some(failure));
        }
        self.state(&service.id, done, None).await?;
        Ok(None)
    }

    async fn step(
        &self,
        service: &PlannedService,
        stage: Stage,
        step: &PlannedStep,
        variables: &Variables,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Option<String>, DeployError> {
        let step_id = self.recorder.start_step(&self.id, &service.id, stage, step);
        let _ = self.progress.send(Progress::Step {
            service: service.id.clone(),
            stage,
            description: step.description.clone(),
            status: StepStatus::Running,
            attempts: 0,
            message: None,
        });
        let sink = StepRecorder {
            recorder: self.recorder.clone(),
            step: step_id,
            service: service.id.clone(),
        };
        let correlation_id = format!("{}-{}-{}", self.id, service.name, step.index + 1);
        let context = step::StepContext {
            variables,
            directory: &service.directory,
            github: self.github.as_ref(),
            correlation_id: &correlation_id,
        };
        let outcome = step::run(step, context, &sink, cancel).await;
        let (status, attempts, exit_code, message) = match &outcome {
            StepOutcome::Succeeded { attempts } => (StepStatus::Succeeded, *attempts, None, None),
            StepOutcome::Failed {
                attempts,
                exit_code,
                message,
            } => (
                StepStatus::Failed,
                *attempts,
                *exit_code,
                Some(message.clone()),
            ),
            StepOutcome::TimedOut { attempts, message } => {
                (StepStatus::TimedOut, *attempts, None, Some(message.clone()))
            }
            StepOutcome::Cancelled { attempts } => (
                StepStatus::Cancelled,
                *attempts,
                None,
                Some("cancelled".to_string()),
            ),
        };
        self.recorder
            .finish_step(step_id, status, exit_code, attempts, message.clone())
            .await?;
        let _ = self.progress.send(Progress::Step {
            service: service.id.clone(),
            stage,
            description: step.description.clone(),
            status,
            attempts,
            message: message.clone(),
        });
        Ok(match outcome {
            StepOutcome::Succeeded { .. } => None,
            StepOutcome::Cancelled { .. } => Some(format!("{}: interrupted", service.id)),
            _ => Some(format!(
                "{}: step {} ({}) failed: {}",
                service.id,
                step.index + 1,
                step.description,
                message.unwrap_or_default()
            )),
        })
    }

    async fn gates(
        &self,
        service: &PlannedService,
        stage: Stage,
        variables: &Variables,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Option<String>, DeployError> {
        if service.gates.is_empty() {
            return Ok(None);
        }
        let (stop, stopped) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for mut gate in service.gates.clone() {
            // Described with this stage's variables (a rollback's version).
            gate.description = gate::describe(&gate.check, variables);
            let sink = self.gate_sink(&service.id, stage);
            let variables = variables.clone();
            let directory: PathBuf = service.directory.clone();
            let mut cancel = merge(cancel.clone(), stopped.clone());
            tasks.spawn(async move {
                gate::evaluate(&gate, &variables, &directory, &sink, &mut cancel).await
            });
        }
        Ok(first_failure(tasks, &stop, |outcome| match outcome {
            GateOutcome::Passed => None,
            GateOutcome::Failed(message) => {
                let _ = self.progress.send(Progress::GateFailed {
                    service: service.id.clone(),
                    stage,
                    message: message.clone(),
                });
                Some(format!("{}: gate {message}", service.id))
            }
            GateOutcome::Cancelled => Some(format!("{}: interrupted", service.id)),
        })
        .await)
    }
}
