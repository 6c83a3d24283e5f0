//! The monitor's schedule on the real `weft serve`: a run missed while the
//! server was down is caught up once at start, and a restart neither runs
//! it again nor loses the next time.

use std::time::Duration;

use weft_store::{LeasePolicy, Store};
use weft_testkit::github::{FakeGitHub, PastRun, Repository};

use crate::process::WeftServe;
use crate::support::eventually;

/// Once a year: the only runs in this test are the caught-up one.
const YEARLY: &str = "0 0 1 1 *";

fn store(url: &str) -> (tokio::runtime::Runtime, Store) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime
        .block_on(Store::open(url, LeasePolicy::default()))
        .unwrap();
    (runtime, store)
}

#[test]
fn a_missed_run_is_caught_up_once_and_a_restart_keeps_the_schedule() {
    let github = FakeGitHub::start();
    github.add_repository(Repository::new("acme/api").past_run(PastRun::new("ci.yml")));
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("weft.yaml"),
        format!(
            "github:\n  api_url: {}\n  token_env: WEFT_TEST_GITHUB_TOKEN\nmonitor:\n  repositories: [acme/api]\n  schedule: \"{YEARLY}\"\n",
            github.url()
        ),
    )
    .unwrap();
    let url = format!("sqlite://{}", directory.path().join("state.db").display());
    // The server was down when the last run was due, an hour ago.
    let (runtime, store) = store(&url);
    let missed = weft_store::time::now_ms() - 3_600_000;
    runtime
        .block_on(store.monitor_schedule_init("monitor", YEARLY, missed))
        .unwrap();

    let env = [("WEFT_TEST_GITHUB_TOKEN", github.token())];
    let server = WeftServe::start_with(directory.path(), &url, "127.0.0.1:0", &env);
    let record = eventually("the caught-up run", Duration::from_secs(30), || {
        let record = runtime
            .block_on(store.monitor_schedule("monitor"))
            .unwrap()?;
        record.last_finished_at.is_some().then_some(record)
    });
    assert!(
        record
            .last_outcome
            .as_deref()
            .is_some_and(|o| o.starts_with("ok")),
        "{record:?}"
    );
    assert!(
        record.next_at > weft_store::time::now_ms(),
        "the next run is next year"
    );
    let collections = runtime.block_on(store.monitor_collections(10)).unwrap();
    assert_eq!(
        collections.len(),
        1,
        "caught up once, not once per missed run"
    );
    assert!(
        directory
            .path()
            .join("reports/ecosystem_analysis.json")
            .is_file(),
        "the run writes the report"
    );

    // A restart keeps the stored time and runs nothing now.
    drop(server);
    let requests = github.requests();
    let server = WeftServe::start_with(directory.path(), &url, "127.0.0.1:0", &env);
    std::thread::sleep(Duration::from_millis(1_500));
    let after = runtime
        .block_on(store.monitor_schedule("monitor"))
        .unwrap()
        .unwrap();
    assert_eq!(after.next_at, record.next_at);
    assert_eq!(
        runtime
            .block_on(store.monitor_collections(10))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        github.requests(),
        requests,
        "no GitHub call before the next run"
    );
    drop(server);
}
