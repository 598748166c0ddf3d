//! The HTTP client for PayPal's REST API: the OAuth2 client-credentials token, cached until
//! shortly before it expires, `PayPal-Request-Id` idempotency, and errors read as PayPal
//! documents them (`name`, `details[].issue`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use miniapp_core::provider::ProviderError;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A token is refreshed this long before PayPal says it expires (or at half its life when it is
/// shorter), so no request carries one that expires on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

struct Token {
    value: SecretString,
    refresh_at: Instant,
}

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    client_id: String,
    secret: SecretString,
    token: tokio::sync::Mutex<Option<Token>>,
    backoff: Duration,
}

/// An answer PayPal gave that is not a success: the HTTP status and the error's `name` and first
/// `details[].issue` (what PayPal says to branch on), never the request's credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("PayPal answered {status} {name}{}: {message}", issue.as_deref().map(|i| format!(" ({i})")).unwrap_or_default())]
pub(crate) struct ApiFailure {
    pub(crate) status: u16,
    pub(crate) name: String,
    pub(crate) issue: Option<String>,
    pub(crate) message: String,
}

/// Why a call failed: PayPal's own answer, or no usable answer at all.
#[derive(Debug)]
pub(crate) enum CallError {
    Api(ApiFailure),
    Transport(ProviderError),
}

impl CallError {
    /// The issue PayPal named, for the callers that handle one (`ORDER_ALREADY_CAPTURED`, …).
    pub(crate) fn issue(&self) -> Option<&str> {
        match self {
            CallError::Api(f) => f.issue.as_deref(),
            CallError::Transport(_) => None,
        }
    }
}

impl From<CallError> for ProviderError {
    fn from(e: CallError) -> ProviderError {
        match e {
            CallError::Transport(e) => e,
            // Another request with the same PayPal-Request-Id is being processed.
            CallError::Api(f) if f.status == 409 => ProviderError::InProgress,
            CallError::Api(f) if f.status == 429 || f.status >= 500 => {
                ProviderError::Unavailable(Box::new(f))
            }
            CallError::Api(f) => ProviderError::Rejected {
                code: f.issue.unwrap_or(f.name),
                message: f.message,
            },
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Vec<ErrorDetail>,
    /// The OAuth endpoint's RFC 6749 shape: `{"error":"invalid_client","error_description":…}`.
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    issue: String,
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    expires_in: u64,
}

/// The error type behind `ProviderError::Unavailable` for transport failures: reqwest's text
/// names the URL, never a header, so neither the secret nor a token can appear in it.
#[derive(Debug, thiserror::Error)]
#[error("request to PayPal failed: {0}")]
pub(crate) struct TransportError(pub(crate) String);

/// PayPal could not be reached or did not answer as PayPal does (a proxy's page, a cut body).
pub(crate) fn unavailable_error(what: impl Into<String>) -> ProviderError {
    ProviderError::Unavailable(Box::new(TransportError(what.into())))
}

fn unavailable(what: impl Into<String>) -> CallError {
    CallError::Transport(unavailable_error(what))
}

impl Client {
    pub(crate) fn new(
        base: &str,
        client_id: String,
        secret: SecretString,
        timeout: Duration,
    ) -> Result<Client, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("miniapp-paypal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| unavailable_error(e.to_string()))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            client_id,
            secret,
            token: tokio::sync::Mutex::new(None),
            backoff: Duration::from_millis(500),
        })
    }

    /// The cached access token, or a new one (one fetch at a time: concurrent callers wait for
    /// it instead of each asking PayPal).
    async fn token(&self) -> Result<SecretString, CallError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.secret.expose_secret()
        ));
        let response = self
            .http
            .post(format!("{}/v1/oauth2/token", self.base))
            .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let body = read(response).await?;
        let token: TokenBody = serde_json::from_slice(&body)
            .map_err(|e| unavailable(format!("the token answer is not the JSON expected: {e}")))?;
        // PayPal's tokens live hours; a day at most keeps a wild answer from overflowing.
        let life = Duration::from_secs(token.expires_in.min(86_400));
        let margin = REFRESH_MARGIN.min(life / 2);
        let value = SecretString::from(token.access_token);
        *cached = Some(Token {
            value: value.clone(),
            refresh_at: Instant::now() + (life - margin),
        });
        Ok(value)
    }

    /// Sends a JSON request and returns the successful answer's bytes.
    ///
    /// A 401 drops the cached token and tries once more with a new one (PayPal may revoke a
    /// token before its time). Network errors, timeouts and 5xx are retried once after a short
    /// pause; that is safe because every POST carries its `PayPal-Request-Id`, and PayPal answers
    /// a repeated id with the first request's result.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<Vec<u8>, CallError> {
        let url = format!("{}{path}", self.base);
        let mut renewed = false;
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json")
                // The whole order in every answer: a capture's result is in it.
                .header("Prefer", "return=representation");
            if let Some(id) = request_id {
                request = request.header("PayPal-Request-Id", id);
            }
            if let Some(body) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_owned());
            }
            let outcome = match request.send().await {
                Ok(response) => read(response).await,
                Err(e) => Err(unavailable(e.to_string())),
            };
            match outcome {
                Err(CallError::Api(f)) if f.status == 401 && !renewed => {
                    renewed = true;
                    *self.token.lock().await = None;
                }
                Err(e) if retryable(&e) && !retried => {
                    retried = true;
                    tracing::warn!(error = ?e, path, "retrying PayPal request");
                    tokio::time::sleep(self.backoff).await;
                }
                other => return other,
            }
        }
    }
}

fn retryable(e: &CallError) -> bool {
    match e {
        CallError::Transport(_) => true,
        CallError::Api(f) => f.status >= 500 || f.status == 429,
    }
}

async fn read(response: reqwest::Response) -> Result<Vec<u8>, CallError> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if status.is_success() {
        return Ok(bytes.to_vec());
    }
    let decoded: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
    let failure = match decoded {
        Some(b) => ApiFailure {
            status: status.as_u16(),
            name: b
                .name
                .or(b.error)
                .unwrap_or_else(|| reason(status).to_owned()),
            issue: b.details.into_iter().next().map(|d| d.issue),
            message: b
                .message
                .or(b.error_description)
                .unwrap_or_else(|| format!("HTTP {status}")),
        },
        None => ApiFailure {
            status: status.as_u16(),
            name: reason(status).to_owned(),
            issue: None,
            message: format!("HTTP {status} with a body that is not a PayPal error"),
        },
    };
    Err(CallError::Api(failure))
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("HTTP_ERROR")
}
