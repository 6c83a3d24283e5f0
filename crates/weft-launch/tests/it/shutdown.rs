//! Stopping: a process that ignores the stop signal is killed after its
//! grace period, dependents stop before what they need, and nothing a
//! service started outlives it.

use std::time::{Duration, Instant};

use weft_launch::State;
use weft_launch::output::Stream;

use crate::support::{self, alive, poll_until, read_pid};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_ignores_sigterm_is_killed_after_its_grace() {
    // Ready once it printed `starting`, that is once it catches SIGTERM.
    let yaml = r#"
name: t
services:
  stubborn:
    command: "@service --ignore-term"
    ready: {log: "^starting$"}
    stop_timeout: 300ms
"#;
    support::run(yaml, |launch| async move {
        let index = launch.index("stubborn");
        let ready = launch.wait_state("stubborn", State::Ready).await;
        let pid = ready.pid.unwrap();
        assert!(alive(pid));

        let began = Instant::now();
        launch.supervisor.stop(index).await;
        let took = began.elapsed();
        assert!(took >= Duration::from_millis(300), "stopped in {took:?}");
        assert!(took < Duration::from_secs(10), "stopped in {took:?}");
        let stopped = launch.status("stubborn");
        assert_eq!(stopped.state, State::Stopped);
        assert_eq!(stopped.pid, None);
        assert!(stopped.ports.is_empty());
        // Reaped by the supervisor: not even a zombie is left.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        let output = launch.output("stubborn");
        assert!(
            output
                .iter()
                .any(|l| l.stream == Stream::Stderr && l.text == "ignoring SIGTERM"),
            "{output:#?}"
        );
        let notes: Vec<&str> = output
            .iter()
            .filter(|l| l.stream == Stream::Weft)
            .map(|l| l.text.as_str())
            .collect();
        assert!(
            notes.contains(&"did not stop within 300ms of SIGTERM; killed"),
            "{notes:#?}"
        );
        assert_eq!(notes.last(), Some(&"stopped"));

        // And it starts again on demand, as a new process.
        launch.supervisor.start_again(index).await;
        let again = launch.wait_state("stubborn", State::Ready).await;
        assert_eq!(again.generation, ready.generation + 1);
        assert_ne!(again.pid, Some(pid));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_all_stops_dependents_before_their_dependencies() {
    // Each takes its whole grace of 300ms to stop, so that stops run one
    // after the other show in the times.
    let yaml = r#"
name: t
services:
  db:
    command: "@service --ignore-term"
    ready: {log: "^starting$"}
    stop_timeout: 300ms
  api:
    command: "@service --ignore-term"
    ready: {log: "^starting$"}
    stop_timeout: 300ms
    depends_on: {db: required}
  web:
    command: "@service --ignore-term"
    ready: {log: "^starting$"}
    stop_timeout: 300ms
    depends_on: {api: required}
"#;
    support::run(yaml, |launch| async move {
        let statuses = launch
            .wait_for("every service to be ready", support::DEADLINE, |s| {
                s.iter().all(|s| s.state == State::Ready)
            })
            .await;
        let pids: Vec<u32> = statuses.iter().map(|s| s.pid.unwrap()).collect();
        let began = Instant::now();
        launch.supervisor.stop_all().await;
        assert!(began.elapsed() >= Duration::from_millis(900));
        for status in launch.supervisor.statuses() {
            assert_eq!(status.state, State::Stopped, "{}", status.name);
        }
        for pid in pids {
            assert!(!alive(pid), "{pid} outlived stop_all");
        }
        let stopping = |name: &str| {
            launch
                .notes(name)
                .iter()
                .rev()
                .find(|l| l.text == "stopping")
                .unwrap_or_else(|| panic!("{name} never stopped"))
                .at_ms
        };
        let (db, api, web) = (stopping("db"), stopping("api"), stopping("web"));
        // A stop starts once the one before it has ended, 300ms later.
        assert!(api >= web + 299, "api began to stop at {api}, web at {web}");
        assert!(db >= api + 299, "db began to stop at {db}, api at {api}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_service_leaves_no_grandchild_behind() {
    let yaml = r#"
name: t
services:
  parent:
    command: "@service --spawn-child --pid-file parent.pid"
"#;
    support::run(yaml, |launch| async move {
        let child_file = launch.path("parent.pid.child");
        poll_until("the grandchild's pid file", || child_file.is_file()).await;
        let child = read_pid(&child_file);
        let parent = read_pid(&launch.path("parent.pid"));
        assert_eq!(launch.status("parent").pid, Some(parent));
        assert!(alive(child));

        launch.supervisor.stop(launch.index("parent")).await;
        assert_eq!(launch.status("parent").state, State::Stopped);
        assert!(!alive(parent));
        poll_until("the grandchild to die", || !alive(child)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_exits_on_its_own_leaves_no_grandchild_behind() {
    let yaml = r#"
name: t
services:
  parent:
    command: "@service --spawn-child --pid-file parent.pid --exit-after 1s --exit-code 0"
"#;
    support::run(yaml, |launch| async move {
        let child_file = launch.path("parent.pid.child");
        poll_until("the grandchild's pid file", || child_file.is_file()).await;
        let child = read_pid(&child_file);
        let completed = launch.wait_state("parent", State::Completed).await;
        assert_eq!(completed.last_exit.unwrap().code, Some(0));
        poll_until("the grandchild to die", || !alive(child)).await;
    })
    .await;
}
