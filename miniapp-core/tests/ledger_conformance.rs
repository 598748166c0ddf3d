//! The in-memory reference store runs the whole ledger conformance suite, plus a true
//! multi-threaded race (tasks spawned on a multi-threaded runtime rather than joined on one).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::sync::Arc;

use miniapp_core::conformance::{assert_consistent, fresh_user, pending_payment};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{IdempotencyKey, ProviderEventId, ProviderId, ProviderRef};
use miniapp_core::ledger::{InMemoryLedger, LedgerError, LedgerStore, SpendRequest};
use miniapp_core::money::{Money, TokenAmount};
use miniapp_core::payment::RefundPolicy;

miniapp_core::ledger_conformance!(async { Arc::new(InMemoryLedger::new()) });

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawned_tasks_race_on_credit_and_spend() {
    let store = Arc::new(InMemoryLedger::new());
    let user = fresh_user();
    let p = pending_payment(&*store, user, 100, Money::usd_cents(500)).await;
    let provider = ProviderId::new(miniapp_core::conformance::SUITE_PROVIDER).unwrap();
    let event = ProviderEvent {
        id: ProviderEventId::new("evt_race").unwrap(),
        payment_id: Some(p.id.clone()),
        provider_ref: ProviderRef::new("pi_race").unwrap(),
        kind: EventKind::Succeeded { amount: p.price },
    };
    let mut credits = Vec::new();
    for _ in 0..64 {
        let (store, provider, event) = (store.clone(), provider.clone(), event.clone());
        credits.push(tokio::spawn(async move {
            store
                .apply_event(&provider, &event, RefundPolicy::Debt)
                .await
        }));
    }
    let mut credited = 0;
    for c in credits {
        credited += c.await.unwrap().unwrap().credited;
    }
    assert_eq!(credited, 100);
    let mut spends = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        spends.push(tokio::spawn(async move {
            let key = IdempotencyKey::new(format!("k{i}")).unwrap();
            store
                .spend(&SpendRequest {
                    user_id: user,
                    amount: TokenAmount::new(1).unwrap(),
                    idempotency_key: key,
                    memo: None,
                })
                .await
        }));
    }
    let mut ok = 0;
    for s in spends {
        match s.await.unwrap() {
            Ok(_) => ok += 1,
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 100);
    assert_consistent(&*store, user).await;
}
