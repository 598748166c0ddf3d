//! The SQLite ledger.

use std::str::FromStr;
use std::time::Duration;

use miniapp_core::ledger::LedgerError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::map_err;
use crate::store::SqlLedgerStore;

/// The embedded SQLite migrations; [`SqliteLedgerStore::migrate`] runs them.
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// A [`LedgerStore`](miniapp_core::ledger::LedgerStore) on an SQLite file.
///
/// The file is opened in WAL mode with `synchronous = FULL` (a commit that returned survives a
/// power cut: it is money), foreign keys on and a 10 s busy timeout. Every write transaction
/// starts with `BEGIN IMMEDIATE`, so it holds the database's single write lock from its first
/// read: a read-then-write can never be overtaken, and many tasks on one file are correct. One
/// process (one app instance) per file; several instances need PostgreSQL.
pub type SqliteLedgerStore = SqlLedgerStore<sqlx::Sqlite>;

impl SqlLedgerStore<sqlx::Sqlite> {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db` or a path).
    ///
    /// # Errors
    /// [`LedgerError`] when the file cannot be opened or created.
    pub async fn connect(url: &str) -> Result<SqliteLedgerStore, LedgerError> {
        let url = if url.starts_with("sqlite:") {
            url.to_owned()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(map_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            // A local file has no server that could drop a connection: no ping before each use.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(SqlLedgerStore::new(pool))
    }
}
