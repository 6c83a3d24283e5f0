//! A real Prometheus server (Debian's `prometheus`) on 127.0.0.1, for the
//! PromQL gate and for scraping `weft serve`'s `/metrics`; stopped (and
//! reaped) when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long the server may take to become ready, or a target to be scraped.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running Prometheus server.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    url: String,
    agent: ureq::Agent,
    _data: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `prometheus` scraping `targets` (`HOST:PORT`, path
    /// `/metrics`) every second. `None`, after a `SKIP:` line, when it is not
    /// installed, unless `WEFT_REQUIRE_PROMTOOL=1` (CI installs Debian's
    /// `prometheus`, which has both the server and promtool).
    ///
    /// # Panics
    /// When it is required and missing, or does not become ready.
    #[expect(clippy::print_stdout, reason = "the SKIP line says why")]
    pub fn start(test: &str, targets: &[&str]) -> Option<Prometheus> {
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
            println!("SKIP: {test}: `prometheus` is not installed (apt-get install prometheus)");
            return None;
        }
        let data = tempfile::tempdir().expect("a directory for Prometheus");
        let config = data.path().join("prometheus.yml");
        let scrape = if targets.is_empty() {
            "scrape_configs: []\n".to_string()
        } else {
            let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
            format!(
                "scrape_configs:\n  - job_name: weft\n    scrape_interval: 1s\n    static_configs: [{{targets: [{}]}}]\n",
                targets.join(", ")
            )
        };
        fs_err::write(
            &config,
            format!("global: {{scrape_interval: 1h}}\n{scrape}"),
        )
        .expect("write prometheus.yml");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
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
            .expect("start prometheus");
        let server = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            _data: data,
        };
        let deadline = Instant::now() + PATIENCE;
        while server
            .agent
            .get(&format!("{}/-/ready", server.url))
            .call()
            .map_or(true, |r| r.status() != 200)
        {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `data` of an API answer (`/api/v1/…`).
    ///
    /// # Panics
    /// When the server does not answer with `status: success`.
    pub fn api(&self, path_and_query: &str) -> Value {
        let mut response = self
            .agent
            .get(&format!("{}{path_and_query}", self.url))
            .call()
            .expect("prometheus answers");
        let body: Value = response
            .body_mut()
            .read_json()
            .expect("prometheus answers JSON");
        assert_eq!(body["status"], "success", "{path_and_query}: {body}");
        body["data"].clone()
    }

    /// Waits until every target has been scraped and is healthy, and
    /// returns the targets as the API describes them.
    ///
    /// # Panics
    /// When a target's last scrape failed (with the error Prometheus gives)
    /// or none was scraped in time.
    pub fn wait_scraped(&self) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let targets = self.api("/api/v1/targets?state=active");
            let active = targets["activeTargets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for target in &active {
                let error = target["lastError"].as_str().unwrap_or_default();
                assert!(
                    error.is_empty(),
                    "scraping {} failed: {error}",
                    target["scrapeUrl"]
                );
            }
            if !active.is_empty() && active.iter().all(|t| t["health"] == "up") {
                return targets;
            }
            assert!(
                Instant::now() < deadline,
                "no scrape within {PATIENCE:?}: {targets}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The value of an instant query's single sample, if it has one.
    pub fn value(&self, query: &str) -> Option<f64> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let data = self.api(&format!("/api/v1/query?query={encoded}"));
        let result = data["result"].as_array()?;
        let sample = result.first()?;
        sample["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
