//! The HTTP client for Stripe's API: authentication, the pinned version, idempotency keys, and
//! retries exactly where Stripe says they are safe.

use std::time::Duration;

use miniapp_core::provider::ProviderError;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The Stripe API version every request pins (`Stripe-Version`). The request and event shapes in
/// this crate, and the test vectors, are those of this version.
pub const STRIPE_API_VERSION: &str = "2026-10-28.endive";

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

/// A decoded Stripe API error.
struct Failure {
    status: StatusCode,
    kind: String,
    code: Option<String>,
    message: String,
    should_retry: Option<bool>,
}

pub(crate) struct Client {
    http: reqwest::Client,
    base_url: String,
    secret_key: SecretString,
    max_retries: u32,
    backoff: Duration,
}

/// The literal error type for transport failures, so `ProviderError::Unavailable` keeps a cause
/// that never contains the API key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error("request to Stripe failed: {0}")]
    Http(String),
    #[error("Stripe answered {status} ({kind}): {message}")]
    Api {
        status: u16,
        kind: String,
        message: String,
    },
    #[error("Stripe's answer is not the JSON expected: {0}")]
    Body(String),
}

impl TransportError {
    fn is_conflict(&self) -> bool {
        matches!(self, TransportError::Api { status: 409, .. })
    }
}

impl Client {
    pub(crate) fn new(
        base_url: String,
        secret_key: SecretString,
        timeout: Duration,
        max_retries: u32,
        backoff: Duration,
    ) -> Result<Client, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("miniapp-stripe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ProviderError::Unavailable(Box::new(TransportError::Http(e.to_string())))
            })?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret_key,
            max_retries,
            backoff,
        })
    }

    /// Sends a request, retrying what Stripe says may be retried, always with the same
    /// `Idempotency-Key` (for POST), and decodes the JSON answer.
    pub(crate) async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<T, ProviderError> {
        let body = self.send_raw(method, path, form, idempotency_key).await?;
        decode(&body)
    }

    /// As [`Client::send`], but the successful answer's bytes, for types that borrow from them.
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        path: &str,
        form: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<u8>, ProviderError> {
        let url = format!("{}{}", self.base_url, path);
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.secret_key.expose_secret())
                .header("Stripe-Version", STRIPE_API_VERSION);
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = &form {
                request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => self.read(response).await,
                // Network errors and timeouts: the request may or may not have arrived; the same
                // idempotency key makes a retry safe.
                Err(e) => Err(Attempt::Retryable(transport(&e))),
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Retryable(e)) if attempt >= self.max_retries => {
                    return Err(match e {
                        // 409: a concurrent request with the same key is still being processed.
                        ProviderError::Unavailable(cause)
                            if cause
                                .downcast_ref::<TransportError>()
                                .is_some_and(TransportError::is_conflict) =>
                        {
                            ProviderError::InProgress
                        }
                        other => other,
                    });
                }
                Err(Attempt::Retryable(e)) => {
                    attempt += 1;
                    let delay = self.backoff * 2u32.saturating_pow(attempt - 1);
                    tracing::warn!(error = %e, attempt, ?delay, path, "retrying Stripe request");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn read(&self, response: reqwest::Response) -> Result<Vec<u8>, Attempt> {
        let status = response.status();
        let should_retry = response
            .headers()
            .get("Stripe-Should-Retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("true"));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Attempt::Retryable(transport(&e)))?;
        if status.is_success() {
            return Ok(Vec::from(bytes));
        }
        let decoded: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let failure = Failure {
            status,
            kind: decoded
                .as_ref()
                .and_then(|b| b.error.kind.clone())
                .unwrap_or_else(|| "unknown".into()),
            code: decoded.as_ref().and_then(|b| b.error.code.clone()),
            message: decoded
                .and_then(|b| b.error.message)
                .unwrap_or_else(|| format!("HTTP {status} with a body that is not a Stripe error")),
            should_retry,
        };
        Err(classify(failure))
    }
}

/// Decodes a successful answer's JSON; an answer of another shape is Stripe being unavailable
/// (a proxy's page, a truncated body), not a verdict on the payment.
pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body)
        .map_err(|e| ProviderError::Unavailable(Box::new(TransportError::Body(e.to_string()))))
}

enum Attempt {
    Retryable(ProviderError),
    Final(ProviderError),
}

fn transport(e: &reqwest::Error) -> ProviderError {
    // reqwest's Display includes the URL but never headers, so the key cannot leak here.
    ProviderError::Unavailable(Box::new(TransportError::Http(e.to_string())))
}

/// Stripe's guidance: `Stripe-Should-Retry` decides when present; otherwise 409 (a concurrent
/// request with the same key), 429 `lock_timeout` and 5xx may be retried with the same key;
/// other 4xx are final.
fn classify(f: Failure) -> Attempt {
    let unavailable = |f: &Failure| {
        ProviderError::Unavailable(Box::new(TransportError::Api {
            status: f.status.as_u16(),
            kind: f.kind.clone(),
            message: f.message.clone(),
        }))
    };
    let retry = match f.should_retry {
        Some(decided) => decided,
        None => {
            f.status == StatusCode::CONFLICT
                || f.status.is_server_error()
                || (f.status == StatusCode::TOO_MANY_REQUESTS
                    && f.code.as_deref() == Some("lock_timeout"))
        }
    };
    if retry {
        return Attempt::Retryable(unavailable(&f));
    }
    if f.status == StatusCode::CONFLICT {
        // Still in use by a concurrent request after our retries: its result is coming, and a
        // new attempt must not be started over it.
        return Attempt::Final(ProviderError::InProgress);
    }
    if f.status == StatusCode::TOO_MANY_REQUESTS || f.status.is_server_error() {
        return Attempt::Final(unavailable(&f));
    }
    Attempt::Final(ProviderError::Rejected {
        code: f.code.unwrap_or(f.kind),
        message: f.message,
    })
}
