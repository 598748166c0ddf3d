//! miniapp: sell prepaid tokens from a Telegram bot through a Mini App payment page.
//!
//! This crate re-exports [`miniapp_core`] and adds the parts that do I/O:
//! - [`http`] (feature `axum`): the HTTP API, the embedded payment page and the webhooks, as a
//!   router you merge into or nest under your own axum app;
//! - [`reconcile`] (feature `axum`): asking providers about payments whose webhook was lost, on a
//!   status poll and in a background sweep;
//! - [`sandbox`] (feature `axum`): an offline demo payment provider;
//! - [`bot`], [`stars`] and [`i18n`] (feature `teloxide`): the payment updates and commands as
//!   handlers for your dispatcher, Telegram Stars, the payment-success notifications;
//! - [`config`] and [`app`] (feature `axum`): the reference app `full_bot`, assembled from the
//!   environment;
//! - [`metrics`] (feature `axum`): Prometheus counters and latency histograms, off unless
//!   enabled;
//! - [`admin`] (feature `admin`): the operator's commands behind `full_bot admin …`;
//! - `sqlx` (features `sqlite`, `postgres`): the ledgers of `miniapp-sqlx`;
//! - `stripe` (feature `stripe`): the provider of `miniapp-stripe`.
//!
//! The payments mounted in an axum app of your own, under `/shop`, next to your routes and your
//! 404 (an in-memory ledger and the offline sandbox here; `app::build` wires the real ones from
//! the environment):
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, http::StatusCode, routing::get};
//! use miniapp::catalog::{Catalog, MethodOffer, PaymentMethod};
//! use miniapp::clock::SystemClock;
//! use miniapp::http::{AppState, Auth, EnabledMethod, HttpSettings, Opens, StateParts};
//! use miniapp::{init_data::BotToken, ledger::InMemoryLedger, money::Currency};
//! use miniapp::sandbox::SandboxProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Arc::new(SandboxProvider::new(None)?);
//! let state = AppState::new(StateParts {
//!     ledger: Arc::new(InMemoryLedger::new()),
//!     catalog: Catalog::default(), // 100 tokens = $5, 200 = $10, 500 = $25, 1000 = $50
//!     methods: vec![EnabledMethod {
//!         offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
//!         provider: sandbox.clone(),
//!         opens: Opens::Link,
//!     }],
//!     auth: Auth::Development(BotToken::new("1:local-development-token")?),
//!     settings: HttpSettings::default(),
//!     routes: vec![sandbox.routes()], // the sandbox's checkout page
//!     clock: SystemClock::shared(),
//! })?;
//!
//! let app = Router::new()
//!     .route("/", get(|| async { "my bot's site" }))
//!     .nest("/shop", miniapp::http::payments_router(state))
//!     .fallback(|| async { (StatusCode::NOT_FOUND, "not here") });
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let base = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(async move { axum::serve(listener, app).await });
//! let packages: serde_json::Value =
//!     reqwest::get(format!("{base}/shop/api/miniapp/packages")).await?.json().await?;
//! assert_eq!(packages["packages"].as_array().map(Vec::len), Some(4));
//! assert_eq!(reqwest::get(format!("{base}/elsewhere")).await?.text().await?, "not here");
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//! | feature | default | what |
//! |---|---|---|
//! | `axum` | yes | [`http`], [`reconcile`], [`sandbox`], [`config`], [`app`]; implies `admin` |
//! | `admin` | yes | [`admin`]: the operator's commands (`full_bot admin …`) |
//! | `teloxide` | yes | [`bot`], [`stars`], [`i18n`]: payment updates, commands, notifications, menu button (rustls) |
//! | `sqlite` | yes | `miniapp::sqlx::SqliteLedgerStore` |
//! | `postgres` | yes | `miniapp::sqlx::PgLedgerStore` |
//! | `stripe` | yes | `miniapp::stripe::StripeProvider` |
//! | `paypal` | yes | `miniapp::paypal::PayPalProvider` (`PAYMENT_METHODS=…,paypal`) |
#![forbid(unsafe_code)]

pub use miniapp_core::*;

#[cfg(feature = "admin")]
pub mod admin;
#[cfg(feature = "axum")]
pub mod app;
#[cfg(feature = "teloxide")]
pub mod bot;
#[cfg(feature = "axum")]
pub mod config;
#[cfg(feature = "axum")]
pub mod http;
#[cfg(feature = "teloxide")]
pub mod i18n;
#[cfg(feature = "axum")]
pub mod metrics;
#[cfg(feature = "axum")]
pub mod reconcile;
#[cfg(any(feature = "axum", feature = "teloxide"))]
mod report;
#[cfg(feature = "axum")]
pub mod sandbox;
#[cfg(feature = "teloxide")]
pub mod stars;

/// The SQL ledgers (re-export of `miniapp-sqlx`).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use miniapp_sqlx as sqlx;

/// Stripe Checkout (re-export of `miniapp-stripe`).
#[cfg(feature = "stripe")]
pub use miniapp_stripe as stripe;

/// PayPal Checkout (re-export of `miniapp-paypal`).
#[cfg(feature = "paypal")]
pub use miniapp_paypal as paypal;
