//! Coordination state: resources, leases with fencing tokens, a priority
//! queue of waiters, operations, events and alerts, on SQLite (the embedded
//! default) or PostgreSQL (shared by several `weft serve` replicas).
//!
//! [`Store`] is the database: every change is one transaction, and the
//! database is the one source of truth for who holds what. [`Coordinator`]
//! adds what a running process needs on top: waiting for a grant without
//! polling, reaping expired leases on time, and a stream of events. The
//! store also keeps the releases of `weft deploy` (deployments.rs) and
//! what `weft monitor` collected (monitor.rs).

mod alerts;
mod coordinator;
mod deployment_steps;
mod deployment_types;
mod deployments;
mod engine;
mod error;
mod holding;
mod leases;
pub mod metrics;
mod migrations;
mod monitor;
mod notifications;
mod notify;
mod operations;
mod policy;
mod rates;
mod store;
pub mod time;
mod types;
mod views;
mod waits;

pub use alerts::{AlertFilter, AlertThresholds};
pub use coordinator::{AcquireError, Coordinator, CoordinatorMode, CoordinatorStats};
pub use deployment_types::{
    ArtifactRecord, DeploymentKind, DeploymentRecord, DeploymentStats, DeploymentStatus,
    DeploymentSummary, NewDeployment, NewDeploymentService, ObservationRecord, ServiceRecord,
    ServiceState, Stage, StepRecord, StepStatus, Verdict,
};
pub use engine::{BATCH_SIZE_BUCKETS, BatchStats};
pub use error::StoreError;
pub use leases::{Attempt, Change, ForceReleased, Grant, Released, WaitState};
pub use monitor::{CachedAnswer, CollectionRecord, MonitorItem, ScheduleRecord};
pub use notifications::{DueEscalation, NotificationDelivery};
pub use operations::{CleanupReport, OperationFilter};
pub use policy::{DEFAULT_CLASSES, LeasePolicy};
pub use rates::WindowRates;
pub use store::{Backend, Store, StoreStats};
pub use types::{
    AcquireRequest, Alert, Event, Holder, Lease, Mode, Operation, OperationStatus, QueueEntry,
    Resource, ResourceId, ResourceView,
};
pub use waits::Handover;
