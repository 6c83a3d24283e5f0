//! A blocking client for `weft serve`'s lease API, for the CLI (`weft lock`,
//! `weft claim`, `weft push` in server mode). Waiting is a long poll: the
//! request stays open until the server grants or gives up, never polling.
//!
//! How failover works: the client knows one or more servers (`URL1,URL2`,
//! replicas on one database). A request that cannot reach the current one
//! goes to the next, and after a round of all of them waits (100 ms, then
//! doubling to 2 s, with jitter) and tries again, for as long as the
//! request's own budget allows: its wait, or the client's patience. A
//! server's answer, even an error, is final, but for `shutting_down`: the
//! server did nothing with the request. A long poll cut by a restart
//! is asked again with what is left of its wait and the same request id:
//! a server that still holds the claim (the replica that took it, once
//! restarted, or another on the same database) gives back its place in the
//! queue, or the lease it was granted while the answer was lost, rather
//! than queueing it again at the back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error (`{error: {code, message, details}}`).
    #[error("{}", .0.message)]
    Api(Box<ApiFailure>),
    #[error("cannot reach the weft server at {url}: {message}")]
    Transport { url: String, message: String },
    #[error("unexpected answer from the weft server: {0}")]
    Decode(String),
}

/// An error answer from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: Value,
}

impl ClientError {
    /// A conflict or a wait that ran out: the resource is taken.
    pub fn is_taken(&self) -> bool {
        matches!(self, ClientError::Api(failure) if failure.code == "conflict" || failure.code == "timeout")
    }

    /// The caller's mistake (4xx other than a conflict).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, ClientError::Api(failure) if (400..500).contains(&failure.status) && failure.status != 409)
    }
}

/// A lease as the server returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub resource: String,
    pub mode: String,
    pub weight: i64,
    pub token: i64,
    pub holder: Value,
    pub priority: i64,
    pub ttl_ms: i64,
    pub granted_at: String,
    pub expires_at: String,
}

/// The body of `POST /api/v1/leases`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AcquireBody {
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    pub holder: Value,
    /// This claim's id, the same on every try (a UUID; [`Client::acquire`]
    /// makes one when it is `None`): asked again, the claim takes back its
    /// place in the queue, or the lease granted when the answer was lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// How long a request keeps trying to reach a server, unless its own wait
/// is longer.
const PATIENCE: Duration = Duration::from_secs(10);
/// The longest pause between two rounds of the servers.
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// The servers of a comma-separated list (`http://a:7700,http://b:7700`),
/// as [`Client::new`] reads it: trimmed, empty entries left out.
pub fn server_urls(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|url| !url.is_empty())
}

#[derive(Debug, Clone)]
pub struct Client {
    bases: Vec<String>,
    /// The server that answered last; clones share it.
    current: Arc<AtomicUsize>,
    token: Option<String>,
    agent: ureq::Agent,
    patience: Duration,
}

impl Client {
    /// A client for the server at `url` (`http://127.0.0.1:7700`), or for
    /// several replicas, comma-separated (`http://a:7700,http://b:7700`).
    pub fn new(url: &str, token: Option<String>) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(2)))
            .build()
            .into();
        let mut bases: Vec<String> = server_urls(url)
            .map(|url| url.trim_end_matches('/').to_owned())
            .collect();
        if bases.is_empty() {
            bases.push(url.trim().to_owned());
        }
        Client {
            bases,
            current: Arc::new(AtomicUsize::new(0)),
            token,
            agent,
            patience: PATIENCE,
        }
    }

    /// How long a request keeps trying to reach a server (10 s by
    /// default; a wait longer than that is its own budget).
    pub fn with_patience(mut self, patience: Duration) -> Client {
        self.patience = patience;
        self
    }

    /// The server the client talks to now.
    pub fn url(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// Every server the client knows.
    pub fn urls(&self) -> &[String] {
        &self.bases
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        self.call_within(method, path, &|| body.cloned(), self.patience)
    }

    /// Sends the request to the servers in turn until one answers or
    /// `budget` has passed (see the module documentation). `body` makes
    /// each attempt's body (a wait shrinks as time passes).
    fn call_within(
        &self,
        method: &str,
        path: &str,
        body: &dyn Fn() -> Option<Value>,
        budget: Duration,
    ) -> Result<Value, ClientError> {
        let deadline = Instant::now() + budget;
        let mut failures = 0usize;
        loop {
            let index = self.current.load(Ordering::Relaxed) % self.bases.len();
            let answer = match self.once(&self.bases[index], method, path, body().as_ref()) {
                // A server shutting down did nothing with the request: it
                // is asked again like one that cannot be reached (a
                // restart, or the next replica), not given up on.
                Err(ClientError::Api(failure)) if failure.code == "shutting_down" => {
                    Err(ClientError::Transport {
                        url: self.bases[index].clone(),
                        message: failure.message,
                    })
                }
                answer => answer,
            };
            match answer {
                Err(ClientError::Transport { url, message }) => {
                    failures += 1;
                    let _ = self.current.compare_exchange(
                        index,
                        (index + 1) % self.bases.len(),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(ClientError::Transport { url, message });
                    }
                    if failures.is_multiple_of(self.bases.len()) {
                        let round = u32::try_from(failures / self.bases.len()).unwrap_or(u32::MAX);
                        let cap = Duration::from_millis(100)
                            .saturating_mul(1 << round.min(5))
                            .min(BACKOFF_CAP);
                        let pause = cap.mul_f64(0.5 + fastrand::f64() / 2.0);
                        std::thread::sleep(pause.min(deadline - now));
                    }
                }
                other => return other,
            }
        }
    }

    fn once(
        &self,
        base: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{base}{path}");
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let result = match body {
            Some(body) => {
                let request = request
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .map_err(|e| ClientError::Decode(e.to_string()))?;
                self.agent.run(request)
            }
            None => {
                let request = request
                    .body(())
                    .map_err(|e| ClientError::Decode(e.to_string()))?;
                self.agent.run(request)
            }
        };
        let mut response = result.map_err(|error| ClientError::Transport {
            url: base.to_owned(),
            message: error.to_string(),
        })?;
        let status = response.status().as_u16();
        // A body cut off (the server went away while answering) is a
        // transport failure, tried again like one.
        let text =
            response
                .body_mut()
                .read_to_string()
                .map_err(|error| ClientError::Transport {
                    url: base.to_owned(),
                    message: error.to_string(),
                })?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|_| ClientError::Decode(format!("HTTP {status}: {text}")))?;
        if status >= 400 {
            let error = &value["error"];
            return Err(ClientError::Api(Box::new(ApiFailure {
                status,
                code: error["code"].as_str().unwrap_or("unknown").to_owned(),
                message: error["message"].as_str().unwrap_or(&text).to_owned(),
                details: error["details"].clone(),
            })));
        }
        Ok(value)
    }

    fn decode<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, ClientError> {
        serde_json::from_value(value).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Claims a lease, waiting on the server up to `wait_ms`. A wait cut by
    /// a server going away goes on at another (or the restarted) server
    /// with what is left of it.
    pub fn acquire(&self, body: &AcquireBody) -> Result<Lease, ClientError> {
        let wait = Duration::from_millis(u64::try_from(body.wait_ms.unwrap_or(0)).unwrap_or(0));
        let started = Instant::now();
        let request = body
            .request
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let asked = || {
            let mut asked = body.clone();
            asked.request = Some(request.clone());
            if body.wait_ms.is_some() {
                let left = wait.saturating_sub(started.elapsed());
                asked.wait_ms = Some(i64::try_from(left.as_millis()).unwrap_or(i64::MAX));
            }
            serde_json::to_value(&asked).ok()
        };
        let budget = wait.max(self.patience);
        match self.call_within("POST", "/api/v1/leases", &asked, budget) {
            // A server older than request ids refuses the field: ask it as
            // it understands, without a place kept across restarts.
            Err(ClientError::Api(failure))
                if failure.code == "invalid_body" && failure.message.contains("`request`") =>
            {
                let without = || {
                    let mut asked = asked()?;
                    asked.as_object_mut()?.remove("request");
                    Some(asked)
                };
                Self::decode(self.call_within("POST", "/api/v1/leases", &without, budget)?)
            }
            answer => Self::decode(answer?),
        }
    }

    pub fn renew(&self, lease: &str, ttl_ms: Option<i64>) -> Result<Lease, ClientError> {
        let body = match ttl_ms {
            Some(ttl) => serde_json::json!({"ttl_ms": ttl}),
            None => serde_json::json!({}),
        };
        Self::decode(self.call(
            "POST",
            &format!("/api/v1/leases/{}/renew", encode(lease)),
            Some(&body),
        )?)
    }

    pub fn release(&self, lease: &str) -> Result<Lease, ClientError> {
        let value = self.call("DELETE", &format!("/api/v1/leases/{}", encode(lease)), None)?;
        Self::decode(value["released"].clone())
    }

    pub fn leases(&self) -> Result<Vec<Lease>, ClientError> {
        let value = self.call("GET", "/api/v1/leases", None)?;
        Self::decode(value["leases"].clone())
    }

    /// Every resource someone holds or waits for, with holders and queue.
    pub fn queues(&self) -> Result<Value, ClientError> {
        Ok(self.call("GET", "/api/v1/queue", None)?["resources"].clone())
    }

    pub fn force_release(&self, resource: &str, reason: &str) -> Result<Value, ClientError> {
        self.call(
            "POST",
            &format!("/api/v1/resources/{}/force-release", encode(resource)),
            Some(&serde_json::json!({"reason": reason})),
        )
    }

    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.call("GET", path, None)
    }

    /// Starts a release on the server (`POST /api/v1/deployments`).
    pub fn start_deployment(&self, body: &Value) -> Result<Value, ClientError> {
        self.call("POST", "/api/v1/deployments", Some(body))
    }

    /// A release's record (`GET /api/v1/deployments/ID`).
    pub fn deployment(&self, id: &str) -> Result<Value, ClientError> {
        self.call("GET", &format!("/api/v1/deployments/{}", encode(id)), None)
    }
}

/// Percent-encodes a path segment (resource ids hold `:` and `/`).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_resource_ids() {
        assert_eq!(encode("branch:origin/main"), "branch%3Aorigin%2Fmain");
        assert_eq!(encode("port:8080"), "port%3A8080");
    }
}
