//! A blocking client for `weft serve`'s lease API, for the CLI (`weft lock`,
//! `weft claim`, `weft push` in server mode). Waiting is a long poll: the
//! request stays open until the server grants or gives up, never polling.

use std::time::Duration;

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
}

#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client for the server at `url` (`http://127.0.0.1:7700`).
    pub fn new(url: &str, token: Option<String>) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Client {
            base: url.trim_end_matches('/').to_owned(),
            token,
            agent,
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
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
            url: self.base.clone(),
            message: error.to_string(),
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Decode(e.to_string()))?;
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

    /// Claims a lease, waiting on the server up to `wait_ms`.
    pub fn acquire(&self, body: &AcquireBody) -> Result<Lease, ClientError> {
        let body = serde_json::to_value(body).map_err(|e| ClientError::Decode(e.to_string()))?;
        Self::decode(self.call("POST", "/api/v1/leases", Some(&body))?)
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
