//! The SQLite ledger: the whole conformance suite on a fresh file per test, and many concurrent
//! tasks, through two pools, on one file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use std::sync::Arc;

use miniapp_core::conformance::{assert_consistent, fresh_user, pending_payment};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{IdempotencyKey, ProviderEventId, ProviderId, ProviderRef};
use miniapp_core::ledger::{LedgerError, LedgerStore, SpendRequest};
use miniapp_core::money::{Money, TokenAmount};
use miniapp_core::payment::RefundPolicy;
use miniapp_sqlx::SqliteLedgerStore;

miniapp_core::ledger_conformance!(common::fresh_sqlite());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_and_two_pools_on_one_file() {
    let fresh = common::fresh_sqlite().await;
    let second = Arc::new(SqliteLedgerStore::connect(&fresh.path).await.unwrap());
    let first = Arc::new(fresh.store.clone());
    let user = fresh_user();
    let provider = ProviderId::new(miniapp_core::conformance::SUITE_PROVIDER).unwrap();
    let mut payments = Vec::new();
    for _ in 0..10 {
        payments.push(pending_payment(&*first, user, 100, Money::usd_cents(500)).await);
    }
    let mut tasks = Vec::new();
    for (i, p) in payments.iter().enumerate() {
        for copy in 0..4 {
            let store: Arc<SqliteLedgerStore> = if (i + copy) % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            let (provider, event) = (
                provider.clone(),
                ProviderEvent {
                    id: ProviderEventId::new(format!("evt_{}", p.id)).unwrap(),
                    payment_id: Some(p.id.clone()),
                    provider_ref: ProviderRef::new(format!("pi_{}", p.id)).unwrap(),
                    kind: EventKind::Succeeded { amount: p.price },
                },
            );
            tasks.push(tokio::spawn(async move {
                store
                    .apply_event(&provider, &event, RefundPolicy::Debt)
                    .await
                    .map(|r| r.credited)
            }));
        }
    }
    for i in 0..1200 {
        let store = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let request = SpendRequest {
                user_id: user,
                amount: TokenAmount::new(1).unwrap(),
                idempotency_key: IdempotencyKey::new(format!("k{i}")).unwrap(),
                memo: None,
            };
            match store.spend(&request).await {
                Ok(_) => Ok(1_000_000),
                Err(LedgerError::InsufficientFunds { .. }) => Ok(0),
                Err(e) => Err(e),
            }
        }));
    }
    // Credits report their tokens; a successful spend reports a million (so both fit one sum).
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap().expect("no task fails");
    }
    let (credited, spent) = (total % 1_000_000, total / 1_000_000);
    assert_eq!(credited, 1000, "ten payments credited once each");
    let balance = first.balance(user).await.unwrap();
    assert!(spent <= 1000, "never more spent than credited");
    let left = 1000 - i64::try_from(spent).unwrap();
    assert_eq!((balance.balance, balance.total_spent), (left, spent));
    assert_consistent(&*second, user).await;
}

#[tokio::test]
async fn schema_refuses_edits_of_the_journal() {
    let fresh = common::fresh_sqlite().await;
    let user = fresh_user();
    let p = pending_payment(&*fresh, user, 100, Money::usd_cents(500)).await;
    let provider = ProviderId::new(miniapp_core::conformance::SUITE_PROVIDER).unwrap();
    let event = ProviderEvent {
        id: ProviderEventId::new("evt_1").unwrap(),
        payment_id: Some(p.id.clone()),
        provider_ref: ProviderRef::new("pi_1").unwrap(),
        kind: EventKind::Succeeded { amount: p.price },
    };
    fresh
        .apply_event(&provider, &event, RefundPolicy::Debt)
        .await
        .unwrap();
    let pool = fresh.pool();
    for sql in [
        "UPDATE miniapp_journal SET delta = 1000",
        "DELETE FROM miniapp_journal",
        "DELETE FROM miniapp_provider_events",
        // A second credit of the same payment, written by hand.
        "INSERT INTO miniapp_journal (user_id, kind, delta, balance_after, payment_id, provider, provider_ref, created_at) \
         SELECT user_id, 'credit', 100, 200, payment_id, 'other', 'pi_2', 0 FROM miniapp_journal",
        // A spend below zero.
        "INSERT INTO miniapp_journal (user_id, kind, delta, balance_after, idempotency_key, created_at) \
         SELECT user_id, 'spend', -101, -1, 'k', 0 FROM miniapp_journal",
        // A journal row whose balance_after does not match the balance.
        "INSERT INTO miniapp_journal (user_id, kind, delta, balance_after, idempotency_key, created_at) \
         SELECT user_id, 'spend', -1, 50, 'k2', 0 FROM miniapp_journal",
        "UPDATE miniapp_payments SET tokens_credited = 7",
    ] {
        assert!(
            sqlx::query(sql).execute(pool).await.is_err(),
            "the schema refused: {sql}"
        );
    }
    assert_consistent(&*fresh, user).await;
    assert_eq!(fresh.balance(user).await.unwrap().balance, 100);
}

#[tokio::test]
async fn timestamps_come_from_the_injected_clock() {
    let db = common::fresh_sqlite().await;
    let clock = Arc::new(miniapp_core::clock::ManualClock::at_unix(1_800_000_000));
    let store = db.store.clone().with_clock(clock.clone());
    common::timestamps_follow_the_clock(&store, &clock).await;
}
