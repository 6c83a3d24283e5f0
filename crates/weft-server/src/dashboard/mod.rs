//! The dashboard: one server-rendered page per view of the system — the
//! workspace graph, the launched services, leases and queues, releases,
//! alerts and repository health — at `/` on `weft serve`.
//!
//! How it works: every view is plain HTML from the server (maud), so it
//! reads with JavaScript off. A small embedded script opens the event
//! stream (`/api/v1/events`) and, when an event a view cares about
//! arrives, fetches that view again as a fragment and swaps it in: no
//! polling. Actions (force-release, acknowledge) are HTML forms, shown only
//! to a viewer whose token allows them; the token is entered once on
//! `/login` and kept in a server-side session behind an `HttpOnly`,
//! `SameSite=Strict` cookie, never in a URL.

mod alerts;
mod assets;
mod graph;
mod layered;
mod leases;
mod page;
mod releases;
mod repositories;
mod services;
mod session;
mod source;

use axum::Router;
use axum::routing::{get, post};

pub(crate) use services::{LaunchView, watch_launch};
pub(crate) use session::{Sessions, session_id};

use crate::state::AppState;

/// The dashboard's routes; merged into [`crate::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(graph::view))
        .route("/graph/service/{*service}", get(graph::service))
        .route("/source/{*file}", get(source::view))
        .route("/services", get(services::view))
        .route("/leases", get(leases::view))
        .route("/leases/force-release", post(leases::force_release))
        .route("/releases", get(releases::view))
        .route("/releases/{id}", get(releases::show))
        .route("/alerts", get(alerts::view))
        .route("/alerts/acknowledge", post(alerts::acknowledge))
        .route("/health", get(repositories::view))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/assets/{name}", get(assets::serve))
}
