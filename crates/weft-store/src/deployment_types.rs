//! The records of `weft deploy`: deployments (each one a manifest), their
//! services, steps and gate observations, as the store keeps and returns them.

use std::collections::BTreeMap;

use serde::Serialize;

/// Declares a string enum with `as_str` and `parse` matching its serde names.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Where a deployment stands.
    DeploymentStatus {
        Running => "running",
        /// A gate cannot be evaluated (inconclusive); it goes on observing.
        Paused => "paused",
        RollingBack => "rolling_back",
        Succeeded => "succeeded",
        /// Failed and not rolled back (`rollback: manual`).
        Failed => "failed",
        RolledBack => "rolled_back",
        RollbackFailed => "rollback_failed",
        /// Its process went away before the end.
        Interrupted => "interrupted",
    }
}

impl DeploymentStatus {
    /// Whether the deployment has ended.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            DeploymentStatus::Running | DeploymentStatus::Paused | DeploymentStatus::RollingBack
        )
    }
}

text_enum! {
    /// A release of new versions, or a return to a recorded manifest.
    DeploymentKind {
        Release => "release",
        Rollback => "rollback",
    }
}

text_enum! {
    /// Where one service of a deployment stands.
    ServiceState {
        Pending => "pending",
        Deploying => "deploying",
        Verifying => "verifying",
        Deployed => "deployed",
        Failed => "failed",
        RollingBack => "rolling_back",
        RolledBack => "rolled_back",
        RollbackFailed => "rollback_failed",
        Unchanged => "unchanged",
        Skipped => "skipped",
    }
}

text_enum! {
    /// Whether a step or an observation belongs to the release or its rollback.
    Stage {
        Deploy => "deploy",
        Rollback => "rollback",
    }
}

text_enum! {
    StepStatus {
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        TimedOut => "timed_out",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// One gate observation's verdict.
    Verdict {
        Pass => "pass",
        Fail => "fail",
        /// The check could not be made (Prometheus unreachable, no series).
        Inconclusive => "inconclusive",
    }
}

/// A deployment to record.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub environment: String,
    pub kind: DeploymentKind,
    pub strategy: String,
    /// The plan as the engine renders it.
    pub plan: serde_json::Value,
    pub services: Vec<NewDeploymentService>,
    /// The environment after success: service → version (the manifest).
    pub versions: BTreeMap<String, String>,
    /// Who asked: user, CI run.
    pub who: serde_json::Value,
    pub rollback_of: Option<String>,
    pub host: String,
    pub pid: u32,
}

#[derive(Debug, Clone)]
pub struct NewDeploymentService {
    pub service: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub phase: u32,
}

/// A deployment with everything recorded about it.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentRecord {
    pub id: String,
    pub environment: String,
    pub kind: DeploymentKind,
    pub status: DeploymentStatus,
    pub strategy: String,
    pub plan: serde_json::Value,
    /// The manifest: service → version after success.
    pub versions: BTreeMap<String, String>,
    pub who: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
    pub host: String,
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339.
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    pub heartbeat: String,
    pub duration_ms: Option<i64>,
    pub services: Vec<ServiceRecord>,
    pub steps: Vec<StepRecord>,
    /// Per gate, its last observations (oldest first).
    pub observations: Vec<ObservationRecord>,
    /// Files the release carries.
    pub artifacts: Vec<ArtifactRecord>,
    /// Who was told of the release, and whether it arrived.
    pub notifications: Vec<crate::NotificationDelivery>,
}

/// A file a release carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactRecord {
    pub name: String,
    /// `sha256:HEX`.
    pub digest: String,
    pub size: u64,
    /// Where it is kept (a path, or a URL for a bucket).
    pub location: String,
    pub created: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRecord {
    pub service: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub phase: u32,
    pub state: ServiceState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    pub started: Option<String>,
    pub finished: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub id: i64,
    pub service: String,
    pub stage: Stage,
    pub index: u32,
    pub kind: String,
    pub description: String,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub started: String,
    pub finished: Option<String>,
    pub duration_ms: Option<i64>,
    /// The last 4 KiB of its output.
    pub output_tail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObservationRecord {
    pub service: String,
    pub stage: Stage,
    pub gate: u32,
    pub description: String,
    pub verdict: Verdict,
    pub message: String,
    /// RFC 3339, milliseconds.
    pub at: String,
}

/// A deployment in a list.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentSummary {
    pub id: String,
    pub environment: String,
    pub kind: DeploymentKind,
    pub status: DeploymentStatus,
    pub strategy: String,
    /// The manifest: service → version after success.
    pub versions: BTreeMap<String, String>,
    /// What this deployment released: service → version.
    pub services: BTreeMap<String, String>,
    pub created: String,
    pub finished: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Release counts for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeploymentStats {
    /// (environment, status, deployments).
    pub by_status: Vec<(String, String, i64)>,
    /// Releases that rolled back (or failed to) and rollbacks to a manifest.
    pub rollbacks: i64,
    /// Gate observations that failed.
    pub gate_failures: i64,
    /// (environment, milliseconds) of every finished release.
    pub durations_ms: Vec<(String, i64)>,
}
