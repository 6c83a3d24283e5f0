//! The health view: the monitor's table of repositories, with each score's
//! band and, under it, every probe's deduction and the evidence behind it.
//! Read from what `weft monitor collect` (or the server's schedule) stored;
//! no GitHub call.

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use weft_monitor::health::{Band, Health};
use weft_monitor::jobs::Assessment;
use weft_monitor::{MonitorError, MonitorSettings};

use super::page::{Fragment, Page, View, require_read, trouble};
use super::session::Viewer;
use crate::state::AppState;

/// What the monitor has to show.
pub(super) enum Monitored {
    Assessed {
        assessment: Box<Assessment>,
        /// When the last collection finished (RFC 3339).
        collected: Option<String>,
    },
    /// Nothing collected yet.
    Nothing,
}

/// The monitor's assessment of what was collected, with weft.yaml's
/// monitor settings.
pub(super) async fn assessment(state: &AppState) -> Result<Monitored, String> {
    let root = state.settings.workspace.clone();
    let settings = tokio::task::spawn_blocking(move || weft_model::config::load(&root))
        .await
        .map_err(|error| error.to_string())?
        .map(|loaded| MonitorSettings::from_config(&loaded.config.monitor))
        .unwrap_or_default();
    let store = state.coordinator.store();
    // The analysis of everything collected: a blocking thread's work.
    let assessed = {
        let store = store.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            runtime.block_on(weft_monitor::jobs::assess(&store, &settings, None))
        })
        .await
        .map_err(|error| error.to_string())?
    };
    match assessed {
        Ok(assessment) => {
            let collected = store
                .monitor_collections(1)
                .await
                .ok()
                .and_then(|c| c.into_iter().next())
                .and_then(|c| c.finished_at)
                .map(weft_store::time::rfc3339);
            Ok(Monitored::Assessed {
                assessment: Box::new(assessment),
                collected,
            })
        }
        Err(MonitorError::NothingCollected(_)) => Ok(Monitored::Nothing),
        Err(error) => Err(error.to_string()),
    }
}

pub(super) fn nothing_collected() -> Markup {
    html! {
        p.notice {
            "The monitor has collected nothing yet. List repositories under "
            code { "monitor.repositories" } " in weft.yaml and run " code { "weft monitor collect" }
            " (or let " code { "monitor.schedule" } " run it on this server)."
        }
    }
}

pub(crate) async fn view(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
) -> Response {
    if let Some(redirect) = require_read(&viewer, "/health", fragment) {
        return redirect;
    }
    let since = state.coordinator.store().last_event_id().await.ok();
    let body = match assessment(&state).await {
        Ok(Monitored::Assessed {
            assessment,
            collected,
        }) => body(&assessment, collected.as_deref()),
        Ok(Monitored::Nothing) => html! { h1 { "Health" } (nothing_collected()) },
        Err(message) => html! { h1 { "Health" } (trouble(&message)) },
    };
    Page::new(View::Health, "Health", body)
        .live(&["monitor"])
        .since(since)
        .render(&viewer, fragment)
}

pub(super) fn band_class(band: Band) -> &'static str {
    match band {
        Band::Healthy => "good",
        Band::Warning => "warn",
        Band::Critical => "bad",
        Band::Unavailable => "muted",
    }
}

fn body(assessment: &Assessment, collected: Option<&str>) -> Markup {
    let mut healths: Vec<&Health> = assessment.healths.values().collect();
    // Worst first; unavailable last.
    healths.sort_by_key(|h| (h.score.is_none(), h.score, h.repository.clone()));
    let summary = &assessment.analysis.summary;
    html! {
        h1 { "Health" }
        p.lead {
            (healths.len()) " repositories"
            @if let Some(at) = collected { " · collected " (at) }
            " · " (summary.total_issues) " issues found"
        }
        div.table-wrap {
            table.health {
                thead { tr { th { "repository" } th.num { "score" } th { "band" } th { "deductions and their evidence" } } }
                tbody {
                    @for health in &healths {
                        tr data-repository=(health.repository) data-band=(health.band.as_str()) {
                            td { a href=(health.url) { (health.repository) } }
                            td.num {
                                @match health.score {
                                    Some(score) => { meter min="0" max="100" low="60" high="80" optimum="100" value=(score) { (score) } " " (score) },
                                    None => span.muted { "—" },
                                }
                            }
                            td { span class={ "badge " (band_class(health.band)) } { (health.band.as_str()) } }
                            td {
                                @let deducted: Vec<_> = health.probes.iter().filter(|p| p.applicable && p.deducted >= 0.05).collect();
                                @if deducted.is_empty() {
                                    span.muted { "nothing deducted" }
                                } @else {
                                    details {
                                        summary {
                                            @for (i, probe) in deducted.iter().enumerate() {
                                                @if i > 0 { ", " }
                                                (probe.name) " −" (format!("{:.1}", probe.deducted))
                                            }
                                        }
                                        ul {
                                            @for probe in &deducted {
                                                li {
                                                    strong { (probe.name) } " −" (format!("{:.1}", probe.deducted)) ": " (probe.detail)
                                                    @if !probe.evidence.is_empty() {
                                                        ul {
                                                            @for evidence in &probe.evidence {
                                                                li { a href=(evidence.url) { (evidence.title) } }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                                @let skipped: Vec<_> = health.probes.iter().filter(|p| !p.applicable).map(|p| p.name).collect();
                                @if !skipped.is_empty() {
                                    br; span.muted { "not applicable: " (skipped.join(", ")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
