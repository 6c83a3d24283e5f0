//! The PromQL gate against a real Prometheus server on 127.0.0.1 (Debian's
//! `prometheus`): within bounds, out of bounds, no series, and no server.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weft_deploy::expand::Variables;
use weft_deploy::gate::observe;
use weft_model::config::{GateCheck, PrometheusGate};
use weft_store::Verdict;

/// A Prometheus server on a free loopback port, stopped on drop.
struct Prometheus {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus() -> Option<Prometheus> {
    let installed = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var("WEFT_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "WEFT_REQUIRE_PROMTOOL=1 but the `prometheus` server is not installed"
        );
        println!("SKIP: `prometheus` is not installed");
        return None;
    }
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("prometheus.yml");
    fs_err::write(
        &config,
        "global: {scrape_interval: 1h}\nscrape_configs: []\n",
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            data.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _data: data,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    while agent
        .get(&format!("{}/-/ready", server.url))
        .call()
        .map_or(true, |r| r.status() != 200)
    {
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
}

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
    let Some(server) = prometheus() else {
        return;
    };
    let variables = Variables::default();
    let here = std::env::temp_dir();
    let within = observe(&gate(&server.url, "vector(0.25)"), &variables, &here).await;
    assert_eq!(within.verdict, Verdict::Pass, "{}", within.message);
    let above = observe(&gate(&server.url, "vector(2)"), &variables, &here).await;
    assert_eq!(above.verdict, Verdict::Fail, "{}", above.message);
    assert!(
        above.message.contains("above the max 0.5"),
        "{}",
        above.message
    );
    let scalar = observe(&gate(&server.url, "scalar(vector(-1))"), &variables, &here).await;
    assert_eq!(scalar.verdict, Verdict::Fail, "{}", scalar.message);
    let nothing = observe(
        &gate(&server.url, "no_such_metric_total"),
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
    let invalid = observe(&gate(&server.url, "sum(("), &variables, &here).await;
    assert_eq!(
        invalid.verdict,
        Verdict::Inconclusive,
        "{}",
        invalid.message
    );
    let url = server.url.clone();
    drop(server);
    let gone = observe(&gate(&url, "vector(0)"), &variables, &here).await;
    assert_eq!(gone.verdict, Verdict::Inconclusive, "{}", gone.message);
}
