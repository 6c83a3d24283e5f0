//! `/api/v1/events`: Server-Sent Events. A client that reconnects with
//! `Last-Event-ID` (or `?since=ID`) first gets what it missed, from the
//! store, then the live stream.
//!
//! Besides the stored events, a `services` event (no id: it is not kept)
//! carries the launched stack's status each time it changes, when a
//! `weft up` runs in the server's workspace.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use serde::Deserialize;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tokio_stream::{Stream, StreamExt};
use weft_store::Event;

use crate::auth::{Authorized, ReadScope};
use crate::error::ApiError;
use crate::extract::Params;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventQuery {
    since: Option<i64>,
}

fn to_sse(event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.kind.clone())
        .data(serde_json::to_string(event).unwrap_or_default())
}

pub(crate) async fn stream(
    State(state): State<AppState>,
    _: Authorized<ReadScope>,
    headers: HeaderMap,
    Params(query): Params<EventQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // Subscribe before reading the backlog, so nothing falls in between;
    // duplicates are dropped by id below.
    let live = BroadcastStream::new(state.coordinator.subscribe());
    let since = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(query.since);
    let backlog = match since {
        Some(since) => {
            state
                .coordinator
                .store()
                .events_after(since, 10_000)
                .await?
        }
        None => Vec::new(),
    };
    let mut last = backlog.last().map_or(since.unwrap_or(0), |e| e.id);
    let replay = tokio_stream::iter(backlog.into_iter().map(|e| Ok(to_sse(&e))));
    let live = live.filter_map(move |item| match item {
        Ok(event) if event.id > last => {
            last = event.id;
            Some(Ok(to_sse(&event)))
        }
        Ok(_) => None,
        Err(BroadcastStreamRecvError::Lagged(missed)) => {
            Some(Ok(SseEvent::default().event("lagged").data(format!(
                "{{\"missed\":{missed},\"hint\":\"reconnect with Last-Event-ID to replay\"}}"
            ))))
        }
    });
    let services = WatchStream::from_changes(state.dashboard.launch.subscribe()).map(|view| {
        let services = view
            .as_deref()
            .map(|v| v.services.as_slice())
            .unwrap_or_default();
        Ok(SseEvent::default()
            .event("services")
            .data(serde_json::json!({"up": view.is_some(), "services": services}).to_string()))
    });
    let model = BroadcastStream::new(state.model.subscribe()).map(|item| {
        let data = match item {
            Ok(data) => data.to_string(),
            Err(BroadcastStreamRecvError::Lagged(missed)) => format!("{{\"missed\":{missed}}}"),
        };
        Ok(SseEvent::default().event("model").data(data))
    });
    Ok(Sse::new(replay.chain(live).merge(services).merge(model)).keep_alive(KeepAlive::default()))
}
