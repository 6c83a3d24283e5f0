//! `weft deploy status`, `explain`, `history` and `diff`: what the store
//! recorded of releases, for people and as JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;
use weft_store::{DeploymentRecord, DeploymentStatus, Store};

use super::{DiffArgs, ExplainArgs, HistoryArgs, Session, StatusArgs};
use crate::cli::Format;
use crate::console::{self, Style};
use crate::exit::{Outcome, UsageError};

/// How often `status --follow` looks at the store.
const FOLLOW_PERIOD: Duration = Duration::from_millis(300);

pub(super) fn status(session: &Session, args: StatusArgs) -> anyhow::Result<Outcome> {
    let runtime = session.runtime()?;
    runtime.block_on(async {
        let coordinator = session.coordinator().await?;
        let store = coordinator.store();
        let id = match args.id {
            Some(id) => id,
            None => match store.deployments(None, 1).await?.into_iter().next() {
                Some(latest) => latest.id,
                None => {
                    console::out("no release has been recorded in this store yet\n");
                    return Ok(Outcome::Clean);
                }
            },
        };
        let record = find(store, &id).await?;
        let marked =
            weft_deploy::recover::recover_interrupted(&coordinator, &record.environment).await?;
        let mut record = if marked.is_empty() {
            record
        } else {
            find(store, &id).await?
        };
        if !args.follow {
            match args.format {
                Format::Json => console::json(&record)?,
                Format::Text => console::out(&render_status(&record)),
            }
            return Ok(outcome_of(&record));
        }
        // Follow: print what is new until the release ends.
        let mut shown = Shown::default();
        loop {
            match args.format {
                Format::Json => shown.json_events(&record)?,
                Format::Text => console::out(&shown.text_events(store, &record).await?),
            }
            if record.status.is_terminal() {
                if args.format == Format::Text {
                    console::out(&render_status(&record));
                }
                return Ok(outcome_of(&record));
            }
            tokio::time::sleep(FOLLOW_PERIOD).await;
            let marked =
                weft_deploy::recover::recover_interrupted(&coordinator, &record.environment)
                    .await?;
            if !marked.is_empty() {
                console::note(&format!("{id} was interrupted: its process is gone"));
            }
            record = find(store, &id).await?;
        }
    })
}

fn outcome_of(record: &DeploymentRecord) -> Outcome {
    match record.status {
        DeploymentStatus::Succeeded
        | DeploymentStatus::Running
        | DeploymentStatus::RollingBack
        | DeploymentStatus::Paused => Outcome::Clean,
        _ => Outcome::Problems,
    }
}

async fn find(store: &Store, id: &str) -> anyhow::Result<DeploymentRecord> {
    store.deployment(id).await?.ok_or_else(|| {
        UsageError::new(format!("no deployment `{id}`"))
            .with_hint("`weft deploy history ENV` lists the releases")
            .into()
    })
}

/// What `--follow` printed already.
#[derive(Default)]
struct Shown {
    steps: BTreeMap<i64, (String, usize)>,
    observations: usize,
    states: BTreeMap<String, String>,
}

impl Shown {
    async fn text_events(
        &mut self,
        store: &Store,
        record: &DeploymentRecord,
    ) -> anyhow::Result<String> {
        let mut text = String::new();
        for service in &record.services {
            let state = service.state.as_str().to_string();
            if self.states.get(&service.service) != Some(&state) {
                text.push_str(&format!(
                    "  {}  {}\n",
                    service.service,
                    state.replace('_', " ")
                ));
                self.states.insert(service.service.clone(), state);
            }
        }
        for step in &record.steps {
            let status = step.status.as_str().to_string();
            let output = store.step_output(step.id).await?.unwrap_or_default();
            let (seen_status, seen_len) = self
                .steps
                .entry(step.id)
                .or_insert_with(|| (String::new(), 0));
            if *seen_status != status {
                text.push_str(&format!(
                    "  {}  {} {}\n",
                    step.service,
                    step.description,
                    status.replace('_', " ")
                ));
                *seen_status = status;
            }
            if output.len() > *seen_len {
                for line in output[*seen_len..].lines() {
                    text.push_str(&format!("    │ {line}\n"));
                }
                *seen_len = output.len();
            }
        }
        for observation in record.observations.iter().skip(self.observations) {
            text.push_str(&format!(
                "  {}  gate {}: {} {}\n",
                observation.service,
                observation.description,
                observation.verdict.as_str(),
                observation.message
            ));
        }
        self.observations = self.observations.max(record.observations.len());
        Ok(text)
    }

    fn json_events(&mut self, record: &DeploymentRecord) -> anyhow::Result<()> {
        let status = record.status.as_str().to_string();
        if self.states.get("") != Some(&status) {
            console::json(&json!({"event": "deployment", "id": record.id, "status": status}))?;
            self.states.insert(String::new(), status);
        }
        for observation in record.observations.iter().skip(self.observations) {
            console::json(&json!({"event": "gate", "observation": observation}))?;
        }
        self.observations = self.observations.max(record.observations.len());
        Ok(())
    }
}

fn render_status(record: &DeploymentRecord) -> String {
    let status = match record.status {
        DeploymentStatus::Succeeded | DeploymentStatus::RolledBack => {
            console::paint(Style::Green, record.status.as_str())
        }
        DeploymentStatus::Running | DeploymentStatus::RollingBack | DeploymentStatus::Paused => {
            console::paint(Style::Yellow, record.status.as_str())
        }
        _ => console::paint(Style::Red, record.status.as_str()),
    };
    let mut text = format!(
        "{} {}  {} ({}, {})  started {}{}\n",
        record.kind.as_str(),
        console::paint(Style::Bold, &record.id),
        record.environment,
        record.strategy,
        status,
        record.started,
        record
            .finished
            .as_deref()
            .map(|f| format!(
                ", finished {f}{}",
                record
                    .duration_ms
                    .map(|ms| format!(" ({})", duration(ms)))
                    .unwrap_or_default()
            ))
            .unwrap_or_default(),
    );
    if let Some(error) = &record.error {
        text.push_str(&format!("  {error}\n"));
    }
    let mut phases: BTreeMap<u32, Vec<&weft_store::ServiceRecord>> = BTreeMap::new();
    for service in &record.services {
        phases.entry(service.phase).or_default().push(service);
    }
    for (phase, services) in phases {
        text.push_str(&format!("phase {phase}\n"));
        for service in services {
            let previous = service.previous_version.as_deref().unwrap_or("nothing");
            text.push_str(&format!(
                "  {}  {previous} → {}  {}{}\n",
                service.service,
                service.version,
                service.state.as_str().replace('_', " "),
                service
                    .detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ));
            for step in record.steps.iter().filter(|s| s.service == service.service) {
                text.push_str(&format!(
                    "    {} step {}: {} {}{}{}\n",
                    step.stage.as_str(),
                    step.index + 1,
                    step.description,
                    step.status.as_str().replace('_', " "),
                    step.duration_ms
                        .map(|ms| format!(" in {}", duration(ms)))
                        .unwrap_or_default(),
                    step.message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ));
            }
            let mut last: BTreeMap<(String, u32), &weft_store::ObservationRecord> = BTreeMap::new();
            for observation in record
                .observations
                .iter()
                .filter(|o| o.service == service.service)
            {
                last.insert(
                    (observation.stage.as_str().to_string(), observation.gate),
                    observation,
                );
            }
            for ((stage, _), observation) in last {
                text.push_str(&format!(
                    "    {stage} gate {}: {} {} at {}\n",
                    observation.description,
                    observation.verdict.as_str(),
                    observation.message,
                    observation.at
                ));
            }
        }
    }
    if !record.notifications.is_empty() {
        text.push_str("notified\n");
        for delivery in &record.notifications {
            let what = if delivery.escalation {
                format!("{} (escalated)", delivery.event)
            } else {
                delivery.event.clone()
            };
            match &delivery.error {
                None => text.push_str(&format!("  {}  {what}\n", delivery.channel)),
                Some(error) => text.push_str(&format!(
                    "  {}  {what}: not delivered after {} attempt{}: {error}\n",
                    delivery.channel,
                    delivery.attempts,
                    if delivery.attempts == 1 { "" } else { "s" }
                )),
            }
        }
    }
    text
}

/// `850 ms`, `12.4 s`, `3 min 5 s`.
fn duration(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

pub(super) fn explain(session: &Session, args: ExplainArgs) -> anyhow::Result<Outcome> {
    let runtime = session.runtime()?;
    runtime.block_on(async {
        let coordinator = session.coordinator().await?;
        let store = coordinator.store();
        let record = match store.deployment(&args.target).await? {
            Some(record) => record,
            None => {
                weft_deploy::recover::recover_interrupted(&coordinator, &args.target).await?;
                match store.deployments(Some(&args.target), 1).await?.into_iter().next() {
                    Some(latest) => find(store, &latest.id).await?,
                    None => {
                        return Err(UsageError::new(format!("no deployment and no release of an environment named `{}`", args.target))
                            .with_hint("give a deployment id or an environment name")
                            .into());
                    }
                }
            }
        };
        let lease = match weft_deploy::recover::environment_resource(&record.environment) {
            Ok(resource) => store.resource(&resource).await.ok(),
            Err(_) => None,
        };
        let mut reasons: Vec<String> = Vec::new();
        match record.status {
            DeploymentStatus::Succeeded => reasons.push("it succeeded; nothing waits".to_string()),
            DeploymentStatus::Interrupted => reasons.push(format!(
                "its `weft deploy run` stopped before the end ({}); `weft deploy rollback {}` restores the last successful release",
                record.error.as_deref().unwrap_or("the process is gone"),
                record.environment
            )),
            _ => {}
        }
        if let Some(view) = &lease {
            for holder in &view.holders {
                reasons.push(format!("environment `{}` is held by {} (lease {}, token {}, until {})", record.environment, holder.holder, holder.id, holder.token, holder.expires_at));
            }
            for waiter in &view.queue {
                reasons.push(format!("waiting for it: {}", serde_json::to_string(waiter).unwrap_or_default()));
            }
        }
        if let Some(error) = &record.error
            && record.status != DeploymentStatus::Interrupted
        {
            reasons.push(error.clone());
        }
        // The services that failed or are in progress: their last step and gates.
        for service in &record.services {
            let state = service.state.as_str();
            let failed_here = record.steps.iter().any(|s| {
                s.service == service.service && !matches!(s.status.as_str(), "succeeded" | "running")
            }) || record.observations.iter().any(|o| o.service == service.service && o.verdict.as_str() != "pass");
            let quiet = matches!(state, "deployed" | "pending" | "unchanged" | "skipped")
                || (state == "rolled_back" && !failed_here);
            if quiet {
                continue;
            }
            reasons.push(format!("{} is {}{}", service.service, state.replace('_', " "), service.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default()));
            if let Some(step) = record.steps.iter().rev().find(|s| s.service == service.service) {
                reasons.push(format!("  last step: {} ({}{})", step.description, step.status.as_str(), step.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()));
                let output = store.step_output(step.id).await?.unwrap_or_default();
                let lines: Vec<&str> = output.lines().collect();
                for line in &lines[lines.len().saturating_sub(10)..] {
                    reasons.push(format!("    │ {line}"));
                }
            }
            let gates: BTreeSet<u32> = record.observations.iter().filter(|o| o.service == service.service).map(|o| o.gate).collect();
            for gate in gates {
                let observations: Vec<&weft_store::ObservationRecord> = record.observations.iter().filter(|o| o.service == service.service && o.gate == gate).collect();
                if let Some(first) = observations.first() {
                    reasons.push(format!("  gate {}: last observations", first.description));
                }
                for observation in &observations[observations.len().saturating_sub(5)..] {
                    reasons.push(format!("    {} {} {}", observation.at, observation.verdict.as_str(), observation.message));
                }
            }
        }
        match args.format {
            Format::Json => console::json(&json!({"deployment": record, "lease": lease, "reasons": reasons}))?,
            Format::Text => {
                console::out(&format!("{} {} ({}): {}\n", record.kind.as_str(), record.id, record.environment, record.status.as_str()));
                for reason in &reasons {
                    console::out(&format!("  {reason}\n"));
                }
            }
        }
        Ok(outcome_of(&record))
    })
}

pub(super) fn history(session: &Session, args: HistoryArgs) -> anyhow::Result<Outcome> {
    let runtime = session.runtime()?;
    runtime.block_on(async {
        let coordinator = session.coordinator().await?;
        weft_deploy::recover::recover_interrupted(&coordinator, &args.environment).await?;
        let deployments = coordinator
            .store()
            .deployments(Some(&args.environment), args.limit)
            .await?;
        match args.format {
            Format::Json => console::json(
                &json!({"environment": args.environment, "deployments": deployments}),
            )?,
            Format::Text if deployments.is_empty() => console::out(&format!(
                "no release of {} recorded yet\n",
                args.environment
            )),
            Format::Text => {
                for deployment in &deployments {
                    let services: Vec<String> = deployment
                        .services
                        .iter()
                        .map(|(s, v)| format!("{s}={v}"))
                        .collect();
                    console::out(&format!(
                        "{}  {}  {:<15} {:<8} {}\n",
                        deployment.id,
                        deployment.created,
                        deployment.status.as_str(),
                        deployment.kind.as_str(),
                        services.join(" ")
                    ));
                }
            }
        }
        Ok(Outcome::Clean)
    })
}

pub(super) fn diff(session: &Session, args: DiffArgs) -> anyhow::Result<Outcome> {
    let runtime = session.runtime()?;
    runtime.block_on(async {
        let coordinator = session.coordinator().await?;
        let store = coordinator.store();
        let from = find(store, &args.from).await?;
        let to = find(store, &args.to).await?;
        let services: BTreeSet<&String> = from.versions.keys().chain(to.versions.keys()).collect();
        let mut changed = Vec::new();
        for service in services {
            let (a, b) = (from.versions.get(service), to.versions.get(service));
            if a != b {
                changed.push(json!({"service": service, "from": a, "to": b}));
            }
        }
        let mut fields = Vec::new();
        for (name, a, b) in [
            ("environment", &from.environment, &to.environment),
            ("strategy", &from.strategy, &to.strategy),
        ] {
            if a != b {
                fields.push(json!({"field": name, "from": a, "to": b}));
            }
        }
        if from.status != to.status {
            fields.push(json!({"field": "status", "from": from.status.as_str(), "to": to.status.as_str()}));
        }
        if from.plan["variables"] != to.plan["variables"] {
            fields.push(json!({"field": "variables", "from": from.plan["variables"], "to": to.plan["variables"]}));
        }
        match args.format {
            Format::Json => console::json(&json!({"from": from.id, "to": to.id, "versions": changed, "changes": fields}))?,
            Format::Text => {
                if changed.is_empty() && fields.is_empty() {
                    console::out(&format!("{} and {} recorded the same versions\n", from.id, to.id));
                }
                for change in &changed {
                    console::out(&format!(
                        "  {}  {} → {}\n",
                        change["service"].as_str().unwrap_or_default(),
                        change["from"].as_str().unwrap_or("(none)"),
                        change["to"].as_str().unwrap_or("(none)")
                    ));
                }
                for field in &fields {
                    console::out(&format!("  {}: {} → {}\n", field["field"].as_str().unwrap_or_default(), field["from"], field["to"]));
                }
            }
        }
        Ok(Outcome::Clean)
    })
}
