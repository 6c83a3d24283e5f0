//! `/metrics` in the Prometheus text format (checked by `promtool check
//! metrics` in the tests), and the same figures as JSON.

use std::fmt::Write;

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

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, histogram: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, count) in BUCKETS.iter().zip(histogram.counts) {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
        histogram.count
    );
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", histogram.sum);
    let _ = writeln!(out, "{name}_count{braces} {}", histogram.count);
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(crate) async fn prometheus(State(state): State<AppState>, _: HealthAccess) -> Response {
    match render(&state).await {
        Ok(text) => (
            [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
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
    let mut out = String::new();

    header(
        &mut out,
        "weft_operations_total",
        "counter",
        "Coordination operations finished by this replica, by type and status.",
    );
    for ((kind, status), count) in metrics.operations() {
        let _ = writeln!(
            out,
            "weft_operations_total{{type=\"{}\",status=\"{}\"}} {count}",
            escape(&kind),
            escape(&status)
        );
    }
    header(
        &mut out,
        "weft_operation_duration_seconds",
        "histogram",
        "How long operations took, waiting included, by type.",
    );
    for (kind, durations) in metrics.durations() {
        histogram(
            &mut out,
            "weft_operation_duration_seconds",
            &format!("type=\"{}\"", escape(&kind)),
            &durations,
        );
    }
    header(
        &mut out,
        "weft_wake_latency_seconds",
        "histogram",
        "From a waiter being granted to its request holding the lease.",
    );
    histogram(
        &mut out,
        "weft_wake_latency_seconds",
        "",
        &metrics.wake_latency(),
    );

    let counters: [(&str, &str, u64); 9] = [
        (
            "weft_grants_total",
            "Leases granted to waiters in the queue.",
            Metrics::get(&metrics.grants),
        ),
        (
            "weft_releases_total",
            "Leases released by their holders.",
            Metrics::get(&metrics.releases),
        ),
        (
            "weft_expiries_total",
            "Leases reaped after their TTL ran out.",
            Metrics::get(&metrics.expiries),
        ),
        (
            "weft_claim_conflicts_total",
            "Claims that found their resource taken and did not wait.",
            Metrics::get(&metrics.conflicts),
        ),
        (
            "weft_wait_timeouts_total",
            "Waiters whose maximum wait ran out.",
            Metrics::get(&metrics.timeouts),
        ),
        (
            "weft_force_releases_total",
            "Emergency force-releases.",
            Metrics::get(&metrics.force_releases),
        ),
        (
            "weft_alerts_fired_total",
            "Alerts fired.",
            Metrics::get(&metrics.alerts_fired),
        ),
        (
            "weft_conflicts_found_total",
            "Shared-resource conflicts found by analysis requests.",
            Metrics::get(&metrics.conflicts_found),
        ),
        (
            "weft_conflicts_resolved_total",
            "Conflicts resolved automatically by resolve requests.",
            Metrics::get(&metrics.conflicts_resolved),
        ),
    ];
    for (name, help, value) in counters {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }

    let gauges: [(&str, &str, i64); 5] = [
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
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    deployments(&mut out, &store.deployment_stats().await?);
    header(
        &mut out,
        "weft_process_resident_memory_bytes",
        "gauge",
        "Resident memory of this replica.",
    );
    let _ = writeln!(
        out,
        "weft_process_resident_memory_bytes {}",
        resident_bytes()
    );
    header(
        &mut out,
        "weft_uptime_seconds",
        "gauge",
        "Seconds since this replica started.",
    );
    let _ = writeln!(
        out,
        "weft_uptime_seconds {}",
        state.started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// Upper bounds, in seconds, of the release duration histogram.
const RELEASE_BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Releases from the store: every replica (and every `weft deploy` on the
/// same database) reports the same totals.
fn deployments(out: &mut String, stats: &weft_store::DeploymentStats) {
    header(
        out,
        "weft_deployments_total",
        "counter",
        "Releases recorded in the store, by environment and status.",
    );
    for (environment, status, count) in &stats.by_status {
        let _ = writeln!(
            out,
            "weft_deployments_total{{environment=\"{}\",status=\"{}\"}} {count}",
            escape(environment),
            escape(status)
        );
    }
    header(
        out,
        "weft_deployment_rollbacks_total",
        "counter",
        "Releases that rolled back or failed to, and rollbacks to a recorded release.",
    );
    let _ = writeln!(out, "weft_deployment_rollbacks_total {}", stats.rollbacks);
    header(
        out,
        "weft_deployment_gate_failures_total",
        "counter",
        "Gate observations that failed.",
    );
    let _ = writeln!(
        out,
        "weft_deployment_gate_failures_total {}",
        stats.gate_failures
    );
    header(
        out,
        "weft_deployment_duration_seconds",
        "histogram",
        "How long finished releases took, by environment.",
    );
    let mut by_environment: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for (environment, ms) in &stats.durations_ms {
        by_environment
            .entry(environment)
            .or_default()
            .push(*ms as f64 / 1000.0);
    }
    for (environment, seconds) in by_environment {
        let labels = format!("environment=\"{}\"", escape(environment));
        for bound in RELEASE_BUCKETS {
            let count = seconds.iter().filter(|s| **s <= bound).count();
            let _ = writeln!(
                out,
                "weft_deployment_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "weft_deployment_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            seconds.len()
        );
        let _ = writeln!(
            out,
            "weft_deployment_duration_seconds_sum{{{labels}}} {}",
            seconds.iter().sum::<f64>()
        );
        let _ = writeln!(
            out,
            "weft_deployment_duration_seconds_count{{{labels}}} {}",
            seconds.len()
        );
    }
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
