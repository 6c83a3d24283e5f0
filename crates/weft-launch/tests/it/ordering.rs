//! Start-up order: each dependency condition holds a dependent back exactly
//! until it is met, and a soft edge holds nothing back.

use weft_launch::{ServiceStatus, State};

use crate::support::{self, DEADLINE};

fn started(status: &ServiceStatus) -> u64 {
    status
        .started_at_ms
        .unwrap_or_else(|| panic!("{} never started", status.name))
}

fn ready_since(status: &ServiceStatus) -> u64 {
    status
        .ready_since_ms
        .unwrap_or_else(|| panic!("{} is not ready", status.name))
}

fn gated_by(status: &ServiceStatus) -> Option<&str> {
    status.gated_by.as_ref().map(|(name, _)| name.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_starts_each_service_once_what_it_needs_is_ready() {
    let yaml = r#"
name: t
services:
  db:
    command: "@service --delay 200ms"
    ports: [{name: pg}]
    ready: {tcp: "127.0.0.1:${PORT}", period: 1s, start_period: 20ms}
  api:
    command: "@service --delay 200ms"
    ports: [{name: http}]
    depends_on: {db: {kind: required, condition: ready}}
    ready: {http: "http://127.0.0.1:${PORT}/", period: 1s, start_period: 20ms}
  web:
    command: "@service"
    depends_on: {api: required}
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        let statuses = launch
            .wait_for("every service to be ready", DEADLINE, |s| {
                s.iter().all(|s| s.state == State::Ready)
            })
            .await;
        let [db, api, web] = ["db", "api", "web"].map(|name| &statuses[launch.index(name)]);
        assert!(
            started(api) >= ready_since(db),
            "api started before db was ready"
        );
        assert!(
            started(web) >= ready_since(api),
            "web started before api was ready"
        );
        // Its probe waited for it to listen (give or take the time to exec).
        assert!(
            ready_since(db) >= started(db) + 150,
            "db was ready before it listened"
        );
        assert_eq!(gated_by(db), None);
        assert_eq!(gated_by(api), Some("db"));
        assert_eq!(gated_by(web), Some("api"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condition_started_does_not_wait_for_readiness() {
    let yaml = r#"
name: t
services:
  slow:
    command: "@service --delay 1500ms"
    ports: [{name: http}]
    ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}
  early:
    command: "@service"
    depends_on: {slow: {kind: required, condition: started}}
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        let statuses = launch
            .wait_for("both services to be ready", DEADLINE, |s| {
                s.iter().all(|s| s.state == State::Ready)
            })
            .await;
        let [slow, early] = ["slow", "early"].map(|name| &statuses[launch.index(name)]);
        assert!(started(early) >= started(slow));
        assert!(
            started(early) < ready_since(slow),
            "early ({}) waited for slow to be ready ({})",
            started(early),
            ready_since(slow)
        );
        assert_eq!(gated_by(early), Some("slow"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condition_completed_successfully_waits_for_a_clean_exit() {
    let yaml = r#"
name: t
services:
  migrate:
    command: "@service --exit-after 1s --exit-code 0"
  app:
    command: "@service"
    depends_on: {migrate: {kind: required, condition: completed_successfully}}
"#;
    support::run(yaml, |launch| async move {
        let (migrate, app) = (launch.index("migrate"), launch.index("app"));
        // While migrate runs, app waits, and says what for.
        launch
            .wait_for("app to wait on the running migrate", DEADLINE, |s| {
                s[migrate].state == State::Ready
                    && s[app].state == State::Pending
                    && s[app]
                        .reason
                        .as_deref()
                        .is_some_and(|r| r.contains("migrate to be completed successfully"))
            })
            .await;
        let app = launch.wait_state("app", State::Ready).await;
        let migrate = launch.status("migrate");
        assert_eq!(migrate.state, State::Completed);
        let exit = migrate.last_exit.clone().expect("migrate exited");
        assert_eq!(exit.code, Some(0));
        assert!(
            started(&app) >= exit.at_ms,
            "app started before migrate exited"
        );
        assert_eq!(app.generation, 1);
        assert_eq!(gated_by(&app), Some("migrate"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_edge_does_not_hold_back_its_dependent() {
    let yaml = r#"
name: t
services:
  never:
    command: "@service"
    ready: {exec: "false", start_period: 20ms}
  free:
    command: "@service"
    depends_on: {never: soft}
"#;
    support::run(yaml, |launch| async move {
        let free = launch.wait_state("free", State::Ready).await;
        assert_eq!(gated_by(&free), None);
        assert!(free.degraded.is_empty());
        // Its dependency is still not ready, and has failed a probe by now.
        let never = launch
            .wait_for("a failed probe of never", DEADLINE, |s| {
                s[launch.index("never")]
                    .last_probe
                    .as_ref()
                    .is_some_and(|p| !p.ok)
            })
            .await[launch.index("never")]
        .clone();
        assert_eq!(never.state, State::Starting);
        assert_eq!(launch.status("free").state, State::Ready);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_parallel_starts_one_starts_services_one_at_a_time() {
    let yaml = r#"
name: t
services:
  one:
    command: "@service --delay 300ms"
    ports: [{name: http}]
    ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}
  two:
    command: "@service --delay 300ms"
    ports: [{name: http}]
    ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}
  three:
    command: "@service --delay 300ms"
    ports: [{name: http}]
    ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}
launch: {max_parallel_starts: 1}
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        let mut statuses = launch
            .wait_for("every service to be ready", DEADLINE, |s| {
                s.iter().all(|s| s.state == State::Ready)
            })
            .await;
        statuses.sort_by_key(started);
        for pair in statuses.windows(2) {
            assert!(
                started(&pair[1]) >= ready_since(&pair[0]),
                "{} started before {} was ready",
                pair[1].name,
                pair[0].name
            );
        }
    })
    .await;
}
