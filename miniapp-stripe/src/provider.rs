//! [`StripeProvider`]: the `PaymentProvider` for Stripe Checkout.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use miniapp_core::clock::{ClockExt, SharedClock, SystemClock};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{ProviderEventId, ProviderId, ProviderRef};
use miniapp_core::ledger::{ChargeRefund, RefundReason};
use miniapp_core::money::Money;
use miniapp_core::payment::Payment;
use miniapp_core::provider::{
    Checkout, CheckoutRequest, HistoryBatch, PaymentProvider, ProviderError, WebhookRequest,
};
use reqwest::Method;
use secrecy::SecretString;

use crate::client::Client;

use crate::events::{Session, currency, map_event};
use crate::signature::WebhookVerifier;

/// Stripe's bounds for a Checkout Session's `expires_at` are 30 minutes to 24 hours after the
/// session is created. A request whose `expires_at` would be less than `MIN_AHEAD` away is not
/// sent (five minutes of margin for clocks, retries and latency); configured lifetimes are
/// clamped so a fresh payment always clears that, with a minute to spare at the top.
const MIN_AHEAD: Duration = Duration::from_secs(35 * 60);
const MIN_TTL: Duration = Duration::from_secs(40 * 60);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600 - 60);

/// Settings of a [`StripeProvider`]. `Debug` never shows the secrets.
#[derive(Clone)]
pub struct StripeConfig {
    secret_key: SecretString,
    webhook_secrets: Vec<String>,
    public_base_url: String,
    api_base: String,
    tolerance: Duration,
    timeout: Duration,
    max_retries: u32,
    retry_backoff: Duration,
    checkout_ttl: Duration,
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"***")
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("public_base_url", &self.public_base_url)
            .field("api_base", &self.api_base)
            .field("tolerance", &self.tolerance)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("checkout_ttl", &self.checkout_ttl)
            .finish()
    }
}

/// What is wrong with the Stripe settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StripeConfigError {
    /// A secret key without a webhook secret: payments could be taken but never credited.
    #[error(
        "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: payments could never be confirmed"
    )]
    MissingWebhookSecret,
    /// A webhook secret without a key.
    #[error("STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not")]
    MissingSecretKey,
    /// A key that is not a Stripe secret or restricted key.
    #[error("STRIPE_SECRET_KEY must start with sk_ or rk_")]
    MalformedSecretKey,
    /// No public base URL for the return pages.
    #[error("PUBLIC_BASE_URL is required with Stripe (the checkout returns there)")]
    MissingPublicBaseUrl,
    /// An API base the secret key would travel to in clear text.
    #[error(
        "STRIPE_API_BASE must be an https:// URL (plain http:// only on 127.0.0.1 or localhost: the secret key is sent with every request)"
    )]
    InsecureApiBase,
}

impl StripeConfig {
    /// Settings with the defaults: API `https://api.stripe.com`, tolerance 300 s, timeout 5 s per
    /// request, 1 retry after 500 ms, checkouts valid for 1 hour. The worst case of one call
    /// (two timed-out requests and the pause, 10.5 s) stays inside the HTTP layer's 15 s request
    /// deadline, so a stalled Stripe is answered `503 provider_unavailable`, not a bare timeout.
    pub fn new(
        secret_key: impl Into<String>,
        webhook_secrets: Vec<String>,
        public_base_url: impl Into<String>,
    ) -> StripeConfig {
        StripeConfig {
            secret_key: SecretString::from(secret_key.into()),
            webhook_secrets,
            public_base_url: public_base_url.into().trim_end_matches('/').to_owned(),
            api_base: "https://api.stripe.com".into(),
            tolerance: Duration::from_secs(300),
            timeout: Duration::from_secs(5),
            max_retries: 1,
            retry_backoff: Duration::from_millis(500),
            checkout_ttl: Duration::from_secs(3600),
        }
    }

    /// Reads `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET` (comma-separated for rotation),
    /// `PUBLIC_BASE_URL` and optionally `STRIPE_API_BASE` through `lookup`. `Ok(None)` when
    /// Stripe is not configured at all.
    ///
    /// # Errors
    /// [`StripeConfigError`] for a half or malformed configuration.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<StripeConfig>, StripeConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let key = get("STRIPE_SECRET_KEY");
        let secrets: Vec<String> = get("STRIPE_WEBHOOK_SECRET")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let key = match (key, secrets.is_empty()) {
            (None, true) => return Ok(None),
            (None, false) => return Err(StripeConfigError::MissingSecretKey),
            (Some(_), true) => return Err(StripeConfigError::MissingWebhookSecret),
            (Some(k), false) => k,
        };
        if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            return Err(StripeConfigError::MalformedSecretKey);
        }
        let base = get("PUBLIC_BASE_URL").ok_or(StripeConfigError::MissingPublicBaseUrl)?;
        let mut config = StripeConfig::new(key, secrets, base);
        if let Some(api) = get("STRIPE_API_BASE") {
            let api = api.trim_end_matches('/');
            if !(api.starts_with("https://") || miniapp_core::provider::is_loopback_http(api)) {
                return Err(StripeConfigError::InsecureApiBase);
            }
            config = config.with_api_base(api);
        }
        Ok(Some(config))
    }

    /// [`StripeConfig::from_lookup`] on the process environment.
    ///
    /// # Errors
    /// As [`StripeConfig::from_lookup`].
    pub fn from_env() -> Result<Option<StripeConfig>, StripeConfigError> {
        StripeConfig::from_lookup(|k| std::env::var(k).ok())
    }

    /// Another API base URL (a local fake or a Stripe-compatible server). The secret key is sent
    /// to it: [`StripeConfig::from_lookup`] accepts plain `http://` only on loopback.
    #[must_use]
    pub fn with_api_base(mut self, url: impl Into<String>) -> StripeConfig {
        self.api_base = url.into();
        self
    }

    /// The webhook timestamp tolerance (zero disables the check).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> StripeConfig {
        self.tolerance = tolerance;
        self
    }

    /// The timeout of one HTTP request to Stripe.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> StripeConfig {
        self.timeout = timeout;
        self
    }

    /// How many times a retryable failure is retried, and the first delay (doubling each time).
    #[must_use]
    pub fn with_retries(mut self, max_retries: u32, backoff: Duration) -> StripeConfig {
        self.max_retries = max_retries;
        self.retry_backoff = backoff;
        self
    }

    /// Whether the key is a test-mode key (`sk_test_…`, `rk_test_…`): no real money moves.
    pub fn is_test_mode(&self) -> bool {
        let key = secrecy::ExposeSecret::expose_secret(&self.secret_key);
        key.starts_with("sk_test_") || key.starts_with("rk_test_")
    }

    /// Whether real money may move: every key that is not a test-mode key counts as live
    /// (`sk_live_…`, `rk_live_…`, and anything unrecognised), so a check built on it fails safe.
    pub fn is_live_mode(&self) -> bool {
        !self.is_test_mode()
    }

    /// How long a checkout can be paid, clamped to 40 minutes – 24 hours (Stripe's own bounds
    /// are 30 minutes – 24 hours; a checkout is only opened while at least 35 minutes remain).
    #[must_use]
    pub fn with_checkout_ttl(mut self, ttl: Duration) -> StripeConfig {
        self.checkout_ttl = ttl;
        self
    }
}

/// Stripe Checkout as a [`PaymentProvider`] (id `stripe`).
pub struct StripeProvider {
    id: ProviderId,
    client: Client,
    verifier: WebhookVerifier,
    public_base_url: String,
    checkout_ttl: Duration,
    test_mode: bool,
    clock: SharedClock,
}

impl fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeProvider")
            .field("public_base_url", &self.public_base_url)
            .field("verifier", &self.verifier)
            .field("test_mode", &self.test_mode)
            .finish_non_exhaustive()
    }
}

impl StripeProvider {
    /// A provider from settings.
    ///
    /// # Errors
    /// [`ProviderError::Unavailable`] if the HTTP client cannot be built (no TLS roots).
    pub fn new(config: StripeConfig) -> Result<StripeProvider, ProviderError> {
        let test_mode = config.is_test_mode();
        let client = Client::new(
            config.api_base,
            config.secret_key,
            config.timeout,
            config.max_retries,
            config.retry_backoff,
        )?;
        Ok(StripeProvider {
            id: ProviderId::new("stripe").unwrap_or_else(|_| unreachable!("a valid id")),
            verifier: WebhookVerifier::new(config.webhook_secrets).with_tolerance(config.tolerance),
            client,
            public_base_url: config.public_base_url,
            checkout_ttl: config.checkout_ttl.clamp(MIN_TTL, MAX_TTL),
            test_mode,
            clock: SystemClock::shared(),
        })
    }

    /// Reads "now" from `clock` (the app's) instead of the system clock: it decides whether a
    /// payment is still young enough for a new checkout.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> StripeProvider {
        self.clock = clock;
        self
    }

    /// The webhook verifier (for benches and custom routes).
    pub fn verifier(&self) -> &WebhookVerifier {
        &self.verifier
    }

    fn form(&self, r: &CheckoutRequest, expires_at: u64) -> String {
        let id = r.payment_id.as_str();
        let user = r.user_id.get().to_string();
        let return_url = |status: &str| {
            format!(
                "{}/miniapp/?payment_id={id}&checkout={status}",
                self.public_base_url
            )
        };
        let name = match r.language.as_deref() {
            Some(l) if l.starts_with("ru") => format!("{} токенов", r.tokens),
            _ => format!("{} tokens", r.tokens),
        };
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("mode", "payment")
            // Card only. This API version no longer accepts `payment_method_types` on create.
            .append_pair("allowed_payment_method_types[0]", "card")
            // The catalog's USD price is what the ledger checks a payment against; a price
            // converted by Stripe at the moment of payment could never match it.
            .append_pair("adaptive_pricing[enabled]", "false")
            .append_pair("line_items[0][quantity]", "1")
            .append_pair(
                "line_items[0][price_data][currency]",
                &r.price.currency().code().to_ascii_lowercase(),
            )
            .append_pair(
                "line_items[0][price_data][unit_amount]",
                &r.price.minor_units().to_string(),
            )
            .append_pair("line_items[0][price_data][product_data][name]", &name)
            .append_pair("success_url", &return_url("success"))
            .append_pair("cancel_url", &return_url("cancel"))
            .append_pair("client_reference_id", id)
            .append_pair("metadata[payment_id]", id)
            .append_pair("metadata[telegram_user_id]", &user)
            .append_pair("payment_intent_data[metadata][payment_id]", id)
            .append_pair("payment_intent_data[metadata][telegram_user_id]", &user)
            .append_pair("expires_at", &expires_at.to_string());
        if let Some(email) = &r.email {
            form.append_pair("customer_email", email);
        }
        form.finish()
    }
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        // Derived from the payment's creation time, so a repeated request is byte-identical and
        // Stripe's idempotency layer returns the first session.
        let expires_at = request.created_at + self.checkout_ttl.as_secs();
        if expires_at < self.clock.unix_now() + MIN_AHEAD.as_secs() {
            return Err(ProviderError::Rejected {
                code: "payment_too_old".into(),
                message: "this payment is too old for a new checkout; start a new purchase".into(),
            });
        }
        let key = format!("miniapp-checkout-{}", request.idempotency_key());
        let body = self
            .client
            .send_raw(
                Method::POST,
                "/v1/checkout/sessions",
                Some(self.form(request, expires_at)),
                Some(&key),
            )
            .await?;
        let session = Session::from_api(&body)?;
        let url = session.url.map(Cow::into_owned).ok_or_else(|| {
            ProviderError::MalformedPayload("Stripe returned a session without a url".into())
        })?;
        Ok(Checkout {
            checkout_ref: ProviderRef::new(&*session.id)
                .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
            url,
            expires_at: session.expires_at,
        })
    }

    async fn parse_webhook(
        &self,
        request: &WebhookRequest,
        now: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        self.verifier
            .verify(request.header("Stripe-Signature"), &request.body, now)
            .map_err(|e| ProviderError::InvalidSignature(e.kind().to_owned()))?;
        map_event(&request.body)
    }

    async fn fetch_status(&self, payment: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        let Some(checkout) = &payment.checkout_ref else {
            return Ok(Vec::new());
        };
        let path = format!(
            "/v1/checkout/sessions/{}?expand[]=payment_intent.latest_charge",
            form_urlencoded::byte_serialize(checkout.as_str().as_bytes()).collect::<String>()
        );
        let body = self.client.send_raw(Method::GET, &path, None, None).await?;
        let session = Session::from_api(&body)?;
        let payment_ref = session.payment_ref()?;
        let event = |suffix: String, kind| -> Result<ProviderEvent, ProviderError> {
            // An expiry names the session (the checkout), every other fact the money.
            let provider_ref = match kind {
                EventKind::Expired => ProviderRef::new(&*session.id)
                    .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
                _ => payment_ref.clone(),
            };
            Ok(ProviderEvent {
                // Stable per fact: reconciling twice records the same event once.
                id: ProviderEventId::new(format!("reconcile_{}_{suffix}", session.id))
                    .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
                payment_id: Some(payment.id.clone()),
                provider_ref,
                kind,
            })
        };
        let mut events = Vec::new();
        if let Some(amount) = session.paid_amount()? {
            events.push(event("paid".into(), EventKind::Succeeded { amount })?);
            if let Some((refunded, code)) = session.refunded().filter(|(r, _)| *r > 0) {
                let total_refunded = Money::new(refunded, currency(&code)?);
                events.push(event(
                    format!("refunded_{refunded}"),
                    EventKind::Refunded { total_refunded },
                )?);
            }
        } else {
            if let Some(reason) = session.failure_reason() {
                events.push(event(
                    "attempt_failed".into(),
                    EventKind::AttemptFailed { reason },
                )?);
            }
            if session.status.as_deref() == Some("expired") {
                events.push(event("expired".into(), EventKind::Expired)?);
            }
        }
        Ok(events)
    }

    /// `POST /v1/refunds` of the payment intent (`reason=duplicate` for a duplicate charge,
    /// `requested_by_customer` for an operator's refund), keyed
    /// `Idempotency-Key: miniapp-refund-<payment intent>`, so a repeated call refunds once;
    /// Stripe's `charge_already_refunded` counts as done.
    /// `GET /v1/events` of the types we map, newer than `cursor` (an event id, with
    /// `ending_before`), 100 per page; the first call only learns the newest event, so the
    /// catch-up starts from the day it was switched on. Stripe keeps 30 days of events.
    async fn fetch_history(&self, cursor: Option<&str>) -> Result<HistoryBatch, ProviderError> {
        // Built before the await: the serializer is not `Send`.
        let path = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", if cursor.is_some() { "100" } else { "1" });
            if let Some(c) = cursor {
                query.append_pair("ending_before", c);
            }
            for kind in HISTORY_TYPES {
                query.append_pair("types[]", kind);
            }
            format!("/v1/events?{}", query.finish())
        };
        let list: EventList = self.client.send(Method::GET, &path, None, None).await?;
        // Newest first: the next page is newer than the newest of this one.
        let next = list
            .data
            .first()
            .and_then(|e| e.get("id"))
            .and_then(|id| id.as_str())
            .map(str::to_owned);
        if cursor.is_none() {
            return Ok(HistoryBatch {
                events: Vec::new(),
                cursor: next,
                more: false,
            });
        }
        let mut events = Vec::new();
        for raw in list.data.iter().rev() {
            let body = serde_json::to_vec(raw)
                .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?;
            match map_event(&body) {
                Ok(mapped) => events.extend(mapped),
                // One unreadable event must not stop the catch-up behind it forever.
                Err(e) => {
                    tracing::warn!(error = %e, "an event of Stripe's event list was not understood; skipped")
                }
            }
        }
        Ok(HistoryBatch {
            events,
            cursor: next,
            more: list.has_more,
        })
    }

    async fn refund_charge(&self, refund: &ChargeRefund) -> Result<(), ProviderError> {
        // Built before the await: the serializer is not `Send`.
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("payment_intent", refund.charge_ref.as_str())
            .append_pair("amount", &refund.amount.minor_units().to_string())
            .append_pair(
                "reason",
                match refund.reason {
                    RefundReason::DuplicateCharge => "duplicate",
                    _ => "requested_by_customer",
                },
            )
            .append_pair("metadata[payment_id]", refund.payment_id.as_str())
            .append_pair("metadata[miniapp_reason]", refund.reason.as_str())
            .finish();
        let key = format!("miniapp-refund-{}", refund.charge_ref);
        match self
            .client
            .send::<serde_json::Value>(Method::POST, "/v1/refunds", Some(form), Some(&key))
            .await
        {
            Ok(_) => Ok(()),
            Err(ProviderError::Rejected { code, .. }) if code == "charge_already_refunded" => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn is_test(&self) -> bool {
        self.test_mode
    }
}

/// The event types [`map_event`] understands: what the catch-up asks Stripe's event list for.
const HISTORY_TYPES: [&str; 12] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "payment_intent.payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.closed",
];

#[derive(serde::Deserialize)]
struct EventList {
    data: Vec<serde_json::Value>,
    #[serde(default)]
    has_more: bool,
}
