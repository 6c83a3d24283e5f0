//! The whole workspace as one model.

use std::path::PathBuf;

use serde::Serialize;

use crate::config::WorkspaceConfig;
use crate::diagnostic::Diagnostic;
use crate::edge::Edge;
use crate::resource::Claim;
use crate::service::{Service, ServiceId};

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Repository {
    pub name: String,
    /// Path relative to the workspace root.
    pub path: String,
}

/// Every repository, service, edge and claim of a workspace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    pub name: String,
    pub root: PathBuf,
    pub config: WorkspaceConfig,
    pub repositories: Vec<Repository>,
    pub services: Vec<Service>,
    pub edges: Vec<Edge>,
    pub claims: Vec<Claim>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A name given on the command line that matches no service, or several.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("no service named `{name}`{}", suggestion_text(.suggestions))]
    NotFound {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("`{name}` is ambiguous: it names {}", .candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
}

fn suggestion_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", suggestions.join(", "))
    }
}

impl Model {
    pub fn service(&self, id: &ServiceId) -> Option<&Service> {
        self.services.iter().find(|s| &s.id == id)
    }

    /// Finds a service by `repository/service` or, when unambiguous, by its plain name.
    pub fn lookup(&self, name: &str) -> Result<&Service, LookupError> {
        if let Some(service) = self.services.iter().find(|s| s.id.as_str() == name) {
            return Ok(service);
        }
        // A plain name matches qualified names too (`db` matches `tools/db`).
        let matches: Vec<&Service> = self
            .services
            .iter()
            .filter(|s| s.name == name || s.name.rsplit('/').next() == Some(name))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => {
                let mut suggestions: Vec<String> = self
                    .services
                    .iter()
                    .filter(|s| s.name.contains(name) || name.contains(s.name.as_str()))
                    .map(|s| s.id.to_string())
                    .collect();
                suggestions.truncate(5);
                Err(LookupError::NotFound {
                    name: name.to_string(),
                    suggestions,
                })
            }
            many => Err(LookupError::Ambiguous {
                name: name.to_string(),
                candidates: many.iter().map(|s| s.id.to_string()).collect(),
            }),
        }
    }
}
