//! Model-based property test: random sequences of create / pay / refund / dispute / spend against
//! the in-memory store and a deliberately simple model of what the balances must be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::collections::HashMap;

use miniapp_core::catalog::Catalog;
use miniapp_core::conformance::{assert_consistent, pending_payment};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{IdempotencyKey, ProviderEventId, ProviderId, ProviderRef, UserId};
use miniapp_core::ledger::{InMemoryLedger, LedgerError, LedgerStore, SpendRequest};
use miniapp_core::money::{Currency, Money, TokenAmount};
use miniapp_core::payment::{Payment, PaymentStatus, RefundPolicy};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create {
        user: usize,
        package: usize,
    },
    Pay {
        payment: usize,
        redelivery: u8,
        wrong_amount: bool,
    },
    Refund {
        payment: usize,
        quarters: u64,
    },
    LoseDispute {
        payment: usize,
    },
    Expire {
        payment: usize,
    },
    Spend {
        user: usize,
        amount: u64,
        key: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..4usize).prop_map(|(user, package)| Op::Create { user, package }),
        4 => (0..12usize, 0..2u8, prop::bool::weighted(0.1))
            .prop_map(|(payment, redelivery, wrong_amount)| Op::Pay { payment, redelivery, wrong_amount }),
        2 => (0..12usize, 1..=4u64).prop_map(|(payment, quarters)| Op::Refund { payment, quarters }),
        1 => (0..12usize).prop_map(|payment| Op::LoseDispute { payment }),
        1 => (0..12usize).prop_map(|payment| Op::Expire { payment }),
        4 => (0..3usize, 1..400u64, 0..6u8).prop_map(|(user, amount, key)| Op::Spend { user, amount, key }),
    ]
}

#[derive(Debug, Default)]
struct ModelPayment {
    tokens: u64,
    price: u64,
    user: usize,
    paid: bool,
    conflicted: bool,
    refunded: u64,
    lost: bool,
    reversed: u64,
}

impl ModelPayment {
    fn reversal_target(&self) -> u64 {
        if !self.paid || self.conflicted {
            0
        } else if self.lost || self.refunded >= self.price {
            self.tokens
        } else {
            (self.tokens * self.refunded).div_ceil(self.price)
        }
    }

    fn status(&self) -> PaymentStatus {
        match (self.conflicted, self.paid) {
            (true, _) => PaymentStatus::Conflicted,
            (false, true) if self.lost || self.refunded >= self.price => PaymentStatus::Refunded,
            (false, true) if self.refunded > 0 => PaymentStatus::PartiallyRefunded,
            (false, true) => PaymentStatus::Succeeded,
            (false, false) => PaymentStatus::Pending, // expiry is checked separately
        }
    }
}

#[derive(Debug, Default)]
struct Model {
    payments: Vec<ModelPayment>,
    balances: [i64; 3],
    spends: HashMap<(usize, u8), u64>,
}

impl Model {
    /// Applies reversals that became due, returning nothing: balances move as the spec says.
    fn settle(&mut self, index: usize) {
        let p = &mut self.payments[index];
        let target = p.reversal_target();
        if target > p.reversed {
            self.balances[p.user] -= i64::try_from(target - p.reversed).unwrap();
            p.reversed = target;
        }
    }
}

fn provider() -> ProviderId {
    ProviderId::new(miniapp_core::conformance::SUITE_PROVIDER).unwrap()
}

fn ev(p: &Payment, name: String, kind: EventKind) -> ProviderEvent {
    // Expiry concerns the checkout (the one `pending_payment` attached); the rest the money.
    let reference = match kind {
        EventKind::Expired | EventKind::Canceled => format!("cs_{}", p.id),
        _ => format!("pi_{}", p.id),
    };
    ProviderEvent {
        id: ProviderEventId::new(format!("evt_{}_{name}", p.id)).unwrap(),
        payment_id: Some(p.id.clone()),
        provider_ref: ProviderRef::new(reference).unwrap(),
        kind,
    }
}

async fn run(ops: Vec<Op>) {
    let store = InMemoryLedger::new();
    let users: Vec<UserId> = (0..3)
        .map(|_| miniapp_core::conformance::fresh_user())
        .collect();
    let catalog = Catalog::default();
    let mut model = Model::default();
    let mut payments: Vec<Payment> = Vec::new();
    for op in ops {
        match op {
            Op::Create { user, package } => {
                let pkg = &catalog.packages()[package];
                let price = pkg.price_in(Currency::USD).unwrap();
                payments
                    .push(pending_payment(&store, users[user], pkg.tokens().get(), price).await);
                model.payments.push(ModelPayment {
                    tokens: pkg.tokens().get(),
                    price: price.minor_units(),
                    user,
                    ..ModelPayment::default()
                });
            }
            Op::Pay {
                payment,
                redelivery,
                wrong_amount,
            } => {
                let Some(p) = payments.get(payment) else {
                    continue;
                };
                let amount = if wrong_amount {
                    Money::usd_cents(1)
                } else {
                    p.price
                };
                let name = format!("pay{redelivery}{wrong_amount}");
                store
                    .apply_event(
                        &provider(),
                        &ev(p, name, EventKind::Succeeded { amount }),
                        RefundPolicy::Debt,
                    )
                    .await
                    .unwrap();
                let m = &mut model.payments[payment];
                if !m.paid {
                    m.paid = true;
                    m.conflicted = wrong_amount;
                    if !wrong_amount {
                        model.balances[m.user] += i64::try_from(m.tokens).unwrap();
                    }
                }
                model.settle(payment);
            }
            Op::Refund { payment, quarters } => {
                let Some(p) = payments.get(payment) else {
                    continue;
                };
                let total = p.price.minor_units() * quarters / 4;
                let kind = EventKind::Refunded {
                    total_refunded: Money::usd_cents(total),
                };
                store
                    .apply_event(
                        &provider(),
                        &ev(p, format!("refund{quarters}"), kind),
                        RefundPolicy::Debt,
                    )
                    .await
                    .unwrap();
                let m = &mut model.payments[payment];
                m.refunded = m.refunded.max(total);
                model.settle(payment);
            }
            Op::LoseDispute { payment } => {
                let Some(p) = payments.get(payment) else {
                    continue;
                };
                let kind = EventKind::DisputeClosed { won: false };
                store
                    .apply_event(&provider(), &ev(p, "lost".into(), kind), RefundPolicy::Debt)
                    .await
                    .unwrap();
                model.payments[payment].lost = true;
                model.settle(payment);
            }
            Op::Expire { payment } => {
                let Some(p) = payments.get(payment) else {
                    continue;
                };
                store
                    .apply_event(
                        &provider(),
                        &ev(p, "expired".into(), EventKind::Expired),
                        RefundPolicy::Debt,
                    )
                    .await
                    .unwrap();
            }
            Op::Spend { user, amount, key } => {
                let request = SpendRequest {
                    user_id: users[user],
                    amount: TokenAmount::new(amount).unwrap(),
                    idempotency_key: IdempotencyKey::new(format!("key{key}")).unwrap(),
                    memo: None,
                };
                let result = store.spend(&request).await;
                match model.spends.get(&(user, key)) {
                    Some(&first) if first == amount => assert!(result.unwrap().replayed),
                    Some(_) => assert!(matches!(result, Err(LedgerError::IdempotencyConflict))),
                    None if model.balances[user] >= i64::try_from(amount).unwrap() => {
                        assert!(!result.unwrap().replayed);
                        model.balances[user] -= i64::try_from(amount).unwrap();
                        model.spends.insert((user, key), amount);
                    }
                    None => assert!(
                        matches!(result, Err(LedgerError::InsufficientFunds { .. })),
                        "{result:?}"
                    ),
                }
            }
        }
        for (i, user) in users.iter().enumerate() {
            assert_eq!(
                store.balance(*user).await.unwrap().balance,
                model.balances[i],
                "user {i}"
            );
        }
    }
    for (p, m) in payments.iter().zip(&model.payments) {
        let stored = store.payment(&p.id).await.unwrap().unwrap();
        if m.paid || m.conflicted {
            assert_eq!(stored.status, m.status(), "{m:?}");
        } else {
            assert!(
                matches!(
                    stored.status,
                    PaymentStatus::Pending | PaymentStatus::Expired
                ),
                "{m:?}"
            );
        }
    }
    for user in &users {
        assert_consistent(&store, *user).await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run(ops));
    }
}
