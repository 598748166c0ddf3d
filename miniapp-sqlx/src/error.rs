//! Mapping sqlx errors into the core's `LedgerError`, keeping the cause.

use miniapp_core::ledger::LedgerError;

/// Transient conditions (the database is unreachable, busy, or asked us to retry) become
/// [`LedgerError::Unavailable`], which the HTTP layer answers with 503 so providers redeliver;
/// everything else is [`LedgerError::Backend`] with the sqlx error as its source.
pub(crate) fn map_err(e: sqlx::Error) -> LedgerError {
    if is_transient(&e) {
        tracing::warn!(error = %e, "ledger storage unavailable");
        LedgerError::Unavailable(Box::new(e))
    } else {
        tracing::error!(error = %e, "ledger storage error");
        LedgerError::Backend(Box::new(e))
    }
}

fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            matches!(
                code.as_deref(),
                // PostgreSQL: serialization failure, deadlock, admin shutdown / crash / cannot
                // connect now, too many connections, connection exceptions (class 08).
                Some("40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300")
                    // SQLite: SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
                    | Some("5" | "6" | "261" | "517" | "262")
            ) || code.as_deref().is_some_and(|c| c.starts_with("08"))
        }
        _ => false,
    }
}

/// Whether `e` is a unique-constraint violation (a race the caller resolves by re-reading).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}
