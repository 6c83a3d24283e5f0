//! `weft up` and the commands that talk to its supervisor (`status`, `logs`,
//! `why`, `restart`, `stop`, `start`, `down`), end to end: real supervisors in
//! the background and in the foreground, real child processes
//! (`weft-test-service`), real ports and real signals.
//!
//! Every test holds a [`Launch`], which runs `weft down` and then kills
//! whatever of its workspace still runs when it is dropped, so that a failed
//! assertion leaves no process behind either.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_testkit::Workspace;

use crate::support::Run;

/// How long one `weft` command may take before the test fails.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// How long anything polled for may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// db, ready once it listens (after 200 ms), and api, which needs it.
const DB_AND_API: &str = r#"name: t
ports: {range: 41000-44999}
launch: {readiness_timeout: 10s}
services:
  db: {command: "$TS --delay 200ms", ports: [{name: pg}], ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}}
  api: {command: "$TS", ports: [{}], ready: {http: "http://127.0.0.1:${PORT}/"}, depends_on: {db: required}, stop_timeout: 500ms}
"#;

#[test]
fn up_wait_starts_everything_and_down_leaves_nothing_running() {
    let launch = Launch::new(DB_AND_API);
    let up = launch.run(&["up", "--wait"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(up.stdout.contains("SERVICE  STATE"), "{}", up.stdout);
    assert!(up.stdout.contains("critical chain: db"), "{}", up.stdout);
    for name in ["db", "api"] {
        let row = up
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")));
        assert!(
            row.is_some_and(|r| r.contains(" ready ")),
            "{name} is not ready:\n{}",
            up.stdout
        );
    }

    let status = launch.status();
    assert_eq!(status["running"], true);
    let services = status["services"].as_array().unwrap();
    assert_eq!(names(services), ["db", "api"]);
    let mut ports = Vec::new();
    for service in services {
        assert_eq!(service["state"], "ready", "{service:#}");
        assert!(service["pid"].as_u64().is_some(), "{service:#}");
        assert_eq!(service["restarts"], 0, "{service:#}");
        assert_eq!(service["last_probe"]["ok"], true, "{service:#}");
        for port in service["ports"].as_array().unwrap() {
            ports.push(port["port"].as_u64().unwrap());
        }
    }
    assert_eq!(service(&status, "db")["ports"][0]["name"], "pg");
    assert_eq!(ports.len(), 2, "{status:#}");
    assert_ne!(ports[0], ports[1], "{status:#}");
    assert!(
        ports.iter().all(|p| (41000..=44999).contains(p)),
        "{ports:?}"
    );
    let chain: Vec<&str> = status["critical_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["service"].as_str().unwrap())
        .collect();
    assert_eq!(chain, ["db", "api"]);

    let logs = launch.run(&["logs"]);
    assert_eq!(logs.code, 0, "{logs:?}");
    for (name, port) in [("db ", ports[0]), ("api", ports[1])] {
        let line = format!("{name} | listening on 127.0.0.1:{port}");
        assert!(
            logs.stdout.contains(&line),
            "no `{line}` in:\n{}",
            logs.stdout
        );
    }
    assert!(
        logs.stdout.contains("db  | [weft] ready"),
        "{}",
        logs.stdout
    );
    // The last two lines: the `ready` note and the service's own
    // `listening`, in whichever order the supervisor read the pipe and
    // heard from the probe.
    let last = launch.run(&["logs", "api", "-n", "2", "--format", "json"]);
    assert_eq!(last.code, 0, "{last:?}");
    let lines: Vec<serde_json::Value> = last
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", last.stdout);
    assert!(
        lines.iter().all(|l| l["service"] == "api"),
        "{}",
        last.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l["stream"] == "weft" && l["text"] == "ready"),
        "{}",
        last.stdout
    );

    let (supervisor, processes) = launch.registered(&status);
    // What `assert_nothing_left` looks for is found while it runs.
    let running = launch.leftovers();
    for process in processes.iter().chain([&supervisor]) {
        assert!(
            running.contains(&process.pid),
            "{process:?} not in {running:?}"
        );
    }
    let down = launch.run(&["down"]);
    assert_eq!(down.code, 0, "{down:?}");
    // `down` returns once every service has stopped.
    for process in &processes {
        assert!(process.is_dead(), "{process:?} outlived `weft down`");
    }
    assert!(!launch.path(".weft/launch.json").exists());
    wait_until("the supervisor to exit", || {
        supervisor.is_dead().then_some(())
    });
    launch.assert_nothing_left();
    let after = launch.run(&["status"]);
    assert_eq!(after.code, 3, "{after:?}");
}

#[test]
fn up_wait_exits_1_with_the_blocked_path_when_a_required_dependency_fails() {
    let launch = Launch::new(&DB_AND_API.replace(
        "$TS --delay 200ms",
        "$TS --delay 5s --exit-after 100ms --exit-code 1",
    ));
    let up = launch.run(&["up", "--wait"]);
    assert_eq!(up.code, 1, "{up:?}");
    let blocked = up
        .stdout
        .lines()
        .find(|l| l.starts_with("not ready: api"))
        .unwrap_or_else(|| panic!("api is not explained:\n{}", up.stdout));
    assert!(
        blocked.contains("api needs db (required, until ready) → db is failed"),
        "{blocked}"
    );
    assert!(blocked.contains("exited with code 1"), "{blocked}");
    assert!(up.stderr.contains("the supervisor keeps running"), "{up:?}");

    // The supervisor kept running, and explains.
    let status = launch.run(&["status", "--format", "json"]);
    assert_eq!(status.code, 1, "a failed service is exit 1: {status:?}");
    let status = status.json();
    assert_eq!(status["running"], true);
    assert_eq!(service(&status, "db")["state"], "failed");
    let why = launch.run(&["why", "api", "--format", "json"]);
    assert_eq!(why.code, 0, "{why:?}");
    let why = why.json();
    assert_eq!(why["service"], "api");
    let path: Vec<&str> = why["blocked_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step.as_str().unwrap())
        .collect();
    assert_eq!(path.len(), 2, "{why:#}");
    assert!(path[0].starts_with("api needs db"), "{path:?}");
    assert!(path[1].starts_with("db is failed"), "{path:?}");
    let db = &why["dependencies"][0];
    assert_eq!(db["service"], "db");
    assert_eq!(db["kind"], "required");
    assert_eq!(db["condition"], "ready");
    assert_eq!(db["state"], "failed");
    assert_eq!(db["met"], false);
    assert!(
        db["provenance"].as_str().unwrap().starts_with("weft.yaml:"),
        "{db:#}"
    );
}

#[test]
fn up_wait_exits_1_naming_the_service_not_ready_by_the_timeout() {
    let launch = Launch::new(
        r#"name: t
ports: {range: 41000-44999}
launch: {readiness_timeout: 1m}
services:
  slow: {command: "$TS --status 503", ports: [{}], ready: {http: "http://127.0.0.1:${PORT}/"}}
"#,
    );
    let began = Instant::now();
    let up = launch.run(&["up", "--wait", "--timeout", "2s"]);
    let took = began.elapsed();
    assert_eq!(up.code, 1, "{up:?}");
    assert!(took >= Duration::from_secs(2), "returned after {took:?}");
    assert!(
        up.stdout.contains("not ready: slow is starting"),
        "{}",
        up.stdout
    );
    assert!(up.stdout.contains("HTTP 503"), "{}", up.stdout);
    // Still probing in the background.
    assert_eq!(service(&launch.status(), "slow")["state"], "starting");
}

#[test]
fn up_with_two_probes_in_one_ready_exits_2_with_the_location() {
    let launch =
        Launch::new("name: t\nservices:\n  db: {command: \"$TS\", ready: {tcp: x, http: y}}\n");
    let written = fs_err::read_to_string(launch.path("weft.yaml")).unwrap();
    let column = written.lines().nth(2).unwrap().find("ready").unwrap() + 1;
    let location = format!("weft.yaml:3:{column}");
    for arguments in [&["up", "--wait"][..], &["up", "-d"], &["up"]] {
        let up = launch.run(arguments);
        assert_eq!(up.code, 2, "{arguments:?}: {up:?}");
        assert!(
            up.stderr.contains(&location),
            "no {location} in {}",
            up.stderr
        );
        assert!(up.stderr.contains("names 2 probes"), "{}", up.stderr);
    }
    assert!(!launch.path(".weft").exists(), "nothing was started");
}

#[test]
fn killing_the_supervisor_leaves_no_orphan_and_the_next_up_starts_cleanly() {
    let launch = Launch::new(
        r#"name: t
ports: {range: 41000-44999}
launch: {readiness_timeout: 10s}
services:
  db: {command: "$TS", ports: [{}], ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}}
  worker: {command: "$TS --spawn-child --pid-file worker.pid", ready: {file: worker.pid.child, start_period: 20ms}, depends_on: {db: required}}
"#,
    );
    let up = launch.run(&["up", "--wait"]);
    assert_eq!(up.code, 0, "{up:?}");
    let (supervisor, mut processes) = launch.registered(&launch.status());
    processes.push(launch.pid_file("worker.pid.child"));
    assert!(processes.iter().all(|p| !p.is_dead()), "{processes:?}");

    signal("KILL", supervisor.pid);
    for process in &processes {
        wait_until(&format!("{process:?} to die with the supervisor"), || {
            process.is_dead().then_some(())
        });
    }
    let status = launch.run(&["status"]);
    assert_eq!(status.code, 3, "{status:?}");
    let gone = format!("the supervisor (pid {}) is gone", supervisor.pid);
    assert!(status.stderr.contains(&gone), "{}", status.stderr);
    assert!(
        status.stderr.contains("no supervisor is running"),
        "{}",
        status.stderr
    );
    launch.assert_nothing_left();

    fs_err::remove_file(launch.path("worker.pid.child")).unwrap();
    let again = launch.run(&["up", "--wait"]);
    assert_eq!(again.code, 0, "{again:?}");
    let status = launch.status();
    assert!(
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "ready"),
        "{status:#}"
    );
    let grandchild = launch.pid_file("worker.pid.child");
    let down = launch.run(&["down"]);
    assert_eq!(down.code, 0, "{down:?}");
    wait_until("the grandchild to die", || {
        grandchild.is_dead().then_some(())
    });
    launch.assert_nothing_left();
}

#[test]
fn down_kills_a_service_that_ignores_sigterm_after_its_stop_timeout() {
    let launch = Launch::new(
        r#"name: t
ports: {range: 41000-44999}
services:
  stubborn: {command: "$TS --ignore-term", ports: [{}], ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}, stop_timeout: 300ms}
"#,
    );
    let up = launch.run(&["up", "--wait"]);
    assert_eq!(up.code, 0, "{up:?}");
    let (_, processes) = launch.registered(&launch.status());

    let began = Instant::now();
    let down = launch.run(&["down"]);
    let took = began.elapsed();
    assert_eq!(down.code, 0, "{down:?}");
    // The grace period was waited, and not the default of 10 s.
    assert!(took >= Duration::from_millis(300), "down took {took:?}");
    assert!(took < Duration::from_secs(5), "down took {took:?}");
    assert!(
        processes[0].is_dead(),
        "{:?} outlived `weft down`",
        processes[0]
    );

    let logs = launch.run(&["logs", "stubborn"]);
    assert_eq!(logs.code, 0, "{logs:?}");
    assert!(logs.stdout.contains("ignoring SIGTERM"), "{}", logs.stdout);
    assert!(
        logs.stdout
            .contains("did not stop within 300ms of SIGTERM; killed"),
        "{}",
        logs.stdout
    );
    launch.assert_nothing_left();
}

#[test]
fn foreground_up_streams_prefixed_output_and_stops_everything_on_sigint() {
    let launch = Launch::new(DB_AND_API);
    let mut foreground = Foreground::spawn(launch.command(&["up"]));
    for name in ["db", "api"] {
        foreground.expect("stdout", &format!("`{name} | [weft] ready`"), |line| {
            line.split_once('|').is_some_and(|(prefix, text)| {
                prefix.trim() == name && text.trim() == "[weft] ready"
            })
        });
    }
    foreground.expect("stdout", "`db | listening on …`", |line| {
        line.starts_with("db   | listening on 127.0.0.1:")
    });
    foreground.expect("stderr", "`services ready in`", |line| {
        line.contains("[weft] 2 of 2 services ready in")
    });
    let (supervisor, processes) = launch.registered(&launch.status());
    assert_eq!(
        supervisor.pid,
        foreground.child.id(),
        "the foreground supervises"
    );

    signal("INT", foreground.child.id());
    let status = foreground.wait();
    assert_eq!(status.code(), Some(0), "{status:?}");
    foreground.expect("stderr", "`stopped`", |line| line == "stopped");
    foreground.expect("stdout", "`db | [weft] stopped`", |line| {
        line.starts_with("db ") && line.ends_with("| [weft] stopped")
    });
    for process in &processes {
        assert!(
            process.is_dead(),
            "{process:?} outlived the foreground `weft up`"
        );
    }
    assert!(!launch.path(".weft/launch.json").exists());
    launch.assert_nothing_left();
}

#[test]
fn two_workspaces_preferring_one_port_get_distinct_ports() {
    let yaml = r#"name: t
ports: {range: 41000-44999}
services:
  one: {command: "$TS", ports: [{preferred: 42424}], ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}}
  two: {command: "$TS", ports: [{preferred: 42424}], ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}}
"#;
    let first = Launch::new(yaml);
    let second = Launch::new(yaml);
    for launch in [&first, &second] {
        let up = launch.run(&["up", "--wait"]);
        assert_eq!(up.code, 0, "{up:?}");
    }
    let mut ports: Vec<u64> = Vec::new();
    for launch in [&first, &second] {
        for service in launch.status()["services"].as_array().unwrap() {
            assert_eq!(service["state"], "ready", "{service:#}");
            ports.push(service["ports"][0]["port"].as_u64().unwrap());
        }
    }
    let mut distinct = ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "ports handed out twice: {ports:?}");
}

#[test]
fn a_second_up_in_a_running_workspace_exits_2() {
    let launch = Launch::new(DB_AND_API);
    let up = launch.run(&["up", "-d"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(
        up.stderr.contains("started a background supervisor"),
        "{}",
        up.stderr
    );
    let supervisor = launch.status()["supervisor"]["pid"].clone();
    for arguments in [&["up", "-d"][..], &["up", "--wait"], &["up"]] {
        let again = launch.run(arguments);
        assert_eq!(again.code, 2, "{arguments:?}: {again:?}");
        let running =
            format!("a supervisor is already running for this workspace (pid {supervisor})");
        assert!(again.stderr.contains(&running), "{}", again.stderr);
    }
    // The first one was not disturbed.
    let status = launch.status();
    assert_eq!(status["supervisor"]["pid"], supervisor);
}

#[test]
fn the_supervisor_raises_its_open_file_limit_and_services_get_the_shells() {
    let launch = Launch::new(
        r#"name: t
ports: {range: 41000-44999}
services:
  limits: {command: "ulimit -Sn > limit.txt; exec sleep 60"}
"#,
    );
    // `weft up` from a shell whose soft limit is 256, as a small default.
    let weft = launch.command(&["up", "--detach"]);
    let mut wrapped = Command::new("sh");
    wrapped
        .arg("-c")
        .arg("ulimit -Sn 256 && exec \"$0\" \"$@\"")
        .arg(weft.get_program())
        .args(weft.get_args())
        .current_dir(&launch.root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in weft.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    assert!(wrapped.status().unwrap().success());
    let service = wait_until("the service to write its limit", || {
        fs_err::read_to_string(launch.path("limit.txt"))
            .ok()
            .filter(|text| text.ends_with('\n'))
    });
    assert_eq!(
        service.trim(),
        "256",
        "services start with the shell's limit"
    );
    let supervisor = launch.registered(&launch.status()).0;
    let limits = fs_err::read_to_string(format!("/proc/{}/limits", supervisor.pid)).unwrap();
    let open_files: Vec<&str> = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    let (soft, hard) = (open_files[3], open_files[4]);
    assert_eq!(
        soft, hard,
        "the supervisor's soft limit is raised: {limits}"
    );
    assert_ne!(soft, "256", "{limits}");
}

#[test]
fn restart_stop_and_start_control_one_service() {
    let launch = Launch::new(DB_AND_API);
    let up = launch.run(&["up", "--wait"]);
    assert_eq!(up.code, 0, "{up:?}");
    let before = service(&launch.status(), "api").clone();
    let old = Process::of(&before);
    let db_pid = service(&launch.status(), "db")["pid"].clone();

    let restart = launch.run(&["restart", "api"]);
    assert_eq!(restart.code, 0, "{restart:?}");
    assert!(
        restart.stderr.contains("restarted api"),
        "{}",
        restart.stderr
    );
    assert!(old.is_dead(), "the old api process outlived `weft restart`");
    let after = launch.wait_for_state("api", "ready");
    assert_ne!(after["pid"], before["pid"]);
    assert!(
        after["generation"].as_u64() > before["generation"].as_u64(),
        "{before:#}\n{after:#}"
    );
    assert_eq!(
        service(&launch.status(), "db")["pid"],
        db_pid,
        "db untouched"
    );

    let restarted = Process::of(&after);
    let stop = launch.run(&["stop", "api"]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(stop.stderr.contains("stopped api"), "{}", stop.stderr);
    let status = launch.status();
    let stopped = service(&status, "api");
    assert_eq!(stopped["state"], "stopped", "{stopped:#}");
    assert!(stopped.get("pid").is_none(), "{stopped:#}");
    assert!(restarted.is_dead());
    assert_eq!(service(&status, "db")["state"], "ready");

    let start = launch.run(&["start", "api"]);
    assert_eq!(start.code, 0, "{start:?}");
    let started = launch.wait_for_state("api", "ready");
    assert_ne!(started["pid"], after["pid"]);

    let unknown = launch.run(&["restart", "nope"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown
            .stderr
            .contains("no running service is named `nope`"),
        "{}",
        unknown.stderr
    );
}

/// A workspace whose weft.yaml runs `weft-test-service` (written `$TS`).
/// Dropped, it runs `weft down` and kills whatever of it still runs.
struct Launch {
    _workspace: Workspace,
    /// The canonical root, as weft and its processes know it.
    root: PathBuf,
}

impl Launch {
    fn new(weft_yaml: &str) -> Self {
        let program = weft_testkit::ensure_test_service();
        let program = program.to_str().unwrap();
        assert!(!program.contains(char::is_whitespace), "{program}");
        let workspace = Workspace::new().file("weft.yaml", &weft_yaml.replace("$TS", program));
        let root = workspace.root().canonicalize().unwrap();
        Launch {
            _workspace: workspace,
            root,
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// `weft ARGUMENTS` in the workspace, with colour off and a port
    /// directory of the tests' own.
    fn command(&self, arguments: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
        command
            .args(arguments)
            .current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env("WEFT_PORT_DIR", port_directory())
            .env_remove("WEFT_WORKSPACE")
            .env_remove("WEFT_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `weft` to its end, failing the test past [`COMMAND_DEADLINE`].
    fn run(&self, arguments: &[&str]) -> Run {
        let mut child = self.command(arguments).spawn().unwrap();
        let stdout = read_all(child.stdout.take().unwrap());
        let stderr = read_all(child.stderr.take().unwrap());
        let status = wait_with_deadline(&mut child, COMMAND_DEADLINE);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let run = Run {
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        };
        assert!(
            status.is_some(),
            "`weft {}` did not finish within {COMMAND_DEADLINE:?}: {run:?}",
            arguments.join(" ")
        );
        assert!(!run.stderr.contains("panicked"), "weft panicked: {run:?}");
        run
    }

    /// `weft status --format json` of a running supervisor.
    fn status(&self) -> Value {
        let run = self.run(&["status", "--format", "json"]);
        assert!(matches!(run.code, 0 | 1), "{run:?}");
        let status = run.json();
        assert_eq!(status["running"], true, "{status:#}");
        status
    }

    /// Polls `weft status` until `name` is in `state`; returns the service.
    fn wait_for_state(&self, name: &str, state: &str) -> Value {
        wait_until(&format!("{name} to be {state}"), || {
            let status = self.status();
            let service = service(&status, name);
            (service["state"] == state).then(|| service.clone())
        })
    }

    /// The supervisor and the service processes `.weft/launch.json` lists,
    /// once it agrees with `status` (it is written at most every 50 ms).
    fn registered(&self, status: &Value) -> (Process, Vec<Process>) {
        let live: Vec<&Value> = status["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["pid"])
            .collect();
        wait_until(".weft/launch.json to list every service's pid", || {
            let text = std::fs::read_to_string(self.path(".weft/launch.json")).ok()?;
            let registry: Value = serde_json::from_str(&text).ok()?;
            let services = registry["services"].as_array()?;
            let pids: Vec<&Value> = services.iter().map(|s| &s["pid"]).collect();
            if pids != live {
                return None;
            }
            let supervisor = &registry["supervisor"];
            Some((
                Process::of(supervisor),
                services.iter().map(Process::of).collect(),
            ))
        })
    }

    /// The process whose pid a test service wrote to `relative`.
    fn pid_file(&self, relative: &str) -> Process {
        let text = fs_err::read_to_string(self.path(relative)).unwrap();
        Process::new(text.trim().parse().unwrap())
    }

    /// Live processes of this workspace: those that run in it (the
    /// supervisor, its reaper, the services), name it on their command line
    /// (the background supervisor) or carry it as `WEFT_WORKSPACE` (services
    /// and their children).
    fn leftovers(&self) -> Vec<u32> {
        let root = self.root.as_os_str().as_encoded_bytes();
        let marker = [b"WEFT_WORKSPACE=", root].concat();
        let own = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != own && !Process::new(pid).is_dead())
            .filter(|&pid| {
                let read = |file: &str| std::fs::read(format!("/proc/{pid}/{file}"));
                let has = |file: &str, wanted: &[u8]| {
                    read(file)
                        .is_ok_and(|bytes| bytes.split(|&b| b == 0).any(|part| part == wanted))
                };
                std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == self.root)
                    || has("cmdline", root)
                    || has("environ", &marker)
            })
            .collect()
    }

    fn assert_nothing_left(&self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = self.leftovers();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {DEADLINE:?}: {}",
                describe(&left)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Launch {
    /// Never panics: it also runs while a failed test unwinds.
    fn drop(&mut self) {
        if let Ok(mut down) = self
            .command(&["down"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            && wait_with_deadline(&mut down, COMMAND_DEADLINE).is_none()
        {
            let _ = down.kill();
            let _ = down.wait();
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = self.leftovers();
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                for pid in left {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `weft up` in the foreground, its output read line by line as it comes.
/// Dropped while it runs, it is killed (its services die with it).
struct Foreground {
    child: Child,
    lines: mpsc::Receiver<(&'static str, String)>,
    seen: Vec<(&'static str, String)>,
}

impl Foreground {
    fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().unwrap();
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        forward_lines("stdout", stdout, sender.clone());
        forward_lines("stderr", stderr, sender);
        Foreground {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line of `stream` that `matches`, failing past [`DEADLINE`].
    fn expect(&mut self, stream: &str, what: &str, matches: impl Fn(&str) -> bool) {
        let found = |seen: &[(&str, String)]| seen.iter().any(|(s, l)| *s == stream && matches(l));
        let deadline = Instant::now() + DEADLINE;
        while !found(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no {what} on {stream} within {DEADLINE:?}; the output so far:\n{}",
                    self.seen
                        .iter()
                        .map(|(s, l)| format!("{s}: {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// Waits for `weft up` to exit, failing past [`DEADLINE`].
    fn wait(&mut self) -> ExitStatus {
        wait_with_deadline(&mut self.child, DEADLINE)
            .unwrap_or_else(|| panic!("`weft up` did not exit within {DEADLINE:?}"))
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A process, told from a later one that reuses its pid by its start time.
#[derive(Debug, Clone, Copy)]
struct Process {
    pid: u32,
    start_ticks: Option<u64>,
}

impl Process {
    fn new(pid: u32) -> Self {
        Process {
            pid,
            start_ticks: stat(pid).and_then(|(_, ticks)| ticks),
        }
    }

    /// From a JSON object with `pid` and `start_ticks` (the registry, status).
    fn of(value: &Value) -> Self {
        let pid = value["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("no pid in {value:#}"));
        Process {
            pid: u32::try_from(pid).unwrap(),
            start_ticks: value["start_ticks"].as_u64(),
        }
    }

    /// Gone, a zombie (what exited and nothing reaped yet: an orphan's
    /// parent may be an init that reaps late), or its pid reused.
    fn is_dead(&self) -> bool {
        match stat(self.pid) {
            None => true,
            Some((state, ticks)) => {
                matches!(state, 'Z' | 'X')
                    || (self.start_ticks.is_some() && ticks != self.start_ticks)
            }
        }
    }
}

/// The state letter and the start time of `pid`, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, Option<u64>)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name may hold spaces and parentheses: the fields follow the last `)`.
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(18).and_then(|t| t.parse().ok())))
}

/// `pid (command line)` of each process, for failure messages.
fn describe(pids: &[u32]) -> String {
    pids.iter()
        .map(|pid| {
            let line = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let line = String::from_utf8_lossy(&line).replace('\0', " ");
            format!("{pid} ({})", line.trim())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The service called `name` in a status.
fn service<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {status:#}"))
}

fn names(services: &[Value]) -> Vec<&str> {
    services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

/// The port lock directory every test of this binary shares, instead of the
/// machine-wide one: tests running at once coordinate through it as weft
/// processes on one machine do, and nothing outside the tests is affected.
fn port_directory() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("weft-launch-ports")
}

/// Sends `signal` (`INT`, `KILL`) to `pid` with kill(1).
fn signal(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// Polls `probe` until it gives a value, failing past [`DEADLINE`].
fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child's exit status, or `None` once `deadline` passed.
fn wait_with_deadline(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + deadline;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a pipe to its end on a thread of its own.
fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Sends each line of a pipe, tagged with `stream`, until it closes.
fn forward_lines(
    stream: &'static str,
    pipe: impl Read + Send + 'static,
    sender: mpsc::Sender<(&'static str, String)>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if sender.send((stream, line)).is_err() {
                return;
            }
        }
    });
}
