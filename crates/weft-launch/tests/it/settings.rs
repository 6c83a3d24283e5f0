//! Launch settings survive the trip `weft up --detach` sends them on, as
//! JSON to its background supervisor, field for field.

use std::time::Duration;

use nix::sys::signal::Signal;
use weft_launch::LaunchSettings;
use weft_launch::settings::Check;

use crate::support::{settings, workspace};

#[test]
fn settings_read_back_from_json_are_the_ones_written() {
    let workspace = workspace(
        r#"
name: trip
ports: {range: 30000-30999}
launch: {readiness_timeout: 45s, max_parallel_starts: 3}
services:
  db:
    command: "@service --listen"
    ports: [{name: sql, preferred: 30432}]
    ready: {log: 'listening on \d+ \(ready\)', period: 250ms}
    stop_signal: INT
    stop_timeout: 7s
  api:
    command: "@service --listen"
    env: {DATABASE_URL: "postgres://127.0.0.1:${DB_PORT}/app"}
    live: {tcp: "127.0.0.1:${PORT}", failure_threshold: 4}
    restart: on_failure
    depends_on:
      db: {kind: required, condition: ready, on_restart: restart, timeout: 20s}
"#,
    );
    let written = settings(&workspace);
    let json = serde_json::to_string(&written).expect("settings serialize");
    let read: LaunchSettings = serde_json::from_str(&json).expect("settings deserialize");
    // Written again, they give the same text: nothing was lost or changed
    // on the way (the types hold regexes, which do not compare).
    assert_eq!(serde_json::to_string(&read).expect("serialize again"), json);

    assert_eq!(read.root, written.root);
    assert_eq!(read.readiness_timeout, Duration::from_secs(45));
    assert_eq!(read.max_parallel_starts, Some(3));
    assert_eq!(read.port_range, written.port_range);
    let db = read
        .services
        .iter()
        .find(|s| s.name == "db")
        .expect("db is run");
    assert_eq!(db.stop.signal, Signal::SIGINT);
    assert_eq!(db.stop.timeout, Duration::from_secs(7));
    assert_eq!(db.ports, written.services[0].ports);
    let ready = db.ready.as_ref().expect("db has a readiness probe");
    assert_eq!(ready.period, Duration::from_millis(250));
    match &ready.check {
        Check::Log { pattern } => {
            assert!(pattern.is_match("listening on 5432 (ready)"));
            assert!(!pattern.is_match("listening on port (ready)"));
        }
        other => panic!("db's readiness check read back as {}", other.describe()),
    }
    let api = read
        .services
        .iter()
        .find(|s| s.name == "api")
        .expect("api is run");
    let dependency = &api.dependencies[0];
    assert_eq!(read.services[dependency.service].name, "db");
    assert_eq!(dependency.timeout, Duration::from_secs(20));
    assert_eq!(
        api.live.as_ref().map(|live| live.failure_threshold),
        Some(4)
    );
}

#[test]
fn an_unknown_signal_or_a_bad_pattern_is_refused_by_name() {
    let workspace = workspace("services:\n  one: {command: \"@service\"}\n");
    let mut json: serde_json::Value =
        serde_json::to_value(settings(&workspace)).expect("settings serialize");
    json["services"][0]["stop"]["signal"] = "SIGNOPE".into();
    let error = serde_json::from_value::<LaunchSettings>(json.clone())
        .expect_err("an unknown signal is refused")
        .to_string();
    assert!(error.contains("unknown signal `SIGNOPE`"), "{error}");

    json["services"][0]["stop"]["signal"] = "SIGTERM".into();
    json["services"][0]["ready"] = serde_json::json!({
        "check": {"Log": {"pattern": "(unclosed"}},
        "initial_delay": {"secs": 0, "nanos": 0}, "period": {"secs": 1, "nanos": 0},
        "start_period": {"secs": 0, "nanos": 0}, "timeout": {"secs": 1, "nanos": 0},
        "success_threshold": 1, "failure_threshold": 3,
    });
    let error = serde_json::from_value::<LaunchSettings>(json)
        .expect_err("a pattern that does not compile is refused")
        .to_string();
    assert!(error.contains("unclosed"), "{error}");
}
