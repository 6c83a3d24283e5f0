//! `/metrics` in the OpenMetrics text format, encoded by prometheus-client
//! (the tests have a real Prometheus server scrape it), and the same
//! figures as JSON.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use weft_store::metrics::{BUCKETS, Histogram, Metrics};

use crate::auth::HealthAccess;
use crate::error::ApiError;
use crate::state::AppState;

/// Resident memory of this process, from /proc.
pub(crate) fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The bucket counts prometheus-client encodes (each bucket's own, which it
/// accumulates, the last one `+Inf`) from cumulative counts over `bounds`.
fn buckets(bounds: &[f64], cumulative: &[u64], count: u64) -> Vec<(f64, u64)> {
    let mut previous = 0;
    let mut out: Vec<(f64, u64)> = bounds
        .iter()
        .zip(cumulative)
        .map(|(bound, total)| {
            let own = total.saturating_sub(previous);
            previous = *total;
            (*bound, own)
        })
        .collect();
    out.push((f64::MAX, count.saturating_sub(previous)));
    out
}

/// One histogram's figures.
#[derive(Debug)]
struct HistogramSample {
    labels: Vec<(String, String)>,
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl HistogramSample {
    fn of(labels: Vec<(String, String)>, histogram: &Histogram) -> HistogramSample {
        HistogramSample {
            labels,
            sum: histogram.sum,
            count: histogram.count,
            buckets: buckets(&BUCKETS, &histogram.counts, histogram.count),
        }
    }
}

/// A gauge's value: counts stay integers in the text.
#[derive(Debug, Clone, Copy)]
enum Number {
    Integer(i64),
    Float(f64),
}

/// A metric family as one scrape reports it.
#[derive(Debug)]
enum Family {
    Counter(Vec<(Vec<(String, String)>, u64)>),
    Gauge(Vec<(Vec<(String, String)>, Number)>),
    Histogram(Vec<HistogramSample>),
}

/// What one scrape reports, gathered from the store and this replica, then
/// encoded by prometheus-client in the OpenMetrics text format. Counter
/// names are given without `_total`, which the encoding adds.
#[derive(Debug, Default)]
struct Scrape {
    families: Vec<(&'static str, &'static str, Family)>,
}

impl Scrape {
    fn counter(&mut self, name: &'static str, help: &'static str, value: u64) {
        self.families
            .push((name, help, Family::Counter(vec![(Vec::new(), value)])));
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, value: Number) {
        self.families
            .push((name, help, Family::Gauge(vec![(Vec::new(), value)])));
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        for (name, help, family) in &self.families {
            match family {
                Family::Counter(samples) => {
                    let mut metric =
                        encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
                    for (labels, value) in samples {
                        if labels.is_empty() {
                            metric.encode_counter::<NoLabelSet, _, u64>(value, None)?;
                        } else {
                            metric
                                .encode_family(labels)?
                                .encode_counter::<NoLabelSet, _, u64>(value, None)?;
                        }
                    }
                }
                Family::Gauge(samples) => {
                    let mut metric =
                        encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                    for (labels, value) in samples {
                        match (labels.is_empty(), value) {
                            (true, Number::Integer(value)) => metric.encode_gauge(value)?,
                            (true, Number::Float(value)) => metric.encode_gauge(value)?,
                            (false, Number::Integer(value)) => {
                                metric.encode_family(labels)?.encode_gauge(value)?;
                            }
                            (false, Number::Float(value)) => {
                                metric.encode_family(labels)?.encode_gauge(value)?;
                            }
                        }
                    }
                }
                Family::Histogram(samples) => {
                    let mut metric =
                        encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
                    for sample in samples {
                        let (sum, count, buckets) = (sample.sum, sample.count, &sample.buckets);
                        if sample.labels.is_empty() {
                            metric.encode_histogram::<NoLabelSet>(sum, count, buckets, None)?;
                        } else {
                            metric
                                .encode_family(&sample.labels)?
                                .encode_histogram::<NoLabelSet>(sum, count, buckets, None)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn label(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

pub(crate) async fn prometheus(State(state): State<AppState>, _: HealthAccess) -> Response {
    match render(&state).await {
        Ok(text) => (
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn render(state: &AppState) -> Result<String, ApiError> {
    let store = state.coordinator.store();
    let stats = store.stats().await?;
    let metrics = state.coordinator.metrics();
    let mut scrape = Scrape::default();

    let operations = metrics
        .operations()
        .into_iter()
        .map(|((kind, status), count)| {
            (vec![label("type", &kind), label("status", &status)], count)
        })
        .collect();
    scrape.families.push((
        "weft_operations",
        "Coordination operations finished by this replica, by type and status.",
        Family::Counter(operations),
    ));
    let durations = metrics
        .durations()
        .into_iter()
        .map(|(kind, histogram)| HistogramSample::of(vec![label("type", &kind)], &histogram))
        .collect();
    scrape.families.push((
        "weft_operation_duration_seconds",
        "How long operations took, waiting included, by type.",
        Family::Histogram(durations),
    ));
    scrape.families.push((
        "weft_wake_latency_seconds",
        "From a waiter being granted to its request holding the lease.",
        Family::Histogram(vec![HistogramSample::of(
            Vec::new(),
            &metrics.wake_latency(),
        )]),
    ));

    let batches = store.batch_stats();
    let count = batches.commit.count;
    scrape.families.push((
        "weft_store_batch_size",
        "Claims and releases per lease transaction (group commit).",
        Family::Histogram(vec![HistogramSample {
            labels: Vec::new(),
            sum: batches.size_sum as f64,
            count,
            buckets: buckets(&weft_store::BATCH_SIZE_BUCKETS, &batches.size_counts, count),
        }]),
    ));
    scrape.families.push((
        "weft_store_commit_seconds",
        "From a lease transaction's start to its durable commit.",
        Family::Histogram(vec![HistogramSample::of(Vec::new(), &batches.commit)]),
    ));

    let counters: [(&'static str, &'static str, u64); 11] = [
        (
            "weft_store_batches_from_cache",
            "Lease transactions decided from what the engine kept of earlier ones and written in one round trip.",
            batches.from_cache,
        ),
        (
            "weft_store_cache_stale",
            "Lease transactions decided from the engine's cache that found a row changed by another writer (on SQLite, anything another connection committed), and were loaded again.",
            batches.cache_stale,
        ),
        (
            "weft_grants",
            "Leases granted to waiters in the queue.",
            Metrics::get(&metrics.grants),
        ),
        (
            "weft_releases",
            "Leases released by their holders.",
            Metrics::get(&metrics.releases),
        ),
        (
            "weft_expiries",
            "Leases reaped after their TTL ran out.",
            Metrics::get(&metrics.expiries),
        ),
        (
            "weft_claim_conflicts",
            "Claims that found their resource taken and did not wait.",
            Metrics::get(&metrics.conflicts),
        ),
        (
            "weft_wait_timeouts",
            "Waiters whose maximum wait ran out.",
            Metrics::get(&metrics.timeouts),
        ),
        (
            "weft_force_releases",
            "Emergency force-releases.",
            Metrics::get(&metrics.force_releases),
        ),
        (
            "weft_alerts_fired",
            "Alerts fired.",
            Metrics::get(&metrics.alerts_fired),
        ),
        (
            "weft_conflicts_found",
            "Shared-resource conflicts found by analysis requests.",
            Metrics::get(&metrics.conflicts_found),
        ),
        (
            "weft_conflicts_resolved",
            "Conflicts resolved automatically by resolve requests.",
            Metrics::get(&metrics.conflicts_resolved),
        ),
    ];
    for (name, help, value) in counters {
        scrape.counter(name, help, value);
    }

    let gauges: [(&'static str, &'static str, i64); 5] = [
        (
            "weft_leases_active",
            "Leases held now, across replicas.",
            stats.leases,
        ),
        (
            "weft_waiters",
            "Claims waiting in a queue now, across replicas.",
            stats.waiters,
        ),
        (
            "weft_resources",
            "Resources known to the store.",
            stats.resources,
        ),
        (
            "weft_operations_active",
            "Operations started and not finished.",
            stats.active_operations,
        ),
        (
            "weft_alerts_firing",
            "Alerts neither resolved nor acknowledged.",
            stats.unacknowledged_alerts,
        ),
    ];
    for (name, help, value) in gauges {
        scrape.gauge(name, help, Number::Integer(value));
    }
    deployments(&mut scrape, &store.deployment_stats().await?);
    scrape.gauge(
        "weft_process_resident_memory_bytes",
        "Resident memory of this replica.",
        Number::Integer(i64::try_from(resident_bytes()).unwrap_or(i64::MAX)),
    );
    scrape.gauge(
        "weft_uptime_seconds",
        "Seconds since this replica started.",
        Number::Float(state.started.elapsed().as_secs_f64()),
    );

    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut text = String::new();
    encode(&mut text, &registry).map_err(|error| ApiError::internal(&error))?;
    Ok(text)
}

/// Upper bounds, in seconds, of the release duration histogram.
const RELEASE_BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Releases from the store: every replica (and every `weft deploy` on the
/// same database) reports the same totals.
fn deployments(scrape: &mut Scrape, stats: &weft_store::DeploymentStats) {
    let by_status = stats
        .by_status
        .iter()
        .map(|(environment, status, count)| {
            (
                vec![label("environment", environment), label("status", status)],
                u64::try_from(*count).unwrap_or(0),
            )
        })
        .collect();
    scrape.families.push((
        "weft_deployments",
        "Releases recorded in the store, by environment and status.",
        Family::Counter(by_status),
    ));
    scrape.counter(
        "weft_deployment_rollbacks",
        "Releases that rolled back or failed to, and rollbacks to a recorded release.",
        u64::try_from(stats.rollbacks).unwrap_or(0),
    );
    scrape.counter(
        "weft_deployment_gate_failures",
        "Gate observations that failed.",
        u64::try_from(stats.gate_failures).unwrap_or(0),
    );
    let mut by_environment: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for (environment, ms) in &stats.durations_ms {
        by_environment
            .entry(environment)
            .or_default()
            .push(*ms as f64 / 1000.0);
    }
    let durations = by_environment
        .into_iter()
        .map(|(environment, seconds)| {
            let cumulative: Vec<u64> = RELEASE_BUCKETS
                .iter()
                .map(|bound| seconds.iter().filter(|s| **s <= *bound).count() as u64)
                .collect();
            let count = seconds.len() as u64;
            HistogramSample {
                labels: vec![label("environment", environment)],
                sum: seconds.iter().sum(),
                count,
                buckets: buckets(&RELEASE_BUCKETS, &cumulative, count),
            }
        })
        .collect();
    scrape.families.push((
        "weft_deployment_duration_seconds",
        "How long finished releases took, by environment.",
        Family::Histogram(durations),
    ));
}

/// The same figures for `?format=json`. The rates cover the last
/// `window_ms` (default: the alert window); the counters and durations are
/// this replica's since it started.
pub(crate) async fn json(state: &AppState, window_ms: Option<i64>) -> Result<Value, ApiError> {
    let store = state.coordinator.store();
    let stats = store.stats().await?;
    let metrics = state.coordinator.metrics();
    let window_ms = window_ms.unwrap_or(state.coordinator.thresholds().window_ms);
    let rates = store.window_rates(window_ms).await?;
    let wake = metrics.wake_latency();
    let operations: Vec<Value> = metrics
        .operations()
        .into_iter()
        .map(|((kind, status), count)| json!({"type": kind, "status": status, "count": count}))
        .collect();
    let durations: serde_json::Map<String, Value> = metrics
        .durations()
        .into_iter()
        .map(|(kind, histogram)| {
            let average =
                (histogram.count > 0).then(|| histogram.sum * 1000.0 / histogram.count as f64);
            let value = json!({
                "count": histogram.count,
                "average": average,
                "p50": histogram.quantile(0.5).map(|s| s * 1000.0),
                "p99": histogram.quantile(0.99).map(|s| s * 1000.0),
            });
            (kind, value)
        })
        .collect();
    Ok(json!({
        "timeRange": window_ms as f64 / 3_600_000.0,
        "operationDurationsMs": durations,
        "conflictsFound": Metrics::get(&metrics.conflicts_found),
        "conflictsResolved": Metrics::get(&metrics.conflicts_resolved),
        "memory": {"residentBytes": resident_bytes()},
        "operations": operations,
        "activeLeases": stats.leases,
        "waiters": stats.waiters,
        "resources": stats.resources,
        "activeOperations": stats.active_operations,
        "grants": Metrics::get(&metrics.grants),
        "releases": Metrics::get(&metrics.releases),
        "expiries": Metrics::get(&metrics.expiries),
        "conflictRate": rates.conflict_rate(),
        "failureRate": rates.failure_rate(),
        "averageResolutionMs": rates.resolution_ms,
        "wakeLatencyMs": {
            "p50": wake.quantile(0.5).map(|s| s * 1000.0),
            "p99": wake.quantile(0.99).map(|s| s * 1000.0),
        },
        "alertsFiring": stats.unacknowledged_alerts,
    }))
}
