//! A complete `PaymentProvider` for YooKassa (YooMoney's merchant API), written the way a third
//! party would write one, as the worked example of `docs/writing-a-provider.md`.
//!
//! - Checkout: `POST /v3/payments` with basic auth (shop id, secret key), an `Idempotence-Key`
//!   derived from our payment id, the amount in RUB as a two-decimal string, `capture: true`,
//!   `confirmation.type = redirect`, and our payment id in `metadata`.
//! - Webhooks (`payment.succeeded`, `payment.canceled`, `refund.succeeded`) are **not signed** by
//!   YooKassa, so a notification is only a hint: the provider fetches `GET /v3/payments/{id}` and
//!   trusts what the API says, never the notification body.
//!
//! `cargo run --example yookassa_provider` runs a purchase against a local fake of the API;
//! `cargo test --example yookassa_provider` runs the tests, including the provider conformance
//! suite.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use miniapp::event::{EventKind, FailureReason, ProviderEvent};
use miniapp::ids::{PaymentId, ProviderEventId, ProviderId, ProviderRef};
use miniapp::money::{Currency, Money};
use miniapp::payment::Payment;
use miniapp::provider::{
    Checkout, CheckoutRequest, PaymentProvider, ProviderError, WebhookRequest,
};
use serde::Deserialize;
use serde_json::json;

/// YooKassa's `cancellation_details.reason` of a failed payment, in the core's words. A suspected
/// fraud is a plain decline: the buyer is not told why the bank said no.
fn failure_reason(reason: &str) -> FailureReason {
    match reason {
        "insufficient_funds" => FailureReason::InsufficientFunds,
        "card_expired" => FailureReason::ExpiredCard,
        "invalid_csc" => FailureReason::IncorrectCvc,
        "3d_secure_failed" => FailureReason::AuthenticationFailed,
        "issuer_unavailable" | "internal_timeout" => FailureReason::ProcessingError,
        "general_decline"
        | "call_issuer"
        | "fraud_suspected"
        | "payment_method_restricted"
        | "payment_method_limit_exceeded"
        | "country_forbidden" => FailureReason::CardDeclined,
        _ => FailureReason::Other,
    }
}

/// YooKassa's API amounts: `{"value": "100.00", "currency": "RUB"}`.
#[derive(Debug, Deserialize)]
struct Amount {
    value: String,
    currency: String,
}

impl Amount {
    fn money(&self) -> Result<Money, ProviderError> {
        let currency = Currency::from_code(&self.currency).ok_or_else(|| {
            ProviderError::MalformedPayload(format!("currency {}", self.currency))
        })?;
        Money::parse(&self.value, currency)
            .map_err(|e| ProviderError::MalformedPayload(e.to_string()))
    }
}

#[derive(Debug, Deserialize)]
struct YooPayment {
    id: String,
    status: String,
    amount: Amount,
    #[serde(default)]
    refunded_amount: Option<Amount>,
    #[serde(default)]
    confirmation: Option<Confirmation>,
    #[serde(default)]
    metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    cancellation_details: Option<CancellationDetails>,
}

#[derive(Debug, Deserialize)]
struct CancellationDetails {
    reason: String,
}

#[derive(Debug, Deserialize)]
struct Confirmation {
    confirmation_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Notification {
    event: String,
    object: serde_json::Value,
}

/// The YooKassa provider (id `yookassa`, RUB).
pub struct YooKassaProvider {
    id: ProviderId,
    http: reqwest::Client,
    api: String,
    shop_id: String,
    secret_key: String,
    return_url: String,
}

impl fmt::Debug for YooKassaProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret key never appears.
        f.debug_struct("YooKassaProvider")
            .field("api", &self.api)
            .field("shop_id", &self.shop_id)
            .finish_non_exhaustive()
    }
}

impl YooKassaProvider {
    /// A provider for shop `shop_id`; `api` is `https://api.yookassa.ru` in production.
    pub fn new(api: &str, shop_id: &str, secret_key: &str, return_url: &str) -> YooKassaProvider {
        YooKassaProvider {
            id: ProviderId::new("yookassa").unwrap(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap(),
            api: api.trim_end_matches('/').to_owned(),
            shop_id: shop_id.to_owned(),
            secret_key: secret_key.to_owned(),
            return_url: return_url.to_owned(),
        }
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<YooPayment, ProviderError> {
        let response = request
            .basic_auth(&self.shop_id, Some(&self.secret_key))
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string().into()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string().into()))?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(ProviderError::Unavailable(
                format!("YooKassa answered {status}").into(),
            ));
        }
        if !status.is_success() {
            let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            return Err(ProviderError::Rejected {
                code: error["code"].as_str().unwrap_or("error").to_owned(),
                message: error["description"]
                    .as_str()
                    .unwrap_or("YooKassa refused the request")
                    .to_owned(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| ProviderError::Unavailable(e.to_string().into()))
    }

    /// The truth about one YooKassa payment, as events.
    async fn payment_events(&self, yoo_id: &str) -> Result<Vec<ProviderEvent>, ProviderError> {
        let id: String = yoo_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let p = self
            .call(self.http.get(format!("{}/v3/payments/{id}", self.api)))
            .await?;
        let ours = p
            .metadata
            .get("payment_id")
            .and_then(|v| v.as_str())
            .and_then(|v| PaymentId::new(v).ok());
        let reference = ProviderRef::new(p.id.as_str())
            .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?;
        let event = |suffix: String, kind| {
            Ok::<_, ProviderError>(ProviderEvent {
                id: ProviderEventId::new(format!("yookassa_{}_{suffix}", p.id))
                    .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
                payment_id: ours.clone(),
                provider_ref: reference.clone(),
                kind,
            })
        };
        let mut events = Vec::new();
        match p.status.as_str() {
            "succeeded" => {
                events.push(event(
                    "succeeded".into(),
                    EventKind::Succeeded {
                        amount: p.amount.money()?,
                    },
                )?);
                if let Some(refunded) = &p.refunded_amount {
                    let total = refunded.money()?;
                    if !total.is_zero() {
                        events.push(event(
                            format!("refunded_{}", total.minor_units()),
                            EventKind::Refunded {
                                total_refunded: total,
                            },
                        )?);
                    }
                }
            }
            "canceled" => {
                // YooKassa has one "canceled" status; its reason says which of our closures it is.
                let kind = match p.cancellation_details.as_ref().map(|d| d.reason.as_str()) {
                    Some("expired_on_confirmation" | "expired_on_capture") => EventKind::Expired,
                    Some("canceled_by_merchant" | "canceled_by_user") => EventKind::Canceled,
                    // declined, insufficient funds, fraud suspected, …
                    other => EventKind::Failed {
                        reason: other.map(failure_reason),
                    },
                };
                events.push(event(kind.name().into(), kind)?);
            }
            _ => {} // pending, waiting_for_capture: nothing final yet
        }
        Ok(events)
    }
}

#[async_trait]
impl PaymentProvider for YooKassaProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn create_checkout(&self, r: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        if r.price.currency() != Currency::RUB {
            return Err(ProviderError::Unsupported("YooKassa here charges RUB only"));
        }
        let body = json!({
            "amount": {"value": r.price.to_decimal_string(), "currency": "RUB"},
            "capture": true,
            "confirmation": {"type": "redirect", "return_url": format!("{}?payment_id={}", self.return_url, r.payment_id)},
            "description": format!("{} токенов", r.tokens),
            "metadata": {"payment_id": r.payment_id.as_str(), "telegram_user_id": r.user_id.get().to_string()},
        });
        let request = self
            .http
            .post(format!("{}/v3/payments", self.api))
            // Our payment id (and attempt) is the idempotence key: a retry returns the same
            // YooKassa payment.
            .header(
                "Idempotence-Key",
                format!("miniapp-{}", r.idempotency_key()),
            )
            .json(&body);
        let p = self.call(request).await?;
        let url = p
            .confirmation
            .and_then(|c| c.confirmation_url)
            .ok_or_else(|| ProviderError::MalformedPayload("no confirmation_url".into()))?;
        Ok(Checkout {
            checkout_ref: ProviderRef::new(p.id)
                .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
            url,
            expires_at: None,
        })
    }

    async fn parse_webhook(
        &self,
        request: &WebhookRequest,
        _now: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        // Unsigned: the body only says which payment to look at. Anything not confirmed by the API
        // is refused as unauthentic.
        let n: Notification = serde_json::from_slice(&request.body)
            .map_err(|_| ProviderError::InvalidSignature("not a YooKassa notification".into()))?;
        let yoo_id = match n.event.as_str() {
            "payment.succeeded" | "payment.canceled" => n.object["id"].as_str(),
            "refund.succeeded" => n.object["payment_id"].as_str(),
            _ => return Ok(Vec::new()),
        }
        .ok_or_else(|| ProviderError::InvalidSignature("no payment id".into()))?;
        let events = match self.payment_events(yoo_id).await {
            Ok(events) => events,
            Err(ProviderError::Rejected { .. }) => {
                return Err(ProviderError::InvalidSignature(
                    "unknown to YooKassa".into(),
                ));
            }
            Err(e) => return Err(e),
        };
        let claimed = match n.event.as_str() {
            "payment.succeeded" => events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Succeeded { .. })),
            "payment.canceled" => events.iter().any(|e| {
                matches!(
                    e.kind,
                    EventKind::Canceled | EventKind::Failed { .. } | EventKind::Expired
                )
            }),
            _ => events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Refunded { .. })),
        };
        if !claimed {
            return Err(ProviderError::InvalidSignature(format!(
                "the API does not confirm {}",
                n.event
            )));
        }
        Ok(events)
    }

    async fn fetch_status(&self, payment: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        match &payment.checkout_ref {
            Some(r) => self.payment_events(r.as_str()).await,
            None => Ok(Vec::new()),
        }
    }
}

/// A local fake of the YooKassa API for the demo and the tests.
mod fake {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use serde_json::{Value, json};

    #[derive(Default)]
    pub(crate) struct Fake {
        pub(crate) payments: HashMap<String, Value>,
        pub(crate) by_key: HashMap<String, String>,
        pub(crate) requests: Vec<(HeaderMap, Value)>,
    }

    pub(crate) type Shared = Arc<Mutex<Fake>>;

    fn authorized(headers: &HeaderMap) -> bool {
        // shop id 123456, secret key test_secret
        headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some("Basic MTIzNDU2OnRlc3Rfc2VjcmV0")
    }

    async fn create(
        State(s): State<Shared>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> Response {
        if !authorized(&headers) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"type": "error", "code": "invalid_credentials"})),
            )
                .into_response();
        }
        let mut s = s.lock().unwrap();
        s.requests.push((headers.clone(), body.clone()));
        let key = headers
            .get("idempotence-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if let Some(id) = s.by_key.get(&key) {
            return Json(s.payments[id].clone()).into_response();
        }
        let id = format!("2f{:06x}-000f-5000-9000-1edaf29243f2", s.payments.len() + 1);
        let payment = json!({
            "id": id, "status": "pending", "paid": false, "amount": body["amount"],
            "confirmation": {"type": "redirect", "confirmation_url": format!("https://yoomoney.test/checkout?orderId={id}")},
            "metadata": body["metadata"], "refundable": false,
        });
        s.by_key.insert(key, id.clone());
        s.payments.insert(id, payment.clone());
        Json(payment).into_response()
    }

    async fn get(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
        if !authorized(&headers) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        match s.lock().unwrap().payments.get(&id) {
            Some(p) => Json(p.clone()).into_response(),
            None => (
                StatusCode::NOT_FOUND,
                Json(json!({"type": "error", "code": "not_found"})),
            )
                .into_response(),
        }
    }

    /// Starts the fake; returns its URL and state (tests set payments' status through it).
    pub(crate) async fn start() -> (String, Shared) {
        let state: Shared = Arc::default();
        let app = axum::Router::new()
            .route("/v3/payments", axum::routing::post(create))
            .route("/v3/payments/{id}", axum::routing::get(get))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, state)
    }

    /// Sets a payment's status as if the payer paid / canceled / got a refund.
    pub(crate) fn set(state: &Shared, id: &str, status: &str, refunded: Option<&str>) {
        let mut s = state.lock().unwrap();
        let p = s.payments.get_mut(id).unwrap();
        if let Some((status, reason)) = status.split_once(':') {
            p["cancellation_details"] = json!({"party": "yoo_money", "reason": reason});
            p["status"] = json!(status);
            return;
        }
        p["status"] = json!(status);
        p["paid"] = json!(status == "succeeded");
        if let Some(v) = refunded {
            p["refunded_amount"] = json!({"value": v, "currency": "RUB"});
        }
    }
}

/// The catalog of this example: the default token packages with RUB prices.
fn rub_catalog() -> miniapp::catalog::Catalog {
    use miniapp::catalog::{Catalog, TokenPackage};
    let rub = [
        (100, 45_000),
        (200, 90_000),
        (500, 225_000),
        (1000, 450_000),
    ];
    let packages = Catalog::default()
        .packages()
        .iter()
        .zip(rub)
        .map(|(p, (_, kopecks))| {
            let mut package = TokenPackage::new(p.tokens(), Money::new(kopecks, Currency::RUB));
            for price in p.prices() {
                package = package.with_price(*price);
            }
            package
        })
        .collect();
    Catalog::new(packages).unwrap()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use miniapp::ledger::{CheckoutRecord, InMemoryLedger, LedgerStore, NewPayment};
    let (api, state) = fake::start().await;
    let yookassa = YooKassaProvider::new(
        &api,
        "123456",
        "test_secret",
        "https://bot.example/miniapp/",
    );
    let ledger = InMemoryLedger::new();
    println!("packages in RUB:");
    for p in rub_catalog().packages() {
        println!(
            "  {:>5} tokens  {}",
            p.tokens(),
            p.price_in(Currency::RUB).unwrap()
        );
    }
    let package = rub_catalog().package(500).unwrap().clone();
    let price = package.price_in(Currency::RUB).unwrap();
    let id = PaymentId::generate()?;
    let user = miniapp::ids::UserId::new(279_058_397).unwrap();
    let payment = ledger
        .create_payment(NewPayment {
            id: id.clone(),
            user_id: user,
            provider: yookassa.id().clone(),
            method: miniapp::catalog::PaymentMethod::new("yookassa").unwrap(),
            tokens: package.tokens(),
            price,
            email: None,
            idempotency_key: None,
            language: Some("ru".into()),
        })
        .await?;
    let request = CheckoutRequest {
        payment_id: id.clone(),
        user_id: user,
        tokens: package.tokens(),
        price,
        email: None,
        language: Some("ru".into()),
        created_at: payment.created_at,
        attempt: payment.checkout_attempt,
    };
    let checkout = yookassa.create_checkout(&request).await?;
    ledger
        .attach_checkout(
            &id,
            &CheckoutRecord {
                checkout_ref: checkout.checkout_ref.clone(),
                url: checkout.url.clone(),
            },
        )
        .await?;
    println!("checkout: {}", checkout.url);
    fake::set(&state, checkout.checkout_ref.as_str(), "succeeded", None);
    let notification = json!({"type": "notification", "event": "payment.succeeded", "object": {"id": checkout.checkout_ref.as_str()}});
    let webhook = WebhookRequest {
        headers: vec![],
        body: serde_json::to_vec(&notification)?,
    };
    for event in yookassa.parse_webhook(&webhook, SystemTime::now()).await? {
        let r = ledger
            .apply_event(yookassa.id(), &event, miniapp::payment::RefundPolicy::Debt)
            .await?;
        println!(
            "{} -> {} (credited {})",
            event.kind.name(),
            r.payment.status,
            r.credited
        );
    }
    println!("balance: {} tokens", ledger.balance(user).await?.balance);
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use miniapp::conformance::{self, ProviderHarness, Scenario};

    use super::*;

    struct Harness {
        provider: YooKassaProvider,
        state: fake::Shared,
    }

    #[async_trait]
    impl ProviderHarness for Harness {
        fn provider(&self) -> &dyn PaymentProvider {
            &self.provider
        }

        fn currency(&self) -> Currency {
            Currency::RUB
        }

        async fn webhook(
            &self,
            _r: &CheckoutRequest,
            c: &Checkout,
            scenario: Scenario,
        ) -> WebhookRequest {
            let id = c.checkout_ref.as_str();
            let (event, object) = match scenario {
                Scenario::Paid => {
                    fake::set(&self.state, id, "succeeded", None);
                    ("payment.succeeded", json!({"id": id}))
                }
                Scenario::Failed => {
                    fake::set(&self.state, id, "canceled:insufficient_funds", None);
                    ("payment.canceled", json!({"id": id}))
                }
                Scenario::Expired => {
                    fake::set(&self.state, id, "canceled:expired_on_confirmation", None);
                    ("payment.canceled", json!({"id": id}))
                }
                _ => {
                    let full = self.state.lock().unwrap().payments[id]["amount"]["value"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    fake::set(&self.state, id, "succeeded", Some(&full));
                    (
                        "refund.succeeded",
                        json!({"id": "rf_1", "payment_id": id, "status": "succeeded"}),
                    )
                }
            };
            let body = serde_json::to_vec(
                &json!({"type": "notification", "event": event, "object": object}),
            )
            .unwrap();
            WebhookRequest {
                headers: vec![],
                body,
            }
        }

        fn signs_webhooks(&self) -> bool {
            false
        }

        fn forge(&self, genuine: &WebhookRequest) -> WebhookRequest {
            // Unsigned notifications are forged by naming a payment the API does not confirm.
            let mut n: serde_json::Value = serde_json::from_slice(&genuine.body).unwrap();
            n["object"]["id"] = json!("00000000-000f-5000-9000-000000000000");
            WebhookRequest {
                headers: vec![],
                body: serde_json::to_vec(&n).unwrap(),
            }
        }
    }

    async fn harness() -> Harness {
        let (api, state) = fake::start().await;
        Harness {
            provider: YooKassaProvider::new(
                &api,
                "123456",
                "test_secret",
                "https://bot.example/miniapp/",
            ),
            state,
        }
    }

    // The provider conformance suite, one test per behaviour.
    miniapp::provider_conformance!(harness());

    #[tokio::test]
    async fn the_request_has_the_documented_shape() {
        let h = harness().await;
        let r = conformance::checkout_request(Money::new(225_000, Currency::RUB));
        h.provider.create_checkout(&r).await.unwrap();
        let (headers, body) = h.state.lock().unwrap().requests[0].clone();
        assert_eq!(
            headers["idempotence-key"],
            format!("miniapp-{}", r.payment_id)
        );
        assert_eq!(
            body["amount"],
            json!({"value": "2250.00", "currency": "RUB"})
        );
        assert_eq!(body["capture"], true);
        assert_eq!(body["confirmation"]["type"], "redirect");
        assert_eq!(body["metadata"]["payment_id"], r.payment_id.as_str());
    }

    #[tokio::test]
    async fn a_failed_payment_says_why() {
        let h = harness().await;
        let r = conformance::checkout_request(Money::new(45_000, Currency::RUB));
        let c = h.provider.create_checkout(&r).await.unwrap();
        // The harness's failure is YooKassa's `canceled` with reason `insufficient_funds`.
        let webhook = h.webhook(&r, &c, Scenario::Failed).await;
        let events = h
            .provider
            .parse_webhook(&webhook, SystemTime::now())
            .await
            .unwrap();
        let kinds: Vec<_> = events.into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::Failed {
                reason: Some(FailureReason::InsufficientFunds)
            }]
        );
        assert_eq!(
            failure_reason("fraud_suspected"),
            FailureReason::CardDeclined
        );
    }

    #[tokio::test]
    async fn a_notification_the_api_does_not_confirm_is_refused() {
        let h = harness().await;
        let r = conformance::checkout_request(Money::new(45_000, Currency::RUB));
        let c = h.provider.create_checkout(&r).await.unwrap();
        // Still pending at YooKassa, but the notification claims success.
        let claim = json!({"type": "notification", "event": "payment.succeeded", "object": {"id": c.checkout_ref.as_str(), "status": "succeeded"}});
        let forged = WebhookRequest {
            headers: vec![],
            body: serde_json::to_vec(&claim).unwrap(),
        };
        let result = h.provider.parse_webhook(&forged, SystemTime::now()).await;
        assert!(
            matches!(result, Err(ProviderError::InvalidSignature(_))),
            "{result:?}"
        );
    }

    #[test]
    fn the_catalog_shows_rub_prices() {
        let prices: Vec<String> = rub_catalog()
            .packages()
            .iter()
            .map(|p| p.price_in(Currency::RUB).unwrap().to_string())
            .collect();
        assert_eq!(
            prices,
            ["450.00 RUB", "900.00 RUB", "2250.00 RUB", "4500.00 RUB"]
        );
    }

    #[test]
    fn the_secret_key_is_not_in_debug_output() {
        let p = YooKassaProvider::new("http://x", "123456", "test_secret", "https://bot.example/");
        assert!(!format!("{p:?}").contains("test_secret"));
    }
}
