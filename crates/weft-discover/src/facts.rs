//! What readers find: facts local to one repository, before the builder
//! resolves names across the workspace.

use std::sync::Arc;

use weft_model::{Diagnostic, EdgeKind, Provenance, ProxyKind, Resource, Span};

/// One file handed to a reader.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the workspace root, with `/` separators; shared by
    /// the provenance of every fact read from the file.
    pub path: Arc<str>,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<Arc<str>>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Provenance for a span of this file.
    pub fn provenance(&self, span: Span, rule: weft_model::Rule) -> Provenance {
        Provenance::new(Arc::clone(&self.path), span, rule)
    }

    /// A diagnostic located at a span of this file, quoting its line.
    pub fn diagnostic(&self, mut diagnostic: Diagnostic, span: Span) -> Diagnostic {
        diagnostic = diagnostic.in_file(&self.path);
        diagnostic.at(&self.text, span.start)
    }
}

/// Where a service was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    Compose,
    Kubernetes,
    Nginx,
    Procfile,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Compose => "compose",
            SourceKind::Kubernetes => "kubernetes",
            SourceKind::Nginx => "nginx",
            SourceKind::Procfile => "procfile",
        }
    }
}

/// A service declared in this repository: a name inside a scope.
///
/// Scopes are where names resolve first: `compose:<project dir>` for a compose
/// project, `kubernetes:<namespace>` for a namespace, `procfile:<dir>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalService {
    pub scope: String,
    pub name: String,
}

impl LocalService {
    pub fn new(scope: impl Into<String>, name: impl Into<String>) -> Self {
        LocalService {
            scope: scope.into(),
            name: name.into(),
        }
    }
}

/// Who a fact belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A service declared in this repository.
    Service(LocalService),
    /// Whatever runs the file the fact was read from (an nginx config, a
    /// `.env`): the builder attributes it to the service that mounts the file
    /// or whose build context holds it, else to the repository.
    File,
    /// The proxy of this kind in the workspace (the service running Traefik).
    Proxy(ProxyKind),
    /// The repository itself: top-level compose `networks` and `volumes`.
    Repository,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFact {
    pub service: LocalService,
    pub source: SourceKind,
    pub image: Option<String>,
    pub command: Option<String>,
    /// Extra host names that reach it: container name, hostname, network
    /// aliases, Kubernetes Service names and DNS forms.
    pub aliases: Vec<String>,
    /// Directory of its build context or sources, relative to the workspace root.
    pub directory: Option<String>,
    pub provenance: Provenance,
}

/// What a reference points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A service by name in a scope of this repository (`depends_on`, `links`).
    Service(LocalService),
    /// A host name, which may name any service of the workspace
    /// (`db`, `db:5432`, `db.prod.svc.cluster.local`).
    Host(String),
}

/// An edge before names are resolved: `from` needs `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub from: Subject,
    pub target: Target,
    pub kind: EdgeKind,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimFact {
    pub subject: Subject,
    pub resource: Resource,
    pub provenance: Provenance,
}

/// A file a service uses (a bind mount, an `env_file`), so that facts read
/// from that file are attributed to the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub service: LocalService,
    /// Path relative to the workspace root, normalized, with `/` separators.
    pub path: String,
}

/// An environment variable set somewhere, for `shared_env` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvAssignment {
    pub subject: Subject,
    pub name: String,
    pub value: String,
    pub provenance: Provenance,
}

/// Everything one reader found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub services: Vec<ServiceFact>,
    pub references: Vec<Reference>,
    pub claims: Vec<ClaimFact>,
    pub mounts: Vec<Mount>,
    pub env: Vec<EnvAssignment>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Facts {
    /// Adds `other`'s facts after these. A kind these have none of takes
    /// `other`'s vector as it is, rather than allocating a second one and
    /// copying into it.
    pub fn extend(&mut self, other: Facts) {
        fn append<T>(to: &mut Vec<T>, from: Vec<T>) {
            if to.is_empty() {
                *to = from;
            } else {
                to.extend(from);
            }
        }
        append(&mut self.services, other.services);
        append(&mut self.references, other.references);
        append(&mut self.claims, other.claims);
        append(&mut self.mounts, other.mounts);
        append(&mut self.env, other.env);
        append(&mut self.diagnostics, other.diagnostics);
    }
}
