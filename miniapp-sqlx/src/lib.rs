//! PostgreSQL and SQLite ledgers for miniapp: the
//! [`LedgerStore`](miniapp_core::ledger::LedgerStore) contract with the money invariants enforced
//! by the database itself.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use miniapp_core::event::{EventKind, ProviderEvent};
//! use miniapp_core::ledger::{CheckoutRecord, LedgerStore, NewPayment};
//! use miniapp_core::{catalog::PaymentMethod, money::{Money, TokenAmount}, payment::RefundPolicy};
//! use miniapp_sqlx::SqliteLedgerStore;
//!
//! let dir = tempfile::tempdir()?;
//! let store = SqliteLedgerStore::connect(&dir.path().join("ledger.db").display().to_string()).await?;
//! store.migrate().await?; // once at start-up
//!
//! let payment = store.create_payment(NewPayment {
//!     id: "pay_1".parse()?,
//!     user_id: miniapp_core::ids::UserId::new(42).unwrap(),
//!     provider: "sandbox".parse()?,
//!     method: PaymentMethod::card(),
//!     tokens: TokenAmount::new(500).unwrap(),
//!     price: Money::usd_cents(2500),
//!     email: None,
//!     idempotency_key: None,
//!     language: None,
//! }).await?;
//! store.attach_checkout(&payment.id, &CheckoutRecord { checkout_ref: "chk_1".parse()?, url: "https://pay.example".into() }).await?;
//!
//! let paid = ProviderEvent {
//!     id: "evt_1".parse()?,
//!     payment_id: Some(payment.id.clone()),
//!     provider_ref: "pi_1".parse()?,
//!     kind: EventKind::Succeeded { amount: Money::usd_cents(2500) },
//! };
//! let sandbox = "sandbox".parse()?;
//! assert_eq!(store.apply_event(&sandbox, &paid, RefundPolicy::Debt).await?.credited, 500);
//! assert!(store.apply_event(&sandbox, &paid, RefundPolicy::Debt).await?.duplicate); // credited once
//! assert_eq!(store.balance(payment.user_id).await?.balance, 500);
//! # Ok(()) }
//! ```
//!
//! # What the schema enforces
//! - one credit per payment and per (provider, provider payment reference) — partial UNIQUE
//!   indexes on the journal;
//! - one row per (provider, event id), with the charge reference and the no-effect reason;
//!   one spend per (user, idempotency key); one payment per (user, idempotency key); one
//!   notification per payment; one refund per (provider, extra charge);
//! - the journal is append-only (triggers refuse UPDATE and DELETE; no code issues them);
//! - the cached balance is moved by a trigger on each journal insert, in the same transaction,
//!   and the insert fails unless the row's `balance_after` equals the new balance, so
//!   `balance == sum(journal)` always;
//! - a balance below zero only through a `clawback` row (CHECK);
//! - payment counters within bounds (credited is 0 or the package, reversed ≤ credited, …).
//!
//! The decisions themselves are [`miniapp_core::ledger::plan_event`] and
//! [`miniapp_core::ledger::plan_spend`]; nothing here re-implements a money rule.
//!
//! # One store, two databases
//! [`PgLedgerStore`] and [`SqliteLedgerStore`] are one generic [`SqlLedgerStore`]: the SQL is
//! shared, and what PostgreSQL and SQLite do differently (how a write transaction starts, how
//! rows are locked) is the sealed [`Dialect`] trait. Each also implements
//! [`NotificationOutbox`](miniapp_core::ledger::NotificationOutbox) and
//! [`RefundQueue`](miniapp_core::ledger::RefundQueue) on the same database, so the
//! payment-success notification is written in the credit's transaction and the refund of a
//! duplicate charge in the transaction that records it. Timestamps come from
//! [`SqlLedgerStore::with_clock`]'s clock (the system clock by default).
//!
//! # Feature flags
//! | feature | default | what |
//! |---|---|---|
//! | `postgres` | yes | [`PgLedgerStore`], [`POSTGRES_MIGRATOR`] |
//! | `sqlite` | yes | [`SqliteLedgerStore`], [`SQLITE_MIGRATOR`] (SQLite compiled in) |
//!
//! Errors map into [`LedgerError`](miniapp_core::ledger::LedgerError): unreachable, busy or
//! retry-me conditions are `Unavailable` (answer 503), the rest `Backend`, always with the sqlx
//! error as the source.
#![forbid(unsafe_code)]

mod admin;
mod dialect;
mod error;
mod rows;
mod store;

pub use dialect::{Begin, Dialect};
pub use store::SqlLedgerStore;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::{POSTGRES_MIGRATOR, PgLedgerStore, STATUS_CHANNEL, StatusChanges};
#[cfg(feature = "sqlite")]
pub use sqlite::{SQLITE_MIGRATOR, SqliteLedgerStore};
