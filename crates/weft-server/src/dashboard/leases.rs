//! The leases view: every resource someone holds or waits for — holders
//! with their fencing tokens and time left, the queue in grant order with
//! priorities — and force-release with a reason, for `admin` only.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use weft_store::{ResourceId, ResourceView};

use super::page::{Fragment, Page, View, require_read, span_ms, trouble};
use super::session::{FormPost, Viewer, authorize_action, see_other};
use crate::auth::Scope;
use crate::state::AppState;

/// The event kinds that change this view.
const LIVE: &[&str] = &[
    "grant",
    "release",
    "expire",
    "queued",
    "conflict",
    "force_release",
    "abandoned",
    "wait_cancelled",
];

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LeasesQuery {
    released: Option<String>,
    count: Option<usize>,
    error: Option<String>,
}

pub(crate) async fn view(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
    Query(query): Query<LeasesQuery>,
) -> Response {
    if let Some(redirect) = require_read(&viewer, "/leases", fragment) {
        return redirect;
    }
    let store = state.coordinator.store();
    let since = store.last_event_id().await.ok();
    let body = match store.resources(None).await {
        Ok(resources) => body(&resources, &viewer, &query, weft_store::time::now_ms()),
        Err(error) => html! { h1 { "Leases and queues" } (trouble(&error.to_string())) },
    };
    Page::new(View::Leases, "Leases and queues", body)
        .live(LIVE)
        .since(since)
        .render(&viewer, fragment)
}

fn body(resources: &[ResourceView], viewer: &Viewer, query: &LeasesQuery, now: i64) -> Markup {
    let (busy, idle): (Vec<&ResourceView>, Vec<&ResourceView>) = resources
        .iter()
        .partition(|r| !r.holders.is_empty() || !r.queue.is_empty());
    let admin = viewer.may(Scope::Admin);
    html! {
        // The server's clock, for the countdowns.
        span hidden data-now=(now) {}
        h1 { "Leases and queues" }
        @if let Some(resource) = query.released.as_deref().and_then(|r| ResourceId::parse(r).ok()) {
            p.notice.good role="status" {
                "Force-released " (query.count.unwrap_or(0)) " lease(s) of " code { (resource.to_string()) } "."
            }
        }
        @if let Some(code) = &query.error { (trouble(error_message(code))) }
        p.lead {
            (busy.len()) " busy of " (resources.len()) " resources · "
            (busy.iter().map(|r| r.holders.len()).sum::<usize>()) " leases held · "
            (busy.iter().map(|r| r.queue.len()).sum::<usize>()) " waiting"
        }
        @if busy.is_empty() {
            p.notice { "Nobody holds or waits for anything." }
        }
        @for resource in &busy {
            section.card.resource data-resource=(resource.resource.id.to_string()) {
                h3 {
                    code { (resource.resource.id.to_string()) }
                    " " span.muted { (resource.used) " of " (resource.resource.capacity) " used · last token " (resource.resource.fence) }
                }
                div.table-wrap {
                    table.holders {
                        thead { tr {
                            th { "holder" } th { "mode" } th.num { "fencing token" } th.num { "priority" }
                            th { "time left" } th { "lease" }
                        } }
                        tbody {
                            @for lease in &resource.holders {
                                tr.holder data-lease=(lease.id) {
                                    td { (lease.holder.to_string()) }
                                    td { (lease.mode.as_str()) @if lease.weight != 1 { " ×" (lease.weight) } }
                                    td.num.mono { (lease.token) }
                                    td.num { (lease.priority) }
                                    td { span data-expires=(lease.expires_at_ms()) { (span_ms(lease.expires_at_ms() - now)) " left" } }
                                    td.mono { (lease.id) }
                                }
                            }
                        }
                    }
                }
                @if !resource.queue.is_empty() {
                    h4 { "Queue" }
                    div.table-wrap {
                        table.queue {
                            thead { tr {
                                th.num { "#" } th { "waiter" } th { "mode" } th.num { "priority" }
                                th.num { "with aging" } th { "waiting for" }
                            } }
                            tbody {
                                @for entry in &resource.queue {
                                    tr.waiter {
                                        td.num { (entry.position) }
                                        td { (entry.holder.to_string()) }
                                        td { (entry.mode.as_str()) }
                                        td.num { (entry.priority) }
                                        td.num { (entry.effective_priority) }
                                        td { (span_ms(entry.waited_ms)) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if admin && !resource.holders.is_empty() {
                    form.inline.force-release method="post" action="/leases/force-release" {
                        input type="hidden" name="resource" value=(resource.resource.id.to_string());
                        @if let Some(key) = &viewer.form_key { input type="hidden" name="form_key" value=(key); }
                        label.muted for={ "reason-" (weft_github::encode_path(&resource.resource.id.to_string())) } { "Reason" }
                        input id={ "reason-" (weft_github::encode_path(&resource.resource.id.to_string())) } type="text" name="reason" required placeholder="why (kept in the audit trail)";
                        button.danger type="submit" { "Force-release" }
                    }
                }
            }
        }
        @if !idle.is_empty() {
            details {
                summary { (idle.len()) " idle resources" }
                ul {
                    @for resource in &idle {
                        li { code { (resource.resource.id.to_string()) } " · capacity " (resource.resource.capacity) " · last token " (resource.resource.fence) }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ForceForm {
    resource: String,
    reason: String,
    form_key: Option<String>,
}

pub(crate) async fn force_release(
    State(state): State<AppState>,
    viewer: Viewer,
    post: FormPost,
    Form(form): Form<ForceForm>,
) -> Response {
    let actor = match authorize_action(&viewer, &post, form.form_key.as_deref(), Scope::Admin) {
        Ok(actor) => actor,
        Err(refused) => return refused.into_response(),
    };
    // The page says what went wrong from a fixed list: a link cannot make
    // it say anything else.
    let back = |code: &str| see_other(&format!("/leases?error={code}"), None);
    let reason = form.reason.trim();
    if reason.is_empty() {
        return back("reason");
    }
    let Ok(id) = ResourceId::parse(&form.resource) else {
        return back("resource");
    };
    match state.coordinator.store().resource(&id).await {
        Ok(_) => {}
        Err(error) if error.is_input() => return back("resource"),
        Err(error) => {
            tracing::error!(%error, "force-release from the dashboard failed");
            return back("failed");
        }
    }
    match state.coordinator.force_release(&id, reason, &actor).await {
        Ok(forced) => {
            tracing::warn!(resource = %id, by = %actor, %reason, "force-release from the dashboard");
            see_other(
                &format!(
                    "/leases?released={}&count={}",
                    weft_github::encode_path(&id.to_string()),
                    forced.released.len()
                ),
                None,
            )
        }
        Err(error) => {
            tracing::error!(%error, "force-release from the dashboard failed");
            back("failed")
        }
    }
}

/// The message behind an error code of the leases page.
fn error_message(code: &str) -> &'static str {
    match code {
        "reason" => "Give a reason: it is kept in the audit trail.",
        "resource" => "No such resource.",
        _ => "The force-release failed; the server log says why.",
    }
}
