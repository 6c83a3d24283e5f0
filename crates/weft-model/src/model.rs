//! The whole workspace as one model.

use std::collections::HashMap;
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

/// Services by id and plain name, from [`Model::lookup_index`].
#[derive(Debug)]
pub struct LookupIndex<'m> {
    model: &'m Model,
    by_id: HashMap<&'m str, usize>,
    by_name: HashMap<&'m str, Vec<usize>>,
}

impl<'m> LookupIndex<'m> {
    /// What [`Model::lookup`] answers for `name`.
    pub fn lookup(&self, name: &str) -> Result<&'m Service, LookupError> {
        if let Some(&at) = self.by_id.get(name) {
            return Ok(&self.model.services[at]);
        }
        let mut found: Vec<usize> = self.by_name.get(name).cloned().unwrap_or_default();
        found.sort_unstable();
        found.dedup();
        let matches: Vec<&Service> = found.iter().map(|&at| &self.model.services[at]).collect();
        self.model.lookup_result(name, &matches)
    }

    /// The position of the service with this id in the model's services.
    pub fn position(&self, id: &ServiceId) -> Option<usize> {
        self.by_id.get(id.as_str()).copied()
    }
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
        self.lookup_result(name, &matches)
    }

    /// An index for many [`Model::lookup`]s: the same answers, each in
    /// constant time.
    pub fn lookup_index(&self) -> LookupIndex<'_> {
        let mut index = LookupIndex {
            model: self,
            by_id: HashMap::with_capacity(self.services.len()),
            by_name: HashMap::with_capacity(self.services.len()),
        };
        for (at, service) in self.services.iter().enumerate() {
            index.by_id.entry(service.id.as_str()).or_insert(at);
            index
                .by_name
                .entry(service.name.as_str())
                .or_default()
                .push(at);
            if let Some(last) = service
                .name
                .rsplit('/')
                .next()
                .filter(|l| *l != service.name)
            {
                index.by_name.entry(last).or_default().push(at);
            }
        }
        index
    }

    fn lookup_result<'m>(
        &'m self,
        name: &str,
        matches: &[&'m Service],
    ) -> Result<&'m Service, LookupError> {
        match matches {
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
