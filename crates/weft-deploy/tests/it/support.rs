//! A workspace of N services, each "deployed" by a shell step that writes
//! its version to a state file, and a health server that answers for each
//! service from that file, so gates see exactly what the last step did.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use weft_deploy::{Outcome, Plan, Progress, Release, ReleaseRequest, Signals};
use weft_model::Model;
use weft_store::{
    AlertThresholds, Coordinator, CoordinatorMode, DeploymentKind, Holder, LeasePolicy, Store,
};
use weft_testkit::Workspace;

/// An HTTP server on 127.0.0.1: `GET /NAME` answers 200 with the content of
/// `STATE/NAME` when the file exists and does not start with `bad`, 500 for a
/// `bad…` version, 404 when nothing was deployed. `GET /slow/NAME` sleeps 2 s first.
pub(crate) struct HealthServer {
    pub(crate) port: u16,
    stop: Arc<AtomicBool>,
}

impl HealthServer {
    pub(crate) fn start(state: &Path) -> HealthServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let state = state.to_path_buf();
        let stopping = stop.clone();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let state = state.clone();
                std::thread::spawn(move || answer(stream, &state));
            }
        });
        HealthServer { port, stop }
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(mut stream: std::net::TcpStream, state: &Path) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).map_or(true, |n| n == 0) || header == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let name = path.trim_start_matches("/slow").trim_start_matches('/');
    let (status, body) = match std::fs::read_to_string(state.join(name)) {
        Ok(version) if version.trim().starts_with("bad") => (
            "500 Internal Server Error",
            format!("{{\"version\":\"{}\",\"ok\":false}}", version.trim()),
        ),
        Ok(version) => (
            "200 OK",
            format!("{{\"version\":\"{}\",\"ok\":true}}", version.trim()),
        ),
        Err(_) => ("404 Not Found", "{}".to_string()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A test workspace: services `r1/s1`…, each in its own repository, each
/// deployed by a step that appends `deploy NAME VERSION` (or `rollback …`)
/// to `log` and writes the version to `state/NAME`.
pub(crate) struct Fixture {
    pub(crate) workspace: Workspace,
    pub(crate) health: HealthServer,
}

impl Fixture {
    /// `services`: (name, required dependencies, extra deploy keys as YAML lines).
    pub(crate) fn new(environment: &str, services: &[(&str, &[&str], &str)]) -> Fixture {
        let workspace = Workspace::new();
        fs_err::create_dir_all(workspace.path("state")).expect("state directory");
        let health = HealthServer::start(&workspace.path("state"));
        let mut yaml = "name: deploy-test\nrepositories:\n".to_string();
        for (name, _, _) in services {
            yaml.push_str(&format!("  {name}: {{path: {name}}}\n"));
            workspace.write(&format!("{name}/README.md"), "a repository\n");
        }
        yaml.push_str(&format!("environments:\n{environment}\nservices:\n"));
        for (name, needs, extra) in services {
            yaml.push_str(&format!("  {name}:\n    repository: {name}\n"));
            if !needs.is_empty() {
                yaml.push_str("    depends_on:\n");
                for need in *needs {
                    yaml.push_str(&format!("      {need}: required\n"));
                }
            }
            yaml.push_str("    deploy:\n");
            if extra.contains("steps:") {
                yaml.push_str(extra);
            } else {
                yaml.push_str(&format!(
                    "      steps:\n        - run: sh ../deploy.sh\n      gates:\n        - http: \"http://127.0.0.1:{port}/{name}\"\n          json: {{pointer: /version, equals: \"${{WEFT_VERSION}}\"}}\n          interval: 20ms\n          timeout: 3s\n{extra}",
                    port = health.port
                ));
            }
        }
        workspace.write("weft.yaml", &yaml);
        workspace.write(
            "deploy.sh",
            "if [ \"$WEFT_ROLLBACK\" = 1 ]; then verb=rollback; else verb=deploy; fi\n\
             echo \"$verb $WEFT_SERVICE $WEFT_VERSION\" >> ../log\n\
             printf %s \"$WEFT_VERSION\" > \"../state/$WEFT_SERVICE\"\n",
        );
        Fixture { workspace, health }
    }

    pub(crate) fn model(&self) -> Model {
        weft_discover::discover(self.workspace.root()).expect("the workspace reads")
    }

    pub(crate) fn log(&self) -> Vec<String> {
        fs_err::read_to_string(self.workspace.path("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub(crate) fn clear_log(&self) {
        let _ = fs_err::remove_file(self.workspace.path("log"));
    }

    pub(crate) fn state(&self, service: &str) -> Option<String> {
        fs_err::read_to_string(self.workspace.path(&format!("state/{service}"))).ok()
    }

    pub(crate) fn store_path(&self) -> PathBuf {
        self.workspace.path(".weft/state.db")
    }

    pub(crate) async fn coordinator(&self) -> Coordinator {
        fs_err::create_dir_all(self.workspace.path(".weft")).expect(".weft");
        let store = Store::open(
            &self.store_path().display().to_string(),
            LeasePolicy::default(),
        )
        .await
        .expect("the store opens");
        Coordinator::start(store, CoordinatorMode::Local, AlertThresholds::default())
            .await
            .expect("the coordinator starts")
    }

    /// Plans and runs a release of `set` to `environment`.
    pub(crate) async fn release(
        &self,
        coordinator: &Coordinator,
        environment: &str,
        set: &[(&str, &str)],
    ) -> (Outcome, Vec<Progress>) {
        let live = weft_deploy::manifest::live_state(coordinator.store(), environment)
            .await
            .expect("live state");
        let request = ReleaseRequest {
            environment: environment.to_string(),
            set: set
                .iter()
                .map(|(s, v)| (s.to_string(), v.to_string()))
                .collect(),
            ..ReleaseRequest::default()
        };
        let model = self.model();
        let plan = Plan::build(&model, &request, &live.versions).expect("the release plans");
        let notifier = weft_deploy::notify::notifier(&model.config);
        run_notifying(
            coordinator,
            plan,
            DeploymentKind::Release,
            Signals::none(),
            notifier,
        )
        .await
    }
}

pub(crate) async fn run(
    coordinator: &Coordinator,
    plan: Plan,
    kind: DeploymentKind,
    signals: Signals,
) -> (Outcome, Vec<Progress>) {
    run_notifying(coordinator, plan, kind, signals, None).await
}

/// [`run`], telling `notifier` how it goes.
pub(crate) async fn run_notifying(
    coordinator: &Coordinator,
    plan: Plan,
    kind: DeploymentKind,
    signals: Signals,
    notifier: Option<Arc<weft_notify::Notifier>>,
) -> (Outcome, Vec<Progress>) {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let release = Release {
        plan,
        kind,
        rollback_of: None,
        who: serde_json::json!({"user": "test"}),
        holder: Holder::default(),
        wait: Duration::ZERO,
        github: None,
        artifacts: None,
        notifier,
    };
    let outcome = weft_deploy::engine::run(coordinator, release, sender, signals)
        .await
        .expect("the release runs");
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    (outcome, events)
}

/// Versions by service name, from a manifest's service ids.
pub(crate) fn by_name(versions: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    versions
        .iter()
        .map(|(id, v)| (id.rsplit('/').next().unwrap_or(id).to_string(), v.clone()))
        .collect()
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
pub(crate) fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}
