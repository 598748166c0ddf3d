//! Prometheus metrics: money events, webhooks, the sweep, notifications, refunds and request
//! latency per route.
//!
//! Off unless enabled: the instrumentation calls the [`metrics`] facade, which does nothing
//! until [`Metrics::install`] installs the Prometheus recorder. `full_bot` installs it when
//! `METRICS_BIND_ADDR` (its own listener) or `METRICS_TOKEN` (`/metrics` on the main listener,
//! `Authorization: Bearer <token>` required) is set; the endpoint is never public by default.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `miniapp_payments_created_total` | provider, method | payments created (not repeated creations) |
//! | `miniapp_payments_settled_total` | provider, method, status | payments that reached `succeeded`, `failed`, `expired`, `canceled`, `conflicted`, `refunded`, … |
//! | `miniapp_events_total` | provider, outcome | provider events: `applied`, `duplicate` (redelivered id), `no_effect`, `held` (early), `unknown_payment` |
//! | `miniapp_events_no_effect_total` | provider, reason | events that changed nothing, by [`NoEffect`] reason |
//! | `miniapp_duplicate_charges_total` | provider | second charges of a paid payment |
//! | `miniapp_conflicts_total` | provider | payments that turned `conflicted` |
//! | `miniapp_webhooks_total` | provider, outcome | `accepted`, `invalid_signature`, `rejected` (other provider errors), `ledger_error` |
//! | `miniapp_sweep_questions_total` | | provider questions asked by the sweep |
//! | `miniapp_sweep_settled_total` | | of those, payments the answer settled |
//! | `miniapp_sweep_backlog` | | pending payments the last sweep listed but did not ask about (budget, spacing) |
//! | `miniapp_sweep_released_total` | | held events applied by the sweep |
//! | `miniapp_history_calls_total` | | calls to the providers' history (catch-up) |
//! | `miniapp_history_applied_total` | | events found only there (their webhooks were lost) |
//! | `miniapp_notifications_total` | outcome | `sent`, `retry`, `failed`, `in_doubt` (may have reached Telegram; not resent) |
//! | `miniapp_refunds_total` | provider, outcome | `refunded`, `retry`, `failed` |
//! | `miniapp_anomalies` | kind | what `full_bot admin anomalies` lists now (`conflicted`, `events`, `refunds`, `unmatched`, `notifications`, the last including messages whose sender died mid-send), refreshed every minute; alert on it staying above 0 |
//! | `miniapp_http_request_duration_seconds` | method, route, status | histogram; `route` is the matched route, `unmatched` for 404s |
//! | `miniapp_status_reads_total` | | ledger reads made to answer `payment-status` (a plain call reads once, a long poll twice) |
//! | `miniapp_status_waiting` | | `payment-status?wait=` requests held now |
//! | `miniapp_status_listener_connected` | | 1 while this instance LISTENs for status changes on PostgreSQL, else 0 |

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};

use crate::ledger::EventReceipt;
use crate::payment::{NoEffect, Payment, PaymentStatus};

/// The installed Prometheus recorder.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Another recorder was installed in this process first (your own `metrics` exporter, say):
/// render that one instead.
#[derive(Debug, thiserror::Error)]
#[error("a metrics recorder is already installed: {0}")]
pub struct MetricsError(String);

static INSTALLED: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Latency buckets, in seconds: from a fast status poll to the 15-second request deadline.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 15.0,
];

impl Metrics {
    /// Installs the Prometheus recorder as the process's `metrics` recorder; later calls return
    /// the same one.
    ///
    /// # Errors
    /// [`MetricsError`] when another recorder was installed first.
    pub fn install() -> Result<Metrics, MetricsError> {
        INSTALLED
            .get_or_init(|| {
                PrometheusBuilder::new()
                    .set_buckets(&BUCKETS)
                    .map_err(|e| e.to_string())?
                    .install_recorder()
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map(|handle| Metrics { handle })
            .map_err(MetricsError)
    }

    /// The current values in Prometheus' text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

#[derive(Clone)]
struct Endpoint {
    metrics: Metrics,
    token: Option<SecretString>,
}

/// `GET /metrics`. With `token`, only `Authorization: Bearer <token>` is answered (401
/// otherwise, compared in constant time); without, anyone who reaches it is: serve it on an
/// address of its own.
pub fn metrics_router(metrics: Metrics, token: Option<SecretString>) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(Endpoint { metrics, token })
}

async fn render(State(endpoint): State<Endpoint>, headers: HeaderMap) -> Response {
    if let Some(token) = &endpoint.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let ok: bool =
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), token.expose_secret().as_bytes())
                .into();
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(serde_json::json!({
                    "success": false,
                    "error": {"code": "unauthorized", "message": "a bearer token is required"},
                })),
            )
                .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        endpoint.metrics.render(),
    )
        .into_response()
}

/// The latency of one request, by method, matched route and status.
pub(crate) fn request_done(method: &str, route: &str, status: StatusCode, took: Duration) {
    metrics::histogram!(
        "miniapp_http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.as_u16().to_string(),
    )
    .record(took.as_secs_f64());
}

pub(crate) fn payment_created(payment: &Payment) {
    metrics::counter!(
        "miniapp_payments_created_total",
        "provider" => payment.provider.to_string(),
        "method" => payment.method.as_str().to_owned(),
    )
    .increment(1);
}

/// Counts what one applied event did.
pub(crate) fn event_applied(provider: &str, receipt: &EventReceipt) {
    let outcome = if receipt.duplicate {
        "duplicate"
    } else if receipt.no_effect.is_some() {
        "no_effect"
    } else {
        "applied"
    };
    event_outcome(provider, outcome);
    if let Some(reason) = receipt.no_effect {
        metrics::counter!(
            "miniapp_events_no_effect_total",
            "provider" => provider.to_owned(),
            "reason" => reason.as_str(),
        )
        .increment(1);
        if reason == NoEffect::DuplicateCharge {
            metrics::counter!("miniapp_duplicate_charges_total", "provider" => provider.to_owned())
                .increment(1);
        }
    }
    let p = &receipt.payment;
    if p.status != receipt.status_before
        && !matches!(p.status, PaymentStatus::Created | PaymentStatus::Pending)
    {
        metrics::counter!(
            "miniapp_payments_settled_total",
            "provider" => provider.to_owned(),
            "method" => p.method.as_str().to_owned(),
            "status" => p.status.as_str(),
        )
        .increment(1);
        if p.status == PaymentStatus::Conflicted {
            metrics::counter!("miniapp_conflicts_total", "provider" => provider.to_owned())
                .increment(1);
        }
    }
}

pub(crate) fn event_outcome(provider: &str, outcome: &'static str) {
    metrics::counter!(
        "miniapp_events_total",
        "provider" => provider.to_owned(),
        "outcome" => outcome,
    )
    .increment(1);
}

pub(crate) fn webhook(provider: &str, outcome: &'static str) {
    metrics::counter!(
        "miniapp_webhooks_total",
        "provider" => provider.to_owned(),
        "outcome" => outcome,
    )
    .increment(1);
}

pub(crate) fn sweep(questions: usize, settled: usize, backlog: usize, released: usize) {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    metrics::counter!("miniapp_sweep_questions_total").increment(n(questions));
    metrics::counter!("miniapp_sweep_settled_total").increment(n(settled));
    metrics::counter!("miniapp_sweep_released_total").increment(n(released));
    #[allow(clippy::cast_precision_loss)] // a count of payments, far below 2^52
    metrics::gauge!("miniapp_sweep_backlog").set(backlog as f64);
}

pub(crate) fn catch_up(calls: usize, applied: usize) {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    metrics::counter!("miniapp_history_calls_total").increment(n(calls));
    metrics::counter!("miniapp_history_applied_total").increment(n(applied));
}

/// Sets the `miniapp_anomalies` gauges to what `admin` lists as of `now` (unix seconds).
///
/// # Errors
/// [`crate::ledger::LedgerError`] when the ledger cannot be read; the gauges keep their values.
pub async fn refresh_anomaly_gauges(
    admin: &dyn crate::ledger::LedgerAdmin,
    now: u64,
) -> Result<(), crate::ledger::LedgerError> {
    let a = admin.anomalies(now, 10_000).await?;
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let set = |kind: &'static str, n: usize| {
        metrics::gauge!("miniapp_anomalies", "kind" => kind).set(n as f64);
    };
    set("conflicted", a.conflicted.len());
    set("events", a.events.len());
    set("refunds", a.refunds.len());
    set("unmatched", a.unmatched.len());
    set("notifications", a.notifications.len());
    Ok(())
}

/// Runs [`refresh_anomaly_gauges`] every `every` (the first time at once) until `shutdown`
/// resolves: a few indexed queries a minute. `full_bot` runs it when metrics are on and the
/// store has an operator view.
pub async fn run_anomaly_gauges(
    admin: std::sync::Arc<dyn crate::ledger::LedgerAdmin>,
    clock: crate::clock::SharedClock,
    every: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use crate::clock::ClockExt;
    crate::reconcile::every_until(every, shutdown, || async {
        if let Err(e) = refresh_anomaly_gauges(&*admin, clock.unix_now()).await {
            tracing::warn!(error = %e, "anomaly gauges not refreshed");
        }
    })
    .await;
}

pub(crate) fn status_read() {
    metrics::counter!("miniapp_status_reads_total").increment(1);
}

pub(crate) fn status_waiting(delta: f64) {
    metrics::gauge!("miniapp_status_waiting").increment(delta);
}

pub(crate) fn status_listener(connected: bool) {
    metrics::gauge!("miniapp_status_listener_connected").set(if connected { 1.0 } else { 0.0 });
}

pub(crate) fn notification(outcome: &'static str) {
    metrics::counter!("miniapp_notifications_total", "outcome" => outcome).increment(1);
}

pub(crate) fn refund(provider: &str, outcome: &'static str) {
    metrics::counter!(
        "miniapp_refunds_total",
        "provider" => provider.to_owned(),
        "outcome" => outcome,
    )
    .increment(1);
}
