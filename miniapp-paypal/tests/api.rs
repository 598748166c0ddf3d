//! The PayPal provider against a fake PayPal on loopback (`tests/support/fake.rs`): what it sends,
//! the token cache, capture once, refunds, hostile webhooks, PayPal's own sample events, and the
//! provider conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use miniapp_core::clock::{Clock, ManualClock};
use miniapp_core::conformance::{self, ProviderHarness, Scenario};
use miniapp_core::event::{EventKind, FailureReason};
use miniapp_core::ids::{ProviderId, ProviderRef};
use miniapp_core::ledger::{
    ChargeRefund, CheckoutRecord, InMemoryLedger, LedgerStore, NewPayment, RefundReason,
};
use miniapp_core::money::{Currency, Money};
use miniapp_core::payment::RefundPolicy;
use miniapp_core::provider::{
    Checkout, CheckoutRequest, PaymentProvider, ProviderError, WebhookRequest,
};
use miniapp_paypal::{PayPalConfig, PayPalEnvironment, PayPalProvider};
use serde_json::{Value, json};
use support::fake::{self, Fake};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn provider_for(fake: &Fake, webhook_id: &str) -> PayPalProvider {
    let config = PayPalConfig::new(
        fake::CLIENT_ID,
        fake::CLIENT_SECRET,
        webhook_id,
        PayPalEnvironment::Sandbox,
        "https://bot.example",
    )
    .with_api_base(&fake.base)
    .unwrap();
    PayPalProvider::new(config).unwrap()
}

async fn setup() -> (Fake, PayPalProvider) {
    let fake = Fake::start().await;
    let provider = provider_for(&fake, fake::WEBHOOK_ID);
    (fake, provider)
}

/// A provider whose approvals are checked against a ledger ([`PayPalProvider::with_ledger`]);
/// [`hold`] puts payments into it.
async fn setup_holding() -> (Fake, PayPalProvider, Arc<InMemoryLedger>) {
    let (fake, paypal) = setup().await;
    let ledger = Arc::new(InMemoryLedger::new());
    (fake, paypal.with_ledger(ledger.clone()), ledger)
}

/// `r`'s payment in `ledger`, with `checkout` as its checkout.
async fn hold(ledger: &InMemoryLedger, r: &CheckoutRequest, checkout: &Checkout) {
    ledger
        .create_payment(NewPayment {
            id: r.payment_id.clone(),
            user_id: r.user_id,
            provider: ProviderId::new("paypal").unwrap(),
            method: miniapp_core::catalog::PaymentMethod::new("paypal").unwrap(),
            tokens: r.tokens,
            price: r.price,
            email: None,
            idempotency_key: None,
            language: None,
        })
        .await
        .unwrap();
    ledger
        .attach_checkout(
            &r.payment_id,
            &CheckoutRecord {
                checkout_ref: checkout.checkout_ref.clone(),
                url: checkout.url.clone(),
            },
        )
        .await
        .unwrap();
}

fn request() -> CheckoutRequest {
    conformance::checkout_request(Money::usd_cents(2500))
}

/// The pending payment `r` became once `checkout` was attached, as reconciliation sees it.
fn payment_for(r: &CheckoutRequest, checkout: &Checkout) -> miniapp_core::payment::Payment {
    let mut payment = miniapp_core::payment::example_pending_payment();
    payment.id = r.payment_id.clone();
    payment.checkout_ref = Some(checkout.checkout_ref.clone());
    payment.created_at = r.created_at;
    payment
}

/// A fresh order of a payment `ledger` holds, approved by its buyer, and PayPal's
/// `CHECKOUT.ORDER.APPROVED` for it.
async fn approved(
    fake: &Fake,
    paypal: &PayPalProvider,
    ledger: &InMemoryLedger,
) -> (CheckoutRequest, Checkout, String, WebhookRequest) {
    let r = request();
    let checkout = paypal.create_checkout(&r).await.unwrap();
    hold(ledger, &r, &checkout).await;
    let order = checkout.checkout_ref.as_str().to_owned();
    fake.approve(&order);
    let webhook = fake.webhook(
        "CHECKOUT.ORDER.APPROVED",
        "checkout-order",
        fake.order_json(&order),
    );
    (r, checkout, order, webhook)
}

async fn parse(
    p: &PayPalProvider,
    w: &WebhookRequest,
) -> Result<Vec<miniapp_core::event::ProviderEvent>, ProviderError> {
    p.parse_webhook(w, SystemTime::now()).await
}

#[tokio::test]
async fn an_order_is_created_as_paypal_documents_it() {
    let (fake, paypal) = setup().await;
    let r = request();
    let checkout = paypal.create_checkout(&r).await.unwrap();
    assert!(
        checkout
            .url
            .starts_with("https://www.sandbox.paypal.com/checkoutnow?token="),
        "the payer-action link: {}",
        checkout.url
    );
    assert_eq!(
        checkout.expires_at,
        Some(r.created_at + 3 * 3600),
        "PayPal's three-hour approval window"
    );
    let token = &fake.requests("/v1/oauth2/token")[0];
    assert_eq!(token.body, b"grant_type=client_credentials");
    let sent = &fake.requests("/v2/checkout/orders")[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.header("paypal-request-id"),
        Some(format!("miniapp-order-{}", r.payment_id).as_str())
    );
    assert!(
        sent.header("authorization")
            .unwrap()
            .starts_with("Bearer A21AAF")
    );
    let body = sent.json();
    let unit = &body["purchase_units"][0];
    assert_eq!(body["intent"], "CAPTURE");
    assert_eq!(body["purchase_units"].as_array().unwrap().len(), 1);
    assert_eq!(
        unit["amount"],
        json!({"currency_code": "USD", "value": "25.00"})
    );
    assert_eq!(unit["custom_id"], r.payment_id.as_str());
    assert_eq!(unit["invoice_id"], r.payment_id.as_str());
    let context = &body["payment_source"]["paypal"]["experience_context"];
    assert_eq!(
        context["return_url"],
        format!(
            "https://bot.example/api/miniapp/checkout-return?payment_id={}&checkout=success",
            r.payment_id
        )
    );
    assert_eq!(
        context["cancel_url"],
        format!(
            "https://bot.example/api/miniapp/checkout-return?payment_id={}&checkout=cancel",
            r.payment_id
        )
    );
    assert_eq!(context["shipping_preference"], "NO_SHIPPING");
    assert_eq!(context["user_action"], "PAY_NOW");
}

/// The fake is checked against what PayPal's official Node SDK sends (recorded vectors), not
/// against our client: it accepts the SDK's token and create-order requests byte for byte, and
/// our request carries the same headers and body fields as the SDK's.
#[tokio::test]
async fn the_fake_accepts_what_the_official_sdk_sends() {
    let fake = Fake::start().await;
    let vectors: Vec<Value> =
        serde_json::from_str(include_str!("vectors/sdk-requests.json")).unwrap();
    let http = reqwest::Client::new();
    let send = |v: &Value, token: Option<&str>| {
        let mut req = http.request(
            v["method"].as_str().unwrap().parse().unwrap(),
            format!("{}{}", fake.base, v["path"].as_str().unwrap()),
        );
        for h in v["headers"].as_array().unwrap() {
            let (name, value) = (h[0].as_str().unwrap(), h[1].as_str().unwrap());
            if ["host", "content-length", "connection", "accept-encoding"]
                .contains(&name.to_ascii_lowercase().as_str())
            {
                continue;
            }
            if name.eq_ignore_ascii_case("authorization") && token.is_some() {
                continue;
            }
            req = req.header(name, value);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.body(v["body"].as_str().unwrap().to_owned()).send()
    };
    let token_request = &vectors[0];
    assert_eq!(token_request["path"], "/v1/oauth2/token");
    let answer: Value = serde_json::from_str(
        &send(token_request, None)
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let create = &vectors[1];
    assert_eq!(create["path"], "/v2/checkout/orders");
    let created = send(create, Some(&token)).await.unwrap();
    assert_eq!(created.status(), 201);

    // Ours, beside the SDK's.
    let paypal = provider_for(&fake, fake::WEBHOOK_ID);
    paypal.create_checkout(&request()).await.unwrap();
    let ours = fake.requests("/v2/checkout/orders").pop().unwrap();
    let sdk_body: Value = serde_json::from_str(create["body"].as_str().unwrap()).unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&ours.json()), keys(&sdk_body));
    for field in ["amount", "custom_id", "invoice_id"] {
        assert!(
            ours.json()["purchase_units"][0].get(field).is_some(),
            "{field}"
        );
    }
    for header in ["paypal-request-id", "content-type", "prefer", "accept"] {
        assert!(ours.header(header).is_some(), "{header}");
    }
}

#[tokio::test]
async fn the_token_is_cached_renewed_when_revoked_and_fetched_once_at_a_time() {
    let (fake, paypal) = setup().await;
    let paypal = std::sync::Arc::new(paypal);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let paypal = paypal.clone();
            tokio::spawn(async move { paypal.create_checkout(&request()).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        fake.requests("/v1/oauth2/token").len(),
        1,
        "one token for eight orders"
    );
    // PayPal revokes it: the 401 is followed by one new token and the same request.
    fake.lock().tokens.clear();
    paypal.create_checkout(&request()).await.unwrap();
    assert_eq!(fake.requests("/v1/oauth2/token").len(), 2);
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let (fake, paypal) = setup().await;
    // A token that lives no time at all is never reused.
    fake.lock().token_life = 0;
    paypal.create_checkout(&request()).await.unwrap();
    paypal.create_checkout(&request()).await.unwrap();
    assert_eq!(fake.requests("/v1/oauth2/token").len(), 2);
}

#[tokio::test]
async fn wrong_credentials_are_a_rejection_that_never_shows_the_secret() {
    let fake = Fake::start().await;
    let config = PayPalConfig::new(
        fake::CLIENT_ID,
        "a-wrong-secret-value",
        fake::WEBHOOK_ID,
        PayPalEnvironment::Sandbox,
        "https://bot.example",
    )
    .with_api_base(&fake.base)
    .unwrap();
    let paypal = PayPalProvider::new(config).unwrap();
    let e = paypal.create_checkout(&request()).await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Rejected { code, .. } if code == "invalid_client"),
        "{e:?}"
    );
    for text in [format!("{e}"), format!("{e:?}"), format!("{paypal:?}")] {
        assert!(!text.contains("a-wrong-secret-value"), "{text}");
    }
}

#[tokio::test]
async fn an_outage_is_retried_once_with_the_same_request_id() {
    let (fake, paypal) = setup().await;
    fake.lock().fail_next = 1;
    let r = request();
    paypal.create_checkout(&r).await.unwrap();
    let sent = fake.requests("/v2/checkout/orders");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].header("paypal-request-id"),
        sent[1].header("paypal-request-id")
    );
    assert_eq!(fake.lock().orders.len(), 1, "one order");
    fake.lock().fail_next = 2;
    let e = paypal.create_checkout(&request()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unavailable(_)), "{e:?}");
}

/// `CHECKOUT.ORDER.APPROVED` captures; its redelivery, the buyer's return (reconciliation) and
/// a second instance all reach the same single capture.
#[tokio::test]
async fn an_approved_order_is_captured_once_however_often_it_is_asked() {
    let (fake, paypal, ledger) = setup_holding().await;
    let (r, checkout, order, approved) = approved(&fake, &paypal, &ledger).await;
    let first = parse(&paypal, &approved).await.unwrap();
    let again = parse(&paypal, &approved).await.unwrap();
    let other_instance = provider_for(&fake, fake::WEBHOOK_ID).with_ledger(ledger.clone());
    let third = parse(&other_instance, &approved).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first, third);
    let capture = fake.order(&order).capture.unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].kind, EventKind::Succeeded { amount: r.price });
    assert_eq!(first[0].payment_id.as_ref(), Some(&r.payment_id));
    assert_eq!(first[0].provider_ref.as_str(), capture.id);
    let captures = fake.capture_requests();
    assert!(captures.iter().all(
        |c| c.header("paypal-request-id") == Some(format!("miniapp-capture-{order}").as_str())
    ));
    assert_eq!(
        captures.iter().filter(|c| c.body == b"{}").count(),
        captures.len()
    );

    // Reconciliation reads the same capture under the same event id.
    let payment = payment_for(&r, &checkout);
    let reconciled = paypal.fetch_status(&payment).await.unwrap();
    assert_eq!(reconciled, first);
}

#[tokio::test]
async fn an_order_captured_under_another_request_id_is_read_not_captured_again() {
    let (fake, paypal, ledger) = setup_holding().await;
    let (r, _, order, approved) = approved(&fake, &paypal, &ledger).await;
    let capture_id = fake.capture_now(&order, "COMPLETED");
    let events = parse(&paypal, &approved).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].provider_ref.as_str(), capture_id);
    assert_eq!(events[0].kind, EventKind::Succeeded { amount: r.price });
}

#[tokio::test]
async fn an_order_not_approved_gives_no_event_and_a_declined_funding_source_is_an_attempt() {
    let (fake, paypal) = setup().await;
    let r = request();
    let checkout = paypal.create_checkout(&r).await.unwrap();
    let payment = payment_for(&r, &checkout);
    assert!(paypal.fetch_status(&payment).await.unwrap().is_empty());

    let order = checkout.checkout_ref.as_str().to_owned();
    fake.approve(&order);
    fake.lock().decline_next_capture = true;
    let events = paypal.fetch_status(&payment).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        vec![EventKind::AttemptFailed {
            reason: FailureReason::CardDeclined
        }]
    );
    assert_eq!(
        fake.order(&order).status,
        "APPROVED",
        "nothing was captured"
    );
    // The buyer's next funding source works.
    let events = paypal.fetch_status(&payment).await.unwrap();
    assert_eq!(events[0].kind, EventKind::Succeeded { amount: r.price });
}

#[tokio::test]
async fn a_second_charge_is_refunded_once() {
    let (fake, paypal) = setup().await;
    let r = request();
    let checkout = paypal.create_checkout(&r).await.unwrap();
    let order = checkout.checkout_ref.as_str().to_owned();
    let capture = fake.capture_now(&order, "COMPLETED");
    let refund = ChargeRefund {
        payment_id: r.payment_id.clone(),
        user_id: r.user_id,
        provider: ProviderId::new("paypal").unwrap(),
        charge_ref: ProviderRef::new(&capture).unwrap(),
        amount: r.price,
        reason: RefundReason::DuplicateCharge,
        attempts: 0,
    };
    paypal.refund_charge(&refund).await.unwrap();
    paypal.refund_charge(&refund).await.unwrap();
    assert_eq!(fake.order(&order).refunds.len(), 1, "one refund");
    let sent = fake.requests("/refund");
    assert_eq!(
        sent[0].json()["amount"],
        json!({"currency_code": "USD", "value": "25.00"})
    );
    assert_eq!(
        sent[0].header("paypal-request-id"),
        Some(format!("miniapp-refund-{capture}").as_str())
    );
    // A third call with the key forgotten (PayPal keeps it 45 days) finds it fully refunded.
    fake.lock().replies.clear();
    paypal.refund_charge(&refund).await.unwrap();
    assert_eq!(fake.order(&order).refunds.len(), 1);
}

/// Webhooks without PayPal's headers, for another webhook id, with an altered body, or with a
/// header altered are refused before anything is read; a replay changes nothing in the ledger.
#[tokio::test]
async fn hostile_webhooks_are_refused_and_a_replay_moves_no_money() {
    let (fake, paypal) = setup().await;
    let r = request();
    let checkout = paypal.create_checkout(&r).await.unwrap();
    let order = checkout.checkout_ref.as_str().to_owned();
    fake.capture_now(&order, "COMPLETED");
    let genuine = fake.webhook(
        "PAYMENT.CAPTURE.COMPLETED",
        "capture",
        fake.capture_json(&order),
    );
    let invalid =
        |r: Result<_, ProviderError>| matches!(r, Err(ProviderError::InvalidSignature(_)));

    let bare = WebhookRequest {
        headers: vec![],
        body: genuine.body.clone(),
    };
    assert!(invalid(parse(&paypal, &bare).await));
    for dropped in [
        "paypal-transmission-sig",
        "paypal-cert-url",
        "paypal-auth-algo",
    ] {
        let mut w = genuine.clone();
        w.headers.retain(|(k, _)| k != dropped);
        assert!(invalid(parse(&paypal, &w).await), "without {dropped}");
    }
    let other_hook = provider_for(&fake, "5GP028458E2496506");
    assert!(
        invalid(parse(&other_hook, &genuine).await),
        "another webhook id"
    );
    let tampered = WebhookRequest {
        headers: genuine.headers.clone(),
        body: String::from_utf8(genuine.body.clone())
            .unwrap()
            .replace("\"25.00\"", "\"250.00\"")
            .into_bytes(),
    };
    assert_ne!(tampered.body, genuine.body);
    assert!(invalid(parse(&paypal, &tampered).await), "tampered body");
    let mut resigned = genuine.clone();
    for (k, v) in &mut resigned.headers {
        if k == "paypal-transmission-time" {
            *v = "2026-12-01T12:59:59Z".into();
        }
    }
    assert!(invalid(parse(&paypal, &resigned).await), "another time");
    let mut huge = genuine.clone();
    huge.headers
        .iter_mut()
        .for_each(|(_, v)| *v = "x".repeat(64 * 1024));
    assert!(invalid(parse(&paypal, &huge).await), "huge headers");
    let not_json = WebhookRequest {
        headers: genuine.headers.clone(),
        body: b"\xff\xfe".to_vec(),
    };
    assert!(parse(&paypal, &not_json).await.is_err());

    // The genuine one, delivered, then replayed: credited once.
    let store = InMemoryLedger::new();
    let id = ProviderId::new("paypal").unwrap();
    hold(&store, &r, &checkout).await;
    let mut credited = 0;
    for _ in 0..2 {
        for e in parse(&paypal, &genuine).await.unwrap() {
            credited += store
                .apply_event(&id, &e, RefundPolicy::Debt)
                .await
                .unwrap()
                .credited;
        }
    }
    assert_eq!(credited, 500, "the replay credits nothing");
}

/// PayPal's own sample events (tests/vectors, sources in SOURCES.md), delivered byte for byte.
/// What they name is read back from PayPal (here the fake, serving the samples' resources, with
/// `custom_id` and `invoice_id` set to one of our payment ids where the sample had a shop's own).
#[tokio::test]
async fn paypal_sample_events_map_to_their_core_events() {
    let (fake, paypal) = setup().await;
    let ours = "pay_0123456789abcdef0123456789abcdef";
    let money = |v: &str, c: &str| Money::parse(v, Currency::from_code(c).unwrap()).unwrap();
    let vector = |name: &str| {
        std::fs::read(format!(
            "{}/tests/vectors/webhook-{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let cases: Vec<(&str, &str, EventKind)> = vec![
        (
            "PAYMENT.CAPTURE.COMPLETED",
            "12A34567BC123456S",
            EventKind::Succeeded {
                amount: money("30.00", "USD"),
            },
        ),
        (
            "PAYMENT.CAPTURE.DENIED",
            "826413372K501814R",
            EventKind::Failed {
                reason: Some(FailureReason::CardDeclined),
            },
        ),
        (
            "PAYMENT.CAPTURE.DECLINED",
            "7U133281TB3277326",
            EventKind::Failed {
                reason: Some(FailureReason::CardDeclined),
            },
        ),
        (
            "PAYMENT.CAPTURE.PENDING",
            "02T21492PP3782704",
            EventKind::Pending,
        ),
        (
            "PAYMENT.CAPTURE.REFUNDED",
            "0JF852973C016714D",
            EventKind::Refunded {
                total_refunded: money("1.98", "USD"),
            },
        ),
        (
            "PAYMENT.CAPTURE.REVERSED",
            "4L335234718889942",
            EventKind::Refunded {
                total_refunded: money("2.51", "USD"),
            },
        ),
        (
            "CUSTOMER.DISPUTE.CREATED",
            "00D10444LD479031K",
            EventKind::DisputeOpened,
        ),
        // Canceled by the buyer: the merchant keeps the money.
        (
            "CUSTOMER.DISPUTE.RESOLVED",
            "",
            EventKind::DisputeClosed { won: true },
        ),
    ];
    for (name, capture, expected) in cases {
        let body = vector(name);
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let mut resource = raw["resource"].clone();
        let path = match raw["resource_type"].as_str().unwrap() {
            "capture" => {
                resource["custom_id"] = json!(ours);
                resource["invoice_id"] = json!(ours);
                format!("/v2/payments/captures/{}", resource["id"].as_str().unwrap())
            }
            "refund" => format!("/v2/payments/refunds/{}", resource["id"].as_str().unwrap()),
            _ => format!(
                "/v1/customer/disputes/{}",
                resource["dispute_id"].as_str().unwrap()
            ),
        };
        fake.seed(&path, resource);
        let events = parse(&paypal, &fake.sign(body))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        let e = &events[0];
        assert_eq!(e.id.as_str(), raw["id"].as_str().unwrap(), "{name}");
        assert_eq!(e.kind, expected, "{name}");
        if !capture.is_empty() {
            assert_eq!(e.provider_ref.as_str(), capture, "{name}: the capture");
        }
        if raw["resource_type"] == "capture" {
            assert_eq!(
                e.payment_id.as_ref().map(|p| p.as_str()),
                Some(ours),
                "{name}"
            );
        }
    }
    // A real sandbox delivery of another integration's approved order (`custom_id` "841"):
    // acknowledged, never captured.
    let body = vector("CHECKOUT.ORDER.APPROVED");
    let raw: Value = serde_json::from_slice(&body).unwrap();
    fake.seed(
        &format!(
            "/v2/checkout/orders/{}",
            raw["resource"]["id"].as_str().unwrap()
        ),
        raw["resource"].clone(),
    );
    assert_eq!(parse(&paypal, &fake.sign(body)).await.unwrap(), vec![]);
    assert!(fake.capture_requests().is_empty(), "not ours to capture");
}

/// PayPal signs only a CRC32 of the body, which can be matched with other content: a webhook
/// that passes verification but lies about the money is read back from PayPal, and PayPal's
/// answer is what counts.
#[tokio::test]
async fn a_verified_webhook_that_lies_is_read_back_from_paypal() {
    let (fake, paypal, ledger) = setup_holding().await;
    let r = request();
    let checkout = paypal.create_checkout(&r).await.unwrap();
    let order = checkout.checkout_ref.as_str().to_owned();
    fake.capture_now(&order, "COMPLETED");
    let mut lie = fake.capture_json(&order);
    lie["amount"] = json!({"currency_code": "USD", "value": "9999.00"});
    lie["custom_id"] = json!("pay_ffffffffffffffffffffffffffffffff");
    lie["invoice_id"] = json!("pay_ffffffffffffffffffffffffffffffff");
    let events = parse(
        &paypal,
        &fake.webhook("PAYMENT.CAPTURE.COMPLETED", "capture", lie),
    )
    .await
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].kind,
        EventKind::Succeeded { amount: r.price },
        "PayPal's amount"
    );
    assert_eq!(
        events[0].payment_id.as_ref(),
        Some(&r.payment_id),
        "PayPal's payment"
    );

    // An approval naming a victim's order with the liar's payment id: the order PayPal returns
    // says whose it is.
    let victim_request = request();
    let victim = paypal.create_checkout(&victim_request).await.unwrap();
    hold(&ledger, &victim_request, &victim).await;
    let victim_order = victim.checkout_ref.as_str().to_owned();
    fake.approve(&victim_order);
    let mut lie = fake.order_json(&victim_order);
    lie["purchase_units"][0]["custom_id"] = json!("pay_ffffffffffffffffffffffffffffffff");
    lie["purchase_units"][0]["invoice_id"] = json!("pay_ffffffffffffffffffffffffffffffff");
    let events = parse(
        &paypal,
        &fake.webhook("CHECKOUT.ORDER.APPROVED", "checkout-order", lie),
    )
    .await
    .unwrap();
    let victim_payment = fake.order(&victim_order).custom_id;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0].payment_id.as_ref().map(|p| p.as_str()),
        Some(victim_payment.as_str())
    );
}

/// Shops often put their own order number in both `custom_id` and `invoice_id`: such an order,
/// approved on the same PayPal account, is not ours to capture.
#[tokio::test]
async fn another_integrations_approved_order_is_never_captured() {
    let (fake, paypal) = setup().await;
    for id in ["841", "pay_example", "pay_0123456789ABCDEF0123456789ABCDEF"] {
        let order = fake.foreign_approved_order(id);
        let approved = fake.webhook(
            "CHECKOUT.ORDER.APPROVED",
            "checkout-order",
            fake.order_json(&order),
        );
        assert_eq!(parse(&paypal, &approved).await.unwrap(), vec![], "{id}");
        assert_eq!(fake.order(&order).status, "APPROVED", "{id}: left alone");
    }
    assert!(fake.capture_requests().is_empty());
}

/// An approved order that looks like ours but is no checkout of a payment this ledger holds
/// (another deployment on the same PayPal app, a payment lost with a restored database, an
/// older checkout of a payment that moved on) is not captured by the webhook: its money would
/// be taken and credited to no one. Without a ledger, the webhook captures nothing.
#[tokio::test]
async fn an_approval_is_captured_only_for_a_checkout_the_ledger_holds() {
    let (fake, paypal, ledger) = setup_holding().await;
    // Unknown to the ledger.
    let unknown = paypal.create_checkout(&request()).await.unwrap();
    // Held, but its checkout is now another order.
    let r = request();
    let older = paypal.create_checkout(&r).await.unwrap();
    let mut newer_request = r.clone();
    newer_request.attempt += 1;
    let newer = paypal.create_checkout(&newer_request).await.unwrap();
    hold(&ledger, &r, &newer).await;
    for checkout in [&unknown, &older] {
        let order = checkout.checkout_ref.as_str().to_owned();
        fake.approve(&order);
        let webhook = fake.webhook(
            "CHECKOUT.ORDER.APPROVED",
            "checkout-order",
            fake.order_json(&order),
        );
        assert_eq!(parse(&paypal, &webhook).await.unwrap(), vec![], "{order}");
        assert_eq!(fake.order(&order).status, "APPROVED", "{order}: left alone");
    }
    // The held checkout is captured; the same approval without a ledger is not.
    let order = newer.checkout_ref.as_str().to_owned();
    fake.approve(&order);
    let webhook = fake.webhook(
        "CHECKOUT.ORDER.APPROVED",
        "checkout-order",
        fake.order_json(&order),
    );
    let without = provider_for(&fake, fake::WEBHOOK_ID);
    assert_eq!(parse(&without, &webhook).await.unwrap(), vec![]);
    assert!(fake.capture_requests().is_empty());
    let events = parse(&paypal, &webhook).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(fake.capture_requests().len(), 1);
}

/// PayPal carried out the request and the answer was lost: the retry, with the same
/// `PayPal-Request-Id`, gets PayPal's stored answer, not a second order or capture.
#[tokio::test]
async fn an_answer_lost_after_paypal_acted_is_replayed_not_repeated() {
    let (fake, paypal) = setup().await;
    let r = request();
    fake.lock().lose_next_answer = 1;
    let checkout = paypal.create_checkout(&r).await.unwrap();
    assert_eq!(fake.lock().orders.len(), 1, "one order");
    let order = checkout.checkout_ref.as_str().to_owned();
    fake.approve(&order);
    let payment = payment_for(&r, &checkout);
    fake.lock().lose_next_answer = 1; // the capture's
    let events = paypal.fetch_status(&payment).await.unwrap();
    assert_eq!(events[0].kind, EventKind::Succeeded { amount: r.price });
    let captures = fake.capture_requests();
    assert_eq!(captures.len(), 2, "retried once");
    assert_eq!(
        captures[0].header("paypal-request-id"),
        captures[1].header("paypal-request-id")
    );
}

/// PayPal forgets an order nobody approved: once its window is long over, reconciliation closes
/// the payment as expired; before that, a missing order is an error, never an expiry.
#[tokio::test]
async fn a_forgotten_unapproved_order_expires_the_payment_only_after_its_window() {
    let (fake, paypal) = setup().await;
    let r = request();
    let checkout = paypal.create_checkout(&r).await.unwrap();
    fake.forget(checkout.checkout_ref.as_str());
    let mut payment = payment_for(&r, &checkout);
    assert!(
        paypal.fetch_status(&payment).await.is_err(),
        "too young to be expired"
    );
    payment.created_at = r.created_at - 6 * 3600 - 1;
    let events = paypal.fetch_status(&payment).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.kind.clone(), e.provider_ref.clone()))
            .collect::<Vec<_>>(),
        vec![(EventKind::Expired, checkout.checkout_ref.clone())]
    );
    assert_eq!(
        paypal.fetch_status(&payment).await.unwrap(),
        events,
        "a stable event id"
    );
}

/// The `start_time` and `end_time` of an event-list request the fake received.
fn window_of(request: &str) -> (String, String) {
    let query = request.split_once('?').unwrap().1;
    let pairs: std::collections::HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(pairs["page_size"], "100", "{request}");
    (pairs["start_time"].clone(), pairs["end_time"].clone())
}

fn at(rfc3339: &str) -> OffsetDateTime {
    OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap()
}

/// A completed refund of `capture` as PayPal's `PAYMENT.CAPTURE.REFUNDED` carries it.
fn refund_resource(n: usize, capture: &str) -> Value {
    json!({
        "id": format!("R{n:05}REFUND"),
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "1.00"},
        "links": [{"href": format!("https://api.paypal.com/v2/payments/captures/{capture}"), "rel": "up", "method": "GET"}],
    })
}

/// Refunds and disputes whose webhooks never arrived are in PayPal's event list: the catch-up
/// finds them there, under the ids their webhooks carry, mapped from the resources the list
/// carries (nothing read back), oldest first; events younger than five minutes wait.
#[tokio::test]
async fn lost_refunds_and_disputes_are_found_in_the_event_list_under_their_webhook_ids() {
    let fake = Fake::start().await;
    let clock = Arc::new(ManualClock::starting_now());
    let paypal = provider_for(&fake, fake::WEBHOOK_ID).with_clock(clock.clone());

    let first = paypal.fetch_history(None).await.unwrap();
    assert!(
        first.events.is_empty() && !first.more,
        "a new install replays nothing"
    );
    let cursor = first.cursor.expect("the first call sets the cursor");
    let started = OffsetDateTime::from(clock.now());
    assert_eq!(
        at(&cursor),
        (started - Duration::from_secs(300))
            .replace_nanosecond(0)
            .unwrap()
    );
    assert!(fake.list_requests().is_empty(), "nothing to read yet");

    let r = request();
    let checkout = paypal.create_checkout(&r).await.unwrap();
    let order = checkout.checkout_ref.as_str().to_owned();
    fake.approve(&order);
    let approved = fake.webhook(
        "CHECKOUT.ORDER.APPROVED",
        "checkout-order",
        fake.order_json(&order),
    );
    let capture = fake.capture_now(&order, "COMPLETED");
    let completed = fake.webhook(
        "PAYMENT.CAPTURE.COMPLETED",
        "capture",
        fake.capture_json(&order),
    );
    let refund = fake.refund_now(&order, "10.00");
    let refunded = fake.webhook("PAYMENT.CAPTURE.REFUNDED", "refund", refund);
    let dispute = json!({
        "dispute_id": "PP-D-4242",
        "status": "OPEN",
        "disputed_transactions": [{"seller_transaction_id": capture, "custom": r.payment_id.as_str(), "invoice_number": r.payment_id.as_str()}],
    });
    let disputed = fake.webhook("CUSTOMER.DISPUTE.CREATED", "dispute", dispute);
    fake.webhook("BILLING.PLAN.CREATED", "plan", json!({"id": "P-1"}));

    // Five minutes have not passed: the stretch is not read yet and the cursor stays.
    let early = paypal.fetch_history(Some(&cursor)).await.unwrap();
    assert!(early.events.is_empty() && early.cursor.is_none() && !early.more);
    assert!(fake.list_requests().is_empty());

    clock.advance(Duration::from_secs(6 * 60));
    let batch = paypal.fetch_history(Some(&cursor)).await.unwrap();
    let id = |w: &WebhookRequest| {
        serde_json::from_slice::<Value>(&w.body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let got: Vec<(String, EventKind, String)> = batch
        .events
        .iter()
        .map(|e| {
            (
                e.id.as_str().to_owned(),
                e.kind.clone(),
                e.provider_ref.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                id(&completed),
                EventKind::Succeeded { amount: r.price },
                capture.clone()
            ),
            (
                id(&refunded),
                EventKind::Refunded {
                    total_refunded: Money::usd_cents(1000)
                },
                capture.clone()
            ),
            (id(&disputed), EventKind::DisputeOpened, capture.clone()),
        ],
        "oldest first; the approval is left to the buyer's return and reconciliation"
    );
    assert_eq!(batch.events[0].payment_id.as_ref(), Some(&r.payment_id));
    let next = batch.cursor.expect("the cursor moves");
    assert_eq!(
        at(&next),
        (started + Duration::from_secs(60))
            .replace_nanosecond(0)
            .unwrap()
    );
    assert!(!batch.more);
    let asked = fake.list_requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(window_of(&asked[0]), (cursor.clone(), next.clone()));
    for read_back in [
        "/v2/payments/refunds/",
        "/v1/customer/disputes/",
        "/v2/payments/captures/",
    ] {
        assert!(
            fake.requests(read_back).iter().all(|q| q.method != "GET"),
            "the list is PayPal's word: {read_back} not read back"
        );
    }

    // The same ids as the webhooks': a webhook that did arrive is a repeat for the ledger.
    for (webhook, listed) in [(&completed, 0), (&refunded, 1), (&disputed, 2)] {
        if webhook.body == disputed.body {
            fake.seed(
                "/v1/customer/disputes/PP-D-4242",
                serde_json::from_slice::<Value>(&disputed.body).unwrap()["resource"].clone(),
            );
        }
        let events = parse(&paypal, webhook).await.unwrap();
        assert_eq!(events[0].id, batch.events[listed].id);
    }
    assert!(parse(&paypal, &approved).await.is_ok());
}

/// PayPal's own sample events, listed: mapped as their webhooks are.
#[tokio::test]
async fn paypal_sample_events_in_the_event_list_map_to_their_core_events() {
    let fake = Fake::start().await;
    let clock = Arc::new(ManualClock::new(at("2026-11-30T12:00:00Z").into()));
    let paypal = provider_for(&fake, fake::WEBHOOK_ID).with_clock(clock.clone());
    let money = |v: &str| Money::parse(v, Currency::USD).unwrap();
    let cases = [
        (
            "PAYMENT.CAPTURE.REFUNDED",
            "0JF852973C016714D",
            EventKind::Refunded {
                total_refunded: money("1.98"),
            },
        ),
        (
            "PAYMENT.CAPTURE.REVERSED",
            "4L335234718889942",
            EventKind::Refunded {
                total_refunded: money("2.51"),
            },
        ),
        (
            "CUSTOMER.DISPUTE.CREATED",
            "00D10444LD479031K",
            EventKind::DisputeOpened,
        ),
    ];
    for (n, (name, _, _)) in cases.iter().enumerate() {
        let body = std::fs::read(format!(
            "{}/tests/vectors/webhook-{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut event: Value = serde_json::from_slice(&body).unwrap();
        // Created an hour ago, a minute apart, in the order of `cases`.
        let created = at("2026-11-30T11:00:00Z") + Duration::from_secs(60 * n as u64);
        event["create_time"] = json!(created.format(&Rfc3339).unwrap());
        fake.lock().events.push((created, event));
    }
    let batch = paypal
        .fetch_history(Some("2026-11-30T10:30:00Z"))
        .await
        .unwrap();
    assert_eq!(batch.events.len(), cases.len(), "{:?}", batch.events);
    for (event, (name, capture, kind)) in batch.events.iter().zip(cases) {
        assert_eq!(
            (event.provider_ref.as_str(), &event.kind),
            (capture, &kind),
            "{name}"
        );
    }
    assert_eq!(
        (batch.cursor.as_deref(), batch.more),
        (Some("2026-11-30T11:30:00Z"), true),
        "an hour at a time, and more is waiting up to 11:55"
    );
}

/// Reads the event list from `cursor` until nothing more is waiting, as the catch-up does over
/// its rounds; returns the ids seen (each batch checked oldest first) and the last cursor.
async fn catch_up_all(
    paypal: &PayPalProvider,
    mut cursor: String,
    order: &[String],
) -> (std::collections::BTreeSet<String>, String, usize) {
    let mut seen = std::collections::BTreeSet::new();
    let mut calls = 0;
    loop {
        calls += 1;
        assert!(calls < 30, "{calls} calls");
        let batch = paypal.fetch_history(Some(&cursor)).await.unwrap();
        let ids: Vec<&str> = batch.events.iter().map(|e| e.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| order.iter().position(|i| i == id));
        assert_eq!(ids, sorted, "oldest first");
        seen.extend(ids.iter().map(|s| (*s).to_owned()));
        cursor = batch.cursor.unwrap();
        if !batch.more {
            return (seen, cursor, calls);
        }
    }
}

/// `n` refunds, one every `every`, from `start`; their event ids in order.
fn crowd(fake: &Fake, start: OffsetDateTime, n: usize, every: Duration) -> Vec<String> {
    (0..n)
        .map(|i| {
            let w = fake.webhook_at(
                start + every * u32::try_from(i).unwrap(),
                "PAYMENT.CAPTURE.REFUNDED",
                "refund",
                refund_resource(i, "CAPTURE1"),
            );
            serde_json::from_slice::<Value>(&w.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The pages asked for per stretch read (requests with the same window).
fn pages_per_read(fake: &Fake) -> Vec<usize> {
    let mut reads: Vec<((String, String), usize)> = Vec::new();
    for q in fake.list_requests() {
        let w = window_of(&q);
        match reads.last_mut() {
            Some((last, n)) if *last == w && q.contains("page=") => *n += 1,
            _ => reads.push((w, 1)),
        }
    }
    reads.into_iter().map(|(_, n)| n).collect()
}

/// A stretch with more events than five pages is not applied in part: the call returns no
/// events and a stretch sized from what it saw, the stretch grows back once the list is
/// quieter, and every event is read, no read longer than five pages. PayPal's `next` links name
/// `api.sandbox.paypal.com`; they are followed for their query, against the API we were given.
#[tokio::test]
async fn a_crowded_stretch_is_narrowed_not_read_in_part_and_nothing_is_missed() {
    let fake = Fake::start().await;
    let start = at("2026-11-30T00:00:00Z");
    let clock = Arc::new(ManualClock::new(
        (start + Duration::from_secs(7 * 3600)).into(),
    ));
    let paypal = provider_for(&fake, fake::WEBHOOK_ID).with_clock(clock.clone());
    // 600 refunds in the first hour, one every six seconds.
    let ids = crowd(&fake, start, 600, Duration::from_secs(6));

    let first = paypal
        .fetch_history(Some("2026-11-30T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        first.events.is_empty() && first.more,
        "nothing applied in part"
    );
    // The five pages held the newest 500, 600 s to 3594 s: 300 events take 1796 s.
    assert_eq!(
        first.cursor.as_deref(),
        Some("2026-11-30T00:00:00Z;span=1796")
    );
    assert_eq!(pages_per_read(&fake), [5]);

    let (seen, cursor, calls) = catch_up_all(&paypal, first.cursor.unwrap(), &ids).await;
    assert_eq!(seen.len(), 600, "every event, each at least once");
    assert_eq!(
        cursor, "2026-11-30T06:55:00Z",
        "up to five minutes before now, the stretch grown back to an hour"
    );
    let pages = pages_per_read(&fake);
    assert!(pages.iter().all(|&n| n <= 5), "{pages:?}");
    assert_eq!(
        pages[1..3],
        [3, 3],
        "the next two stretches hold about 300 each"
    );
    assert!(calls <= 12, "{calls} calls");
}

/// A burst beyond five pages within seconds is read in ten-second stretches of up to 20 pages.
#[tokio::test]
async fn a_burst_within_seconds_is_read_whole() {
    let fake = Fake::start().await;
    let start = at("2026-11-30T00:00:00Z");
    let clock = Arc::new(ManualClock::new((start + Duration::from_secs(3600)).into()));
    let paypal = provider_for(&fake, fake::WEBHOOK_ID).with_clock(clock.clone());
    // 1,500 refunds within 4.5 seconds.
    let ids = crowd(
        &fake,
        start + Duration::from_secs(5),
        1500,
        Duration::from_millis(3),
    );
    let (seen, cursor, _) = catch_up_all(&paypal, "2026-11-30T00:00:00Z".into(), &ids).await;
    assert_eq!(seen.len(), 1500);
    assert_eq!(cursor, "2026-11-30T00:55:00Z");
    let pages = pages_per_read(&fake);
    assert!(pages.iter().all(|&n| n <= 20), "{pages:?}");
    assert!(
        pages.contains(&15),
        "ten seconds read in 15 pages: {pages:?}"
    );
}

/// PayPal answering its event list slowly: later pages that do not come within 6 s are not
/// waited for (the catch-up's 12 s deadline would drop the whole call), and ten seconds that
/// cannot be read in time are read again next time, never passed.
#[tokio::test]
async fn a_slow_event_list_is_read_again_next_time_never_passed() {
    let fake = Fake::start().await;
    let start = at("2026-11-30T00:00:00Z");
    let clock = Arc::new(ManualClock::new((start + Duration::from_secs(3600)).into()));
    let paypal = provider_for(&fake, fake::WEBHOOK_ID).with_clock(clock);
    // 600 refunds within 3 seconds: six pages of one ten-second stretch.
    let ids = crowd(
        &fake,
        start + Duration::from_secs(2),
        600,
        Duration::from_millis(5),
    );
    fake.lock().list_delay = Duration::from_millis(2500);
    let asked = std::time::Instant::now();
    let slow = paypal
        .fetch_history(Some("2026-11-30T00:00:00Z;span=10"))
        .await
        .unwrap();
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "within the catch-up's deadline: {took:?}"
    );
    assert!(
        slow.events.is_empty() && slow.cursor.is_none() && !slow.more,
        "the cursor stays, not {} events and cursor {:?}",
        slow.events.len(),
        slow.cursor
    );
    assert_eq!(
        fake.list_requests().len(),
        3,
        "the third page was not waited for"
    );
    fake.lock().list_delay = Duration::ZERO;
    let (seen, _, _) = catch_up_all(&paypal, "2026-11-30T00:00:00Z;span=10".into(), &ids).await;
    assert_eq!(seen.len(), 600);
}

/// A `next` link that is not a page of the event list is not followed (an answer that would
/// send our reads elsewhere): the stretch counts as crowded and is read in shorter ones until
/// each fits in one page, so the events are still all read.
#[tokio::test]
async fn a_next_link_to_anything_but_the_event_list_is_not_followed() {
    for path in [
        "/v1/notifications/webhooks",
        "/v1/notifications/webhooks-events/WH-1",
        "/v2/payments/captures/X/refund",
    ] {
        let fake = Fake::start().await;
        let start = at("2026-11-30T00:00:00Z");
        let clock = Arc::new(ManualClock::new((start + Duration::from_secs(3600)).into()));
        let paypal = provider_for(&fake, fake::WEBHOOK_ID).with_clock(clock);
        let ids = crowd(&fake, start, 150, Duration::from_secs(1));
        fake.lock().next_link_path = Some(path.into());
        let first = paypal
            .fetch_history(Some("2026-11-30T00:00:00Z"))
            .await
            .unwrap();
        assert!(first.events.is_empty() && first.more, "{path}");
        assert_eq!(
            fake.list_requests().len(),
            1,
            "{path}: only the first page was asked for"
        );
        let (seen, _, _) = catch_up_all(&paypal, first.cursor.unwrap(), &ids).await;
        assert_eq!(seen.len(), 150, "{path}");
        assert!(
            fake.lock()
                .requests
                .iter()
                .all(|r| r.path == "/v1/oauth2/token"
                    || r.path.starts_with("/v1/notifications/webhooks-events?")),
            "{path} never asked"
        );
    }
}

/// A cursor that is not one of ours is an error (the catch-up logs it and tries again later,
/// never starting over silently). One ahead of the clock (the clock was ahead and went back) is
/// moved back to now's point without reading, and an event created meanwhile is still read.
#[tokio::test]
async fn a_cursor_that_is_not_ours_is_refused_and_one_ahead_of_the_clock_is_moved_back() {
    let fake = Fake::start().await;
    let clock = Arc::new(ManualClock::new(at("2026-11-30T12:00:00Z").into()));
    let paypal = provider_for(&fake, fake::WEBHOOK_ID).with_clock(clock.clone());
    for bad in [
        "",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "1700000000",
        "2026-11-30T00:00:00Z;span=5",
    ] {
        let got = paypal.fetch_history(Some(bad)).await;
        assert!(
            matches!(got, Err(ProviderError::MalformedPayload(_))),
            "{bad:?}: {got:?}"
        );
    }
    let late = crowd(&fake, at("2026-11-30T11:57:00Z"), 1, Duration::ZERO);
    let ahead = paypal
        .fetch_history(Some("2026-11-30T13:00:00Z"))
        .await
        .unwrap();
    assert!(ahead.events.is_empty() && !ahead.more);
    assert_eq!(ahead.cursor.as_deref(), Some("2026-11-30T11:55:00Z"));
    let caught_up = paypal
        .fetch_history(Some("2026-11-30T11:55:00Z"))
        .await
        .unwrap();
    assert!(caught_up.events.is_empty() && caught_up.cursor.is_none() && !caught_up.more);
    assert!(fake.list_requests().is_empty());
    clock.advance(Duration::from_secs(10 * 60));
    let later = paypal
        .fetch_history(Some("2026-11-30T11:55:00Z"))
        .await
        .unwrap();
    let got: Vec<&str> = later.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(got, [late[0].as_str()]);
}

#[tokio::test]
async fn configuration_is_all_or_nothing_and_sandbox_by_default() {
    use miniapp_paypal::PayPalConfigError;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let full: &[(&str, &str)] = &[
        ("PAYPAL_CLIENT_ID", "id"),
        ("PAYPAL_CLIENT_SECRET", "secret"),
        ("PAYPAL_WEBHOOK_ID", "WH1"),
        ("PUBLIC_BASE_URL", "https://bot.example"),
    ];
    let c = PayPalConfig::from_lookup(env(full)).unwrap().unwrap();
    assert_eq!(c.environment(), PayPalEnvironment::Sandbox);
    assert!(!format!("{c:?}").contains("secret\""));
    assert_eq!(
        PayPalConfig::from_lookup(env(&[
            ("PAYPAL_CLIENT_ID", "id"),
            ("PAYPAL_WEBHOOK_ID", "W")
        ]))
        .unwrap_err(),
        PayPalConfigError::Missing("PAYPAL_CLIENT_SECRET")
    );
    let live: &[(&str, &str)] = &[
        ("PAYPAL_CLIENT_ID", "id"),
        ("PAYPAL_CLIENT_SECRET", "secret"),
        ("PAYPAL_WEBHOOK_ID", "WH1"),
        ("PAYPAL_ENV", "live"),
        ("PUBLIC_BASE_URL", "https://bot.example"),
    ];
    let c = PayPalConfig::from_lookup(env(live)).unwrap().unwrap();
    assert_eq!(c.environment(), PayPalEnvironment::Live);
    assert!(!PayPalProvider::new(c).unwrap().is_test());
    let odd: &[(&str, &str)] = &[
        ("PAYPAL_CLIENT_ID", "id"),
        ("PAYPAL_CLIENT_SECRET", "secret"),
        ("PAYPAL_WEBHOOK_ID", "WH1"),
        ("PAYPAL_ENV", "production"),
        ("PUBLIC_BASE_URL", "https://bot.example"),
    ];
    assert_eq!(
        PayPalConfig::from_lookup(env(odd)).unwrap_err(),
        PayPalConfigError::UnknownEnvironment
    );
    let insecure: &[(&str, &str)] = &[
        ("PAYPAL_CLIENT_ID", "id"),
        ("PAYPAL_CLIENT_SECRET", "secret"),
        ("PAYPAL_WEBHOOK_ID", "WH1"),
        ("PUBLIC_BASE_URL", "https://bot.example"),
        ("PAYPAL_API_BASE", "http://paypal.example"),
    ];
    assert_eq!(
        PayPalConfig::from_lookup(env(insecure)).unwrap_err(),
        PayPalConfigError::InsecureApiBase
    );
}

// --- The provider conformance suite -------------------------------------------------------------

struct Harness {
    fake: Fake,
    provider: PayPalProvider,
}

#[async_trait]
impl ProviderHarness for Harness {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    fn currency(&self) -> Currency {
        Currency::USD
    }

    async fn webhook(
        &self,
        r: &CheckoutRequest,
        c: &Checkout,
        scenario: Scenario,
    ) -> WebhookRequest {
        let order = c.checkout_ref.as_str();
        match scenario {
            Scenario::Paid => {
                if self.fake.order(order).capture.is_none() {
                    self.fake.capture_now(order, "COMPLETED");
                }
                self.fake.webhook(
                    "PAYMENT.CAPTURE.COMPLETED",
                    "capture",
                    self.fake.capture_json(order),
                )
            }
            Scenario::Failed => {
                self.fake.capture_now(order, "DECLINED");
                self.fake.webhook(
                    "PAYMENT.CAPTURE.DENIED",
                    "capture",
                    self.fake.capture_json(order),
                )
            }
            Scenario::Expired => {
                self.fake.lock().orders.get_mut(order).unwrap().status = "VOIDED".into();
                self.fake.webhook(
                    "CHECKOUT.ORDER.VOIDED",
                    "checkout-order",
                    self.fake.order_json(order),
                )
            }
            _ => {
                if self.fake.order(order).capture.is_none() {
                    self.fake.capture_now(order, "COMPLETED");
                }
                let refund = self.fake.refund_now(order, &r.price.to_decimal_string());
                self.fake
                    .webhook("PAYMENT.CAPTURE.REFUNDED", "refund", refund)
            }
        }
    }

    fn forge(&self, genuine: &WebhookRequest) -> WebhookRequest {
        let text = String::from_utf8(genuine.body.clone()).unwrap();
        let cheaper = text.replacen("\"25.00\"", "\"0.01\"", 1);
        assert_ne!(cheaper, text);
        WebhookRequest {
            headers: genuine.headers.clone(),
            body: cheaper.into_bytes(),
        }
    }
}

async fn harness() -> Harness {
    let (fake, provider) = setup().await;
    Harness { fake, provider }
}

/// The provider conformance suite, one test per behaviour.
mod conformance_suite {
    miniapp_core::provider_conformance!(super::harness());
}
