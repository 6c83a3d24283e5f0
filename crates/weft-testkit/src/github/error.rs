//! GitHub's error answers: a JSON body `{"message", "documentation_url",
//! "status"}` (the `basic-error` and `validation-error` schemas), with the
//! status code repeated as a string as GitHub does since 2024.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The documentation root GitHub names for errors outside any operation.
pub(crate) const REST_DOCS: &str = "https://docs.github.com/rest";
pub(crate) const RATE_LIMIT_DOCS: &str =
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
pub(crate) const SECONDARY_RATE_LIMIT_DOCS: &str = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

/// An error answer as GitHub gives it.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    documentation_url: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        message: impl Into<String>,
        documentation_url: &'static str,
    ) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            documentation_url,
            headers: Vec::new(),
        }
    }

    pub(crate) fn not_found(documentation_url: &'static str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "Not Found", documentation_url)
    }

    /// A 422 whose message reads like GitHub's JSON-schema validation:
    /// `Invalid request.\n\n<detail>`.
    pub(crate) fn invalid_request(detail: &str, documentation_url: &'static str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Invalid request.\n\n{detail}"),
            documentation_url,
        )
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn body(&self) -> Value {
        json!({
            "message": self.message,
            "documentation_url": self.documentation_url,
            "status": self.status.as_u16().to_string(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
