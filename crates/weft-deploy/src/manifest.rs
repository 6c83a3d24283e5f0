//! What is live in an environment, read from its release manifests, and
//! what a rollback goes back to.
//!
//! The live versions are the last successful manifest's, except for the
//! services a later release touched and did not bring back (it was
//! interrupted, failed with `rollback: manual`, or its rollback failed):
//! those may run anything, so a rollback restores them too.

use std::collections::{BTreeMap, BTreeSet};

use weft_store::{DeploymentRecord, DeploymentStatus, ServiceState, Store, StoreError};

/// The environment as its manifests describe it.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// The last successful release (or rollback), if any.
    pub manifest: Option<DeploymentRecord>,
    /// Service id → version, from that manifest.
    pub versions: BTreeMap<String, String>,
    /// Services a later, unfinished release may have changed, with it.
    pub uncertain: BTreeMap<String, String>,
}

/// Reads the environment's live state.
pub async fn live_state(store: &Store, environment: &str) -> Result<LiveState, StoreError> {
    let manifest = store.last_successful(environment, None).await?;
    let versions = manifest
        .as_ref()
        .map(|m| m.versions.clone())
        .unwrap_or_default();
    let mut uncertain = BTreeMap::new();
    for summary in store.deployments(Some(environment), 50).await? {
        if manifest.as_ref().is_some_and(|m| m.id == summary.id) {
            break;
        }
        if !matches!(
            summary.status,
            DeploymentStatus::Interrupted
                | DeploymentStatus::Failed
                | DeploymentStatus::RollbackFailed
        ) {
            continue;
        }
        let Some(record) = store.deployment(&summary.id).await? else {
            continue;
        };
        for service in &record.services {
            let touched = !matches!(
                service.state,
                ServiceState::Pending
                    | ServiceState::Unchanged
                    | ServiceState::Skipped
                    | ServiceState::RolledBack
            );
            if touched {
                uncertain
                    .entry(service.service.clone())
                    .or_insert_with(|| record.id.clone());
            }
        }
    }
    Ok(LiveState {
        manifest,
        versions,
        uncertain,
    })
}

/// What `weft deploy rollback ENV [--to ID]` restores.
#[derive(Debug, Clone)]
pub struct RollbackTarget {
    pub manifest: DeploymentRecord,
    /// Service id → the version to restore.
    pub restore: BTreeMap<String, String>,
}

/// Why there is nothing to roll back to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    #[error("no deployment `{id}` in environment `{environment}`")]
    Unknown { id: String, environment: String },
    #[error("deployment `{id}` did not succeed ({status}); roll back to a successful one")]
    NotSuccessful { id: String, status: String },
    #[error("environment `{environment}` has no earlier successful release to roll back to")]
    Nothing { environment: String },
    #[error("environment `{environment}` already runs what `{id}` recorded; nothing to roll back")]
    AlreadyThere { environment: String, id: String },
}

/// The manifest a rollback goes back to, and the services it changes: by
/// default the last successful release before the current one (or, when
/// the latest release did not finish cleanly, the current manifest itself).
pub async fn rollback_target(
    store: &Store,
    environment: &str,
    to: Option<&str>,
) -> Result<Result<RollbackTarget, RollbackError>, StoreError> {
    let live = live_state(store, environment).await?;
    let manifest = match to {
        Some(id) => match store.deployment(id).await? {
            Some(record) if record.environment == environment => {
                if record.status != DeploymentStatus::Succeeded {
                    return Ok(Err(RollbackError::NotSuccessful {
                        id: id.to_string(),
                        status: record.status.as_str().to_string(),
                    }));
                }
                record
            }
            _ => {
                return Ok(Err(RollbackError::Unknown {
                    id: id.to_string(),
                    environment: environment.to_string(),
                }));
            }
        },
        None if !live.uncertain.is_empty() => match &live.manifest {
            Some(current) => current.clone(),
            None => {
                return Ok(Err(RollbackError::Nothing {
                    environment: environment.to_string(),
                }));
            }
        },
        None => {
            let before = live.manifest.as_ref().map(|m| m.id.as_str());
            match store.last_successful(environment, before).await? {
                Some(record) if before.is_some() => record,
                _ => {
                    return Ok(Err(RollbackError::Nothing {
                        environment: environment.to_string(),
                    }));
                }
            }
        }
    };
    let uncertain: BTreeSet<&String> = live.uncertain.keys().collect();
    let restore: BTreeMap<String, String> = manifest
        .versions
        .iter()
        .filter(|(service, version)| {
            uncertain.contains(service) || live.versions.get(*service) != Some(*version)
        })
        .map(|(service, version)| (service.clone(), version.clone()))
        .collect();
    if restore.is_empty() {
        return Ok(Err(RollbackError::AlreadyThere {
            environment: environment.to_string(),
            id: manifest.id.clone(),
        }));
    }
    Ok(Ok(RollbackTarget { manifest, restore }))
}
