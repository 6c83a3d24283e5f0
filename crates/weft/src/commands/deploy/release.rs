//! `weft deploy plan`, `run` and `rollback`: plan a release and run it,
//! here, in the background (`--detach`) or on a `weft serve` (`--server`).

use std::collections::BTreeMap;

use serde_json::json;
use tokio::sync::{mpsc, watch};
use weft_deploy::manifest::{self, RollbackError};
use weft_deploy::{DeployError, Plan, Release, ReleaseRequest, Signals};
use weft_store::{Coordinator, DeploymentKind, DeploymentStatus};

use super::render::{Printer, mermaid, render_outcome, render_plan};
use super::{Context, PlanFormat, ReleaseArgs, RollbackArgs, RunArgs, Selection, Session};
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

pub(super) fn plan(
    context: &Context,
    session: &Session,
    args: ReleaseArgs,
) -> anyhow::Result<Outcome> {
    let model = session.model(context)?;
    let runtime = session.runtime()?;
    let plan = runtime.block_on(async {
        let coordinator = session.coordinator().await?;
        build(&coordinator, &model, &ReleaseSpec::from(&args.selection)).await
    })?;
    match args.format {
        PlanFormat::Json => console::json(&plan)?,
        PlanFormat::Mermaid => console::out(&mermaid(&plan)),
        PlanFormat::Text => console::out(&render_plan(&plan, false)),
    }
    Ok(Outcome::Clean)
}

pub(super) fn run(context: &Context, session: &Session, args: RunArgs) -> anyhow::Result<Outcome> {
    let server = crate::commands::server_list(
        args.server.as_deref(),
        "e.g. --server http://127.0.0.1:7700",
    )?
    .map(str::to_owned);
    if let Some(server) = server {
        return on_server(&server, args);
    }
    let model = session.model(context)?;
    let runtime = session.runtime()?;
    let spec = ReleaseSpec::from(&args.selection);
    runtime.block_on(async {
        let coordinator = session.coordinator().await?;
        let plan = build(&coordinator, &model, &spec).await?;
        if args.dry_run {
            match args.format {
                Format::Json => console::json(&json!({"dry_run": true, "plan": plan}))?,
                Format::Text => console::out(&render_plan(&plan, true)),
            }
            return Ok(Outcome::Clean);
        }
        if args.detach {
            return detach(session, &coordinator, &spec.environment, args.format).await;
        }
        execute(
            session.artifacts(&model.config.artifacts)?,
            weft_deploy::notify::notifier(&model.config),
            &coordinator,
            plan,
            DeploymentKind::Release,
            None,
            args.wait,
            args.verbose,
            args.format,
        )
        .await
    })
}

pub(super) fn rollback(
    context: &Context,
    session: &Session,
    args: RollbackArgs,
) -> anyhow::Result<Outcome> {
    let model = session.model(context)?;
    let runtime = session.runtime()?;
    runtime.block_on(async {
        let coordinator = session.coordinator().await?;
        weft_deploy::recover::recover_interrupted(&coordinator, &args.environment).await?;
        let store = coordinator.store();
        let target =
            match manifest::rollback_target(store, &args.environment, args.to.as_deref()).await? {
                Ok(target) => target,
                Err(error @ RollbackError::Unknown { .. }) => {
                    return Err(UsageError::new(error.to_string())
                        .with_hint("`weft deploy history ENV` lists the releases")
                        .into());
                }
                Err(error @ RollbackError::NotSuccessful { .. }) => {
                    return Err(UsageError::new(error.to_string()).into());
                }
                Err(error) => {
                    console::out(&format!("{} {error}\n", console::paint(Style::Yellow, "!")));
                    return Ok(Outcome::Problems);
                }
            };
        let live = manifest::live_state(store, &args.environment).await?;
        let mut current = live.versions.clone();
        for service in live.uncertain.keys() {
            current.remove(service);
        }
        let request = ReleaseRequest {
            environment: args.environment.clone(),
            from_manifest: Some(target.restore.clone()),
            ..ReleaseRequest::default()
        };
        let plan = Plan::build(&model, &request, &current)
            .map_err(plan_error)?
            .restoring();
        if args.dry_run {
            match args.format {
                Format::Json => console::json(
                    &json!({"dry_run": true, "to": target.manifest.id, "plan": plan}),
                )?,
                Format::Text => {
                    console::out(&format!(
                        "rolling {} back to {}\n",
                        args.environment, target.manifest.id
                    ));
                    console::out(&render_plan(&plan, true));
                }
            }
            return Ok(Outcome::Clean);
        }
        execute(
            session.artifacts(&model.config.artifacts)?,
            weft_deploy::notify::notifier(&model.config),
            &coordinator,
            plan,
            DeploymentKind::Rollback,
            Some(target.manifest.id.clone()),
            args.wait,
            args.verbose,
            args.format,
        )
        .await
    })
}

/// How often `run --server` looks at the release it started.
const SERVER_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// `run --server URL`: the server plans and runs the release on its
/// workspace and store; this follows it (unless `--detach`) until it ends.
fn on_server(server: &str, args: RunArgs) -> anyhow::Result<Outcome> {
    let client = weft_client::Client::new(server, args.token.clone());
    let selection = &args.selection;
    let body = json!({
        "environment": selection.environment,
        "set": selection.set.iter().cloned().collect::<BTreeMap<String, String>>(),
        "all": selection.all,
        "strategy": selection.strategy.map(|s| weft_model::config::Strategy::from(s).as_str()),
        "from_manifest": selection.from_manifest,
        "dry_run": args.dry_run,
        "wait_ms": u64::try_from(args.wait.as_millis()).unwrap_or(u64::MAX),
    });
    let started = match client.start_deployment(&body) {
        Ok(started) => started,
        Err(weft_client::ClientError::Api(failure)) if failure.status == 409 => {
            console::out(&format!(
                "{} {}\n",
                console::paint(Style::Yellow, "!"),
                failure.message
            ));
            return Ok(Outcome::Problems);
        }
        Err(weft_client::ClientError::Api(failure)) if (400..500).contains(&failure.status) => {
            return Err(UsageError::new(failure.message.clone()).into());
        }
        Err(error) => return Err(error.into()),
    };
    if args.dry_run {
        match args.format {
            Format::Json => console::json(&started)?,
            Format::Text => console::out(&format!("{:#}\n", started["plan"])),
        }
        return Ok(Outcome::Clean);
    }
    let id = started["deployment"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if args.format == Format::Text {
        console::out(&format!("deployment {id} (on {server})\n"));
    }
    if args.detach {
        if args.format == Format::Json {
            console::json(&started)?;
        }
        return Ok(Outcome::Clean);
    }
    let mut states: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let record = client.deployment(&id)?;
        if args.format == Format::Text {
            for service in record["services"].as_array().into_iter().flatten() {
                let name = service["service"].as_str().unwrap_or_default().to_string();
                let state = service["state"].as_str().unwrap_or_default().to_string();
                if states.get(&name) != Some(&state) {
                    console::out(&format!("  {name}  {}\n", state.replace('_', " ")));
                    states.insert(name, state);
                }
            }
        }
        let status = record["status"].as_str().unwrap_or_default();
        let done = weft_store::DeploymentStatus::parse(status).is_some_and(|s| s.is_terminal());
        if done {
            match args.format {
                Format::Json => console::json(&json!({"deployment": record}))?,
                Format::Text => {
                    let error = record["error"]
                        .as_str()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default();
                    console::out(&format!("{status} {id}{error}\n"));
                }
            }
            return Ok(if status == "succeeded" {
                Outcome::Clean
            } else {
                Outcome::Problems
            });
        }
        std::thread::sleep(SERVER_POLL);
    }
}

/// How long `--detach` waits for the background release to be recorded.
const DETACH_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `run --detach`: the same command without `--detach`, in a process group
/// of its own with its output in `.weft/deploy/`; answers once the release
/// is recorded in the store.
async fn detach(
    session: &Session,
    coordinator: &Coordinator,
    environment: &str,
    format: Format,
) -> anyhow::Result<Outcome> {
    use std::os::unix::process::CommandExt;
    let logs = session.root.join(".weft/deploy");
    fs_err::create_dir_all(&logs)?;
    let log = logs.join(format!("{environment}-{}.log", weft_store::time::now_ms()));
    let arguments: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect();
    let output = fs_err::File::create(&log)?;
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(&arguments)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(output.into_parts().0.try_clone()?)
        .stderr(
            fs_err::File::options()
                .append(true)
                .open(&log)?
                .into_parts()
                .0,
        )
        .process_group(0)
        .spawn()?;
    let mut child = child;
    let pid = child.id();
    let store = coordinator.store();
    let deadline = std::time::Instant::now() + DETACH_WAIT;
    loop {
        let mut found = None;
        for summary in store.deployments(Some(environment), 5).await? {
            if let Some(record) = store.deployment(&summary.id).await?
                && record.pid == pid
            {
                found = Some(record);
                break;
            }
        }
        if let Some(record) = found {
            match format {
                Format::Json => {
                    console::json(&json!({"deployment": record.id, "pid": pid, "log": log}))?
                }
                Format::Text => console::out(&format!(
                    "deployment {}\nrunning in the background (pid {pid}, output in {}); watch it with `weft deploy status {} --follow`\n",
                    record.id,
                    log.display(),
                    record.id
                )),
            }
            return Ok(Outcome::Clean);
        }
        let exited = child.try_wait().ok().flatten().is_some();
        if exited || std::time::Instant::now() > deadline {
            let said = fs_err::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = said
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(UsageError::new(format!(
                "the background release {} before it was recorded:\n{}",
                if exited {
                    "stopped"
                } else {
                    "did not start in 30 s"
                },
                tail.join("\n")
            ))
            .with_hint(format!("its output is in {}", log.display()))
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// What to release, from either command's arguments.
struct ReleaseSpec {
    environment: String,
    set: Vec<(String, String)>,
    all: bool,
    from_manifest: Option<String>,
    strategy: Option<weft_model::config::Strategy>,
}

impl From<&Selection> for ReleaseSpec {
    fn from(args: &Selection) -> Self {
        ReleaseSpec {
            environment: args.environment.clone(),
            set: args.set.clone(),
            all: args.all,
            from_manifest: args.from_manifest.clone(),
            strategy: args.strategy.map(Into::into),
        }
    }
}

fn plan_error(error: weft_deploy::PlanError) -> anyhow::Error {
    use weft_deploy::PlanError;
    let hint = match &error {
        PlanError::Cycle { .. } => "`weft graph` shows the cycle and the edge to cut",
        PlanError::UnknownEnvironment { .. } => {
            "environments are the keys of `environments:` in weft.yaml"
        }
        PlanError::NotDeployable { .. } => {
            "add `deploy: {steps: [...]}` to the service in weft.yaml"
        }
        _ => "`weft deploy plan ENV --set SERVICE=VERSION` shows what a release would do",
    };
    UsageError::new(error.to_string()).with_hint(hint).into()
}

async fn build(
    coordinator: &Coordinator,
    model: &weft_model::Model,
    spec: &ReleaseSpec,
) -> anyhow::Result<Plan> {
    let store = coordinator.store();
    let live = manifest::live_state(store, &spec.environment).await?;
    let from_manifest = match &spec.from_manifest {
        Some(id) => match store.deployment(id).await? {
            Some(record) if record.environment == spec.environment => Some(record.versions),
            Some(record) => {
                return Err(UsageError::new(format!(
                    "deployment `{id}` is of environment `{}`, not `{}`",
                    record.environment, spec.environment
                ))
                .into());
            }
            None => return Err(UsageError::new(format!("no deployment `{id}`")).into()),
        },
        None => None,
    };
    let request = ReleaseRequest {
        environment: spec.environment.clone(),
        set: spec.set.clone(),
        all: spec.all,
        strategy: spec.strategy,
        from_manifest,
    };
    Plan::build(model, &request, &live.versions).map_err(plan_error)
}

#[expect(
    clippy::too_many_arguments,
    reason = "a release's settings, from two commands"
)]
async fn execute(
    artifacts: weft_deploy::artifacts::Artifacts,
    notifier: Option<std::sync::Arc<weft_notify::Notifier>>,
    coordinator: &Coordinator,
    plan: Plan,
    kind: DeploymentKind,
    rollback_of: Option<String>,
    wait: std::time::Duration,
    verbose: bool,
    format: Format,
) -> anyhow::Result<Outcome> {
    let (signal_count, signals) = watch::channel(0u32);
    let signal_task = tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            signal_count.send_modify(|count| *count += 1);
        }
    });
    let (progress, mut events) = mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        let mut printer = Printer {
            verbose,
            format,
            tails: BTreeMap::new(),
        };
        while let Some(event) = events.recv().await {
            printer.print(&event);
        }
    });
    let release = Release {
        plan,
        kind,
        rollback_of,
        who: who(),
        holder: super::super::coordination::holder(&[]),
        wait,
        github: None,
        artifacts: Some(artifacts),
        notifier,
    };
    let result =
        weft_deploy::engine::run(coordinator, release, progress, Signals::new(signals)).await;
    let _ = printer.await;
    signal_task.abort();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(DeployError::Busy {
            environment,
            source,
        }) => {
            console::out_or_ignore(&format!(
                "{} environment `{environment}` is busy: {source}\n",
                console::paint(Style::Yellow, "!")
            ));
            console::note(
                "wait for it with --wait DURATION; `weft lock list` shows the holder and the queue",
            );
            return Ok(Outcome::Problems);
        }
        Err(DeployError::Plan(error)) => return Err(plan_error(error)),
        Err(error) => return Err(error.into()),
    };
    let record = coordinator.store().deployment(&outcome.deployment).await?;
    if format == Format::Json {
        console::out_or_ignore(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({"outcome": outcome, "deployment": record}))?
        ));
    } else {
        console::out_or_ignore(&render_outcome(&outcome));
        let undelivered = record
            .iter()
            .flat_map(|r| &r.notifications)
            .filter(|n| !n.ok)
            .count();
        if undelivered > 0 {
            console::note(&format!(
                "{undelivered} notification{} not delivered: `weft deploy status {}` says why",
                if undelivered == 1 { " was" } else { "s were" },
                outcome.deployment
            ));
        }
        let store = coordinator.store();
        if let Some(due) = store
            .next_escalation_due(Some(&outcome.environment))
            .await?
        {
            let seconds = (due - weft_store::time::now_ms() + 999).max(0) / 1000;
            console::note(&format!(
                "an escalation is armed: `weft serve` sends it in {seconds} s unless \
                 {} recovers first",
                outcome.environment
            ));
        }
    }
    Ok(if outcome.status == DeploymentStatus::Succeeded {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}

/// Who runs the release, for the manifest.
fn who() -> serde_json::Value {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    json!({
        "user": var("USER").or_else(|| var("LOGNAME")),
        "github": var("GITHUB_RUN_ID").map(|run| json!({
            "repository": var("GITHUB_REPOSITORY"),
            "workflow": var("GITHUB_WORKFLOW"),
            "run_id": run,
            "actor": var("GITHUB_ACTOR"),
        })),
    })
}
