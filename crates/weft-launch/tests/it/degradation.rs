//! Graceful degradation: a failed optional dependency lets its dependents
//! start, marked degraded; a failed required one fails them, and the blocked
//! path explains why.

use weft_launch::{State, report};

use crate::support::{self, DEADLINE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_optional_dependency_degrades_its_dependent() {
    // `cache` exits 1 before its probe can pass, and is not restarted.
    let yaml = r#"
name: t
services:
  cache:
    command: "@service --exit-after 200ms --exit-code 1"
    ready: {exec: "false", start_period: 20ms}
    restart: "no"
  app:
    command: "@service"
    depends_on: {cache: optional}
launch: {graceful_degradation: true}
"#;
    support::run(yaml, |launch| async move {
        let app = launch.wait_state("app", State::Ready).await;
        let cache = launch.status("cache");
        assert_eq!(cache.state, State::Failed);
        assert_eq!(cache.last_exit.as_ref().and_then(|e| e.code), Some(1));
        assert_eq!(app.degraded, ["cache"]);
        assert!(
            app.started_at_ms.unwrap() >= cache.last_exit.as_ref().unwrap().at_ms,
            "app started before cache failed"
        );
        let said = launch.notes("app").iter().any(|l| {
            l.text
                .starts_with("starting without optional dependency cache")
        });
        assert!(
            said,
            "no note about the degraded start\n{}",
            launch.describe()
        );
        // `--wait` on the dependent succeeds.
        let waited = launch
            .supervisor
            .wait_ready(&[launch.index("app")], Some(DEADLINE))
            .await;
        assert_eq!(waited, Ok(()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_required_dependency_fails_the_chain_above_it() {
    let yaml = r#"
name: t
services:
  db:
    command: "@service --exit-after 200ms --exit-code 1"
    ready: {exec: "false", start_period: 20ms}
  api:
    command: "@service"
    depends_on: {db: required}
  web:
    command: "@service"
    depends_on: {api: {kind: required, condition: started}}
"#;
    support::run(yaml, |launch| async move {
        let [db, api, web] = ["db", "api", "web"].map(|name| launch.index(name));
        let waited = launch.supervisor.wait_ready(&[web], Some(DEADLINE)).await;
        assert_eq!(waited, Err(vec![web]), "{}", launch.describe());
        let statuses = launch
            .wait_for("the whole chain to fail", DEADLINE, |s| {
                [db, api, web].iter().all(|&i| s[i].state == State::Failed)
            })
            .await;
        for index in [api, web] {
            assert_eq!(
                statuses[index].generation, 0,
                "{} was started",
                statuses[index].name
            );
            assert_eq!(statuses[index].pid, None);
        }
        let reason = |index: usize| statuses[index].reason.clone().unwrap_or_default();
        assert!(reason(db).contains("exited with code 1"), "{}", reason(db));
        assert!(
            reason(api).starts_with("required dependency db is failed"),
            "{}",
            reason(api)
        );
        assert!(
            reason(web).starts_with("required dependency api is failed"),
            "{}",
            reason(web)
        );
        let path = report::blocked_path(launch.settings(), &statuses, web);
        assert_eq!(path.len(), 3, "{path:#?}");
        assert_eq!(path[0], "web needs api (required, until started)");
        assert_eq!(path[1], "api needs db (required, until ready)");
        assert!(
            path[2].starts_with("db is failed: exited with code 1"),
            "{path:#?}"
        );
        // The explanation of `weft why` carries the same path.
        let why = report::why(launch.settings(), &statuses, web, Vec::new());
        assert_eq!(why.blocked_path, path);
        assert_eq!(why.dependencies.len(), 1);
        assert!(!why.dependencies[0].met);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_that_takes_too_long_fails_or_degrades_its_dependents() {
    let yaml = r#"
name: t
services:
  never:
    command: "@service"
    ready: {exec: "false", start_period: 20ms}
  impatient:
    command: "@service"
    depends_on: {never: {kind: required, timeout: 500ms}}
  tolerant:
    command: "@service"
    depends_on: {never: {kind: optional, timeout: 500ms}}
"#;
    let before = weft_launch::now_ms();
    support::run(yaml, move |launch| async move {
        let statuses = launch
            .wait_for("both dependents to give up waiting", DEADLINE, |s| {
                s[launch.index("impatient")].state == State::Failed
                    && s[launch.index("tolerant")].state == State::Ready
            })
            .await;
        let impatient = &statuses[launch.index("impatient")];
        let reason = impatient.reason.clone().unwrap_or_default();
        assert!(
            reason.starts_with(
                "required dependency timed out after 500ms waiting for never to be ready (it is starting"
            ),
            "{reason}"
        );
        assert_eq!(impatient.generation, 0);
        let tolerant = &statuses[launch.index("tolerant")];
        assert_eq!(tolerant.degraded, ["never"]);
        assert!(tolerant.started_at_ms.unwrap() >= before + 500);
    })
    .await;
}
