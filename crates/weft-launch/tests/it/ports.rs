//! Ports: allocated without collisions across supervisors that start at the
//! same moment, never one something else listens on, and passed to services
//! and their dependents as environment variables.

use std::net::{Ipv4Addr, TcpListener};

use weft_launch::{LaunchError, State};
use weft_model::config::PortRange;

use crate::support::{self, DEADLINE, Launch};

/// A workspace of five services that all prefer port 31000.
fn contenders() -> weft_testkit::Workspace {
    let mut yaml = String::from("name: t\nservices:\n");
    for n in 0..5 {
        yaml.push_str(&format!(
            "  s{n}:\n    command: \"@service\"\n    ports: [{{name: http, preferred: 31000}}]\n    \
             ready: {{tcp: \"127.0.0.1:${{PORT}}\", start_period: 20ms}}\n"
        ));
    }
    yaml.push_str("ports: {range: 31000-31999}\n");
    support::workspace(&yaml)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_starting_at_once_never_share_a_port() {
    let free_before = TcpListener::bind((Ipv4Addr::LOCALHOST, 31000)).is_ok();
    let one = tokio::spawn(support::try_start(contenders()));
    let two = tokio::spawn(support::try_start(contenders()));
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    let launches: Vec<Launch> = [&one, &two]
        .into_iter()
        .filter_map(|l| l.as_ref().ok().cloned())
        .collect();
    let errors: Vec<String> = [&one, &two]
        .into_iter()
        .filter_map(|l| l.as_ref().err().map(ToString::to_string))
        .collect();
    let body = {
        let launches = launches.clone();
        async move {
            assert!(errors.is_empty(), "a supervisor did not start: {errors:?}");
            let mut ports = Vec::new();
            for launch in &launches {
                // Each service listens on its port: a port handed out twice
                // would leave one of them unable to listen, and failed.
                let statuses = launch
                    .wait_for("every service to listen", DEADLINE, |s| {
                        s.iter().all(|s| s.state == State::Ready)
                    })
                    .await;
                for status in &statuses {
                    assert_eq!(status.ports.len(), 1);
                    let port = support::port(status, "http");
                    assert!((31000..=31999).contains(&port), "{port}");
                    ports.push(port);
                }
            }
            let mut distinct = ports.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), 10, "ports handed out twice: {ports:?}");
            let preferred = ports.iter().filter(|&&p| p == 31000).count();
            assert!(preferred <= 1, "{ports:?}");
            if free_before {
                assert_eq!(
                    preferred, 1,
                    "nobody got the free preferred port: {ports:?}"
                );
            }
        }
    };
    support::supervised(&launches, body).await;
}

/// A listener on a port of 31900-31999 that no test holds: reserved through
/// the allocator while it is bound, so that no other test is handed it in
/// between, then released, as if something unrelated to weft held it.
fn unrelated_listener() -> (TcpListener, u16) {
    let range = PortRange {
        first: 31900,
        last: 31999,
    };
    let lease = support::allocator()
        .reserve(None, range, "unrelated", &[])
        .expect("a free port in 31900-31999");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, lease.port))
        .unwrap_or_else(|e| panic!("cannot listen on the port reserved: {e}"));
    (listener, lease.port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_something_listens_on_is_never_handed_out() {
    // Something unrelated to weft listens on a port of the range.
    let (listener, taken) = unrelated_listener();

    let preferring = support::workspace(&format!(
        "name: t\nservices:\n  api:\n    command: \"@service\"\n    \
         ports: [{{name: http, preferred: {taken}}}]\nports: {{range: 31000-31999}}\n"
    ));
    let launch = support::start(preferring).await;
    let body = {
        let launch = launch.clone();
        async move {
            let api = launch.wait_state("api", State::Ready).await;
            let port = support::port(&api, "http");
            assert_ne!(port, taken);
            assert!((31000..=31999).contains(&port), "{port}");
        }
    };
    support::supervised(std::slice::from_ref(&launch), body).await;

    // With nothing else allowed, the supervisor refuses to start.
    let cornered = support::workspace(&format!(
        "name: t\nservices:\n  api:\n    command: \"@service\"\n    \
         ports: [{{name: http, range: {taken}-{taken}}}]\n"
    ));
    match support::try_start(cornered).await {
        Err(LaunchError::NoFreePort {
            name, first, last, ..
        }) => {
            assert_eq!((name.as_str(), first, last), ("http", taken, taken));
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(launch) => {
            let got = launch.status("api").ports.clone();
            launch.shutdown().await;
            panic!("the supervisor started, with {got:?}, though {taken} is taken");
        }
    }
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_learn_their_ports_and_their_dependencies_addresses() {
    let yaml = r#"
name: t
services:
  db:
    command: "@service"
    ports: [{name: pg}, {name: admin}]
    ready: {tcp: "127.0.0.1:${PORT}", start_period: 20ms}
  api:
    command: 'echo "DB=$DB_HOST:$DB_PORT URL=$DB_URL PORT=$PORT NAMED=$WEFT_PORT_ADMIN HTTP=$WEFT_PORT_HTTP SELF=$WEFT_SERVICE CUSTOM=$CUSTOM"; exec @service'
    ports: [{name: http}, {name: admin}]
    env: {CUSTOM: "${DB_URL}/v1"}
    depends_on: {db: required}
    ready: {http: "http://127.0.0.1:${PORT}/", start_period: 20ms}
ports: {range: "@range"}
"#;
    support::run(yaml, |launch| async move {
        let api = launch.wait_state("api", State::Ready).await;
        let db = launch.status("db");
        let line = launch.wait_line("api", |l| l.text.starts_with("DB=")).await;
        let pg = support::port(&db, "pg");
        let expected = format!(
            "DB=127.0.0.1:{pg} URL=http://127.0.0.1:{pg} PORT={http} NAMED={admin} HTTP={http} \
             SELF={id} CUSTOM=http://127.0.0.1:{pg}/v1",
            http = support::port(&api, "http"),
            admin = support::port(&api, "admin"),
            id = launch.settings().services[launch.index("api")].id,
        );
        assert_eq!(line.text, expected);
        let mut all: Vec<u16> = [&db, &api]
            .iter()
            .flat_map(|s| s.ports.iter().map(|p| p.port))
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4, "{:?} {:?}", db.ports, api.ports);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_started_again_gets_its_port_back() {
    // db prefers a port that is taken when it first starts, so it gets
    // another; api learns that other one as DB_PORT.
    let (listener, preferred) = unrelated_listener();
    let workspace = support::workspace(&format!(
        r#"
name: t
services:
  db:
    command: "@service"
    ports: [{{name: pg, preferred: {preferred}}}]
    ready: {{tcp: "127.0.0.1:${{PORT}}", start_period: 20ms}}
  api:
    command: "@service"
    depends_on: {{db: {{kind: required, on_restart: wait}}}}
ports: {{range: 31000-31999}}
"#
    ));
    let launch = support::start(workspace).await;
    let body = {
        let launch = launch.clone();
        async move {
            let statuses = launch
                .wait_for("db and api to be ready", DEADLINE, |s| {
                    s.iter().all(|s| s.state == State::Ready)
                })
                .await;
            let first = support::port(&statuses[launch.index("db")], "pg");
            assert_ne!(first, preferred);
            // The preferred port is free now; api still talks to the first.
            drop(listener);
            let db = launch.index("db");
            launch.supervisor.stop(db).await;
            assert!(launch.status("db").ports.is_empty());
            launch.supervisor.start_again(db).await;
            let statuses = launch
                .wait_for("db and api to be ready again", DEADLINE, |s| {
                    s[db].generation == 2 && s.iter().all(|s| s.state == State::Ready)
                })
                .await;
            assert_eq!(
                support::port(&statuses[db], "pg"),
                first,
                "db came back on another port than the one api was given"
            );
        }
    };
    support::supervised(std::slice::from_ref(&launch), body).await;
}
