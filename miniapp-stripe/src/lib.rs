//! Stripe Checkout for miniapp: checkout sessions over reqwest (rustls), webhooks verified as
//! Stripe's own libraries verify them, refunds, disputes and reconciliation.
//!
//! ```
//! use std::time::SystemTime;
//! use miniapp_core::provider::{PaymentProvider, WebhookRequest};
//! use miniapp_stripe::{StripeConfig, StripeProvider, sign_header};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let env = |k: &str| match k {
//! #     "STRIPE_SECRET_KEY" => Some("sk_test_123".to_owned()),
//! #     "STRIPE_WEBHOOK_SECRET" => Some("whsec_test".to_owned()),
//! #     "PUBLIC_BASE_URL" => Some("https://bot.example".to_owned()),
//! #     _ => None,
//! # };
//! // In an app: StripeConfig::from_env() reads STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, PUBLIC_BASE_URL.
//! let config = StripeConfig::from_lookup(env)?.expect("Stripe is configured");
//! let stripe = StripeProvider::new(config)?;
//!
//! // A webhook as Stripe delivers it (here signed by the test helper).
//! let body = br#"{"id":"evt_1","object":"event","type":"customer.created","data":{"object":{}}}"#.to_vec();
//! let now = SystemTime::now();
//! let t = now.duration_since(SystemTime::UNIX_EPOCH)?.as_secs();
//! let headers = vec![("Stripe-Signature".to_owned(), sign_header("whsec_test", t, &body))];
//! let events = stripe.parse_webhook(&WebhookRequest { headers, body }, now).await?;
//! assert!(events.is_empty()); // authentic, but not an event that moves money
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Feature flags
//! None: the crate is one provider, with reqwest over rustls only (no OpenSSL). Its tests run the
//! provider conformance suite of `miniapp-core` (feature `conformance` there).
//!
//! # What it sends
//! `POST /v1/checkout/sessions` (form-encoded, bracket keys): `mode=payment`, card only
//! (`allowed_payment_method_types[0]=card`), Adaptive Pricing off
//! (`adaptive_pricing[enabled]=false`: the catalog's price is what the ledger checks), one line
//! item with inline `price_data` (currency,
//! `unit_amount` in minor units, product "500 tokens"), `success_url`/`cancel_url` under
//! `PUBLIC_BASE_URL/miniapp/`, `customer_email` when given, `client_reference_id` and `metadata`
//! with our payment id and the Telegram user id, the same metadata on `payment_intent_data` (Stripe
//! copies it onto the charge, which is how refunds find the payment), and `expires_at` derived from
//! the payment's creation time (default 1 hour, clamped to Stripe's 30 minutes – 24 hours).
//! Every request pins `Stripe-Version: 2026-10-28.endive` ([`STRIPE_API_VERSION`]) and a POST
//! always carries `Idempotency-Key: miniapp-checkout-<payment id>` (`…-<payment id>:<n>` for the
//! n-th attempt after a failed one, see [`CheckoutRequest::idempotency_key`]), so no retry, double
//! tap or second instance can create a second session for one attempt, and Stripe's stored
//! answer to a failed attempt (replayed for 24 hours) never pins a payment. A session expires one
//! hour after the payment was created; a checkout is only opened while at least 35 minutes of that
//! remain (Stripe's minimum is 30).
//!
//! # Retries and deadlines
//! `Stripe-Should-Retry` decides when present; otherwise network errors and timeouts, 409, 5xx and
//! 429 `lock_timeout` are retried (once by default, after 0.5 s), always with the same idempotency
//! key. Each request times out after 5 s, so one call ends within 10.5 s, inside the HTTP layer's
//! request deadline. Other 4xx are final ([`ProviderError::Rejected`]); a 409 that outlasts the
//! retries (a concurrent request with the same key) is [`ProviderError::InProgress`]; what stays
//! unavailable is [`ProviderError::Unavailable`]. `STRIPE_API_BASE` may be plain `http://` only on
//! loopback: the secret key travels with every request.
//!
//! A `sk_test_…`/`rk_test_…` key makes [`StripeProvider`] report
//! [`PaymentProvider::is_test`](miniapp_core::provider::PaymentProvider::is_test).
//!
//! # Webhook events
//! | Stripe event | core event |
//! |---|---|
//! | `checkout.session.completed` with `payment_status = paid` | `Succeeded { amount_total }` |
//! | `checkout.session.completed` with `unpaid` | `Pending` (no credit) |
//! | `checkout.session.async_payment_succeeded` | `Succeeded` |
//! | `checkout.session.async_payment_failed` | `Failed` |
//! | `payment_intent.payment_failed` | `AttemptFailed { reason }`: the Session stays open, the buyer may retry |
//! | `checkout.session.expired` | `Expired` |
//! | `charge.refunded` | `Refunded { amount_refunded }` (cumulative), found by metadata or payment intent |
//! | `charge.dispute.created` | `DisputeOpened`, found by payment intent |
//! | `charge.dispute.closed` | `DisputeClosed { won: status != lost }` |
//! | anything else | acknowledged, no event |
//!
//! A payment's credit is keyed by its payment intent id (`pi_…`), which every event about the
//! money shares.
//!
//! # Failure reasons
//! A failed attempt's [`FailureReason`](miniapp_core::event::FailureReason) comes from the
//! payment intent's `last_payment_error` (in `payment_intent.payment_failed`, and in the
//! reconciliation read of the session): its `decline_code` first — `insufficient_funds`,
//! `expired_card`, `incorrect_cvc`/`invalid_cvc`, `authentication_required`, `processing_error`
//! (and `issuer_not_available`, `try_again_later`, `reenter_transaction`: worth retrying) map to
//! their reasons, every other decline (`generic_decline`, `do_not_honor`, `lost_card`,
//! `stolen_card`, `fraudulent`, …) to `card_declined`, so a buyer is never told "stolen" or
//! "fraudulent"; without a decline code, its `code` — `card_declined`, `expired_card`,
//! `incorrect_cvc`, `processing_error`, `authentication_required` and
//! `payment_intent_authentication_failure` (→ `authentication_failed`); anything else is `other`.
//!
//! [`ProviderError::Rejected`]: miniapp_core::provider::ProviderError::Rejected
//! [`ProviderError::InProgress`]: miniapp_core::provider::ProviderError::InProgress
//! [`CheckoutRequest::idempotency_key`]: miniapp_core::provider::CheckoutRequest::idempotency_key
//! [`ProviderError::Unavailable`]: miniapp_core::provider::ProviderError::Unavailable
#![forbid(unsafe_code)]

mod client;
mod events;
mod provider;
mod signature;

pub use client::STRIPE_API_VERSION;
pub use events::map_event;
pub use provider::{StripeConfig, StripeConfigError, StripeProvider};
pub use signature::{SignatureError, WebhookVerifier, sign_header};
