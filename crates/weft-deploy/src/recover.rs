//! Finding releases whose `weft deploy run` died (SIGKILL, a lost machine)
//! and marking them `interrupted`, so the next run, rollback or status on
//! the environment says so instead of waiting on a dead holder.

use weft_store::{Coordinator, ResourceId, StoreError};

/// This machine's name, as leases record it.
pub fn host_name() -> String {
    fs_err::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(error) => error == nix::errno::Errno::EPERM,
    }
}

/// The environment's lease resource, `environment:NAME`.
pub fn environment_resource(environment: &str) -> Result<ResourceId, StoreError> {
    ResourceId::new("environment", environment)
}

/// Marks the environment's running releases whose process is gone as
/// interrupted, and gives back the lease a dead process on this machine
/// still holds. Returns the deployments marked.
///
/// A release is gone when its process on this machine no longer exists, or
/// when no one holds the environment's lease any more (its holder stopped
/// renewing it, wherever it ran).
pub async fn recover_interrupted(
    coordinator: &Coordinator,
    environment: &str,
) -> Result<Vec<String>, StoreError> {
    let store = coordinator.store();
    let running = store.running_deployments(Some(environment)).await?;
    if running.is_empty() {
        return Ok(Vec::new());
    }
    coordinator.reap().await?;
    let resource = environment_resource(environment)?;
    let holders = match store.resource(&resource).await {
        Ok(view) => view.holders,
        Err(StoreError::UnknownResource(_)) => Vec::new(),
        Err(error) => return Err(error),
    };
    let here = host_name();
    let mut marked = Vec::new();
    for summary in running {
        let Some(record) = store.deployment(&summary.id).await? else {
            continue;
        };
        let dead_here = record.host == here && !alive(record.pid);
        let held_by_it = holders.iter().any(|lease| {
            lease.holder.host.as_deref() == Some(record.host.as_str())
                && lease.holder.labels.get("pid") == Some(&record.pid.to_string())
        });
        if !dead_here && held_by_it {
            continue;
        }
        let reason = if dead_here {
            format!("its process {} on {} is gone", record.pid, record.host)
        } else {
            "it no longer holds the environment's lease".to_string()
        };
        if store.mark_interrupted(&record.id, &reason).await? {
            marked.push(record.id.clone());
        }
        if dead_here && held_by_it {
            coordinator
                .force_release(
                    &resource,
                    &format!("release {} was interrupted: {reason}", record.id),
                    &format!("weft deploy (pid {})", std::process::id()),
                )
                .await?;
        }
    }
    Ok(marked)
}
