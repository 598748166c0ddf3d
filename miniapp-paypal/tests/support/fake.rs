//! A fake PayPal REST API on loopback, built from PayPal's documented request and response shapes
//! (`paypal/paypal-rest-api-specifications`: Orders v2, Payments v2, Webhooks v1; the OAuth2
//! token endpoint as PayPal documents it), and from what the official SDK
//! (`@paypal/paypal-server-sdk` 2.5.0) was recorded sending. It checks what it is sent (the
//! Basic and Bearer credentials, `PayPal-Request-Id`, the body's fields and amount format) and
//! answers 400/401/422 with PayPal's error shape when something is off.
//!
//! Webhooks: PayPal signs `transmission id|time|webhook id|CRC32(body)` with RSA and checks it in
//! `verify-webhook-signature`. The fake keeps the exact bytes it "signed" per transmission and
//! its verification compares the `webhook_event` it is sent byte for byte (stricter than a
//! CRC), with the same headers and webhook id.
//!
//! Every webhook the fake builds is also an event of its event list
//! (`GET /v1/notifications/webhooks-events`, Webhooks v1: `page_size`, `start_time` and
//! `end_time` in RFC 3339, both ends included, newest first, a `next` link while more remain),
//! whether or not the test delivers it: an undelivered one is a webhook PayPal gave up on.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use miniapp_core::provider::WebhookRequest;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const CLIENT_ID: &str = "CLIENT_ID_EXAMPLE";
pub const CLIENT_SECRET: &str = "CLIENT_SECRET_EXAMPLE";
pub const WEBHOOK_ID: &str = "8PT597110X687430LKGECATA";
pub const CERT_URL: &str =
    "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone)]
pub struct FakeOrder {
    pub id: String,
    pub status: String,
    pub currency: String,
    pub value: String,
    pub custom_id: String,
    pub invoice_id: String,
    pub capture: Option<FakeCapture>,
    pub refunds: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct FakeCapture {
    pub id: String,
    pub status: String,
}

#[derive(Default)]
pub struct FakeState {
    pub requests: Vec<Recorded>,
    pub orders: HashMap<String, FakeOrder>,
    /// (route, PayPal-Request-Id) → the first answer's status and body.
    pub replies: HashMap<(String, String), (u16, Value)>,
    pub tokens: Vec<String>,
    pub token_life: u64,
    /// Transmission id → (time, signature, exact body bytes).
    pub signed: HashMap<String, (String, String, Vec<u8>)>,
    pub decline_next_capture: bool,
    /// Answer the next N non-token requests with 503.
    pub fail_next: u32,
    /// Carry out the next N POSTs (but the token's), then lose the answer (a 503 instead): the case
    /// `PayPal-Request-Id` exists for.
    pub lose_next_answer: u32,
    /// Objects served as they are by `GET <path>` (PayPal's own sample resources).
    pub seeded: HashMap<String, Value>,
    /// Revoke every token issued so far (PayPal may end a token before its time).
    pub serial: u64,
    /// The event list: every webhook built, with its `create_time`.
    pub events: Vec<(OffsetDateTime, Value)>,
    /// The path of the event list's `next` links, when not the list's own (a hostile answer).
    pub next_link_path: Option<String>,
    /// How long each page of the event list takes to come (a slow PayPal).
    pub list_delay: std::time::Duration,
}

#[derive(Clone)]
pub struct Fake {
    pub state: Arc<Mutex<FakeState>>,
    pub base: String,
}

fn error(status: StatusCode, name: &str, issue: &str, description: &str) -> Response {
    (
        status,
        [("paypal-debug-id", "f0e1d2c3b4a59")],
        axum::Json(json!({
            "name": name,
            "message": "The requested action could not be performed, semantically incorrect, or failed business validation.",
            "debug_id": "f0e1d2c3b4a59",
            "details": [{"issue": issue, "description": description}],
            "links": [{"href": format!("https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{issue}"), "rel": "information_link", "method": "GET"}],
        })),
    )
        .into_response()
}

fn unprocessable(issue: &str) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNPROCESSABLE_ENTITY",
        issue,
        issue,
    )
}

fn malformed_json(description: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        "MALFORMED_REQUEST_JSON",
        description,
    )
}

fn invalid(field: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        "INVALID_PARAMETER_VALUE",
        &format!("{field} is missing or not valid"),
    )
}

/// PayPal's amount `value`: `^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$`, two decimals at most for USD.
fn valid_amount(v: &Value) -> bool {
    let (Some(code), Some(value)) = (v["currency_code"].as_str(), v["value"].as_str()) else {
        return false;
    };
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    code.len() == 3
        && !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 2
        && !(value.contains('.') && frac.is_empty())
}

impl Fake {
    pub async fn start() -> Fake {
        let state = Arc::new(Mutex::new(FakeState {
            token_life: 32_400,
            ..FakeState::default()
        }));
        let app = Router::new()
            .route("/v1/oauth2/token", post(token))
            .route("/v2/checkout/orders", post(create_order))
            .route("/v2/checkout/orders/{id}", get(get_order))
            .route("/v2/checkout/orders/{id}/capture", post(capture))
            .route("/v2/payments/captures/{id}/refund", post(refund))
            .route("/v2/payments/captures/{id}", get(get_capture))
            .route("/v2/payments/refunds/{id}", get(get_refund))
            .route("/v1/customer/disputes/{id}", get(get_seeded))
            .route("/v1/notifications/webhooks-events", get(list_events))
            .route(
                "/v1/notifications/verify-webhook-signature",
                post(verify_signature),
            )
            .layer(axum::middleware::from_fn_with_state(state.clone(), record))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { state, base }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    /// The capture requests (`POST …/capture`) received.
    pub fn capture_requests(&self) -> Vec<Recorded> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/capture"))
            .cloned()
            .collect()
    }

    pub fn requests(&self, path_part: &str) -> Vec<Recorded> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.path.contains(path_part))
            .cloned()
            .collect()
    }

    /// The buyer approves the order on PayPal's page.
    pub fn approve(&self, order_id: &str) {
        let mut s = self.lock();
        let order = s.orders.get_mut(order_id).expect("known order");
        assert_eq!(order.status, "PAYER_ACTION_REQUIRED");
        order.status = "APPROVED".into();
    }

    pub fn order(&self, order_id: &str) -> FakeOrder {
        self.lock()
            .orders
            .get(order_id)
            .cloned()
            .expect("known order")
    }

    /// The order as PayPal shows it (also the `resource` of `CHECKOUT.ORDER.*` webhooks).
    pub fn order_json(&self, order_id: &str) -> Value {
        order_json(&self.order(order_id), &self.base)
    }

    /// The capture as `PAYMENT.CAPTURE.*` webhooks carry it.
    pub fn capture_json(&self, order_id: &str) -> Value {
        let o = self.order(order_id);
        capture_json(&o, o.capture.as_ref().expect("captured"), &self.base)
    }

    /// Serves `resource` at `GET path` (PayPal's own sample objects).
    pub fn seed(&self, path: &str, resource: Value) {
        self.lock().seeded.insert(path.to_owned(), resource);
    }

    /// An order another integration created on the same PayPal account, approved by its buyer.
    pub fn foreign_approved_order(&self, custom_and_invoice_id: &str) -> String {
        let mut s = self.lock();
        let id = format!("9F{:014}X", s.orders.len() + 1);
        s.orders.insert(
            id.clone(),
            FakeOrder {
                id: id.clone(),
                status: "APPROVED".into(),
                currency: "USD".into(),
                value: "12.00".into(),
                custom_id: custom_and_invoice_id.into(),
                invoice_id: custom_and_invoice_id.into(),
                capture: None,
                refunds: Vec::new(),
            },
        );
        id
    }

    /// PayPal forgot the order (an unapproved one, after its approval window).
    pub fn forget(&self, order_id: &str) {
        self.lock().orders.remove(order_id);
    }

    /// The buyer never approved: PayPal voids the order.
    pub fn void(&self, order_id: &str) {
        self.lock()
            .orders
            .get_mut(order_id)
            .expect("known order")
            .status = "VOIDED".into();
    }

    /// Orders captured. As at PayPal, an order (intent `CAPTURE`) is captured at most once: a
    /// second capture is refused (`ORDER_ALREADY_CAPTURED`), so this counts the orders that were
    /// captured at all.
    pub fn captured(&self) -> usize {
        self.lock()
            .orders
            .values()
            .filter(|o| o.capture.is_some())
            .count()
    }

    /// Captures the order on PayPal's side (as PayPal does for the buyer in tests of the
    /// webhook path), with `status`.
    pub fn capture_now(&self, order_id: &str, status: &str) -> String {
        let mut s = self.lock();
        let order = s.orders.get_mut(order_id).expect("known order");
        let id = format!("C{}", order.id);
        order.capture = Some(FakeCapture {
            id: id.clone(),
            status: status.into(),
        });
        order.status = "COMPLETED".into();
        id
    }

    /// Refunds `value` of the order's capture on PayPal's side; the refund resource of the
    /// `PAYMENT.CAPTURE.REFUNDED` webhook.
    pub fn refund_now(&self, order_id: &str, value: &str) -> Value {
        let mut s = self.lock();
        let order = s.orders.get_mut(order_id).expect("known order");
        let n = order.refunds.len();
        let id = format!("R{n}{}", order.id);
        order.refunds.push((id.clone(), value.into()));
        let capture = order.capture.as_mut().expect("captured");
        let total = sum(&order.refunds);
        capture.status = if total == cents(&order.value) {
            "REFUNDED".into()
        } else {
            "PARTIALLY_REFUNDED".into()
        };
        let capture_id = capture.id.clone();
        refund_json(
            &id,
            value,
            &format_cents(total),
            &order.currency,
            &capture_id,
            &self.base,
        )
    }

    /// `body` signed as PayPal signs a delivery (PayPal's own sample events, byte for byte).
    pub fn sign(&self, body: Vec<u8>) -> WebhookRequest {
        let mut s = self.lock();
        s.serial += 1;
        let n = s.serial;
        let transmission = format!("1c6772d0-5106-11ef-9b66-{n:012}");
        let time = "2026-12-01T12:00:01Z".to_owned();
        let sig =
            base64::engine::general_purpose::STANDARD.encode(format!("sig-{n}-{}", body.len()));
        s.signed.insert(
            transmission.clone(),
            (time.clone(), sig.clone(), body.clone()),
        );
        WebhookRequest {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("paypal-transmission-id".into(), transmission),
                ("paypal-transmission-time".into(), time),
                ("paypal-transmission-sig".into(), sig),
                ("paypal-auth-algo".into(), "SHA256withRSA".into()),
                ("paypal-auth-version".into(), "v2".into()),
                ("paypal-cert-url".into(), CERT_URL.into()),
            ],
            body,
        }
    }

    /// A webhook as PayPal delivers it: the envelope, compact JSON, and the transmission headers
    /// whose signature the fake's `verify-webhook-signature` accepts for exactly these bytes.
    pub fn webhook(
        &self,
        event_type: &str,
        resource_type: &str,
        resource: Value,
    ) -> WebhookRequest {
        self.webhook_at(
            OffsetDateTime::now_utc(),
            event_type,
            resource_type,
            resource,
        )
    }

    /// [`Fake::webhook`] of an event PayPal created at `created`.
    pub fn webhook_at(
        &self,
        created: OffsetDateTime,
        event_type: &str,
        resource_type: &str,
        resource: Value,
    ) -> WebhookRequest {
        let n = self.lock().serial + 1;
        let event = json!({
            "id": format!("WH-{n:04}ABCD1234EFGH5678"),
            "event_version": "1.0",
            "create_time": created.format(&Rfc3339).unwrap(),
            "resource_type": resource_type,
            "resource_version": "2.0",
            "event_type": event_type,
            "summary": "An event",
            "resource": resource,
            "links": [{"href": format!("https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-{n:04}"), "rel": "self", "method": "GET"}],
        });
        let body = serde_json::to_vec(&event).unwrap();
        let request = self.sign(body);
        self.lock().events.push((created, event));
        request
    }

    /// The event-list requests received, with their queries.
    pub fn list_requests(&self) -> Vec<String> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with("/v1/notifications/webhooks-events"))
            .map(|r| r.path.clone())
            .collect()
    }
}

fn cents(value: &str) -> u64 {
    let (int, frac) = value.split_once('.').unwrap_or((value, "0"));
    int.parse::<u64>().unwrap() * 100 + format!("{frac:0<2}").parse::<u64>().unwrap()
}

fn format_cents(c: u64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn sum(refunds: &[(String, String)]) -> u64 {
    refunds.iter().map(|(_, v)| cents(v)).sum()
}

fn capture_json(o: &FakeOrder, c: &FakeCapture, base: &str) -> Value {
    json!({
        "id": c.id, "status": c.status,
        "amount": {"currency_code": o.currency, "value": o.value},
        "final_capture": true,
        "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
        "seller_receivable_breakdown": {
            "gross_amount": {"currency_code": o.currency, "value": o.value},
            "paypal_fee": {"currency_code": o.currency, "value": "0.50"},
            "net_amount": {"currency_code": o.currency, "value": format_cents(cents(&o.value) - 50)},
        },
        "custom_id": o.custom_id, "invoice_id": o.invoice_id,
        "supplementary_data": {"related_ids": {"order_id": o.id}},
        "links": [
            {"href": format!("{base}/v2/payments/captures/{}", c.id), "rel": "self", "method": "GET"},
            {"href": format!("{base}/v2/payments/captures/{}/refund", c.id), "rel": "refund", "method": "POST"},
            {"href": format!("{base}/v2/checkout/orders/{}", o.id), "rel": "up", "method": "GET"},
        ],
        "create_time": "2026-12-01T12:00:00Z", "update_time": "2026-12-01T12:00:00Z",
    })
}

fn refund_json(
    id: &str,
    value: &str,
    total: &str,
    currency: &str,
    capture: &str,
    base: &str,
) -> Value {
    json!({
        "id": id, "status": "COMPLETED",
        "amount": {"currency_code": currency, "value": value},
        "seller_payable_breakdown": {
            "gross_amount": {"currency_code": currency, "value": value},
            "paypal_fee": {"currency_code": currency, "value": "0.00"},
            "net_amount": {"currency_code": currency, "value": value},
            "total_refunded_amount": {"currency_code": currency, "value": total},
        },
        "links": [
            {"href": format!("{base}/v2/payments/refunds/{id}"), "rel": "self", "method": "GET"},
            {"href": format!("{base}/v2/payments/captures/{capture}"), "rel": "up", "method": "GET"},
        ],
        "create_time": "2026-12-01T12:00:00Z", "update_time": "2026-12-01T12:00:00Z",
    })
}

fn order_json(o: &FakeOrder, base: &str) -> Value {
    let mut unit = json!({
        "reference_id": "default",
        "amount": {"currency_code": o.currency, "value": o.value},
        "payee": {"email_address": "merchant@example.com", "merchant_id": "C7CYMKZDG8D6E"},
        "custom_id": o.custom_id, "invoice_id": o.invoice_id,
    });
    if let Some(c) = &o.capture {
        let refunds: Vec<Value> = o
            .refunds
            .iter()
            .map(|(id, v)| refund_json(id, v, v, &o.currency, &c.id, base))
            .collect();
        unit["payments"] = json!({"captures": [capture_json(o, c, base)], "refunds": refunds});
    }
    let mut links = vec![
        json!({"href": format!("{base}/v2/checkout/orders/{}", o.id), "rel": "self", "method": "GET"}),
    ];
    match o.status.as_str() {
        "PAYER_ACTION_REQUIRED" => links.push(json!({"href": format!("https://www.sandbox.paypal.com/checkoutnow?token={}", o.id), "rel": "payer-action", "method": "GET"})),
        "APPROVED" => links.push(json!({"href": format!("{base}/v2/checkout/orders/{}/capture", o.id), "rel": "capture", "method": "POST"})),
        _ => {}
    }
    json!({
        "id": o.id, "intent": "CAPTURE", "status": o.status,
        "payment_source": {"paypal": {}},
        "purchase_units": [unit],
        "create_time": "2026-12-01T12:00:00Z",
        "links": links,
    })
}

async fn record(
    State(state): State<Arc<Mutex<FakeState>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path().to_owned();
    {
        let mut s = state.lock().unwrap();
        s.requests.push(Recorded {
            method: parts.method.to_string(),
            // The query too where it carries the request (the event list's window).
            path: if path == "/v1/notifications/webhooks-events" {
                parts.uri.to_string()
            } else {
                path.clone()
            },
            headers: parts.headers.clone(),
            body: bytes.to_vec(),
        });
        if path != "/v1/oauth2/token" {
            let bearer = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned);
            if !bearer.is_some_and(|b| s.tokens.contains(&b)) {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"name": "AUTHENTICATION_FAILURE", "message": "Authentication failed due to missing authorization header, or invalid authentication credentials.", "debug_id": "f0e1d2c3b4a59", "details": [], "links": []})),
                )
                    .into_response();
            }
            if s.fail_next > 0 {
                s.fail_next -= 1;
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    "SERVICE_UNAVAILABLE",
                    "try later",
                );
            }
        }
    }
    let post = parts.method == axum::http::Method::POST;
    let answer = next
        .run(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(bytes),
        ))
        .await;
    let mut s = state.lock().unwrap();
    if post && path != "/v1/oauth2/token" && s.lose_next_answer > 0 {
        s.lose_next_answer -= 1;
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "SERVICE_UNAVAILABLE",
            "the answer was lost",
        );
    }
    answer
}

async fn token(
    State(state): State<Arc<Mutex<FakeState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let form_ok = headers.get("content-type").and_then(|v| v.to_str().ok())
        == Some("application/x-www-form-urlencoded")
        && body.as_ref() == b"grant_type=client_credentials";
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str())
        || !form_ok
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "Client Authentication failed"})),
        )
            .into_response();
    }
    let mut s = state.lock().unwrap();
    let token = format!("A21AAF{:08}", s.tokens.len() + 1);
    s.tokens.push(token.clone());
    axum::Json(json!({
        "scope": "https://uri.paypal.com/services/payments/payment openid",
        "access_token": token, "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T", "expires_in": s.token_life,
        "nonce": "2026-12-01T12:00:00ZaYZlGvEkV4yVSz8g6bAKFoGSEzuy3CQcz3ljhibkOHg",
    }))
    .into_response()
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 108)
        .map(str::to_owned)
}

/// The stored answer to a repeated `PayPal-Request-Id`, as PayPal replays it (200).
fn replay(s: &FakeState, route: &str, key: &Option<String>) -> Option<Response> {
    let key = key.as_ref()?;
    let (_, body) = s.replies.get(&(route.to_owned(), key.clone()))?;
    Some((StatusCode::OK, axum::Json(body.clone())).into_response())
}

async fn create_order(
    State(state): State<Arc<Mutex<FakeState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = request_id(&headers);
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return invalid("Content-Type");
    }
    let Ok(order) = serde_json::from_slice::<Value>(&body) else {
        return malformed_json("not JSON");
    };
    let mut s = state.lock().unwrap();
    if let Some(r) = replay(&s, "create", &key) {
        return r;
    }
    if order["intent"] != "CAPTURE" {
        return invalid("intent");
    }
    let units = order["purchase_units"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if units.len() != 1 {
        return invalid("purchase_units");
    }
    let unit = &units[0];
    if !valid_amount(&unit["amount"]) {
        return unprocessable("DECIMAL_PRECISION");
    }
    let context = &order["payment_source"]["paypal"]["experience_context"];
    for field in ["return_url", "cancel_url"] {
        if !context[field]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
        {
            return invalid(field);
        }
    }
    let (Some(custom), Some(invoice)) = (unit["custom_id"].as_str(), unit["invoice_id"].as_str())
    else {
        return invalid("custom_id");
    };
    let id = format!("5O{:014}T", s.orders.len() + 1);
    let created = FakeOrder {
        id: id.clone(),
        status: "PAYER_ACTION_REQUIRED".into(),
        currency: unit["amount"]["currency_code"].as_str().unwrap().into(),
        value: unit["amount"]["value"].as_str().unwrap().into(),
        custom_id: custom.into(),
        invoice_id: invoice.into(),
        capture: None,
        refunds: Vec::new(),
    };
    let body = order_json(&created, "https://api-m.sandbox.paypal.com");
    s.orders.insert(id, created);
    if let Some(key) = key {
        s.replies
            .insert(("create".into(), key), (201, body.clone()));
    }
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn get_order(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    {
        let s = state.lock().unwrap();
        if let Some(o) = s.orders.get(&id) {
            return axum::Json(order_json(o, "https://api-m.sandbox.paypal.com")).into_response();
        }
    }
    get_seeded(State(state), uri).await
}

async fn capture(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = request_id(&headers);
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json")
        || !serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.is_object())
    {
        return malformed_json("send {}");
    }
    let mut s = state.lock().unwrap();
    let route = format!("capture-{id}");
    if let Some(r) = replay(&s, &route, &key) {
        return r;
    }
    let decline = std::mem::take(&mut s.decline_next_capture);
    let Some(order) = s.orders.get_mut(&id) else {
        return not_found();
    };
    match order.status.as_str() {
        "COMPLETED" => return unprocessable("ORDER_ALREADY_CAPTURED"),
        "APPROVED" => {}
        _ => return unprocessable("ORDER_NOT_APPROVED"),
    }
    if decline {
        return unprocessable("INSTRUMENT_DECLINED");
    }
    order.capture = Some(FakeCapture {
        id: format!("C{}", order.id),
        status: "COMPLETED".into(),
    });
    order.status = "COMPLETED".into();
    let body = order_json(order, "https://api-m.sandbox.paypal.com");
    if let Some(key) = key {
        s.replies.insert((route, key), (201, body.clone()));
    }
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn refund(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(capture_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = request_id(&headers);
    let Ok(asked) = serde_json::from_slice::<Value>(&body) else {
        return malformed_json("not JSON");
    };
    let mut s = state.lock().unwrap();
    let route = format!("refund-{capture_id}");
    if let Some(r) = replay(&s, &route, &key) {
        return r;
    }
    let base = "https://api-m.sandbox.paypal.com".to_owned();
    let Some(order) = s
        .orders
        .values_mut()
        .find(|o| o.capture.as_ref().is_some_and(|c| c.id == capture_id))
    else {
        return not_found();
    };
    let left = cents(&order.value) - sum(&order.refunds);
    if left == 0 {
        return unprocessable("CAPTURE_FULLY_REFUNDED");
    }
    let value = if asked["amount"].is_null() {
        format_cents(left)
    } else {
        if !valid_amount(&asked["amount"]) {
            return unprocessable("DECIMAL_PRECISION");
        }
        asked["amount"]["value"].as_str().unwrap().to_owned()
    };
    if cents(&value) > left {
        return unprocessable("REFUND_AMOUNT_EXCEEDED");
    }
    let id = format!("R{}{}", order.refunds.len(), order.id);
    order.refunds.push((id.clone(), value.clone()));
    let total = format_cents(sum(&order.refunds));
    let body = json!({
        "id": id, "status": "COMPLETED",
        "links": [
            {"href": format!("{base}/v2/payments/refunds/{id}"), "rel": "self", "method": "GET"},
            {"href": format!("{base}/v2/payments/captures/{capture_id}"), "rel": "up", "method": "GET"},
        ],
        "amount": {"currency_code": order.currency, "value": value},
        "seller_payable_breakdown": {"total_refunded_amount": {"currency_code": order.currency, "value": total}},
    });
    if let Some(key) = key {
        s.replies.insert((route, key), (201, body.clone()));
    }
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

#[derive(serde::Deserialize)]
struct VerifyRequest {
    auth_algo: String,
    cert_url: String,
    transmission_id: String,
    transmission_sig: String,
    transmission_time: String,
    webhook_id: String,
    webhook_event: Box<serde_json::value::RawValue>,
}

async fn verify_signature(State(state): State<Arc<Mutex<FakeState>>>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<VerifyRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "MISSING_REQUIRED_PARAMETER",
            "all seven fields are required",
        );
    };
    let s = state.lock().unwrap();
    let genuine = s
        .signed
        .get(&v.transmission_id)
        .is_some_and(|(time, sig, bytes)| {
            *time == v.transmission_time
                && *sig == v.transmission_sig
                && v.webhook_event.get().as_bytes() == bytes.trim_ascii()
        })
        && v.auth_algo == "SHA256withRSA"
        && v.cert_url == CERT_URL
        && v.webhook_id == WEBHOOK_ID;
    axum::Json(json!({"verification_status": if genuine { "SUCCESS" } else { "FAILURE" }}))
        .into_response()
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "RESOURCE_NOT_FOUND",
        "INVALID_RESOURCE_ID",
        "Specified resource ID does not exist.",
    )
}

async fn get_seeded(State(state): State<Arc<Mutex<FakeState>>>, uri: axum::http::Uri) -> Response {
    let s = state.lock().unwrap();
    match s.seeded.get(uri.path()) {
        Some(v) => axum::Json(v.clone()).into_response(),
        None => not_found(),
    }
}

/// `GET /v2/payments/captures/{id}`: a capture of one of the fake's orders, else a seeded one.
async fn get_capture(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    {
        let s = state.lock().unwrap();
        if let Some((o, c)) = s
            .orders
            .values()
            .find_map(|o| o.capture.as_ref().filter(|c| c.id == id).map(|c| (o, c)))
        {
            return axum::Json(capture_json(o, c, "https://api-m.sandbox.paypal.com"))
                .into_response();
        }
    }
    get_seeded(State(state), uri).await
}

/// `GET /v2/payments/refunds/{id}`: a refund of one of the fake's orders, else a seeded one.
async fn get_refund(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    {
        let s = state.lock().unwrap();
        for o in s.orders.values() {
            let (Some(c), Some(n)) = (&o.capture, o.refunds.iter().position(|(r, _)| *r == id))
            else {
                continue;
            };
            let total = format_cents(sum(&o.refunds[..=n]));
            let body = refund_json(
                &id,
                &o.refunds[n].1,
                &total,
                &o.currency,
                &c.id,
                "https://api-m.sandbox.paypal.com",
            );
            return axum::Json(body).into_response();
        }
    }
    get_seeded(State(state), uri).await
}

/// `GET /v1/notifications/webhooks-events`: the events created in `[start_time, end_time]`,
/// newest first, `page_size` (1 to 300, default 10) at a time.
async fn list_events(State(state): State<Arc<Mutex<FakeState>>>, uri: axum::http::Uri) -> Response {
    let delay = state.lock().unwrap().list_delay;
    tokio::time::sleep(delay).await;
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url_pairs(q)
                .into_iter()
                .collect::<HashMap<String, String>>()
        })
        .unwrap_or_default();
    // `Err(name)`: the parameter that is not an RFC 3339 time.
    let time = |name: &'static str| -> Result<Option<OffsetDateTime>, &'static str> {
        query
            .get(name)
            .map(|v| OffsetDateTime::parse(v, &Rfc3339).map_err(|_| name))
            .transpose()
    };
    let (start, end) = match (time("start_time"), time("end_time")) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(name), _) | (_, Err(name)) => return invalid(name),
    };
    if start.zip(end).is_some_and(|(s, e)| s > e) {
        return invalid("start_time");
    }
    let size = match query.get("page_size").map(|v| v.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (1..=300).contains(&n) => n,
        Some(_) => return invalid("page_size"),
    };
    let page = match query.get("page").map(|v| v.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(_) => return invalid("page"),
    };
    let s = state.lock().unwrap();
    let mut matching: Vec<&(OffsetDateTime, Value)> = s
        .events
        .iter()
        .filter(|(t, _)| start.is_none_or(|s| *t >= s) && end.is_none_or(|e| *t <= e))
        .collect();
    matching.sort_by_key(|e| std::cmp::Reverse(e.0));
    let events: Vec<Value> = matching
        .iter()
        .skip(page * size)
        .take(size)
        .map(|(_, e)| e.clone())
        .collect();
    let mut links = vec![
        json!({"href": format!("https://api-m.sandbox.paypal.com{uri}"), "rel": "self", "method": "GET"}),
    ];
    if matching.len() > (page + 1) * size {
        let mut next = url_pairs(uri.query().unwrap_or(""));
        next.retain(|(k, _)| k != "page");
        next.push(("page".into(), (page + 1).to_string()));
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(next)
            .finish();
        // As PayPal names its links: `api.sandbox.paypal.com`, not the host the client calls.
        let path = s
            .next_link_path
            .clone()
            .unwrap_or_else(|| "/v1/notifications/webhooks-events".into());
        links.push(json!({"href": format!("https://api.sandbox.paypal.com{path}?{query}"), "rel": "next", "method": "GET"}));
    }
    axum::Json(json!({"events": events, "count": events.len(), "links": links})).into_response()
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}
