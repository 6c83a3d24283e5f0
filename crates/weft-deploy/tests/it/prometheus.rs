//! The PromQL gate against a real Prometheus server on 127.0.0.1 (Debian's
//! `prometheus`): within bounds, out of bounds, no series, and no server.

use weft_deploy::expand::Variables;
use weft_deploy::gate::observe;
use weft_model::config::{GateCheck, PrometheusGate};
use weft_store::Verdict;
use weft_testkit::prometheus::Prometheus;

fn gate(url: &str, query: &str) -> GateCheck {
    GateCheck::Prometheus(PrometheusGate {
        url: url.to_string(),
        query: query.to_string(),
        max: Some(0.5),
        min: Some(0.0),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_gates_pass_fail_or_are_inconclusive() {
    let Some(server) = Prometheus::start("promql_gates_pass_fail_or_are_inconclusive", &[]) else {
        return;
    };
    let variables = Variables::default();
    let here = std::env::temp_dir();
    let within = observe(&gate(server.url(), "vector(0.25)"), &variables, &here).await;
    assert_eq!(within.verdict, Verdict::Pass, "{}", within.message);
    let above = observe(&gate(server.url(), "vector(2)"), &variables, &here).await;
    assert_eq!(above.verdict, Verdict::Fail, "{}", above.message);
    assert!(
        above.message.contains("above the max 0.5"),
        "{}",
        above.message
    );
    let scalar = observe(&gate(server.url(), "scalar(vector(-1))"), &variables, &here).await;
    assert_eq!(scalar.verdict, Verdict::Fail, "{}", scalar.message);
    let nothing = observe(
        &gate(server.url(), "no_such_metric_total"),
        &variables,
        &here,
    )
    .await;
    assert_eq!(
        nothing.verdict,
        Verdict::Inconclusive,
        "{}",
        nothing.message
    );
    assert!(nothing.message.contains("no series"), "{}", nothing.message);
    let invalid = observe(&gate(server.url(), "sum(("), &variables, &here).await;
    assert_eq!(
        invalid.verdict,
        Verdict::Inconclusive,
        "{}",
        invalid.message
    );
    let url = server.url().to_string();
    drop(server);
    let gone = observe(&gate(&url, "vector(0)"), &variables, &here).await;
    assert_eq!(gone.verdict, Verdict::Inconclusive, "{}", gone.message);
}
