//! Where `weft lock`, `weft claim` and `weft push` get leases: a `weft
//! serve` server (`--server`/`WEFT_SERVER`), or without one the workspace's
//! own SQLite store, `.weft/state.db`, shared by every weft process on this
//! machine.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;
use weft_client::{AcquireBody, Client, ClientError, Lease};
use weft_store::{
    AcquireError, AcquireRequest, AlertThresholds, Coordinator, CoordinatorMode, Holder,
    LeasePolicy, Mode, ResourceId, Store, StoreError,
};

use super::Context;
use crate::exit::UsageError;

/// Options every lease command shares.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectionArgs {
    /// A weft server's URL, or several replicas' comma-separated (tried in turn, a restart ridden
    /// out); without one, the workspace's local store is used
    #[arg(long, env = "WEFT_SERVER", value_name = "URL[,URL...]", global = true)]
    pub(crate) server: Option<String>,
    /// Bearer token for the server
    #[arg(
        long,
        env = "WEFT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub(crate) token: Option<String>,
    /// The local store (default: WORKSPACE/.weft/state.db)
    #[arg(long, value_name = "URL", global = true, conflicts_with = "server")]
    pub(crate) store: Option<String>,
}

/// What to ask for: shared by `lock acquire`, `lock run`, `claim`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClaimArgs {
    /// Share the resource with other shared holders, up to its capacity
    #[arg(long)]
    pub(crate) shared: bool,
    /// A shared lease's weight
    #[arg(long, value_name = "N", requires = "shared")]
    pub(crate) weight: Option<i64>,
    /// Priority: higher is granted first
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "class",
        allow_hyphen_values = true
    )]
    pub(crate) priority: Option<i64>,
    /// A named priority class (cv-enhancement, continuous-enhancement, activity-tracker, watch-me-work-refresh, default, or weft.yaml's)
    #[arg(long, value_name = "NAME")]
    pub(crate) class: Option<String>,
    /// How long the lease lasts unless renewed
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_ms)]
    pub(crate) ttl: i64,
    /// How long to wait when taken; 0 fails at once
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_ms)]
    pub(crate) wait: i64,
    /// The resource's capacity, if this claim creates it
    #[arg(long, value_name = "N")]
    pub(crate) capacity: Option<i64>,
    /// A label for the holder, KEY=VALUE (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub(crate) labels: Vec<(String, String)>,
}

fn parse_ms(text: &str) -> Result<i64, String> {
    weft_model::config::parse_duration(text)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

/// Who this process is: GitHub Actions' variables when present, the host,
/// and labels.
pub(crate) fn holder(labels: &[(String, String)]) -> Holder {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let host = fs_err::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| var("HOSTNAME"));
    let mut holder = Holder {
        repository: var("GITHUB_REPOSITORY"),
        workflow: var("GITHUB_WORKFLOW"),
        run_id: var("GITHUB_RUN_ID"),
        host,
        labels: labels.iter().cloned().collect(),
    };
    holder
        .labels
        .entry("pid".to_owned())
        .or_insert_with(|| std::process::id().to_string());
    holder
}

/// A claim, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub(crate) resource: String,
    pub(crate) shared: bool,
    pub(crate) weight: Option<i64>,
    pub(crate) priority: Option<i64>,
    pub(crate) class: Option<String>,
    pub(crate) ttl_ms: i64,
    pub(crate) wait_ms: i64,
    pub(crate) capacity: Option<i64>,
    pub(crate) holder: Holder,
}

impl Claim {
    pub(crate) fn new(resource: String, args: &ClaimArgs) -> Claim {
        Claim {
            resource,
            shared: args.shared,
            weight: args.weight,
            priority: args.priority,
            class: args.class.clone(),
            ttl_ms: args.ttl,
            wait_ms: args.wait,
            capacity: args.capacity,
            holder: holder(&args.labels),
        }
    }
}

/// Why a lease command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LeaseError {
    /// Taken (exit 1): a conflict, or the wait ran out.
    #[error("{0}")]
    Taken(String),
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error("{0}")]
    Environment(String),
}

impl From<ClientError> for LeaseError {
    fn from(error: ClientError) -> Self {
        if error.is_taken() {
            LeaseError::Taken(error.to_string())
        } else if error.is_bad_request() {
            LeaseError::Usage(UsageError::new(error.to_string()))
        } else {
            LeaseError::Environment(error.to_string())
        }
    }
}

impl From<StoreError> for LeaseError {
    fn from(error: StoreError) -> Self {
        if error.is_input() {
            LeaseError::Usage(UsageError::new(error.to_string()))
        } else {
            LeaseError::Environment(error.to_string())
        }
    }
}

impl From<AcquireError> for LeaseError {
    fn from(error: AcquireError) -> Self {
        match error {
            AcquireError::Store(error) => error.into(),
            other => LeaseError::Taken(other.to_string()),
        }
    }
}

/// A server, or the local store run in this process.
#[derive(Debug)]
pub(crate) enum Leases {
    Server(Client),
    Local {
        runtime: tokio::runtime::Runtime,
        coordinator: Coordinator,
        path: PathBuf,
    },
}

fn store_lease(lease: &weft_store::Lease) -> Result<Lease, LeaseError> {
    serde_json::to_value(lease)
        .and_then(serde_json::from_value)
        .map_err(|e| LeaseError::Environment(e.to_string()))
}

impl Leases {
    pub(crate) fn connect(context: &Context, args: &ConnectionArgs) -> anyhow::Result<Leases> {
        if let Some(url) = super::server_list(
            args.server.as_deref(),
            "e.g. --server http://127.0.0.1:7700",
        )? {
            return Ok(Leases::Server(Client::new(url, args.token.clone())));
        }
        let root = context.workspace(None);
        let policy = local_policy(&root)?;
        let url = args
            .store
            .clone()
            .unwrap_or_else(|| root.join(".weft/state.db").display().to_string());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let coordinator = runtime.block_on(async {
            let store = Store::open(&url, policy).await?;
            Coordinator::start(store, CoordinatorMode::Local, AlertThresholds::default()).await
        })?;
        Ok(Leases::Local {
            runtime,
            coordinator,
            path: PathBuf::from(url),
        })
    }

    /// Where leases come from, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Leases::Server(client) => format!("server {}", client.url()),
            Leases::Local { path, .. } => format!("local store {}", path.display()),
        }
    }

    pub(crate) fn acquire(&self, claim: &Claim) -> Result<Lease, LeaseError> {
        match self {
            Leases::Server(client) => Ok(client.acquire(&AcquireBody {
                resource: claim.resource.clone(),
                mode: claim.shared.then(|| "shared".to_owned()),
                weight: claim.weight,
                priority: claim.priority,
                class: claim.class.clone(),
                ttl_ms: Some(claim.ttl_ms),
                wait_ms: Some(claim.wait_ms),
                capacity: claim.capacity,
                holder: serde_json::to_value(&claim.holder).unwrap_or(Value::Null),
                // One per claim, made by the client: the same on every try.
                request: None,
            })?),
            Leases::Local {
                runtime,
                coordinator,
                ..
            } => {
                let request = AcquireRequest {
                    resource: ResourceId::parse(&claim.resource)?,
                    mode: if claim.shared {
                        Mode::Shared
                    } else {
                        Mode::Exclusive
                    },
                    weight: claim.weight.unwrap_or(1),
                    priority: claim.priority,
                    class: claim.class.clone(),
                    ttl_ms: Some(claim.ttl_ms),
                    wait_ms: Some(claim.wait_ms),
                    holder: claim.holder.clone(),
                    capacity: claim.capacity,
                    // In one process, a claim is never asked twice.
                    request: None,
                };
                let lease = runtime.block_on(coordinator.acquire(&request))?;
                store_lease(&lease)
            }
        }
    }

    pub(crate) fn renew(&self, lease: &str, ttl_ms: Option<i64>) -> Result<Lease, LeaseError> {
        match self {
            Leases::Server(client) => Ok(client.renew(lease, ttl_ms)?),
            Leases::Local {
                runtime,
                coordinator,
                ..
            } => store_lease(&runtime.block_on(coordinator.renew(lease, ttl_ms))?),
        }
    }

    pub(crate) fn release(&self, lease: &str) -> Result<Lease, LeaseError> {
        match self {
            Leases::Server(client) => Ok(client.release(lease)?),
            Leases::Local {
                runtime,
                coordinator,
                ..
            } => store_lease(&runtime.block_on(coordinator.release(lease))?.lease),
        }
    }

    /// Every resource someone holds or waits for.
    pub(crate) fn queues(&self) -> Result<Value, LeaseError> {
        match self {
            Leases::Server(client) => Ok(client.queues()?),
            Leases::Local {
                runtime,
                coordinator,
                ..
            } => {
                let views = runtime.block_on(async {
                    coordinator.reap().await?;
                    coordinator.store().resources(None).await
                })?;
                let busy: Vec<_> = views
                    .into_iter()
                    .filter(|v| !v.holders.is_empty() || !v.queue.is_empty())
                    .collect();
                serde_json::to_value(busy).map_err(|e| LeaseError::Environment(e.to_string()))
            }
        }
    }

    pub(crate) fn force_release(&self, resource: &str, reason: &str) -> Result<Value, LeaseError> {
        match self {
            Leases::Server(client) => Ok(client.force_release(resource, reason)?),
            Leases::Local {
                runtime,
                coordinator,
                ..
            } => {
                let id = ResourceId::parse(resource)?;
                let actor = holder(&[]).to_string();
                let forced = runtime.block_on(async {
                    coordinator.store().resource(&id).await?;
                    coordinator.force_release(&id, reason, &actor).await
                })?;
                Ok(serde_json::json!({"resource": id, "released": forced.released}))
            }
        }
    }
}

/// The lease policy from weft.yaml's `coordination:`, for the local store.
pub(crate) fn local_policy(root: &Path) -> anyhow::Result<LeasePolicy> {
    let loaded = weft_model::config::load(root)?;
    Ok(LeasePolicy::from_config(&loaded.config.coordination))
}

/// Maps a lease failure to the CLI's errors and exit codes.
pub(crate) fn into_anyhow(error: LeaseError) -> anyhow::Error {
    match error {
        LeaseError::Usage(usage) => usage.into(),
        other => other.into(),
    }
}
