//! The dashboard's stylesheet, script and icon, embedded in the binary.
//! Each is linked with its digest in the URL (`?v=…`), so it can be cached
//! for a year, and answers `If-None-Match` with 304.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// The first 16 hex digits of its SHA-256.
    digest: String,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        (
            "dashboard.css",
            "text/css; charset=utf-8",
            include_bytes!("../../assets/dashboard.css").as_slice(),
        ),
        (
            "dashboard.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/dashboard.js").as_slice(),
        ),
        (
            "favicon.svg",
            "image/svg+xml",
            include_bytes!("../../assets/favicon.svg").as_slice(),
        ),
    ]
    .into_iter()
    .map(|(name, content_type, body)| Asset {
        name,
        content_type,
        body,
        digest: ring::digest::digest(&ring::digest::SHA256, body)
            .as_ref()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect(),
    })
    .collect()
});

/// The URL of an embedded asset, with its digest.
pub(crate) fn url(name: &str) -> String {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => format!("/assets/{}?v={}", asset.name, asset.digest),
        None => format!("/assets/{name}"),
    }
}

pub(crate) async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let etag = format!("\"{}\"", asset.digest);
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if !fresh {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
