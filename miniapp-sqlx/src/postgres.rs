//! The PostgreSQL ledger.

use std::time::Duration;

use miniapp_core::ledger::LedgerError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::map_err;
use crate::store::SqlLedgerStore;

/// The embedded PostgreSQL migrations; [`PgLedgerStore::migrate`] runs them.
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// A [`LedgerStore`](miniapp_core::ledger::LedgerStore) on PostgreSQL.
///
/// Transactions run at READ COMMITTED and take row locks (`SELECT … FOR UPDATE`) in one fixed
/// order — payment, then the buyer's balance — so concurrent deliveries of an event, and spends
/// racing credits, queue behind each other instead of failing: no serialization errors to retry,
/// and no deadlocks. Several app instances may share one database.
pub type PgLedgerStore = SqlLedgerStore<sqlx::Postgres>;

impl SqlLedgerStore<sqlx::Postgres> {
    /// Connects with a pool of up to `max_connections` (acquire timeout 5 s).
    ///
    /// Connections are not pinged before each use: sqlx's default ping is a second round trip
    /// per query, and with a pool sized to the cores it doubled the p99 of a status poll in the
    /// load test (benches/README.md). The cost: after a PostgreSQL restart, each pooled
    /// connection fails one query as [`LedgerError::Unavailable`] (HTTP 503, so pages and
    /// providers retry; the bot retries recording a Stars payment more times than the pool has
    /// connections) and is then replaced.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`] when the server cannot be reached, [`LedgerError::Backend`]
    /// for a malformed URL or a refused login.
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgLedgerStore, LedgerError> {
        let options: PgConnectOptions = url.parse().map_err(map_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(SqlLedgerStore::new(pool))
    }
}

/// The channel every status change is announced on, at commit, by a trigger on the payments
/// table (migration `…12_status_notify`): the payload is the payment's id.
pub const STATUS_CHANNEL: &str = "miniapp_payment_status";

/// Status changes committed by any process on the database (other instances, the operator's
/// CLI), from one listening connection ([`PgLedgerStore::status_changes`]).
#[derive(Debug)]
pub struct StatusChanges {
    listener: sqlx::postgres::PgListener,
}

impl StatusChanges {
    /// The next payment whose status changed; `None` for a payload that is no payment id.
    ///
    /// A lost connection is re-established by the next call, and what was announced meanwhile
    /// is lost: a waiter re-reads the status when its wait ends.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`] while the database cannot be reached (call again later).
    pub async fn next(&mut self) -> Result<Option<miniapp_core::ids::PaymentId>, LedgerError> {
        let notification = self.listener.recv().await.map_err(map_err)?;
        Ok(miniapp_core::ids::PaymentId::new(notification.payload()).ok())
    }
}

impl SqlLedgerStore<sqlx::Postgres> {
    /// Listens for status changes on one connection of its own (not one of the pool's).
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`] when the database cannot be reached.
    pub async fn status_changes(&self) -> Result<StatusChanges, LedgerError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(map_err)?;
        listener.listen(STATUS_CHANNEL).await.map_err(map_err)?;
        Ok(StatusChanges { listener })
    }
}
