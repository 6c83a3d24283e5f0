//! The records the store keeps, as the API shows them.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::time::rfc3339;

/// A new id for a lease, waiter or operation the store makes: a UUID of
/// version 7, whose leading bits are the time (and the rest random), so
/// that the rows a batch adds go to the end of their tables' id indexes. A
/// random (version 4) id put nearly every row on another page of the index,
/// each one written out again with the commit.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `type:identifier`, e.g. `branch:origin/main` or `port:8080`. A name with
/// no `:` is a plain lock: `lock:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceId {
    kind: String,
    identifier: String,
}

impl ResourceId {
    pub fn new(kind: &str, identifier: &str) -> Result<Self, StoreError> {
        let valid_kind = !kind.is_empty()
            && kind.len() <= 64
            && kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !valid_kind {
            return Err(StoreError::invalid(
                "resource",
                format!(
                    "type `{kind}` must be 1–64 letters, digits, `-`, `_` or `.` (port, domain, branch, …)"
                ),
            ));
        }
        if identifier.is_empty()
            || identifier.len() > 512
            || identifier.chars().any(char::is_control)
        {
            return Err(StoreError::invalid(
                "resource",
                "the identifier must be 1–512 printable characters",
            ));
        }
        Ok(ResourceId {
            kind: kind.to_owned(),
            identifier: identifier.to_owned(),
        })
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text.split_once(':') {
            Some((kind, identifier)) => ResourceId::new(kind, identifier),
            None => ResourceId::new("lock", text),
        }
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn identifier(&self) -> &str {
        &self.identifier
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.identifier)
    }
}

impl TryFrom<String> for ResourceId {
    type Error = StoreError;
    fn try_from(text: String) -> Result<Self, StoreError> {
        ResourceId::parse(&text)
    }
}

impl From<ResourceId> for String {
    fn from(id: ResourceId) -> String {
        id.to_string()
    }
}

/// Who holds or waits: filled from GitHub Actions variables when present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(repository) = &self.repository {
            parts.push(repository.clone());
        }
        if let Some(workflow) = &self.workflow {
            parts.push(format!("workflow `{workflow}`"));
        }
        if let Some(run_id) = &self.run_id {
            parts.push(format!("run {run_id}"));
        }
        if let Some(host) = &self.host {
            parts.push(format!("host {host}"));
        }
        for (key, value) in &self.labels {
            parts.push(format!("{key}={value}"));
        }
        if parts.is_empty() {
            f.write_str("an anonymous holder")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Exclusive holds the whole resource; shared leases add their weights up to
/// its capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Exclusive,
    Shared,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Exclusive => "exclusive",
            Mode::Shared => "shared",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "exclusive" => Ok(Mode::Exclusive),
            "shared" => Ok(Mode::Shared),
            other => Err(StoreError::Corrupt {
                what: "lease mode",
                message: format!("`{other}`"),
            }),
        }
    }
}

/// A request for a lease. Times are in milliseconds; `None` takes the
/// policy's default.
#[derive(Debug, Clone, Default)]
pub struct AcquireRequest {
    pub resource: ResourceId,
    pub mode: Mode,
    pub weight: i64,
    pub priority: Option<i64>,
    pub class: Option<String>,
    pub ttl_ms: Option<i64>,
    /// How long to wait; 0 means do not queue.
    pub wait_ms: Option<i64>,
    pub holder: Holder,
    /// The capacity to give the resource if this claim creates it.
    pub capacity: Option<i64>,
    /// The client's own id for this claim (a UUID), the same on every try:
    /// asked again after a lost answer or a server restart, the claim finds
    /// its place in the queue, or the lease it was granted, instead of
    /// starting over. It becomes the waiter's and the lease's id.
    pub request: Option<String>,
}

impl Default for ResourceId {
    fn default() -> Self {
        ResourceId {
            kind: "lock".to_owned(),
            identifier: "default".to_owned(),
        }
    }
}

/// A granted lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub resource: ResourceId,
    pub mode: Mode,
    pub weight: i64,
    /// Strictly increasing per resource: pass it to whatever the lease
    /// protects, which rejects a smaller one.
    pub token: i64,
    pub holder: Holder,
    pub priority: i64,
    pub ttl_ms: i64,
    pub granted_at: String,
    pub expires_at: String,
    #[serde(skip)]
    pub(crate) granted_at_ms: i64,
    #[serde(skip)]
    pub(crate) expires_at_ms: i64,
}

impl Lease {
    pub fn expires_at_ms(&self) -> i64 {
        self.expires_at_ms
    }

    pub fn granted_at_ms(&self) -> i64 {
        self.granted_at_ms
    }

    pub(crate) fn stamp(mut self) -> Self {
        self.granted_at = rfc3339(self.granted_at_ms);
        self.expires_at = rfc3339(self.expires_at_ms);
        self
    }
}

/// A resource as registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub id: ResourceId,
    #[serde(rename = "type")]
    pub kind: String,
    pub identifier: String,
    pub capacity: i64,
    pub metadata: serde_json::Value,
    /// The last fencing token granted.
    pub fence: i64,
}

/// One waiter in a resource's queue, in grant order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub waiter: String,
    /// 1 for the next to be granted.
    pub position: usize,
    pub mode: Mode,
    pub weight: i64,
    pub holder: Holder,
    pub priority: i64,
    /// The priority with aging added: what the queue is ordered by.
    pub effective_priority: i64,
    pub enqueued_at: String,
    pub waited_ms: i64,
    pub deadline: String,
}

/// A resource with its holders and queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceView {
    #[serde(flatten)]
    pub resource: Resource,
    /// Weight held, out of `capacity`.
    pub used: i64,
    pub holders: Vec<Lease>,
    pub queue: Vec<QueueEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    Active,
    Succeeded,
    Failed,
    /// A claim that found the resource taken and did not wait, or timed out.
    Conflict,
}

impl OperationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Active => "active",
            OperationStatus::Succeeded => "succeeded",
            OperationStatus::Failed => "failed",
            OperationStatus::Conflict => "conflict",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "active" => OperationStatus::Active,
            "succeeded" => OperationStatus::Succeeded,
            "failed" => OperationStatus::Failed,
            "conflict" => OperationStatus::Conflict,
            _ => return None,
        })
    }
}

/// A tracked coordination operation: a claim, a release, an analysis, a
/// resolution, a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: OperationStatus,
    pub resource: Option<String>,
    pub holder: Option<Holder>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// Something that happened, for the event stream and the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub resource: Option<String>,
    pub data: serde_json::Value,
}

/// A threshold crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule: String,
    pub severity: String,
    pub subject: String,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
    pub created_at: String,
    pub resolved_at: Option<String>,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
}
