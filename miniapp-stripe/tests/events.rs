//! Mapping of Stripe event bodies (API version 2026-10-28.endive) to core events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use miniapp_core::event::{EventKind, FailureReason};
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
        EventKind::Failed { reason: None },
        "the session names its payment intent by id: no reason in this event"
    );
    assert_eq!(single("checkout.session.expired").kind, EventKind::Expired);
}

#[test]
fn a_declined_attempt_carries_its_reason_and_leaves_the_checkout_open() {
    let e = single("payment_intent.payment_failed");
    assert_eq!(
        e.kind,
        EventKind::AttemptFailed {
            reason: FailureReason::InsufficientFunds
        },
        "card_declined with decline_code insufficient_funds"
    );
    assert_eq!(e.payment_id.as_ref().map(|p| p.as_str()), Some(PAYMENT));
    assert_eq!(
        e.provider_ref.as_str(),
        INTENT,
        "the payment intent the success will name"
    );
}

/// The vector's `last_payment_error` replaced by `error`, mapped.
fn reason_for(error: serde_json::Value) -> EventKind {
    let mut body: serde_json::Value =
        serde_json::from_slice(&event("payment_intent.payment_failed")).unwrap();
    body["data"]["object"]["last_payment_error"] = error;
    let mut events = map_event(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(events.len(), 1);
    events.remove(0).kind
}

#[test]
fn stripe_codes_map_to_reasons_a_buyer_may_be_told() {
    use FailureReason::*;
    let cases = [
        // decline_code first
        (
            Some("card_declined"),
            Some("insufficient_funds"),
            InsufficientFunds,
        ),
        (Some("card_declined"), Some("generic_decline"), CardDeclined),
        (Some("card_declined"), Some("do_not_honor"), CardDeclined),
        // never "stolen" or "fraudulent": a generic decline
        (Some("card_declined"), Some("lost_card"), CardDeclined),
        (Some("card_declined"), Some("stolen_card"), CardDeclined),
        (Some("card_declined"), Some("fraudulent"), CardDeclined),
        (Some("card_declined"), Some("pickup_card"), CardDeclined),
        (Some("card_declined"), Some("expired_card"), ExpiredCard),
        (Some("card_declined"), Some("incorrect_cvc"), IncorrectCvc),
        (
            Some("card_declined"),
            Some("processing_error"),
            ProcessingError,
        ),
        (
            Some("card_declined"),
            Some("try_again_later"),
            ProcessingError,
        ),
        (
            Some("card_declined"),
            Some("authentication_required"),
            AuthenticationFailed,
        ),
        (
            Some("card_declined"),
            Some("a_code_stripe_adds_later"),
            CardDeclined,
        ),
        // then code
        (Some("card_declined"), None, CardDeclined),
        (Some("expired_card"), None, ExpiredCard),
        (Some("incorrect_cvc"), None, IncorrectCvc),
        (Some("processing_error"), None, ProcessingError),
        (Some("authentication_required"), None, AuthenticationFailed),
        (
            Some("payment_intent_authentication_failure"),
            None,
            AuthenticationFailed,
        ),
        (Some("incorrect_number"), None, Other),
        (None, None, Other),
    ];
    for (code, decline_code, want) in cases {
        let error =
            serde_json::json!({"type": "card_error", "code": code, "decline_code": decline_code});
        assert_eq!(
            reason_for(error),
            EventKind::AttemptFailed { reason: want },
            "code {code:?}, decline_code {decline_code:?}"
        );
    }
    assert_eq!(
        reason_for(serde_json::Value::Null),
        EventKind::AttemptFailed { reason: Other },
        "a failure without an error object"
    );
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

/// Refunds one by one: the Refund of a full refund, and the same Refund failing later (both
/// event types Stripe sends for it map to the same fact, so the tokens come back once).
#[test]
fn a_refund_that_fails_later_is_reported_as_failed_once_per_refund() {
    use miniapp_core::event::EventKind;
    let created = single("refund.created");
    let failed = single("refund.failed");
    let updated = single("charge.refund.updated.failed");
    let EventKind::RefundUpdated {
        refund,
        amount,
        failed: false,
    } = &created.kind
    else {
        panic!("{created:?}");
    };
    assert_eq!(amount.minor_units(), 2500);
    assert!(refund.as_str().starts_with("re_"));
    assert!(created.provider_ref.as_str().starts_with("pi_"));
    assert_eq!(
        created.payment_id, None,
        "refunds made in the dashboard carry no metadata"
    );
    for e in [&failed, &updated] {
        assert_eq!(
            e.kind,
            EventKind::RefundUpdated {
                refund: refund.clone(),
                amount: *amount,
                failed: true
            }
        );
        assert_eq!(e.provider_ref, created.provider_ref);
    }
    assert_ne!(failed.id, updated.id, "two events, one fact");
}

/// The Stripe story of a refund that failed, from the SDK-shaped vectors, through the ledger:
/// paid and credited, fully refunded (tokens taken back), then the refund fails (both of
/// Stripe's failure events, twice each): the tokens come back once and the payment is paid
/// again.
#[tokio::test]
async fn a_stripe_refund_that_fails_gives_the_tokens_back_once() {
    use miniapp_core::catalog::PaymentMethod;
    use miniapp_core::ids::{PaymentId, ProviderId, UserId};
    use miniapp_core::ledger::{
        CheckoutRecord, InMemoryLedger, LedgerStore, LedgerStoreExt, NewPayment,
    };
    use miniapp_core::money::TokenAmount;
    use miniapp_core::payment::{PaymentStatus, RefundPolicy};

    let ledger = InMemoryLedger::new();
    let stripe = ProviderId::new("stripe").unwrap();
    let user = UserId::new(279_058_397).unwrap();
    let id = PaymentId::new(PAYMENT).unwrap();
    ledger
        .create_payment(NewPayment {
            id: id.clone(),
            user_id: user,
            provider: stripe.clone(),
            method: PaymentMethod::card(),
            tokens: TokenAmount::new(500).unwrap(),
            price: Money::usd_cents(2500),
            email: None,
            idempotency_key: None,
            language: None,
        })
        .await
        .unwrap();
    let session = single("checkout.session.completed.paid");
    let checkout = match &session.kind {
        EventKind::Succeeded { .. } => "cs_vector",
        other => panic!("{other:?}"),
    };
    ledger
        .attach_checkout(
            &id,
            &CheckoutRecord {
                checkout_ref: checkout.parse().unwrap(),
                url: "https://checkout.stripe.com/c/pay/cs_vector".into(),
            },
        )
        .await
        .unwrap();
    let mut balances = Vec::new();
    for file in [
        "checkout.session.completed.paid",
        "charge.refunded.full",
        "refund.created",
        "refund.failed",
        "charge.refund.updated.failed",
        "refund.failed",
        "charge.refund.updated.failed",
    ] {
        ledger
            .apply_or_hold(&stripe, &single(file), RefundPolicy::Debt)
            .await
            .unwrap();
        balances.push(ledger.balance(user).await.unwrap().balance);
    }
    assert_eq!(balances, [500, 0, 0, 500, 500, 500, 500]);
    let end = ledger.payment(&id).await.unwrap().unwrap();
    assert_eq!(
        (end.status, end.tokens_reversed),
        (PaymentStatus::Succeeded, 0)
    );
    let kinds: Vec<&str> = ledger
        .full_journal(user)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["credit", "clawback", "restore"]);
}

#[test]
fn an_unknown_type_of_any_shape_is_acknowledged_and_a_session_of_a_wrong_shape_is_not() {
    // The object is first read as a session (the common case) in the same pass as the event;
    // a type we do not map must still be acknowledged whatever its object holds.
    for body in [
        br#"{"id":"evt_1","type":"customer.created","data":{"object":{"id":5,"status":{"a":1},"metadata":null,"payment_intent":7}}}"#.as_slice(),
        br#"{"id":"evt_1","type":"invoice.paid","data":{"object":[1,2,3]}}"#,
        br#"{"data":{"object":"x"},"type":"payout.paid","id":"evt_1"}"#,
    ] {
        assert!(map_event(body).unwrap().is_empty(), "{}", String::from_utf8_lossy(body));
    }
    let wrong = br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","payment_status":"paid","amount_total":"500","currency":"usd"}}}"#;
    assert!(matches!(
        map_event(wrong),
        Err(ProviderError::MalformedPayload(_))
    ));
    let not_utf8 = b"{\"id\":\"evt_1\",\"type\":\"customer.created\",\"data\":{\"object\":{\"name\":\"\xff\"}}}";
    assert!(matches!(
        map_event(not_utf8),
        Err(ProviderError::MalformedPayload(_))
    ));
}

#[test]
fn escaped_strings_in_an_event_read_like_plain_ones() {
    // Strings are borrowed from the body when they have no escapes and decoded when they do:
    // both must give the same payment, reference and amount.
    let plain = String::from_utf8(event("checkout.session.completed.paid")).unwrap();
    let escaped = plain
        .replace(PAYMENT, &PAYMENT.replace('_', "\\u005f"))
        .replace(INTENT, &INTENT.replace("pi_", "pi\\u005f"))
        .replace("\"usd\"", "\"\\u0075sd\"");
    assert_ne!(plain, escaped, "the vector holds the strings escaped here");
    assert_eq!(
        map_event(escaped.as_bytes()).unwrap(),
        map_event(plain.as_bytes()).unwrap()
    );
    let e = single("checkout.session.completed.paid");
    assert_eq!(e.payment_id.unwrap().as_str(), PAYMENT);
    assert_eq!(e.provider_ref.as_str(), INTENT);
}
