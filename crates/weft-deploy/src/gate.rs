//! Health gates: one observation of a check, and the loop that turns
//! observations into a verdict.
//!
//! How a gate decides: it observes every `interval`, starting only after the
//! service's steps have finished, so nothing it saw before counts (a verdict
//! on stale status is the failure Argo CD users hit). It passes after
//! `success_threshold` consecutive passes, fails after more than
//! `failure_limit` failed observations, and fails when `timeout` passes with
//! no verdict. An observation that cannot be made (Prometheus unreachable, a
//! query with no series) is inconclusive: it neither passes nor fails, and
//! the release shows as paused until the gate decides or times out.

use std::path::Path;
use std::time::{Duration, Instant};

use weft_model::config::{GateCheck, HttpGate, PrometheusGate};
use weft_store::Verdict;

use crate::expand::Variables;
use crate::plan::PlannedGate;

/// The longest one observation may take.
const MAX_OBSERVATION: Duration = Duration::from_secs(10);
/// How much of an HTTP answer is read.
const MAX_BODY: u64 = 1 << 20;

/// One observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub verdict: Verdict,
    pub message: String,
}

impl Observation {
    fn pass(message: impl Into<String>) -> Self {
        Observation {
            verdict: Verdict::Pass,
            message: message.into(),
        }
    }

    fn fail(message: impl Into<String>) -> Self {
        Observation {
            verdict: Verdict::Fail,
            message: message.into(),
        }
    }

    fn inconclusive(message: impl Into<String>) -> Self {
        Observation {
            verdict: Verdict::Inconclusive,
            message: message.into(),
        }
    }
}

/// How a gate ended.
#[derive(Debug, Clone, PartialEq)]
pub enum GateOutcome {
    Passed,
    /// Too many failed observations, or no verdict in time; the message says which.
    Failed(String),
    /// Cancelled from outside (a sibling failed, a signal).
    Cancelled,
}

/// The check with its variables filled in, for people.
pub fn describe(check: &GateCheck, variables: &Variables) -> String {
    match check {
        GateCheck::Http(http) => {
            let mut text = format!("http {}", variables.expand(&http.url));
            if let Some(status) = http.status {
                text.push_str(&format!(" status {status}"));
            }
            if let Some(needle) = &http.body_contains {
                text.push_str(&format!(" body contains {:?}", variables.expand(needle)));
            }
            if let Some(json) = &http.json {
                text.push_str(&format!(
                    " {} = {}",
                    json.pointer,
                    variables.expand_json(&json.equals)
                ));
            }
            text
        }
        GateCheck::Tcp(address) => format!("tcp {}", variables.expand(address)),
        GateCheck::Exec(command) => format!("exec `{command}`"),
        GateCheck::Prometheus(prometheus) => {
            let bounds = match (prometheus.min, prometheus.max) {
                (Some(min), Some(max)) => format!("within {min}..{max}"),
                (Some(min), None) => format!(">= {min}"),
                (None, Some(max)) => format!("<= {max}"),
                (None, None) => String::new(),
            };
            format!(
                "prometheus {} `{}` {bounds}",
                variables.expand(&prometheus.url),
                prometheus.query
            )
        }
    }
}

/// Makes one observation.
pub async fn observe(check: &GateCheck, variables: &Variables, directory: &Path) -> Observation {
    match check {
        GateCheck::Http(http) => {
            let http = http.clone();
            let variables = variables.clone();
            blocking(move || observe_http(&http, &variables)).await
        }
        GateCheck::Tcp(address) => {
            let address = variables.expand(address);
            match tokio::time::timeout(MAX_OBSERVATION, tokio::net::TcpStream::connect(&address))
                .await
            {
                Ok(Ok(_)) => Observation::pass(format!("connected to {address}")),
                Ok(Err(error)) => {
                    Observation::fail(format!("cannot connect to {address}: {error}"))
                }
                Err(_) => Observation::fail(format!("no answer from {address} within 10s")),
            }
        }
        GateCheck::Exec(command) => observe_exec(command, variables, directory).await,
        GateCheck::Prometheus(prometheus) => {
            let prometheus = prometheus.clone();
            let variables = variables.clone();
            blocking(move || observe_prometheus(&prometheus, &variables)).await
        }
    }
}

async fn blocking(work: impl FnOnce() -> Observation + Send + 'static) -> Observation {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Observation::inconclusive(format!("the check panicked: {error}")))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(MAX_OBSERVATION))
        .build()
        .into()
}

fn observe_http(http: &HttpGate, variables: &Variables) -> Observation {
    let url = variables.expand(&http.url);
    let mut response = match agent().get(&url).call() {
        Ok(response) => response,
        Err(error) => return Observation::fail(format!("GET {url}: {error}")),
    };
    let status = response.status().as_u16();
    let status_ok = match http.status {
        Some(expected) => status == expected,
        None => (200..400).contains(&status),
    };
    if !status_ok {
        let expected = http
            .status
            .map_or_else(|| "200-399".to_string(), |s| s.to_string());
        return Observation::fail(format!("HTTP {status}, expected {expected}"));
    }
    if http.body_contains.is_none() && http.json.is_none() {
        return Observation::pass(format!("HTTP {status}"));
    }
    let body = match response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
    {
        Ok(body) => body,
        Err(error) => return Observation::fail(format!("HTTP {status}, unreadable body: {error}")),
    };
    if let Some(needle) = &http.body_contains {
        let needle = variables.expand(needle);
        if !body.contains(&needle) {
            return Observation::fail(format!("HTTP {status}, body lacks {needle:?}"));
        }
    }
    if let Some(json) = &http.json {
        let expected = variables.expand_json(&json.equals);
        let value: serde_json::Value = match serde_json::from_str(&body) {
            Ok(value) => value,
            Err(error) => {
                return Observation::fail(format!("HTTP {status}, body is not JSON: {error}"));
            }
        };
        match value.pointer(&json.pointer) {
            Some(found) if json_equal(found, &expected) => {}
            Some(found) => {
                return Observation::fail(format!(
                    "HTTP {status}, {} is {found}, expected {expected}",
                    json.pointer
                ));
            }
            None => {
                return Observation::fail(format!(
                    "HTTP {status}, the body has nothing at {}",
                    json.pointer
                ));
            }
        }
    }
    Observation::pass(format!("HTTP {status}, body as expected"))
}

/// Equal, where a string written in weft.yaml may stand for a number or a
/// boolean of the answer (`equals: "3"` matches `3`).
fn json_equal(found: &serde_json::Value, expected: &serde_json::Value) -> bool {
    if found == expected {
        return true;
    }
    match (found, expected) {
        (serde_json::Value::Number(number), serde_json::Value::String(text)) => {
            text.parse::<f64>().ok() == number.as_f64()
        }
        (serde_json::Value::Bool(flag), serde_json::Value::String(text)) => {
            text.parse::<bool>().ok() == Some(*flag)
        }
        _ => false,
    }
}

async fn observe_exec(command: &str, variables: &Variables, directory: &Path) -> Observation {
    let mut child = variables.shell(command, directory);
    child.kill_on_drop(true);
    let output = match tokio::time::timeout(MAX_OBSERVATION, child.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Observation::inconclusive(format!("cannot run sh: {error}")),
        Err(_) => return Observation::fail("did not finish within 10s"),
    };
    let said = String::from_utf8_lossy(if output.stderr.is_empty() {
        &output.stdout
    } else {
        &output.stderr
    })
    .lines()
    .last()
    .unwrap_or_default()
    .to_string();
    match output.status.code() {
        Some(0) => Observation::pass(if said.is_empty() {
            "exited 0".to_string()
        } else {
            format!("exited 0: {said}")
        }),
        Some(code) if said.is_empty() => Observation::fail(format!("exited with code {code}")),
        Some(code) => Observation::fail(format!("exited with code {code}: {said}")),
        None => Observation::fail("killed by a signal"),
    }
}

fn observe_prometheus(prometheus: &PrometheusGate, variables: &Variables) -> Observation {
    let base = variables.expand(&prometheus.url);
    let query = variables.expand(&prometheus.query);
    let url = format!("{}/api/v1/query", base.trim_end_matches('/'));
    let mut response = match agent().get(&url).query("query", &query).call() {
        Ok(response) => response,
        Err(error) => {
            return Observation::inconclusive(format!("Prometheus at {base} unreachable: {error}"));
        }
    };
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if status != 200 || value["status"] != "success" {
        let error = value["error"].as_str().unwrap_or(body.as_str());
        return Observation::inconclusive(format!("Prometheus answered HTTP {status}: {error}"));
    }
    let data = &value["data"];
    let samples: Vec<(String, &str)> = match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|series| Some((series["metric"].to_string(), series["value"][1].as_str()?)))
            .collect(),
        Some("scalar") => data["result"][1]
            .as_str()
            .map(|v| vec![("scalar".to_string(), v)])
            .unwrap_or_default(),
        other => {
            return Observation::inconclusive(format!(
                "the query returned a {}, not an instant vector or scalar",
                other.unwrap_or("nothing")
            ));
        }
    };
    if samples.is_empty() {
        return Observation::inconclusive(format!("`{query}` returned no series"));
    }
    for (series, text) in &samples {
        let Ok(sample) = text.parse::<f64>() else {
            return Observation::inconclusive(format!("{series} has the value {text}"));
        };
        if sample.is_nan() {
            return Observation::inconclusive(format!("{series} is NaN"));
        }
        if let Some(max) = prometheus.max
            && sample > max
        {
            return Observation::fail(format!("{series} = {sample}, above the max {max}"));
        }
        if let Some(min) = prometheus.min
            && sample < min
        {
            return Observation::fail(format!("{series} = {sample}, below the min {min}"));
        }
    }
    Observation::pass(format!("{} series within bounds", samples.len()))
}

/// Where a gate's observations go, as they are made.
pub trait ObservationSink: Send + Sync {
    fn observed(&self, gate: &PlannedGate, observation: &Observation);
}

/// Observes `gate` until it decides, as described in the module doc.
/// `cancelled` resolves when the gate should stop early.
pub async fn evaluate(
    gate: &PlannedGate,
    variables: &Variables,
    directory: &Path,
    sink: &dyn ObservationSink,
    cancelled: &mut tokio::sync::watch::Receiver<bool>,
) -> GateOutcome {
    let started = Instant::now();
    let timeout = Duration::from_millis(gate.timeout_ms);
    let interval = Duration::from_millis(gate.interval_ms.max(10));
    let mut passes = 0u32;
    let mut failures = 0u32;
    loop {
        if *cancelled.borrow() {
            return GateOutcome::Cancelled;
        }
        // An observation never outlasts what is left of the gate's time.
        let left = timeout.saturating_sub(started.elapsed()).max(interval);
        let observation = tokio::select! {
            observation = tokio::time::timeout(left, observe(&gate.check, variables, directory)) => {
                observation.unwrap_or_else(|_| Observation::inconclusive(format!(
                    "no answer within the {} ms left to the gate",
                    left.as_millis()
                )))
            }
            () = crate::cancel::requested(cancelled) => return GateOutcome::Cancelled,
        };
        sink.observed(gate, &observation);
        match observation.verdict {
            Verdict::Pass => {
                passes += 1;
                if passes >= gate.success_threshold {
                    return GateOutcome::Passed;
                }
            }
            Verdict::Fail => {
                passes = 0;
                failures += 1;
                if failures > gate.failure_limit {
                    return GateOutcome::Failed(format!(
                        "{} failed {failures} time(s), more than the {} allowed: {}",
                        gate.description, gate.failure_limit, observation.message
                    ));
                }
            }
            Verdict::Inconclusive => passes = 0,
        }
        let last = observation.message;
        let elapsed = started.elapsed();
        if elapsed + interval > timeout {
            return GateOutcome::Failed(format!(
                "{} reached no verdict within {} ms; last: {last}",
                gate.description, gate.timeout_ms
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            () = crate::cancel::requested(cancelled) => return GateOutcome::Cancelled,
        }
    }
}

/// Keeps observing a passed gate for `window` (canary analysis): it fails
/// as soon as more than `failure_limit` observations fail.
pub async fn hold(
    gate: &PlannedGate,
    variables: &Variables,
    directory: &Path,
    window: Duration,
    sink: &dyn ObservationSink,
    cancelled: &mut tokio::sync::watch::Receiver<bool>,
) -> GateOutcome {
    let started = Instant::now();
    let interval = Duration::from_millis(gate.interval_ms.max(10));
    let mut failures = 0u32;
    while started.elapsed() < window {
        let observation = tokio::select! {
            observation = observe(&gate.check, variables, directory) => observation,
            () = crate::cancel::requested(cancelled) => return GateOutcome::Cancelled,
        };
        sink.observed(gate, &observation);
        if observation.verdict == Verdict::Fail {
            failures += 1;
            if failures > gate.failure_limit {
                return GateOutcome::Failed(format!(
                    "{} failed during the canary analysis: {}",
                    gate.description, observation.message
                ));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval.min(window.saturating_sub(started.elapsed()))) => {}
            () = crate::cancel::requested(cancelled) => return GateOutcome::Cancelled,
        }
    }
    GateOutcome::Passed
}
