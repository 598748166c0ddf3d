//! miniapp: sell prepaid tokens from a Telegram bot through a Mini App payment page.
//!
//! This crate re-exports [`miniapp_core`] and adds the parts that do I/O:
//! - [`http`] (feature `axum`): the HTTP API, the embedded payment page and the webhooks;
//! - [`sandbox`] (feature `axum`): an offline demo payment provider;
//! - `sqlx` (features `sqlite`, `postgres`): the ledgers of `miniapp-sqlx`;
//! - `stripe` (feature `stripe`): the provider of `miniapp-stripe`.
//!
//! ```
//! let catalog = miniapp::catalog::Catalog::default();
//! assert_eq!(catalog.packages().len(), 4);
//! ```
//!
//! # Feature flags
//! | feature | default | what |
//! |---|---|---|
//! | `axum` | yes | [`http`] and [`sandbox`] |
//! | `teloxide` | yes | [`bot`]: commands, notifications, menu button (rustls) |
//! | `sqlite` | yes | `miniapp::sqlx::SqliteLedgerStore` |
//! | `postgres` | yes | `miniapp::sqlx::PgLedgerStore` |
//! | `stripe` | yes | `miniapp::stripe::StripeProvider` |
#![forbid(unsafe_code)]

pub use miniapp_core::*;

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
pub mod reconcile;
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
