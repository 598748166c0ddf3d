//! Provider events applied per second: in-memory, SQLite (file, WAL) and PostgreSQL, at 1, 8 and
//! 32 concurrent tasks. Each iteration credits one fresh pending payment (a full transaction:
//! lock payment, record event id, lock balance, journal insert, payment update, commit).
//! Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p miniapp-sqlx --bench ledger_apply`
//! and compare with `benches/pgbench.sh` (see benches/README.md).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use miniapp_core::conformance::{fresh_user, pending_payment};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{ProviderEventId, ProviderId, ProviderRef};
use miniapp_core::ledger::{InMemoryLedger, LedgerStore};
use miniapp_core::money::Money;
use miniapp_core::payment::RefundPolicy;
use miniapp_sqlx::{PgLedgerStore, SqliteLedgerStore};
use sqlx::Connection;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn apply_fresh(store: Arc<dyn LedgerStore>, n: u64, concurrency: usize) -> Duration {
    let provider = ProviderId::new(miniapp_core::conformance::SUITE_PROVIDER).unwrap();
    // Many users, so concurrent credits contend like real traffic (not all on one balance row).
    let mut events = Vec::new();
    for _ in 0..n {
        let p = pending_payment(&*store, fresh_user(), 100, Money::usd_cents(500)).await;
        events.push(ProviderEvent {
            id: ProviderEventId::new(format!("evt_{}", p.id)).unwrap(),
            payment_id: Some(p.id.clone()),
            provider_ref: ProviderRef::new(format!("pi_{}", p.id)).unwrap(),
            kind: EventKind::Succeeded { amount: p.price },
        });
    }
    let started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(events)
        .map(|e| {
            let (store, provider) = (store.clone(), provider.clone());
            tokio::spawn(async move { store.apply_event(&provider, &e, RefundPolicy::Debt).await })
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    for r in results {
        assert_eq!(r.unwrap().unwrap().credited, 100);
    }
    elapsed
}

fn bench_store(
    c: &mut Criterion,
    name: &str,
    rt: &tokio::runtime::Runtime,
    store: Arc<dyn LedgerStore>,
) {
    let mut group = c.benchmark_group(format!("ledger_apply/{name}"));
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    for concurrency in [1usize, 8, 32] {
        group.bench_with_input(
            BenchmarkId::from_parameter(concurrency),
            &concurrency,
            |b, &conc| {
                b.iter_custom(|iters| rt.block_on(apply_fresh(store.clone(), iters, conc)));
            },
        );
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    bench_store(c, "in_memory", &rt, Arc::new(InMemoryLedger::new()));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db").display().to_string();
    let sqlite = rt.block_on(async {
        let s = SqliteLedgerStore::connect(&path).await.unwrap();
        s.migrate().await.unwrap();
        s
    });
    bench_store(c, "sqlite_wal", &rt, Arc::new(sqlite));

    match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let pg = rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query("DROP DATABASE IF EXISTS miniapp_bench WITH (FORCE)")
                    .execute(&mut admin)
                    .await
                    .unwrap();
                sqlx::query("CREATE DATABASE miniapp_bench")
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let (server, _) = url.rsplit_once('/').unwrap();
                let s = PgLedgerStore::connect(&format!("{server}/miniapp_bench"), 40)
                    .await
                    .unwrap();
                s.migrate().await.unwrap();
                s
            });
            bench_store(c, "postgres", &rt, Arc::new(pg));
        }
        Err(_) => eprintln!("SKIPPED: DATABASE_URL is not set, no PostgreSQL figures"),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
