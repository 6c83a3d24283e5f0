//! The actor that owns one service: it waits for the service's dependencies,
//! starts its process, runs its probes, restarts it per policy, reacts to its
//! dependencies' restarts, and stops it when told. Nothing else touches the
//! process; everything else talks to the actor through its command channel
//! and reads its state from a watch channel.
//!
//! How it works: the actor loops over three phases. *Waiting* re-evaluates
//! the dependencies each time any service's state changes (a watch channel
//! bumped on every change: no polling). *Running* selects over the process's
//! exit, probe verdicts, state changes of its dependencies, a readiness
//! deadline and commands. *Parked* (failed, completed or stopped) waits for a
//! command only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use weft_model::EdgeKind;
use weft_model::config::{Condition, RestartPolicy};

use crate::output::Stream;
use crate::process;
use crate::settings::{DependencySettings, ServiceSettings};
use crate::state::{ServiceStatus, State, now_ms};
use crate::supervisor::Shared;

mod running;

use running::Run;

/// What the supervisor asks of an actor; each is acknowledged once done.
#[derive(Debug)]
pub(crate) enum Command {
    Stop(oneshot::Sender<()>),
    Start(oneshot::Sender<()>),
    Restart(oneshot::Sender<()>),
}

/// Whether a dependency's condition holds.
#[derive(Debug, PartialEq, Eq)]
enum Met {
    Yes,
    No,
    /// It never will without a command: failed, stopped, or completed when
    /// the condition needs it running.
    Never(String),
}

fn met(condition: Condition, status: &ServiceStatus) -> Met {
    let never = |status: &ServiceStatus| {
        let why = status
            .reason
            .clone()
            .unwrap_or_else(|| status.state.to_string());
        Met::Never(format!("{}: {}", status.state, why))
    };
    match (condition, status.state) {
        (_, State::Failed | State::Stopped) => never(status),
        (Condition::CompletedSuccessfully, State::Completed) => Met::Yes,
        (Condition::CompletedSuccessfully, _) => Met::No,
        (
            Condition::Started,
            State::Starting | State::Ready | State::NotReady | State::Completed,
        ) => Met::Yes,
        (Condition::Ready, State::Ready | State::Completed) => Met::Yes,
        _ => Met::No,
    }
}

enum Gate {
    Go,
    Blocked(String),
    Command(Command),
    Closed,
}

enum Ended {
    /// Settled: the state and reason to show, parked afterwards.
    Settled(State, String),
    Stopped(oneshot::Sender<()>),
    Restart(Option<oneshot::Sender<()>>),
    Closed,
}

pub(crate) struct Actor {
    index: usize,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    restarts: u32,
    start_failures: u32,
    /// The ports it held until it was stopped, asked for first when it starts
    /// again: its dependents were started with them.
    released: Vec<u16>,
}

impl Actor {
    pub(crate) fn new(
        index: usize,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Command>,
    ) -> Self {
        Actor {
            index,
            shared,
            commands,
            restarts: 0,
            start_failures: 0,
            released: Vec::new(),
        }
    }

    fn settings(&self) -> &ServiceSettings {
        &self.shared.settings.services[self.index]
    }

    fn status(&self) -> ServiceStatus {
        self.shared.statuses[self.index].borrow().clone()
    }

    /// Changes this service's status; a change of state is also written to its output.
    /// Changes this service's status; a change of state is also written to
    /// its output. Other services (and the registry) are woken only when what
    /// they act on changed: a probe result that says the same as the last one
    /// (only later) wakes nobody, so a stack at rest costs nothing but its probes.
    fn set(&self, change: impl FnOnce(&mut ServiceStatus)) {
        let mut transition = None;
        let mut significant = false;
        self.shared.statuses[self.index].send_modify(|status| {
            let before = Significant::of(status);
            change(status);
            significant = Significant::of(status) != before;
            if status.state != before.state {
                transition = Some((status.state, status.reason.clone()));
            }
        });
        if let Some((state, reason)) = transition {
            let text = match reason {
                Some(reason) if state != State::Ready => format!("{state}: {reason}"),
                _ => state.to_string(),
            };
            self.shared.outputs[self.index].note(text);
        }
        if significant {
            self.shared.changes.send_modify(|n| *n += 1);
        }
    }

    fn set_state(&self, state: State, reason: Option<String>) {
        self.set(|status| {
            status.state = state;
            status.reason = reason;
            if state != State::Ready && state != State::NotReady {
                status.ready_since_ms = None;
            }
        });
    }

    pub(crate) async fn run(mut self) {
        loop {
            match self.wait_for_dependencies().await {
                Gate::Go => {}
                Gate::Blocked(reason) => {
                    self.set_state(State::Failed, Some(reason));
                    if !self.park().await {
                        return;
                    }
                    continue;
                }
                Gate::Command(command) => {
                    if !self.command_while_idle(command).await {
                        return;
                    }
                    continue;
                }
                Gate::Closed => return,
            }
            match self.run_process().await {
                Ended::Settled(state, reason) => {
                    self.set_state(state, Some(reason));
                    if !self.park().await {
                        return;
                    }
                }
                Ended::Stopped(ack) => {
                    self.release_ports();
                    self.set_state(State::Stopped, None);
                    let _ = ack.send(());
                    if !self.park().await {
                        return;
                    }
                }
                Ended::Restart(ack) => {
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                }
                Ended::Closed => return,
            }
        }
    }

    /// Handles a command while no process runs; `false` when the actor should end.
    async fn command_while_idle(&mut self, command: Command) -> bool {
        match command {
            Command::Stop(ack) => {
                self.release_ports();
                self.set_state(State::Stopped, None);
                let _ = ack.send(());
                self.park().await
            }
            Command::Start(ack) | Command::Restart(ack) => {
                self.reset_restarts();
                let _ = ack.send(());
                true
            }
        }
    }

    /// A start by hand begins a fresh count of restarts.
    fn reset_restarts(&mut self) {
        self.restarts = 0;
        self.start_failures = 0;
        self.set(|status| status.restarts = 0);
    }

    /// Waits for a command to start again; `false` when the supervisor is gone.
    async fn park(&mut self) -> bool {
        loop {
            match self.commands.recv().await {
                None => return false,
                Some(Command::Stop(ack)) => {
                    if self.status().state != State::Stopped {
                        self.release_ports();
                        self.set_state(State::Stopped, None);
                    }
                    let _ = ack.send(());
                }
                Some(Command::Start(ack) | Command::Restart(ack)) => {
                    self.reset_restarts();
                    let _ = ack.send(());
                    return true;
                }
            }
        }
    }

    async fn wait_for_dependencies(&mut self) -> Gate {
        let began = Instant::now();
        let mut changes = self.shared.changes.subscribe();
        let mut degraded: Vec<String> = Vec::new();
        let mut last_met: Option<(String, u64)> = None;
        let gating: Vec<DependencySettings> = self
            .settings()
            .dependencies
            .iter()
            .filter(|d| d.gates())
            .cloned()
            .collect();
        let mut pending: Vec<&DependencySettings> = gating.iter().collect();
        // What the `waiting for …` reason last said, by dependency and state:
        // a wake that changed neither (another service's change) rebuilds
        // nothing. With a thousand services, each waiter wakes on every
        // other's change.
        let mut shown: Vec<(usize, State)> = Vec::new();
        loop {
            let mut still = Vec::new();
            for dependency in pending {
                // Read in place: only a verdict other than "not yet" copies
                // anything out.
                let (verdict, status) = {
                    let status = self.shared.statuses[dependency.service].borrow();
                    match met(dependency.condition, &status) {
                        Met::No if began.elapsed() < dependency.timeout => {
                            still.push(dependency);
                            continue;
                        }
                        Met::Yes => {
                            last_met =
                                Some((status.name.clone(), began.elapsed().as_millis() as u64));
                            continue;
                        }
                        verdict => (
                            verdict,
                            (status.name.clone(), status.state, status.reason.clone()),
                        ),
                    }
                };
                let (name, state, reason) = status;
                let why = match verdict {
                    Met::Never(why) => format!("{name} is {why}"),
                    _ => format!(
                        "timed out after {} waiting for {name} to be {} (it is {state}{})",
                        weft_model::config::Duration(dependency.timeout),
                        condition_word(dependency.condition),
                        reason.map(|r| format!(": {r}")).unwrap_or_default()
                    ),
                };
                if let Some(blocked) = self.dependency_failed(dependency, why, &mut degraded) {
                    return Gate::Blocked(blocked);
                }
            }
            pending = still;
            if pending.is_empty() {
                self.set(|status| {
                    status.degraded = degraded;
                    status.gated_by = last_met;
                });
                return Gate::Go;
            }
            let now_showing: Vec<(usize, State)> = pending
                .iter()
                .map(|d| (d.service, self.shared.statuses[d.service].borrow().state))
                .collect();
            let pending_now = self.shared.statuses[self.index].borrow().state == State::Pending;
            if now_showing != shown || !pending_now {
                self.set_state(State::Pending, Some(self.waiting_reason(&pending)));
                shown = now_showing;
            }
            let deadline = pending
                .iter()
                .map(|d| began + d.timeout)
                .min()
                .unwrap_or_else(|| began + Duration::from_secs(3600));
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return Gate::Closed },
                () = tokio::time::sleep_until(deadline.into()) => {}
                command = self.commands.recv() => match command {
                    Some(command) => return Gate::Command(command),
                    None => return Gate::Closed,
                },
            }
        }
    }

    /// `waiting for a to be ready (it is starting), …`: the first few by name,
    /// then how many more, so that a service behind a hundred others still
    /// has a reason that reads.
    fn waiting_reason(&self, pending: &[&DependencySettings]) -> String {
        const NAMED: usize = 3;
        let mut waiting: Vec<String> = pending
            .iter()
            .take(NAMED)
            .map(|d| {
                let status = self.shared.statuses[d.service].borrow();
                format!(
                    "{} to be {} (it is {})",
                    status.name,
                    condition_word(d.condition),
                    status.state
                )
            })
            .collect();
        if pending.len() > NAMED {
            waiting.push(format!("{} more", pending.len() - NAMED));
        }
        format!("waiting for {}", waiting.join(", "))
    }

    /// A dependency failed: degrade past an optional one, or say why this
    /// service is blocked.
    fn dependency_failed(
        &self,
        dependency: &DependencySettings,
        why: String,
        degraded: &mut Vec<String>,
    ) -> Option<String> {
        let name = self.shared.statuses[dependency.service]
            .borrow()
            .name
            .clone();
        if dependency.kind == EdgeKind::Optional && self.shared.settings.graceful_degradation {
            self.shared.outputs[self.index].note(format!(
                "starting without optional dependency {name}: {why}"
            ));
            degraded.push(name);
            None
        } else {
            Some(format!("required dependency {why}"))
        }
    }

    fn release_ports(&mut self) {
        let held: Vec<u16> = self.status().ports.iter().map(|p| p.port).collect();
        if !held.is_empty() {
            self.released = held;
        }
        let mut ports = self.shared.ports.lock().unwrap_or_else(|e| e.into_inner());
        ports[self.index].clear();
        drop(ports);
        self.set(|status| status.ports.clear());
    }

    /// Reserves the service's ports if it holds none (after a stop).
    fn ensure_ports(&self) -> Result<(), String> {
        let requests = &self.settings().ports;
        let mut ports = self.shared.ports.lock().unwrap_or_else(|e| e.into_inner());
        if !ports[self.index].is_empty() || requests.is_empty() {
            return Ok(());
        }
        let previous = &self.released;
        let mut leases = Vec::new();
        for (at, request) in requests.iter().enumerate() {
            let held: Vec<u16> = leases
                .iter()
                .map(|l: &crate::ports::PortLease| l.port)
                .collect();
            let preferred = previous.get(at).copied().or(request.preferred);
            let seed = format!("{}:{}", self.settings().id, request.name);
            match self
                .shared
                .allocator
                .reserve(preferred, request.range, &seed, &held)
            {
                Some(lease) => leases.push(lease),
                None => {
                    return Err(format!(
                        "no free port for {} in {}-{}",
                        request.name, request.range.first, request.range.last
                    ));
                }
            }
        }
        let assigned = requests
            .iter()
            .zip(&leases)
            .map(|(r, l)| crate::state::PortAssignment {
                name: r.name.clone(),
                port: l.port,
            })
            .collect();
        ports[self.index] = leases;
        drop(ports);
        self.set(|status| status.ports = assigned);
        Ok(())
    }

    /// Runs the service's process, restarting it per policy, until it settles
    /// or is told to stop or restart.
    async fn run_process(&mut self) -> Ended {
        loop {
            let permit = match &self.shared.start_slots {
                Some(slots) => slots.clone().acquire_owned().await.ok(),
                None => None,
            };
            if let Err(why) = self.ensure_ports() {
                return Ended::Settled(State::Failed, why);
            }
            let env = Arc::new(self.shared.environment(self.index));
            // Borrowed through a handle of its own, not copied: a running
            // service would otherwise hold a copy of its settings, every
            // dependency's included.
            let shared = self.shared.clone();
            let settings = &shared.settings.services[self.index];
            let mut child = match process::spawn(&settings.command, &settings.workdir, &env) {
                Ok(child) => child,
                Err(error) => {
                    return Ended::Settled(
                        State::Failed,
                        format!(
                            "cannot start `{}` in {}: {error}",
                            settings.command,
                            settings.workdir.display()
                        ),
                    );
                }
            };
            let pid = child.id().unwrap_or_default();
            if let Some(reaper) = &self.shared.reaper {
                reaper.watch(pid);
            }
            let output = self.shared.outputs[self.index].clone();
            // Subscribed before the first line can arrive, and only for a
            // log probe: the channel is made on the first subscription.
            let log_probe = [&settings.ready, &settings.live]
                .into_iter()
                .flatten()
                .any(|probe| matches!(probe.check, crate::settings::Check::Log { .. }));
            let log_subscription = log_probe.then(|| output.subscribe());
            let mut pumps = Vec::new();
            if let Some(stdout) = child.stdout.take() {
                pumps.push(tokio::spawn(output.clone().pump(stdout, Stream::Stdout)));
            }
            if let Some(stderr) = child.stderr.take() {
                pumps.push(tokio::spawn(output.clone().pump(stderr, Stream::Stderr)));
            }
            let generation = self.status().generation + 1;
            let started = Instant::now();
            let start_ticks = process::start_time(pid);
            self.set(|status| {
                status.generation = generation;
                status.pid = Some(pid);
                status.start_ticks = start_ticks;
                status.started_at_ms = Some(now_ms());
                status.last_probe = None;
            });
            output.note(format!("started `{}` (pid {pid})", settings.command));
            let run = self
                .supervise(
                    &mut child,
                    pid,
                    generation,
                    started,
                    env.clone(),
                    log_subscription,
                    permit,
                )
                .await;
            for pump in pumps {
                // The pipes end when the group is gone; a pump never outlives it long.
                let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
            }
            if let Some(reaper) = &self.shared.reaper {
                reaper.forget(pid);
            }
            self.set(|status| status.pid = None);
            let (exit, failure, ever_ready) = match run {
                Run::Exited {
                    exit,
                    failure,
                    ever_ready,
                } => (exit, failure, ever_ready),
                Run::Interrupted(ended) => return ended,
            };
            self.set(|status| status.last_exit = Some(exit.clone()));
            let policy = settings.restart;
            let Some(failure) = failure else {
                if policy != RestartPolicy::Always {
                    return Ended::Settled(State::Completed, exit.to_string());
                }
                if let Some(ended) = self.restart_after_backoff(&exit.to_string(), started).await {
                    return ended;
                }
                continue;
            };
            if !ever_ready && self.start_failures < self.shared.settings.startup_retry_count {
                self.start_failures += 1;
                if let Some(ended) = self.restart_after_backoff(&failure, started).await {
                    return ended;
                }
                continue;
            }
            let may_restart = matches!(policy, RestartPolicy::OnFailure | RestartPolicy::Always);
            if may_restart && self.restarts < settings.max_restarts {
                if let Some(ended) = self.restart_after_backoff(&failure, started).await {
                    return ended;
                }
                continue;
            }
            let failure = if may_restart {
                format!("{failure} (after {} restarts)", self.restarts)
            } else {
                failure
            };
            return Ended::Settled(State::Failed, failure);
        }
    }

    /// Waits the backoff before the next start; `Some` when a command came instead.
    async fn restart_after_backoff(&mut self, why: &str, started: Instant) -> Option<Ended> {
        let settings = self.settings();
        // A process that stayed up longer than the cap earns a fresh backoff.
        let exponent = if started.elapsed() > settings.backoff_max {
            0
        } else {
            self.restarts.min(16)
        };
        let delay = settings
            .backoff
            .saturating_mul(1u32 << exponent)
            .min(settings.backoff_max);
        self.restarts += 1;
        let restarts = self.restarts;
        self.set(|status| {
            status.restarts = restarts;
            status.state = State::Pending;
            status.reason = Some(format!(
                "restarting in {}ms after: {why}",
                delay.as_millis()
            ));
            status.ready_since_ms = None;
        });
        tokio::select! {
            () = tokio::time::sleep(delay) => None,
            command = self.commands.recv() => Some(match command {
                None => Ended::Closed,
                Some(Command::Stop(ack)) => Ended::Stopped(ack),
                Some(Command::Start(ack) | Command::Restart(ack)) => Ended::Restart(Some(ack)),
            }),
        }
    }
}

/// What other services and the registry act on; the time of the last probe
/// is not part of it.
#[derive(PartialEq, Eq)]
struct Significant {
    state: State,
    generation: u64,
    pid: Option<u32>,
    ports: Vec<u16>,
    reason: Option<String>,
    restarts: u32,
    probe: Option<(bool, String)>,
}

impl Significant {
    fn of(status: &ServiceStatus) -> Self {
        Significant {
            state: status.state,
            generation: status.generation,
            pid: status.pid,
            ports: status.ports.iter().map(|p| p.port).collect(),
            reason: status.reason.clone(),
            restarts: status.restarts,
            probe: status
                .last_probe
                .as_ref()
                .map(|p| (p.ok, p.message.clone())),
        }
    }
}

pub(crate) fn condition_word(condition: Condition) -> &'static str {
    match condition {
        Condition::Started => "started",
        Condition::Ready => "ready",
        Condition::CompletedSuccessfully => "completed successfully",
    }
}
