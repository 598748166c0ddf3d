//! The pure domain of miniapp: sell prepaid tokens from a Telegram bot without ever crediting a
//! token twice or losing a paid one.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use miniapp_core::catalog::{Catalog, ClientOrder, MethodOffer, PaymentMethod};
//! use miniapp_core::init_data::{sign, BotToken, InitDataVerifier};
//! use miniapp_core::money::{Currency, Money};
//!
//! // Who is asking: verify the init data the Mini App sent (here signed by the test helper).
//! let token = BotToken::new("123456:TEST-token")?;
//! let verifier = InitDataVerifier::new(&token); // derives the secret once
//! let raw = sign(&[("auth_date", "1700000000"), ("user", r#"{"id":42,"first_name":"Ann"}"#)], &token);
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_060);
//! let user = verifier.verify(&raw, now)?.user().map(|u| u.id);
//! assert_eq!(user, Some(42));
//!
//! // What they may buy, and for how much: the catalog is the price authority.
//! let order: ClientOrder = serde_json::from_str(
//!     r#"{"credits": 500, "amount": 25.0, "currency": "USD", "payment_method": "card"}"#,
//! )?;
//! let methods = [MethodOffer::new(PaymentMethod::card(), Currency::USD)];
//! let quote = Catalog::default().quote(&order, &methods)?;
//! assert_eq!((quote.tokens.get(), quote.price), (500, Money::usd_cents(2500)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is here
//! - [`money`]: integer minor units with a currency ([`money::Money`]), [`money::TokenAmount`],
//!   and the parsing of amounts a page sends.
//! - [`catalog`]: token packages, prices per currency, payment methods, order matching.
//! - [`init_data`]: Telegram init data verification (HMAC and Ed25519 third-party schemes).
//! - [`ids`]: identifiers that can only hold valid values.
//! - [`event`] and [`payment`]: the provider events and the payment state machine
//!   ([`payment::transition`]).
//! - [`ledger`]: the [`ledger::LedgerStore`] contract, the credit and spend algorithms, and the
//!   reference [`ledger::InMemoryLedger`].
//! - [`provider`]: the [`provider::PaymentProvider`] contract.
//! - [`clock`]: the injectable [`clock::Clock`] every timestamp comes from.
//! - `conformance` (feature): the suites every store and provider runs.
//!
//! # Feature flags
//! | feature | what it adds |
//! |---|---|
//! | `sign` | `init_data::sign` and `init_data::sign_ed25519`: produce signed init data (tests, demos, dev login) |
//! | `conformance` | `conformance`: the shared test suites for `LedgerStore` and `PaymentProvider` |
//!
//! This crate does no I/O: no runtime, no database, no HTTP. Time is passed in, or read from an
//! injected [`clock::Clock`].
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod catalog;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod event;
pub mod ids;
pub mod init_data;
pub mod ledger;
pub mod money;
pub mod payment;
pub mod provider;
