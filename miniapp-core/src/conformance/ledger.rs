//! Ledger conformance: one function per behaviour of the [`LedgerStore`] contract.

use futures_util::future::join_all;

use crate::catalog::PaymentMethod;
use crate::clock::{ClockExt, SystemClock};
use crate::event::{EventKind, ProviderEvent};
use crate::ids::{IdempotencyKey, PaymentId, ProviderEventId, ProviderId, ProviderRef, UserId};
use crate::ledger::{
    CheckoutRecord, ClaimOutcome, EntryKind, HistoryQuery, LedgerError, LedgerStore,
    LedgerStoreExt, NewPayment, NotificationOutbox, RefundQueue, SpendRequest,
};
use crate::money::{Currency, Money, TokenAmount};
use crate::payment::{NoEffect, Payment, PaymentStatus, RefundPolicy};

/// The provider id the ledger suite uses.
pub const SUITE_PROVIDER: &str = "conformance";

fn provider() -> ProviderId {
    ProviderId::new(SUITE_PROVIDER).unwrap()
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("system randomness");
    u64::from_le_bytes(b)
}

/// A user id no other call has used (random, below 2^52 like Telegram's).
pub fn fresh_user() -> UserId {
    UserId::new(i64::try_from(random_u64() >> 12).unwrap().max(1)).unwrap()
}

fn key(prefix: &str) -> IdempotencyKey {
    IdempotencyKey::new(format!("{prefix}-{:016x}", random_u64())).unwrap()
}

fn tokens(n: u64) -> TokenAmount {
    TokenAmount::new(n).unwrap()
}

/// Creates a pending payment of `tokens` for `price` and attaches a checkout.
pub async fn pending_payment(
    store: &dyn LedgerStore,
    user: UserId,
    tokens_: u64,
    price: Money,
) -> Payment {
    let id = PaymentId::generate().unwrap();
    store
        .create_payment(NewPayment {
            id: id.clone(),
            user_id: user,
            provider: provider(),
            method: PaymentMethod::card(),
            tokens: tokens(tokens_),
            price,
            email: None,
            idempotency_key: None,
            language: Some("ru".into()),
        })
        .await
        .expect("create_payment");
    let checkout = CheckoutRecord {
        checkout_ref: ProviderRef::new(format!("cs_{}", id.as_str())).unwrap(),
        url: format!("https://pay.example/{}", id.as_str()),
    };
    let p = store
        .attach_checkout(&id, &checkout)
        .await
        .expect("attach_checkout");
    assert_eq!(
        p.status,
        PaymentStatus::Pending,
        "a payment with a checkout is pending"
    );
    p
}

fn event(payment: &Payment, name: &str, kind: EventKind) -> ProviderEvent {
    // Expiry and cancellation concern the checkout; everything else the money.
    let reference = match kind {
        EventKind::Expired | EventKind::Canceled => format!("cs_{}", payment.id.as_str()),
        _ => format!("pi_{}", payment.id.as_str()),
    };
    ProviderEvent {
        id: ProviderEventId::new(format!("evt_{}_{name}", payment.id.as_str())).unwrap(),
        payment_id: Some(payment.id.clone()),
        provider_ref: ProviderRef::new(reference).unwrap(),
        kind,
    }
}

fn paid(payment: &Payment) -> ProviderEvent {
    event(
        payment,
        "paid",
        EventKind::Succeeded {
            amount: payment.price,
        },
    )
}

async fn apply(
    store: &dyn LedgerStore,
    e: &ProviderEvent,
    policy: RefundPolicy,
) -> crate::ledger::EventReceipt {
    store
        .apply_event(&provider(), e, policy)
        .await
        .expect("apply_event")
}

/// Asserts `balance == sum(journal)`, that `balance_after` of each entry is the running sum, and
/// that only clawbacks go below zero.
pub async fn assert_consistent(store: &dyn LedgerStore, user: UserId) {
    let journal = store.full_journal(user).await.expect("history");
    let balance = store.balance(user).await.expect("balance");
    let mut running = 0i64;
    let mut deposited = 0u64;
    let mut spent = 0u64;
    for e in &journal {
        running += e.delta;
        assert_eq!(
            e.balance_after, running,
            "balance_after of entry {} is the running sum",
            e.id
        );
        match e.kind {
            EntryKind::Credit => {
                assert!(e.delta > 0, "credits are positive");
                deposited += e.delta.unsigned_abs();
            }
            EntryKind::Spend => {
                assert!(e.delta < 0, "spends are negative");
                assert!(running >= 0, "a spend never takes the balance below zero");
                spent += e.delta.unsigned_abs();
            }
            EntryKind::Clawback => assert!(e.delta < 0, "clawbacks are negative"),
            EntryKind::Restore => assert!(e.delta > 0, "restores are positive"),
            EntryKind::Adjustment => {
                assert!(
                    e.delta > 0 || running >= 0,
                    "a negative adjustment never takes the balance below zero"
                );
                assert!(e.actor.is_some(), "an adjustment says who made it");
            }
        }
    }
    assert_eq!(
        balance.balance, running,
        "balance == sum(journal) for user {user}"
    );
    assert_eq!(
        balance.total_deposited, deposited,
        "total_deposited == sum of credits"
    );
    assert_eq!(balance.total_spent, spent, "total_spent == sum of spends");
}

async fn balance_of(store: &dyn LedgerStore, user: UserId) -> i64 {
    store.balance(user).await.expect("balance").balance
}

/// An event applied twice credits once; the second time is reported as a duplicate.
pub async fn event_applied_twice_credits_once(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    let first = apply(store, &paid(&p), RefundPolicy::Debt).await;
    assert_eq!((first.credited, first.duplicate), (500, false));
    assert_eq!(first.payment.status, PaymentStatus::Succeeded);
    assert_consistent(store, user).await;
    let second = apply(store, &paid(&p), RefundPolicy::Debt).await;
    assert_eq!((second.credited, second.duplicate), (0, true));
    // The same fact under a new event id (Stripe's completed + async_payment_succeeded) is a no-op too.
    let mut again = paid(&p);
    again.id = ProviderEventId::new(format!("evt_{}_other", p.id.as_str())).unwrap();
    let third = apply(store, &again, RefundPolicy::Debt).await;
    assert_eq!((third.credited, third.duplicate), (0, false));
    assert_eq!(balance_of(store, user).await, 500);
    assert_consistent(store, user).await;
}

/// 64 concurrent deliveries of the same event credit exactly once.
pub async fn concurrent_duplicate_events_credit_once(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    let e = paid(&p);
    let provider = provider();
    let results =
        join_all((0..64).map(|_| store.apply_event(&provider, &e, RefundPolicy::Debt))).await;
    let mut credited = 0;
    let mut fresh = 0;
    for r in results {
        let r = r.expect("every delivery is answered without error");
        credited += r.credited;
        fresh += usize::from(!r.duplicate);
    }
    assert_eq!(credited, 200, "credited exactly once");
    assert_eq!(fresh, 1, "exactly one delivery is not a duplicate");
    assert_eq!(balance_of(store, user).await, 200);
    assert_consistent(store, user).await;
}

fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let head = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, head.clone());
            out.push(tail);
        }
    }
    out
}

/// Every ordering of one payment's events ends in the same status, balance and counters.
pub async fn event_orderings_converge(store: &dyn LedgerStore) {
    let price = Money::usd_cents(5000);
    type Script = (
        &'static str,
        Vec<(&'static str, EventKind)>,
        PaymentStatus,
        i64,
    );
    let scripts: Vec<Script> = vec![
        (
            "paid, partly and fully refunded",
            vec![
                ("paid", EventKind::Succeeded { amount: price }),
                (
                    "refund1",
                    EventKind::Refunded {
                        total_refunded: Money::usd_cents(1000),
                    },
                ),
                (
                    "refund2",
                    EventKind::Refunded {
                        total_refunded: Money::usd_cents(5000),
                    },
                ),
                ("expired", EventKind::Expired),
            ],
            PaymentStatus::Refunded,
            0,
        ),
        (
            "paid, disputed and won",
            vec![
                ("paid", EventKind::Succeeded { amount: price }),
                ("dispute", EventKind::DisputeOpened),
                ("won", EventKind::DisputeClosed { won: true }),
                ("failed", EventKind::Failed { reason: None }),
            ],
            PaymentStatus::Succeeded,
            1000,
        ),
        (
            "paid, partly refunded, pending noise",
            vec![
                ("pending", EventKind::Pending),
                ("paid", EventKind::Succeeded { amount: price }),
                (
                    "refund",
                    EventKind::Refunded {
                        total_refunded: Money::usd_cents(2500),
                    },
                ),
                ("canceled", EventKind::Canceled),
            ],
            PaymentStatus::PartiallyRefunded,
            500,
        ),
    ];
    for (what, events, status, balance) in scripts {
        for order in permutations(&events) {
            let user = fresh_user();
            let p = pending_payment(store, user, 1000, price).await;
            for (name, kind) in &order {
                apply(store, &event(&p, name, kind.clone()), RefundPolicy::Debt).await;
                assert_consistent(store, user).await;
            }
            let names: Vec<&str> = order.iter().map(|(n, _)| *n).collect();
            let end = store.payment(&p.id).await.unwrap().unwrap();
            assert_eq!(end.status, status, "{what}: order {names:?}");
            assert_eq!(
                balance_of(store, user).await,
                balance,
                "{what}: order {names:?}"
            );
            assert_eq!(end.tokens_credited, 1000, "{what}: order {names:?}");
        }
    }
}

/// Events that arrive after the payment moved on change nothing.
pub async fn stale_events_are_noops(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    for (name, kind) in [
        ("pending", EventKind::Pending),
        ("expired", EventKind::Expired),
        ("failed", EventKind::Failed { reason: None }),
    ] {
        let r = apply(store, &event(&p, name, kind), RefundPolicy::Debt).await;
        assert_eq!(
            r.payment.status,
            PaymentStatus::Succeeded,
            "{name} after success"
        );
        assert_eq!(
            (r.credited, r.clawed_back),
            (0, 0),
            "{name} after success moves no tokens"
        );
    }
    apply(
        store,
        &event(
            &p,
            "refund-all",
            EventKind::Refunded {
                total_refunded: Money::usd_cents(500),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    let r = apply(
        store,
        &event(
            &p,
            "refund-half",
            EventKind::Refunded {
                total_refunded: Money::usd_cents(250),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        r.payment.status,
        PaymentStatus::Refunded,
        "an older, smaller refund total changes nothing"
    );
    assert_eq!(r.clawed_back, 0);
    assert_eq!(balance_of(store, user).await, 0);
    assert_consistent(store, user).await;
}

/// A success with another amount than the price: `conflicted`, nothing credited.
pub async fn amount_mismatch_conflicts(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    let r = apply(
        store,
        &event(
            &p,
            "cheap",
            EventKind::Succeeded {
                amount: Money::usd_cents(500),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (r.payment.status, r.credited),
        (PaymentStatus::Conflicted, 0)
    );
    let r = apply(store, &paid(&p), RefundPolicy::Debt).await;
    assert_eq!(
        (r.payment.status, r.credited),
        (PaymentStatus::Conflicted, 0),
        "a later matching success does not override"
    );
    assert_eq!(balance_of(store, user).await, 0);
    assert_consistent(store, user).await;
}

/// A success in another currency than the price: `conflicted`, nothing credited.
pub async fn currency_mismatch_conflicts(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    let euros = EventKind::Succeeded {
        amount: Money::new(2500, Currency::EUR),
    };
    let r = apply(store, &event(&p, "eur", euros), RefundPolicy::Debt).await;
    assert_eq!(
        (r.payment.status, r.credited),
        (PaymentStatus::Conflicted, 0)
    );
    assert_eq!(balance_of(store, user).await, 0);
    assert_consistent(store, user).await;
}

/// A success that arrives after the checkout expired (or failed) is still credited.
pub async fn success_after_expiry_credits(store: &dyn LedgerStore) {
    for (name, closing) in [
        ("expired", EventKind::Expired),
        ("failed", EventKind::Failed { reason: None }),
        ("canceled", EventKind::Canceled),
    ] {
        let user = fresh_user();
        let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
        let r = apply(store, &event(&p, name, closing), RefundPolicy::Debt).await;
        assert_eq!(r.payment.status.as_str(), name);
        let r = apply(store, &paid(&p), RefundPolicy::Debt).await;
        assert_eq!(
            (r.payment.status, r.credited),
            (PaymentStatus::Succeeded, 100),
            "paid after {name}"
        );
        assert_consistent(store, user).await;
    }
}

/// Partial refunds take back the refunded share of the tokens (rounded up), cumulatively.
pub async fn partial_refunds_reverse_proportionally(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let r = apply(
        store,
        &event(
            &p,
            "r1",
            EventKind::Refunded {
                total_refunded: Money::usd_cents(1000),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (r.payment.status, r.clawed_back),
        (PaymentStatus::PartiallyRefunded, 200)
    );
    let r = apply(
        store,
        &event(
            &p,
            "r2",
            EventKind::Refunded {
                total_refunded: Money::usd_cents(1001),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        r.clawed_back, 1,
        "a cent more refunded takes one more token (rounded up)"
    );
    let r = apply(
        store,
        &event(
            &p,
            "r3",
            EventKind::Refunded {
                total_refunded: Money::usd_cents(2500),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (r.payment.status, r.clawed_back),
        (PaymentStatus::Refunded, 299)
    );
    assert_eq!(r.payment.tokens_reversed, 500);
    let euros = EventKind::Refunded {
        total_refunded: Money::new(9999, Currency::EUR),
    };
    let r = apply(store, &event(&p, "eur", euros), RefundPolicy::Debt).await;
    assert_eq!(
        r.clawed_back, 0,
        "a refund in another currency is not applied"
    );
    assert_eq!(balance_of(store, user).await, 0);
    assert_consistent(store, user).await;
}

async fn spend(
    store: &dyn LedgerStore,
    user: UserId,
    n: u64,
) -> Result<crate::ledger::SpendReceipt, LedgerError> {
    store
        .spend(&SpendRequest {
            user_id: user,
            amount: tokens(n),
            idempotency_key: key("spend"),
            memo: None,
        })
        .await
}

/// Refund after the user spent part of the tokens, policy `Debt`: everything is taken back and
/// the balance goes below zero through a clawback entry.
pub async fn refund_after_partial_spend_creates_debt(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    spend(store, user, 70).await.expect("spend 70 of 100");
    let r = apply(
        store,
        &event(
            &p,
            "refund",
            EventKind::Refunded {
                total_refunded: Money::usd_cents(500),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!((r.clawed_back, r.written_off), (100, 0));
    assert_eq!(
        balance_of(store, user).await,
        -70,
        "the spent 70 tokens are owed"
    );
    let journal = store.full_journal(user).await.unwrap();
    assert_eq!(
        journal.last().map(|e| (e.kind, e.delta)),
        Some((EntryKind::Clawback, -100))
    );
    assert_consistent(store, user).await;
}

/// Refund after partial spend, policy `CapAtZero`: only what is left is taken; the rest is
/// written off on the payment.
pub async fn refund_after_partial_spend_caps_at_zero(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::CapAtZero).await;
    spend(store, user, 70).await.expect("spend 70 of 100");
    let r = apply(
        store,
        &event(
            &p,
            "refund",
            EventKind::Refunded {
                total_refunded: Money::usd_cents(500),
            },
        ),
        RefundPolicy::CapAtZero,
    )
    .await;
    assert_eq!((r.clawed_back, r.written_off), (30, 70));
    assert_eq!(r.payment.tokens_written_off, 70);
    assert_eq!(balance_of(store, user).await, 0);
    assert_consistent(store, user).await;
}

/// While a user owes tokens no spend succeeds; a later purchase repays the debt first.
pub async fn debt_blocks_spending_until_repaid(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    spend(store, user, 100).await.expect("spend all");
    apply(
        store,
        &event(
            &p,
            "refund",
            EventKind::Refunded {
                total_refunded: Money::usd_cents(500),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(balance_of(store, user).await, -100);
    assert!(matches!(
        spend(store, user, 1).await,
        Err(LedgerError::InsufficientFunds {
            balance: -100,
            requested: 1
        })
    ));
    let q = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    apply(store, &paid(&q), RefundPolicy::Debt).await;
    assert_eq!(
        balance_of(store, user).await,
        100,
        "the new credit repays the debt first"
    );
    spend(store, user, 100)
        .await
        .expect("spend after repayment");
    assert_consistent(store, user).await;
}

/// A lost dispute takes all tokens back; a won one leaves them.
pub async fn lost_dispute_claws_back_and_won_dispute_restores(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let r = apply(
        store,
        &event(&p, "open", EventKind::DisputeOpened),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (r.payment.status, r.clawed_back),
        (PaymentStatus::Disputed, 0)
    );
    let r = apply(
        store,
        &event(&p, "lost", EventKind::DisputeClosed { won: false }),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (r.payment.status, r.clawed_back),
        (PaymentStatus::Refunded, 100)
    );

    let q = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    apply(store, &paid(&q), RefundPolicy::Debt).await;
    apply(
        store,
        &event(&q, "open", EventKind::DisputeOpened),
        RefundPolicy::Debt,
    )
    .await;
    let r = apply(
        store,
        &event(&q, "won", EventKind::DisputeClosed { won: true }),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (r.payment.status, r.clawed_back),
        (PaymentStatus::Succeeded, 0)
    );
    assert_eq!(balance_of(store, user).await, 200);
    assert_consistent(store, user).await;
}

/// 200 concurrent spends of 1 token against a balance of 100 succeed exactly 100 times.
pub async fn concurrent_spends_never_overdraw(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let results = join_all((0..200).map(|_| spend(store, user, 1))).await;
    let mut ok = 0;
    for r in results {
        match r {
            Ok(receipt) => {
                assert!(receipt.entry.balance_after >= 0);
                ok += 1;
            }
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(e) => {
                panic!("a spend failed with {e:?} instead of succeeding or InsufficientFunds")
            }
        }
    }
    assert_eq!(ok, 100);
    assert_eq!(balance_of(store, user).await, 0);
    assert_consistent(store, user).await;
}

/// A spend retried with the same key returns the first entry and spends nothing more.
pub async fn spend_is_idempotent(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let request = SpendRequest {
        user_id: user,
        amount: tokens(10),
        idempotency_key: key("gen"),
        memo: Some("image".into()),
    };
    let results = join_all((0..16).map(|_| store.spend(&request))).await;
    let receipts: Vec<_> = results.into_iter().map(|r| r.expect("spend")).collect();
    assert_eq!(
        receipts.iter().filter(|r| !r.replayed).count(),
        1,
        "one spend is new"
    );
    assert!(
        receipts.iter().all(|r| r.entry == receipts[0].entry),
        "all return the same entry"
    );
    assert_eq!(balance_of(store, user).await, 90);
    let other_user = fresh_user();
    let r = store
        .spend(&SpendRequest {
            user_id: other_user,
            ..request.clone()
        })
        .await;
    assert!(
        matches!(r, Err(LedgerError::InsufficientFunds { .. })),
        "keys are per user"
    );
    assert_consistent(store, user).await;
}

/// Reusing a spend key for another amount is refused and spends nothing.
pub async fn spend_key_reuse_with_other_amount_conflicts(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let k = key("reuse");
    store
        .spend(&SpendRequest {
            user_id: user,
            amount: tokens(10),
            idempotency_key: k.clone(),
            memo: None,
        })
        .await
        .unwrap();
    let r = store
        .spend(&SpendRequest {
            user_id: user,
            amount: tokens(20),
            idempotency_key: k,
            memo: None,
        })
        .await;
    assert!(matches!(r, Err(LedgerError::IdempotencyConflict)), "{r:?}");
    assert_eq!(balance_of(store, user).await, 90);
    assert_consistent(store, user).await;
}

/// Spending more than the balance is an error value and records nothing.
pub async fn insufficient_funds_is_an_error(store: &dyn LedgerStore) {
    let user = fresh_user();
    let r = spend(store, user, 1).await;
    assert!(
        matches!(
            r,
            Err(LedgerError::InsufficientFunds {
                balance: 0,
                requested: 1
            })
        ),
        "{r:?}"
    );
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let r = spend(store, user, 101).await;
    assert!(
        matches!(
            r,
            Err(LedgerError::InsufficientFunds {
                balance: 100,
                requested: 101
            })
        ),
        "{r:?}"
    );
    assert_eq!(
        store.full_journal(user).await.unwrap().len(),
        1,
        "only the credit is recorded"
    );
    assert_consistent(store, user).await;
}

/// History is newest first, pages do not overlap or skip, and another user's entries never show.
pub async fn history_is_ordered_and_paged(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 1000, Money::usd_cents(5000)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    for _ in 0..24 {
        spend(store, user, 1).await.unwrap();
    }
    let stranger = fresh_user();
    let q = pending_payment(store, stranger, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&q), RefundPolicy::Debt).await;

    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .history(user, HistoryQuery { before, limit: 10 })
            .await
            .unwrap();
        assert!(page.entries.len() <= 10);
        seen.extend(
            page.entries
                .iter()
                .map(|e| (e.id, e.user_id, e.balance_after)),
        );
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25, "1 credit + 24 spends");
    assert!(
        seen.windows(2).all(|w| w[0].0 > w[1].0),
        "strictly newest first, no repeats"
    );
    assert!(
        seen.iter().all(|(_, u, _)| *u == user),
        "only the user's own entries"
    );
    assert_eq!(
        seen.first().map(|e| e.2),
        Some(976),
        "the newest entry carries the current balance"
    );
    let one = store.history(user, HistoryQuery::latest(0)).await.unwrap();
    assert_eq!(one.entries.len(), 1, "a zero limit is clamped to 1");
    assert_consistent(store, user).await;
}

/// An event for a payment that does not exist is refused and changes nothing.
pub async fn unknown_payment_is_rejected(store: &dyn LedgerStore) {
    let ghost = ProviderEvent {
        id: ProviderEventId::new(format!("evt_ghost_{:x}", random_u64())).unwrap(),
        payment_id: Some(PaymentId::generate().unwrap()),
        provider_ref: ProviderRef::new("pi_ghost").unwrap(),
        kind: EventKind::Succeeded {
            amount: Money::usd_cents(500),
        },
    };
    let r = store
        .apply_event(&provider(), &ghost, RefundPolicy::Debt)
        .await;
    assert!(matches!(r, Err(LedgerError::UnknownPayment)), "{r:?}");
    let by_ref = ProviderEvent {
        payment_id: None,
        ..ghost
    };
    let r = store
        .apply_event(&provider(), &by_ref, RefundPolicy::Debt)
        .await;
    assert!(matches!(r, Err(LedgerError::UnknownPayment)), "{r:?}");
}

/// [`LedgerStore::payment_with_balance`] returns the caller's payment with the caller's current
/// balance, and answers a missing payment and another user's payment alike.
pub async fn payment_with_balance_is_owner_only(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    let (payment, balance) = store.payment_with_balance(user, &p.id).await.unwrap();
    assert_eq!(
        (payment.id.clone(), payment.status),
        (p.id.clone(), PaymentStatus::Pending)
    );
    assert_eq!((balance.user_id, balance.balance), (user, 0));
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let (payment, balance) = store.payment_with_balance(user, &p.id).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!((balance.balance, balance.total_deposited), (200, 200));
    let other = fresh_user();
    let r = store.payment_with_balance(other, &p.id).await;
    assert!(matches!(r, Err(LedgerError::UnknownPayment)), "{r:?}");
    let missing = PaymentId::generate().unwrap();
    let r = store.payment_with_balance(user, &missing).await;
    assert!(matches!(r, Err(LedgerError::UnknownPayment)), "{r:?}");
}

/// [`LedgerStore::pending_payments`] lists pending payments created in the window, newest first,
/// and neither payments that are still `created` (no checkout) nor settled ones.
pub async fn pending_payments_lists_only_pending_in_the_window(store: &dyn LedgerStore) {
    let user = fresh_user();
    let waiting = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    let also_waiting = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    let settled = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    apply(store, &paid(&settled), RefundPolicy::Debt).await;
    let unstarted = PaymentId::generate().unwrap();
    store
        .create_payment(NewPayment {
            id: unstarted.clone(),
            user_id: user,
            provider: provider(),
            method: PaymentMethod::card(),
            tokens: tokens(100),
            price: Money::usd_cents(500),
            email: None,
            idempotency_key: None,
            language: None,
        })
        .await
        .unwrap();
    // Both ends are inclusive.
    let (from, to) = (waiting.created_at, also_waiting.created_at);
    // Other tests may share the store: look only at this test's payments, with room for theirs.
    let listed = store
        .pending_payments(from, to, None, 100_000)
        .await
        .unwrap();
    let ordered = listed
        .windows(2)
        .all(|w| (w[0].created_at, w[0].id.as_str()) > (w[1].created_at, w[1].id.as_str()));
    assert!(ordered, "newest first, no repeats");
    assert!(listed.iter().all(|p| p.status == PaymentStatus::Pending));
    let mine: Vec<&PaymentId> = listed
        .iter()
        .filter(|p| p.user_id == user)
        .map(|p| &p.id)
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(mine.contains(&&waiting.id) && mine.contains(&&also_waiting.id));
    let before = store
        .pending_payments(0, waiting.created_at - 1, None, 100_000)
        .await
        .unwrap();
    assert!(
        before.iter().all(|p| p.user_id != user),
        "outside the window"
    );
    assert!(
        store
            .pending_payments(from, to, None, 0)
            .await
            .unwrap()
            .is_empty(),
        "limit 0"
    );
    // Paging one by one with the last payment as the cursor visits every payment exactly once.
    let mut cursor: Option<Payment> = None;
    let mut paged = Vec::new();
    loop {
        let page = match &cursor {
            None => store.pending_payments(from, to, None, 1).await.unwrap(),
            Some(last) => store
                .pending_payments(from, last.created_at, Some(&last.id), 1)
                .await
                .unwrap(),
        };
        let Some(p) = page.into_iter().next() else {
            break;
        };
        paged.push(p.id.clone());
        cursor = Some(p);
    }
    let all: Vec<PaymentId> = listed.iter().map(|p| p.id.clone()).collect();
    let still_listed: Vec<PaymentId> = paged
        .iter()
        .filter(|id| all.contains(id))
        .cloned()
        .collect();
    assert_eq!(still_listed, all, "paging agrees with one big page");
}

/// An event from provider A never touches a payment of provider B (the sandbox cannot pay a
/// Stripe payment).
pub async fn event_from_other_provider_is_rejected(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    let intruder = ProviderId::new("intruder").unwrap();
    let r = store
        .apply_event(&intruder, &paid(&p), RefundPolicy::Debt)
        .await;
    assert!(matches!(r, Err(LedgerError::UnknownPayment)), "{r:?}");
    let by_checkout = ProviderEvent {
        payment_id: None,
        provider_ref: p.checkout_ref.clone().unwrap(),
        ..paid(&p)
    };
    let r = store
        .apply_event(&intruder, &by_checkout, RefundPolicy::Debt)
        .await;
    assert!(matches!(r, Err(LedgerError::UnknownPayment)), "{r:?}");
    assert_eq!(balance_of(store, user).await, 0);
    // The genuine provider can still pay it, found by its checkout reference alone.
    let r = apply(store, &by_checkout, RefundPolicy::Debt).await;
    assert_eq!(r.credited, 100);
    assert_consistent(store, user).await;
}

/// Creating a payment twice with the same (user, key) returns the first; another order with
/// that key is a conflict; another user may use the same key.
pub async fn payment_creation_is_idempotent(store: &dyn LedgerStore) {
    let user = fresh_user();
    let k = key("tap");
    let new = |id: PaymentId, user: UserId, t: u64, cents: u64| NewPayment {
        id,
        user_id: user,
        provider: provider(),
        method: PaymentMethod::card(),
        tokens: tokens(t),
        price: Money::usd_cents(cents),
        email: Some("a@example.com".into()),
        idempotency_key: Some(k.clone()),
        language: None,
    };
    let first = store
        .create_payment(new(PaymentId::generate().unwrap(), user, 500, 2500))
        .await
        .unwrap();
    let again = store
        .create_payment(new(PaymentId::generate().unwrap(), user, 500, 2500))
        .await
        .unwrap();
    assert_eq!(again.id, first.id, "a double tap returns the first payment");
    let other = store
        .create_payment(new(PaymentId::generate().unwrap(), user, 100, 500))
        .await;
    assert!(
        matches!(other, Err(LedgerError::IdempotencyConflict)),
        "{other:?}"
    );
    let stranger = store
        .create_payment(new(PaymentId::generate().unwrap(), fresh_user(), 500, 2500))
        .await
        .unwrap();
    assert_ne!(stranger.id, first.id);
    let reused_id = store
        .create_payment(NewPayment {
            idempotency_key: None,
            ..new(first.id.clone(), user, 500, 2500)
        })
        .await;
    assert!(reused_id.is_err(), "a payment id is never reused");
    assert_eq!(first.status, PaymentStatus::Created);
    assert_eq!(first.email.as_deref(), Some("a@example.com"));
}

/// Attaching the same checkout twice is a no-op; a different one is refused.
pub async fn checkout_attach_is_idempotent(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    let same = CheckoutRecord {
        checkout_ref: p.checkout_ref.clone().unwrap(),
        url: p.checkout_url.clone().unwrap(),
    };
    let again = store.attach_checkout(&p.id, &same).await.unwrap();
    assert_eq!(again.checkout_ref, p.checkout_ref);
    let other = CheckoutRecord {
        checkout_ref: ProviderRef::new("cs_other").unwrap(),
        url: "https://x.example".into(),
    };
    assert!(matches!(
        store.attach_checkout(&p.id, &other).await,
        Err(LedgerError::CheckoutConflict)
    ));
    let missing = store
        .attach_checkout(&PaymentId::generate().unwrap(), &other)
        .await;
    assert!(
        matches!(missing, Err(LedgerError::UnknownPayment)),
        "{missing:?}"
    );
}

/// Credits, duplicate credits, refunds and spends for a few users all at once keep every
/// balance equal to its journal and every paid payment credited exactly once.
pub async fn concurrent_mixed_traffic_keeps_balances_consistent(store: &dyn LedgerStore) {
    let users: Vec<UserId> = (0..4).map(|_| fresh_user()).collect();
    let mut payments = Vec::new();
    for (i, user) in users.iter().enumerate() {
        for _ in 0..5 {
            payments.push((
                i,
                pending_payment(store, *user, 100, Money::usd_cents(500)).await,
            ));
        }
    }
    let mut work = Vec::new();
    for (_, p) in &payments {
        for _ in 0..3 {
            work.push((Some(paid(p)), None));
        }
    }
    for user in &users {
        for _ in 0..20 {
            work.push((None, Some(*user)));
        }
    }
    let futures = work.iter().map(|(e, u)| async move {
        match (e, u) {
            (Some(e), _) => store
                .apply_event(&provider(), e, RefundPolicy::Debt)
                .await
                .map(|_| ()),
            (_, Some(u)) => match spend(store, *u, 7).await {
                Ok(_) | Err(LedgerError::InsufficientFunds { .. }) => Ok(()),
                Err(e) => Err(e),
            },
            _ => Ok(()),
        }
    });
    for r in join_all(futures).await {
        r.expect("no operation fails");
    }
    for (i, user) in users.iter().enumerate() {
        assert_consistent(store, *user).await;
        let journal = store.full_journal(*user).await.unwrap();
        let credits = journal
            .iter()
            .filter(|e| e.kind == EntryKind::Credit)
            .count();
        assert_eq!(credits, 5, "user {i}: each of 5 payments credited once");
    }
    for (_, p) in &payments {
        let p = store.payment(&p.id).await.unwrap().unwrap();
        assert_eq!(
            (p.status, p.tokens_credited),
            (PaymentStatus::Succeeded, 100)
        );
    }
}

async fn claim_for(
    outbox: &dyn NotificationOutbox,
    ids: &[PaymentId],
    now: u64,
    lease: u64,
) -> Vec<crate::ledger::Notification> {
    outbox
        .claim_notifications(now, lease, 1000)
        .await
        .expect("claim_notifications")
        .into_iter()
        .filter(|n| ids.contains(&n.payment_id))
        .collect()
}

/// A credit enqueues exactly one notification (in its transaction); redeliveries and other
/// events enqueue nothing; a claim hands it out once.
pub async fn credit_enqueues_one_notification(
    store: &dyn LedgerStore,
    outbox: &dyn NotificationOutbox,
) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    let q = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let mut again = paid(&p);
    again.id = ProviderEventId::new(format!("evt_{}_again", p.id.as_str())).unwrap();
    apply(store, &again, RefundPolicy::Debt).await;
    apply(
        store,
        &event(&q, "expired", EventKind::Expired),
        RefundPolicy::Debt,
    )
    .await;
    let now = SystemClock.unix_now();
    let ids = [p.id.clone(), q.id.clone()];
    let claimed = claim_for(outbox, &ids, now, 60).await;
    assert_eq!(
        claimed.len(),
        1,
        "one notification, for the credited payment only: {claimed:?}"
    );
    let n = &claimed[0];
    assert_eq!(
        (&n.payment_id, n.user_id, n.tokens.get(), n.amount),
        (&p.id, user, 500, Money::usd_cents(2500))
    );
    assert_eq!((n.language.as_deref(), n.attempts), (Some("ru"), 0));
    assert_eq!(n.provider, provider(), "the provider that took the money");
    assert!(
        claim_for(outbox, &ids, now, 60).await.is_empty(),
        "a claimed notification is not handed out again"
    );
    outbox
        .finish_notification(&p.id, &crate::ledger::ClaimOutcome::Done, now)
        .await
        .expect("finish");
    assert!(
        claim_for(outbox, &ids, now + 3600, 60).await.is_empty(),
        "a sent notification is never handed out again"
    );
}

/// A retry waits for its time; a permanent failure stops; a claim whose sender vanished is not
/// sent again (at most once).
pub async fn notification_retry_failure_and_stale_claims(
    store: &dyn LedgerStore,
    outbox: &dyn NotificationOutbox,
) {
    use crate::ledger::ClaimOutcome;
    let user = fresh_user();
    let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    let q = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    apply(store, &paid(&q), RefundPolicy::Debt).await;
    let now = SystemClock.unix_now();
    let ids = [p.id.clone(), q.id.clone()];
    assert_eq!(
        claim_for(outbox, &ids, now, 60).await.len(),
        2,
        "both claimed"
    );
    let retry = ClaimOutcome::Retry {
        not_before: now + 100,
        error: "429 Too Many Requests".into(),
    };
    outbox
        .finish_notification(&p.id, &retry, now)
        .await
        .expect("finish");
    // q's sender dies without an outcome; by now + 99 its lease (now + 60) has run out.
    assert!(
        claim_for(outbox, &ids, now + 99, 60).await.is_empty(),
        "p not before its time; q never again"
    );
    let second = claim_for(outbox, &ids, now + 100, 60).await;
    let got: Vec<(&PaymentId, u32)> = second.iter().map(|n| (&n.payment_id, n.attempts)).collect();
    assert_eq!(
        got,
        [(&p.id, 1)],
        "only the retry, with its attempt count; the unknown outcome is not resent"
    );
    let failed = ClaimOutcome::Failed {
        error: "Forbidden: bot was blocked by the user".into(),
    };
    outbox
        .finish_notification(&p.id, &failed, now + 100)
        .await
        .expect("finish");
    assert!(
        claim_for(outbox, &ids, now + 10_000, 60).await.is_empty(),
        "a failure is final"
    );
    let late = outbox
        .finish_notification(&q.id, &ClaimOutcome::Done, now + 10_000)
        .await;
    assert!(
        late.is_err(),
        "an outcome for a claim that expired is refused"
    );
}

/// Claimers racing each other never receive the same notification.
pub async fn concurrent_claims_never_share(
    store: &dyn LedgerStore,
    outbox: &dyn NotificationOutbox,
) {
    let user = fresh_user();
    let mut ids = Vec::new();
    for _ in 0..10 {
        let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
        apply(store, &paid(&p), RefundPolicy::Debt).await;
        ids.push(p.id);
    }
    let now = SystemClock.unix_now();
    let batches = join_all((0..8).map(|_| outbox.claim_notifications(now, 60, 3))).await;
    let mut seen: Vec<PaymentId> = Vec::new();
    for batch in batches {
        for n in batch.expect("claim_notifications") {
            if ids.contains(&n.payment_id) {
                assert!(
                    !seen.contains(&n.payment_id),
                    "{} handed out twice",
                    n.payment_id
                );
                seen.push(n.payment_id);
            }
        }
    }
    let rest = claim_for(outbox, &ids, now, 60).await;
    assert_eq!(
        seen.len() + rest.len(),
        10,
        "every notification handed out exactly once"
    );
}

async fn unstarted_payment(store: &dyn LedgerStore, user: UserId, tokens_: u64) -> Payment {
    store
        .create_payment(NewPayment {
            id: PaymentId::generate().unwrap(),
            user_id: user,
            provider: provider(),
            method: PaymentMethod::card(),
            tokens: tokens(tokens_),
            price: Money::usd_cents(tokens_ * 5),
            email: None,
            idempotency_key: None,
            language: None,
        })
        .await
        .expect("create_payment")
}

/// [`LedgerStore::abandon_checkout_attempt`] moves a `created` payment to its next checkout
/// attempt exactly once per failed attempt (two concurrent give-ups of one attempt move it once),
/// and never touches a payment whose checkout is attached.
pub async fn failed_checkout_attempt_moves_on_once(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = unstarted_payment(store, user, 100).await;
    assert_eq!(p.checkout_attempt, 0, "a new payment is on attempt 0");
    let racing = join_all((0..4).map(|_| store.abandon_checkout_attempt(&p.id, 0))).await;
    for r in racing {
        r.expect("abandon_checkout_attempt");
    }
    let after = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(
        after.checkout_attempt, 1,
        "four give-ups of attempt 0 move it once"
    );
    assert_eq!(after.status, PaymentStatus::Created);
    let stale = store.abandon_checkout_attempt(&p.id, 0).await.unwrap();
    assert_eq!(stale.checkout_attempt, 1, "a stale give-up changes nothing");
    assert_eq!(
        store
            .abandon_checkout_attempt(&p.id, 1)
            .await
            .unwrap()
            .checkout_attempt,
        2
    );
    let opened = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    let kept = store
        .abandon_checkout_attempt(&opened.id, opened.checkout_attempt)
        .await
        .unwrap();
    assert_eq!(
        (
            kept.checkout_attempt,
            kept.status,
            kept.checkout_url.is_some()
        ),
        (0, PaymentStatus::Pending, true),
        "a payment with a checkout keeps its attempt"
    );
    assert!(matches!(
        store
            .abandon_checkout_attempt(&PaymentId::generate().unwrap(), 0)
            .await,
        Err(LedgerError::UnknownPayment)
    ));
}

/// [`LedgerStore::open_payments`] lists exactly the user's `created` and `pending` payments from
/// `created_from` on, newest first, and nothing settled or of another user.
pub async fn open_payments_lists_only_the_users_open_payments(store: &dyn LedgerStore) {
    let user = fresh_user();
    let unstarted = unstarted_payment(store, user, 100).await;
    let waiting = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    let settled = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    apply(store, &paid(&settled), RefundPolicy::Debt).await;
    let expired = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    apply(
        store,
        &event(&expired, "expired", EventKind::Expired),
        RefundPolicy::Debt,
    )
    .await;
    pending_payment(store, fresh_user(), 100, Money::usd_cents(500)).await;
    let open = store
        .open_payments(user, unstarted.created_at)
        .await
        .unwrap();
    let mut ids: Vec<&PaymentId> = open.iter().map(|p| &p.id).collect();
    ids.sort();
    let mut expected = vec![&unstarted.id, &waiting.id];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(
        open.windows(2)
            .all(|w| (w[0].created_at, &w[0].id) > (w[1].created_at, &w[1].id)),
        "newest first"
    );
    assert!(
        store
            .open_payments(user, waiting.created_at + 3600)
            .await
            .unwrap()
            .is_empty(),
        "created_from excludes older payments"
    );
    assert!(
        store
            .open_payments(user, waiting.created_at)
            .await
            .unwrap()
            .iter()
            .any(|p| p.id == waiting.id),
        "created_from is inclusive"
    );
}

/// [`LedgerStore::unstarted_payments`] lists `created` payments older than the cut-off, oldest
/// first, and never a payment with a checkout.
pub async fn unstarted_payments_lists_only_created_ones(store: &dyn LedgerStore) {
    let user = fresh_user();
    let unstarted = unstarted_payment(store, user, 100).await;
    let waiting = pending_payment(store, user, 100, Money::usd_cents(500)).await;
    // Other tests may share the store: look only at this test's payments.
    let listed = store
        .unstarted_payments(unstarted.created_at + 1, 100_000)
        .await
        .unwrap();
    assert!(listed.iter().all(|p| p.status == PaymentStatus::Created));
    assert!(listed.iter().any(|p| p.id == unstarted.id));
    assert!(!listed.iter().any(|p| p.id == waiting.id));
    assert!(
        listed
            .windows(2)
            .all(|w| (w[0].created_at, &w[0].id) < (w[1].created_at, &w[1].id)),
        "oldest first"
    );
    assert!(
        !store
            .unstarted_payments(unstarted.created_at, 100_000)
            .await
            .unwrap()
            .iter()
            .any(|p| p.id == unstarted.id),
        "the cut-off is exclusive"
    );
    assert!(
        store
            .unstarted_payments(unstarted.created_at + 1, 0)
            .await
            .unwrap()
            .is_empty(),
        "limit 0"
    );
    let one = store
        .unstarted_payments(unstarted.created_at + 1, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1, "limit 1");
    assert_eq!(one[0].id, listed[0].id, "the oldest");
}

/// The same event, about another charge of the payment (reference `pi2_…`).
fn second_charge(payment: &Payment, name: &str, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider_ref: ProviderRef::new(format!("pi2_{}", payment.id.as_str())).unwrap(),
        ..event(payment, name, kind)
    }
}

/// A second successful capture under another reference credits nothing, changes nothing, and
/// says so in the receipt ([`NoEffect::DuplicateCharge`]); a repeat of the first capture under a
/// new event id is only [`NoEffect::AlreadyKnown`].
pub async fn a_second_capture_is_reported_and_credits_nothing(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    let first = apply(store, &paid(&p), RefundPolicy::Debt).await;
    assert_eq!((first.credited, first.no_effect), (500, None));
    let again = apply(
        store,
        &event(&p, "paid_again", EventKind::Succeeded { amount: p.price }),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (again.credited, again.no_effect),
        (0, Some(NoEffect::AlreadyKnown))
    );
    for (name, amount) in [("twice", p.price), ("twice_cheaper", Money::usd_cents(500))] {
        let r = apply(
            store,
            &second_charge(&p, name, EventKind::Succeeded { amount }),
            RefundPolicy::Debt,
        )
        .await;
        assert_eq!(
            (r.duplicate, r.credited, r.no_effect),
            (false, 0, Some(NoEffect::DuplicateCharge)),
            "{name}"
        );
        assert_eq!(r.payment.status, PaymentStatus::Succeeded, "{name}");
        assert_eq!(
            r.payment.payment_ref.as_ref().map(ProviderRef::as_str),
            Some(format!("pi_{}", p.id.as_str()).as_str()),
            "the credited charge stays the payment's"
        );
    }
    assert_eq!(balance_of(store, user).await, 500);
    assert_consistent(store, user).await;
}

/// Refunds and disputes of a duplicate charge take back none of the tokens the credited charge
/// bought ([`NoEffect::OtherCharge`]); the credited charge's own refund still does.
pub async fn refunds_and_disputes_of_another_charge_take_nothing_back(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    apply(
        store,
        &second_charge(&p, "twice", EventKind::Succeeded { amount: p.price }),
        RefundPolicy::Debt,
    )
    .await;
    for (name, kind) in [
        (
            "refund2",
            EventKind::Refunded {
                total_refunded: p.price,
            },
        ),
        ("dispute2", EventKind::DisputeOpened),
        ("lost2", EventKind::DisputeClosed { won: false }),
    ] {
        let r = apply(store, &second_charge(&p, name, kind), RefundPolicy::Debt).await;
        assert_eq!(
            (r.clawed_back, r.no_effect, r.payment.status),
            (0, Some(NoEffect::OtherCharge), PaymentStatus::Succeeded),
            "{name}"
        );
    }
    assert_eq!(balance_of(store, user).await, 500);
    let own = apply(
        store,
        &event(
            &p,
            "refund1",
            EventKind::Refunded {
                total_refunded: p.price,
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (own.clawed_back, own.no_effect, own.payment.status),
        (500, None, PaymentStatus::Refunded)
    );
    assert_eq!(balance_of(store, user).await, 0);
    assert_consistent(store, user).await;
}

/// A refund in another currency than the payment's is not applied and the receipt says why.
pub async fn a_refund_in_another_currency_is_reported(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let r = apply(
        store,
        &event(
            &p,
            "refund_eur",
            EventKind::Refunded {
                total_refunded: Money::new(2500, Currency::EUR),
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (r.clawed_back, r.no_effect, r.payment.status),
        (
            0,
            Some(NoEffect::CurrencyMismatch),
            PaymentStatus::Succeeded
        )
    );
    assert_eq!(balance_of(store, user).await, 500);
    assert_consistent(store, user).await;
}

/// A duplicate charge enqueues exactly one refund of that charge, whatever redelivers it (the same
/// event id, or another event about the same extra charge); the credited charge is never queued.
pub async fn duplicate_charge_enqueues_one_refund(
    store: &dyn LedgerStore,
    refunds: &dyn RefundQueue,
) {
    let user = fresh_user();
    let p = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    assert!(
        refunds
            .claim_refunds(u64::MAX / 2, 60, 10)
            .await
            .unwrap()
            .is_empty(),
        "a single charge is not refunded"
    );
    let twice = second_charge(&p, "twice", EventKind::Succeeded { amount: p.price });
    apply(store, &twice, RefundPolicy::Debt).await;
    apply(store, &twice, RefundPolicy::Debt).await;
    let other_event_same_charge =
        second_charge(&p, "twice_again", EventKind::Succeeded { amount: p.price });
    apply(store, &other_event_same_charge, RefundPolicy::Debt).await;
    let now = SystemClock.unix_now();
    let claimed = refunds.claim_refunds(now, 60, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "one refund per extra charge: {claimed:?}");
    let r = &claimed[0];
    assert_eq!(
        (
            &r.payment_id,
            r.user_id,
            r.provider.as_str(),
            r.charge_ref.as_str(),
            r.amount,
            r.attempts
        ),
        (
            &p.id,
            user,
            SUITE_PROVIDER,
            format!("pi2_{}", p.id.as_str()).as_str(),
            p.price,
            0
        )
    );
    assert_eq!(
        balance_of(store, user).await,
        500,
        "the refund queue moves no tokens"
    );
}

/// Claims are exclusive while leased and handed out again after the lease (refunding is
/// idempotent at the provider); `Retry` waits for its time; `Refunded` and `Failed` end it.
pub async fn refund_claims_lease_retry_and_end(store: &dyn LedgerStore, refunds: &dyn RefundQueue) {
    let user = fresh_user();
    for _ in 0..3 {
        let p = pending_payment(store, user, 100, Money::usd_cents(500)).await;
        apply(store, &paid(&p), RefundPolicy::Debt).await;
        apply(
            store,
            &second_charge(&p, "twice", EventKind::Succeeded { amount: p.price }),
            RefundPolicy::Debt,
        )
        .await;
    }
    let now = SystemClock.unix_now();
    let first = refunds.claim_refunds(now, 60, 2).await.unwrap();
    assert_eq!(first.len(), 2, "the limit holds");
    let rest = refunds.claim_refunds(now, 60, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "leased claims are not handed out twice");
    assert!(
        refunds
            .claim_refunds(now + 30, 60, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let [a, b] = [&first[0], &first[1]];
    refunds
        .finish_refund(&a.provider, &a.charge_ref, &ClaimOutcome::Done, now)
        .await
        .unwrap();
    refunds
        .finish_refund(
            &b.provider,
            &b.charge_ref,
            &ClaimOutcome::Retry {
                not_before: now + 300,
                error: "provider unavailable".into(),
            },
            now,
        )
        .await
        .unwrap();
    // The third claim's worker died: after its lease it is handed out again.
    let again = refunds.claim_refunds(now + 61, 60, 10).await.unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].charge_ref, rest[0].charge_ref);
    refunds
        .finish_refund(
            &again[0].provider,
            &again[0].charge_ref,
            &ClaimOutcome::Failed {
                error: "refused".into(),
            },
            now + 61,
        )
        .await
        .unwrap();
    let retried = refunds.claim_refunds(now + 300, 60, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (&retried[0].charge_ref, retried[0].attempts),
        (&b.charge_ref, 1)
    );
    assert!(
        refunds
            .finish_refund(&a.provider, &a.charge_ref, &ClaimOutcome::Done, now + 300)
            .await
            .is_err(),
        "an ended refund cannot be finished again"
    );
    let later = refunds.claim_refunds(now + 10_000, 60, 10).await.unwrap();
    assert_eq!(
        later.iter().map(|r| &r.charge_ref).collect::<Vec<_>>(),
        vec![&b.charge_ref],
        "only the unfinished claim comes back; refunded and failed ones never do"
    );
}

/// A refund or dispute naming only the charge, as Stripe sends them (no metadata on disputes).
fn by_charge(payment: &Payment, name: &str, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        payment_id: None,
        ..event(payment, name, kind)
    }
}

async fn apply_or_hold(store: &dyn LedgerStore, e: &ProviderEvent) -> crate::ledger::Applied {
    store
        .apply_or_hold(&provider(), e, RefundPolicy::Debt)
        .await
        .expect("apply_or_hold")
}

async fn held_for(store: &dyn LedgerStore, payment: &Payment) -> Vec<String> {
    let charge = ProviderRef::new(format!("pi_{}", payment.id.as_str())).unwrap();
    store
        .held_events(Some((&provider(), &charge)), 0, 100)
        .await
        .expect("held_events")
        .into_iter()
        .map(|h| h.event.id.as_str().to_owned())
        .collect()
}

/// Refunds and disputes that overtake their payment's success (they name only the charge, which
/// no payment knows yet) are kept and applied once the success lands, exactly once: every order
/// of {success, partial refund, dispute opened, dispute won or lost}, each event delivered twice,
/// ends in the state, balance and counters of the natural order, with nothing left held.
pub async fn early_events_end_as_in_natural_order(store: &dyn LedgerStore) {
    let price = Money::usd_cents(5000);
    for won in [true, false] {
        let script = [
            ("paid", EventKind::Succeeded { amount: price }),
            (
                "refund",
                EventKind::Refunded {
                    total_refunded: Money::usd_cents(1000),
                },
            ),
            ("dispute", EventKind::DisputeOpened),
            ("closed", EventKind::DisputeClosed { won }),
        ];
        let mut natural = None;
        for order in std::iter::once(script.to_vec()).chain(permutations(&script)) {
            let user = fresh_user();
            let p = pending_payment(store, user, 1000, price).await;
            for (name, kind) in &order {
                let e = match kind {
                    EventKind::Succeeded { .. } => event(&p, name, kind.clone()),
                    _ => by_charge(&p, name, kind.clone()),
                };
                apply_or_hold(store, &e).await;
                apply_or_hold(store, &e).await;
                assert_consistent(store, user).await;
            }
            let names: Vec<&str> = order.iter().map(|(n, _)| *n).collect();
            let end = store.payment(&p.id).await.unwrap().unwrap();
            let seen = (
                end.status,
                end.facts.clone(),
                end.tokens_credited,
                end.tokens_reversed,
                balance_of(store, user).await,
            );
            match &natural {
                None => {
                    let expected = if won {
                        (PaymentStatus::PartiallyRefunded, 800)
                    } else {
                        (PaymentStatus::Refunded, 0)
                    };
                    assert_eq!((seen.0, seen.4), expected, "natural order, won: {won}");
                    natural = Some(seen);
                }
                Some(n) => assert_eq!(&seen, n, "order {names:?}, won: {won}"),
            }
            assert!(
                held_for(store, &p).await.is_empty(),
                "nothing stays held once the success landed: order {names:?}"
            );
        }
    }
}

/// A held event whose success was applied without releasing it (the process died in between) is
/// applied by [`LedgerStoreExt::release_held`], once; an event naming a payment we do not have is
/// not ours and is not held.
pub async fn held_events_are_released_by_the_sweep_once(store: &dyn LedgerStore) {
    let user = fresh_user();
    let p = pending_payment(store, user, 1000, Money::usd_cents(5000)).await;
    let dispute = by_charge(&p, "dispute", EventKind::DisputeOpened);
    assert_eq!(
        apply_or_hold(store, &dispute).await,
        crate::ledger::Applied::Held
    );
    store
        .hold_event(&provider(), &dispute)
        .await
        .expect("holding again is a no-op");
    assert_eq!(held_for(store, &p).await, vec![dispute.id.as_str()]);
    // The success, applied by a process that dies before releasing anything.
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let before = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(before.status, PaymentStatus::Succeeded);
    let since = SystemClock.unix_now().saturating_sub(3600);
    let released = store
        .release_held(since, 1000, RefundPolicy::Debt)
        .await
        .expect("release_held");
    let ours: Vec<_> = released
        .iter()
        .filter(|(h, _)| h.event.id == dispute.id)
        .collect();
    assert_eq!(ours.len(), 1, "released once");
    assert_eq!(ours[0].1.payment.status, PaymentStatus::Disputed);
    assert!(held_for(store, &p).await.is_empty());
    let again = store
        .release_held(since, 1000, RefundPolicy::Debt)
        .await
        .expect("release_held");
    assert!(again.iter().all(|(h, _)| h.event.id != dispute.id));
    assert_eq!(
        store.payment(&p.id).await.unwrap().unwrap().status,
        PaymentStatus::Disputed
    );
    // Not ours: names a payment id we never issued.
    let foreign = ProviderEvent {
        payment_id: Some(PaymentId::generate().unwrap()),
        ..by_charge(&p, "foreign_refund", EventKind::DisputeOpened)
    };
    let r = store
        .apply_or_hold(&provider(), &foreign, RefundPolicy::Debt)
        .await;
    assert!(matches!(r, Err(LedgerError::UnknownPayment)), "{r:?}");
    let listed = store
        .held_events(None, 0, 10_000)
        .await
        .expect("held_events");
    assert!(listed.iter().all(|h| h.event.id != foreign.id));
}

/// The history catch-up's cursor is kept per provider, replaced on save, and cut at 500
/// characters.
pub async fn provider_cursors_are_kept_per_provider(store: &dyn LedgerStore) {
    let a = ProviderId::new(format!("hist_a_{:x}", random_u64() & 0xffff_ffff)).unwrap();
    let b = ProviderId::new(format!("hist_b_{:x}", random_u64() & 0xffff_ffff)).unwrap();
    assert_eq!(store.provider_cursor(&a).await.unwrap(), None);
    store.save_provider_cursor(&a, "evt_1").await.unwrap();
    store.save_provider_cursor(&b, "1795000000").await.unwrap();
    store.save_provider_cursor(&a, "evt_2").await.unwrap();
    assert_eq!(
        store.provider_cursor(&a).await.unwrap().as_deref(),
        Some("evt_2")
    );
    assert_eq!(
        store.provider_cursor(&b).await.unwrap().as_deref(),
        Some("1795000000")
    );
    store
        .save_provider_cursor(&b, &"x".repeat(600))
        .await
        .unwrap();
    assert_eq!(
        store.provider_cursor(&b).await.unwrap().map(|c| c.len()),
        Some(500)
    );
}

/// A refund that fails after it took tokens back gives them back, once however many events say
/// it failed, and a later refund still takes its share: every order of {success, the charge's
/// cumulative refund, refund A reported, A failed, refund B reported} ends partially refunded with
/// only B's share taken. Under cap-at-zero, what was written off is un-written first.
pub async fn a_failed_refund_gives_back_what_it_took_once(store: &dyn LedgerStore) {
    let price = Money::usd_cents(5000);
    let refund = |id: &str, cents: u64, failed: bool| EventKind::RefundUpdated {
        refund: ProviderRef::new(id).unwrap(),
        amount: Money::usd_cents(cents),
        failed,
    };
    let script = [
        ("paid", EventKind::Succeeded { amount: price }),
        (
            "cumulative",
            EventKind::Refunded {
                total_refunded: price,
            },
        ),
        ("a", refund("re_a", 5000, false)),
        ("a_failed", refund("re_a", 5000, true)),
        ("b", refund("re_b", 2000, false)),
    ];
    for order in permutations(&script) {
        let user = fresh_user();
        let p = pending_payment(store, user, 1000, price).await;
        for (name, kind) in &order {
            apply(store, &event(&p, name, kind.clone()), RefundPolicy::Debt).await;
        }
        let names: Vec<&str> = order.iter().map(|(n, _)| *n).collect();
        let again = apply(
            store,
            &event(&p, "a_failed_again", refund("re_a", 5000, true)),
            RefundPolicy::Debt,
        )
        .await;
        assert_eq!(
            (again.restored, again.no_effect),
            (0, Some(NoEffect::AlreadyKnown)),
            "a second report of the failure gives nothing back: {names:?}"
        );
        let end = store.payment(&p.id).await.unwrap().unwrap();
        assert_eq!(
            (end.status, end.tokens_reversed),
            (PaymentStatus::PartiallyRefunded, 400),
            "{names:?}"
        );
        assert_eq!(balance_of(store, user).await, 600, "{names:?}");
        assert_consistent(store, user).await;
    }
    // In order, the failure itself gives back everything the refund took.
    let user = fresh_user();
    let p = pending_payment(store, user, 1000, price).await;
    apply(store, &paid(&p), RefundPolicy::Debt).await;
    let taken = apply(
        store,
        &event(&p, "cumulative", script[1].1.clone()),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (taken.clawed_back, taken.payment.status),
        (1000, PaymentStatus::Refunded)
    );
    let failed = apply(
        store,
        &event(&p, "a_failed", refund("re_a", 5000, true)),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(
        (
            failed.restored,
            failed.payment.status,
            failed.payment.tokens_reversed
        ),
        (1000, PaymentStatus::Succeeded, 0)
    );
    assert_eq!(balance_of(store, user).await, 1000);
    // Cap-at-zero: 900 spent, so the refund took 100 and wrote 900 off; its failure un-writes the
    // 900 and gives the 100 back.
    let user = fresh_user();
    let p = pending_payment(store, user, 1000, price).await;
    apply(store, &paid(&p), RefundPolicy::CapAtZero).await;
    spend(store, user, 900).await.expect("spend");
    let taken = apply(
        store,
        &event(&p, "cumulative", script[1].1.clone()),
        RefundPolicy::CapAtZero,
    )
    .await;
    assert_eq!((taken.clawed_back, taken.written_off), (100, 900));
    let failed = apply(
        store,
        &event(&p, "a_failed", refund("re_a", 5000, true)),
        RefundPolicy::CapAtZero,
    )
    .await;
    assert_eq!(failed.restored, 100);
    assert_eq!(
        (
            failed.payment.tokens_reversed,
            failed.payment.tokens_written_off
        ),
        (0, 0)
    );
    assert_eq!(balance_of(store, user).await, 100);
    assert_consistent(store, user).await;
}

/// A user in debt (refunds after spending, debt policy) can still be credited, and a failed
/// refund can still give tokens back, when the balance stays below zero afterwards: only a
/// clawback may take a balance below zero, but any positive entry may leave a debt smaller.
pub async fn positive_entries_may_leave_a_debt_smaller(store: &dyn LedgerStore) {
    let user = fresh_user();
    let price = Money::usd_cents(5000);
    let p1 = pending_payment(store, user, 1000, price).await;
    let p2 = pending_payment(store, user, 1000, price).await;
    apply(store, &paid(&p1), RefundPolicy::Debt).await;
    apply(store, &paid(&p2), RefundPolicy::Debt).await;
    spend(store, user, 2000).await.expect("spend");
    for p in [&p1, &p2] {
        let full = EventKind::Refunded {
            total_refunded: price,
        };
        apply(store, &event(p, "refund", full), RefundPolicy::Debt).await;
    }
    assert_eq!(balance_of(store, user).await, -2000);
    let failed = apply(
        store,
        &event(
            &p1,
            "refund_failed",
            EventKind::RefundUpdated {
                refund: ProviderRef::new("re_p1").unwrap(),
                amount: price,
                failed: true,
            },
        ),
        RefundPolicy::Debt,
    )
    .await;
    assert_eq!(failed.restored, 1000);
    assert_eq!(balance_of(store, user).await, -1000);
    let p3 = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    let credited = apply(store, &paid(&p3), RefundPolicy::Debt).await;
    assert_eq!(credited.credited, 500);
    assert_eq!(balance_of(store, user).await, -500);
    assert!(
        matches!(
            spend(store, user, 1).await,
            Err(LedgerError::InsufficientFunds { .. })
        ),
        "still in debt: no spending"
    );
    assert_consistent(store, user).await;
}

/// A failure's reason is stored with the payment and read back: every code round-trips; the
/// first reason reported is kept (a later failure with another reason or none changes nothing);
/// a failed attempt records its reason but leaves the checkout open, and a success after it is
/// credited as usual.
pub async fn failure_reason_is_kept_with_the_payment(store: &dyn LedgerStore) {
    use crate::event::FailureReason;
    let price = Money::usd_cents(500);
    let user = fresh_user();
    for reason in FailureReason::ALL {
        let p = pending_payment(store, user, 100, price).await;
        let failed = EventKind::Failed {
            reason: Some(reason),
        };
        let r = apply(store, &event(&p, "failed", failed), RefundPolicy::Debt).await;
        assert_eq!(
            (r.payment.status, r.payment.facts.failure_reason),
            (PaymentStatus::Failed, Some(reason)),
            "the receipt carries {reason}"
        );
        let stored = store.payment(&p.id).await.unwrap().unwrap();
        assert_eq!(
            stored.facts.failure_reason,
            Some(reason),
            "{reason} is read back"
        );
        let (with_balance, _) = store.payment_with_balance(user, &p.id).await.unwrap();
        assert_eq!(with_balance.facts.failure_reason, Some(reason));
    }

    // The first reason wins; a later report without one does not erase it.
    let p = pending_payment(store, user, 100, price).await;
    let first = EventKind::Failed {
        reason: Some(FailureReason::InsufficientFunds),
    };
    apply(store, &event(&p, "first", first), RefundPolicy::Debt).await;
    for (name, kind) in [
        ("bare", EventKind::Failed { reason: None }),
        (
            "other",
            EventKind::Failed {
                reason: Some(FailureReason::CardDeclined),
            },
        ),
        (
            "attempt",
            EventKind::AttemptFailed {
                reason: FailureReason::ExpiredCard,
            },
        ),
    ] {
        let r = apply(store, &event(&p, name, kind), RefundPolicy::Debt).await;
        assert_eq!(
            r.no_effect,
            Some(NoEffect::AlreadyKnown),
            "{name}: nothing new"
        );
        let stored = store.payment(&p.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.status, stored.facts.failure_reason),
            (
                PaymentStatus::Failed,
                Some(FailureReason::InsufficientFunds)
            ),
            "{name} after the first reason"
        );
    }

    // A failure without a reason stores none; a reason reported later is learnt.
    let p = pending_payment(store, user, 100, price).await;
    apply(
        store,
        &event(&p, "bare", EventKind::Failed { reason: None }),
        RefundPolicy::Debt,
    )
    .await;
    let stored = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.facts.failure_reason),
        (PaymentStatus::Failed, None)
    );
    let late = EventKind::Failed {
        reason: Some(FailureReason::IncorrectCvc),
    };
    let r = apply(store, &event(&p, "late", late), RefundPolicy::Debt).await;
    assert_eq!(r.no_effect, None, "a first reason is news");
    let stored = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(
        stored.facts.failure_reason,
        Some(FailureReason::IncorrectCvc)
    );

    // A failed attempt keeps the checkout open: still pending, and paying it credits.
    let p = pending_payment(store, user, 100, price).await;
    let attempt = EventKind::AttemptFailed {
        reason: FailureReason::CardDeclined,
    };
    let r = apply(store, &event(&p, "attempt", attempt), RefundPolicy::Debt).await;
    assert_eq!((r.payment.status, r.credited), (PaymentStatus::Pending, 0));
    let stored = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.facts.failure_reason),
        (PaymentStatus::Pending, Some(FailureReason::CardDeclined))
    );
    let before = balance_of(store, user).await;
    let r = apply(store, &paid(&p), RefundPolicy::Debt).await;
    assert_eq!(
        (r.payment.status, r.credited),
        (PaymentStatus::Succeeded, 100),
        "paid after a failed attempt"
    );
    assert_eq!(balance_of(store, user).await, before + 100);
    let stored = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(
        stored.facts.failure_reason,
        Some(FailureReason::CardDeclined)
    );
    assert_consistent(store, user).await;
}

/// A store that announces status changes ([`LedgerStore::watch_status`]) announces each one
/// after it committed: the checkout making a payment pending, its success, its refund; a store
/// that announces none says so and is not checked further.
pub async fn status_changes_are_announced(store: &dyn LedgerStore) {
    use std::sync::{Arc, Mutex};
    let heard: Arc<Mutex<Vec<PaymentId>>> = Arc::default();
    let sink = heard.clone();
    if !store.watch_status(Arc::new(move |id: &PaymentId| {
        sink.lock().unwrap().push(id.clone());
    })) {
        return;
    }
    let count = |id: &PaymentId| heard.lock().unwrap().iter().filter(|h| *h == id).count();
    let price = Money::usd_cents(500);
    let p = pending_payment(store, fresh_user(), 100, price).await;
    assert!(count(&p.id) >= 1, "created → pending is announced");
    let before = count(&p.id);
    let paid = EventKind::Succeeded { amount: price };
    let r = apply(store, &event(&p, "paid", paid), RefundPolicy::Debt).await;
    assert_eq!(r.payment.status, PaymentStatus::Succeeded);
    assert!(count(&p.id) > before, "the success is announced");
    let other = pending_payment(store, fresh_user(), 100, price).await;
    let refunded = EventKind::Refunded {
        total_refunded: price,
    };
    let before = count(&p.id);
    apply(store, &event(&p, "refund", refunded), RefundPolicy::Debt).await;
    assert!(count(&p.id) > before, "the refund is announced");
    assert_eq!(
        count(&other.id),
        1,
        "another payment is announced only for its own change"
    );
}
