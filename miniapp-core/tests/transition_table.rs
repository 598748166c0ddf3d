//! Every (status, event) pair of the payment state machine, as a table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use miniapp_core::event::{EventKind, FailureReason, ProviderEvent};
use miniapp_core::ids::{ProviderEventId, ProviderRef};
use miniapp_core::money::{Currency, Money};
use miniapp_core::payment::{
    Closure, DisputeState, NoEffect, Payment, PaymentFacts, PaymentStatus, example_pending_payment,
    transition,
};

use PaymentStatus::*;

/// 1000 tokens for $50.00.
fn base() -> Payment {
    let mut p = example_pending_payment();
    p.tokens = miniapp_core::money::TokenAmount::new(1000).unwrap();
    p.price = Money::usd_cents(5000);
    p
}

fn in_status(status: PaymentStatus) -> Payment {
    let mut p = base();
    let paid = |p: &mut Payment| {
        p.facts.paid = Some(p.price);
        p.tokens_credited = 1000;
    };
    match status {
        Created => p.checkout_ref = None,
        Pending => {}
        Succeeded => paid(&mut p),
        PartiallyRefunded => {
            paid(&mut p);
            p.facts.refunded_minor = 2500;
            p.tokens_reversed = 500;
        }
        Refunded => {
            paid(&mut p);
            p.facts.refunded_minor = 5000;
            p.tokens_reversed = 1000;
        }
        Disputed => {
            paid(&mut p);
            p.facts.dispute = DisputeState::Open;
        }
        Failed => p.facts.closure = Some(Closure::Failed),
        Expired => p.facts.closure = Some(Closure::Expired),
        Canceled => p.facts.closure = Some(Closure::Canceled),
        Conflicted => p.facts.paid = Some(Money::usd_cents(500)),
        other => panic!("no fixture for {other:?}"),
    }
    p.status = status;
    p
}

const EVENTS: [&str; 14] = [
    "S", "SA", "SC", "P", "F", "E", "C", "RH", "RF", "RX", "DO", "DW", "DL", "A",
];

fn event(code: &str) -> EventKind {
    match code {
        "S" => EventKind::Succeeded {
            amount: Money::usd_cents(5000),
        },
        "SA" => EventKind::Succeeded {
            amount: Money::usd_cents(500),
        },
        "SC" => EventKind::Succeeded {
            amount: Money::new(5000, Currency::EUR),
        },
        "P" => EventKind::Pending,
        "F" => EventKind::Failed { reason: None },
        "A" => EventKind::AttemptFailed {
            reason: FailureReason::CardDeclined,
        },
        "E" => EventKind::Expired,
        "C" => EventKind::Canceled,
        "RH" => EventKind::Refunded {
            total_refunded: Money::usd_cents(2500),
        },
        "RF" => EventKind::Refunded {
            total_refunded: Money::usd_cents(5000),
        },
        "RX" => EventKind::Refunded {
            total_refunded: Money::new(5000, Currency::EUR),
        },
        "DO" => EventKind::DisputeOpened,
        "DW" => EventKind::DisputeClosed { won: true },
        "DL" => EventKind::DisputeClosed { won: false },
        other => panic!("unknown event code {other}"),
    }
}

/// (status after, tokens credited, tokens reversed) for each event column, per starting status.
fn expected(status: PaymentStatus) -> [(PaymentStatus, u64, u64); 14] {
    let n = |s| (s, 0, 0);
    match status {
        //              S                   SA             SC             P          F          E           C            RH         RF         RX         DO         DW         DL         A
        Created => [
            (Succeeded, 1000, 0),
            n(Conflicted),
            n(Conflicted),
            n(Created),
            n(Failed),
            n(Expired),
            n(Canceled),
            n(Created),
            n(Created),
            n(Created),
            n(Created),
            n(Created),
            n(Created),
            n(Created),
        ],
        Pending => [
            (Succeeded, 1000, 0),
            n(Conflicted),
            n(Conflicted),
            n(Pending),
            n(Failed),
            n(Expired),
            n(Canceled),
            n(Pending),
            n(Pending),
            n(Pending),
            n(Pending),
            n(Pending),
            n(Pending),
            n(Pending),
        ],
        Succeeded => [
            n(Succeeded),
            n(Succeeded),
            n(Succeeded),
            n(Succeeded),
            n(Succeeded),
            n(Succeeded),
            n(Succeeded),
            (PartiallyRefunded, 0, 500),
            (Refunded, 0, 1000),
            n(Succeeded),
            n(Disputed),
            n(Succeeded),
            (Refunded, 0, 1000),
            n(Succeeded),
        ],
        PartiallyRefunded => [
            n(PartiallyRefunded),
            n(PartiallyRefunded),
            n(PartiallyRefunded),
            n(PartiallyRefunded),
            n(PartiallyRefunded),
            n(PartiallyRefunded),
            n(PartiallyRefunded),
            n(PartiallyRefunded),
            (Refunded, 0, 500),
            n(PartiallyRefunded),
            n(Disputed),
            n(PartiallyRefunded),
            (Refunded, 0, 500),
            n(PartiallyRefunded),
        ],
        Refunded => [n(Refunded); 14],
        Disputed => [
            n(Disputed),
            n(Disputed),
            n(Disputed),
            n(Disputed),
            n(Disputed),
            n(Disputed),
            n(Disputed),
            (Disputed, 0, 500),
            (Refunded, 0, 1000),
            n(Disputed),
            n(Disputed),
            n(Succeeded),
            (Refunded, 0, 1000),
            n(Disputed),
        ],
        Failed => [
            (Succeeded, 1000, 0),
            n(Conflicted),
            n(Conflicted),
            n(Failed),
            n(Failed),
            n(Failed),
            n(Failed),
            n(Failed),
            n(Failed),
            n(Failed),
            n(Failed),
            n(Failed),
            n(Failed),
            n(Failed),
        ],
        Expired => [
            (Succeeded, 1000, 0),
            n(Conflicted),
            n(Conflicted),
            n(Expired),
            n(Failed),
            n(Expired),
            n(Canceled),
            n(Expired),
            n(Expired),
            n(Expired),
            n(Expired),
            n(Expired),
            n(Expired),
            n(Expired),
        ],
        Canceled => [
            (Succeeded, 1000, 0),
            n(Conflicted),
            n(Conflicted),
            n(Canceled),
            n(Failed),
            n(Canceled),
            n(Canceled),
            n(Canceled),
            n(Canceled),
            n(Canceled),
            n(Canceled),
            n(Canceled),
            n(Canceled),
            n(Canceled),
        ],
        Conflicted => [n(Conflicted); 14],
        other => panic!("no expectations for {other:?}"),
    }
}

#[test]
fn every_status_event_pair() {
    let mut checked = 0;
    for status in PaymentStatus::ALL {
        let payment = in_status(status);
        for (code, want) in EVENTS.iter().zip(expected(status)) {
            // Expiry and cancellation name the payment's checkout (`cs_example`).
            let reference = if matches!(*code, "E" | "C") {
                "cs_example"
            } else {
                "pi_1"
            };
            let e = ProviderEvent {
                id: ProviderEventId::new(format!("evt_{code}")).unwrap(),
                payment_id: Some(payment.id.clone()),
                provider_ref: ProviderRef::new(reference).unwrap(),
                kind: event(code),
            };
            let d = transition(&payment, &e);
            assert_eq!((d.status, d.credit, d.reverse), want, "{status:?} + {code}");
            // Applying the decision and the same event again changes nothing more.
            let mut after = payment.clone();
            after.facts = d.facts.clone();
            after.status = d.status;
            after.tokens_credited += d.credit;
            after.tokens_reversed += d.reverse;
            let again = transition(&after, &e);
            assert_eq!(
                (again.status, again.credit, again.reverse),
                (d.status, 0, 0),
                "{status:?} + {code} twice"
            );
            assert!(
                again.no_effect.is_some(),
                "{status:?} + {code} twice reports no effect"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, PaymentStatus::ALL.len() * EVENTS.len());
}

#[test]
fn statuses_round_trip_their_names() {
    for s in PaymentStatus::ALL {
        assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(PaymentStatus::parse("paid"), None);
}

#[test]
fn an_expiry_of_another_checkout_leaves_the_payment_open() {
    // A checkout left over from an attempt that was given up expires; the payment's own is open.
    let payment = in_status(Pending);
    for kind in [EventKind::Expired, EventKind::Canceled] {
        let leftover = ProviderEvent {
            id: ProviderEventId::new("evt_leftover").unwrap(),
            payment_id: Some(payment.id.clone()),
            provider_ref: ProviderRef::new("cs_leftover").unwrap(),
            kind: kind.clone(),
        };
        let d = transition(&payment, &leftover);
        assert_eq!(
            (d.status, d.no_effect),
            (Pending, Some(NoEffect::OtherCheckout))
        );
        let own = ProviderEvent {
            provider_ref: ProviderRef::new("cs_example").unwrap(),
            ..leftover
        };
        assert_ne!(transition(&payment, &own).status, Pending, "{kind:?}");
    }
    // Without an attached checkout there is nothing to tell apart: the closure applies.
    let created = in_status(Created);
    let e = ProviderEvent {
        id: ProviderEventId::new("evt_x").unwrap(),
        payment_id: Some(created.id.clone()),
        provider_ref: ProviderRef::new("cs_any").unwrap(),
        kind: EventKind::Expired,
    };
    assert_eq!(transition(&created, &e).status, Expired);
}

#[test]
fn fixtures_are_consistent_with_derivation() {
    // Re-deriving each fixture's status from its facts with a no-op event gives the fixture status.
    for status in PaymentStatus::ALL {
        let p = in_status(status);
        let e = ProviderEvent {
            id: ProviderEventId::new("evt_noop").unwrap(),
            payment_id: None,
            provider_ref: ProviderRef::new("pi_1").unwrap(),
            kind: EventKind::Pending,
        };
        assert_eq!(transition(&p, &e).status, status);
        assert_eq!(
            p.facts == PaymentFacts::default(),
            matches!(status, Created | Pending)
        );
    }
}
