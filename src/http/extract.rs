//! Request reading: size-limited JSON bodies and init-data authentication.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use miniapp_core::ids::UserId;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;

/// Largest API request body, refused before parsing.
pub const MAX_BODY: usize = 16 * 1024;

/// Largest webhook body (Stripe events with many line items are bigger than API requests).
pub const MAX_WEBHOOK_BODY: usize = 256 * 1024;

/// Reads at most `limit` bytes of `body`: `payload_too_large` beyond.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        )
    })
}

/// A JSON API body: `Content-Type: application/json`, at most [`MAX_BODY`] bytes, an object.
pub(crate) async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ));
    }
    let bytes = read_limited(body, MAX_BODY).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid_request(e.to_string()))
}

/// The caller: verified init data and its user.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) user: UserId,
    pub(crate) language: Option<String>,
}

/// Authenticates from `Authorization: tma <initData>`, else from a body's `init_data`.
pub(crate) fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    body_init_data: Option<&str>,
) -> Result<Caller, ApiError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("tma "));
    let raw = from_header.or(body_init_data).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_init_data",
            "Telegram init data is required (Authorization: tma …)",
        )
    })?;
    let data = state.inner.verifier.verify(raw, state.clock().now())?;
    let user = data.user().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_init_data",
            "the init data names no user",
        )
    })?;
    let user_id = UserId::new(user.id).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_init_data",
            "the init data names an invalid user",
        )
    })?;
    let language = user.language_code.clone();
    Ok(Caller {
        user: user_id,
        language,
    })
}

/// Light e-mail check: one `@`, something on both sides, a dot in the domain, no spaces or
/// control characters, at most 254 bytes. The provider validates for real.
pub(crate) fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.chars().all(|c| {
            !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>' | '"' | '\\' | ',')
        })
}

#[cfg(test)]
mod tests {
    use super::valid_email;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "user.name+tag@example.com",
            "пользователь@пример.рф",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a@.b", "a@b.", "a b@c.d", "a@b@c.d", "<a@b.c>",
            "a@b.c\n",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
