//! The [`PaymentProvider`] contract: what a payment backend (Stripe, Telegram Stars, YooKassa, …)
//! must do for the ledger to trust it.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::event::ProviderEvent;
use crate::ids::{PaymentId, ProviderId, ProviderRef, UserId};
use crate::ledger::ChargeRefund;
use crate::money::{Money, TokenAmount};
use crate::payment::Payment;

/// What a provider needs to open a checkout for a pending payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// Our payment id: also the provider's idempotency key and the reference it echoes back.
    pub payment_id: PaymentId,
    /// The buyer.
    pub user_id: UserId,
    /// Tokens sold (for the product name).
    pub tokens: TokenAmount,
    /// Catalog price to charge.
    pub price: Money,
    /// Receipt email.
    pub email: Option<String>,
    /// The buyer's language (`ru`, `en`, …) for texts the provider shows.
    pub language: Option<String>,
    /// When the payment was created (unix seconds). Providers derive time-dependent parameters
    /// (a checkout's expiry) from it, so a repeated request is identical to the first.
    pub created_at: u64,
    /// The payment's current checkout attempt ([`crate::payment::Payment::checkout_attempt`]):
    /// part of [`CheckoutRequest::idempotency_key`], so an attempt that failed is never replayed.
    pub attempt: u32,
}

impl CheckoutRequest {
    /// The provider idempotency key of this attempt: the payment id for the first attempt,
    /// `{payment id}:{attempt}` after a failed one (`:` never occurs in a payment id, so two
    /// payments' keys never collide). Every retry of one attempt (a double tap, a
    /// second instance, a network retry) sends the same key, so the provider opens at most one
    /// checkout per attempt; a new attempt is only started when no checkout URL was handed out.
    ///
    /// ```
    /// # let mut r = miniapp_core::provider::example_checkout_request();
    /// assert_eq!(r.idempotency_key(), "pay_example");
    /// r.attempt = 2;
    /// assert_eq!(r.idempotency_key(), "pay_example:2");
    /// ```
    pub fn idempotency_key(&self) -> String {
        match self.attempt {
            0 => self.payment_id.to_string(),
            n => format!("{}:{n}", self.payment_id),
        }
    }
}

/// A checkout request for documentation examples.
#[doc(hidden)]
pub fn example_checkout_request() -> CheckoutRequest {
    CheckoutRequest {
        payment_id: PaymentId::new("pay_example").unwrap_or_else(|_| unreachable!()),
        user_id: UserId::new(42).unwrap_or_else(|| unreachable!()),
        tokens: TokenAmount::new(500).unwrap_or_else(|| unreachable!()),
        price: Money::usd_cents(2500),
        email: None,
        language: None,
        created_at: 0,
        attempt: 0,
    }
}

/// Whether `url` is a plain `http://` URL to this machine (`127.0.0.1`, `localhost`, `[::1]`).
/// Secrets travel in API requests (a bot token in the path, a secret key in a header), so
/// configuration accepts plain http only for these: a local fake or a self-hosted relay.
///
/// ```
/// use miniapp_core::provider::is_loopback_http;
/// assert!(is_loopback_http("http://127.0.0.1:8081"));
/// assert!(is_loopback_http("http://localhost/v1"));
/// assert!(!is_loopback_http("http://127.0.0.1.evil.example"));
/// assert!(!is_loopback_http("https://api.stripe.com"));
/// ```
pub fn is_loopback_http(url: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            url.strip_prefix(p)
                .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
        })
}

/// A checkout the provider opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The provider's reference of the checkout (`cs_…`, an invoice link id).
    pub checkout_ref: ProviderRef,
    /// Where the payer goes (`openLink`), or the invoice link (`openInvoice`).
    pub url: String,
    /// Unix seconds after which the checkout can no longer be paid, if the provider says.
    pub expires_at: Option<u64>,
}

/// An incoming webhook exactly as received: headers and the raw body bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookRequest {
    /// Header names and values as received.
    pub headers: Vec<(String, String)>,
    /// The raw body; signatures are computed over these exact bytes.
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// The first header called `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A page of a provider's own event history ([`PaymentProvider::fetch_history`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryBatch {
    /// The events of this page, oldest first.
    pub events: Vec<ProviderEvent>,
    /// Where the next call continues, to be stored once `events` are applied; `None` leaves the
    /// stored cursor as it is.
    pub cursor: Option<String>,
    /// Whether more history is waiting after this page.
    pub more: bool,
}

/// The one error type of [`PaymentProvider`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The webhook's signature is missing, malformed, stale or wrong. Answer 400; never apply.
    #[error("webhook signature is invalid: {0}")]
    InvalidSignature(String),
    /// The webhook is authentic but its content cannot be understood.
    #[error("webhook payload is malformed: {0}")]
    MalformedPayload(String),
    /// The provider refused the request (bad parameters, declined, authentication). Not retried.
    #[error("provider refused the request ({code}): {message}")]
    Rejected {
        /// The provider's error code.
        code: String,
        /// The provider's message (safe to log; contains no secret).
        message: String,
    },
    /// The provider could not be reached or failed; retrying later may work. Answer 503.
    #[error("provider unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The operation is not supported by this provider.
    #[error("not supported by this provider: {0}")]
    Unsupported(&'static str),
    /// The same request (the same idempotency key) is being processed right now, by another
    /// request or another instance; its result will be there shortly. Answer 409 and let the
    /// client retry; never start a new attempt over it.
    #[error("the same request is in progress at the provider")]
    InProgress,
}

/// A payment backend.
///
/// # Contract
/// - [`PaymentProvider::create_checkout`] is idempotent per payment id: asking twice for the same
///   payment returns the same checkout (the payment id is the provider idempotency key), never a
///   second one that could be paid separately. The price charged is exactly `request.price`.
/// - [`PaymentProvider::parse_webhook`] returns events only from authentic requests: checked by
///   the provider's signature over the raw body, or, for providers that do not sign, by
///   re-fetching the object from the provider's API. Anything else is
///   [`ProviderError::InvalidSignature`]. Authentic events of no interest give an empty list.
/// - An `Expired` or `Canceled` event's provider reference is the reference of the checkout that
///   closed (what `create_checkout` returned): a payment may have checkouts left over from
///   attempts that were given up, and their closing must not close the payment.
/// - Every event carries the provider's event id (stable across redeliveries), the provider's
///   payment reference, and for successes and refunds the amount and currency the provider
///   reports (not the one we asked for), so the ledger can detect a mismatch.
/// - [`PaymentProvider::fetch_status`] asks the provider for the truth about one payment and
///   returns it as events (reconciliation when a webhook was lost); event ids of the same fact
///   must be stable across calls.
/// - No method panics on any input, and no secret appears in errors or `Debug` output.
///
/// The behaviours are specified by the provider functions of `miniapp_core::conformance` (feature `conformance`).
#[async_trait]
pub trait PaymentProvider: Send + Sync + fmt::Debug {
    /// The id used in routes and storage (`stripe`, `stars`, `sandbox`).
    fn id(&self) -> &ProviderId;

    /// Opens (or returns the existing) checkout for a payment.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, ProviderError>;

    /// Authenticates a webhook and normalises it into events.
    async fn parse_webhook(
        &self,
        request: &WebhookRequest,
        now: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError>;

    /// The provider's current view of a payment, as events.
    async fn fetch_status(&self, payment: &Payment) -> Result<Vec<ProviderEvent>, ProviderError>;

    /// Gives back an extra charge of a paid payment (the payer was charged twice): the whole of
    /// `refund.amount` of the charge `refund.charge_ref`, never the payment's credited charge.
    ///
    /// Idempotent per charge: a charge already refunded is `Ok`, so a retried or repeated call
    /// refunds once. The default is [`ProviderError::Unsupported`]: such charges are then listed
    /// for a person to refund.
    async fn refund_charge(&self, refund: &ChargeRefund) -> Result<(), ProviderError> {
        let _ = refund;
        Err(ProviderError::Unsupported("automatic refunds"))
    }

    /// Catch-up for events whose webhooks were all lost: the provider's own history after
    /// `cursor` (what the previous batch returned; `None` the first time), one page at a time.
    /// The caller applies the events (by their ids, so a repeat is harmless) and then stores the
    /// new cursor. Refunds and disputes must be included; event ids must be the ones the
    /// webhooks carry. The default is [`ProviderError::Unsupported`]: only pending payments are
    /// reconciled for such a provider.
    async fn fetch_history(&self, cursor: Option<&str>) -> Result<HistoryBatch, ProviderError> {
        let _ = cursor;
        Err(ProviderError::Unsupported("history"))
    }

    /// Whether this provider moves no real money (an offline sandbox, a Stripe test-mode key).
    /// The page marks such a method as a test, and the bot says a payment through it was a test
    /// payment. The default is `false`: real money.
    fn is_test(&self) -> bool {
        false
    }
}
