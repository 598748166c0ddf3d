//! Mapping of Stripe event bodies (API version 2026-10-28.endive) to core events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use miniapp_core::event::EventKind;
use miniapp_core::money::Money;
use miniapp_core::provider::ProviderError;
use miniapp_stripe::map_event;

fn event(file: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/vectors/events/{file}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const PAYMENT: &str = "pay_0123456789abcdef0123456789abcdef";
const INTENT: &str = "pi_3TC8yfQm4x2TNbYc5e39QVsC";

fn single(file: &str) -> miniapp_core::event::ProviderEvent {
    let mut events = map_event(&event(file)).unwrap();
    assert_eq!(events.len(), 1, "{file}");
    events.remove(0)
}

#[test]
fn paid_session_succeeds_with_its_amount() {
    let e = single("checkout.session.completed.paid");
    assert_eq!(
        e.kind,
        EventKind::Succeeded {
            amount: Money::usd_cents(2500)
        }
    );
    assert_eq!(e.payment_id.as_ref().map(|p| p.as_str()), Some(PAYMENT));
    assert_eq!(
        e.provider_ref.as_str(),
        INTENT,
        "credits are keyed by the payment intent"
    );
    assert!(e.id.as_str().starts_with("evt_"));
}

#[test]
fn unpaid_session_stays_pending() {
    assert_eq!(
        single("checkout.session.completed.unpaid").kind,
        EventKind::Pending
    );
}

#[test]
fn async_outcomes_and_expiry() {
    assert_eq!(
        single("checkout.session.async_payment_succeeded").kind,
        EventKind::Succeeded {
            amount: Money::usd_cents(2500)
        }
    );
    assert_eq!(
        single("checkout.session.async_payment_failed").kind,
        EventKind::Failed
    );
    assert_eq!(single("checkout.session.expired").kind, EventKind::Expired);
}

#[test]
fn refunds_carry_the_cumulative_amount_and_find_the_payment() {
    let partial = single("charge.refunded.partial");
    assert_eq!(
        partial.kind,
        EventKind::Refunded {
            total_refunded: Money::usd_cents(1000)
        }
    );
    assert_eq!(
        partial.payment_id.as_ref().map(|p| p.as_str()),
        Some(PAYMENT)
    );
    assert_eq!(partial.provider_ref.as_str(), INTENT);
    assert_eq!(
        single("charge.refunded.full").kind,
        EventKind::Refunded {
            total_refunded: Money::usd_cents(2500)
        }
    );
}

#[test]
fn disputes_are_found_through_the_payment_intent() {
    let opened = single("charge.dispute.created");
    assert_eq!(
        (opened.kind, opened.payment_id, opened.provider_ref.as_str()),
        (EventKind::DisputeOpened, None, INTENT)
    );
    assert_eq!(
        single("charge.dispute.closed.won").kind,
        EventKind::DisputeClosed { won: true }
    );
    assert_eq!(
        single("charge.dispute.closed.lost").kind,
        EventKind::DisputeClosed { won: false }
    );
}

#[test]
fn unknown_types_are_acknowledged_without_events() {
    assert!(map_event(&event("customer.created")).unwrap().is_empty());
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    for body in [
        &b""[..],
        b"not json",
        b"[]",
        br#"{"id":"evt_1","type":"checkout.session.completed"}"#,
        br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","payment_status":"paid"}}}"#,
        br#"{"id":"evt_1","type":"charge.refunded","data":{"object":{"id":"ch_1"}}}"#,
        br#"{"id":"","type":"charge.refunded","data":{"object":{}}}"#,
        br#"{"id":"evt 1","type":"x","data":{"object":{}}}"#,
    ] {
        let r = map_event(body);
        assert!(matches!(r, Err(ProviderError::MalformedPayload(_))), "{:?} gave {r:?}", String::from_utf8_lossy(body));
    }
}

#[test]
fn adaptive_pricing_is_read_in_our_currency_on_every_api_version() {
    // 2026-10-28.endive: amount_total/currency are ours, the buyer's EUR is in presentment_details.
    let current = single("checkout.session.completed.paid_adaptive");
    // 2025-02-24.acacia: amount_total/currency are the buyer's EUR, ours is in currency_conversion.
    let legacy = single("checkout.session.completed.paid_adaptive_legacy");
    for e in [current, legacy] {
        assert_eq!(
            e.kind,
            EventKind::Succeeded {
                amount: Money::usd_cents(2500)
            },
            "{}",
            e.id
        );
        assert_eq!(e.provider_ref.as_str(), INTENT);
    }
}
