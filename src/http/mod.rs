//! The HTTP API, the payment page and the webhooks (feature `axum`).
//!
//! [`payments_router`] is a pure constructor for the payment routes, to mount in your own axum
//! app (merged, or nested under a prefix); [`router`] adds `/healthz`, the 404 fallback and the
//! request timeout for an app of its own, as `full_bot` serves it. Routes, shapes and error codes
//! are in `docs/http-api.md`.
//!
//! ```no_run
//! # async fn run(state: miniapp::http::AppState) -> std::io::Result<()> {
//! let app = miniapp::http::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

mod api;
mod assets;
mod checkout;
mod edge;
mod error;
mod extract;
mod handoff;
mod limits;
mod state;
mod watch;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use miniapp_core::ids::ProviderId;
use miniapp_core::ledger::LedgerError;
use miniapp_core::provider::WebhookRequest;
use serde_json::json;

pub(crate) use api::date_only;
pub use api::{DEV_USER_ID, dev_user};
pub use error::{ApiError, json_errors};
pub use extract::{MAX_BODY, MAX_WEBHOOK_BODY};
pub use state::{AppState, Auth, EnabledMethod, HttpSettings, Opens, StateError, StateParts};
#[cfg(feature = "postgres")]
pub use watch::forward_status_changes;

/// The payment routes, ready to be mounted in any app: the page (`/miniapp/`), the API
/// (`/api/miniapp/…`), the webhooks, and the routes the providers bring along
/// ([`StateParts::routes`]). No fallback, no health route and no timeout, so it can be
/// [`merge`](Router::merge)d into an app that has its own, or [`nest`](Router::nest)ed under any
/// prefix: the page finds its API relative to its own URL. Every error it answers is the JSON
/// error shape. Set `public_base_url` ([`HttpSettings`]) to where it is mounted, prefix included
/// (`https://bot.example.com/shop`), so return and checkout links come back to it.
///
/// ```
/// # fn host(state: miniapp::http::AppState) -> axum::Router {
/// let app = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "my bot's home" }))
///     .nest("/shop", miniapp::http::payments_router(state))
///     .fallback(|| async { "my own 404" });
/// # app }
/// ```
pub fn payments_router(state: AppState) -> Router {
    payment_routes(&state)
        .layer(edge::EdgeLayer::json_errors())
        .with_state(state)
}

/// The routes of [`payments_router`], without its layer: [`router`] puts one layer around
/// everything, so a request passes one edge, not two.
fn payment_routes(state: &AppState) -> Router<AppState> {
    let mut app = Router::new()
        .route("/miniapp", get(assets::redirect_to_page))
        .route("/miniapp/", get(assets::index))
        .route("/miniapp/{*path}", get(assets::file))
        .route("/api/miniapp/packages", get(api::packages))
        .route("/api/miniapp/handoff", get(api::handoff))
        .route("/api/miniapp/create-payment", post(api::create_payment))
        .route(
            "/api/miniapp/payment-status/{payment_id}",
            get(api::payment_status),
        )
        .route("/api/miniapp/checkout-return", get(api::checkout_return))
        .route("/api/miniapp/balance", get(api::balance))
        .route("/api/miniapp/history", get(api::history))
        .route("/api/miniapp/payment-webhook", post(card_webhook))
        .route("/api/miniapp/webhooks/{provider}", post(webhook));
    if state.is_development() {
        app = app.route("/api/miniapp/dev-login", post(api::dev_login));
    }
    for routes in &state.inner.routes {
        app = app.merge(routes.clone());
    }
    app
}

/// `GET /healthz`: liveness and whether the ledger answers (503 when it does not). Separate from
/// [`payments_router`] because a host app usually has its own health route.
pub fn health_router(state: AppState) -> Router {
    health_routes().with_state(state)
}

fn health_routes() -> Router<AppState> {
    Router::new().route("/healthz", get(api::healthz))
}

/// The 404 of an unknown route, as the JSON error shape: `.fallback(miniapp::http::not_found)`.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// Answers `408 request_timeout` when a request (reading its body included) takes longer than
/// `timeout`: slow clients cannot hold a connection and its task forever. It knows nothing of
/// `payment-status?wait=`: behind it, a long poll longer than `timeout` is cut (the page then
/// asks again); [`router`] lengthens the timeout by the wait instead. Add
/// `axum::middleware::map_response(json_errors)` outside it for the JSON shape, as [`router`]
/// does. Provider calls get four fifths of [`HttpSettings::request_timeout`], so give this
/// layer at least that.
pub fn timeout_layer(timeout: std::time::Duration) -> tower_http::timeout::TimeoutLayer {
    tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout)
}

/// [`json_errors`] as a layer, for routes merged after [`router`] (Telegram's webhook).
pub(crate) fn json_errors_layer() -> edge::EdgeLayer {
    edge::EdgeLayer::json_errors()
}

/// The first value of query parameter `name` in `uri`, decoded.
pub(crate) fn query_param(uri: &axum::http::Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The `wait` of a `payment-status` long poll in `uri`, or zero.
pub(crate) fn long_poll_wait(uri: &axum::http::Uri) -> std::time::Duration {
    if !uri.path().contains("/api/miniapp/payment-status/") {
        return std::time::Duration::ZERO;
    }
    let secs = query_param(uri, "wait")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        .min(api::MAX_STATUS_WAIT_SECS);
    std::time::Duration::from_secs(secs)
}

/// The whole app as `full_bot` serves it: [`payments_router`], [`health_router`], the page's
/// icon at `/favicon.ico` (a host app owns its root, so [`payments_router`] leaves it out), the
/// [`not_found`] fallback and a request timeout of `settings.request_timeout` (as
/// [`timeout_layer`], lengthened by the `wait` of a status long poll), every error as JSON.
/// Routes and shapes: `docs/http-api.md`.
pub fn router(state: AppState) -> Router {
    let timeout = state.inner.settings.request_timeout;
    payment_routes(&state)
        .merge(health_routes())
        .route("/favicon.ico", get(assets::favicon))
        .fallback(not_found)
        // The deadline (lengthened by a long poll's wait), the latency metric and the JSON
        // error shape, the timeout's 408 included.
        .layer(edge::EdgeLayer::with_deadline(timeout))
        .with_state(state)
}

/// What a verified webhook did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// Events in the webhook.
    pub events: usize,
    /// Of those, redeliveries that changed nothing.
    pub duplicates: usize,
    /// Tokens credited.
    pub credited: u64,
}

/// Verifies a webhook with its provider and applies its events to the ledger; returns only after
/// every event is committed. The webhook routes and the sandbox use this one path.
///
/// # Errors
/// [`ApiError`]: 404 for a provider that is not enabled, 400 `invalid_signature`, 5xx when the
/// ledger failed (so the provider redelivers).
pub async fn handle_webhook(
    state: &AppState,
    provider: &ProviderId,
    request: &WebhookRequest,
) -> Result<WebhookOutcome, ApiError> {
    let provider = state.provider(provider).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such payment provider",
        )
    })?;
    let events = match provider.parse_webhook(request, state.clock().now()).await {
        Ok(events) => events,
        Err(e) => {
            let outcome = match e {
                miniapp_core::provider::ProviderError::InvalidSignature(_) => "invalid_signature",
                _ => "rejected",
            };
            crate::metrics::webhook(provider.id().as_str(), outcome);
            return Err(e.into());
        }
    };
    let mut outcome = WebhookOutcome {
        events: events.len(),
        ..WebhookOutcome::default()
    };
    for event in &events {
        match crate::report::apply_or_hold(
            &*state.inner.ledger,
            provider.id(),
            event,
            state.inner.settings.refund_policy,
        )
        .await
        {
            Ok(Some(receipt)) => {
                outcome.duplicates += usize::from(receipt.duplicate);
                outcome.credited += receipt.credited;
            }
            // Kept durably until its payment's success lands: acknowledged.
            Ok(None) => {}
            // Not one of our payments (another product on the same account): acknowledge, so the
            // provider stops redelivering, and leave a trace.
            Err(LedgerError::UnknownPayment) => {
                tracing::info!(provider = %provider.id(), event = %event.id, "event for an unknown payment ignored");
            }
            Err(e) => {
                crate::metrics::webhook(provider.id().as_str(), "ledger_error");
                return Err(e.into());
            }
        }
    }
    crate::metrics::webhook(provider.id().as_str(), "accepted");
    Ok(outcome)
}

async fn webhook_response(
    state: &AppState,
    provider: &ProviderId,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match extract::read_limited(body, MAX_WEBHOOK_BODY).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let request = WebhookRequest {
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), v.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    };
    match handle_webhook(state, provider, &request).await {
        Ok(o) => Json(json!({ "success": true, "events": o.events, "duplicates": o.duplicates }))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The product document's webhook path: the provider of the `card` method (Stripe in the
/// reference app).
async fn card_webhook(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match state.method("card") {
        Some(card) => {
            let id = card.provider.id().clone();
            webhook_response(&state, &id, headers, body).await
        }
        None => not_found().await.into_response(),
    }
}

async fn webhook(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match ProviderId::new(provider) {
        Ok(id) => webhook_response(&state, &id, headers, body).await,
        Err(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such payment provider",
        )
        .into_response(),
    }
}
