//! A minimal signed provider, written the way a third-party author would, runs the provider
//! conformance suite. It proves the kit is usable and that the suite catches what it claims to
//! (see `a_provider_that_skips_verification_fails_the_suite`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::time::SystemTime;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use miniapp_core::conformance::{self, ProviderHarness, Scenario};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{PaymentId, ProviderEventId, ProviderId, ProviderRef};
use miniapp_core::money::{Currency, Money};
use miniapp_core::payment::Payment;
use miniapp_core::provider::{
    Checkout, CheckoutRequest, PaymentProvider, ProviderError, WebhookRequest,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const SECRET: &[u8] = b"test-webhook-secret";

#[derive(Debug)]
struct SignedProvider {
    id: ProviderId,
    verify: bool,
}

#[derive(Serialize, Deserialize)]
struct Body {
    id: String,
    payment_id: String,
    status: String,
    amount: u64,
    currency: String,
}

fn mac(body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

#[async_trait]
impl PaymentProvider for SignedProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn create_checkout(&self, r: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        // Deterministic in the payment id: asking twice gives the same checkout.
        Ok(Checkout {
            checkout_ref: ProviderRef::new(format!("chk_{}", r.payment_id)).unwrap(),
            url: format!("https://pay.example/chk_{}", r.payment_id),
            expires_at: None,
        })
    }

    async fn parse_webhook(
        &self,
        r: &WebhookRequest,
        _now: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        if self.verify {
            let given = r
                .header("x-signature")
                .ok_or_else(|| ProviderError::InvalidSignature("missing".into()))?;
            let mut m = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
            m.update(&r.body);
            let bytes = hex::decode(given)
                .map_err(|_| ProviderError::InvalidSignature("not hex".into()))?;
            m.verify_slice(&bytes)
                .map_err(|_| ProviderError::InvalidSignature("mismatch".into()))?;
        }
        let body: Body = serde_json::from_slice(&r.body)
            .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?;
        let currency = Currency::from_code(&body.currency)
            .ok_or_else(|| ProviderError::MalformedPayload("currency".into()))?;
        let amount = Money::new(body.amount, currency);
        let kind = match body.status.as_str() {
            "paid" => EventKind::Succeeded { amount },
            "failed" => EventKind::Failed { reason: None },
            "expired" => EventKind::Expired,
            "refunded" => EventKind::Refunded {
                total_refunded: amount,
            },
            _ => return Ok(vec![]),
        };
        let bad = |e: miniapp_core::ids::IdError| ProviderError::MalformedPayload(e.to_string());
        Ok(vec![ProviderEvent {
            id: ProviderEventId::new(body.id).map_err(bad)?,
            payment_id: Some(PaymentId::new(body.payment_id.clone()).map_err(bad)?),
            provider_ref: ProviderRef::new(format!("chk_{}", body.payment_id)).map_err(bad)?,
            kind,
        }])
    }

    async fn fetch_status(&self, _payment: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        Err(ProviderError::Unsupported("no API to ask"))
    }
}

struct Harness(SignedProvider);

#[async_trait]
impl ProviderHarness for Harness {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.0
    }

    fn currency(&self) -> Currency {
        Currency::USD
    }

    async fn webhook(
        &self,
        r: &CheckoutRequest,
        _c: &Checkout,
        scenario: Scenario,
    ) -> WebhookRequest {
        let status = match scenario {
            Scenario::Paid => "paid",
            Scenario::Failed => "failed",
            Scenario::Expired => "expired",
            _ => "refunded",
        };
        let body = serde_json::to_vec(&Body {
            id: format!("evt_{}_{status}", r.payment_id),
            payment_id: r.payment_id.to_string(),
            status: status.into(),
            amount: r.price.minor_units(),
            currency: r.price.currency().code().into(),
        })
        .unwrap();
        WebhookRequest {
            headers: vec![("X-Signature".into(), mac(&body))],
            body,
        }
    }

    fn forge(&self, genuine: &WebhookRequest) -> WebhookRequest {
        let text = String::from_utf8(genuine.body.clone()).unwrap();
        let cheaper = text.replace(r#""amount":2500"#, r#""amount":1"#);
        assert_ne!(cheaper, text, "the forgery changes the amount");
        WebhookRequest {
            headers: genuine.headers.clone(),
            body: cheaper.into_bytes(),
        }
    }
}

fn harness(verify: bool) -> Harness {
    Harness(SignedProvider {
        id: ProviderId::new("signed_test").unwrap(),
        verify,
    })
}

miniapp_core::provider_conformance!(async { harness(true) });

#[tokio::test]
#[should_panic(expected = "forged webhook gave Ok")]
async fn a_provider_that_skips_verification_fails_the_suite() {
    conformance::forged_webhook_is_rejected(&harness(false)).await;
}
