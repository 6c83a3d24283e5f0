//! A `workflow` step: dispatch a GitHub Actions workflow and wait for that
//! run's conclusion, streaming its status transitions; or send a
//! `repository_dispatch` event. GitHub calls are blocking (weft-github), so
//! they run on a blocking thread that reports lines back and stops when the
//! step is cancelled or times out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use weft_github::{GitHub, WorkflowDispatch};
use weft_model::config::WorkflowStep;

use crate::expand::Variables;

/// How long a dispatch without run details looks for its run.
const FIND_TIMEOUT: Duration = Duration::from_secs(60);
/// The fastest a run is polled.
const POLL_FLOOR: Duration = Duration::from_secs(1);
/// The first look at a dispatched run: a just-dispatched run is always
/// queued, so the first look waits a little; later ones keep `POLL_FLOOR`.
const FIRST_POLL: Duration = Duration::from_millis(250);

/// What the blocking side tells the step.
#[derive(Debug)]
pub(crate) enum Report {
    Line(String),
    RunUrl(String),
}

/// Sets the flag when dropped: a step future dropped by its timeout stops
/// the thread that polls GitHub.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs the step to the run's conclusion; `Err` says why it failed.
pub(crate) async fn run(
    workflow: &WorkflowStep,
    github: Option<&GitHub>,
    variables: &Variables,
    correlation_id: String,
    report: &(dyn Fn(Report) + Sync),
    cancelled: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), Failure> {
    let Some(github) = github.cloned() else {
        return Err(Failure::Failed(
            "no GitHub client was set up for this release".to_string(),
        ));
    };
    if github.settings().token.is_none() {
        return Err(Failure::Failed(format!(
            "{} is not set; a workflow step needs a GitHub token",
            github.settings().token_env
        )));
    }
    let spec = Spec::expand(workflow, variables, correlation_id);
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(stop.clone());
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let thread_stop = stop.clone();
    let mut job =
        tokio::task::spawn_blocking(move || blocking(&github, &spec, &sender, &thread_stop));
    loop {
        tokio::select! {
            report_line = receiver.recv() => match report_line {
                Some(line) => report(line),
                None => break,
            },
            () = crate::cancel::requested(cancelled) => {
                stop.store(true, Ordering::Relaxed);
                return Err(Failure::Cancelled);
            }
        }
    }
    while let Ok(line) = receiver.try_recv() {
        report(line);
    }
    match (&mut job).await {
        Ok(result) => result.map_err(Failure::Failed),
        Err(error) => Err(Failure::Failed(format!(
            "the GitHub call panicked: {error}"
        ))),
    }
}

#[derive(Debug)]
pub(crate) enum Failure {
    Failed(String),
    Cancelled,
}

/// The step with its variables filled in.
struct Spec {
    repository: String,
    file: Option<String>,
    git_ref: Option<String>,
    inputs: BTreeMap<String, String>,
    event_type: Option<String>,
    client_payload: serde_json::Value,
    correlation_id: String,
}

impl Spec {
    fn expand(workflow: &WorkflowStep, variables: &Variables, correlation_id: String) -> Spec {
        Spec {
            repository: variables.expand(&workflow.repository),
            file: workflow.file.as_deref().map(|f| variables.expand(f)),
            git_ref: workflow.git_ref.as_deref().map(|r| variables.expand(r)),
            inputs: workflow
                .inputs
                .iter()
                .map(|(k, v)| (k.clone(), variables.expand(v)))
                .collect(),
            event_type: workflow.event_type.as_deref().map(|e| variables.expand(e)),
            client_payload: workflow
                .client_payload
                .as_ref()
                .map_or(serde_json::Value::Null, |p| variables.expand_json(p)),
            correlation_id,
        }
    }
}

fn blocking(
    github: &GitHub,
    spec: &Spec,
    report: &tokio::sync::mpsc::UnboundedSender<Report>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let line = |text: String| {
        let _ = report.send(Report::Line(text));
    };
    if let Some(event_type) = &spec.event_type {
        github
            .repository_dispatch(&spec.repository, event_type, &spec.client_payload)
            .map_err(|e| e.to_string())?;
        line(format!(
            "repository_dispatch `{event_type}` accepted by {}",
            spec.repository
        ));
        return Ok(());
    }
    let file = spec.file.as_deref().unwrap_or_default();
    let dispatched = github
        .dispatch_workflow(&WorkflowDispatch {
            repository: &spec.repository,
            workflow: file,
            git_ref: spec.git_ref.as_deref(),
            inputs: &spec.inputs,
            correlation_id: &spec.correlation_id,
            find_timeout: FIND_TIMEOUT,
        })
        .map_err(|e| e.to_string())?;
    line(format!(
        "dispatched {} in {}: run {} {}{}",
        file,
        spec.repository,
        dispatched.run_id,
        dispatched.html_url,
        if dispatched.correlated {
            " (found by its correlation id)"
        } else {
            ""
        }
    ));
    let _ = report.send(Report::RunUrl(dispatched.html_url.clone()));
    let mut last_status = String::new();
    if sleep_unless_stopped(FIRST_POLL, stop) {
        return Err("stopped".to_string());
    }
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err("stopped".to_string());
        }
        let run = github
            .workflow_run(&spec.repository, dispatched.run_id)
            .map_err(|e| e.to_string())?
            .into_inner();
        let status = run.status.clone().unwrap_or_default();
        if status != last_status {
            line(format!("run {}: {status}", run.id));
            last_status = status;
        }
        if run.is_completed() {
            return match run.conclusion.as_deref() {
                Some("success") => {
                    line(format!("run {} concluded success", run.id));
                    Ok(())
                }
                other => Err(format!(
                    "workflow run {} concluded {}: {}",
                    run.id,
                    other.unwrap_or("without a conclusion"),
                    run.html_url
                )),
            };
        }
        if sleep_unless_stopped(github.poll_interval(POLL_FLOOR, 1), stop) {
            return Err("stopped".to_string());
        }
    }
}

/// Sleeps in short slices so that a stop is seen promptly; true when stopped.
fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let slice = Duration::from_millis(50);
    let mut left = duration;
    while !left.is_zero() {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let now = left.min(slice);
        std::thread::sleep(now);
        left = left.saturating_sub(now);
    }
    stop.load(Ordering::Relaxed)
}
