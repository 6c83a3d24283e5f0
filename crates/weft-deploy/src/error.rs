//! What goes wrong in planning and running a release.

use weft_store::{AcquireError, StoreError};

/// A release that cannot be planned: bad input, exit 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no environment `{name}` in weft.yaml{}", known_text(.known))]
    UnknownEnvironment { name: String, known: Vec<String> },
    #[error("`{name}`: {reason}")]
    UnknownService { name: String, reason: String },
    #[error("`{service}` has no `deploy:` in weft.yaml, so weft cannot release it")]
    NotDeployable { service: String },
    #[error("the version of `{service}` is empty")]
    EmptyVersion { service: String },
    #[error("no version is recorded for {}; give one with --set SERVICE=VERSION", .services.join(", "))]
    NoVersion { services: Vec<String> },
    #[error("nothing to release: name services with --set SERVICE=VERSION, or use --all{}", deployable_text(.deployable))]
    NothingToRelease { deployable: Vec<String> },
    #[error("the release cannot be ordered: {} need each other", .path.join(" → "))]
    Cycle { path: Vec<String> },
    #[error("none of the canary services ({}) is in this release", .canary.join(", "))]
    NoCanary { canary: Vec<String> },
    #[error("no deployment `{id}`")]
    UnknownDeployment { id: String },
}

fn known_text(known: &[String]) -> String {
    if known.is_empty() {
        "; add it under `environments:`".to_string()
    } else {
        format!(" (it has {})", known.join(", "))
    }
}

fn deployable_text(deployable: &[String]) -> String {
    if deployable.is_empty() {
        "; no service has a `deploy:` section yet".to_string()
    } else {
        format!(" (services with `deploy:`: {})", deployable.join(", "))
    }
}

/// A release that could not run: the environment, exit 3 (or 1 when the
/// environment is taken).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("failed to use the store")]
    Store(#[from] StoreError),
    #[error("environment `{environment}` is being released by another run: {source}")]
    Busy {
        environment: String,
        #[source]
        source: Box<AcquireError>,
    },
    #[error("failed to take the lease on environment `{environment}`")]
    Lease {
        environment: String,
        #[source]
        source: Box<AcquireError>,
    },
}
