//! Provider conformance: one function per behaviour of the [`PaymentProvider`] contract.
//!
//! A provider crate implements [`ProviderHarness`] for its tests: it knows how the provider's
//! webhooks look and how to sign them (with the test secret of a fake server), which the generic
//! suite cannot know.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::event::EventKind;
use crate::ids::{PaymentId, UserId};
use crate::ledger::{CheckoutRecord, LedgerStore, LedgerStoreExt, NewPayment};
use crate::money::{Money, TokenAmount};
use crate::payment::{PaymentStatus, RefundPolicy};
use crate::provider::{Checkout, CheckoutRequest, PaymentProvider, ProviderError, WebhookRequest};

/// What a webhook in the suite reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scenario {
    /// The checkout was paid in full.
    Paid,
    /// The payment failed.
    Failed,
    /// The checkout expired unpaid.
    Expired,
    /// Paid, then refunded in full.
    Refunded,
}

/// Test-side knowledge of one provider.
#[async_trait]
pub trait ProviderHarness: Send + Sync {
    /// The provider under test (pointed at a local fake of its API where it has one).
    fn provider(&self) -> &dyn PaymentProvider;

    /// The price currency this provider charges in (USD for cards, XTR for Stars, …).
    fn currency(&self) -> crate::money::Currency;

    /// An authentic webhook (signed exactly as the provider signs, or one the fake API will
    /// confirm) reporting `scenario` for `checkout`, opened for `request`.
    async fn webhook(
        &self,
        request: &CheckoutRequest,
        checkout: &Checkout,
        scenario: Scenario,
    ) -> WebhookRequest;

    /// The same webhook made unauthentic (an altered body, a signature by another key, …).
    fn forge(&self, genuine: &WebhookRequest) -> WebhookRequest;

    /// Capability flag: whether authenticity comes from a signature in the request (headers).
    /// Providers that do not sign (they confirm by re-fetching from their API) return `false`,
    /// and the suite then does not expect a genuine body to fail without its headers.
    fn signs_webhooks(&self) -> bool {
        true
    }
}

/// A checkout request for a fresh payment of 500 tokens at `price`.
pub fn checkout_request(price: Money) -> CheckoutRequest {
    CheckoutRequest {
        payment_id: PaymentId::generate().unwrap(),
        user_id: super::fresh_user(),
        tokens: TokenAmount::new(500).unwrap(),
        price,
        email: Some("buyer@example.com".into()),
        language: Some("en".into()),
        created_at: crate::clock::unix_seconds(SystemTime::now()),
        attempt: 0,
    }
}

fn price_for(h: &dyn ProviderHarness) -> Money {
    let c = h.currency();
    Money::new(if c.exponent() == 0 { 1250 } else { 2500 }, c)
}

/// Asking twice for the checkout of one payment gives the same checkout.
pub async fn checkout_creation_is_idempotent(h: &dyn ProviderHarness) {
    let request = checkout_request(price_for(h));
    let a = h
        .provider()
        .create_checkout(&request)
        .await
        .expect("create_checkout");
    let b = h
        .provider()
        .create_checkout(&request)
        .await
        .expect("create_checkout again");
    assert_eq!(
        a.checkout_ref, b.checkout_ref,
        "same payment, same checkout"
    );
    assert_eq!(a.url, b.url);
    assert!(!a.url.is_empty());
    let other = h
        .provider()
        .create_checkout(&checkout_request(price_for(h)))
        .await
        .expect("create_checkout");
    assert_ne!(
        other.checkout_ref, a.checkout_ref,
        "another payment gets another checkout"
    );
}

/// A paid webhook maps to one `Succeeded` event with the price, our payment id or the checkout
/// reference, and an event id that is stable when the same webhook is parsed again.
pub async fn paid_webhook_maps_to_succeeded(h: &dyn ProviderHarness) {
    let request = checkout_request(price_for(h));
    let checkout = h
        .provider()
        .create_checkout(&request)
        .await
        .expect("create_checkout");
    let webhook = h.webhook(&request, &checkout, Scenario::Paid).await;
    let events = h
        .provider()
        .parse_webhook(&webhook, SystemTime::now())
        .await
        .expect("authentic webhook");
    let succeeded: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Succeeded { .. }))
        .collect();
    assert_eq!(succeeded.len(), 1, "exactly one success in {events:?}");
    let e = succeeded[0];
    assert_eq!(
        e.kind,
        EventKind::Succeeded {
            amount: request.price
        },
        "the amount the provider captured"
    );
    assert!(
        e.payment_id.as_ref() == Some(&request.payment_id)
            || e.provider_ref == checkout.checkout_ref,
        "the event names the payment: {e:?}"
    );
    let again = h
        .provider()
        .parse_webhook(&webhook, SystemTime::now())
        .await
        .expect("authentic webhook");
    assert_eq!(
        again, events,
        "parsing is deterministic; event ids are stable"
    );
}

/// Failed, expired and refunded webhooks map to their events.
pub async fn other_webhooks_map_to_their_events(h: &dyn ProviderHarness) {
    for scenario in [Scenario::Failed, Scenario::Expired, Scenario::Refunded] {
        let request = checkout_request(price_for(h));
        let checkout = h
            .provider()
            .create_checkout(&request)
            .await
            .expect("create_checkout");
        let webhook = h.webhook(&request, &checkout, scenario).await;
        let events = h
            .provider()
            .parse_webhook(&webhook, SystemTime::now())
            .await
            .expect("authentic webhook");
        let found = events.iter().any(|e| match (scenario, &e.kind) {
            (Scenario::Failed, EventKind::Failed { .. })
            | (Scenario::Expired, EventKind::Expired) => true,
            (Scenario::Refunded, EventKind::Refunded { total_refunded }) => {
                *total_refunded == request.price
            }
            _ => false,
        });
        assert!(found, "{scenario:?} maps to its event: {events:?}");
    }
}

/// A forged webhook is refused as [`ProviderError::InvalidSignature`].
pub async fn forged_webhook_is_rejected(h: &dyn ProviderHarness) {
    let request = checkout_request(price_for(h));
    let checkout = h
        .provider()
        .create_checkout(&request)
        .await
        .expect("create_checkout");
    let genuine = h.webhook(&request, &checkout, Scenario::Paid).await;
    let forged = h.forge(&genuine);
    let r = h.provider().parse_webhook(&forged, SystemTime::now()).await;
    assert!(
        matches!(r, Err(ProviderError::InvalidSignature(_))),
        "forged webhook gave {r:?}"
    );
}

/// Garbage (no headers, empty or random bodies, huge headers) is refused without a panic and
/// never yields events.
pub async fn garbage_webhooks_are_rejected(h: &dyn ProviderHarness) {
    let request = checkout_request(price_for(h));
    let checkout = h
        .provider()
        .create_checkout(&request)
        .await
        .expect("create_checkout");
    let genuine = h.webhook(&request, &checkout, Scenario::Paid).await;
    let mut cases = vec![
        WebhookRequest::default(),
        WebhookRequest {
            headers: genuine.headers.clone(),
            body: vec![],
        },
        WebhookRequest {
            headers: genuine.headers.clone(),
            body: vec![0xff, 0xfe, 0x00],
        },
        WebhookRequest {
            headers: genuine.headers.clone(),
            body: b"{}".to_vec(),
        },
    ];
    if h.signs_webhooks() {
        cases.push(WebhookRequest {
            headers: vec![],
            body: genuine.body.clone(),
        });
        let mut huge = genuine.clone();
        for (_, v) in &mut huge.headers {
            *v = "x".repeat(64 * 1024);
        }
        cases.push(huge);
    }
    for case in cases {
        let r = h.provider().parse_webhook(&case, SystemTime::now()).await;
        assert!(r.is_err(), "garbage webhook accepted: {r:?}");
    }
}

/// The whole path: a payment in `store`, its checkout, the paid webhook delivered three times
/// (and the refund once) through the provider and the ledger: credited once, then reversed.
pub async fn webhook_pipeline_credits_once(h: &dyn ProviderHarness, store: &dyn LedgerStore) {
    let request = checkout_request(price_for(h));
    let user: UserId = request.user_id;
    let id = h.provider().id().clone();
    store
        .create_payment(NewPayment {
            id: request.payment_id.clone(),
            user_id: user,
            provider: id.clone(),
            method: crate::catalog::PaymentMethod::card(),
            tokens: request.tokens,
            price: request.price,
            email: request.email.clone(),
            idempotency_key: None,
            language: Some("en".into()),
        })
        .await
        .expect("create_payment");
    let checkout = h
        .provider()
        .create_checkout(&request)
        .await
        .expect("create_checkout");
    let record = CheckoutRecord {
        checkout_ref: checkout.checkout_ref.clone(),
        url: checkout.url.clone(),
    };
    store
        .attach_checkout(&request.payment_id, &record)
        .await
        .expect("attach_checkout");
    let webhook = h.webhook(&request, &checkout, Scenario::Paid).await;
    let mut credited = 0;
    for _ in 0..3 {
        for e in h
            .provider()
            .parse_webhook(&webhook, SystemTime::now())
            .await
            .expect("authentic")
        {
            credited += store
                .apply_event(&id, &e, RefundPolicy::Debt)
                .await
                .expect("apply")
                .credited;
        }
    }
    assert_eq!(credited, 500, "three deliveries, one credit");
    let payment = store
        .own_payment(user, &request.payment_id)
        .await
        .expect("payment");
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    let refund = h.webhook(&request, &checkout, Scenario::Refunded).await;
    for e in h
        .provider()
        .parse_webhook(&refund, SystemTime::now())
        .await
        .expect("authentic")
    {
        store
            .apply_event(&id, &e, RefundPolicy::Debt)
            .await
            .expect("apply");
    }
    let payment = store
        .own_payment(user, &request.payment_id)
        .await
        .expect("payment");
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(store.balance(user).await.expect("balance").balance, 0);
    super::assert_consistent(store, user).await;
}
