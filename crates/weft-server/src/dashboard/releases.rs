//! The releases view: deployments in progress, what is live in each
//! environment (its last successful manifest), each environment's history,
//! and one release in full — services by phase, steps, gates with their
//! last observations, and who was told.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use weft_store::{
    DeploymentRecord, DeploymentStatus, DeploymentSummary, ServiceState, Store, StoreError, Verdict,
};

use super::page::{Fragment, Page, View, require_read, trouble};
use super::session::Viewer;
use crate::state::AppState;

const LIVE: &[&str] = &["deployment", "step", "gate"];
/// Releases listed per environment.
const HISTORY: i64 = 10;

struct Environment {
    name: String,
    live: Option<DeploymentRecord>,
    history: Vec<DeploymentSummary>,
}

struct Overview {
    running: Vec<DeploymentSummary>,
    environments: Vec<Environment>,
}

async fn overview(store: &Store, configured: Vec<String>) -> Result<Overview, StoreError> {
    let running = store.running_deployments(None).await?;
    let mut names: BTreeSet<String> = configured.into_iter().collect();
    names.extend(
        store
            .deployments(None, 500)
            .await?
            .into_iter()
            .map(|d| d.environment),
    );
    let mut environments = Vec::new();
    for name in names {
        environments.push(Environment {
            live: store.last_successful(&name, None).await?,
            history: store.deployments(Some(&name), HISTORY).await?,
            name,
        });
    }
    Ok(Overview {
        running,
        environments,
    })
}

async fn configured_environments(state: &AppState) -> Vec<String> {
    let root = state.settings.workspace.clone();
    tokio::task::spawn_blocking(move || weft_model::config::load(&root))
        .await
        .ok()
        .and_then(Result::ok)
        .map(|loaded| loaded.config.environments.keys().cloned().collect())
        .unwrap_or_default()
}

pub(crate) async fn view(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
) -> Response {
    if let Some(redirect) = require_read(&viewer, "/releases", fragment) {
        return redirect;
    }
    let configured = configured_environments(&state).await;
    let store = state.coordinator.store();
    let since = store.last_event_id().await.ok();
    let body = match overview(store, configured).await {
        Ok(overview) => body(&overview),
        Err(error) => html! { h1 { "Releases" } (trouble(&error.to_string())) },
    };
    Page::new(View::Releases, "Releases", body)
        .live(LIVE)
        .since(since)
        .render(&viewer, fragment)
}

pub(crate) fn status_class(status: DeploymentStatus) -> &'static str {
    match status {
        DeploymentStatus::Succeeded => "good",
        DeploymentStatus::Running | DeploymentStatus::Paused | DeploymentStatus::RollingBack => {
            "warn"
        }
        DeploymentStatus::RolledBack => "muted",
        DeploymentStatus::Failed
        | DeploymentStatus::RollbackFailed
        | DeploymentStatus::Interrupted => "bad",
    }
}

fn service_class(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Deployed | ServiceState::Unchanged => "good",
        ServiceState::Failed | ServiceState::RollbackFailed => "bad",
        ServiceState::Pending | ServiceState::Skipped | ServiceState::RolledBack => "muted",
        ServiceState::Deploying | ServiceState::Verifying | ServiceState::RollingBack => "warn",
    }
}

fn release_link(id: &str) -> Markup {
    html! { a.mono href={ "/releases/" (weft_github::encode_path(id)) } { (id) } }
}

fn body(overview: &Overview) -> Markup {
    let services: BTreeSet<&String> = overview
        .environments
        .iter()
        .filter_map(|e| e.live.as_ref())
        .flat_map(|live| live.versions.keys())
        .collect();
    html! {
        h1 { "Releases" }
        h2 { "In progress" }
        @if overview.running.is_empty() {
            p.muted { "No release is running." }
        } @else {
            (summaries(&overview.running, true))
        }
        h2 { "Live where" }
        @if overview.environments.is_empty() {
            p.muted { "No environment yet: weft.yaml's " code { "environments:" } " names them, and " code { "weft deploy run" } " releases to them." }
        } @else {
            div.table-wrap {
                table.live {
                    thead { tr {
                        th { "service" }
                        @for environment in &overview.environments { th { (environment.name) } }
                    } }
                    tbody {
                        @for service in &services {
                            tr {
                                td { (service) }
                                @for environment in &overview.environments {
                                    td.mono {
                                        @match environment.live.as_ref().and_then(|l| l.versions.get(*service)) {
                                            Some(version) => (version),
                                            None => span.muted { "—" },
                                        }
                                    }
                                }
                            }
                        }
                        tr {
                            td.muted { "released by" }
                            @for environment in &overview.environments {
                                td { @if let Some(live) = &environment.live { (release_link(&live.id)) } }
                            }
                        }
                    }
                }
            }
        }
        @for environment in &overview.environments {
            h2 { "History: " (environment.name) }
            @if environment.history.is_empty() {
                p.muted { "Nothing released here yet." }
            } @else {
                (summaries(&environment.history, false))
            }
        }
    }
}

fn summaries(list: &[DeploymentSummary], environment: bool) -> Markup {
    html! {
        div.table-wrap {
            table.deployments {
                thead { tr {
                    th { "release" }
                    @if environment { th { "environment" } }
                    th { "kind" } th { "status" } th { "services" } th { "started" } th { "finished" }
                } }
                tbody {
                    @for deployment in list {
                        tr data-status=(deployment.status.as_str()) {
                            td { (release_link(&deployment.id)) }
                            @if environment { td { (deployment.environment) } }
                            td { (deployment.kind.as_str()) " · " (deployment.strategy) }
                            td {
                                span class={ "badge " (status_class(deployment.status)) } { (deployment.status.as_str()) }
                                @if let Some(error) = &deployment.error { br; span.muted { (error) } }
                            }
                            td.mono {
                                @for (i, (service, version)) in deployment.services.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (service) "@" (version)
                                }
                            }
                            td { (deployment.created) }
                            td { (deployment.finished.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/releases/{}", weft_github::encode_path(&id));
    if let Some(redirect) = require_read(&viewer, &here, fragment) {
        return redirect;
    }
    let store = state.coordinator.store();
    let since = store.last_event_id().await.ok();
    let body = match store.deployment(&id).await {
        Ok(Some(record)) => detail(&record),
        Ok(None) => html! { h1 { "Release" } (trouble(&format!("no release `{id}`"))) },
        Err(error) => html! { h1 { "Release" } (trouble(&error.to_string())) },
    };
    Page::new(View::Releases, format!("Release {id}"), body)
        .live(LIVE)
        .since(since)
        .render(&viewer, fragment)
}

fn detail(record: &DeploymentRecord) -> Markup {
    let mut phases: BTreeMap<u32, Vec<&weft_store::ServiceRecord>> = BTreeMap::new();
    for service in &record.services {
        phases.entry(service.phase).or_default().push(service);
    }
    // The last observation of each gate, and how many came before.
    let mut gates: BTreeMap<(String, &str, u32), (usize, &weft_store::ObservationRecord)> =
        BTreeMap::new();
    for observation in &record.observations {
        let entry = gates
            .entry((
                observation.service.clone(),
                observation.stage.as_str(),
                observation.gate,
            ))
            .or_insert((0, observation));
        entry.0 += 1;
        entry.1 = observation;
    }
    html! {
        p { a href="/releases" { "← Releases" } }
        h1 { "Release " span.mono { (record.id) } }
        p.lead {
            span class={ "badge " (status_class(record.status)) } { (record.status.as_str()) }
            " " (record.kind.as_str()) " to " strong { (record.environment) } " · " (record.strategy)
            " · started " (record.started)
            @if let Some(finished) = &record.finished { " · finished " (finished) }
            @if let Some(of) = &record.rollback_of { " · rolls back " (release_link(of)) }
        }
        @if let Some(error) = &record.error { (trouble(error)) }
        h2 { "Phases" }
        div.table-wrap {
            table.phases {
                thead { tr { th.num { "phase" } th { "service" } th { "version" } th { "from" } th { "state" } th { "detail" } } }
                tbody {
                    @for (phase, services) in &phases {
                        @for service in services {
                            tr {
                                td.num { (phase) }
                                td { (service.service) }
                                td.mono { (service.version) }
                                td.mono { (service.previous_version.as_deref().unwrap_or("—")) }
                                td { span class={ "badge " (service_class(service.state)) } { (service.state.as_str()) } }
                                td {
                                    @if let Some(detail) = &service.detail { (detail) }
                                    @if let Some(url) = &service.run_url { " " a href=(url) { "run" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Steps" }
        @if record.steps.is_empty() { p.muted { "No step has run." } } @else {
            div.table-wrap {
                table.steps {
                    thead { tr { th { "service" } th { "stage" } th { "step" } th { "status" } th.num { "attempts" } th.num { "took" } th { "message" } } }
                    tbody {
                        @for step in &record.steps {
                            tr {
                                td { (step.service) }
                                td { (step.stage.as_str()) }
                                td { (step.index + 1) ". " code { (step.description) } }
                                td { (step.status.as_str()) @if let Some(code) = step.exit_code { " (exit " (code) ")" } }
                                td.num { (step.attempts) }
                                td.num { @if let Some(ms) = step.duration_ms { (super::page::span_ms(ms)) } }
                                td { (step.message.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Gates" }
        @if gates.is_empty() { p.muted { "No gate has been observed." } } @else {
            div.table-wrap {
                table.gates {
                    thead { tr { th { "service" } th { "stage" } th { "gate" } th { "last verdict" } th.num { "observations" } th { "at" } } }
                    tbody {
                        @for ((service, stage, _), (count, last)) in &gates {
                            tr {
                                td { (service) }
                                td { (stage) }
                                td { code { (last.description) } }
                                td {
                                    span class={ "badge " (match last.verdict { Verdict::Pass => "good", Verdict::Fail => "bad", Verdict::Inconclusive => "warn" }) } { (last.verdict.as_str()) }
                                    " " (last.message)
                                }
                                td.num { (count) }
                                td { (last.at) }
                            }
                        }
                    }
                }
            }
        }
        @if !record.notifications.is_empty() {
            h2 { "Told" }
            ul {
                @for sent in &record.notifications {
                    li {
                        span class=(if sent.ok { "good" } else { "bad" }) { (if sent.ok { "✓ " } else { "✗ " }) }
                        (sent.event) " → " (sent.channel)
                        @if sent.escalation { " (escalation)" }
                        @if let Some(error) = &sent.error { " · " span.muted { (error) } }
                    }
                }
            }
        }
        @if !record.artifacts.is_empty() {
            h2 { "Artifacts" }
            ul {
                @for artifact in &record.artifacts {
                    li { code { (artifact.name) } " · " (artifact.size) " bytes · " span.mono { (artifact.digest) } }
                }
            }
        }
    }
}
