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
