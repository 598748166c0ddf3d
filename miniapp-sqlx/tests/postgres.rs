//! The PostgreSQL ledger against a real server (`DATABASE_URL`; each test creates and drops its
//! own database): the conformance suite, two app instances sharing one database, a connection
//! killed in the middle of an event, and an unreachable server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)] // tests fail by panicking

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use miniapp_core::conformance::{assert_consistent, fresh_user, pending_payment};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{IdempotencyKey, ProviderEventId, ProviderId, ProviderRef, UserId};
use miniapp_core::ledger::{LedgerError, LedgerStore, SpendRequest};
use miniapp_core::money::{Currency, Money, TokenAmount};
use miniapp_core::payment::{Payment, PaymentStatus, RefundPolicy};
use miniapp_sqlx::PgLedgerStore;
use rand::seq::SliceRandom;
use sqlx::Connection;

miniapp_core::ledger_conformance!(optional: common::fresh_pg());

fn provider() -> ProviderId {
    ProviderId::new(miniapp_core::conformance::SUITE_PROVIDER).unwrap()
}

fn paid(p: &Payment) -> ProviderEvent {
    ProviderEvent {
        id: ProviderEventId::new(format!("evt_paid_{}", p.id)).unwrap(),
        payment_id: Some(p.id.clone()),
        provider_ref: ProviderRef::new(format!("pi_{}", p.id)).unwrap(),
        kind: EventKind::Succeeded { amount: p.price },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_apply_shuffled_duplicates_exactly_once() {
    let Some(db) = common::fresh_pg().await else {
        return;
    };
    let a: Arc<PgLedgerStore> = Arc::new(db.store.clone());
    let b: Arc<PgLedgerStore> = Arc::new(db.another_instance().await);
    let users: Vec<UserId> = (0..50).map(|_| fresh_user()).collect();
    let catalog = miniapp_core::catalog::Catalog::default();
    // 1,000 payments; 90 % get paid, the rest only expire.
    let mut payments = Vec::new();
    for i in 0..1000 {
        let package = &catalog.packages()[i % 4];
        let price = package.price_in(Currency::USD).unwrap();
        let p = pending_payment(&*a, users[i % users.len()], package.tokens().get(), price).await;
        payments.push((p, i % 10 != 0));
    }
    let mut deliveries = Vec::new();
    for (p, pays) in &payments {
        let event = if *pays {
            paid(p)
        } else {
            ProviderEvent {
                id: ProviderEventId::new(format!("evt_exp_{}", p.id)).unwrap(),
                kind: EventKind::Expired,
                // An expiry names the checkout that expired.
                provider_ref: p.checkout_ref.clone().unwrap(),
                ..paid(p)
            }
        };
        for _ in 0..4 {
            deliveries.push(event.clone()); // the event and 3 duplicates
        }
    }
    deliveries.shuffle(&mut rand::rng());
    let started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(deliveries.into_iter().enumerate())
        .map(|(i, e)| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            async move { store.apply_event(&provider(), &e, RefundPolicy::Debt).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    eprintln!(
        "4,000 deliveries through two pools in {:?}",
        started.elapsed()
    );
    let mut fresh = 0;
    for r in results {
        fresh += usize::from(!r.expect("every delivery is answered").duplicate);
    }
    assert_eq!(
        fresh, 1000,
        "each event applied once, its three copies recognised"
    );

    let mut expected: HashMap<UserId, i64> = HashMap::new();
    for (p, pays) in &payments {
        let stored = a.payment(&p.id).await.unwrap().unwrap();
        if *pays {
            assert_eq!(
                (stored.status, stored.tokens_credited),
                (PaymentStatus::Succeeded, p.tokens.get())
            );
            *expected.entry(p.user_id).or_default() += p.tokens.as_i64();
        } else {
            assert_eq!(
                (stored.status, stored.tokens_credited),
                (PaymentStatus::Expired, 0)
            );
        }
    }
    for user in &users {
        assert_eq!(
            b.balance(*user).await.unwrap().balance,
            expected.get(user).copied().unwrap_or(0)
        );
        assert_consistent(&*a, *user).await;
    }
    let (credits, paid_count): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM miniapp_journal WHERE kind = 'credit'), \
                (SELECT count(*) FROM miniapp_payments WHERE tokens_credited > 0)",
    )
    .fetch_one(a.pool())
    .await
    .unwrap();
    assert_eq!(
        (credits, paid_count),
        (900, 900),
        "credits == paid payments, no double credit"
    );
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM miniapp_balances b WHERE b.balance <> \
         (SELECT coalesce(sum(delta), 0) FROM miniapp_journal j WHERE j.user_id = b.user_id)",
    )
    .fetch_one(a.pool())
    .await
    .unwrap();
    assert_eq!(mismatched, 0, "balance == sum(journal) for every user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spend_race_split_across_two_instances() {
    let Some(db) = common::fresh_pg().await else {
        return;
    };
    let a: Arc<PgLedgerStore> = Arc::new(db.store.clone());
    let b: Arc<PgLedgerStore> = Arc::new(db.another_instance().await);
    let user = fresh_user();
    let p = pending_payment(&*a, user, 100, Money::usd_cents(500)).await;
    a.apply_event(&provider(), &paid(&p), RefundPolicy::Debt)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let request = SpendRequest {
                user_id: user,
                amount: TokenAmount::new(1).unwrap(),
                idempotency_key: IdempotencyKey::new(format!("k{i}")).unwrap(),
                memo: None,
            };
            store.spend(&request).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(e) => panic!("spend failed: {e:?}"),
        }
    }
    assert_eq!(ok, 100);
    assert_eq!(b.balance(user).await.unwrap().balance, 0);
    assert_consistent(&*b, user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_killed_mid_event_leaves_nothing_and_redelivery_credits_once() {
    let Some(db) = common::fresh_pg().await else {
        return;
    };
    let store = Arc::new(db.store.clone());
    let user = fresh_user();
    let p = pending_payment(&*store, user, 500, Money::usd_cents(2500)).await;
    // Another session holds the buyer's balance row, so the apply stops after it has locked the
    // payment and recorded the event id, half-way through its transaction.
    let mut blocker = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("INSERT INTO miniapp_balances (user_id) VALUES ($1)")
        .bind(user.get())
        .execute(&mut blocker)
        .await
        .unwrap();
    let event = paid(&p);
    let applying = {
        let (store, event) = (store.clone(), event.clone());
        tokio::spawn(async move {
            store
                .apply_event(&provider(), &event, RefundPolicy::Debt)
                .await
        })
    };
    // Wait (bounded) until the apply is blocked on the lock, then kill its connection.
    let deadline = Instant::now() + Duration::from_secs(20);
    let victim: i32 = loop {
        let waiting: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() LIMIT 1",
        )
        .fetch_optional(store.pool())
        .await
        .unwrap();
        if let Some(pid) = waiting {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the apply never blocked on the balance lock"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM miniapp_provider_events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        before, 0,
        "the half-done transaction is invisible to others"
    );
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(victim)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(killed);
    let outcome = applying.await.unwrap();
    let err = outcome.expect_err("the apply lost its connection");
    assert!(
        err.is_transient(),
        "a dropped connection is reported as retryable: {err:?}"
    );
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();

    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM miniapp_provider_events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let journal: i64 = sqlx::query_scalar("SELECT count(*) FROM miniapp_journal")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!((events, journal), (0, 0), "no partial rows");
    let unchanged = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(
        (unchanged.status, unchanged.tokens_credited),
        (PaymentStatus::Pending, 0)
    );

    let redelivered = store
        .apply_event(&provider(), &event, RefundPolicy::Debt)
        .await
        .unwrap();
    assert_eq!((redelivered.credited, redelivered.duplicate), (500, false));
    let again = store
        .apply_event(&provider(), &event, RefundPolicy::Debt)
        .await
        .unwrap();
    assert_eq!((again.credited, again.duplicate), (0, true));
    assert_eq!(store.balance(user).await.unwrap().balance, 500);
    assert_consistent(&*store, user).await;
}

#[tokio::test]
async fn unreachable_database_is_unavailable_not_a_panic() {
    // Nothing listens on port 1 of loopback: connecting fails fast.
    let err = PgLedgerStore::connect("postgres://postgres@127.0.0.1:1/test", 2)
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::Unavailable(_)), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause is kept"
    );

    // A store whose server disappears after start-up answers every call with Unavailable.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .unwrap();
    let store = PgLedgerStore::new(pool);
    let user = UserId::new(1).unwrap();
    let r = store.balance(user).await;
    assert!(matches!(r, Err(LedgerError::Unavailable(_))), "{r:?}");
    let r = store
        .spend(&SpendRequest {
            user_id: user,
            amount: TokenAmount::new(1).unwrap(),
            idempotency_key: IdempotencyKey::new("k").unwrap(),
            memo: None,
        })
        .await;
    assert!(matches!(r, Err(LedgerError::Unavailable(_))), "{r:?}");
    let bad_url = PgLedgerStore::connect("not a url", 1).await.unwrap_err();
    assert!(
        !bad_url.is_transient(),
        "a malformed URL is not worth retrying: {bad_url:?}"
    );
}

#[tokio::test]
async fn timestamps_come_from_the_injected_clock() {
    let Some(db) = common::fresh_pg().await else {
        return;
    };
    let clock = Arc::new(miniapp_core::clock::ManualClock::at_unix(1_800_000_000));
    let store = db.store.clone().with_clock(clock.clone());
    common::timestamps_follow_the_clock(&store, &clock).await;
}
