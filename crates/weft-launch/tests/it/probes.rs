//! Readiness probes of each kind, against a real process: each passes once
//! the service is up, a wrong answer keeps it starting until the readiness
//! timeout fails it, and readiness is checked for as long as it runs.

use weft_launch::State;

use crate::support::{self, DEADLINE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_probe_passes_once_the_service_is_up() {
    // `exec` waits for a file the test writes; the others for the service.
    let yaml = r#"
name: t
services:
  http:
    command: "@service --delay 150ms"
    ports: [{name: http}]
    ready: {http: "http://127.0.0.1:${PORT}/healthz", start_period: 20ms}
  expected:
    command: "@service --status 503"
    ports: [{name: http}]
    ready: {http: "http://127.0.0.1:${PORT}/", status: 503, start_period: 20ms}
  tcp:
    command: "@service --delay 150ms"
    ports: [{name: http}]
    ready: {tcp: "127.0.0.1:${WEFT_PORT_HTTP}", start_period: 20ms}
  exec:
    command: "@service"
    ready: {exec: "test -f exec-flag", start_period: 20ms, period: 100ms}
  log:
    command: "@service --delay 150ms"
    ports: [{name: http}]
    ready: {log: 'listening on 127\.0\.0\.1:\d+$'}
  file:
    command: "@service --delay 150ms --ready-file ready.txt"
    ready: {file: ready.txt, start_period: 20ms}
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        let names = ["http", "expected", "tcp", "log", "file"];
        let indices = names.map(|name| launch.index(name));
        let statuses = launch
            .wait_for("every service but exec to be ready", DEADLINE, |s| {
                indices.iter().all(|&i| s[i].state == State::Ready)
            })
            .await;
        for name in names {
            let status = &statuses[launch.index(name)];
            let probe = status.last_probe.as_ref().expect("a probe result");
            assert!(probe.ok, "{name}: {probe:?}");
            assert_eq!(probe.probe, "ready");
            if name != "expected" {
                let started = status.started_at_ms.unwrap();
                // Give or take the time it took to exec.
                assert!(
                    status.ready_since_ms.unwrap() >= started + 100,
                    "{name} was ready before it was up"
                );
            }
        }
        let message = |name: &str| statuses[launch.index(name)].last_probe.clone().unwrap();
        assert_eq!(message("http").message, "HTTP 200");
        assert_eq!(message("expected").message, "HTTP 503");
        let port = crate::support::port(&statuses[launch.index("tcp")], "http");
        assert_eq!(message("tcp").check, format!("tcp 127.0.0.1:{port}"));
        assert!(message("log").message.starts_with("matched `listening on"));
        assert!(launch.path("ready.txt").is_file());

        // The exec probe fails until its file exists.
        let exec = launch.index("exec");
        let failed = launch
            .wait_for("a failed exec probe", DEADLINE, |s| {
                s[exec].last_probe.as_ref().is_some_and(|p| !p.ok)
            })
            .await;
        assert_eq!(failed[exec].state, State::Starting);
        assert_eq!(
            failed[exec].last_probe.as_ref().unwrap().message,
            "exited with code 1"
        );
        fs_err::write(launch.path("exec-flag"), "").unwrap();
        launch.wait_state("exec", State::Ready).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_status_keeps_a_service_starting_until_the_readiness_timeout() {
    let yaml = r#"
name: t
services:
  sick:
    command: "@service --status 503"
    ports: [{name: http}]
    ready: {http: "http://127.0.0.1:${PORT}/", start_period: 20ms}
launch: {readiness_timeout: 1s}
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        let sick = launch.index("sick");
        let starting = launch
            .wait_for("a 503 answer", DEADLINE, |s| {
                s[sick]
                    .last_probe
                    .as_ref()
                    .is_some_and(|p| p.message.starts_with("HTTP 503"))
            })
            .await;
        assert_eq!(starting[sick].state, State::Starting);
        let probe = starting[sick].last_probe.clone().unwrap();
        assert!(!probe.ok);
        assert_eq!(probe.message, "HTTP 503, expected 2xx or 3xx");

        let failed = launch.wait_state("sick", State::Failed).await;
        let reason = failed.reason.unwrap_or_default();
        assert!(reason.starts_with("not ready after 1s"), "{reason}");
        assert!(reason.contains("HTTP 503"), "{reason}");
        assert_eq!(failed.ready_since_ms, None);
        assert_eq!(failed.pid, None);
        let started = failed.started_at_ms.unwrap();
        let exited = failed.last_exit.expect("it was stopped").at_ms;
        assert!(
            exited >= started + 900,
            "failed before the readiness timeout"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_checked_for_as_long_as_the_service_runs() {
    let yaml = r#"
name: t
services:
  flag:
    command: "@service"
    ready: {exec: "test -f flag", start_period: 20ms, period: 50ms, failure_threshold: 2}
"#;
    support::run(yaml, |launch| async move {
        let flag = launch.path("flag");
        fs_err::write(&flag, "").unwrap();
        let first = launch.wait_state("flag", State::Ready).await;
        fs_err::remove_file(&flag).unwrap();
        let not_ready = launch.wait_state("flag", State::NotReady).await;
        assert_eq!(
            not_ready.reason.as_deref(),
            Some("its readiness probe fails")
        );
        fs_err::write(&flag, "").unwrap();
        let again = launch.wait_state("flag", State::Ready).await;
        // The same process throughout: readiness comes and goes, no restart.
        assert_eq!(again.generation, first.generation);
        assert_eq!(again.pid, first.pid);
        assert_eq!(again.restarts, 0);
        assert!(again.ready_since_ms > first.ready_since_ms);
        let states: Vec<String> = launch
            .notes("flag")
            .iter()
            .filter(|l| !l.text.starts_with("started"))
            .map(|l| l.text.clone())
            .collect();
        assert_eq!(
            states,
            [
                "starting: waiting for its readiness probe (exec `test -f flag`)",
                "ready",
                "not_ready: its readiness probe fails",
                "ready"
            ]
        );
    })
    .await;
}
