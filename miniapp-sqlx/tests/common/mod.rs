//! Fresh databases for each test: a temporary SQLite file, or a new PostgreSQL database created
//! from `DATABASE_URL` and dropped afterwards.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::ops::Deref;

use miniapp_sqlx::{PgLedgerStore, SqliteLedgerStore};
use sqlx::Connection;

pub struct FreshSqlite {
    pub store: SqliteLedgerStore,
    pub path: String,
    _dir: tempfile::TempDir,
}

impl Deref for FreshSqlite {
    type Target = SqliteLedgerStore;
    fn deref(&self) -> &SqliteLedgerStore {
        &self.store
    }
}

pub async fn fresh_sqlite() -> FreshSqlite {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.db").display().to_string();
    let store = SqliteLedgerStore::connect(&path)
        .await
        .expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    FreshSqlite {
        store,
        path,
        _dir: dir,
    }
}

/// `DATABASE_URL`, or `None` with a loud notice; under `CI=true` a missing URL fails the test.
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but DATABASE_URL is not set: the PostgreSQL tests must run in CI")
        }
        _ => {
            eprintln!("SKIPPED: DATABASE_URL is not set, so this PostgreSQL test did not run");
            None
        }
    }
}

pub struct FreshPg {
    pub store: PgLedgerStore,
    pub url: String,
    admin_url: String,
    name: String,
}

impl Deref for FreshPg {
    type Target = PgLedgerStore;
    fn deref(&self) -> &PgLedgerStore {
        &self.store
    }
}

impl FreshPg {
    /// A second, independent pool on the same database (another app instance).
    pub async fn another_instance(&self) -> PgLedgerStore {
        PgLedgerStore::connect(&self.url, 16)
            .await
            .expect("second pool")
    }
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL has a database path");
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

pub async fn fresh_pg() -> Option<FreshPg> {
    let admin_url = database_url()?;
    let name = format!("miniapp_t_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    admin.close().await.ok();
    let url = with_database(&admin_url, &name);
    let store = PgLedgerStore::connect(&url, 16)
        .await
        .expect("connect to test database");
    store.migrate().await.expect("migrate postgres");
    Some(FreshPg {
        store,
        url,
        admin_url,
        name,
    })
}

impl Drop for FreshPg {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Async work cannot run in drop; a short-lived thread with its own runtime can.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("note: could not drop test database {}", self.name);
        }
    }
}

/// Every timestamp the store writes comes from its clock: payment creation and update, the
/// journal.
pub async fn timestamps_follow_the_clock(
    store: &dyn miniapp_core::ledger::LedgerStore,
    clock: &miniapp_core::clock::ManualClock,
) {
    use miniapp_core::clock::ClockExt;
    use miniapp_core::event::{EventKind, ProviderEvent};
    use miniapp_core::ledger::HistoryQuery;
    use miniapp_core::money::Money;
    use std::time::Duration;

    let start = clock.unix_now();
    let user = miniapp_core::conformance::fresh_user();
    let p =
        miniapp_core::conformance::pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    assert_eq!((p.created_at, p.updated_at), (start, start));
    clock.advance(Duration::from_secs(3_600));
    let paid = ProviderEvent {
        id: format!("evt_clock_{}", p.id).parse().unwrap(),
        payment_id: Some(p.id.clone()),
        provider_ref: format!("pi_clock_{}", p.id).parse().unwrap(),
        kind: EventKind::Succeeded { amount: p.price },
    };
    let receipt = store
        .apply_event(
            &miniapp_core::conformance::SUITE_PROVIDER.parse().unwrap(),
            &paid,
            miniapp_core::payment::RefundPolicy::Debt,
        )
        .await
        .unwrap();
    assert_eq!(receipt.credited, 500);
    let p = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!((p.created_at, p.updated_at), (start, start + 3_600));
    let history = store.history(user, HistoryQuery::latest(10)).await.unwrap();
    assert_eq!(history.entries[0].created_at, start + 3_600);
}
