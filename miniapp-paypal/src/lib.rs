//! PayPal Checkout for miniapp, on PayPal's Orders v2 API over reqwest (rustls): orders,
//! captures, webhooks verified by PayPal, refunds, disputes and reconciliation.
//!
//! ```
//! use miniapp_paypal::{PayPalConfig, PayPalProvider};
//! let env = |k: &str| match k {
//!     "PAYPAL_CLIENT_ID" => Some("AaBb".to_owned()),
//!     "PAYPAL_CLIENT_SECRET" => Some("EeFf".to_owned()),
//!     "PAYPAL_WEBHOOK_ID" => Some("8PT597110X687430LKGECATA".to_owned()),
//!     "PAYPAL_ENV" => Some("sandbox".to_owned()),
//!     "PUBLIC_BASE_URL" => Some("https://bot.example".to_owned()),
//!     _ => None,
//! };
//! // In an app: PayPalConfig::from_env().
//! let config = PayPalConfig::from_lookup(env)?.expect("PayPal is configured");
//! let paypal = PayPalProvider::new(config)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Configuration
//! `PAYPAL_CLIENT_ID`, `PAYPAL_CLIENT_SECRET` (a REST app's credentials), `PAYPAL_WEBHOOK_ID` (the
//! id PayPal gave the webhook you registered for `…/api/miniapp/webhooks/paypal`), `PAYPAL_ENV`
//! (`sandbox`, the default, or `live`) and `PUBLIC_BASE_URL`. All three credentials or none: a
//! provider that could take money but never verify a webhook is refused at start-up.
//!
//! # What it sends
//! - `POST /v1/oauth2/token` (client credentials, HTTP Basic). The token is cached and renewed
//!   five minutes before it expires (at half its life when shorter), one fetch at a time; a 401
//!   drops it and the request is tried once more with a new one.
//! - `POST /v2/checkout/orders`: intent `CAPTURE`, one purchase unit with the catalog's amount as
//!   a decimal string (`"25.00"`), our payment id as `custom_id` and `invoice_id` (with PayPal's
//!   "block duplicate invoice ids" setting on, PayPal itself refuses a second capture for one
//!   payment), `payment_source.paypal.experience_context` with "Pay now", no shipping, the
//!   buyer's locale and return/cancel links to `PUBLIC_BASE_URL/miniapp/`; header
//!   `PayPal-Request-Id: miniapp-order-<idempotency key>`. The checkout URL is the order's
//!   `payer-action` (or `approve`) link; the checkout expires three hours after the payment was
//!   created, PayPal's approval window.
//! - `POST /v2/checkout/orders/{id}/capture` with `{}` and
//!   `PayPal-Request-Id: miniapp-capture-<order id>`, on `CHECKOUT.ORDER.APPROVED` (only for an
//!   order that is the checkout of a payment the ledger holds, `PayPalProvider::with_ledger`;
//!   without one, approvals are left to the return and reconciliation), and when
//!   reconciliation (the buyer's return to the page polls it) finds the order `APPROVED`.
//!   PayPal answers a repeated id with the first capture; `ORDER_ALREADY_CAPTURED` (a capture
//!   under another id, or after PayPal forgot the id) reads the order instead;
//!   `ORDER_NOT_APPROVED` gives no event; `INSTRUMENT_DECLINED` is a failed attempt (the buyer
//!   can choose another funding source on PayPal's page); `TRANSACTION_REFUSED`,
//!   `PAYER_CANNOT_PAY` and PayPal's other final refusals fail the payment;
//!   `DUPLICATE_INVOICE_ID` (another order of the payment was captured) gives no event.
//! - `GET /v2/checkout/orders/{id}` for reconciliation (its captures and refunds as events), and
//!   for an approved or voided order a webhook names. An unapproved order PayPal has forgotten
//!   (404) expires the payment, once twice the 3-hour approval window has passed.
//! - `GET /v2/payments/captures/{id}`, `/v2/payments/refunds/{id}` and
//!   `/v1/customer/disputes/{id}` for the object a webhook names (below).
//! - `POST /v2/payments/captures/{id}/refund` to give back a second charge, keyed
//!   `PayPal-Request-Id: miniapp-refund-<capture id>`; `CAPTURE_FULLY_REFUNDED` counts as done.
//! - `POST /v1/notifications/verify-webhook-signature` for every webhook (below).
//! - `GET /v1/notifications/webhooks-events?page_size=100&start_time=…&end_time=…` for the
//!   history catch-up (`PaymentProvider::fetch_history`): refunds, reversals, disputes, captures
//!   and voids whose webhooks were all lost, by time from the stored cursor up to five minutes
//!   before now. Mapped from the resources the list carries (PayPal's answer to our own request,
//!   unlike a webhook's body) under the webhooks' own event ids. Each stretch is sized from the
//!   last one's density for about three pages (an hour at most); one that does not fit in five
//!   pages (or whose later pages do not come within 6 s) is not applied in part but read again
//!   shorter, down to ten seconds, read with up to 20 pages (again next time when PayPal is too
//!   slow for them; more than that is passed with a warning). `next` links are followed for
//!   their query only, to the configured API.
//!
//! Network errors, timeouts, 429 and 5xx are retried once after 0.5 s with the same
//! `PayPal-Request-Id`; a 409 (the same id in progress) is `ProviderError::InProgress`; other
//! 4xx are `ProviderError::Rejected` with PayPal's `details[].issue` as the code.
//!
//! # Webhooks and why PayPal verifies them
//! PayPal signs a webhook with RSA-SHA256 over `transmission id|time|webhook id|CRC32(body)`,
//! with a certificate named by the `PAYPAL-CERT-URL` header. This crate asks PayPal's
//! `verify-webhook-signature` API instead of checking that signature itself: doing it offline
//! needs an X.509 and RSA stack, fetching certificates from a URL the request names (limited to
//! PayPal's hosts), and validating their chain to DigiCert, all on the path that credits money,
//! while the API call needs nothing but the client we already have, and PayPal keeps the
//! algorithm and the certificates current. The cost is one request to PayPal per webhook; a
//! webhook that arrives while PayPal cannot be reached is answered 503 and PayPal delivers it
//! again (up to 25 times over 3 days), and reconciliation covers the rest. The event goes back
//! to PayPal byte for byte (spliced in as raw JSON), since PayPal checks the CRC32 of the bytes
//! it signed.
//!
//! A verified webhook is still only a notice. PayPal's signature covers a CRC32 of the body,
//! which anyone holding one genuine delivery can match with other content, so the body is read
//! only for the event type and the id of the object it names; the capture, refund, dispute or
//! order is then read from PayPal's API and mapped from PayPal's answer. Before PayPal is asked
//! at all, a webhook whose `PAYPAL-AUTH-ALGO` is not `SHA256withRSA` or whose `PAYPAL-CERT-URL`
//! is not under PayPal's certificate path is refused, so forgeries cost nothing.
//!
//! Replays: PayPal documents no freshness window and redelivers for three days, so no window is
//! enforced; a replayed webhook is a repeat of an event the ledger already holds (the same event
//! id, the same capture), and changes nothing.
//!
//! | PayPal event | core event |
//! |---|---|
//! | `CHECKOUT.ORDER.APPROVED` | our order (its `custom_id` one of our generated payment ids, `pay_` + 32 hex, and `invoice_id` the same), when it is the checkout of a payment the ledger holds, is captured; the capture's events. Another integration's order on the same account, or one the ledger does not hold: acknowledged, left alone |
//! | `PAYMENT.CAPTURE.COMPLETED` | `Succeeded { amount }` under the capture id |
//! | `PAYMENT.CAPTURE.PENDING` | `Pending` |
//! | `PAYMENT.CAPTURE.DENIED`, `.DECLINED` | `Failed { card_declined }` |
//! | `PAYMENT.CAPTURE.REFUNDED`, `.REVERSED` | `Refunded { total }` (cumulative, `seller_payable_breakdown.total_refunded_amount`), the capture found by the refund's `up` link |
//! | `CUSTOMER.DISPUTE.CREATED` | `DisputeOpened` per disputed capture (`seller_transaction_id`) |
//! | `CUSTOMER.DISPUTE.RESOLVED` | `DisputeClosed { won }`: won for `RESOLVED_SELLER_FAVOUR`, `CANCELED_BY_BUYER`, `DENIED`, lost for `RESOLVED_BUYER_FAVOUR`, `ACCEPTED`; no event for another outcome (`NONE`, a payout by PayPal) |
//! | `CHECKOUT.ORDER.VOIDED` | `Expired` under the order id |
//! | anything else | acknowledged, no event |
//!
//! A payment's credit is keyed by its capture id, which the refund and dispute events name too.
#![forbid(unsafe_code)]

mod client;
mod config;
mod history;
mod provider;
mod wire;

pub use config::{PayPalConfig, PayPalConfigError, PayPalEnvironment};

/// The parsers of untrusted input, for the fuzz targets in `fuzz/` (feature `fuzzing`): each
/// must return an error, never panic.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// A webhook body as `parse_webhook` reads it once PayPal has verified it: whether it maps.
    pub fn webhook_body(data: &[u8]) -> bool {
        crate::wire::map_webhook(data).is_ok_and(|named| named.is_some())
    }

    /// One event of PayPal's event list: whether it maps.
    pub fn listed_event(data: &[u8]) -> bool {
        serde_json::from_slice::<Box<serde_json::value::RawValue>>(data)
            .is_ok_and(|raw| crate::wire::listed_event(&raw).is_ok())
    }

    /// A stored history cursor: one that parses prints back to itself.
    pub fn history_cursor(text: &str) {
        crate::history::round_trip(text);
    }
}
pub use provider::PayPalProvider;
