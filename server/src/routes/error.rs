//! The one JSON error envelope of the API: `{code, message, retryable, request_id}`.
//!
//! "Your input is wrong" errors (4xx) carry a message written for the person who can fix it;
//! "we failed" errors (5xx) carry an opaque message, and the cause is logged under the same
//! `request_id` so an operator can find it from what the user saw.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

/// An API failure, ready to be rendered.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retryable: bool,
    /// Sent as `Retry-After` (whole seconds, at least 1) on 503 and 429.
    pub retry_after: Option<Duration>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    code: &'a str,
    message: &'a str,
    retryable: bool,
    request_id: String,
}

impl ApiError {
    /// The request cannot be served as sent; `message` tells the user what to change.
    pub fn invalid(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// Redis (the job queue) cannot be reached right now.
    pub fn queue_unavailable(retry_after: Duration) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "queue_unavailable",
            message:
                "The job queue is temporarily unreachable; nothing was lost. Try again shortly."
                    .into(),
            retryable: true,
            retry_after: Some(retry_after),
        }
    }

    /// Something failed on our side; `cause` is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: cause.to_string(),
            retryable: true,
            retry_after: None,
        }
    }
}

impl ApiError {
    /// The envelope as sent, under a fresh request id (the cause of an internal error is
    /// logged under that id, not shown). Also what an SSE `error` event carries.
    pub fn envelope(&self) -> serde_json::Value {
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let shown = if self.status.is_server_error() && self.code == "internal" {
            tracing::error!(%request_id, cause = %self.message, "request failed");
            "Something went wrong on our side. If it keeps happening, report this request id."
        } else {
            tracing::info!(%request_id, code = self.code, message = %self.message, "request refused");
            self.message.as_str()
        };
        serde_json::to_value(Envelope {
            code: self.code,
            message: shown,
            retryable: self.retryable,
            request_id,
        })
        .unwrap_or_default()
    }
}

/// A path that exists asked with a method it does not take (axum adds the `Allow` header).
pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::invalid(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not an operation of this path; the Allow header lists those that are"),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.envelope();
        let request_id = body["request_id"].as_str().unwrap_or_default().to_owned();
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Ok(id) = HeaderValue::from_str(&request_id) {
            headers.insert("x-request-id", id);
        }
        response
    }
}
