//! The harness: a workspace in a temporary directory whose `weft.yaml` runs
//! the `weft-test-service` binary, a real supervisor over it, and waits with
//! deadlines on what the supervisor reports.
//!
//! Every test runs its body through [`run`] (or [`supervised`]), which stops
//! every service and finishes the supervisor whether the body passed or
//! panicked, so that no child process outlives a test.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use weft_launch::output::{LogLine, Stream};
use weft_launch::ports::PortAllocator;
use weft_launch::{
    LaunchError, LaunchRequest, LaunchSettings, ServiceStatus, State, Supervisor, SupervisorOptions,
};
use weft_testkit::Workspace;

/// A deadline for anything that should happen in a fraction of a second:
/// generous, for a loaded two-core machine.
pub(crate) const DEADLINE: Duration = Duration::from_secs(15);

/// The range most tests allocate ports from: below the ephemeral range, and
/// away from weft's default, so that probes' client sockets and other weft
/// processes on the machine do not compete for them. The port tests use
/// 31000-31999, which no other test touches.
pub(crate) const RANGE: &str = "30000-30999";

/// A workspace whose `weft.yaml` is `yaml`, with `@service` replaced by the
/// test service's path and `@range` by [`RANGE`].
pub(crate) fn workspace(yaml: &str) -> Workspace {
    let service = weft_testkit::ensure_test_service();
    let text = yaml
        .replace("@service", &service.display().to_string())
        .replace("@range", RANGE);
    Workspace::new().file("weft.yaml", &text)
}

/// The allocator every test uses: one directory for all of them (and for
/// other runs of this binary by the same user), since the tests run in
/// parallel and ports reserved through separate directories could be handed
/// to two of them at once.
pub(crate) fn allocator() -> PortAllocator {
    let directory = std::env::temp_dir()
        .join(format!("weft-launch-tests-{}", nix::unistd::getuid()))
        .join("ports");
    PortAllocator::in_directory(directory)
        .unwrap_or_else(|e| panic!("cannot use the port directory: {e}"))
}

/// The launch settings of every service of a workspace.
pub(crate) fn settings(workspace: &Workspace) -> LaunchSettings {
    let model = weft_discover::discover(workspace.root())
        .unwrap_or_else(|e| panic!("cannot discover the workspace: {e}"));
    let (settings, _notices) = LaunchSettings::from_model(&model, &LaunchRequest::default())
        .unwrap_or_else(|e| panic!("cannot resolve the launch settings: {e}"));
    settings
}

/// A running supervisor and the workspace it runs; clones share both.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) supervisor: Supervisor,
    workspace: Arc<Workspace>,
}

/// Starts a supervisor over `workspace` with the shared port allocator.
pub(crate) async fn start(workspace: Workspace) -> Launch {
    try_start(workspace)
        .await
        .unwrap_or_else(|e| panic!("cannot start the supervisor: {e}"))
}

/// [`start`], for a start that may fail.
pub(crate) async fn try_start(workspace: Workspace) -> Result<Launch, LaunchError> {
    let settings = settings(&workspace);
    let options = SupervisorOptions {
        reaper: None,
        allocator: allocator(),
        socket: weft_launch::control::socket_path(&settings.state_dir),
    };
    let supervisor = Supervisor::start(settings, options).await?;
    Ok(Launch {
        supervisor,
        workspace: Arc::new(workspace),
    })
}

/// Starts a supervisor over a workspace made of `yaml`, runs `body`, then
/// stops everything, whatever the body did.
pub(crate) async fn run<F, Fut>(yaml: &str, body: F)
where
    F: FnOnce(Launch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let launch = start(workspace(yaml)).await;
    supervised(std::slice::from_ref(&launch), body(launch.clone())).await;
}

/// Runs `body` (on a task of its own, so that a panic is caught), then shuts
/// down each of `launches`, then passes the body's panic on.
pub(crate) async fn supervised(
    launches: &[Launch],
    body: impl Future<Output = ()> + Send + 'static,
) {
    let outcome = tokio::spawn(body).await;
    for launch in launches {
        launch.shutdown().await;
    }
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("the test body did not finish: {error}"),
        }
    }
}

impl Launch {
    /// Stops every service (killing them all if that hangs) and ends the supervisor.
    pub(crate) async fn shutdown(&self) {
        let stopped = tokio::time::timeout(Duration::from_secs(60), self.supervisor.stop_all());
        if stopped.await.is_err() {
            self.supervisor.kill_all();
        }
        self.supervisor.finish().await;
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.workspace.path(relative)
    }

    pub(crate) fn settings(&self) -> &LaunchSettings {
        self.supervisor.settings()
    }

    /// The index of a service by name.
    pub(crate) fn index(&self, name: &str) -> usize {
        self.settings()
            .find(name)
            .unwrap_or_else(|| panic!("no service `{name}` in the launch settings"))
    }

    pub(crate) fn status(&self, name: &str) -> ServiceStatus {
        self.supervisor.statuses()[self.index(name)].clone()
    }

    /// Everything of a service's output still in memory.
    pub(crate) fn output(&self, name: &str) -> Vec<Arc<LogLine>> {
        self.supervisor.recent_output(self.index(name), usize::MAX)
    }

    /// The lines weft itself wrote about a service.
    pub(crate) fn notes(&self, name: &str) -> Vec<Arc<LogLine>> {
        self.output(name)
            .into_iter()
            .filter(|line| line.stream == Stream::Weft)
            .collect()
    }

    /// Waits (up to `timeout`) until `condition` holds of the statuses, and
    /// returns them; panics with what it waited for and where each service is.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&[ServiceStatus]) -> bool,
    ) -> Vec<ServiceStatus> {
        let deadline = Instant::now() + timeout;
        let mut changes = self.supervisor.changes();
        loop {
            changes.borrow_and_update();
            let statuses = self.supervisor.statuses();
            if condition(&statuses) {
                return statuses;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => panic!("the supervisor went away waiting for {what}"),
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.describe()
                ),
            }
        }
    }

    /// Waits until the named service is in `state`.
    pub(crate) async fn wait_state(&self, name: &str, state: State) -> ServiceStatus {
        let index = self.index(name);
        let statuses = self
            .wait_for(&format!("{name} to be {state}"), DEADLINE, |s| {
                s[index].state == state
            })
            .await;
        statuses[index].clone()
    }

    /// Waits until a line of the named service's output matches `predicate`
    /// (also one already printed) and returns it.
    pub(crate) async fn wait_line(
        &self,
        name: &str,
        predicate: impl Fn(&LogLine) -> bool,
    ) -> Arc<LogLine> {
        let index = self.index(name);
        // Subscribed before looking back, so that no line falls in between.
        let mut follow = self.supervisor.follow();
        if let Some(line) = self.output(name).into_iter().find(|l| predicate(l)) {
            return line;
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, follow.recv()).await {
                Ok(Ok(line)) if line.service == index && predicate(&line) => return line,
                Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                    panic!("the supervisor went away waiting for a line of {name}")
                }
                Err(_) => panic!(
                    "timed out waiting for a line of {name}\n{}",
                    self.describe()
                ),
            }
        }
    }

    /// Each service's state, reason and weft's last notes: for failure messages.
    pub(crate) fn describe(&self) -> String {
        let mut text = String::new();
        for (index, status) in self.supervisor.statuses().iter().enumerate() {
            text.push_str(&format!(
                "  {} {} (generation {}, restarts {}): {}\n",
                status.name,
                status.state,
                status.generation,
                status.restarts,
                status.reason.as_deref().unwrap_or("-")
            ));
            for line in self.supervisor.recent_output(index, 12) {
                text.push_str(&format!("    {:?} {}\n", line.stream, line.text));
            }
        }
        text
    }
}

/// Polls `condition` every 20 ms until it holds, for what no channel reports
/// (files, other processes); panics after [`DEADLINE`].
pub(crate) async fn poll_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a process runs: it exists and is not a zombie waiting for a parent
/// that will never reap it.
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Reads a pid file the test service wrote.
pub(crate) fn read_pid(path: &Path) -> u32 {
    let text = fs_err::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("bad pid in {}: {e}", path.display()))
}

/// The ports of a status, by name.
pub(crate) fn port(status: &ServiceStatus, name: &str) -> u16 {
    status
        .ports
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.port)
        .unwrap_or_else(|| panic!("{} has no port `{name}`: {:?}", status.name, status.ports))
}
