//! The one error type of the HTTP API and its JSON rendering.

use axum::Json;
use axum::http::StatusCode;
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
}

impl ApiError {
    /// An error with an explicit status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
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
        (self.status, Json(body)).into_response()
    }
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
