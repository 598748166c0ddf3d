//! The one error type of the HTTP API and its JSON rendering.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use miniapp_core::catalog::OrderError;
use miniapp_core::init_data::InitDataError;
use miniapp_core::ledger::LedgerError;
use miniapp_core::provider::ProviderError;
use serde_json::json;

/// An API error: a status, a stable machine-readable `code` and a human message. 4xx messages
/// are safe to show; 5xx causes are logged and replaced by a generic message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with an explicit status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header (seconds) to the response.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// 404 `not_found`: also what another user's payment looks like.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such payment")
    }

    /// 400 `invalid_request` for a field that is missing or of the wrong type.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({ "success": false, "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The code and message of a status that a layer or axum itself produced (a method the route
/// does not have, a timeout, …), for [`json_errors`].
fn status_error(status: StatusCode) -> ApiError {
    let (code, message) = match status.as_u16() {
        400 => ("invalid_request", "the request is not valid"),
        404 => ("not_found", "no such route"),
        405 => ("method_not_allowed", "this route does not take that method"),
        408 => ("request_timeout", "the request took too long; try again"),
        413 => ("payload_too_large", "the body is too large"),
        415 => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        422 => ("invalid_request", "the request is not valid"),
        429 => ("rate_limited", "too many requests; try again later"),
        503 => ("unavailable", "the service is unavailable, try again"),
        504 => (
            "gateway_timeout",
            "an upstream service took too long; try again",
        ),
        s if s >= 500 => ("internal", "internal error"),
        _ => ("invalid_request", "the request is not valid"),
    };
    ApiError::new(status, code, message)
}

/// Middleware (for `axum::middleware::map_response`): gives every error response that is not already JSON or a page (axum's plain-text
/// rejections, the timeout layer's empty 408, the empty 405 of a method router) the API's
/// `{success: false, error: {code, message}}` shape, keeping its status and headers such as
/// `Allow`. Error pages in HTML (the sandbox checkout) are left as they are.
pub async fn json_errors(response: Response) -> Response {
    json_error_shape(response)
}

/// [`json_errors`] without the `async`, for [`super::edge::Edge`].
pub(crate) fn json_error_shape(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !plain {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let mut rendered = status_error(status).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in rendered.headers_mut().drain() {
        if let Some(name) = name {
            parts.headers.insert(name, value);
        }
    }
    Response::from_parts(parts, rendered.into_body())
}

impl From<InitDataError> for ApiError {
    fn from(e: InitDataError) -> ApiError {
        tracing::debug!(reason = e.kind(), "init data refused");
        ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> ApiError {
        match e {
            LedgerError::UnknownPayment => ApiError::not_found(),
            LedgerError::IdempotencyConflict => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this Idempotency-Key was already used for a different order",
            ),
            LedgerError::InsufficientFunds { balance, requested } => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_funds",
                format!("balance {balance} is less than {requested}"),
            ),
            LedgerError::Unavailable(source) => {
                tracing::warn!(error = %source, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "storage is unavailable, try again",
                )
            }
            other => {
                tracing::error!(error = ?other, "storage error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> ApiError {
        match e {
            ProviderError::InvalidSignature(reason) => {
                tracing::warn!(reason, "webhook signature refused");
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_signature",
                    "webhook signature is invalid",
                )
            }
            ProviderError::MalformedPayload(reason) => {
                tracing::error!(reason, "authentic webhook could not be read");
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_payload",
                    "webhook payload could not be read",
                )
            }
            ProviderError::Rejected { code, message } => {
                tracing::warn!(code, message, "payment provider refused the request");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "provider_rejected",
                    "the payment provider refused the payment",
                )
            }
            ProviderError::InProgress => ApiError::new(
                StatusCode::CONFLICT,
                "payment_in_progress",
                "this payment's checkout is being opened right now; try again in a moment",
            )
            .with_retry_after(2),
            ProviderError::Unavailable(source) => {
                tracing::warn!(error = %source, "payment provider unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "provider_unavailable",
                    "the payment provider is unavailable, try again",
                )
            }
            other => {
                tracing::error!(error = ?other, "payment provider error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}
