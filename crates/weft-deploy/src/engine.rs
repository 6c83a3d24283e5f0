//! Running a release: the environment's lease, phases, steps, gates, canary
//! analysis and rollback, every fact written to the store as it happens.
//!
//! How it works: the release holds an exclusive lease on `environment:ENV`
//! for its whole run (renewed with a heartbeat, so a killed run's lease
//! expires and its deployment reads as interrupted). Phases run in order;
//! the services of a parallel phase run at once and the first failure
//! cancels the rest. A service runs its steps, then observes all its gates
//! at once. On a failure (a step, a gate, the canary analysis, a signal)
//! with `rollback: auto`, every service the release touched is rolled back
//! in reverse plan order to its version in the environment's last successful
//! manifest; a service that had none is left as it is and listed. A failure
//! during rollback stops it and marks the release `rollback_failed`; a
//! rollback never starts another rollback. A service's steps and gates
//! are run by a worker (worker.rs); store writes go through the recorder
//! (recorder.rs).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use weft_model::config::RollbackMode;
use weft_store::{
    AcquireError, AcquireRequest, Coordinator, DeploymentKind, DeploymentStatus, Holder, Mode,
    NewDeployment, NewDeploymentService, ServiceState, Stage, StepStatus, Verdict,
};

use crate::cancel::{Signals, first_failure, merge};
use crate::error::DeployError;
use crate::gate::{self, GateOutcome};
use crate::plan::{Plan, PlannedService};
use crate::recorder::{Publisher, Recorder};
use crate::worker::Worker;

/// How long the environment's lease lives without a renewal.
const LEASE_TTL: Duration = Duration::from_secs(60);
/// How often the lease is renewed and the deployment's heartbeat written.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// What runs a release.
#[derive(Debug, Clone)]
pub struct Release {
    pub plan: Plan,
    pub kind: DeploymentKind,
    /// For a rollback to a manifest: that deployment.
    pub rollback_of: Option<String>,
    /// Who asked (user, CI run), recorded in the manifest.
    pub who: serde_json::Value,
    pub holder: Holder,
    /// How long to wait for the environment's lease (0: fail at once).
    pub wait: Duration,
    /// The GitHub client for `workflow` steps; `None` makes one from the
    /// plan's `github:` settings when a step needs it.
    pub github: Option<weft_github::GitHub>,
    /// Where the release's artifacts live (`WEFT_ARTIFACTS_DIR` is this
    /// release's directory in it); `None`: no artifacts directory.
    pub artifacts: Option<crate::artifacts::Artifacts>,
    /// Tells the `notify:` channels how the release goes; `None`: nobody.
    pub notifier: Option<Arc<weft_notify::Notifier>>,
}

/// Progress, for a terminal or a test; the store has the same facts.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    Started {
        deployment: String,
    },
    Phase {
        number: usize,
        total: usize,
        services: Vec<String>,
        canary: bool,
    },
    Service {
        service: String,
        state: ServiceState,
        detail: Option<String>,
    },
    Step {
        service: String,
        stage: Stage,
        description: String,
        status: StepStatus,
        attempts: u32,
        message: Option<String>,
    },
    Output {
        service: String,
        line: String,
    },
    Retry {
        service: String,
        attempt: u32,
        delay_ms: u64,
    },
    Gate {
        service: String,
        stage: Stage,
        gate: String,
        verdict: Verdict,
        message: String,
    },
    /// A gate (or a canary's gate during analysis) decided: it failed.
    GateFailed {
        service: String,
        stage: Stage,
        message: String,
    },
    Analysis {
        services: Vec<String>,
        duration_ms: u64,
    },
    RollingBack {
        reason: String,
        services: Vec<String>,
    },
    Finished {
        status: DeploymentStatus,
        /// What failed, for every status but `succeeded`.
        #[serde(skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
    },
}

/// How a release ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub deployment: String,
    pub environment: String,
    pub status: DeploymentStatus,
    /// What failed, for every status but `succeeded`.
    pub failure: Option<String>,
    /// Each touched service's state at the end.
    pub services: BTreeMap<String, ServiceState>,
    /// Services a rollback left as they are: they had no earlier version.
    pub left_as_is: Vec<String>,
}

/// Runs `release` to its end. Errors are for releases that could not start
/// or lost their store; a release that failed is an [`Outcome`].
pub async fn run(
    coordinator: &Coordinator,
    release: Release,
    progress: mpsc::UnboundedSender<Progress>,
    signals: Signals,
) -> Result<Outcome, DeployError> {
    let environment = release.plan.environment.clone();
    crate::recover::recover_interrupted(coordinator, &environment).await?;
    // The lease names this process, so that a run that finds it after this
    // one died knows whose it was.
    let mut holder = release.holder.clone();
    holder.host = Some(crate::recover::host_name());
    holder
        .labels
        .insert("pid".to_string(), std::process::id().to_string());
    let lease = coordinator
        .acquire(&AcquireRequest {
            resource: crate::recover::environment_resource(&environment)?,
            mode: Mode::Exclusive,
            weight: 1,
            priority: None,
            class: None,
            ttl_ms: Some(millis(LEASE_TTL)),
            wait_ms: Some(millis(release.wait)),
            holder,
            capacity: None,
            request: None,
        })
        .await
        .map_err(|error| match error {
            AcquireError::Conflict { .. } | AcquireError::Timeout { .. } => DeployError::Busy {
                environment: environment.clone(),
                source: Box::new(error),
            },
            other => DeployError::Lease {
                environment: environment.clone(),
                source: Box::new(other),
            },
        })?;
    let store = coordinator.store().clone();
    let publisher = match Publisher::new(coordinator).await {
        Ok(publisher) => publisher,
        Err(error) => {
            let _ = coordinator.release(&lease.id).await;
            return Err(error);
        }
    };
    let created = store
        .create_deployment(&NewDeployment {
            environment: environment.clone(),
            kind: release.kind,
            strategy: release.plan.strategy.as_str().to_string(),
            plan: serde_json::to_value(&release.plan).unwrap_or_default(),
            services: release
                .plan
                .services
                .iter()
                .map(|s| NewDeploymentService {
                    service: s.id.clone(),
                    version: s.version.clone(),
                    previous_version: s.previous_version.clone(),
                    phase: u32::try_from(s.phase).unwrap_or(u32::MAX),
                })
                .collect(),
            versions: release.plan.versions.clone(),
            who: release.who.clone(),
            rollback_of: release.rollback_of.clone(),
            host: crate::recover::host_name(),
            pid: std::process::id(),
        })
        .await;
    let created = match created {
        Ok(created) => created,
        Err(error) => {
            let _ = coordinator.release(&lease.id).await;
            return Err(error.into());
        }
    };
    let id = created.id.clone();
    let plan = Arc::new(release.plan);
    let (progress, notifying) = match &release.notifier {
        Some(notifier) => {
            let (sender, task) = crate::notify::watch(
                notifier.clone(),
                store.clone(),
                plan.clone(),
                release.kind,
                progress,
            );
            (sender, Some(task))
        }
        None => (progress, None),
    };
    let _ = progress.send(Progress::Started {
        deployment: id.clone(),
    });
    let (recorder, recorder_task) = Recorder::start(publisher, progress.clone(), &id);
    // Set when the lease is gone (force-released, or expired while the
    // store could not be reached): the release stops at once and does not
    // roll back, as another release may hold the environment now.
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = {
        let coordinator = coordinator.clone();
        let lease = lease.id.clone();
        let id = id.clone();
        let lost = lost.clone();
        tokio::spawn(async move {
            let mut renewed = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                match coordinator.renew(&lease, Some(millis(LEASE_TTL))).await {
                    Ok(_) => renewed = tokio::time::Instant::now(),
                    Err(error) if error.is_input() => {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(_) if renewed.elapsed() >= LEASE_TTL => {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(_) => {}
                }
                let _ = coordinator.store().heartbeat_deployment(&id).await;
            }
        })
    };
    let github = release.github.clone().or_else(|| {
        plan.uses_github().then(|| {
            weft_github::GitHub::new(weft_github::GitHubSettings::from_env(
                plan.github.api_url.as_deref(),
                plan.github.token_env.as_deref(),
            ))
        })
    });
    if let Some(artifacts) = &release.artifacts {
        let _ = fs_err::create_dir_all(artifacts.directory(&id));
    }
    let runner = Runner {
        id: id.clone(),
        lease: Lease {
            coordinator: coordinator.clone(),
            id: lease.id.clone(),
            lost: lost.clone(),
        },
        artifacts: release.artifacts.clone(),
        github,
        plan,
        kind: release.kind,
        recorder,
        progress,
        states: Arc::new(Mutex::new(BTreeMap::new())),
    };
    let outcome = runner.execute(&signals).await;
    heartbeat.abort();
    runner.recorder.flush().await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            let _ = store
                .set_deployment_status(&id, DeploymentStatus::Failed, Some(&error.to_string()))
                .await;
            recorder_task.abort();
            let _ = coordinator.release(&lease.id).await;
            return Err(error);
        }
    };
    store
        .set_deployment_status(&id, outcome.status, outcome.failure.as_deref())
        .await?;
    let _ = runner.progress.send(Progress::Finished {
        status: outcome.status,
        failure: outcome.failure.clone(),
    });
    runner.recorder.flush().await;
    recorder_task.abort();
    let _ = coordinator.release(&lease.id).await;
    // The last notifications go out before the command returns.
    drop(runner);
    if let Some(notifying) = notifying {
        let _ = notifying.await;
    }
    Ok(outcome)
}

/// What a service is while its steps run.
pub(crate) fn starting_state(stage: Stage) -> ServiceState {
    match stage {
        Stage::Deploy => ServiceState::Deploying,
        Stage::Rollback => ServiceState::RollingBack,
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

struct Runner {
    id: String,
    /// The environment's lease; renewed by the heartbeat and checked before
    /// each phase.
    lease: Lease,
    artifacts: Option<crate::artifacts::Artifacts>,
    github: Option<weft_github::GitHub>,
    plan: Arc<Plan>,
    kind: DeploymentKind,
    recorder: Recorder,
    progress: mpsc::UnboundedSender<Progress>,
    /// Each service the release touched, and where it stands.
    states: Arc<Mutex<BTreeMap<String, ServiceState>>>,
}

impl Runner {
    async fn execute(&self, signals: &Signals) -> Result<Outcome, DeployError> {
        let cancel = signals.after(1);
        let failure = self.release(&cancel).await?;
        let Some(failure) = failure else {
            return Ok(self.outcome(DeploymentStatus::Succeeded, None, Vec::new()));
        };
        if self.lease.lost.load(Ordering::Relaxed) {
            // Someone else may hold the environment now: touch nothing more.
            return Ok(self.outcome(DeploymentStatus::Failed, Some(failure), Vec::new()));
        }
        if self.kind == DeploymentKind::Rollback {
            // A rollback never starts another rollback.
            return Ok(self.outcome(DeploymentStatus::RollbackFailed, Some(failure), Vec::new()));
        }
        if self.plan.rollback == RollbackMode::Manual {
            return Ok(self.outcome(DeploymentStatus::Failed, Some(failure), Vec::new()));
        }
        self.recorder
            .status(&self.id, DeploymentStatus::RollingBack, Some(&failure))
            .await?;
        let rollback_cancel = signals.after(2);
        let (status, left_as_is, rollback_failure) =
            self.roll_back(&failure, &rollback_cancel).await?;
        let failure = match rollback_failure {
            Some(rollback) => format!("{failure}; then the rollback failed: {rollback}"),
            None => failure,
        };
        Ok(self.outcome(status, Some(failure), left_as_is))
    }

    fn outcome(
        &self,
        status: DeploymentStatus,
        failure: Option<String>,
        left_as_is: Vec<String>,
    ) -> Outcome {
        Outcome {
            deployment: self.id.clone(),
            environment: self.plan.environment.clone(),
            status,
            failure,
            services: self.states.lock().map(|s| s.clone()).unwrap_or_default(),
            left_as_is,
        }
    }

    /// Every phase in order; the first failure, if any.
    async fn release(&self, cancel: &watch::Receiver<bool>) -> Result<Option<String>, DeployError> {
        let total = self.plan.phases.len();
        let mut canaries = Vec::new();
        for phase in &self.plan.phases {
            if *cancel.borrow() {
                return Ok(Some("interrupted by a signal".to_string()));
            }
            if !self.lease.still_held().await {
                return Ok(Some(LOST_LEASE.to_string()));
            }
            if !phase.canary && !canaries.is_empty() {
                let services = std::mem::take(&mut canaries);
                if let Some(failure) = self.analysis(&services, cancel).await? {
                    return Ok(Some(failure));
                }
            }
            let _ = self.progress.send(Progress::Phase {
                number: phase.number,
                total,
                services: phase.services.clone(),
                canary: phase.canary,
            });
            if let Some(failure) = self.phase(&phase.services, Stage::Deploy, cancel).await? {
                return Ok(Some(failure));
            }
            if phase.canary {
                canaries.extend(phase.services.iter().cloned());
            }
        }
        if !canaries.is_empty()
            && let Some(failure) = self.analysis(&canaries, cancel).await?
        {
            return Ok(Some(failure));
        }
        Ok(None)
    }

    /// The services of one phase at once; the first failure cancels the rest.
    async fn phase(
        &self,
        services: &[String],
        stage: Stage,
        cancel: &watch::Receiver<bool>,
    ) -> Result<Option<String>, DeployError> {
        let planned: Vec<PlannedService> = services
            .iter()
            .filter_map(|id| self.plan.service(id).cloned())
            .collect();
        // The phase's services start together: one write marks them all.
        let ids: Vec<&str> = planned.iter().map(|s| s.id.as_str()).collect();
        let running = starting_state(stage);
        self.recorder
            .services_starting(&self.id, &ids, running)
            .await?;
        if let Ok(mut states) = self.states.lock() {
            for id in &ids {
                states.insert((*id).to_string(), running);
            }
        }
        let (stop, stopped) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for service in planned {
            let worker = self.worker();
            let mut cancel = merge(cancel.clone(), stopped.clone());
            tasks.spawn(async move { worker.started(&service, stage, &mut cancel).await });
        }
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            let result =
                joined.unwrap_or_else(|error| Ok(Some(format!("a task failed: {error}"))))?;
            if let Some(message) = result
                && failure.is_none()
            {
                failure = Some(message);
                let _ = stop.send(true);
            }
        }
        Ok(failure)
    }

    fn worker(&self) -> Worker {
        Worker {
            id: self.id.clone(),
            artifacts: self.artifacts.clone(),
            github: self.github.clone(),
            plan: self.plan.clone(),
            recorder: self.recorder.clone(),
            progress: self.progress.clone(),
            states: self.states.clone(),
        }
    }

    /// Canary analysis: the canaries' gates must keep passing for `analysis`.
    async fn analysis(
        &self,
        services: &[String],
        cancel: &watch::Receiver<bool>,
    ) -> Result<Option<String>, DeployError> {
        let window = Duration::from_millis(self.plan.analysis_ms.unwrap_or(0));
        let _ = self.progress.send(Progress::Analysis {
            services: services.to_vec(),
            duration_ms: self.plan.analysis_ms.unwrap_or(0),
        });
        let (stop, stopped) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for id in services {
            let Some(service) = self.plan.service(id).cloned() else {
                continue;
            };
            for gate in service.gates.clone() {
                let worker = self.worker();
                let service = service.clone();
                let mut cancel = merge(cancel.clone(), stopped.clone());
                tasks.spawn(async move {
                    let variables = worker.variables(&service, Stage::Deploy);
                    let sink = worker.gate_sink(&service.id, Stage::Deploy);
                    let outcome = gate::hold(
                        &gate,
                        &variables,
                        &service.directory,
                        window,
                        &sink,
                        &mut cancel,
                    )
                    .await;
                    (service.id, outcome)
                });
            }
        }
        Ok(
            first_failure(tasks, &stop, |(service, outcome)| match outcome {
                GateOutcome::Passed => None,
                GateOutcome::Failed(message) => {
                    let _ = self.progress.send(Progress::GateFailed {
                        service,
                        stage: Stage::Deploy,
                        message: message.clone(),
                    });
                    Some(format!("canary analysis: {message}"))
                }
                GateOutcome::Cancelled => Some("interrupted by a signal".to_string()),
            })
            .await,
        )
    }

    /// Rolls back every touched service in reverse plan order.
    async fn roll_back(
        &self,
        reason: &str,
        cancel: &watch::Receiver<bool>,
    ) -> Result<(DeploymentStatus, Vec<String>, Option<String>), DeployError> {
        let touched: Vec<PlannedService> = {
            let states = self.states.lock().map(|s| s.clone()).unwrap_or_default();
            self.plan
                .services
                .iter()
                .rev()
                .filter(|s| states.contains_key(&s.id))
                .cloned()
                .collect()
        };
        let (restorable, left_as_is): (Vec<PlannedService>, Vec<PlannedService>) = touched
            .into_iter()
            .partition(|s| s.previous_version.is_some());
        let left_as_is: Vec<String> = left_as_is.into_iter().map(|s| s.id).collect();
        let _ = self.progress.send(Progress::RollingBack {
            reason: reason.to_string(),
            services: restorable.iter().map(|s| s.id.clone()).collect(),
        });
        let worker = self.worker();
        for service in &restorable {
            let mut cancel = cancel.clone();
            if let Some(failure) = worker
                .service(service, Stage::Rollback, &mut cancel)
                .await?
            {
                return Ok((DeploymentStatus::RollbackFailed, left_as_is, Some(failure)));
            }
        }
        Ok((DeploymentStatus::RolledBack, left_as_is, None))
    }
}

/// Why a release stops when its lease is gone.
const LOST_LEASE: &str = "lost the environment's lease (force-released, or expired while the store \
could not be reached); stopped without rolling back, as another release may hold the environment now";

/// The environment's lease as the release holds it.
struct Lease {
    coordinator: Coordinator,
    id: String,
    lost: Arc<AtomicBool>,
}

impl Lease {
    /// Renews the lease; false (and marked lost) when it is gone. A store
    /// that cannot be reached is not taken as a loss here: the heartbeat
    /// decides that once the lease's TTL has passed.
    async fn still_held(&self) -> bool {
        if self.lost.load(Ordering::Relaxed) {
            return false;
        }
        match self
            .coordinator
            .renew(&self.id, Some(millis(LEASE_TTL)))
            .await
        {
            Err(error) if error.is_input() => {
                self.lost.store(true, Ordering::Relaxed);
                false
            }
            _ => true,
        }
    }
}
