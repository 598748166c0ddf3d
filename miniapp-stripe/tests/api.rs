//! StripeProvider against a local fake of Stripe's API (an axum app on port 0): the exact
//! request it sends, the error paths and retries, reconciliation, and the provider conformance
//! suite. Nothing here reaches the internet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use miniapp_core::conformance::{ProviderHarness, Scenario};
use miniapp_core::event::{EventKind, FailureReason};
use miniapp_core::ids::{PaymentId, UserId};
use miniapp_core::ledger::InMemoryLedger;
use miniapp_core::money::{Currency, Money, TokenAmount};
use miniapp_core::payment::example_pending_payment;
use miniapp_core::provider::{
    Checkout, CheckoutRequest, PaymentProvider, ProviderError, WebhookRequest,
};
use miniapp_stripe::{STRIPE_API_VERSION, StripeConfig, StripeProvider, sign_header};
use serde_json::json;

const KEY: &str = "sk_test_51SECRETKEYsecretkey";
const WHSEC: &str = "whsec_fake_endpoint_secret";

#[derive(Clone, Debug)]
struct Recorded {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

struct Scripted {
    status: u16,
    body: String,
    headers: Vec<(&'static str, &'static str)>,
    delay: Duration,
}

#[derive(Default)]
struct Fake {
    requests: Vec<Recorded>,
    script: VecDeque<Scripted>,
    sessions_by_key: HashMap<String, serde_json::Value>,
    sessions: HashMap<String, serde_json::Value>,
    /// The account's events, newest first, as `GET /v1/events` lists them.
    events: Vec<serde_json::Value>,
}

type Shared = Arc<Mutex<Fake>>;

fn record(
    state: &Shared,
    method: &str,
    path: String,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Scripted> {
    let mut s = state.lock().unwrap();
    s.requests.push(Recorded {
        method: method.into(),
        path,
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
    });
    s.script.pop_front()
}

async fn scripted(s: Scripted) -> Response {
    tokio::time::sleep(s.delay).await; // the fake is slow on purpose
    let mut r = (StatusCode::from_u16(s.status).unwrap(), s.body).into_response();
    for (k, v) in s.headers {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

async fn create_session(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(s) = record(
        &state,
        "POST",
        "/v1/checkout/sessions".into(),
        &headers,
        &body,
    ) {
        return scripted(s).await;
    }
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut s = state.lock().unwrap();
    if let Some(existing) = s.sessions_by_key.get(&key) {
        return axum::Json(existing.clone()).into_response();
    }
    let id = format!("cs_test_{}", s.sessions.len() + 1);
    let session = json!({
        "id": id, "object": "checkout.session", "status": "open", "payment_status": "unpaid",
        "url": format!("https://checkout.stripe.test/c/pay/{id}"),
        "amount_total": form["line_items[0][price_data][unit_amount]"].parse::<u64>().unwrap(),
        "currency": form["line_items[0][price_data][currency]"],
        "client_reference_id": form["client_reference_id"],
        "metadata": {"payment_id": form["metadata[payment_id]"]},
        "expires_at": form["expires_at"].parse::<u64>().unwrap(),
        "payment_intent": null,
    });
    s.sessions_by_key.insert(key, session.clone());
    s.sessions.insert(id, session.clone());
    axum::Json(session).into_response()
}

async fn get_session(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(s) = record(
        &state,
        "GET",
        format!("/v1/checkout/sessions/{id}"),
        &headers,
        &Bytes::new(),
    ) {
        return scripted(s).await;
    }
    match state.lock().unwrap().sessions.get(&id) {
        Some(session) => axum::Json(session.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such checkout.session"}}"#).into_response(),
    }
}

/// `POST /v1/refunds` as Stripe answers it: one refund per idempotency key.
async fn create_refund(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(s) = record(&state, "POST", "/v1/refunds".into(), &headers, &body) {
        return scripted(s).await;
    }
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    axum::Json(json!({
        "id": "re_test_1", "object": "refund", "status": "succeeded",
        "payment_intent": form["payment_intent"],
        "amount": form["amount"].parse::<u64>().unwrap(), "currency": "usd",
    }))
    .into_response()
}

/// `GET /v1/events` as Stripe pages it: newest first; `ending_before` gives the `limit` events
/// just newer than the cursor, and `has_more` says whether even newer ones exist.
async fn list_events(
    State(state): State<Shared>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    record(
        &state,
        "GET",
        format!("/v1/events?{query}"),
        &headers,
        &Bytes::new(),
    );
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let types: Vec<&String> = pairs
        .iter()
        .filter(|(n, _)| n == "types[]")
        .map(|(_, v)| v)
        .collect();
    let limit: usize = get("limit").unwrap().parse().unwrap();
    let s = state.lock().unwrap();
    let all: Vec<&serde_json::Value> = s
        .events
        .iter()
        .filter(|e| types.iter().any(|t| e["type"].as_str() == Some(t.as_str())))
        .collect();
    let (page, has_more) = match get("ending_before") {
        Some(cursor) => {
            let at = all.iter().position(|e| e["id"] == cursor.as_str()).unwrap();
            (all[at.saturating_sub(limit)..at].to_vec(), at > limit)
        }
        None => (all.iter().take(limit).copied().collect(), all.len() > limit),
    };
    axum::Json(json!({"object": "list", "data": page, "has_more": has_more})).into_response()
}

struct Server {
    state: Shared,
    url: String,
}

impl Server {
    async fn start() -> Server {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(get_session))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/events", get(list_events))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { state, url }
    }

    fn provider(&self) -> StripeProvider {
        self.provider_with(|c| c)
    }

    fn provider_with(&self, f: impl FnOnce(StripeConfig) -> StripeConfig) -> StripeProvider {
        let config = StripeConfig::new(KEY, vec![WHSEC.into()], "https://bot.example")
            .with_api_base(&self.url)
            .with_retries(2, Duration::from_millis(5));
        StripeProvider::new(f(config)).unwrap()
    }

    fn script(&self, status: u16, body: &str, headers: Vec<(&'static str, &'static str)>) {
        self.state.lock().unwrap().script.push_back(Scripted {
            status,
            body: body.into(),
            headers,
            delay: Duration::ZERO,
        });
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn request() -> CheckoutRequest {
    CheckoutRequest {
        payment_id: PaymentId::generate().unwrap(),
        user_id: UserId::new(279_058_397).unwrap(),
        tokens: TokenAmount::new(500).unwrap(),
        price: Money::usd_cents(2500),
        email: Some("buyer@example.com".into()),
        language: Some("en".into()),
        created_at: now(),
        attempt: 0,
    }
}

#[tokio::test]
async fn create_sends_the_exact_form_and_headers() {
    let server = Server::start().await;
    let r = request();
    let checkout = server.provider().create_checkout(&r).await.unwrap();
    assert!(checkout.checkout_ref.as_str().starts_with("cs_test_"));
    assert!(checkout.url.starts_with("https://checkout.stripe.test/"));
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    let h = &sent[0].headers;
    assert_eq!(h["authorization"], format!("Bearer {KEY}"));
    assert_eq!(h["stripe-version"], STRIPE_API_VERSION);
    assert_eq!(
        h["idempotency-key"],
        format!("miniapp-checkout-{}", r.payment_id)
    );
    assert_eq!(h["content-type"], "application/x-www-form-urlencoded");
    let form: BTreeMap<String, String> = form_urlencoded::parse(sent[0].body.as_bytes())
        .into_owned()
        .collect();
    let id = r.payment_id.to_string();
    let expected: BTreeMap<String, String> = [
        ("mode", "payment".to_owned()),
        ("allowed_payment_method_types[0]", "card".to_owned()),
        ("adaptive_pricing[enabled]", "false".to_owned()),
        ("line_items[0][quantity]", "1".to_owned()),
        ("line_items[0][price_data][currency]", "usd".to_owned()),
        ("line_items[0][price_data][unit_amount]", "2500".to_owned()),
        (
            "line_items[0][price_data][product_data][name]",
            "500 tokens".to_owned(),
        ),
        (
            "success_url",
            format!("https://bot.example/miniapp/?payment_id={id}&checkout=success"),
        ),
        (
            "cancel_url",
            format!("https://bot.example/miniapp/?payment_id={id}&checkout=cancel"),
        ),
        ("customer_email", "buyer@example.com".to_owned()),
        ("client_reference_id", id.clone()),
        ("metadata[payment_id]", id.clone()),
        ("metadata[telegram_user_id]", "279058397".to_owned()),
        ("payment_intent_data[metadata][payment_id]", id),
        (
            "payment_intent_data[metadata][telegram_user_id]",
            "279058397".to_owned(),
        ),
        ("expires_at", (r.created_at + 3600).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(form, expected);
}

#[tokio::test]
async fn expiry_is_clamped_to_stripes_window_and_email_is_optional() {
    let server = Server::start().await;
    let mut r = request();
    r.email = None;
    server
        .provider_with(|c| c.with_checkout_ttl(Duration::from_secs(60)))
        .create_checkout(&r)
        .await
        .unwrap();
    server
        .provider_with(|c| c.with_checkout_ttl(Duration::from_secs(90_000)))
        .create_checkout(&request())
        .await
        .unwrap();
    let sent = server.requests();
    let field = |i: usize, k: &str| {
        form_urlencoded::parse(sent[i].body.as_bytes())
            .into_owned()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v)
    };
    assert_eq!(
        field(0, "expires_at"),
        Some((r.created_at + 40 * 60).to_string())
    );
    assert_eq!(field(0, "customer_email"), None);
    let long: u64 = field(1, "expires_at").unwrap().parse().unwrap();
    assert!(long <= now() + 24 * 3600);
}

#[tokio::test]
async fn same_payment_twice_gives_the_same_session() {
    let server = Server::start().await;
    let r = request();
    let a = server.provider().create_checkout(&r).await.unwrap();
    let b = server.provider().create_checkout(&r).await.unwrap();
    assert_eq!(a, b);
    let sent = server.requests();
    assert_eq!(
        sent[0].body, sent[1].body,
        "a repeated request is byte-identical (idempotency)"
    );
}

#[tokio::test]
async fn a_new_attempt_uses_a_fresh_idempotency_key() {
    let server = Server::start().await;
    let mut r = request();
    r.attempt = 2;
    let fresh = server.provider().create_checkout(&r).await.unwrap();
    r.attempt = 0;
    let first = server.provider().create_checkout(&r).await.unwrap();
    let sent = server.requests();
    assert_eq!(
        sent[0].headers["idempotency-key"],
        format!("miniapp-checkout-{}:2", r.payment_id)
    );
    assert_eq!(
        sent[1].headers["idempotency-key"],
        format!("miniapp-checkout-{}", r.payment_id)
    );
    assert_ne!(
        fresh.checkout_ref, first.checkout_ref,
        "two keys, two sessions"
    );
}

#[tokio::test]
async fn a_checkout_is_opened_only_with_five_minutes_over_stripes_minimum() {
    let server = Server::start().await;
    let mut r = request();
    // Created 26 minutes ago: the session would expire in 34 minutes, less than 30 + 5.
    r.created_at = now() - 26 * 60;
    let e = server.provider().create_checkout(&r).await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Rejected { code, .. } if code == "payment_too_old"),
        "{e:?}"
    );
    assert!(server.requests().is_empty(), "nothing sent");
    // Created 24 minutes ago: 36 minutes remain.
    r.created_at = now() - 24 * 60;
    server.provider().create_checkout(&r).await.unwrap();
    let sent = server.requests();
    let expires: u64 = form_urlencoded::parse(sent[0].body.as_bytes())
        .into_owned()
        .find(|(k, _)| k == "expires_at")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!(expires >= now() + 35 * 60, "a real margin over 30 minutes");
}

#[tokio::test]
async fn a_key_still_in_use_after_the_retries_is_in_progress() {
    let (r, sent) = failing(
        409,
        r#"{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"There is currently another in-progress request using this Idempotent Key."}}"#,
        vec![],
    )
    .await;
    // The fake answers the first request with the script and the retry with a session.
    assert!(r.is_ok(), "a retry after 409 got the session: {r:?}");
    assert_eq!(sent.len(), 2);
    let server = Server::start().await;
    for _ in 0..3 {
        server.script(409, r#"{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"in use"}}"#, vec![]);
    }
    let r = server.provider().create_checkout(&request()).await;
    assert!(matches!(r, Err(ProviderError::InProgress)), "{r:?}");
    assert_eq!(
        server.requests().len(),
        3,
        "one try and two retries, same key"
    );
}

#[test]
fn plain_http_api_base_only_on_loopback() {
    let env = |api: &'static str| {
        move |k: &str| match k {
            "STRIPE_SECRET_KEY" => Some("sk_test_1".to_owned()),
            "STRIPE_WEBHOOK_SECRET" => Some("whsec_1".to_owned()),
            "PUBLIC_BASE_URL" => Some("https://bot.example".to_owned()),
            "STRIPE_API_BASE" => Some(api.to_owned()),
            _ => None,
        }
    };
    for bad in [
        "http://stripe.example",
        "http://127.0.0.1.evil.example",
        "ftp://x",
    ] {
        assert_eq!(
            StripeConfig::from_lookup(env(bad)).unwrap_err(),
            miniapp_stripe::StripeConfigError::InsecureApiBase,
            "{bad}"
        );
    }
    for good in [
        "https://stripe.example",
        "http://127.0.0.1:12111",
        "http://localhost:12111/",
    ] {
        assert!(
            StripeConfig::from_lookup(env(good)).unwrap().is_some(),
            "{good}"
        );
    }
}

#[test]
fn test_and_live_keys_are_told_apart() {
    let config = |key: &str| StripeConfig::new(key, vec![WHSEC.into()], "https://bot.example");
    assert!(config("sk_test_1").is_test_mode() && !config("sk_test_1").is_live_mode());
    assert!(config("rk_live_1").is_live_mode() && !config("rk_live_1").is_test_mode());
    assert!(StripeProvider::new(config("sk_test_1")).unwrap().is_test());
    assert!(!StripeProvider::new(config("sk_live_1")).unwrap().is_test());
}

async fn failing(
    status: u16,
    body: &str,
    headers: Vec<(&'static str, &'static str)>,
) -> (Result<Checkout, ProviderError>, Vec<Recorded>) {
    let server = Server::start().await;
    server.script(status, body, headers);
    let result = server.provider().create_checkout(&request()).await;
    (result, server.requests())
}

#[tokio::test]
async fn invalid_request_is_final() {
    let (r, sent) = failing(400, r#"{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer","message":"Invalid integer: abc"}}"#, vec![]).await;
    assert!(
        matches!(&r, Err(ProviderError::Rejected { code, .. }) if code == "parameter_invalid_integer"),
        "{r:?}"
    );
    assert_eq!(sent.len(), 1, "not retried");
}

#[tokio::test]
async fn bad_key_is_final_and_never_echoed() {
    let (r, sent) = failing(401, r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****key"}}"#, vec![]).await;
    let e = r.unwrap_err();
    assert!(matches!(e, ProviderError::Rejected { .. }), "{e:?}");
    assert_eq!(sent.len(), 1);
    assert!(!format!("{e:?} {e}").contains(KEY));
}

#[tokio::test]
async fn card_error_is_final() {
    let (r, sent) = failing(402, r#"{"error":{"type":"card_error","code":"card_declined","message":"Your card was declined."}}"#, vec![]).await;
    assert!(
        matches!(&r, Err(ProviderError::Rejected { code, .. }) if code == "card_declined"),
        "{r:?}"
    );
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn lock_timeout_is_retried_with_the_same_key() {
    let server = Server::start().await;
    server.script(
        429,
        r#"{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"busy"}}"#,
        vec![],
    );
    server.provider().create_checkout(&request()).await.unwrap();
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].headers["idempotency-key"],
        sent[1].headers["idempotency-key"]
    );
    assert_eq!(sent[0].body, sent[1].body);
}

#[tokio::test]
async fn rate_limit_is_not_retried() {
    let (r, sent) = failing(
        429,
        r#"{"error":{"type":"invalid_request_error","code":"rate_limit","message":"slow down"}}"#,
        vec![],
    )
    .await;
    assert!(matches!(r, Err(ProviderError::Unavailable(_))), "{r:?}");
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn server_error_is_retried_with_the_same_key() {
    let server = Server::start().await;
    server.script(
        500,
        r#"{"error":{"type":"api_error","message":"oops"}}"#,
        vec![],
    );
    server.provider().create_checkout(&request()).await.unwrap();
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].headers["idempotency-key"],
        sent[1].headers["idempotency-key"]
    );
}

#[tokio::test]
async fn should_retry_header_decides() {
    let (r, sent) = failing(
        500,
        r#"{"error":{"type":"api_error","message":"no"}}"#,
        vec![("stripe-should-retry", "false")],
    )
    .await;
    assert!(matches!(r, Err(ProviderError::Unavailable(_))), "{r:?}");
    assert_eq!(sent.len(), 1, "Stripe-Should-Retry: false wins over 5xx");

    let server = Server::start().await;
    server.script(
        400,
        r#"{"error":{"type":"invalid_request_error","message":"try again"}}"#,
        vec![("stripe-should-retry", "true")],
    );
    server.provider().create_checkout(&request()).await.unwrap();
    assert_eq!(
        server.requests().len(),
        2,
        "Stripe-Should-Retry: true wins over 4xx"
    );
}

#[tokio::test]
async fn retries_are_bounded() {
    let server = Server::start().await;
    for _ in 0..5 {
        server.script(503, "upstream down", vec![]);
    }
    let r = server.provider().create_checkout(&request()).await;
    assert!(matches!(r, Err(ProviderError::Unavailable(_))), "{r:?}");
    assert_eq!(server.requests().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn timeout_is_unavailable_after_retries() {
    let server = Server::start().await;
    for _ in 0..2 {
        server.state.lock().unwrap().script.push_back(Scripted {
            status: 200,
            body: "{}".into(),
            headers: vec![],
            delay: Duration::from_secs(5),
        });
    }
    let provider = server.provider_with(|c| {
        c.with_timeout(Duration::from_millis(200))
            .with_retries(1, Duration::from_millis(5))
    });
    let r = provider.create_checkout(&request()).await;
    assert!(matches!(r, Err(ProviderError::Unavailable(_))), "{r:?}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_error() {
    let (r, _) = failing(200, "<html>proxy error</html>", vec![]).await;
    assert!(matches!(r, Err(ProviderError::Unavailable(_))), "{r:?}");
    let server = Server::start().await;
    for _ in 0..3 {
        server.script(502, "<html>bad gateway</html>", vec![]);
    }
    let r = server.provider().create_checkout(&request()).await;
    assert!(
        matches!(r, Err(ProviderError::Unavailable(_))),
        "a 5xx that is not JSON, every time: {r:?}"
    );
}

#[tokio::test]
async fn secrets_never_reach_debug_output() {
    let server = Server::start().await;
    let provider = server.provider();
    let config = StripeConfig::new(KEY, vec![WHSEC.into()], "https://bot.example");
    for shown in [format!("{provider:?}"), format!("{config:?}")] {
        assert!(!shown.contains(KEY) && !shown.contains(WHSEC), "{shown}");
    }
}

#[test]
fn configuration_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert!(StripeConfig::from_lookup(env(&[])).unwrap().is_none());
    assert!(
        StripeConfig::from_lookup(env(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a, whsec_b"),
            ("PUBLIC_BASE_URL", "https://x")
        ]))
        .unwrap()
        .is_some()
    );
    let err = |e| StripeConfig::from_lookup(e).unwrap_err().to_string();
    assert!(
        err(env(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("PUBLIC_BASE_URL", "https://x")
        ]))
        .contains("STRIPE_WEBHOOK_SECRET")
    );
    assert!(err(env(&[("STRIPE_WEBHOOK_SECRET", "whsec_a")])).contains("STRIPE_SECRET_KEY"));
    assert!(
        err(env(&[
            ("STRIPE_SECRET_KEY", "pk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_a"),
            ("PUBLIC_BASE_URL", "https://x")
        ]))
        .contains("sk_")
    );
}

#[tokio::test]
async fn reconciliation_reads_the_session() {
    let server = Server::start().await;
    let provider = server.provider();
    let r = request();
    let checkout = provider.create_checkout(&r).await.unwrap();
    let mut payment = example_pending_payment();
    payment.id = r.payment_id.clone();
    payment.checkout_ref = Some(checkout.checkout_ref.clone());
    assert!(
        provider.fetch_status(&payment).await.unwrap().is_empty(),
        "open session: nothing yet"
    );

    let id = checkout.checkout_ref.to_string();
    let set = |patch: serde_json::Value| {
        let mut s = server.state.lock().unwrap();
        let session = s.sessions.get_mut(&id).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            session[k] = v.clone();
        }
    };
    set(json!({"status": "complete", "payment_status": "paid",
               "payment_intent": {"id": "pi_1", "latest_charge": {"id": "ch_1", "amount_refunded": 1000, "currency": "usd"}}}));
    let events = provider.fetch_status(&payment).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Succeeded {
                amount: Money::usd_cents(2500)
            },
            EventKind::Refunded {
                total_refunded: Money::usd_cents(1000)
            }
        ]
    );
    assert!(events.iter().all(|e| e.provider_ref.as_str() == "pi_1"));
    assert_eq!(
        events,
        provider.fetch_status(&payment).await.unwrap(),
        "stable event ids"
    );
    let last = server.requests().last().cloned().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.ends_with(&id)),
        ("GET", true)
    );

    set(json!({"status": "expired", "payment_status": "unpaid", "payment_intent": null}));
    let kinds: Vec<_> = provider
        .fetch_status(&payment)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventKind::Expired]);
}

#[tokio::test]
async fn reconciliation_reads_why_the_last_attempt_failed() {
    let server = Server::start().await;
    let provider = server.provider();
    let r = request();
    let checkout = provider.create_checkout(&r).await.unwrap();
    let mut payment = example_pending_payment();
    payment.id = r.payment_id.clone();
    payment.checkout_ref = Some(checkout.checkout_ref.clone());
    let id = checkout.checkout_ref.to_string();
    let set = |patch: serde_json::Value| {
        let mut s = server.state.lock().unwrap();
        let session = s.sessions.get_mut(&id).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            session[k] = v.clone();
        }
    };
    let declined = json!({"id": "pi_1", "status": "requires_payment_method", "latest_charge": null,
        "last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "stolen_card"}});
    set(json!({"status": "open", "payment_status": "unpaid", "payment_intent": declined}));
    let events = provider.fetch_status(&payment).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        [EventKind::AttemptFailed {
            reason: FailureReason::CardDeclined
        }],
        "an open session with a declined attempt: the reason, and nothing closes"
    );
    assert_eq!(events[0].provider_ref.as_str(), "pi_1");
    assert_eq!(
        events,
        provider.fetch_status(&payment).await.unwrap(),
        "stable event ids"
    );

    set(json!({"status": "expired"}));
    let kinds: Vec<_> = provider
        .fetch_status(&payment)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::AttemptFailed {
                reason: FailureReason::CardDeclined
            },
            EventKind::Expired
        ]
    );
}

/// Knows how Stripe's webhooks look and signs them with the endpoint secret.
struct Harness {
    provider: StripeProvider,
    _server: Server,
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
        let id = r.payment_id.as_str();
        let intent = format!("pi_{id}");
        let session = |payment_status: &str, status: &str| {
            json!({
                "id": c.checkout_ref.as_str(), "object": "checkout.session", "status": status,
                "payment_status": payment_status, "amount_total": r.price.minor_units(),
                "currency": r.price.currency().code().to_ascii_lowercase(), "client_reference_id": id,
                "metadata": {"payment_id": id, "telegram_user_id": r.user_id.to_string()},
                "payment_intent": intent,
            })
        };
        let (kind, object) = match scenario {
            Scenario::Paid => ("checkout.session.completed", session("paid", "complete")),
            Scenario::Failed => (
                "checkout.session.async_payment_failed",
                session("unpaid", "complete"),
            ),
            Scenario::Expired => ("checkout.session.expired", session("unpaid", "expired")),
            _ => (
                "charge.refunded",
                json!({
                    "id": format!("ch_{id}"), "object": "charge", "amount": r.price.minor_units(),
                    "amount_refunded": r.price.minor_units(), "refunded": true,
                    "currency": "usd", "payment_intent": intent,
                    "metadata": {"payment_id": id, "telegram_user_id": r.user_id.to_string()},
                }),
            ),
        };
        let body = serde_json::to_vec(&json!({
            "id": format!("evt_{id}_{kind}"), "object": "event", "api_version": STRIPE_API_VERSION,
            "type": kind, "data": {"object": object},
        }))
        .unwrap();
        WebhookRequest {
            headers: vec![("Stripe-Signature".into(), sign_header(WHSEC, now(), &body))],
            body,
        }
    }

    fn forge(&self, genuine: &WebhookRequest) -> WebhookRequest {
        let text = String::from_utf8(genuine.body.clone()).unwrap();
        let cheaper = text.replace(r#""amount_total":2500"#, r#""amount_total":1"#);
        assert_ne!(cheaper, text);
        WebhookRequest {
            headers: genuine.headers.clone(),
            body: cheaper.into_bytes(),
        }
    }
}

async fn harness() -> Harness {
    let server = Server::start().await;
    Harness {
        provider: server.provider(),
        _server: server,
    }
}

/// The provider conformance suite, one test per behaviour.
mod conformance_suite {
    miniapp_core::provider_conformance!(super::harness());
}

#[tokio::test]
async fn stale_webhook_is_rejected() {
    let h = harness().await;
    let body = br#"{"id":"evt_1","type":"customer.created","data":{"object":{}}}"#.to_vec();
    let old = WebhookRequest {
        headers: vec![(
            "Stripe-Signature".into(),
            sign_header(WHSEC, now() - 301, &body),
        )],
        body,
    };
    let r = h.provider.parse_webhook(&old, SystemTime::now()).await;
    assert!(
        matches!(&r, Err(ProviderError::InvalidSignature(k)) if k == "timestamp_out_of_tolerance"),
        "{r:?}"
    );
}

fn duplicate_charge() -> miniapp_core::ledger::ChargeRefund {
    let p = example_pending_payment();
    miniapp_core::ledger::ChargeRefund {
        payment_id: p.id,
        user_id: p.user_id,
        provider: "stripe".parse().unwrap(),
        charge_ref: "pi_3DUPLICATE".parse().unwrap(),
        amount: Money::usd_cents(2500),
        reason: miniapp_core::ledger::RefundReason::DuplicateCharge,
        attempts: 0,
    }
}

#[tokio::test]
async fn a_duplicate_charge_is_refunded_whole_with_an_idempotency_key() {
    let server = Server::start().await;
    let stripe = server.provider();
    stripe.refund_charge(&duplicate_charge()).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/refunds")
    );
    assert_eq!(r.headers["idempotency-key"], "miniapp-refund-pi_3DUPLICATE");
    assert_eq!(r.headers["authorization"], format!("Bearer {KEY}"));
    let form: BTreeMap<String, String> = form_urlencoded::parse(r.body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(form["payment_intent"], "pi_3DUPLICATE");
    assert_eq!(form["amount"], "2500");
    assert_eq!(form["reason"], "duplicate");
    assert_eq!(form["metadata[payment_id]"], "pay_example");
}

#[tokio::test]
async fn an_already_refunded_charge_is_done_and_other_refusals_are_final() {
    let server = Server::start().await;
    let stripe = server.provider();
    server.script(
        400,
        r#"{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge ch_1 has already been refunded."}}"#,
        vec![],
    );
    stripe.refund_charge(&duplicate_charge()).await.unwrap();
    server.script(
        400,
        r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent: 'pi_3DUPLICATE'"}}"#,
        vec![],
    );
    let refused = stripe.refund_charge(&duplicate_charge()).await;
    assert!(
        matches!(&refused, Err(ProviderError::Rejected { code, .. }) if code == "resource_missing"),
        "{refused:?}"
    );
    for _ in 0..3 {
        server.script(
            500,
            r#"{"error":{"type":"api_error","message":"boom"}}"#,
            vec![],
        );
    }
    assert!(matches!(
        stripe.refund_charge(&duplicate_charge()).await,
        Err(ProviderError::Unavailable(_))
    ));
}

fn signed(kind: &str, id: &str, object: serde_json::Value) -> WebhookRequest {
    let body = serde_json::to_vec(&json!({
        "id": id, "object": "event", "api_version": STRIPE_API_VERSION,
        "type": kind, "data": {"object": object},
    }))
    .unwrap();
    WebhookRequest {
        headers: vec![("Stripe-Signature".into(), sign_header(WHSEC, now(), &body))],
        body,
    }
}

/// Stripe does not order its events, and a dispute carries no metadata: a dispute (and its loss)
/// delivered before `checkout.session.completed` names only a payment intent no payment knows.
/// It is held, and applied exactly once when the success lands: the payment ends refunded with
/// its tokens taken back, as if the events had come in order.
#[tokio::test]
async fn a_lost_dispute_that_overtakes_its_success_is_held_and_applied_with_it() {
    use miniapp_core::catalog::PaymentMethod;
    use miniapp_core::ledger::{Applied, CheckoutRecord, LedgerStore, LedgerStoreExt, NewPayment};
    use miniapp_core::payment::{PaymentStatus, RefundPolicy};

    let server = Server::start().await;
    let stripe = server.provider();
    let ledger = InMemoryLedger::new();
    let id = PaymentId::generate().unwrap();
    let user = UserId::new(4242).unwrap();
    ledger
        .create_payment(NewPayment {
            id: id.clone(),
            user_id: user,
            provider: stripe.id().clone(),
            method: PaymentMethod::card(),
            tokens: TokenAmount::new(500).unwrap(),
            price: Money::usd_cents(2500),
            email: None,
            idempotency_key: None,
            language: None,
        })
        .await
        .unwrap();
    ledger
        .attach_checkout(
            &id,
            &CheckoutRecord {
                checkout_ref: "cs_test_early".parse().unwrap(),
                url: "https://checkout.stripe.com/c/pay/cs_test_early".into(),
            },
        )
        .await
        .unwrap();
    let dispute = |status: &str| {
        json!({"id": "dp_early", "object": "dispute", "charge": "ch_early",
               "payment_intent": "pi_early", "status": status, "amount": 2500, "currency": "usd"})
    };
    let session = json!({
        "id": "cs_test_early", "object": "checkout.session", "status": "complete",
        "payment_status": "paid", "amount_total": 2500, "currency": "usd",
        "client_reference_id": id.as_str(), "metadata": {"payment_id": id.as_str()},
        "payment_intent": "pi_early",
    });
    let deliveries = [
        signed(
            "charge.dispute.created",
            "evt_dispute_created",
            dispute("needs_response"),
        ),
        signed(
            "charge.dispute.closed",
            "evt_dispute_closed",
            dispute("lost"),
        ),
        signed("checkout.session.completed", "evt_completed", session),
    ];
    let mut outcomes = Vec::new();
    // Each webhook delivered twice, as Stripe may.
    for webhook in deliveries.iter().chain(deliveries.iter()) {
        for event in stripe
            .parse_webhook(webhook, SystemTime::now())
            .await
            .unwrap()
        {
            let applied = ledger
                .apply_or_hold(stripe.id(), &event, RefundPolicy::Debt)
                .await
                .unwrap();
            outcomes.push(match applied {
                Applied::Held => "held".to_owned(),
                Applied::Matched { receipt, released } => format!(
                    "{}{} +{} -{} released {}",
                    if receipt.duplicate { "dup " } else { "" },
                    receipt.payment.status,
                    receipt.credited,
                    receipt.clawed_back,
                    released.len()
                ),
                other => panic!("{other:?}"),
            });
        }
    }
    assert_eq!(
        outcomes,
        [
            "held",
            "held",
            "succeeded +500 -0 released 2",
            "dup refunded +0 -0 released 0",
            "dup refunded +0 -0 released 0",
            "dup refunded +0 -0 released 0",
        ]
    );
    let end = ledger.payment(&id).await.unwrap().unwrap();
    assert_eq!(
        (end.status, end.tokens_credited, end.tokens_reversed),
        (PaymentStatus::Refunded, 500, 500)
    );
    assert_eq!(ledger.balance(user).await.unwrap().balance, 0);
}

fn listed(id: &str, kind: &str, object: serde_json::Value) -> serde_json::Value {
    json!({"id": id, "object": "event", "api_version": STRIPE_API_VERSION, "type": kind,
           "data": {"object": object}})
}

/// The catch-up reads the account's event list after its cursor: the first call only learns
/// where "now" is; later calls page forward (oldest first within a batch), filtered to the
/// types we map, and return the cursor to store.
#[tokio::test]
async fn history_pages_forward_from_the_stored_cursor() {
    let server = Server::start().await;
    let stripe = server.provider();
    let charge = |pi: &str, refunded: u64| {
        json!({"id": format!("ch_{pi}"), "object": "charge", "amount": 2500,
               "amount_refunded": refunded, "currency": "usd", "payment_intent": pi,
               "metadata": {"payment_id": format!("pay_{pi}")}})
    };
    let dispute = |pi: &str| {
        json!({"id": format!("dp_{pi}"), "object": "dispute", "charge": format!("ch_{pi}"),
               "payment_intent": pi, "status": "needs_response"})
    };
    // Newest first, as Stripe lists them.
    let mut events = vec![listed("evt_start", "charge.refunded", charge("pi_0", 100))];
    for i in 1..=150 {
        let pi = format!("pi_{i}");
        let e = if i % 2 == 0 {
            listed(&format!("evt_{i}"), "charge.dispute.created", dispute(&pi))
        } else {
            listed(&format!("evt_{i}"), "charge.refunded", charge(&pi, 500))
        };
        events.insert(0, e);
        events.insert(
            0,
            listed(
                &format!("evt_noise_{i}"),
                "customer.created",
                json!({"id": "cus_1"}),
            ),
        );
    }
    server.state.lock().unwrap().events = events.split_off(events.len() - 1);
    let first = stripe.fetch_history(None).await.unwrap();
    assert_eq!(
        (first.events.len(), first.cursor.as_deref(), first.more),
        (0, Some("evt_start"), false),
        "the first call starts from now"
    );
    // 150 lost events arrive after the cursor was stored.
    events.append(&mut server.state.lock().unwrap().events);
    server.state.lock().unwrap().events = events;
    let page1 = stripe.fetch_history(first.cursor.as_deref()).await.unwrap();
    assert_eq!(page1.events.len(), 100);
    assert!(page1.more);
    let ids: Vec<&str> = page1.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!((ids[0], ids[99]), ("evt_1", "evt_100"), "oldest first");
    assert_eq!(page1.cursor.as_deref(), Some("evt_100"));
    assert_eq!(
        page1.events[0].kind,
        EventKind::Refunded {
            total_refunded: Money::usd_cents(500)
        }
    );
    assert_eq!(page1.events[1].kind, EventKind::DisputeOpened);
    assert_eq!(
        page1.events[1].payment_id, None,
        "disputes name only the payment intent"
    );
    let page2 = stripe.fetch_history(page1.cursor.as_deref()).await.unwrap();
    assert_eq!((page2.events.len(), page2.more), (50, false));
    assert_eq!(page2.cursor.as_deref(), Some("evt_150"));
    let page3 = stripe.fetch_history(page2.cursor.as_deref()).await.unwrap();
    assert_eq!(
        (page3.events.len(), page3.cursor, page3.more),
        (0, None, false)
    );
    let asked = server.requests();
    let last = &asked.last().unwrap().path;
    assert!(
        last.contains("ending_before=evt_150")
            && last.contains("types%5B%5D=charge.dispute.created"),
        "{last}"
    );
    assert_eq!(
        asked.last().unwrap().headers["authorization"],
        format!("Bearer {KEY}")
    );
}
