//! The supervisor: one actor per service, the shared state they coordinate
//! through, start-up, shutdown in reverse dependency order, and the registry.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::LaunchError;
use crate::output::{FOLLOW_CAPACITY, LogLine, Output, log_path};
use crate::ports::{PortAllocator, PortLease};
use crate::reaper::Reaper;
use crate::registry::{self, Registry, SupervisorRecord};
use crate::service::{Actor, Command};
use crate::settings::{LaunchSettings, variable_name};
use crate::state::{PortAssignment, ServiceStatus, State, now_ms};

/// How the supervisor is set up, beyond the launch settings.
#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    /// The weft binary, started as the reaper; `None` runs without one.
    pub reaper: Option<PathBuf>,
    pub allocator: PortAllocator,
    /// The control socket (default `.weft/weft.sock`).
    pub socket: PathBuf,
}

/// State the actors share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub settings: Arc<LaunchSettings>,
    pub statuses: Vec<watch::Sender<ServiceStatus>>,
    pub outputs: Vec<Arc<Output>>,
    pub all_output: broadcast::Sender<Arc<LogLine>>,
    /// Bumped on every change of any service's status.
    pub changes: watch::Sender<u64>,
    pub start_slots: Option<Arc<Semaphore>>,
    pub reaper: Option<Reaper>,
    pub allocator: PortAllocator,
    pub ports: Mutex<Vec<Vec<PortLease>>>,
    base_env: BTreeMap<String, String>,
}

impl Shared {
    /// The environment a service's process starts with: the supervisor's own,
    /// its `env_file`s, `<DEPENDENCY>_HOST/_PORT/_URL` for each dependency,
    /// `PORT` and `WEFT_PORT_<NAME>`, then its `env` (which wins).
    pub(crate) fn environment(&self, index: usize) -> BTreeMap<String, String> {
        let service = &self.settings.services[index];
        let mut env = self.base_env.clone();
        for file in &service.env_files {
            match std::fs::read_to_string(file) {
                Ok(text) => {
                    let source =
                        weft_discover::facts::SourceFile::new(file.display().to_string(), text);
                    for entry in weft_discover::env::parse_dotenv(&source).0 {
                        let value = interpolate(&entry.value, &env);
                        env.insert(entry.name, value);
                    }
                }
                Err(error) => self.outputs[index]
                    .note(format!("cannot read env_file {}: {error}", file.display())),
            }
        }
        for dependency in &service.dependencies {
            let status = self.statuses[dependency.service].borrow();
            let prefix = variable_name(&status.name);
            env.insert(format!("{prefix}_HOST"), "127.0.0.1".into());
            if let Some(port) = status.ports.first() {
                env.insert(format!("{prefix}_PORT"), port.port.to_string());
                env.insert(
                    format!("{prefix}_URL"),
                    format!("http://127.0.0.1:{}", port.port),
                );
            }
        }
        let ports = self.statuses[index].borrow().ports.clone();
        if let Some(first) = ports.first() {
            env.insert("PORT".into(), first.port.to_string());
        }
        for port in &ports {
            env.insert(
                format!("WEFT_PORT_{}", variable_name(&port.name)),
                port.port.to_string(),
            );
        }
        env.insert("WEFT_SERVICE".into(), service.id.clone());
        env.insert(
            "WEFT_WORKSPACE".into(),
            self.settings.root.display().to_string(),
        );
        for (name, value) in &service.env {
            let value = interpolate(value, &env);
            env.insert(name.clone(), value);
        }
        env
    }
}

fn interpolate(text: &str, env: &BTreeMap<String, String>) -> String {
    weft_discover::env::interpolate(text, &|name| env.get(name).cloned()).0
}

/// A running supervisor; clones share it.
#[derive(Debug, Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    commands: Vec<mpsc::Sender<Command>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    started: Instant,
    started_at_ms: u64,
    socket: PathBuf,
    reaped: Vec<String>,
    /// Set once `down` is asked for; the foreground waits on it.
    down: watch::Sender<bool>,
    _lock: File,
}

impl Supervisor {
    /// Takes the workspace's supervisor lock, reaps what a killed supervisor
    /// left, reserves every port, and starts one actor per service.
    pub async fn start(
        settings: LaunchSettings,
        options: SupervisorOptions,
    ) -> Result<Supervisor, LaunchError> {
        let state_dir = settings.state_dir.clone();
        std::fs::create_dir_all(&state_dir).map_err(LaunchError::io(&state_dir))?;
        if let Err(error) = crate::process::raise_open_file_limit() {
            tracing::warn!(%error, "cannot raise the open-file limit; a large stack may run out");
        }
        let lock_path = state_dir.join("supervisor.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(LaunchError::io(&lock_path))?;
        if lock.try_lock().is_err() {
            let pid = registry::read(&state_dir).map_or(0, |r| r.supervisor.pid);
            return Err(LaunchError::AlreadyRunning { pid });
        }
        let reaped = registry::reap_stale(&state_dir);

        // Every port first, all or nothing, so that discovery variables are known.
        let mut leases: Vec<Vec<PortLease>> = Vec::new();
        let mut assignments: Vec<Vec<PortAssignment>> = Vec::new();
        let mut held: Vec<u16> = Vec::new();
        for service in &settings.services {
            let mut mine = Vec::new();
            let mut assigned = Vec::new();
            for request in &service.ports {
                let seed = format!("{}:{}", service.id, request.name);
                let lease = options
                    .allocator
                    .reserve(request.preferred, request.range, &seed, &held)
                    .ok_or_else(|| LaunchError::NoFreePort {
                        service: service.id.clone(),
                        name: request.name.clone(),
                        first: request.range.first,
                        last: request.range.last,
                    })?;
                held.push(lease.port);
                assigned.push(PortAssignment {
                    name: request.name.clone(),
                    port: lease.port,
                });
                mine.push(lease);
            }
            leases.push(mine);
            assignments.push(assigned);
        }

        let reaper = match &options.reaper {
            Some(program) => match Reaper::spawn(program) {
                Ok(reaper) => Some(reaper),
                Err(error) => {
                    tracing::warn!(
                        "cannot start the reaper ({error}); a killed supervisor may leave processes behind"
                    );
                    None
                }
            },
            None => None,
        };
        let all_output = broadcast::channel(FOLLOW_CAPACITY).0;
        let outputs = settings
            .services
            .iter()
            .enumerate()
            .map(|(index, service)| {
                Arc::new(Output::new(
                    index,
                    Some(log_path(&state_dir, &service.id)),
                    settings.log,
                    all_output.clone(),
                ))
            })
            .collect();
        let statuses = settings
            .services
            .iter()
            .zip(assignments)
            .map(|(service, ports)| {
                let mut status = ServiceStatus::new(&service.id, &service.name);
                status.ports = ports;
                watch::channel(status).0
            })
            .collect();
        let base_env = std::env::vars()
            .filter(|(name, _)| !name.starts_with("WEFT_INTERNAL"))
            .collect();
        let shared = Arc::new(Shared {
            start_slots: settings
                .max_parallel_starts
                .map(|n| Arc::new(Semaphore::new(n))),
            settings: Arc::new(settings),
            statuses,
            outputs,
            all_output,
            changes: watch::channel(0).0,
            reaper,
            allocator: options.allocator,
            ports: Mutex::new(leases),
            base_env,
        });
        let mut commands = Vec::new();
        let mut tasks = Vec::new();
        for index in 0..shared.settings.services.len() {
            let (sender, receiver) = mpsc::channel(8);
            commands.push(sender);
            tasks.push(tokio::spawn(
                Actor::new(index, shared.clone(), receiver).run(),
            ));
        }
        let supervisor = Supervisor {
            inner: Arc::new(Inner {
                shared,
                commands,
                tasks: Mutex::new(tasks),
                started: Instant::now(),
                started_at_ms: now_ms(),
                socket: options.socket,
                reaped,
                down: watch::channel(false).0,
                _lock: lock,
            }),
        };
        let writer = tokio::spawn(supervisor.clone().write_registry());
        supervisor.tasks().push(writer);
        Ok(supervisor)
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> &LaunchSettings {
        &self.inner.shared.settings
    }

    /// What a killed supervisor had left running and this one killed.
    pub fn reaped(&self) -> &[String] {
        &self.inner.reaped
    }

    pub fn started(&self) -> Instant {
        self.inner.started
    }

    pub fn started_at_ms(&self) -> u64 {
        self.inner.started_at_ms
    }

    pub fn socket(&self) -> &std::path::Path {
        &self.inner.socket
    }

    pub fn statuses(&self) -> Vec<ServiceStatus> {
        self.inner
            .shared
            .statuses
            .iter()
            .map(|s| s.borrow().clone())
            .collect()
    }

    /// Every line of output from now on.
    pub fn follow(&self) -> broadcast::Receiver<Arc<LogLine>> {
        self.inner.shared.all_output.subscribe()
    }

    /// The last `limit` lines of a service still in memory.
    pub fn recent_output(&self, index: usize, limit: usize) -> Vec<Arc<LogLine>> {
        self.inner.shared.outputs[index].recent(limit)
    }

    /// Wakes on any change of any service.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.shared.changes.subscribe()
    }

    async fn command(&self, index: usize, make: fn(oneshot::Sender<()>) -> Command) {
        let (ack, done) = oneshot::channel();
        if self.inner.commands[index].send(make(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    pub async fn stop(&self, index: usize) {
        self.command(index, Command::Stop).await;
    }

    pub async fn restart(&self, index: usize) {
        self.command(index, Command::Restart).await;
    }

    pub async fn start_again(&self, index: usize) {
        self.command(index, Command::Start).await;
    }

    /// Waits until each of `services` is ready or completed (`Ok`), or one of
    /// them that must succeed has settled as failed or stopped, or the time is
    /// up (`Err` with the services not ready).
    pub async fn wait_ready(
        &self,
        services: &[usize],
        timeout: Option<Duration>,
    ) -> Result<(), Vec<usize>> {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut changes = self.changes();
        let state = |i: usize| self.inner.shared.statuses[i].borrow().state;
        loop {
            let not_ready: Vec<usize> = services
                .iter()
                .copied()
                .filter(|&i| !matches!(state(i), State::Ready | State::Completed))
                .collect();
            let required = &self.settings().required;
            let hopeless = not_ready
                .iter()
                .any(|&i| required.contains(&i) && state(i).is_settled());
            let waiting_on_required = not_ready.iter().any(|i| required.contains(i));
            if not_ready.is_empty() || !waiting_on_required {
                return Ok(());
            }
            if hopeless {
                return Err(not_ready);
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return Err(not_ready) },
                () = crate::probe::sleep_or_forever(deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()))) => {
                    return Err(not_ready);
                }
            }
        }
    }

    /// Asks the supervisor to shut down (from a signal or a `down` request).
    pub fn request_down(&self) {
        self.inner.down.send_replace(true);
    }

    /// Whether `down` was requested.
    pub fn is_down_requested(&self) -> bool {
        *self.inner.down.borrow()
    }

    /// Resolves once `down` was requested.
    pub async fn down_requested(&self) {
        let mut down = self.inner.down.subscribe();
        let _ = down.wait_for(|d| *d).await;
    }

    /// Stops every service, dependents before what they need, each with its
    /// own grace period, in parallel where the order allows.
    pub async fn stop_all(&self) {
        let settings = self.settings();
        let count = settings.services.len();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (index, service) in settings.services.iter().enumerate() {
            for dependency in service.dependencies.iter().filter(|d| d.gates()) {
                dependents[dependency.service].push(index);
            }
        }
        let mut stops = Vec::new();
        for (index, waits_for) in dependents.into_iter().enumerate() {
            let supervisor = self.clone();
            stops.push(tokio::spawn(async move {
                let mut changes = supervisor.changes();
                loop {
                    let statuses = &supervisor.inner.shared.statuses;
                    if waits_for
                        .iter()
                        .all(|&d| statuses[d].borrow().state.is_settled())
                    {
                        break;
                    }
                    if changes.changed().await.is_err() {
                        break;
                    }
                }
                supervisor.stop(index).await;
            }));
        }
        for stop in stops {
            let _ = stop.await;
        }
    }

    /// Kills every process group at once: the second Ctrl-C.
    pub fn kill_all(&self) {
        for status in self.statuses() {
            if let Some(pid) = status.pid {
                crate::process::signal_group(pid, Signal::SIGKILL);
            }
        }
    }

    /// After `stop_all`: ends the actors, the reaper and the registry.
    pub async fn finish(&self) {
        let tasks: Vec<JoinHandle<()>> = self.tasks().drain(..).collect();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        if let Some(reaper) = &self.inner.shared.reaper {
            reaper.finish();
        }
        registry::remove(&self.settings().state_dir);
        let _ = std::fs::remove_file(&self.inner.socket);
    }

    fn registry(&self) -> Registry {
        Registry {
            supervisor: SupervisorRecord {
                pid: std::process::id(),
                start_ticks: crate::process::start_time(std::process::id()),
                socket: self.inner.socket.clone(),
                started_at_ms: self.inner.started_at_ms,
            },
            services: self.statuses(),
        }
    }

    /// Writes the registry after changes, at most every 50 ms.
    async fn write_registry(self) {
        let state_dir = self.settings().state_dir.clone();
        let mut changes = self.changes();
        loop {
            if let Err(error) = registry::write(&state_dir, &self.registry()) {
                tracing::warn!("cannot write the registry: {error}");
            }
            if changes.changed().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            changes.borrow_and_update();
        }
    }
}
