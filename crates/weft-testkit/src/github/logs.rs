//! The job-log download URL a 302 from the logs endpoint points at. It plays
//! the part of GitHub's blob storage: a different path with a signed,
//! short-lived `token` in the query, no `Authorization` needed, `text/plain`,
//! 410 once expired.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::{Shared, lock};

const PLAIN: &str = "text/plain; charset=utf-8";

/// `GET /_logs/{job_id}?token=…`
pub(crate) async fn download(
    State(shared): State<Shared>,
    Path(job_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = lock(&shared);
    let grant = query
        .get("token")
        .and_then(|token| state.log_grants.get(token))
        .filter(|grant| grant.job_id.to_string() == job_id);
    let Some(grant) = grant else {
        return plain(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed: the signature does not match\n".into(),
        );
    };
    if Instant::now() >= grant.expires {
        return plain(StatusCode::GONE, "The URL has expired\n".into());
    }
    match state.runs.iter().find(|r| r.job_id == grant.job_id) {
        Some(run) => plain(StatusCode::OK, run.log_text()),
        None => plain(StatusCode::NOT_FOUND, "BlobNotFound\n".into()),
    }
}

fn plain(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, PLAIN)], text).into_response()
}
