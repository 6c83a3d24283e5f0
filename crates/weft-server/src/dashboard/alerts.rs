//! The alerts view: the coordination alerts the server raised (open ones
//! first; acknowledging takes `write`) and the monitor's alerts — the ones
//! `weft monitor alert` keeps as GitHub issues — from what was collected.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use weft_store::{Alert, AlertFilter};

use super::page::{Fragment, Page, View, require_read, trouble};
use super::repositories::{Monitored, assessment, nothing_collected};
use super::session::{FormPost, Viewer, authorize_action, see_other};
use crate::auth::Scope;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AlertsQuery {
    error: Option<String>,
}

const LIVE: &[&str] = &["alert", "alert_acknowledged", "alert_resolved", "monitor"];
/// Resolved alerts are shown for this long.
const RECENT_HOURS: f64 = 24.0;

pub(crate) async fn view(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
    Query(query): Query<AlertsQuery>,
) -> Response {
    if let Some(redirect) = require_read(&viewer, "/alerts", fragment) {
        return redirect;
    }
    // Evaluated now, as `GET /api/v1/alerts` does, so the view is current
    // rather than up to 15 s old.
    if let Err(error) = state.coordinator.evaluate_alerts().await {
        tracing::warn!(%error, "cannot evaluate the alerts");
    }
    let store = state.coordinator.store();
    let since = store.last_event_id().await.ok();
    let coordination = store.alerts(&AlertFilter::default()).await;
    let monitored = assessment(&state).await;
    let body = html! {
        h1 { "Alerts" }
        @if query.error.is_some() { (trouble("That alert could not be acknowledged: it may be gone; the server log says more.")) }
        h2 { "Coordination" }
        @match &coordination {
            Ok(alerts) => (coordination_alerts(alerts, &viewer)),
            Err(error) => (trouble(&error.to_string())),
        }
        h2 { "Monitor" }
        @match &monitored {
            Ok(Monitored::Assessed { assessment, .. }) => (monitor_alerts(&assessment.alerts)),
            Ok(Monitored::Nothing) => (nothing_collected()),
            Err(message) => (trouble(message)),
        }
    };
    Page::new(View::Alerts, "Alerts", body)
        .live(LIVE)
        .since(since)
        .render(&viewer, fragment)
}

fn severity_class(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "bad",
        "medium" | "warning" => "warn",
        _ => "muted",
    }
}

fn coordination_alerts(alerts: &[Alert], viewer: &Viewer) -> Markup {
    // The store's times are fixed-width UTC, so they compare as text.
    let cutoff =
        weft_store::time::rfc3339(weft_store::time::now_ms() - (RECENT_HOURS * 3_600_000.0) as i64);
    let recent = |alert: &Alert| {
        alert
            .resolved_at
            .as_deref()
            .is_none_or(|resolved| resolved >= cutoff.as_str())
    };
    let shown: Vec<&Alert> = alerts.iter().filter(|a| recent(a)).collect();
    let open = shown.iter().filter(|a| a.resolved_at.is_none()).count();
    let write = viewer.may(Scope::Write);
    html! {
        @if shown.is_empty() {
            p.good { "No alert in the last day." }
        } @else {
            p.lead { (open) " open; resolved ones from the last day below them." }
            div.table-wrap {
                table.alerts {
                    thead { tr { th { "severity" } th { "rule" } th { "what" } th.num { "value" } th { "raised" } th { "state" } } }
                    tbody {
                        @for alert in shown.iter().filter(|a| a.resolved_at.is_none()).chain(shown.iter().filter(|a| a.resolved_at.is_some())) {
                            tr.alert data-alert=(alert.id) data-open=(alert.resolved_at.is_none()) {
                                td { span class={ "badge " (severity_class(&alert.severity)) } { (alert.severity) } }
                                td { code { (alert.rule) } br; span.muted { (alert.subject) } }
                                td { (alert.message) }
                                td.num { (format!("{:.2}", alert.value)) " / " (format!("{:.2}", alert.threshold)) }
                                td { (alert.created_at) }
                                td {
                                    @if let Some(resolved) = &alert.resolved_at {
                                        span.good { "resolved " (resolved) }
                                    } @else if let Some(at) = &alert.acknowledged_at {
                                        "acknowledged by " (alert.acknowledged_by.as_deref().unwrap_or("?")) " at " (at)
                                    } @else if write {
                                        form.inline.acknowledge method="post" action="/alerts/acknowledge" {
                                            input type="hidden" name="id" value=(alert.id);
                                            @if let Some(key) = &viewer.form_key { input type="hidden" name="form_key" value=(key); }
                                            button type="submit" { "Acknowledge" }
                                        }
                                    } @else {
                                        span.warn { "open" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn monitor_alerts(alerts: &[weft_monitor::alerts::Alert]) -> Markup {
    html! {
        @if alerts.is_empty() {
            p.good { "No repository raises an alert." }
        } @else {
            p.lead { (alerts.len()) " alerts; " code { "weft monitor alert" } " keeps each as one GitHub issue." }
            div.table-wrap {
                table.monitor-alerts {
                    thead { tr { th { "severity" } th { "repository" } th { "type" } th { "alert" } } }
                    tbody {
                        @for alert in alerts {
                            tr {
                                td { span class={ "badge " (severity_class(alert.severity.as_str())) } { (alert.severity.as_str()) } }
                                td { (alert.repository) }
                                td { (alert.kind.as_str()) " · " code { (alert.rule) } }
                                td { (alert.title) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct AcknowledgeForm {
    id: String,
    form_key: Option<String>,
}

pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    viewer: Viewer,
    post: FormPost,
    Form(form): Form<AcknowledgeForm>,
) -> Response {
    let by = match authorize_action(&viewer, &post, form.form_key.as_deref(), Scope::Write) {
        Ok(by) => by,
        Err(refused) => return refused.into_response(),
    };
    match state.coordinator.acknowledge_alert(&form.id, &by).await {
        Ok(_) => see_other("/alerts", None),
        Err(error) => {
            tracing::warn!(%error, alert = %form.id, "acknowledging from the dashboard failed");
            see_other("/alerts?error=1", None)
        }
    }
}
