//! `/metrics` after real traffic carries the figures the traffic made, in
//! the OpenMetrics text a real Prometheus server (Debian's `prometheus`)
//! scrapes without error.

use std::time::Duration;

use serde_json::json;
use weft_client::AcquireBody;
use weft_testkit::prometheus::Prometheus;

use crate::support::{TestServer, eventually, http, seed_workspace};

/// A real Prometheus server scraping `address`'s `/metrics`, once it has
/// done so without error; `None` when Prometheus is not installed (and not
/// required).
fn scraped(test: &str, address: std::net::SocketAddr) -> Option<Prometheus> {
    let prometheus = Prometheus::start(test, &[&address.to_string()])?;
    let targets = prometheus.wait_scraped();
    assert_eq!(targets["activeTargets"][0]["health"], "up", "{targets}");
    Some(prometheus)
}

fn claim(resource: &str, holder: &str, wait_ms: i64) -> AcquireBody {
    AcquireBody {
        resource: resource.to_owned(),
        wait_ms: Some(wait_ms),
        holder: json!({"repository": holder}),
        ..AcquireBody::default()
    }
}

/// The value of an unlabelled sample.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_after_traffic_are_scraped() {
    let workspace = seed_workspace();
    let root = workspace.root().to_path_buf();
    let server = TestServer::start(move |settings| settings.workspace = root);
    let client = server.client(None);

    // Grants, a conflict, a timeout, a waiter granted by a release, a
    // renewal, analysis calls, and an operation tracked for another tool.
    let first = client.acquire(&claim("lock:deploy", "alice", 0)).unwrap();
    assert!(
        client
            .acquire(&claim("lock:deploy", "bob", 0))
            .unwrap_err()
            .is_taken()
    );
    assert!(
        client
            .acquire(&claim("lock:deploy", "bob", 50))
            .unwrap_err()
            .is_taken()
    );
    let waiter = {
        let client = server.client(None);
        std::thread::spawn(move || {
            client
                .acquire(&claim("lock:deploy", "carol", 30_000))
                .unwrap()
        })
    };
    eventually("carol in the queue", Duration::from_secs(30), || {
        (client
            .queues()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["queue"].as_array().is_some_and(|q| !q.is_empty())))
        .then_some(())
    });
    client.release(&first.id).unwrap();
    let carol = waiter.join().unwrap();
    client.renew(&carol.id, Some(60_000)).unwrap();
    client.release(&carol.id).unwrap();
    let shared = AcquireBody {
        mode: Some("shared".to_owned()),
        weight: Some(2),
        capacity: Some(4),
        ..claim("port:5432", "dave", 0)
    };
    client.acquire(&shared).unwrap();
    client.get("/api/v1/analysis/conflicts").unwrap();
    client.get("/api/v1/analysis/dependencies").unwrap();
    client.get("/api/coordination/resource-conflicts").unwrap();
    let (status, _) = http(server.address, "GET", "/api/v1/alerts", &[], None);
    assert_eq!(status, 200);

    let (status, text) = http(server.address, "GET", "/metrics", &[], None);
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with('\n'));
    assert_eq!(sample(&text, "weft_grants_total"), 1.0, "{text}");
    assert_eq!(sample(&text, "weft_releases_total"), 2.0, "{text}");
    assert_eq!(sample(&text, "weft_claim_conflicts_total"), 1.0, "{text}");
    assert_eq!(sample(&text, "weft_wait_timeouts_total"), 1.0, "{text}");
    assert_eq!(sample(&text, "weft_leases_active"), 1.0, "{text}");
    assert_eq!(sample(&text, "weft_waiters"), 0.0, "{text}");
    assert_eq!(sample(&text, "weft_resources"), 2.0, "{text}");
    assert!(sample(&text, "weft_conflicts_found_total") >= 2.0, "{text}");
    assert_eq!(
        sample(&text, "weft_wake_latency_seconds_count"),
        1.0,
        "{text}"
    );
    // Five claims and two releases went through the lease engine, one at a
    // time: as many batches as operations, each of one.
    let batches = sample(&text, "weft_store_batch_size_count");
    assert_eq!(batches, 7.0, "{text}");
    assert_eq!(
        sample(&text, "weft_store_batch_size_sum"),
        batches,
        "{text}"
    );
    assert_eq!(
        sample(&text, "weft_store_commit_seconds_count"),
        batches,
        "{text}"
    );
    assert!(
        text.contains("weft_store_batch_size_bucket{le=\"1.0\"} 7"),
        "{text}"
    );
    // A resource's first batch has nothing kept; bob's claim after alice's,
    // with no other writer between, is decided from what alice's left.
    let from_cache = sample(&text, "weft_store_batches_from_cache_total");
    let stale = sample(&text, "weft_store_cache_stale_total");
    assert!(from_cache >= 1.0, "{text}");
    assert!(from_cache + stale < batches, "{text}");
    for labelled in [
        "weft_operations_total{type=\"claim\",status=\"succeeded\"} 3",
        "weft_operations_total{type=\"claim\",status=\"conflict\"} 2",
        "weft_operations_total{type=\"release\",status=\"succeeded\"} 2",
        "weft_operations_total{type=\"renew\",status=\"succeeded\"} 1",
        "weft_operations_total{type=\"analysis\",status=\"succeeded\"} 3",
        "weft_operation_duration_seconds_bucket{le=\"+Inf\",type=\"claim\"} 5",
        "weft_operation_duration_seconds_count{type=\"analysis\"} 3",
    ] {
        assert!(text.contains(labelled), "no `{labelled}` in:\n{text}");
    }

    assert!(text.ends_with("# EOF\n"), "{text}");

    // What Prometheus reads from it is what the text says.
    let Some(prometheus) = scraped("metrics_after_traffic_are_scraped", server.address) else {
        return;
    };
    assert_eq!(prometheus.value("weft_grants_total"), Some(1.0));
    assert_eq!(prometheus.value("weft_leases_active"), Some(1.0));
    assert_eq!(
        prometheus.value("weft_operations_total{type=\"claim\",status=\"succeeded\"}"),
        Some(3.0)
    );
    assert_eq!(
        prometheus.value("weft_wake_latency_seconds_count"),
        Some(1.0)
    );
    assert_eq!(
        prometheus.value("weft_operation_duration_seconds_bucket{type=\"claim\",le=\"+Inf\"}"),
        Some(5.0)
    );
}

#[test]
fn metrics_of_an_idle_server_are_scraped() {
    let server = TestServer::start(|_| {});
    let (status, text) = http(server.address, "GET", "/metrics", &[], None);
    assert_eq!(status, 200);
    assert_eq!(sample(&text, "weft_leases_active"), 0.0);
    let Some(prometheus) = scraped("metrics_of_an_idle_server_are_scraped", server.address) else {
        return;
    };
    assert_eq!(prometheus.value("weft_leases_active"), Some(0.0));
    assert_eq!(prometheus.value("up"), Some(1.0));
}
