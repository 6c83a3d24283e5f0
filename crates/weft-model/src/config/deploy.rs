//! The release keys of weft.yaml: `github:`, `environments:` and each
//! service's `deploy:` (steps, rollback steps and health gates).
//!
//! A step is exactly one of `run`, `workflow` or `webhook`, and a gate
//! exactly one of `http`, `tcp`, `exec` or `prometheus`; both are read
//! through a raw form that serde fills and a check that names what is wrong,
//! so an error points at the step or gate in weft.yaml.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::launch::Duration;

/// GitHub, shared by deploy (workflow steps) and monitor.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct GithubConfig {
    /// The REST API root (default `https://api.github.com`; GitHub
    /// Enterprise: `https://HOST/api/v3`).
    pub api_url: Option<String>,
    /// The environment variable holding the token (default `GITHUB_TOKEN`).
    pub token_env: Option<String>,
}

/// Where release artifacts are kept: under the workspace's
/// `.weft/artifacts/` by default, or in an S3-compatible bucket.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct ArtifactsConfig {
    /// An S3-compatible bucket (AWS S3, MinIO, Ceph, a local test server).
    pub s3: Option<S3Config>,
}

/// An S3-compatible bucket for release artifacts. Credentials come from the
/// environment, never from weft.yaml.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct S3Config {
    /// The bucket's name.
    pub bucket: String,
    /// What every key starts with, such as `releases/` (default: nothing).
    #[serde(default)]
    pub prefix: String,
    /// The S3 API root (default `https://s3.REGION.amazonaws.com`; MinIO or
    /// a local server: `http://127.0.0.1:9000`).
    pub endpoint: Option<String>,
    /// The region requests are signed for (default `us-east-1`).
    pub region: Option<String>,
    /// Address the bucket in the path (`ENDPOINT/BUCKET/KEY`) instead of the
    /// host name (`BUCKET.ENDPOINT/KEY`). Default: true with `endpoint`,
    /// false without.
    pub path_style: Option<bool>,
    /// The variable holding the access key id (default `AWS_ACCESS_KEY_ID`).
    pub access_key_env: Option<String>,
    /// The variable holding the secret key (default `AWS_SECRET_ACCESS_KEY`).
    /// `AWS_SESSION_TOKEN` is sent too when set.
    pub secret_key_env: Option<String>,
}

/// How services are released.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// One service at a time, in plan order.
    #[default]
    Sequential,
    /// Phase by phase, up to `max_parallel` services at once.
    Parallel,
    /// The `canary` services first; their gates must keep passing for
    /// `analysis`; then the rest phase by phase.
    Canary,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Sequential => "sequential",
            Strategy::Parallel => "parallel",
            Strategy::Canary => "canary",
        }
    }

    pub fn parse(text: &str) -> Option<Strategy> {
        match text {
            "sequential" => Some(Strategy::Sequential),
            "parallel" => Some(Strategy::Parallel),
            "canary" => Some(Strategy::Canary),
            _ => None,
        }
    }
}

/// What a failed release does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RollbackMode {
    /// Roll back every service changed so far, in reverse plan order.
    #[default]
    Auto,
    /// Stop at the failure and print the `weft deploy rollback` command.
    Manual,
}

/// One environment services are released to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct EnvironmentConfig {
    /// `sequential` (default), `parallel` or `canary`.
    pub strategy: Option<Strategy>,
    /// `parallel`: services of one phase deployed at once (default 4).
    pub max_parallel: Option<u32>,
    /// `canary`: the services deployed and gated first.
    #[serde(default)]
    pub canary: Vec<String>,
    /// `canary`: how long the canary's gates must keep passing (default 1m).
    pub analysis: Option<Duration>,
    /// `auto` (default) or `manual`.
    pub rollback: Option<RollbackMode>,
    /// Extra environment for steps and gates (`${NAME}` in their targets).
    #[serde(default)]
    pub variables: IndexMap<String, String>,
    /// Rule names under `notify.rules`.
    #[serde(default)]
    pub notify: Vec<String>,
}

/// How a service is released.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct DeployConfig {
    /// How long one step may take (default 15m).
    pub timeout: Option<Duration>,
    /// Retries of a failed step, with exponential backoff and jitter (default 0).
    pub retries: Option<u32>,
    /// Services released before this one, added to the workspace graph's
    /// required edges.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// What releases it, in order.
    #[serde(default)]
    pub steps: Vec<StepConfig>,
    /// What rolls it back (default: `steps` again with the previous version
    /// and `WEFT_ROLLBACK=1`).
    pub rollback: Option<Vec<StepConfig>>,
    /// Health checks after the steps; all must pass.
    #[serde(default)]
    pub gates: Vec<GateConfig>,
}

/// A step: exactly one of `run`, `workflow` or `webhook`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(try_from = "RawStep")]
#[schemars(with = "RawStep")]
pub struct StepConfig {
    pub action: StepAction,
    /// A name for status and logs (default: the action).
    pub name: Option<String>,
    /// Overrides `deploy.timeout` for this step.
    pub timeout: Option<Duration>,
    /// Overrides `deploy.retries` for this step.
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepAction {
    /// A shell command in the service's repository.
    Run(String),
    /// A GitHub Actions `workflow_dispatch` or `repository_dispatch`.
    Workflow(WorkflowStep),
    /// A POST of a JSON body; 2xx is success.
    Webhook(WebhookStep),
}

impl StepAction {
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::Run(_) => "run",
            StepAction::Workflow(_) => "workflow",
            StepAction::Webhook(_) => "webhook",
        }
    }
}

/// A step as written: the check that exactly one action is given is
/// [`StepConfig`]'s `TryFrom`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct RawStep {
    /// A shell command, run in the service's repository with `WEFT_SERVICE`,
    /// `WEFT_VERSION`, `WEFT_PREVIOUS_VERSION`, `WEFT_ENVIRONMENT`,
    /// `WEFT_DEPLOYMENT_ID`, `WEFT_ROLLBACK` and the environment's variables.
    pub run: Option<String>,
    pub workflow: Option<WorkflowStep>,
    pub webhook: Option<WebhookStep>,
    pub name: Option<String>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
}

impl TryFrom<RawStep> for StepConfig {
    type Error = String;

    fn try_from(raw: RawStep) -> Result<Self, String> {
        let action = match (raw.run, raw.workflow, raw.webhook) {
            (Some(command), None, None) => {
                if command.trim().is_empty() {
                    return Err("`run` of a step is empty".to_string());
                }
                StepAction::Run(command)
            }
            (None, Some(workflow), None) => StepAction::Workflow(workflow.checked()?),
            (None, None, Some(webhook)) => StepAction::Webhook(webhook),
            (None, None, None) => {
                return Err("a step needs one of `run`, `workflow` or `webhook`".to_string());
            }
            (run, workflow, webhook) => {
                let given: Vec<&str> = [
                    run.is_some().then_some("`run`"),
                    workflow.is_some().then_some("`workflow`"),
                    webhook.is_some().then_some("`webhook`"),
                ]
                .into_iter()
                .flatten()
                .collect();
                return Err(format!(
                    "a step is exactly one of `run`, `workflow` or `webhook`, but this one has {}",
                    given.join(" and ")
                ));
            }
        };
        Ok(StepConfig {
            action,
            name: raw.name,
            timeout: raw.timeout,
            retries: raw.retries,
        })
    }
}

/// A GitHub Actions run to start and wait for: `workflow_dispatch` with
/// `file`, or `repository_dispatch` with `event_type`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct WorkflowStep {
    /// `owner/name`.
    pub repository: String,
    /// The workflow file (`deploy.yml`) for `workflow_dispatch`.
    pub file: Option<String>,
    /// The ref to run on (default: the repository's default branch).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// `workflow_dispatch` inputs; `${…}` is expanded.
    #[serde(default)]
    pub inputs: IndexMap<String, String>,
    /// `repository_dispatch`: the event type.
    pub event_type: Option<String>,
    /// `repository_dispatch`: the payload.
    pub client_payload: Option<serde_json::Value>,
}

impl WorkflowStep {
    fn checked(self) -> Result<Self, String> {
        if !self.repository.contains('/') {
            return Err(format!(
                "workflow `repository` must be owner/name, not `{}`",
                self.repository
            ));
        }
        match (&self.file, &self.event_type) {
            (Some(_), None) | (None, Some(_)) => Ok(self),
            (None, None) => Err(
                "a workflow step needs `file` (workflow_dispatch) or `event_type` (repository_dispatch)"
                    .to_string(),
            ),
            (Some(_), Some(_)) => Err(
                "a workflow step has either `file` (workflow_dispatch) or `event_type` (repository_dispatch), not both"
                    .to_string(),
            ),
        }
    }
}

/// A POST of a JSON body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct WebhookStep {
    pub url: String,
    /// The JSON body; `${…}` in its strings is expanded.
    #[serde(default)]
    pub body: serde_json::Value,
}

/// A health gate: exactly one of `http`, `tcp`, `exec` or `prometheus`,
/// with how often it looks and when it decides.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(try_from = "RawGate")]
#[schemars(with = "RawGate")]
pub struct GateConfig {
    pub check: GateCheck,
    /// Between observations (default 2s).
    pub interval: Option<Duration>,
    /// Consecutive passes needed (default 1).
    pub success_threshold: Option<u32>,
    /// Failed observations tolerated; one more fails the gate (default 0).
    pub failure_limit: Option<u32>,
    /// No verdict by then: the gate fails (default 2m).
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GateCheck {
    Http(HttpGate),
    Tcp(String),
    Exec(String),
    Prometheus(PrometheusGate),
}

impl GateCheck {
    pub fn kind(&self) -> &'static str {
        match self {
            GateCheck::Http(_) => "http",
            GateCheck::Tcp(_) => "tcp",
            GateCheck::Exec(_) => "exec",
            GateCheck::Prometheus(_) => "prometheus",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpGate {
    pub url: String,
    /// The expected status (default: any of 200-399).
    pub status: Option<u16>,
    pub body_contains: Option<String>,
    pub json: Option<JsonExpectation>,
}

/// A value expected at a JSON pointer (RFC 6901) of the answer.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct JsonExpectation {
    /// `/status`, `/checks/0/ok`.
    pub pointer: String,
    pub equals: serde_json::Value,
}

/// An instant PromQL query whose value must stay within bounds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct PrometheusGate {
    /// The Prometheus server, such as `http://127.0.0.1:9090`.
    pub url: String,
    pub query: String,
    /// Every series' value must be at most this.
    pub max: Option<f64>,
    /// Every series' value must be at least this.
    pub min: Option<f64>,
}

/// A gate as written: the check that exactly one kind is given is
/// [`GateConfig`]'s `TryFrom`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(extend("additionalProperties" = false))]
pub struct RawGate {
    /// A URL to GET.
    pub http: Option<String>,
    /// `host:port` to connect to.
    pub tcp: Option<String>,
    /// A shell command that must exit 0.
    pub exec: Option<String>,
    pub prometheus: Option<PrometheusGate>,
    /// `http`: the expected status (default 200-399).
    pub status: Option<u16>,
    /// `http`: text the body must contain.
    pub body_contains: Option<String>,
    /// `http`: a value the JSON body must hold at a pointer.
    pub json: Option<JsonExpectation>,
    pub interval: Option<Duration>,
    pub success_threshold: Option<u32>,
    pub failure_limit: Option<u32>,
    pub timeout: Option<Duration>,
}

impl TryFrom<RawGate> for GateConfig {
    type Error = String;

    fn try_from(raw: RawGate) -> Result<Self, String> {
        let non_empty = |kind: &str, target: String| {
            if target.trim().is_empty() {
                Err(format!("the `{kind}` gate has no target"))
            } else {
                Ok(target)
            }
        };
        let http_only = raw.status.is_some() || raw.body_contains.is_some() || raw.json.is_some();
        let check = match (raw.http, raw.tcp, raw.exec, raw.prometheus) {
            (Some(url), None, None, None) => GateCheck::Http(HttpGate {
                url: non_empty("http", url)?,
                status: raw.status,
                body_contains: raw.body_contains,
                json: raw.json,
            }),
            (None, Some(address), None, None) => GateCheck::Tcp(non_empty("tcp", address)?),
            (None, None, Some(command), None) => GateCheck::Exec(non_empty("exec", command)?),
            (None, None, None, Some(prometheus)) => {
                if prometheus.max.is_none() && prometheus.min.is_none() {
                    return Err("a prometheus gate needs `max` or `min`".to_string());
                }
                non_empty("prometheus", prometheus.url.clone())?;
                non_empty("prometheus", prometheus.query.clone())?;
                GateCheck::Prometheus(prometheus)
            }
            (None, None, None, None) => {
                return Err(
                    "a gate needs a target: one of `http`, `tcp`, `exec` or `prometheus`"
                        .to_string(),
                );
            }
            _ => {
                return Err(
                    "a gate is exactly one of `http`, `tcp`, `exec` or `prometheus`".to_string(),
                );
            }
        };
        if http_only && !matches!(check, GateCheck::Http(_)) {
            return Err(format!(
                "`status`, `body_contains` and `json` belong to `http` gates, not to a `{}` gate",
                check.kind()
            ));
        }
        if raw.success_threshold == Some(0) {
            return Err("`success_threshold` must be at least 1".to_string());
        }
        Ok(GateConfig {
            check,
            interval: raw.interval,
            success_threshold: raw.success_threshold,
            failure_limit: raw.failure_limit,
            timeout: raw.timeout,
        })
    }
}
