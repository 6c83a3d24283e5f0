//! The middleware in front of the API routes, and the one that records every
//! request.
//!
//! How the API gate works, in order: credentials (401 without a token the
//! fake accepts); then whatever a test switched on for the next requests —
//! injected 5xx, a secondary limit, the spent primary budget, a permission
//! the token lacks; then the handler. A 200 to a GET gets an `ETag` made of the body and the token, and
//! becomes a bodiless 304 when `If-None-Match` names it. Last, every answer
//! that was not a 304 or a refusal spends one request of the budget, and all
//! carry the `x-ratelimit-*` headers and GitHub's other headers.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::SystemTime;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, RATE_LIMIT_DOCS, REST_DOCS, SECONDARY_RATE_LIMIT_DOCS};
use super::run::ACTOR;
use super::state::{RecordedRequest, Shared, lock};

/// Records the request and the status it got.
pub(crate) async fn record(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let authorization = request.headers().contains_key(header::AUTHORIZATION);
    let response = next.run(request).await;
    lock(&shared).requests.push(RecordedRequest {
        method,
        path,
        query,
        authorization,
        status: response.status().as_u16(),
    });
    response
}

/// Authenticates, refuses, adds ETags and rate-limit headers (see the module
/// documentation).
pub(crate) async fn api_gate(
    State(shared): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request_id();
    let token = match authenticate(&shared, request.headers()) {
        Ok(token) => token,
        Err(error) => {
            let mut response = error.into_response();
            let mut state = lock(&shared);
            state.unauthenticated.refresh(SystemTime::now());
            state.unauthenticated.spend();
            state.unauthenticated.write_headers(response.headers_mut());
            drop(state);
            return finish(response, &request_id);
        }
    };
    let path = request.uri().path().to_string();
    if let Some(refusal) = refuse(&shared, &path, &request_id) {
        let mut response = refusal.0.into_response();
        let mut state = lock(&shared);
        if refusal.1 {
            state.core.spend();
        }
        state.core.write_headers(response.headers_mut());
        drop(state);
        return finish(response, &request_id);
    }
    let conditional = (request.method() == Method::GET)
        .then(|| request.headers().get(header::IF_NONE_MATCH).cloned());
    let mut response = next.run(request).await;
    if let Some(if_none_match) = conditional
        && response.status() == StatusCode::OK
    {
        response = with_etag(response, &token, if_none_match.as_ref()).await;
    }
    let mut state = lock(&shared);
    if response.status() != StatusCode::NOT_MODIFIED {
        state.core.spend();
    }
    state.core.write_headers(response.headers_mut());
    drop(state);
    finish(response, &request_id)
}

/// The token of `Authorization: Bearer TOKEN` or `token TOKEN`, if accepted.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Requires authentication",
            REST_DOCS,
        ));
    };
    let token = value.to_str().ok().and_then(|value| {
        let (scheme, token) = value.trim().split_once(' ')?;
        let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
        known.then(|| token.trim().to_string())
    });
    match token {
        Some(token) if lock(shared).tokens.contains(&token) => Ok(token),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Bad credentials",
            REST_DOCS,
        )),
    }
}

/// What a test switched on for this request, if anything; the flag says
/// whether the refusal spends a request of the budget.
fn refuse(shared: &Shared, path: &str, request_id: &str) -> Option<(ApiError, bool)> {
    let mut state = lock(shared);
    state.core.refresh(SystemTime::now());
    if let Some(index) = state.server_errors.iter().position(|e| e.path == path) {
        let injected = &mut state.server_errors[index];
        injected.requests -= 1;
        let status = injected.status;
        if injected.requests == 0 {
            state.server_errors.remove(index);
        }
        let message = match status {
            StatusCode::BAD_GATEWAY => "Server Error",
            other => other.canonical_reason().unwrap_or("Server Error"),
        };
        return Some((ApiError::new(status, message, REST_DOCS), true));
    }
    if let Some(secondary) = &mut state.secondary {
        secondary.requests -= 1;
        let status = secondary.status;
        let retry_after = secondary.retry_after.as_secs_f64().ceil() as u64;
        if secondary.requests == 0 {
            state.secondary = None;
        }
        let message = format!(
            "You have exceeded a secondary rate limit. Please wait a few minutes before you \
             try again. If you reach out to GitHub Support for help, please include the \
             request ID {request_id}."
        );
        let error = ApiError::new(status, message, SECONDARY_RATE_LIMIT_DOCS)
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return Some((error, false));
    }
    if state.core.is_exhausted() {
        let message = format!(
            "API rate limit exceeded for user ID {}. If you reach out to GitHub Support for \
             help, please include the request ID {request_id}.",
            ACTOR.1
        );
        return Some((
            ApiError::new(StatusCode::FORBIDDEN, message, RATE_LIMIT_DOCS),
            false,
        ));
    }
    if let Some(denial) = state.denials.iter().find(|d| path.starts_with(&d.prefix)) {
        let error = ApiError::new(
            StatusCode::FORBIDDEN,
            "Resource not accessible by personal access token",
            REST_DOCS,
        );
        let error = match HeaderValue::from_str(&denial.permission) {
            Ok(value) => error.with_header(
                HeaderName::from_static("x-accepted-github-permissions"),
                value,
            ),
            Err(_) => error,
        };
        return Some((error, true));
    }
    None
}

/// Adds the `ETag` of the body for this token; a bodiless 304 when the
/// client already has it.
async fn with_etag(
    response: Response,
    token: &str,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let etag = etag(token, &bytes);
    let cached = if_none_match
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| matches_etag(value, &etag));
    let headers = &mut parts.headers;
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60, s-maxage=60"),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization, Cookie, X-GitHub-OTP"),
    );
    if cached {
        parts.status = StatusCode::NOT_MODIFIED;
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A weak ETag of the body as seen with `token`: GitHub's vary with it.
fn etag(token: &str, body: &[u8]) -> String {
    let digest: String = (0..2u8)
        .map(|round| {
            let mut hasher = DefaultHasher::new();
            (round, token, body).hash(&mut hasher);
            format!("{:016x}", hasher.finish())
        })
        .collect();
    format!("W/\"{digest}\"")
}

/// `If-None-Match` compares weakly: `W/` does not matter; `*` matches.
fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    if_none_match
        .split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(etag))
}

/// GitHub's headers on every API answer.
fn finish(mut response: Response, request_id: &str) -> Response {
    let headers = &mut response.headers_mut();
    if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/json")
    {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    headers.insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    headers.insert(
        "x-github-media-type",
        HeaderValue::from_static("github.v3; format=json"),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-github-request-id", value);
    }
    headers.insert(header::SERVER, HeaderValue::from_static("github.com"));
    response
}

/// Like `CB2A:3F4B:1A2B3C:1B2C3D:65A1B2C3`.
fn request_id() -> String {
    format!(
        "{:04X}:{:04X}:{:06X}:{:06X}:{:08X}",
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u32(..0x100_0000),
        fastrand::u32(..0x100_0000),
        fastrand::u32(..),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_vary_with_the_token_and_compare_weakly() {
        let first = etag("a", b"{}");
        assert_ne!(first, etag("b", b"{}"));
        assert_ne!(first, etag("a", b"{ }"));
        assert!(matches_etag(&first, &first));
        assert!(matches_etag(first.trim_start_matches("W/"), &first));
        assert!(matches_etag(&format!("\"x\", {first}"), &first));
        assert!(matches_etag("*", &first));
        assert!(!matches_etag("\"x\"", &first));
    }
}
