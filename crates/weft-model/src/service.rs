//! Services and their workspace-unique ids.

use std::sync::Arc;

use serde::Serialize;

use crate::provenance::Provenance;

/// `repository/service`, unique in the workspace.
///
/// Shared text: a model names each service in its edges, claims and plans
/// many times over, and a copy of an id is a count, not a string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ServiceId(pub Arc<str>);

impl ServiceId {
    pub fn new(repository: &str, name: &str) -> Self {
        let mut id = String::with_capacity(repository.len() + 1 + name.len());
        id.push_str(repository);
        id.push('/');
        id.push_str(name);
        ServiceId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An id hashes and compares as its text, so maps keyed by ids can be
/// looked up with a `&str`.
impl std::borrow::Borrow<str> for ServiceId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ServiceId {
    fn from(id: &str) -> Self {
        ServiceId(id.into())
    }
}

impl std::fmt::Display for ServiceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A service of the workspace, merged from every file that describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub id: ServiceId,
    pub repository: String,
    pub name: String,
    /// Where it is described: `compose`, `kubernetes`, `nginx`, `procfile`, `weft.yaml`.
    pub sources: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Host names other services reach it by (service name, container name,
    /// aliases, Kubernetes DNS names).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub provenance: Vec<Provenance>,
}
