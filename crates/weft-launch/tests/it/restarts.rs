//! Restarts: a failing process is restarted with a doubling backoff until
//! the restarts allowed run out, a failing liveness probe restarts it too,
//! and a dependency's restart reaches its dependents per `on_restart`.

use std::sync::Arc;

use weft_launch::State;
use weft_launch::output::LogLine;

use crate::support::{self, DEADLINE};

/// The times of weft's `started …` notes.
fn starts(notes: &[Arc<LogLine>]) -> Vec<u64> {
    notes
        .iter()
        .filter(|l| l.text.starts_with("started `"))
        .map(|l| l.at_ms)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_process_is_restarted_with_a_growing_backoff_then_failed() {
    let yaml = r#"
name: t
services:
  crash:
    command: "@service --exit-after 100ms --exit-code 1"
    restart: on_failure
    max_restarts: 3
    backoff: 200ms
"#;
    support::run(yaml, |launch| async move {
        let failed = launch.wait_state("crash", State::Failed).await;
        assert_eq!(failed.restarts, 3);
        assert_eq!(failed.generation, 4, "one first start and three restarts");
        let reason = failed.reason.unwrap_or_default();
        assert_eq!(reason, "exited with code 1 (after 3 restarts)");

        let notes = launch.notes("crash");
        let delays: Vec<(u64, u64)> = notes
            .iter()
            .filter_map(|l| {
                let rest = l.text.strip_prefix("pending: restarting in ")?;
                let (millis, why) = rest.split_once("ms after: ")?;
                assert_eq!(why, "exited with code 1");
                Some((millis.parse().unwrap(), l.at_ms))
            })
            .collect();
        let announced: Vec<u64> = delays.iter().map(|d| d.0).collect();
        assert_eq!(announced, [200, 400, 800], "{notes:#?}");
        let starts = starts(&notes);
        assert_eq!(starts.len(), 4, "{notes:#?}");
        // Each start comes no sooner than the delay announced before it.
        for (start, (delay, announced_at)) in starts[1..].iter().zip(&delays) {
            assert!(
                *start >= announced_at + delay,
                "started at {start}, {delay}ms after {announced_at} was due"
            );
        }
        let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.windows(2).all(|w| w[1] > w[0]),
            "gaps do not grow: {gaps:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_liveness_probe_restarts_the_process() {
    // The service listens on a port of its own choosing, not on ${PORT}.
    let yaml = r#"
name: t
services:
  deaf:
    command: "@service --port 0"
    ports: [{name: http}]
    live: {tcp: "127.0.0.1:${PORT}", start_period: 20ms, period: 100ms, failure_threshold: 2}
    restart: on_failure
    max_restarts: 2
    backoff: 50ms
    stop_timeout: 2s
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        let failed = launch.wait_state("deaf", State::Failed).await;
        assert_eq!(failed.restarts, 2);
        assert_eq!(failed.generation, 3);
        let reason = failed.reason.unwrap_or_default();
        assert!(
            reason.starts_with("liveness probe failed: cannot connect"),
            "{reason}"
        );
        assert!(reason.ends_with("(after 2 restarts)"), "{reason}");
        // Asked to stop, it stopped: killed by the stop signal, not by force.
        let exit = failed.last_exit.unwrap();
        assert_eq!(exit.signal.as_deref(), Some("SIGTERM"));
        let notes = launch.notes("deaf");
        let failures = notes
            .iter()
            .filter(|l| l.text.starts_with("liveness probe failed"))
            .count();
        assert_eq!(failures, 3, "{notes:#?}");
        let restarting = notes
            .iter()
            .filter(|l| {
                l.text.starts_with("pending: restarting in ")
                    && l.text.contains("liveness probe failed")
            })
            .count();
        assert_eq!(restarting, 2, "{notes:#?}");
        assert!(!notes.iter().any(|l| l.text.contains("killed")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_restart_reaches_dependents_per_on_restart() {
    // db takes a second to listen, so that its restart is long enough for
    // every dependent to see it gone.
    let yaml = r#"
name: t
services:
  db:
    command: "@service --delay 1s"
    ports: [{name: pg}]
    ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms, period: 200ms}
  restarter:
    command: "@service"
    depends_on: {db: {kind: required, on_restart: restart}}
  waiter:
    command: "@service"
    depends_on: {db: {kind: required, on_restart: wait}}
  ignorer:
    command: "@service"
    depends_on: {db: {kind: required, on_restart: ignore}}
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        let before = launch
            .wait_for("every service to be ready", DEADLINE, |s| {
                s.iter().all(|s| s.state == State::Ready)
            })
            .await;
        let [db, restarter, waiter, ignorer] =
            ["db", "restarter", "waiter", "ignorer"].map(|name| launch.index(name));
        let ignorer_notes = launch.notes("ignorer").len();

        launch.supervisor.restart(db).await;
        let after = launch
            .wait_for("db and its dependents to be back", DEADLINE, |s| {
                s[db].generation == before[db].generation + 1
                    && s.iter().all(|s| s.state == State::Ready)
                    && s[restarter].generation == before[restarter].generation + 1
            })
            .await;
        let db_ready = after[db].ready_since_ms.unwrap();

        // restart: a new process, started once db was ready again.
        assert_ne!(after[restarter].pid, before[restarter].pid);
        assert!(after[restarter].started_at_ms.unwrap() >= db_ready);
        assert_eq!(
            after[restarter].restarts, 0,
            "a dependency's restart is not a failure"
        );
        let notes = launch.notes("restarter");
        assert!(notes.iter().any(|l| l.text == "db restarted; restarting"));

        // wait: the same process, not ready while db was away.
        assert_eq!(after[waiter].generation, before[waiter].generation);
        assert_eq!(after[waiter].pid, before[waiter].pid);
        assert!(after[waiter].ready_since_ms.unwrap() >= db_ready);
        let states: Vec<String> = launch
            .notes("waiter")
            .iter()
            .map(|l| l.text.clone())
            .skip_while(|text| text != "ready")
            .collect();
        assert_eq!(
            states,
            [
                "ready",
                "not_ready: a dependency it waits on is not ready",
                "ready"
            ]
        );

        // ignore: untouched.
        assert_eq!(after[ignorer].generation, before[ignorer].generation);
        assert_eq!(after[ignorer].pid, before[ignorer].pid);
        assert_eq!(
            after[ignorer].ready_since_ms,
            before[ignorer].ready_since_ms
        );
        assert_eq!(launch.notes("ignorer").len(), ignorer_notes);
    })
    .await;
}
