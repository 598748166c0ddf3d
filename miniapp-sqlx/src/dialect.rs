//! Everything PostgreSQL and SQLite do differently, in one place. The rest of the crate is one
//! generic store: both accept `$n` parameters, `ON CONFLICT` and `RETURNING`, so the SQL is shared.

use std::future::Future;
use std::pin::Pin;

use sqlx::migrate::Migrator;
use sqlx::{Database, Pool, Transaction};

/// A transaction being started.
pub type Begin<'a, DB> =
    Pin<Box<dyn Future<Output = Result<Transaction<'static, DB>, sqlx::Error>> + Send + 'a>>;

mod sealed {
    pub trait Sealed {}
}

/// A database the [`SqlLedgerStore`](crate::SqlLedgerStore) runs on: PostgreSQL or SQLite.
/// Sealed: the SQL and the schema are written for exactly these two.
///
/// # Contract
/// - [`Dialect::begin_write`] starts a transaction in which rows read with
///   [`Dialect::ROW_LOCK`] stay unchanged by others until it ends.
/// - [`Dialect::SKIP_LOCKED`] makes concurrent claimers pass over each other's rows (or is empty
///   where writers are serialized anyway).
pub trait Dialect: Database + sealed::Sealed {
    /// Appended to a `SELECT` whose rows the transaction will change.
    const ROW_LOCK: &'static str;
    /// Appended to the subquery that picks outbox rows to claim.
    const SKIP_LOCKED: &'static str;

    /// Starts a write transaction.
    fn begin_write(pool: &Pool<Self>) -> Begin<'_, Self>;

    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The embedded migrations for this database.
    fn migrator() -> &'static Migrator;
}

/// READ COMMITTED with row locks taken in one fixed order (payment, event, balance): concurrent
/// deliveries queue behind each other instead of failing with serialization errors.
#[cfg(feature = "postgres")]
impl Dialect for sqlx::Postgres {
    const ROW_LOCK: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    fn begin_write(pool: &Pool<Self>) -> Begin<'_, Self> {
        Box::pin(pool.begin())
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn migrator() -> &'static Migrator {
        &crate::POSTGRES_MIGRATOR
    }
}

#[cfg(feature = "postgres")]
impl sealed::Sealed for sqlx::Postgres {}

/// SQLite has no row locks: `BEGIN IMMEDIATE` takes the database's single write lock at the start,
/// so a read-then-write can never be overtaken. Nothing to skip when claiming, for the same reason.
#[cfg(feature = "sqlite")]
impl Dialect for sqlx::Sqlite {
    const ROW_LOCK: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

    fn begin_write(pool: &Pool<Self>) -> Begin<'_, Self> {
        Box::pin(pool.begin_with("BEGIN IMMEDIATE"))
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn migrator() -> &'static Migrator {
        &crate::SQLITE_MIGRATOR
    }
}

#[cfg(feature = "sqlite")]
impl sealed::Sealed for sqlx::Sqlite {}
