//! One error type for every endpoint: `{error: {code, message, details}}`
//! with a 4xx for the caller's mistakes and a 500 that hides internals
//! (logged instead).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use weft_store::{AcquireError, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A failure that is ours, not the caller's: logged, not shown.
    pub fn internal(error: &dyn std::error::Error) -> Self {
        tracing::error!(%error, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({
            "error": {"code": self.code, "message": self.message, "details": self.details}
        }));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            return (self.status, [(axum::http::header::RETRY_AFTER, "1")], body).into_response();
        }
        (self.status, body).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Invalid { field, .. } => {
                ApiError::bad_request("invalid", error.to_string())
                    .with_details(json!({"field": field}))
            }
            StoreError::UnknownClass { .. } => {
                ApiError::bad_request("unknown_class", error.to_string())
            }
            StoreError::UnknownResource(_)
            | StoreError::UnknownLease(_)
            | StoreError::UnknownAlert(_)
            | StoreError::UnknownOperation(_) => ApiError::not_found(error.to_string()),
            StoreError::LeaseExpired { token, .. } => {
                ApiError::new(StatusCode::GONE, "lease_expired", error.to_string())
                    .with_details(json!({"token": token}))
            }
            _ => ApiError::internal(&error),
        }
    }
}

impl From<AcquireError> for ApiError {
    fn from(error: AcquireError) -> Self {
        match error {
            AcquireError::Store(error) => error.into(),
            AcquireError::ShuttingDown { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                error.to_string(),
            ),
            AcquireError::Conflict {
                ref resource,
                ref holders,
                queue_length,
            } => ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string()).with_details(
                json!({"resource": resource, "holders": holders, "queue_length": queue_length}),
            ),
            AcquireError::Timeout {
                ref resource,
                ref holders,
                waited_ms,
                position,
            } => ApiError::new(StatusCode::CONFLICT, "timeout", error.to_string()).with_details(
                json!({"resource": resource, "holders": holders, "waited_ms": waited_ms,
                       "position": position}),
            ),
        }
    }
}
