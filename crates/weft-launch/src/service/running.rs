//! The running phase of a service's actor: one process from its start to
//! its exit, with its probes, its readiness deadline, its dependencies'
//! restarts and the commands that stop or restart it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinHandle;
use weft_model::config::OnRestart;

use super::{Actor, Command, Ended, Met, met};
use crate::probe::{self, ProbeContext, ProbeEvent, ProbeKind};
use crate::process;
use crate::state::{ExitInfo, State, now_ms};

impl Actor {
    #[expect(
        clippy::too_many_arguments,
        reason = "one process's run, all its parts"
    )]
    pub(super) async fn supervise(
        &mut self,
        child: &mut Child,
        pid: u32,
        generation: u64,
        started: Instant,
        env: Arc<BTreeMap<String, String>>,
        mut log: Option<tokio::sync::broadcast::Receiver<Arc<crate::output::LogLine>>>,
        mut permit: Option<OwnedSemaphorePermit>,
    ) -> Run {
        // Borrowed through a handle of its own, not copied for the run.
        let shared = self.shared.clone();
        let settings = &shared.settings.services[self.index];
        let context = ProbeContext {
            env: env.clone(),
            workdir: settings.workdir.clone(),
            generation,
        };
        let (probe_events, mut probe_rx) = mpsc::channel::<ProbeEvent>(16);
        let mut probes: Vec<JoinHandle<()>> = Vec::new();
        // Readiness is probed from the start; liveness once the service has
        // been ready (a service still starting is not dead).
        if let Some(probe) = &settings.ready {
            let subscription = match probe.check {
                crate::settings::Check::Log { .. } => log.take(),
                _ => None,
            };
            probes.push(tokio::spawn(probe::run(
                ProbeKind::Ready,
                probe.clone(),
                context.clone(),
                subscription,
                probe_events.clone(),
            )));
        }
        let mut live_probe = settings.live.clone();
        let mut probes = AbortOnDrop(probes);
        let mut probe_ready = settings.ready.is_none();
        let mut ever_ready = false;
        let mut dependencies_ok = true;
        let mut seen: Vec<(usize, u64)> = settings
            .dependencies
            .iter()
            .map(|d| {
                (
                    d.service,
                    self.shared.statuses[d.service].borrow().generation,
                )
            })
            .collect();
        let readiness_deadline = started + self.shared.settings.readiness_timeout;
        let mut changes = self.shared.changes.subscribe();
        let mut refresh = true;
        loop {
            if refresh {
                refresh = false;
                let state = if probe_ready && dependencies_ok {
                    State::Ready
                } else if ever_ready {
                    State::NotReady
                } else {
                    State::Starting
                };
                let current = self.status();
                if current.state != state {
                    let reason = match state {
                        State::Starting => settings.ready.as_ref().map(|p| {
                            format!(
                                "waiting for its readiness probe ({})",
                                probe::describe(&p.check, &context)
                            )
                        }),
                        State::NotReady if !dependencies_ok => {
                            Some("a dependency it waits on is not ready".into())
                        }
                        State::NotReady => Some("its readiness probe fails".into()),
                        _ => None,
                    };
                    self.set(|status| {
                        status.state = state;
                        status.reason = reason;
                        if state == State::Ready {
                            status.ready_since_ms = Some(now_ms());
                        }
                    });
                }
                if state == State::Ready {
                    ever_ready = true;
                    permit.take();
                    if let Some(probe) = live_probe.take() {
                        let subscription = match probe.check {
                            crate::settings::Check::Log { .. } => Some(
                                log.take()
                                    .unwrap_or_else(|| self.shared.outputs[self.index].subscribe()),
                            ),
                            _ => None,
                        };
                        probes.0.push(tokio::spawn(probe::run(
                            ProbeKind::Live,
                            probe,
                            context.clone(),
                            subscription,
                            probe_events.clone(),
                        )));
                    }
                }
            }
            tokio::select! {
                status = child.wait() => {
                    let exit = exit_info(status.ok());
                    process::signal_group(pid, Signal::SIGKILL);
                    let failure = (exit.code != Some(0)).then(|| exit.to_string());
                    return Run::Exited { exit, failure, ever_ready };
                }
                Some(event) = probe_rx.recv() => {
                    if event.generation != generation {
                        continue;
                    }
                    let kind = event.kind;
                    let verdict = event.verdict;
                    let result = event.result;
                    let message = result.message.clone();
                    self.set(|status| status.last_probe = Some(result));
                    match (kind, verdict) {
                        (ProbeKind::Ready, Some(ok)) => {
                            probe_ready = ok;
                            refresh = true;
                        }
                        (ProbeKind::Live, Some(false)) => {
                            let failure = format!("liveness probe failed: {message}");
                            self.shared.outputs[self.index].note(failure.clone());
                            let (status, _) = self.stop_process(child, pid, &env).await;
                            let exit = exit_info(status);
                            return Run::Exited { exit, failure: Some(failure), ever_ready };
                        }
                        _ => {}
                    }
                }
                () = tokio::time::sleep_until(readiness_deadline.into()), if !ever_ready => {
                    let last = self.status().last_probe.map(|p| format!("; last probe: {}", p.message)).unwrap_or_default();
                    let failure = format!(
                        "not ready after {}{last}",
                        weft_model::config::Duration(self.shared.settings.readiness_timeout)
                    );
                    self.shared.outputs[self.index].note(failure.clone());
                    let (status, _) = self.stop_process(child, pid, &env).await;
                    return Run::Exited { exit: exit_info(status), failure: Some(failure), ever_ready };
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let mut ok = true;
                    for (dependency, (index, generation_seen)) in settings.dependencies.iter().zip(seen.iter_mut()) {
                        let status = self.shared.statuses[*index].borrow().clone();
                        // Its first start (a soft dependency starts when it likes) is not a restart.
                        if *generation_seen == 0 {
                            *generation_seen = status.generation;
                        }
                        match dependency.on_restart {
                            OnRestart::Restart if status.generation > *generation_seen => {
                                self.shared.outputs[self.index].note(format!("{} restarted; restarting", status.name));
                                self.stop_process(child, pid, &env).await;
                                return Run::Interrupted(Ended::Restart(None));
                            }
                            OnRestart::Wait | OnRestart::Restart
                                if dependency.gates()
                                    && ever_ready
                                    && met(dependency.condition, &status) != Met::Yes
                                    && !self.status().degraded.contains(&status.name) =>
                            {
                                ok = false;
                            }
                            _ => {}
                        }
                    }
                    if ok != dependencies_ok {
                        dependencies_ok = ok;
                        refresh = true;
                    }
                }
                command = self.commands.recv() => match command {
                    None => {
                        self.stop_process(child, pid, &env).await;
                        return Run::Interrupted(Ended::Closed);
                    }
                    Some(Command::Stop(ack)) => {
                        self.set_state(State::Stopping, None);
                        self.stop_process(child, pid, &env).await;
                        return Run::Interrupted(Ended::Stopped(ack));
                    }
                    Some(Command::Restart(ack)) => {
                        self.set_state(State::Stopping, Some("restarting".into()));
                        self.stop_process(child, pid, &env).await;
                        self.reset_restarts();
                        return Run::Interrupted(Ended::Restart(Some(ack)));
                    }
                    Some(Command::Start(ack)) => { let _ = ack.send(()); }
                },
            }
        }
    }

    async fn stop_process(
        &self,
        child: &mut Child,
        pid: u32,
        env: &BTreeMap<String, String>,
    ) -> (Option<std::process::ExitStatus>, bool) {
        let settings = self.settings();
        let (status, killed) =
            process::stop(child, pid, &settings.stop, &settings.workdir, env).await;
        if killed {
            self.shared.outputs[self.index].note(format!(
                "did not stop within {} of {}; killed",
                weft_model::config::Duration(settings.stop.timeout),
                settings.stop.command.as_deref().map_or_else(
                    || format!("{:?}", settings.stop.signal),
                    |c| format!("`{c}`")
                )
            ));
        }
        (status, killed)
    }
}

pub(super) enum Run {
    Exited {
        exit: ExitInfo,
        failure: Option<String>,
        ever_ready: bool,
    },
    Interrupted(Ended),
}

struct AbortOnDrop(Vec<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn exit_info(status: Option<std::process::ExitStatus>) -> ExitInfo {
    use std::os::unix::process::ExitStatusExt;
    ExitInfo {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()).map(|n| {
            Signal::try_from(n).map_or_else(|_| format!("signal {n}"), |s| s.as_str().to_string())
        }),
        at_ms: now_ms(),
    }
}
