//! The [`PaymentProvider`] contract: what a payment backend (Stripe, Telegram Stars, YooKassa, …)
//! must do for the ledger to trust it.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::event::ProviderEvent;
use crate::ids::{PaymentId, ProviderId, ProviderRef, UserId};
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
}
