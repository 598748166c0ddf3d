//! What the PostgreSQL tests of this crate share (`mod support;` in each test file).
#![allow(dead_code, clippy::unwrap_used, clippy::panic, clippy::print_stderr)] // each test uses part; tests fail by panicking

use sqlx::Connection;

/// `DATABASE_URL` when it names PostgreSQL, or `None` with a loud notice naming `what` did not
/// run; under `CI=true` a missing PostgreSQL fails the test.
pub(crate) fn postgres_url(what: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but DATABASE_URL does not name PostgreSQL: {what} needs it")
        }
        _ => {
            eprintln!("SKIPPED: DATABASE_URL=postgres://… is not set; {what} did not run");
            None
        }
    }
}

/// A new, empty database `<prefix>_<random>` on the server of `server_url`; its URL.
pub(crate) async fn fresh_database(server_url: &str, prefix: &str) -> String {
    let name = format!("{prefix}_{}", miniapp::conformance::fresh_user().get());
    let mut admin = sqlx::PgConnection::connect(server_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    match server_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("DATABASE_URL has no database path"),
    }
}

/// Drops the database of `url` (made by [`fresh_database`]) through the server of `server_url`.
pub(crate) async fn drop_database(server_url: &str, url: &str) {
    let name = url.rsplit_once('/').unwrap().1;
    let mut admin = sqlx::PgConnection::connect(server_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}
