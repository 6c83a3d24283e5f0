//! Releases across repositories: `weft deploy`.
//!
//! [`Plan::build`] turns the workspace graph and weft.yaml's `environments:`
//! and `deploy:` keys into phases; [`engine::run`] runs a plan under the
//! environment's lease, with steps, health gates, canary analysis and
//! rollback, writing every fact to the store as it happens; [`manifest`]
//! reads what is live and what a rollback returns to; [`notify`] tells the
//! `notify:` channels how a release goes.

pub mod artifacts;
pub mod bucket;
pub mod cancel;
pub mod engine;
mod error;
pub mod expand;
pub mod gate;
pub mod manifest;
pub mod notify;
pub mod plan;
mod recorder;
pub mod recover;
pub mod step;
mod worker;
mod workflow;

pub use cancel::Signals;
pub use engine::{Outcome, Progress, Release};
pub use error::{DeployError, PlanError};
pub use plan::{Plan, PlanPhase, PlannedGate, PlannedService, PlannedStep, ReleaseRequest};
