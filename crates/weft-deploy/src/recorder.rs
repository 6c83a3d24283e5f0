//! The release's writes: steps (their start, output and end), gate
//! observations and service states go through one task in order (a step's
//! lines are batched into one write), off the release's path; what must be
//! durable before the release goes on is written directly: services
//! starting (a release killed after that knows they were touched) and the
//! release's status, once that queue is flushed. The release's events are
//! put on the coordinator's live stream for `weft serve`'s clients.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use weft_store::{Coordinator, DeploymentStatus, ServiceState, Stage, StepStatus, Verdict};

use crate::engine::Progress;
use crate::error::DeployError;
use crate::gate::{Observation, ObservationSink};
use crate::plan::{PlannedGate, PlannedStep};
use crate::step::OutputSink;

/// Writes to the store in order: output and observations through one
/// task, the rest directly once the queue is flushed.
#[derive(Clone)]
pub(crate) struct Recorder {
    sender: mpsc::UnboundedSender<Record>,
    store: weft_store::Store,
    publisher: Publisher,
    progress: mpsc::UnboundedSender<Progress>,
    deployment: String,
    /// The deployment's status as last written: an inconclusive observation
    /// turns `running` into `paused`, a conclusive one turns it back.
    status: Arc<Mutex<DeploymentStatus>>,
    /// The recorder's numbers for steps, handed out as they start.
    steps: Arc<AtomicI64>,
}

enum Record {
    Output {
        step: i64,
        service: String,
        line: String,
    },
    Observation {
        deployment: String,
        service: String,
        stage: Stage,
        gate: u32,
        description: String,
        observation: Observation,
        at: i64,
    },
    RunUrl {
        deployment: String,
        service: String,
        url: String,
    },
    State {
        deployment: String,
        service: String,
        state: ServiceState,
        detail: Option<String>,
        at: i64,
    },
    /// A step started; `step` is the recorder's own number for it, which
    /// the records after it use until the store's id is known.
    StartStep {
        step: i64,
        deployment: String,
        service: String,
        stage: Stage,
        index: u32,
        kind: &'static str,
        description: String,
        at: i64,
    },
    FinishStep {
        step: i64,
        status: StepStatus,
        exit_code: Option<i32>,
        attempts: u32,
        message: Option<String>,
        at: i64,
    },
    Flush(oneshot::Sender<Result<(), String>>),
}

impl Recorder {
    pub(crate) fn start(
        publisher: Publisher,
        progress: mpsc::UnboundedSender<Progress>,
        deployment: &str,
    ) -> (Recorder, tokio::task::JoinHandle<()>) {
        let store = publisher.coordinator.store().clone();
        let (sender, mut receiver) = mpsc::unbounded_channel::<Record>();
        let status = Arc::new(Mutex::new(DeploymentStatus::Running));
        let task_publisher = publisher.clone();
        let recorder = Recorder {
            publisher,
            sender,
            store: store.clone(),
            progress: progress.clone(),
            deployment: deployment.to_string(),
            status: status.clone(),
            steps: Arc::new(AtomicI64::new(0)),
        };
        let task = tokio::spawn(async move {
            let mut failed: Option<String> = None;
            // The recorder's step numbers → the store's ids.
            let mut ids: HashMap<i64, i64> = HashMap::new();
            while let Some(record) = receiver.recv().await {
                match record {
                    Record::Output {
                        step,
                        service,
                        line,
                    } => {
                        let mut text = line.clone();
                        text.push('\n');
                        let _ = progress.send(Progress::Output { service, line });
                        // Take whatever else is queued for the same step at once.
                        let mut later = Vec::new();
                        while let Ok(next) = receiver.try_recv() {
                            match next {
                                Record::Output {
                                    step: same,
                                    service,
                                    line,
                                } if same == step => {
                                    text.push_str(&line);
                                    text.push('\n');
                                    let _ = progress.send(Progress::Output { service, line });
                                }
                                other => {
                                    later.push(other);
                                    break;
                                }
                            }
                        }
                        if let Some(step) = ids.get(&step)
                            && let Err(error) = store.append_step_output(*step, &text).await
                        {
                            failed.get_or_insert(error.to_string());
                        }
                        for record in later {
                            Self::handle(&store, &progress, &status, &mut ids, record, &mut failed)
                                .await;
                        }
                    }
                    other => {
                        Self::handle(&store, &progress, &status, &mut ids, other, &mut failed)
                            .await;
                    }
                }
                if receiver.is_empty() {
                    task_publisher.publish().await;
                }
            }
        });
        (recorder, task)
    }

    async fn handle(
        store: &weft_store::Store,
        progress: &mpsc::UnboundedSender<Progress>,
        status: &Mutex<DeploymentStatus>,
        ids: &mut HashMap<i64, i64>,
        record: Record,
        failed: &mut Option<String>,
    ) {
        match record {
            Record::Output {
                step,
                service,
                line,
            } => {
                let _ = progress.send(Progress::Output {
                    service,
                    line: line.clone(),
                });
                if let Some(step) = ids.get(&step)
                    && let Err(error) = store.append_step_output(*step, &format!("{line}\n")).await
                {
                    failed.get_or_insert(error.to_string());
                }
            }
            Record::Observation {
                deployment,
                service,
                stage,
                gate,
                description,
                observation,
                at,
            } => {
                let _ = progress.send(Progress::Gate {
                    service: service.clone(),
                    stage,
                    gate: description.clone(),
                    verdict: observation.verdict,
                    message: observation.message.clone(),
                });
                if let Err(error) = store
                    .record_observation(
                        &deployment,
                        &service,
                        stage,
                        gate,
                        &description,
                        observation.verdict,
                        &observation.message,
                        at,
                    )
                    .await
                {
                    failed.get_or_insert(error.to_string());
                }
                let now = status
                    .lock()
                    .map(|s| *s)
                    .unwrap_or(DeploymentStatus::Running);
                let next = match (now, observation.verdict) {
                    (DeploymentStatus::Running, Verdict::Inconclusive) => {
                        Some(DeploymentStatus::Paused)
                    }
                    (DeploymentStatus::Paused, Verdict::Pass | Verdict::Fail) => {
                        Some(DeploymentStatus::Running)
                    }
                    _ => None,
                };
                if let Some(next) = next {
                    let reason = (next == DeploymentStatus::Paused).then(|| {
                        format!(
                            "{}: gate {} is inconclusive: {}",
                            service, description, observation.message
                        )
                    });
                    match store
                        .set_deployment_status(&deployment, next, reason.as_deref())
                        .await
                    {
                        Ok(()) => {
                            if let Ok(mut current) = status.lock() {
                                *current = next;
                            }
                        }
                        Err(error) => {
                            failed.get_or_insert(error.to_string());
                        }
                    }
                }
            }
            Record::RunUrl {
                deployment,
                service,
                url,
            } => {
                if let Err(error) = store.set_service_run_url(&deployment, &service, &url).await {
                    failed.get_or_insert(error.to_string());
                }
            }
            Record::State {
                deployment,
                service,
                state,
                detail,
                at,
            } => {
                if let Err(error) = store
                    .set_service_state_at(&deployment, &service, state, detail.as_deref(), at)
                    .await
                {
                    failed.get_or_insert(error.to_string());
                }
            }
            Record::StartStep {
                step,
                deployment,
                service,
                stage,
                index,
                kind,
                description,
                at,
            } => match store
                .start_step_at(&deployment, &service, stage, index, kind, &description, at)
                .await
            {
                Ok(id) => {
                    ids.insert(step, id);
                }
                Err(error) => {
                    failed.get_or_insert(error.to_string());
                }
            },
            Record::FinishStep {
                step,
                status,
                exit_code,
                attempts,
                message,
                at,
            } => {
                if let Some(step) = ids.remove(&step)
                    && let Err(error) = store
                        .finish_step_at(step, status, exit_code, attempts, message.as_deref(), at)
                        .await
                {
                    failed.get_or_insert(error.to_string());
                }
            }
            Record::Flush(done) => {
                let _ = done.send(failed.take().map_or(Ok(()), Err));
            }
        }
    }

    pub(crate) fn store(&self) -> &weft_store::Store {
        &self.store
    }

    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Record::Flush(done)).is_ok() {
            let _ = wait.await;
        }
        self.publisher.publish().await;
    }

    pub(crate) async fn status(
        &self,
        id: &str,
        status: DeploymentStatus,
        error: Option<&str>,
    ) -> Result<(), DeployError> {
        self.flush().await;
        self.store.set_deployment_status(id, status, error).await?;
        if let Ok(mut current) = self.status.lock() {
            *current = status;
        }
        self.publisher.publish().await;
        Ok(())
    }

    /// A service's new state. A service that starts (deploying, rolling
    /// back) is written at once, before its steps run: a release killed
    /// after that knows the service was touched. Any other state goes
    /// through the queue, in order, and is written before the release's
    /// next status.
    pub(crate) async fn service_state(
        &self,
        id: &str,
        service: &str,
        state: ServiceState,
        detail: Option<String>,
    ) -> Result<(), DeployError> {
        let _ = self.progress.send(Progress::Service {
            service: service.to_string(),
            state,
            detail: detail.clone(),
        });
        if matches!(state, ServiceState::Deploying | ServiceState::RollingBack) {
            self.store
                .set_service_state(id, service, state, detail.as_deref())
                .await?;
            self.publisher.publish().await;
        } else {
            self.queue(Record::State {
                deployment: id.to_string(),
                service: service.to_string(),
                state,
                detail,
                at: weft_store::time::now_ms(),
            });
        }
        Ok(())
    }

    /// Services that start together, written at once in one transaction.
    pub(crate) async fn services_starting(
        &self,
        id: &str,
        services: &[&str],
        state: ServiceState,
    ) -> Result<(), DeployError> {
        self.store
            .set_services_state_at(id, services, state, None, weft_store::time::now_ms())
            .await?;
        for service in services {
            let _ = self.progress.send(Progress::Service {
                service: (*service).to_string(),
                state,
                detail: None,
            });
        }
        self.publisher.publish().await;
        Ok(())
    }

    fn queue(&self, record: Record) {
        // The task ends only with the release.
        let _ = self.sender.send(record);
    }

    /// A step starts: recorded in order, off the release's path (its
    /// service is already recorded as started). Returns the recorder's
    /// number for the step, which its output and its end go by.
    pub(crate) fn start_step(
        &self,
        id: &str,
        service: &str,
        stage: Stage,
        step: &PlannedStep,
    ) -> i64 {
        let number = self.steps.fetch_add(1, Ordering::Relaxed);
        self.queue(Record::StartStep {
            step: number,
            deployment: id.to_string(),
            service: service.to_string(),
            stage,
            index: u32::try_from(step.index).unwrap_or(u32::MAX),
            kind: step.kind,
            description: step.description.clone(),
            at: weft_store::time::now_ms(),
        });
        number
    }

    pub(crate) async fn finish_step(
        &self,
        step: i64,
        status: StepStatus,
        exit_code: Option<i32>,
        attempts: u32,
        message: Option<String>,
    ) -> Result<(), DeployError> {
        // In order after the step's output.
        self.queue(Record::FinishStep {
            step,
            status,
            exit_code,
            attempts,
            message,
            at: weft_store::time::now_ms(),
        });
        Ok(())
    }
}

/// Puts the release's events (`deployment`, `step`, `gate`) on the
/// coordinator's live stream (what `weft serve`'s SSE clients see), in order
/// and once each: the store has them already.
#[derive(Clone)]
pub(crate) struct Publisher {
    coordinator: Coordinator,
    last: Arc<tokio::sync::Mutex<i64>>,
}

impl Publisher {
    pub(crate) async fn new(coordinator: &Coordinator) -> Result<Publisher, DeployError> {
        let last = coordinator.store().last_event_id().await?;
        Ok(Publisher {
            coordinator: coordinator.clone(),
            last: Arc::new(tokio::sync::Mutex::new(last)),
        })
    }

    pub(crate) async fn publish(&self) {
        let mut last = self.last.lock().await;
        if self.coordinator.subscribers() == 0
            && self.coordinator.store().backend() == weft_store::Backend::Sqlite
        {
            // Nobody here listens (a `weft deploy` in a terminal): a server
            // on the same SQLite file publishes them from the store. On
            // PostgreSQL the announcement is what tells the replicas.
            return;
        }
        let Ok(events) = self.coordinator.store().events_after(*last, 500).await else {
            return;
        };
        if let Some(newest) = events.last() {
            *last = newest.id;
        }
        let ours: Vec<weft_store::Event> = events
            .into_iter()
            .filter(|e| matches!(e.kind.as_str(), "deployment" | "step" | "gate"))
            .collect();
        if !ours.is_empty() {
            self.coordinator.publish(ours);
        }
    }
}

/// A step's output, line by line, into the store and the progress stream.
pub(crate) struct StepRecorder {
    pub(crate) recorder: Recorder,
    pub(crate) step: i64,
    pub(crate) service: String,
}

impl OutputSink for StepRecorder {
    fn line(&self, line: &str) {
        let _ = self.recorder.sender.send(Record::Output {
            step: self.step,
            service: self.service.clone(),
            line: line.to_string(),
        });
    }

    fn run_url(&self, url: &str) {
        let _ = self.recorder.sender.send(Record::RunUrl {
            deployment: self.recorder.deployment.clone(),
            service: self.service.clone(),
            url: url.to_string(),
        });
    }

    fn attempt(&self, attempt: u32, delay: Duration) {
        let _ = self.recorder.progress.send(Progress::Retry {
            service: self.service.clone(),
            attempt,
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        });
        self.line(&format!(
            "weft: attempt {attempt} in {} ms",
            delay.as_millis()
        ));
    }
}

/// A gate's observations into the store and the progress stream.
pub(crate) struct GateRecorder {
    pub(crate) recorder: Recorder,
    pub(crate) service: String,
    pub(crate) stage: Stage,
}

impl ObservationSink for GateRecorder {
    fn observed(&self, gate: &PlannedGate, observation: &Observation) {
        let _ = self.recorder.sender.send(Record::Observation {
            deployment: self.recorder.deployment.clone(),
            service: self.service.clone(),
            stage: self.stage,
            gate: u32::try_from(gate.index).unwrap_or(u32::MAX),
            description: gate.description.clone(),
            observation: observation.clone(),
            at: weft_store::time::now_ms(),
        });
    }
}
