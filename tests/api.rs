//! The HTTP API end to end: a real server on a loopback port (SQLite ledger in a temp file, the
//! sandbox provider, a test bot token), driven over HTTP. Every hostile request asserts its error
//! code and that no ledger row changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use miniapp::catalog::{Catalog, MethodOffer, PaymentMethod};
use miniapp::clock::{ClockExt, ManualClock, SharedClock, SystemClock};
use miniapp::event::{EventKind, ProviderEvent};
use miniapp::http::{AppState, Auth, EnabledMethod, HttpSettings, Opens, StateParts};
use miniapp::ids::{ProviderEventId, ProviderId, ProviderRef, UserId};
use miniapp::init_data::{BotToken, sign};
use miniapp::ledger::{
    Balance, CheckoutRecord, EventReceipt, HistoryPage, HistoryQuery, LedgerError, LedgerStore,
    NewPayment, SpendReceipt, SpendRequest,
};
use miniapp::money::Currency;
use miniapp::payment::{Payment, RefundPolicy};
use miniapp::provider::{
    Checkout, CheckoutRequest, PaymentProvider, ProviderError, WebhookRequest,
};
use miniapp::reconcile::{SWEEP_WINDOW, sweep_pending};
use miniapp::sandbox::SandboxProvider;
use miniapp::sqlx::SqliteLedgerStore;
use serde_json::{Value, json};

const TOKEN: &str = "7000000001:TEST_token-for_miniapp_tests";

struct TestApp {
    url: String,
    state: AppState,
    http: reqwest::Client,
    store: Option<SqliteLedgerStore>,
    sandbox: Arc<SandboxProvider>,
    _dir: tempfile::TempDir,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn init_data_for(user: i64, auth_date: u64, token: &str) -> String {
    let user = json!({"id": user, "first_name": "Test", "language_code": "en"}).to_string();
    sign(
        &[("user", &user), ("auth_date", &auth_date.to_string())],
        &BotToken::new(token).unwrap(),
    )
}

fn fresh_user() -> i64 {
    miniapp::conformance::fresh_user().get()
}

struct Options {
    card: Option<Arc<dyn PaymentProvider>>,
    ledger: Option<Arc<dyn LedgerStore>>,
    reconcile_after: Duration,
    request_timeout: Duration,
    rate_limit_per_minute: u32,
    /// Serve with the peer address (as `full_bot` does), so the per-address limit applies.
    connect_info: bool,
    /// Another instance: share this one's SQLite file.
    share_with: Option<SqliteLedgerStore>,
    /// The clock of the app and its store (the system clock when `None`).
    clock: Option<Arc<ManualClock>>,
    /// `HttpSettings::bot_url`.
    bot_url: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            card: None,
            ledger: None,
            reconcile_after: Duration::from_secs(120),
            request_timeout: Duration::from_secs(15),
            rate_limit_per_minute: HttpSettings::default().rate_limit_per_minute,
            connect_info: false,
            share_with: None,
            clock: None,
            bot_url: None,
        }
    }
}

async fn spawn_app_with(options: Options) -> TestApp {
    let clock: SharedClock = match &options.clock {
        Some(manual) => manual.clone(),
        None => SystemClock::shared(),
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = match options.share_with {
        Some(store) => store,
        None => {
            let sqlite = SqliteLedgerStore::connect(&dir.path().join("t.db").display().to_string())
                .await
                .unwrap();
            sqlite.migrate().await.unwrap();
            sqlite.with_clock(clock.clone())
        }
    };
    let ledger: Arc<dyn LedgerStore> = options.ledger.unwrap_or_else(|| Arc::new(sqlite.clone()));
    let sandbox = Arc::new(SandboxProvider::new(None).unwrap());
    let card: Arc<dyn PaymentProvider> = options.card.unwrap_or_else(|| sandbox.clone());
    let state = AppState::new(StateParts {
        ledger,
        catalog: Catalog::default(),
        methods: vec![EnabledMethod {
            offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
            provider: card,
            opens: Opens::Link,
        }],
        auth: Auth::Bot(BotToken::new(TOKEN).unwrap()),
        settings: HttpSettings {
            reconcile_after: options.reconcile_after,
            request_timeout: options.request_timeout,
            rate_limit_per_minute: options.rate_limit_per_minute,
            bot_url: options.bot_url,
            ..HttpSettings::default()
        },
        routes: vec![sandbox.routes()],
        clock,
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = miniapp::http::router(state.clone());
    if options.connect_info {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    } else {
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    }
    TestApp {
        url,
        state,
        http: reqwest::Client::new(),
        store: Some(sqlite),
        sandbox,
        _dir: dir,
    }
}

async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

impl TestApp {
    async fn rows(&self) -> (i64, i64, i64) {
        let pool = self.store.as_ref().unwrap().pool();
        let count = |t: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
                .fetch_one(pool)
                .await
                .unwrap()
        };
        (
            count("miniapp_payments").await,
            count("miniapp_journal").await,
            count("miniapp_provider_events").await,
        )
    }

    async fn post(&self, path: &str, user: Option<i64>, body: Value) -> (u16, Value) {
        let mut r = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(u) = user {
            r = r.header(
                "authorization",
                format!(
                    "tma {}",
                    init_data_for(u, self.state.clock().unix_now(), TOKEN)
                ),
            );
        }
        let resp = r.send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn post_with_key(&self, path: &str, user: i64, key: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .header(
                "authorization",
                format!(
                    "tma {}",
                    init_data_for(user, self.state.clock().unix_now(), TOKEN)
                ),
            )
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn get(&self, path: &str, user: Option<i64>) -> (u16, Value) {
        let mut r = self.http.get(format!("{}{path}", self.url));
        if let Some(u) = user {
            r = r.header(
                "authorization",
                format!(
                    "tma {}",
                    init_data_for(u, self.state.clock().unix_now(), TOKEN)
                ),
            );
        }
        let resp = r.send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    /// `payment-status` of payment `id` as `user` reads it.
    async fn status(&self, id: &str, user: i64) -> Value {
        self.get(&format!("/api/miniapp/payment-status/{id}"), Some(user))
            .await
            .1
    }

    async fn buy(&self, user: i64, credits: u64, amount: &str) -> Value {
        let (status, body) = self
            .post("/api/miniapp/create-payment", Some(user), json!({"credits": credits, "amount": amount, "currency": "USD", "payment_method": "card"}))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// [`TestApp::buy`]'s payment id.
    async fn buy_id(&self, user: i64, credits: u64, amount: &str) -> String {
        self.buy(user, credits, amount).await["payment_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Pays a sandbox payment through its signed webhook, like the checkout page does.
    async fn pay(&self, payment_id: &str) -> (u16, Value) {
        let store = self.store.as_ref().unwrap();
        let payment = store
            .payment(&payment_id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        let webhook = self.sandbox.signed_event(&payment, "paid");
        self.deliver(&webhook).await
    }

    async fn deliver(&self, webhook: &WebhookRequest) -> (u16, Value) {
        let mut r = self
            .http
            .post(format!("{}/api/miniapp/webhooks/sandbox", self.url))
            .body(webhook.body.clone());
        for (k, v) in &webhook.headers {
            r = r.header(k, v);
        }
        let resp = r.send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

fn order(credits: u64, amount: Value, currency: &str, method: &str) -> Value {
    json!({"credits": credits, "amount": amount, "currency": currency, "payment_method": method})
}

#[tokio::test]
async fn packages_list_the_catalog_and_methods() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/miniapp/packages", None).await;
    assert_eq!(status, 200);
    let credits: Vec<u64> = body["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["credits"].as_u64().unwrap())
        .collect();
    assert_eq!(credits, [100, 200, 500, 1000]);
    assert_eq!(body["packages"][2]["amount"], "25.00");
    assert_eq!(body["packages"][2]["amount_minor"], 2500);
    assert_eq!(
        body["methods"],
        json!([{"id": "card", "currency": "USD", "opens": "link", "test": true}]),
        "the sandbox is marked as a test method"
    );
    assert_eq!(
        (body["sandbox"].as_bool(), body["dev_login"].as_bool()),
        (Some(true), Some(false))
    );
}

#[tokio::test]
async fn the_sandbox_purchase_credits_once_and_status_shows_the_balance() {
    let app = spawn_app().await;
    let user = fresh_user();
    let created = app.buy(user, 500, "25.00").await;
    let id = created["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "pending");
    // Without PUBLIC_BASE_URL, relative to the page (`…/miniapp/`), so it works under any prefix.
    assert_eq!(created["payment_url"], format!("../sandbox/checkout/{id}"));
    assert_eq!(
        (created["amount"].as_str(), created["opens"].as_str()),
        (Some("25.00"), Some("link"))
    );

    // While open, the status carries the checkout: a page that came back with only the id can
    // still reopen it.
    let (_, open) = app
        .get(&format!("/api/miniapp/payment-status/{id}"), Some(user))
        .await;
    assert_eq!(
        (open["payment_url"].as_str(), open["opens"].as_str()),
        (created["payment_url"].as_str(), Some("link"))
    );

    let (status, first) = app.pay(&id).await;
    assert_eq!((status, first["duplicates"].as_u64()), (200, Some(0)));
    let (status, again) = app.pay(&id).await;
    assert_eq!(
        (status, again["duplicates"].as_u64()),
        (200, Some(1)),
        "a duplicate is 200 with no effect"
    );

    let (status, s) = app
        .get(&format!("/api/miniapp/payment-status/{id}"), Some(user))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            s["status"].as_str(),
            s["balance"].as_i64(),
            s["credits"].as_u64()
        ),
        (Some("succeeded"), Some(500), Some(500))
    );
    assert_eq!(s["amount"], "25.00");
    assert_eq!(
        s.get("payment_url"),
        None,
        "a paid payment offers no checkout"
    );
    assert!(s["created_at"].as_str().unwrap().ends_with('Z'));
    let (_, b) = app.get("/api/miniapp/balance", Some(user)).await;
    assert_eq!(
        (b["balance"].as_i64(), b["total_deposited"].as_u64()),
        (Some(500), Some(500))
    );
    let (_, h) = app.get("/api/miniapp/history?limit=5", Some(user)).await;
    assert_eq!(h["entries"][0]["kind"], "credit");
    assert_eq!(h["entries"][0]["delta"], 500);
    assert_eq!(h["next_before"], Value::Null);
}

#[tokio::test]
async fn init_data_in_the_body_works_as_in_the_product_document() {
    let app = spawn_app().await;
    let user = fresh_user();
    let mut body = order(100, json!(5.0), "USD", "card");
    body["init_data"] = json!(init_data_for(user, now(), TOKEN));
    body["user_id"] = json!(user);
    body["email"] = json!("user@example.com");
    let (status, reply) = app.post("/api/miniapp/create-payment", None, body).await;
    assert_eq!(status, 200, "{reply}");
}

#[tokio::test]
async fn a_double_tap_with_one_idempotency_key_makes_one_checkout() {
    let app = spawn_app().await;
    let user = fresh_user();
    let send = |credits: u64, amount: &'static str| {
        let auth = format!("tma {}", init_data_for(user, now(), TOKEN));
        app.http
            .post(format!("{}/api/miniapp/create-payment", app.url))
            .header("authorization", auth)
            .header("idempotency-key", "tap-1")
            .json(&order(credits, json!(amount), "USD", "card"))
            .send()
    };
    let (a, b) = tokio::join!(send(500, "25"), send(500, "25.00"));
    let a: Value = a.unwrap().json().await.unwrap();
    let b: Value = b.unwrap().json().await.unwrap();
    assert_eq!(a["payment_id"], b["payment_id"]);
    assert_eq!(a["payment_url"], b["payment_url"]);
    assert_eq!(app.rows().await.0, 1);
    let other = send(100, "5").await.unwrap();
    assert_eq!(other.status().as_u16(), 409);
    assert_eq!(code(&other.json().await.unwrap()), "idempotency_conflict");
}

/// Every hostile create-payment request: the status, the code, and no ledger row changed.
#[tokio::test]
async fn hostile_create_payment_requests_are_refused_without_moving_anything() {
    let app = spawn_app().await;
    let user = fresh_user();
    let before = app.rows().await;
    let url = format!("{}/api/miniapp/create-payment", app.url);
    let auth = format!("tma {}", init_data_for(user, now(), TOKEN));
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("no init data", app.http.post(&url).json(&order(500, json!(25), "USD", "card")), 401, "invalid_init_data"),
        ("forged init data", app.http.post(&url).header("authorization", format!("tma {}", init_data_for(user, now(), "7000000001:OTHER_token"))).json(&order(500, json!(25), "USD", "card")), 401, "invalid_init_data"),
        ("garbage init data", app.http.post(&url).header("authorization", "tma %%%").json(&order(500, json!(25), "USD", "card")), 401, "invalid_init_data"),
        ("expired init data", app.http.post(&url).header("authorization", format!("tma {}", init_data_for(user, now() - 3 * 86_400, TOKEN))).json(&order(500, json!(25), "USD", "card")), 401, "expired_init_data"),
        ("other user id", app.http.post(&url).header("authorization", &auth).json(&json!({"credits": 500, "amount": 25, "currency": "USD", "payment_method": "card", "user_id": user + 1})), 403, "user_mismatch"),
        ("unknown package", app.http.post(&url).header("authorization", &auth).json(&order(150, json!(7.5), "USD", "card")), 400, "unknown_package"),
        ("cheaper amount", app.http.post(&url).header("authorization", &auth).json(&order(500, json!(5), "USD", "card")), 400, "price_mismatch"),
        ("fractional cent", app.http.post(&url).header("authorization", &auth).json(&order(500, json!(24.999), "USD", "card")), 400, "price_mismatch"),
        ("negative amount", app.http.post(&url).header("authorization", &auth).json(&order(500, json!(-25), "USD", "card")), 400, "price_mismatch"),
        ("other currency", app.http.post(&url).header("authorization", &auth).json(&order(500, json!(25), "EUR", "card")), 400, "unsupported_currency"),
        ("stars not enabled", app.http.post(&url).header("authorization", &auth).json(&order(500, json!(1250), "XTR", "stars")), 400, "unsupported_method"),
        ("unknown method", app.http.post(&url).header("authorization", &auth).json(&order(500, json!(25), "USD", "paypal")), 400, "unsupported_method"),
        ("bad email", app.http.post(&url).header("authorization", &auth).json(&json!({"credits": 500, "amount": 25, "currency": "USD", "payment_method": "card", "email": "<script>@x"})), 400, "invalid_email"),
        ("not json", app.http.post(&url).header("authorization", &auth).header("content-type", "application/json").body("{credits: 500"), 400, "malformed_json"),
        ("json array", app.http.post(&url).header("authorization", &auth).header("content-type", "application/json").body("[1,2]"), 400, "malformed_json"),
        ("deeply nested json", app.http.post(&url).header("authorization", &auth).header("content-type", "application/json").body(format!("{}{}", "[".repeat(5000), "]".repeat(5000))), 400, "malformed_json"),
        ("credits as a string", app.http.post(&url).header("authorization", &auth).json(&json!({"credits": "500", "amount": 25, "currency": "USD", "payment_method": "card"})), 400, "invalid_request"),
        ("missing field", app.http.post(&url).header("authorization", &auth).json(&json!({"credits": 500})), 400, "invalid_request"),
        ("form body", app.http.post(&url).header("authorization", &auth).header("content-type", "application/x-www-form-urlencoded").body("credits=500"), 415, "unsupported_media_type"),
        ("too large", app.http.post(&url).header("authorization", &auth).header("content-type", "application/json").body(format!("{{\"pad\":\"{}\"}}", "x".repeat(17 * 1024))), 413, "payload_too_large"),
        ("invalid utf-8", app.http.post(&url).header("authorization", &auth).header("content-type", "application/json").body(vec![b'{', 0xff, 0xfe, b'}']), 400, "malformed_json"),
        ("bad idempotency key", app.http.post(&url).header("authorization", &auth).header("idempotency-key", "has space").json(&order(500, json!(25), "USD", "card")), 400, "invalid_request"),
    ];
    for (what, request, want_status, want_code) in cases {
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status, code(&body)),
            (want_status, want_code),
            "{what}: {body}"
        );
        assert_eq!(body["success"], false, "{what}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: a human message"
        );
    }
    assert_eq!(app.rows().await, before, "no ledger row changed");
}

#[tokio::test]
async fn another_users_payment_is_not_found_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    let (alice, mallory) = (fresh_user(), fresh_user());
    let id = app.buy_id(alice, 100, "5").await;
    let (s1, theirs) = app
        .get(&format!("/api/miniapp/payment-status/{id}"), Some(mallory))
        .await;
    let (s2, missing) = app
        .get(
            "/api/miniapp/payment-status/pay_00000000000000000000000000000000",
            Some(mallory),
        )
        .await;
    let (s3, junk) = app
        .get("/api/miniapp/payment-status/..%2F..%2Fetc", Some(mallory))
        .await;
    assert_eq!((s1, s2, s3), (404, 404, 404));
    assert_eq!(theirs, missing, "identical answers");
    assert_eq!(code(&junk), "not_found");
    let (status, _) = app
        .get(&format!("/api/miniapp/payment-status/{id}"), None)
        .await;
    assert_eq!(status, 401, "status is not public");
}

#[tokio::test]
async fn forged_and_replayed_webhooks() {
    let app = spawn_app().await;
    let user = fresh_user();
    let id = app.buy_id(user, 200, "10").await;
    let before = app.rows().await;
    let store = app.store.as_ref().unwrap();
    let payment = store.payment(&id.parse().unwrap()).await.unwrap().unwrap();
    let genuine = app.sandbox.signed_event(&payment, "paid");
    let mut tampered = genuine.clone();
    tampered.body = String::from_utf8(genuine.body.clone())
        .unwrap()
        .replace("1000", "1")
        .into_bytes();
    let unsigned = WebhookRequest {
        headers: vec![],
        body: genuine.body.clone(),
    };
    for (what, w) in [("tampered", &tampered), ("unsigned", &unsigned)] {
        let (status, body) = app.deliver(w).await;
        assert_eq!((status, code(&body)), (400, "invalid_signature"), "{what}");
    }
    let other_provider = app
        .http
        .post(format!("{}/api/miniapp/webhooks/stripe", app.url))
        .body(genuine.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_provider.status().as_u16(),
        404,
        "a provider that is not enabled"
    );
    assert_eq!(app.rows().await, before, "nothing recorded");
    let (status, _) = app.deliver(&genuine).await;
    assert_eq!(status, 200);
    let (_, b) = app.get("/api/miniapp/balance", Some(user)).await;
    assert_eq!(b["balance"], 200);
}

#[tokio::test]
async fn the_sandbox_checkout_page_pays_declines_and_refuses_expired_cards() {
    let app = spawn_app().await;
    let user = fresh_user();
    let pay = |id: String, card: &'static str, expiry: &'static str| {
        app.http
            .post(format!("{}/sandbox/checkout/{id}", app.url))
            .form(&[("card_number", card), ("expiry", expiry), ("cvc", "123")])
            .send()
    };
    let id = app.buy_id(user, 500, "25").await;
    let page = app
        .http
        .get(format!("{}/sandbox/checkout/{id}", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("SANDBOX") && page.contains("25.00 USD"),
        "{page}"
    );
    let expired = pay(id.clone(), "4242 4242 4242 4242", "01/20")
        .await
        .unwrap();
    assert_eq!(expired.status().as_u16(), 422);
    assert!(expired.text().await.unwrap().contains("expired"));
    let s = app.status(&id, user).await;
    assert_eq!(s["status"], "pending", "an expired card changes nothing");
    let paid = pay(id.clone(), "4242 4242 4242 4242", "12/40")
        .await
        .unwrap();
    assert_eq!(paid.status().as_u16(), 200);
    let s = app.status(&id, user).await;
    assert_eq!(
        (s["status"].as_str(), s["balance"].as_i64()),
        (Some("succeeded"), Some(500))
    );

    assert_eq!(
        s.get("failure_code"),
        None,
        "a paid payment has no failure code"
    );

    let mut codes = Vec::new();
    for (card, reason) in [
        ("4000 0000 0000 0002", "card_declined"),
        ("4000000000009995", "insufficient_funds"),
    ] {
        let id = app.buy_id(user, 100, "5").await;
        let declined = pay(id.clone(), card, "12/40").await.unwrap();
        assert_eq!(declined.status().as_u16(), 200, "{reason}: recorded");
        let page = declined.text().await.unwrap();
        assert!(
            page.contains(&format!(r#"value="{card}""#)),
            "{reason}: the card number is kept: {page}"
        );
        assert!(
            page.contains(r#"value="12/40""#),
            "{reason}: the expiry is kept"
        );
        assert!(!page.contains(r#"value="123""#), "{reason}: never the CVC");
        let invalid = |field: &str| marked_invalid(&page, field);
        assert!(
            invalid("card_number") && !invalid("expiry") && !invalid("cvc"),
            "{reason}: the card number, and only it, is marked invalid"
        );
        assert!(
            page.contains(r#"data-testid="sandbox-return""#),
            "{reason}: the way back"
        );
        let (_, s) = app
            .get(&format!("/api/miniapp/payment-status/{id}"), Some(user))
            .await;
        assert_eq!(
            (s["status"].as_str(), s["balance"].as_i64()),
            (Some("failed"), Some(500))
        );
        assert_eq!(s["failure_code"], reason, "{card}");
        codes.push(s["failure_code"].clone());
    }
    assert_ne!(
        codes[0], codes[1],
        "a declined card and insufficient funds tell the buyer different things"
    );
}

/// Whether the sandbox form's `field` input carries `aria-invalid="true"`.
fn marked_invalid(page: &str, field: &str) -> bool {
    let at = page.find(&format!(r#"id="{field}""#)).unwrap();
    page[at..at + page[at..].find('>').unwrap()].contains(r#"aria-invalid="true""#)
}

/// The sandbox checkout page in Russian: by `lang`, by `Accept-Language`, and kept across the
/// form's post; an unknown `lang` is ignored.
#[tokio::test]
async fn the_sandbox_page_speaks_russian_by_lang_and_by_accept_language() {
    let app = spawn_app().await;
    let user = fresh_user();
    let id = app.buy_id(user, 500, "25").await;
    let page = |query: &'static str, accept: Option<&'static str>| {
        let mut r = app
            .http
            .get(format!("{}/sandbox/checkout/{id}{query}", app.url));
        if let Some(a) = accept {
            r = r.header("Accept-Language", a);
        }
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    let russian = |p: &str| {
        p.contains(r#"<html lang="ru">"#)
            && p.contains("Номер карты")
            && p.contains("500 токенов")
            && p.contains(r#"<input type="hidden" name="lang" value="ru">"#)
            && !p.contains("Card number")
    };
    let english = |p: &str| {
        p.contains(r#"<html lang="en">"#) && p.contains("Card number") && p.contains("500 tokens")
    };
    let by_lang = page("?lang=ru", None).await;
    assert!(russian(&by_lang), "{by_lang}");
    // Integer minor units for Intl.NumberFormat, and a plain Russian fallback.
    assert!(
        by_lang.contains(r#"data-amount-minor="2500""#)
            && by_lang.contains(r#"data-currency="USD""#)
            && by_lang.contains(r#"data-exponent="2""#)
            && by_lang.contains("25,00 USD"),
        "{by_lang}"
    );
    let by_header = page("", Some("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7")).await;
    assert!(russian(&by_header), "{by_header}");
    assert!(
        english(&page("?lang=en", Some("ru-RU,ru;q=0.9")).await),
        "lang wins over the header"
    );
    assert!(
        english(&page("?lang=de", None).await),
        "only en or ru; English by default"
    );
    assert!(english(&page("", Some("de-DE,de;q=0.9")).await));

    // The hidden field keeps the language across the post, whatever the browser says.
    let refused = app
        .http
        .post(format!("{}/sandbox/checkout/{id}", app.url))
        .header("Accept-Language", "en-US")
        .form(&[
            ("card_number", "4242 4242 4242 4242"),
            ("expiry", "01/20"),
            ("cvc", "123"),
            ("lang", "ru"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 422);
    let text = refused.text().await.unwrap();
    assert!(
        russian(&text) && text.contains("Срок действия карты истёк"),
        "{text}"
    );

    // The result page too.
    let paid = app
        .http
        .post(format!("{}/sandbox/checkout/{id}", app.url))
        .form(&[
            ("card_number", "4242 4242 4242 4242"),
            ("expiry", "12/40"),
            ("cvc", "123"),
            ("lang", "ru"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        paid.contains(r#"<html lang="ru">"#) && paid.contains("Оплата прошла"),
        "{paid}"
    );
}

/// After an error the form comes back with what was typed, escaped, never the CVC, with the error
/// above the button and the offending field marked.
#[tokio::test]
async fn the_sandbox_form_keeps_what_was_typed_escaped() {
    let app = spawn_app().await;
    let user = fresh_user();
    let id = app.buy_id(user, 100, "5").await;
    let post = |card: &'static str, expiry: &'static str, name: &'static str| {
        let r = app
            .http
            .post(format!("{}/sandbox/checkout/{id}", app.url))
            .form(&[
                ("card_number", card),
                ("expiry", expiry),
                ("cvc", "987"),
                ("name", name),
            ]);
        async move {
            let r = r.send().await.unwrap();
            let csp = r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned();
            (r.status().as_u16(), csp, r.text().await.unwrap())
        }
    };
    let (status, csp, page) = post("1234\"><b>", "12/40", "<script>alert('x')</script> & Co").await;
    assert_eq!(status, 422);
    assert!(
        page.contains(r#"value="&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co""#),
        "the name comes back escaped: {page}"
    );
    assert!(!page.contains("<script>alert"), "never as markup");
    assert!(
        page.contains(r#"value="1234&quot;&gt;&lt;b&gt;""#),
        "{page}"
    );
    // Not a bare "987": a random payment id or CSP nonce may contain those digits.
    assert!(
        !page.contains(r#"value="987""#) && !page.contains(">987<"),
        "never the CVC"
    );
    let invalid = |field: &str| marked_invalid(&page, field);
    assert!(invalid("card_number") && !invalid("expiry") && !invalid("cvc"));
    let error = page.find(r#"data-testid="sandbox-error""#).unwrap();
    let button = page.find(r#"<button type="submit""#).unwrap();
    assert!(error < button, "the error is above the button");
    assert!(page[error..button].contains("Use one of the sandbox test cards"));
    // The page's only script runs by the nonce of this response's policy.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap();
    assert!(
        page.contains(&format!(r#"<script nonce="{nonce}">"#)),
        "{csp}"
    );
    assert_eq!(page.matches("<script").count(), 1);

    // A past expiry: the expiry is the field in error, the values are kept, nothing happened.
    let (status, _, page) = post("4242 4242 4242 4242", "01/20", "Jane").await;
    assert_eq!(status, 422);
    assert!(page.contains(r#"value="4242 4242 4242 4242""#) && page.contains(r#"value="01/20""#));
    assert!(page.contains(r#"value="Jane""#));
    let at = page.find(r#"id="expiry""#).unwrap();
    assert!(page[at..at + page[at..].find('>').unwrap()].contains(r#"aria-invalid="true""#));
    let s = app.status(&id, user).await;
    assert_eq!(s["status"], "pending");
    assert_eq!(s.get("failure_code"), None, "no event, no reason");
}

/// A provider that cannot be reached, and that reports a paid payment when asked.
#[derive(Debug)]
struct Flaky {
    id: ProviderId,
}

impl Flaky {
    /// As the card provider of a test app.
    fn shared() -> Arc<dyn PaymentProvider> {
        Arc::new(Flaky {
            id: ProviderId::new("flaky").unwrap(),
        })
    }
}

#[async_trait]
impl PaymentProvider for Flaky {
    fn id(&self) -> &ProviderId {
        &self.id
    }
    async fn create_checkout(&self, r: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        if r.tokens.get() == 1000 {
            return Err(ProviderError::Unavailable("connection refused".into()));
        }
        Ok(Checkout {
            checkout_ref: ProviderRef::new(format!("flaky_{}", r.payment_id)).unwrap(),
            url: "https://pay.example".into(),
            expires_at: None,
        })
    }
    async fn parse_webhook(
        &self,
        _: &WebhookRequest,
        _: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        Err(ProviderError::InvalidSignature("never".into()))
    }
    async fn fetch_status(&self, p: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        Ok(vec![ProviderEvent {
            id: ProviderEventId::new(format!("reconcile_{}", p.id)).unwrap(),
            payment_id: Some(p.id.clone()),
            provider_ref: ProviderRef::new(format!("flaky_pi_{}", p.id)).unwrap(),
            kind: EventKind::Succeeded { amount: p.price },
        }])
    }
}

#[tokio::test]
async fn provider_outage_is_503_and_a_lost_webhook_is_reconciled() {
    let app = spawn_app_with(Options {
        card: Some(Flaky::shared()),
        reconcile_after: Duration::ZERO,
        ..Options::default()
    })
    .await;
    let user = fresh_user();
    let (status, body) = app
        .post(
            "/api/miniapp/create-payment",
            Some(user),
            order(1000, json!(50), "USD", "card"),
        )
        .await;
    assert_eq!((status, code(&body)), (503, "provider_unavailable"));
    assert_eq!(app.rows().await.1, 0, "nothing credited");
    let id = app.buy_id(user, 200, "10").await;
    let s = app.status(&id, user).await;
    assert_eq!(
        (s["status"].as_str(), s["balance"].as_i64()),
        (Some("succeeded"), Some(200)),
        "credited by reconciliation"
    );
    let s = app.status(&id, user).await;
    assert_eq!(s["balance"], 200, "reconciling again credits nothing more");
}

/// The buyer's return from a checkout (`checkout-return`, PayPal's return URL) asks the
/// provider at once, before the usual reconciliation age, then sends the buyer to the page; a
/// cancel or an unknown payment asks nothing, and hostile parameters never reach the redirect.
#[tokio::test]
async fn a_checkout_return_asks_the_provider_at_once_and_sends_the_buyer_to_the_page() {
    let app = spawn_app_with(Options {
        card: Some(Flaky::shared()),
        ..Options::default()
    })
    .await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = |query: String| {
        let request = no_redirects.get(format!("{}/api/miniapp/checkout-return?{query}", app.url));
        async move {
            let r = request.send().await.unwrap();
            let location = r.headers()["location"].to_str().unwrap().to_owned();
            (r.status().as_u16(), location)
        }
    };
    let user = fresh_user();
    let id = app.buy_id(user, 200, "10").await;
    let s = app.status(&id, user).await;
    assert_eq!(s["status"], "pending", "too young for reconciliation");

    let (status, location) = back(format!("payment_id={id}&checkout=cancel")).await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("../../miniapp/?payment_id={id}&checkout=cancel").as_str()
        )
    );
    let s = app.status(&id, user).await;
    assert_eq!(s["status"], "pending", "a cancel asks nothing");

    let (status, location) = back(format!(
        "payment_id={id}&checkout=success&token=X&PayerID=Y"
    ))
    .await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("../../miniapp/?payment_id={id}&checkout=success").as_str()
        )
    );
    let s = app.status(&id, user).await;
    assert_eq!(
        (s["status"].as_str(), s["balance"].as_i64()),
        (Some("succeeded"), Some(200)),
        "credited on the buyer's return"
    );
    back(format!("payment_id={id}&checkout=success")).await;
    let s = app.status(&id, user).await;
    assert_eq!(s["balance"], 200, "a second return credits nothing more");

    for query in [
        "payment_id=pay_unknown0000000000000&checkout=success".to_owned(),
        "payment_id=%3Cscript%3E&checkout=success".to_owned(),
        format!("payment_id={id}&checkout=%2F%2Fevil.example"),
        String::new(),
    ] {
        let (status, location) = back(query.clone()).await;
        assert_eq!(status, 303, "{query}");
        assert!(
            location.starts_with("../../miniapp/")
                && !location.contains('<')
                && !location.contains("evil"),
            "{query}: {location}"
        );
    }
}

#[tokio::test]
async fn the_sweep_credits_a_paid_payment_that_nobody_polls() {
    let app = spawn_app_with(Options {
        card: Some(Flaky::shared()),
        ..Options::default()
    })
    .await;
    let user = fresh_user();
    let id = app.buy_id(user, 200, "10").await;
    let store = app.store.as_ref().unwrap();
    let created_at = store
        .payment(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .created_at;
    // Younger than RECONCILE_AFTER (120 s): not asked yet.
    let early = sweep_pending(app.state.reconciler(), created_at + 60)
        .await
        .unwrap();
    assert_eq!((early.checked, early.settled), (0, 0));
    assert_eq!(
        store
            .balance(UserId::new(user).unwrap())
            .await
            .unwrap()
            .balance,
        0
    );
    // Old enough: the provider says paid, and the ledger credits it with no status poll at all.
    let due = sweep_pending(app.state.reconciler(), created_at + 121)
        .await
        .unwrap();
    assert_eq!((due.checked, due.settled), (1, 1));
    assert_eq!(
        store
            .balance(UserId::new(user).unwrap())
            .await
            .unwrap()
            .balance,
        200
    );
    // Settled payments are not listed again; nothing is credited twice.
    let again = sweep_pending(app.state.reconciler(), created_at + 300)
        .await
        .unwrap();
    assert_eq!((again.checked, again.settled), (0, 0));
    assert_eq!(
        store
            .balance(UserId::new(user).unwrap())
            .await
            .unwrap()
            .balance,
        200
    );
    // Outside the window (two days), a pending payment is left alone.
    let other = app.buy(fresh_user(), 100, "5").await;
    let late = sweep_pending(
        app.state.reconciler(),
        created_at + SWEEP_WINDOW.as_secs() + 10,
    )
    .await
    .unwrap();
    assert_eq!(late.checked, 0, "{other}");
}

#[tokio::test]
async fn the_sweep_backs_off_on_a_checkout_that_never_settles() {
    let silent = Arc::new(Silent::default());
    let app = spawn_app_with(Options {
        card: Some(silent.clone()),
        ..Options::default()
    })
    .await;
    let id = app.buy(fresh_user(), 100, "5").await["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = app.store.as_ref().unwrap();
    let c = store
        .payment(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .created_at;
    // Asked at once when due, then not again for a minute, then not for a tenth of its age.
    for (t, asked) in [
        (121, 1),
        (150, 1),
        (181, 2),
        (3_600, 3),
        (3_900, 3),
        (4_000, 4),
    ] {
        sweep_pending(app.state.reconciler(), c + t).await.unwrap();
        assert_eq!(
            silent.asked.load(std::sync::atomic::Ordering::SeqCst),
            asked,
            "at +{t} s"
        );
    }
}

#[tokio::test]
async fn the_sweep_pages_through_a_backlog_and_asks_at_most_200_per_sweep() {
    let silent = Arc::new(Silent::default());
    let app = spawn_app_with(Options {
        card: Some(silent.clone()),
        ..Options::default()
    })
    .await;
    // More pending payments than one page (200) and one sweep's questions (200), most of them
    // created within the same second or two, so pages end inside a second.
    for _ in 0..230 {
        app.buy(fresh_user(), 100, "5").await;
    }
    let newest = now();
    let asked = || silent.asked.load(std::sync::atomic::Ordering::SeqCst);
    let first = sweep_pending(app.state.reconciler(), newest + 130)
        .await
        .unwrap();
    assert_eq!((first.checked, asked()), (200, 200), "capped at 200");
    // The next sweep asks about the 30 the first one did not reach, not the 200 it just asked.
    let second = sweep_pending(app.state.reconciler(), newest + 131)
        .await
        .unwrap();
    assert_eq!(
        (second.checked, asked()),
        (30, 230),
        "every payment reached once"
    );
}

/// A ledger whose database is down.
#[derive(Debug)]
struct Down;

fn down() -> LedgerError {
    LedgerError::Unavailable("database is down".into())
}

#[async_trait]
impl LedgerStore for Down {
    async fn create_payment(&self, _: NewPayment) -> Result<Payment, LedgerError> {
        Err(down())
    }
    async fn attach_checkout(
        &self,
        _: &miniapp::ids::PaymentId,
        _: &CheckoutRecord,
    ) -> Result<Payment, LedgerError> {
        Err(down())
    }
    async fn apply_event(
        &self,
        _: &ProviderId,
        _: &ProviderEvent,
        _: RefundPolicy,
    ) -> Result<EventReceipt, LedgerError> {
        Err(down())
    }
    async fn hold_event(&self, _: &ProviderId, _: &ProviderEvent) -> Result<(), LedgerError> {
        Err(down())
    }
    async fn provider_cursor(&self, _: &ProviderId) -> Result<Option<String>, LedgerError> {
        Err(down())
    }
    async fn save_provider_cursor(&self, _: &ProviderId, _: &str) -> Result<(), LedgerError> {
        Err(down())
    }
    async fn held_events(
        &self,
        _: Option<(&ProviderId, &ProviderRef)>,
        _: u64,
        _: u32,
    ) -> Result<Vec<miniapp::ledger::HeldEvent>, LedgerError> {
        Err(down())
    }
    async fn spend(&self, _: &SpendRequest) -> Result<SpendReceipt, LedgerError> {
        Err(down())
    }
    async fn balance(&self, _: miniapp::ids::UserId) -> Result<Balance, LedgerError> {
        Err(down())
    }
    async fn payment(&self, _: &miniapp::ids::PaymentId) -> Result<Option<Payment>, LedgerError> {
        Err(down())
    }
    async fn pending_payments(
        &self,
        _: u64,
        _: u64,
        _: Option<&miniapp::ids::PaymentId>,
        _: u32,
    ) -> Result<Vec<Payment>, LedgerError> {
        Err(down())
    }
    async fn abandon_checkout_attempt(
        &self,
        _: &miniapp::ids::PaymentId,
        _: u32,
    ) -> Result<Payment, LedgerError> {
        Err(down())
    }
    async fn open_payments(
        &self,
        _: miniapp::ids::UserId,
        _: u64,
    ) -> Result<Vec<Payment>, LedgerError> {
        Err(down())
    }
    async fn unstarted_payments(&self, _: u64, _: u32) -> Result<Vec<Payment>, LedgerError> {
        Err(down())
    }
    async fn history(
        &self,
        _: miniapp::ids::UserId,
        _: HistoryQuery,
    ) -> Result<HistoryPage, LedgerError> {
        Err(down())
    }
    async fn ping(&self) -> Result<(), LedgerError> {
        Err(down())
    }
}

#[tokio::test]
async fn storage_outage_is_503_everywhere_and_webhooks_are_retried() {
    let app = spawn_app_with(Options {
        ledger: Some(Arc::new(Down)),
        ..Options::default()
    })
    .await;
    let user = fresh_user();
    let (status, body) = app
        .post(
            "/api/miniapp/create-payment",
            Some(user),
            order(500, json!(25), "USD", "card"),
        )
        .await;
    assert_eq!((status, code(&body)), (503, "storage_unavailable"));
    let (status, body) = app.get("/api/miniapp/balance", Some(user)).await;
    assert_eq!((status, code(&body)), (503, "storage_unavailable"));
    let (status, health) = app.get("/healthz", None).await;
    assert_eq!(
        (status, health["database"].as_str()),
        (503, Some("unavailable"))
    );
    // A genuine webhook while the database is down: 5xx, so the provider redelivers later.
    let mut payment = miniapp::payment::example_pending_payment();
    payment.provider = ProviderId::new("sandbox").unwrap();
    let (status, body) = app
        .deliver(&app.sandbox.signed_event(&payment, "paid"))
        .await;
    assert_eq!((status, code(&body)), (503, "storage_unavailable"));
}

#[tokio::test]
async fn health_page_and_unknown_routes() {
    let app = spawn_app().await;
    let (status, h) = app.get("/healthz", None).await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));
    let page = app
        .http
        .get(format!("{}/miniapp/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains("styles.css"));
    for asset in ["styles.css", "favicon.svg"] {
        assert_eq!(
            app.http
                .get(format!("{}/miniapp/{asset}", app.url))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );
    }
    let (status, body) = app.get("/nope", None).await;
    assert_eq!((status, code(&body)), (404, "not_found"));
    let (status, _) = app.post("/api/miniapp/dev-login", None, json!({})).await;
    assert_eq!(status, 404, "no dev login when a bot token is configured");
}

#[tokio::test]
async fn development_mode_hands_out_init_data_for_a_local_user() {
    let dir = tempfile::tempdir().unwrap();
    let config = miniapp::config::Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(format!("sqlite://{}", dir.path().join("dev.db").display())),
        _ => None,
    })
    .unwrap();
    let app = miniapp::app::build(&config).await.unwrap();
    assert!(app.dev_token.is_some() && app.sandbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, miniapp::http::router(app.state))
            .await
            .unwrap()
    });
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{url}/api/miniapp/dev-login"))
        .json(&json!({"language_code": "ru"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let init_data = login["init_data"].as_str().unwrap();
    let balance = http
        .get(format!("{url}/api/miniapp/balance"))
        .header("authorization", format!("tma {init_data}"))
        .send()
        .await
        .unwrap();
    assert_eq!(balance.status().as_u16(), 200);
}

#[tokio::test]
async fn huge_init_data_is_refused_before_any_work() {
    let app = spawn_app().await;
    let huge = format!(
        "user=x&pad={}&hash={}",
        "a".repeat(20 * 1024),
        "0".repeat(64)
    );
    let resp = app
        .http
        .get(format!("{}/api/miniapp/balance", app.url))
        .header("authorization", format!("tma {huge}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(code(&resp.json().await.unwrap()), "invalid_init_data");
}

/// SQL- and HTML-looking strings in every field are refused with a code or stored as plain
/// data: the queries are parameterized, the answers are JSON (never HTML), nothing else changes.
#[tokio::test]
async fn sql_and_html_strings_in_every_field_are_just_data() {
    let app = spawn_app().await;
    let user = fresh_user();
    let evil = [
        "'; DROP TABLE miniapp_journal; --",
        "<script>alert(1)</script>",
        "\" OR 1=1 --",
        "%27%3B",
    ];
    for s in evil {
        let body =
            json!({"credits": 500, "amount": s, "currency": s, "payment_method": s, "email": s});
        let (status, reply) = app
            .post("/api/miniapp/create-payment", Some(user), body)
            .await;
        assert_eq!(status, 400, "{s}: {reply}");
        let body = json!({"credits": 500, "amount": 25, "currency": "USD", "payment_method": "card", "email": format!("a{}@example.com", s.replace(' ', ""))});
        let (status, reply) = app
            .post("/api/miniapp/create-payment", Some(user), body)
            .await;
        assert!(
            status == 200 || code(&reply) == "invalid_email",
            "{s}: {reply}"
        );
        let (status, _) = app
            .get(
                &format!("/api/miniapp/payment-status/{}", urlencode(s)),
                Some(user),
            )
            .await;
        assert_eq!(status, 404, "{s}");
    }
    // Names in signed init data are data too.
    let signed_user = json!({"id": user, "first_name": "<img src=x onerror=alert(1)>", "last_name": "'; DELETE FROM miniapp_balances; --"}).to_string();
    let init = sign(
        &[("user", &signed_user), ("auth_date", &now().to_string())],
        &BotToken::new(TOKEN).unwrap(),
    );
    let resp = app
        .http
        .get(format!("{}/api/miniapp/balance", app.url))
        .header("authorization", format!("tma {init}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let (payments, journal, _) = app.rows().await;
    assert!(
        payments <= 4 && journal == 0,
        "tables intact: {payments} payments, {journal} journal rows"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A client that sends headers and then trickles (or never sends) its body gets 408 and its
/// connection back; it cannot hold a server task forever.
#[tokio::test]
async fn a_slow_client_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"POST /api/miniapp/create-payment HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cre")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // Bounded wait for the server's answer (the server, not this test, decides the timing).
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 1024];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await
    .expect("the server answered a stalled request");
    let head = String::from_utf8_lossy(&answer);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "the 408 is the API's JSON error: {head}"
    );
    assert_eq!(app.rows().await, (0, 0, 0));
}

/// A provider that knows nothing yet and counts how often it is asked.
#[derive(Debug, Default)]
struct Silent {
    asked: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl PaymentProvider for Silent {
    fn id(&self) -> &ProviderId {
        static ID: std::sync::LazyLock<ProviderId> =
            std::sync::LazyLock::new(|| ProviderId::new("silent").unwrap());
        &ID
    }
    async fn create_checkout(&self, r: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        Ok(Checkout {
            checkout_ref: ProviderRef::new(format!("silent_{}", r.payment_id)).unwrap(),
            url: "https://pay.example".into(),
            expires_at: None,
        })
    }
    async fn parse_webhook(
        &self,
        _: &WebhookRequest,
        _: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        Err(ProviderError::InvalidSignature("never".into()))
    }
    async fn fetch_status(&self, _: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(vec![])
    }
}

#[tokio::test]
async fn polling_a_pending_payment_asks_the_provider_at_most_every_15_seconds() {
    let silent = Arc::new(Silent::default());
    let app = spawn_app_with(Options {
        card: Some(silent.clone()),
        reconcile_after: Duration::ZERO,
        ..Options::default()
    })
    .await;
    let user = fresh_user();
    let id = app.buy_id(user, 100, "5").await;
    for _ in 0..5 {
        let (status, s) = app
            .get(&format!("/api/miniapp/payment-status/{id}"), Some(user))
            .await;
        assert_eq!((status, s["status"].as_str()), (200, Some("pending")));
    }
    assert_eq!(
        silent.asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "five polls, one provider call"
    );
}

/// A provider that opens a new checkout on every call (as a provider without idempotency keys
/// would), records the idempotency key of every call, fails the first `fail_first` calls as
/// unavailable, and never answers while `hang` is set.
#[derive(Debug, Default)]
struct Scripted {
    keys: std::sync::Mutex<Vec<String>>,
    fail_first: std::sync::atomic::AtomicUsize,
    hang: std::sync::atomic::AtomicBool,
    opened: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl PaymentProvider for Scripted {
    fn id(&self) -> &ProviderId {
        static ID: std::sync::LazyLock<ProviderId> =
            std::sync::LazyLock::new(|| ProviderId::new("scripted").unwrap());
        &ID
    }
    async fn create_checkout(&self, r: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.keys.lock().unwrap().push(r.idempotency_key());
        if self.hang.load(SeqCst) {
            std::future::pending::<()>().await;
        }
        if self
            .fail_first
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ProviderError::Unavailable("upstream answered 500".into()));
        }
        let n = self.opened.fetch_add(1, SeqCst) + 1;
        Ok(Checkout {
            checkout_ref: ProviderRef::new(format!("fresh_{}_{n}", r.payment_id)).unwrap(),
            url: format!("https://pay.example/{}/{n}", r.payment_id),
            expires_at: None,
        })
    }
    async fn parse_webhook(
        &self,
        _: &WebhookRequest,
        _: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        Err(ProviderError::InvalidSignature("never".into()))
    }
    async fn fetch_status(&self, _: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        Ok(Vec::new())
    }
}

/// Stripe's behaviour for one idempotency key: one session per key, and `409
/// idempotency_key_in_use` (here [`ProviderError::InProgress`]) while a request with the key is in
/// flight. The first request of a key waits until a concurrent one was told so.
#[derive(Debug, Default)]
struct KeyedInFlight {
    sessions: std::sync::Mutex<std::collections::HashMap<String, Checkout>>,
    in_flight: std::sync::Mutex<std::collections::HashSet<String>>,
    in_use_answers: std::sync::atomic::AtomicUsize,
    answered: tokio::sync::Notify,
    opened: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl PaymentProvider for KeyedInFlight {
    fn id(&self) -> &ProviderId {
        static ID: std::sync::LazyLock<ProviderId> =
            std::sync::LazyLock::new(|| ProviderId::new("keyed").unwrap());
        &ID
    }
    async fn create_checkout(&self, r: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        use std::sync::atomic::Ordering::SeqCst;
        let key = r.idempotency_key();
        if let Some(c) = self.sessions.lock().unwrap().get(&key) {
            return Ok(c.clone());
        }
        if !self.in_flight.lock().unwrap().insert(key.clone()) {
            self.in_use_answers.fetch_add(1, SeqCst);
            self.answered.notify_one();
            return Err(ProviderError::InProgress);
        }
        // Bounded: a run in which no concurrent request arrives still finishes.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while self.in_use_answers.load(SeqCst) == 0 {
                self.answered.notified().await;
            }
        })
        .await;
        let n = self.opened.fetch_add(1, SeqCst) + 1;
        let checkout = Checkout {
            checkout_ref: ProviderRef::new(format!("cs_{key}_{n}")).unwrap(),
            url: format!("https://pay.example/{key}"),
            expires_at: None,
        };
        self.sessions
            .lock()
            .unwrap()
            .insert(key.clone(), checkout.clone());
        self.in_flight.lock().unwrap().remove(&key);
        Ok(checkout)
    }
    async fn parse_webhook(
        &self,
        _: &WebhookRequest,
        _: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        Err(ProviderError::InvalidSignature("never".into()))
    }
    async fn fetch_status(&self, _: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        Ok(Vec::new())
    }
}

/// Two instances on one database with one provider, and `n` parallel create-payment calls of
/// one user with one Idempotency-Key, alternating between the instances.
async fn parallel_creates(
    provider: Arc<dyn PaymentProvider>,
    n: usize,
) -> (TestApp, i64, Vec<(u16, Value)>) {
    let a = spawn_app_with(Options {
        card: Some(provider.clone()),
        ..Options::default()
    })
    .await;
    let b = spawn_app_with(Options {
        card: Some(provider),
        share_with: a.store.clone(),
        ..Options::default()
    })
    .await;
    let user = fresh_user();
    let init_data = format!("tma {}", init_data_for(user, now(), TOKEN));
    let calls = (0..n).map(|i| {
        let url = if i % 2 == 0 { &a.url } else { &b.url };
        a.http
            .post(format!("{url}/api/miniapp/create-payment"))
            .header("authorization", &init_data)
            .header("idempotency-key", "double-tap-1")
            .json(&order(500, json!("25.00"), "USD", "card"))
            .send()
    });
    let mut answers = Vec::new();
    for r in futures_util::future::join_all(calls).await {
        let r = r.unwrap();
        answers.push((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)));
    }
    (a, user, answers)
}

#[tokio::test]
async fn parallel_creates_with_one_key_on_two_instances_get_one_checkout_from_a_fresh_per_call_provider()
 {
    let provider = Arc::new(Scripted::default());
    let (app, _, answers) = parallel_creates(provider.clone(), 20).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "never a 5xx: {body}");
        assert_eq!(body["payment_id"], answers[0].1["payment_id"]);
        assert_eq!(body["payment_url"], answers[0].1["payment_url"]);
    }
    assert_eq!(app.rows().await.0, 1, "one payment");
}

#[tokio::test]
async fn parallel_creates_while_the_provider_says_key_in_use_end_in_200_or_a_documented_409() {
    let provider = Arc::new(KeyedInFlight::default());
    let (app, user, answers) = parallel_creates(provider.clone(), 20).await;
    let ok: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    for (status, body) in &answers {
        assert!(
            *status == 200 || (*status == 409 && code(body) == "payment_in_progress"),
            "200 or 409 payment_in_progress, never a 5xx: {status} {body}"
        );
    }
    assert!(!ok.is_empty());
    assert!(ok.iter().all(|b| b["payment_url"] == ok[0]["payment_url"]));
    assert!(
        provider
            .in_use_answers
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0,
        "the provider did see the key in use"
    );
    assert_eq!(provider.opened.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(app.rows().await.0, 1, "one payment");
    assert!(ok.iter().all(|b| b["payment_id"] == ok[0]["payment_id"]));
    // The client that got 409 retries: the same payment and checkout.
    let (status, retried) = app
        .post_with_key(
            "/api/miniapp/create-payment",
            user,
            "double-tap-1",
            order(500, json!("25.00"), "USD", "card"),
        )
        .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["payment_id"], ok[0]["payment_id"]);
    assert_eq!(retried["payment_url"], ok[0]["payment_url"]);
}

/// An app whose card provider answers its first checkout with a 5xx, then works.
async fn app_whose_provider_fails_once() -> (TestApp, Arc<Scripted>) {
    let (app, provider, _) = app_whose_provider_fails_once_with(None).await;
    (app, provider)
}

async fn app_whose_provider_fails_once_with(
    clock: Option<Arc<ManualClock>>,
) -> (TestApp, Arc<Scripted>, Option<Arc<ManualClock>>) {
    let provider = Arc::new(Scripted::default());
    provider
        .fail_first
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let app = spawn_app_with(Options {
        card: Some(provider.clone()),
        clock: clock.clone(),
        ..Options::default()
    })
    .await;
    (app, provider, clock)
}

#[tokio::test]
async fn after_a_provider_failure_the_retry_uses_a_fresh_provider_key() {
    let (app, provider) = app_whose_provider_fails_once().await;
    let user = fresh_user();
    let attempt = || {
        app.post_with_key(
            "/api/miniapp/create-payment",
            user,
            "page-key-1",
            order(500, json!("25.00"), "USD", "card"),
        )
    };
    let (status, body) = attempt().await;
    assert_eq!((status, code(&body)), (503, "provider_unavailable"));
    let (status, body) = attempt().await;
    assert_eq!(status, 200, "{body}");
    let id = body["payment_id"].as_str().unwrap().to_owned();
    assert_eq!(
        *provider.keys.lock().unwrap(),
        [id.clone(), format!("{id}:1")],
        "the failed attempt's key is never sent again"
    );
    assert_eq!(app.rows().await.0, 1, "the same payment");
    let p = app
        .store
        .as_ref()
        .unwrap()
        .payment(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.checkout_attempt, p.status.as_str()), (1, "pending"));
}

#[tokio::test]
async fn a_checkout_that_could_not_open_for_15_minutes_is_closed_and_a_new_key_starts_afresh() {
    let clock = Arc::new(ManualClock::starting_now());
    let (app, provider, _) = app_whose_provider_fails_once_with(Some(clock.clone())).await;
    let user = fresh_user();
    let create = |key: &'static str| {
        app.post_with_key(
            "/api/miniapp/create-payment",
            user,
            key,
            order(500, json!("25.00"), "USD", "card"),
        )
    };
    assert_eq!(create("outage-key").await.0, 503);
    // The outage lasts a quarter of an hour.
    clock.advance(Duration::from_secs(900));
    let (status, body) = create("outage-key").await;
    assert_eq!((status, code(&body)), (409, "payment_closed"), "{body}");
    assert_eq!(provider.keys.lock().unwrap().len(), 1, "not sent again");
    assert_eq!(create("new-key").await.0, 200);
    assert_eq!(app.rows().await.0, 2, "a new payment");
}

#[tokio::test]
async fn a_stalled_provider_is_a_json_503_inside_the_request_deadline() {
    let provider = Arc::new(Scripted::default());
    provider
        .hang
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let app = spawn_app_with(Options {
        card: Some(provider.clone()),
        request_timeout: Duration::from_millis(800),
        ..Options::default()
    })
    .await;
    let user = fresh_user();
    let (status, body) = app
        .post(
            "/api/miniapp/create-payment",
            Some(user),
            order(500, json!(25), "USD", "card"),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (503, "provider_unavailable"),
        "not an empty 408: {body}"
    );
    let keys = provider.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 1);
    let p = app
        .store
        .as_ref()
        .unwrap()
        .payment(&keys[0].parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.status.as_str(), p.checkout_attempt),
        ("created", 1),
        "the unanswered attempt is given up"
    );
}

#[tokio::test]
async fn the_sweep_closes_a_payment_whose_checkout_never_opened() {
    let (app, provider) = app_whose_provider_fails_once().await;
    let (status, _) = app
        .post(
            "/api/miniapp/create-payment",
            Some(fresh_user()),
            order(100, json!(5), "USD", "card"),
        )
        .await;
    assert_eq!(status, 503);
    let id: miniapp::ids::PaymentId = provider.keys.lock().unwrap()[0].parse().unwrap();
    let store = app.store.as_ref().unwrap();
    let created_at = store.payment(&id).await.unwrap().unwrap().created_at;
    let early = sweep_pending(app.state.reconciler(), created_at + 3_599)
        .await
        .unwrap();
    assert_eq!(early.closed_unstarted, 0, "an hour is the limit");
    let due = sweep_pending(app.state.reconciler(), created_at + 3_601)
        .await
        .unwrap();
    assert_eq!(due.closed_unstarted, 1);
    let p = store.payment(&id).await.unwrap().unwrap();
    assert_eq!(p.status.as_str(), "expired");
    let again = sweep_pending(app.state.reconciler(), created_at + 7_200)
        .await
        .unwrap();
    assert_eq!(again.closed_unstarted, 0, "closed once");
    let reason: String =
        sqlx::query_scalar("SELECT event_id FROM miniapp_provider_events WHERE payment_id = $1")
            .bind(id.as_str())
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(reason, format!("miniapp_checkout_never_opened_{id}"));
    assert_eq!(app.rows().await.1, 0, "no money moved");
}

#[tokio::test]
async fn one_users_abandoned_checkouts_cannot_use_up_the_sweep() {
    let silent = Arc::new(Silent::default());
    let app = spawn_app_with(Options {
        card: Some(silent.clone()),
        rate_limit_per_minute: 0,
        ..Options::default()
    })
    .await;
    let store = app.store.as_ref().unwrap();
    // A buyer's payment first (the oldest), then 300 abandoned checkouts of one user.
    let buyer = fresh_user();
    let bought = app.buy(buyer, 100, "5").await;
    let abuser = UserId::new(fresh_user()).unwrap();
    for i in 0..300 {
        let id = miniapp::ids::PaymentId::generate().unwrap();
        store
            .create_payment(NewPayment {
                id: id.clone(),
                user_id: abuser,
                provider: silent.id().clone(),
                method: PaymentMethod::card(),
                tokens: miniapp::money::TokenAmount::new(100).unwrap(),
                price: miniapp::money::Money::usd_cents(500),
                email: None,
                idempotency_key: None,
                language: None,
            })
            .await
            .unwrap();
        store
            .attach_checkout(
                &id,
                &CheckoutRecord {
                    checkout_ref: ProviderRef::new(format!("silent_{i}_{id}")).unwrap(),
                    url: "https://pay.example".into(),
                },
            )
            .await
            .unwrap();
    }
    let sweep = sweep_pending(app.state.reconciler(), now() + 130)
        .await
        .unwrap();
    assert_eq!(
        sweep.checked, 6,
        "five of the abuser's, and the buyer's: {bought}"
    );
}

#[tokio::test]
async fn the_same_order_again_reuses_its_checkout_and_open_payments_are_capped() {
    let app = spawn_app().await;
    let user = fresh_user();
    let create = |email: &str| {
        let mut body = order(500, json!("25.00"), "USD", "card");
        body["email"] = json!(email);
        app.post("/api/miniapp/create-payment", Some(user), body)
    };
    let first = create("a@example.com").await;
    let again = create("a@example.com").await;
    assert_eq!((first.0, again.0), (200, 200));
    assert_eq!(first.1["payment_id"], again.1["payment_id"]);
    assert_eq!(first.1["payment_url"], again.1["payment_url"]);
    assert_eq!(
        app.rows().await.0,
        1,
        "a second tap makes no second payment"
    );
    for email in [
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "e@example.com",
    ] {
        assert_eq!(create(email).await.0, 200);
    }
    let (status, body) = create("f@example.com").await;
    assert_eq!((status, code(&body)), (429, "too_many_open_payments"));
    assert_eq!(app.rows().await.0, 5);
    // The cap never blocks the orders already open.
    let (status, body) = create("a@example.com").await;
    assert_eq!((status, &body["payment_id"]), (200, &first.1["payment_id"]));
    // Paying one frees a place.
    app.pay(first.1["payment_id"].as_str().unwrap()).await;
    assert_eq!(create("f@example.com").await.0, 200);
}

#[tokio::test]
async fn create_payment_is_rate_limited_per_user_and_per_address() {
    let app = spawn_app_with(Options {
        rate_limit_per_minute: 3,
        connect_info: true,
        ..Options::default()
    })
    .await;
    let user = fresh_user();
    for credits in [100, 200, 500] {
        let amount = credits / 20;
        let (status, body) = app
            .post(
                "/api/miniapp/create-payment",
                Some(user),
                order(credits, json!(amount), "USD", "card"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let r = app
        .http
        .post(format!("{}/api/miniapp/create-payment", app.url))
        .header(
            "authorization",
            format!("tma {}", init_data_for(user, now(), TOKEN)),
        )
        .json(&order(1000, json!(50), "USD", "card"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "rate_limited");
    // Per address, for requests nobody vouches for: five times the per-user rate (15 here).
    let mut statuses = Vec::new();
    for _ in 0..16 {
        let r = app
            .http
            .post(format!("{}/api/miniapp/create-payment", app.url))
            .header("authorization", "tma user=%7B%7D&auth_date=1&hash=00")
            .json(&order(100, json!(5), "USD", "card"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[..15], [401; 15], "{statuses:?}");
    assert_eq!(statuses[15], 429, "{statuses:?}");
    // Buyers behind the same address (a proxy, a NAT) are not locked out by that junk.
    for _ in 0..3 {
        let (status, body) = app
            .post(
                "/api/miniapp/create-payment",
                Some(fresh_user()),
                order(100, json!(5), "USD", "card"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(app.rows().await.0, 6, "no payment for a refused call");
}

#[tokio::test]
async fn every_error_status_carries_the_json_error_shape() {
    let app = spawn_app().await;
    let check = |r: reqwest::Response, status: u16, code_: &'static str| async move {
        assert_eq!(r.status().as_u16(), status);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let allow = r.headers().get("allow").cloned();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(code(&body), code_, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        allow
    };
    let url = |p: &str| format!("{}{p}", app.url);
    let allow = check(
        app.http
            .get(url("/api/miniapp/create-payment"))
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    assert_eq!(allow.unwrap(), "POST", "405 keeps its Allow header");
    check(
        app.http
            .delete(url("/api/miniapp/packages"))
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    check(
        app.http.get(url("/nope")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    check(
        app.http
            .post(url("/api/miniapp/create-payment"))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    check(
        app.http
            .post(url("/api/miniapp/create-payment"))
            .header("content-type", "application/json")
            .body(vec![b' '; 64 * 1024])
            .send()
            .await
            .unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    check(
        app.http
            .get(url("/api/miniapp/history?limit=many"))
            .header(
                "authorization",
                format!("tma {}", init_data_for(fresh_user(), now(), TOKEN)),
            )
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn init_data_ages_by_the_apps_clock_not_the_system_clock() {
    let clock = Arc::new(ManualClock::starting_now());
    let app = spawn_app_with(Options {
        clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let signed_at = clock.unix_now();
    let session = init_data_for(fresh_user(), signed_at, TOKEN);
    let balance = || {
        app.http
            .get(format!("{}/api/miniapp/balance", app.url))
            .header("authorization", format!("tma {session}"))
            .send()
    };
    assert_eq!(balance().await.unwrap().status().as_u16(), 200);
    // The Mini App stays open for a day and a second: by the app's clock the session is too old.
    clock.advance(Duration::from_secs(24 * 3600 + 1));
    let late = balance().await.unwrap();
    assert_eq!(late.status().as_u16(), 401);
    let body: Value = late.json().await.unwrap();
    assert_eq!(code(&body), "expired_init_data", "{body}");
}

/// The value of one Prometheus sample line (`name{labels} value`), 0 when absent.
fn sample(rendered: &str, series: &str) -> f64 {
    rendered
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// With the recorder installed, a purchase, its status read plainly and waited for, its webhook
/// delivered twice and a forged webhook are counted: created, settled, applied, duplicate,
/// invalid signature, status reads, waiting requests, latency per route.
/// (Other tests of this binary run at the same time, so the counts are compared as increases.)
#[tokio::test]
async fn a_purchase_and_its_webhooks_are_counted() {
    let metrics = miniapp::metrics::Metrics::install().unwrap();
    let created = r#"miniapp_payments_created_total{provider="sandbox",method="card"}"#;
    let settled =
        r#"miniapp_payments_settled_total{provider="sandbox",method="card",status="succeeded"}"#;
    let applied = r#"miniapp_events_total{provider="sandbox",outcome="applied"}"#;
    let duplicate = r#"miniapp_events_total{provider="sandbox",outcome="duplicate"}"#;
    let forged = r#"miniapp_webhooks_total{provider="sandbox",outcome="invalid_signature"}"#;
    let accepted = r#"miniapp_webhooks_total{provider="sandbox",outcome="accepted"}"#;
    let series = [created, settled, applied, duplicate, forged, accepted];
    let before: Vec<f64> = series
        .iter()
        .map(|s| sample(&metrics.render(), s))
        .collect();

    let app = spawn_app().await;
    let user = fresh_user();
    let id = app.buy_id(user, 200, "10").await;
    let payment = app
        .store
        .as_ref()
        .unwrap()
        .payment(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let reads = "miniapp_status_reads_total";
    let reads_before = sample(&metrics.render(), reads);
    let status = format!("/api/miniapp/payment-status/{id}");
    assert_eq!(app.get(&status, Some(user)).await.0, 200);
    let long_poll = format!("{status}?wait=30&status=pending");
    let waiting = app.get(&long_poll, Some(user));
    tokio::pin!(waiting);
    while app.state.waiting_requests() == 0 {
        assert!(
            futures_util::poll!(waiting.as_mut()).is_pending(),
            "the long poll waits"
        );
        tokio::task::yield_now().await;
    }
    assert!(
        sample(&metrics.render(), "miniapp_status_waiting") >= 1.0,
        "a held request is counted"
    );
    let genuine = app.sandbox.signed_event(&payment, "paid");
    assert_eq!(app.deliver(&genuine).await.0, 200);
    assert_eq!(waiting.await.1["status"], "succeeded");
    assert!(
        sample(&metrics.render(), reads) >= reads_before + 3.0,
        "a plain status call reads once, a long poll twice"
    );
    assert_eq!(app.deliver(&genuine).await.0, 200);
    let mut forged_webhook = genuine.clone();
    forged_webhook.body = b"{}".to_vec();
    assert_eq!(app.deliver(&forged_webhook).await.0, 400);

    let after = metrics.render();
    for (s, b) in series.iter().zip(&before) {
        assert!(sample(&after, s) >= b + 1.0, "{s} did not grow:\n{after}");
    }
    assert!(
        sample(
            &after,
            r#"miniapp_webhooks_total{provider="sandbox",outcome="accepted"}"#
        ) >= 2.0
    );
    assert!(
        after.contains(r#"route="/api/miniapp/create-payment",status="200""#),
        "{after}"
    );
}

/// A raw `GET` on a fresh connection: the path goes out byte for byte (reqwest would resolve
/// `..` segments before sending). Returns the status line and the body.
async fn raw_get(app: &TestApp, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_with_its_headers() {
    let app = spawn_app().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.url)).send();
    for (path, content_type) in [
        ("/miniapp/", "text/html; charset=utf-8"),
        ("/miniapp/index.html", "text/html; charset=utf-8"),
        ("/miniapp/styles.css", "text/css; charset=utf-8"),
        ("/miniapp/favicon.svg", "image/svg+xml"),
        ("/favicon.ico", "image/svg+xml"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let h = r.headers();
        assert_eq!(h["content-type"], content_type, "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    let icon = get("/favicon.ico").await.unwrap().text().await.unwrap();
    assert!(icon.starts_with("<svg"), "{icon}");
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/miniapp", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status().as_u16(), 308);
    assert_eq!(redirect.headers()["location"], "miniapp/");
}

#[tokio::test]
async fn every_module_under_static_js_is_served_as_javascript() {
    let app = spawn_app().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/js");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // no modules (yet)
    };
    for entry in entries {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".js") {
            continue;
        }
        let r = app
            .http
            .get(format!("{}/miniapp/js/{name}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "js/{name}");
        assert_eq!(
            r.headers()["content-type"],
            "text/javascript; charset=utf-8",
            "js/{name}"
        );
        let served = r.bytes().await.unwrap();
        assert_eq!(served, std::fs::read(dir.join(&name)).unwrap(), "js/{name}");
    }
}

#[tokio::test]
async fn traversal_hidden_files_and_the_sandbox_templates_are_not_served() {
    let app = spawn_app().await;
    for path in [
        "/miniapp/../Cargo.toml",
        "/miniapp/js/../../Cargo.toml",
        "/miniapp/%2e%2e/Cargo.toml",
        "/miniapp/..%2fCargo.toml",
        "/miniapp/js/..%2f..%2fsrc%2flib.rs",
        "/miniapp/..%5cCargo.toml",
        "/miniapp//etc/passwd",
        "/miniapp/./index.html",
        "/miniapp/sandbox.html",
        "/miniapp/sandbox_result.html",
        "/miniapp/js",
        "/miniapp/js/",
        "/miniapp/nope.js",
        "/miniapp/index.html.bak",
    ] {
        let (status, body) = raw_get(&app, path).await;
        assert!(status.starts_with("HTTP/1.1 404"), "{path}: {status}");
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(code(&body), "not_found", "{path}: {body}");
    }
    let (status, _) = raw_get(&app, "/miniapp/favicon.svg").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
}

#[tokio::test]
async fn packages_name_the_bot_url_only_when_it_is_known() {
    let app = spawn_app().await;
    let (_, body) = app.get("/api/miniapp/packages", None).await;
    assert_eq!(body["bot_url"], Value::Null, "{body}");
    assert!(!app.state.learn_bot_username("not a username"));
    assert!(app.state.learn_bot_username("learned_bot"));
    assert!(!app.state.learn_bot_username("other_bot"), "learned once");
    let (_, body) = app.get("/api/miniapp/packages", None).await;
    assert_eq!(body["bot_url"], "https://t.me/learned_bot");

    let configured = spawn_app_with(Options {
        bot_url: HttpSettings::bot_url_for("@my_shop_bot"),
        ..Options::default()
    })
    .await;
    assert!(
        !configured.state.learn_bot_username("learned_bot"),
        "the configured link wins"
    );
    let (status, body) = configured.get("/api/miniapp/packages", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["bot_url"], "https://t.me/my_shop_bot");

    for bad in [
        "http://t.me/my_shop_bot",
        "https://t.me/my_shop_bot/",
        "https://evil.example/my_shop_bot",
        "https://t.me/@my_shop_bot",
        "javascript:alert(1)",
    ] {
        let e = AppState::new(StateParts {
            ledger: Arc::new(miniapp::ledger::InMemoryLedger::default()),
            catalog: Catalog::default(),
            methods: vec![EnabledMethod {
                offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
                provider: app.sandbox.clone(),
                opens: Opens::Link,
            }],
            auth: Auth::Bot(BotToken::new(TOKEN).unwrap()),
            settings: HttpSettings {
                bot_url: Some(bad.to_owned()),
                ..HttpSettings::default()
            },
            routes: vec![],
            clock: SystemClock::shared(),
        })
        .unwrap_err();
        assert_eq!(
            e,
            miniapp::http::StateError::InvalidBotUrl(bad.to_owned()),
            "{bad}"
        );
    }
}

/// A handoff key as the page makes it: 24 random bytes in base64url are 32 characters.
fn handoff_key(user: i64) -> String {
    format!("k{user:0>20}-ABCdef_xyz")
}

impl TestApp {
    async fn handoff(&self, user: &str, key: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/api/miniapp/handoff", self.url))
            .query(&[("user_id", user), ("key", key)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn the_handoff_hands_over_the_checkout_of_the_tap_that_created_it() {
    let app = spawn_app().await;
    let user = fresh_user();
    let key = handoff_key(user);
    assert_eq!(key.len(), 32);
    let (status, body) = app.handoff(&user.to_string(), &key).await;
    assert_eq!(
        (status, body.clone()),
        (200, json!({"success": true, "state": "preparing"}))
    );

    let (status, created) = app
        .post_with_key(
            "/api/miniapp/create-payment",
            user,
            &key,
            order(500, json!("25.00"), "USD", "card"),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let (status, body) = app.handoff(&user.to_string(), &key).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success": true, "state": "ready", "payment_url": created["payment_url"]})
    );

    // Another user's id with the right key, or the right user with another key: nothing.
    let (_, body) = app.handoff(&fresh_user().to_string(), &key).await;
    assert_eq!(body, json!({"success": true, "state": "preparing"}));
    let (_, body) = app.handoff(&user.to_string(), &handoff_key(user + 1)).await;
    assert_eq!(body, json!({"success": true, "state": "preparing"}));

    let (status, paid) = app.pay(created["payment_id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{paid}");
    let (status, body) = app.handoff(&user.to_string(), &key).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"success": true, "state": "closed", "status": "succeeded"})
        )
    );
}

#[tokio::test]
async fn a_handoff_under_a_fresh_key_finds_the_open_payment_create_payment_reused() {
    let app = spawn_app().await;
    let user = fresh_user();
    let first = handoff_key(user);
    let (_, created) = app
        .post_with_key(
            "/api/miniapp/create-payment",
            user,
            &first,
            order(500, json!("25.00"), "USD", "card"),
        )
        .await;
    // The Mini App reopened: the same order under a fresh key gets the same payment back.
    let second = format!("{}-again", handoff_key(user));
    let (status, again) = app
        .post_with_key(
            "/api/miniapp/create-payment",
            user,
            &second,
            order(500, json!("25.00"), "USD", "card"),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["payment_id"], created["payment_id"], "reused");
    let (_, body) = app.handoff(&user.to_string(), &second).await;
    assert_eq!(
        body,
        json!({"success": true, "state": "ready", "payment_url": created["payment_url"]})
    );
    let (_, body) = app.handoff(&fresh_user().to_string(), &second).await;
    assert_eq!(
        body,
        json!({"success": true, "state": "preparing"}),
        "only its user"
    );
    app.pay(created["payment_id"].as_str().unwrap()).await;
    let (_, body) = app.handoff(&user.to_string(), &second).await;
    assert_eq!(
        body,
        json!({"success": true, "state": "closed", "status": "succeeded"})
    );
}

#[tokio::test]
async fn a_handoff_with_a_short_key_or_a_bad_user_is_refused() {
    let app = spawn_app().await;
    let user = fresh_user();
    // A payment made with a short key can never be handed off: its URL stays unguessable.
    let short = "tap-1";
    let (status, _) = app
        .post_with_key(
            "/api/miniapp/create-payment",
            user,
            short,
            order(100, json!(5), "USD", "card"),
        )
        .await;
    assert_eq!(status, 200);
    let good = handoff_key(user);
    for (user_id, key) in [
        (user.to_string(), short.to_owned()),
        (user.to_string(), "a".repeat(31)),
        (user.to_string(), "a".repeat(129)),
        (user.to_string(), format!("{}!", "a".repeat(32))),
        (user.to_string(), format!("{} ", "a".repeat(32))),
        (user.to_string(), String::new()),
        ("0".to_owned(), good.clone()),
        ("-5".to_owned(), good.clone()),
        ("12abc".to_owned(), good.clone()),
        (String::new(), good.clone()),
    ] {
        let (status, body) = app.handoff(&user_id, &key).await;
        assert_eq!(
            (status, code(&body)),
            (400, "invalid_request"),
            "{user_id:?} {key:?}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            key.is_empty() || !message.contains(&key),
            "the key is not echoed: {message}"
        );
    }
    let r = app
        .http
        .get(format!("{}/api/miniapp/handoff?user_id={user}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(app.rows().await.0, 1, "nothing recorded");
}

#[tokio::test]
async fn handoff_polls_are_rate_limited_per_address() {
    let app = spawn_app_with(Options {
        rate_limit_per_minute: 1,
        connect_info: true,
        ..Options::default()
    })
    .await;
    let user = fresh_user().to_string();
    let key = handoff_key(1);
    // Five times the per-user rate per address, invalid requests included.
    for i in 0..5 {
        let key = if i == 0 { "short" } else { key.as_str() };
        let (status, _) = app.handoff(&user, key).await;
        assert_ne!(status, 429, "poll {i}");
    }
    let (status, body) = app.handoff(&user, &key).await;
    assert_eq!((status, code(&body)), (429, "rate_limited"), "{body}");
    // Creates are counted apart: the polls did not use them up.
    let (status, body) = app
        .post(
            "/api/miniapp/create-payment",
            Some(fresh_user()),
            order(100, json!(5), "USD", "card"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// `payment-status?wait=&status=`: at once when the status already differs, held until the
/// change commits otherwise (woken by the commit, not by a poll), and a plain answer when the
/// wait ends.
#[tokio::test]
async fn a_waiting_status_request_is_answered_by_the_commit() {
    let app = spawn_app().await;
    let user = fresh_user();
    let created = app.buy(user, 500, "25.00").await;
    let id = created["payment_id"].as_str().unwrap().to_owned();

    // Already different: no wait.
    let started = std::time::Instant::now();
    let (status, s) = app
        .get(
            &format!("/api/miniapp/payment-status/{id}?wait=30&status=created"),
            Some(user),
        )
        .await;
    assert_eq!((status, s["status"].as_str()), (200, Some("pending")));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered at once"
    );

    // The same status: held until the webhook commits the success.
    let waiting = {
        let url = format!("/api/miniapp/payment-status/{id}?wait=30&status=pending");
        let app = &app;
        async move { app.get(&url, Some(user)).await }
    };
    let paying = async {
        // The request is registered before the commit: its subscription is what it waits on.
        while app.state.waiting_requests() == 0 {
            tokio::task::yield_now().await;
        }
        app.pay(&id).await
    };
    let started = std::time::Instant::now();
    let ((status, s), (paid, _)) = tokio::join!(waiting, paying);
    assert_eq!(paid, 200);
    assert_eq!(
        (status, s["status"].as_str(), s["balance"].as_i64()),
        (200, Some("succeeded"), Some(500))
    );
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "woken by the commit, not by the end of its 30 s wait"
    );

    // Nothing changes: the plain answer when the wait ends.
    let other = app.buy(user, 100, "5.00").await;
    let other = other["payment_id"].as_str().unwrap();
    let (status, s) = app
        .get(
            &format!("/api/miniapp/payment-status/{other}?wait=1&status=pending"),
            Some(user),
        )
        .await;
    assert_eq!((status, s["status"].as_str()), (200, Some("pending")));
}

/// `router`'s deadline is the request timeout plus the wait a long poll asked for: a wait longer
/// than the timeout ends with the status, not with a 408.
#[tokio::test]
async fn a_long_poll_outlives_the_request_timeout_by_its_wait() {
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let user = fresh_user();
    let id = app.buy_id(user, 100, "5.00").await;
    let started = std::time::Instant::now();
    let (status, body) = app
        .get(
            &format!("/api/miniapp/payment-status/{id}?wait=1&status=pending"),
            Some(user),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("pending")),
        "{body}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "held for its whole wait, past the 300 ms timeout"
    );
}

#[tokio::test]
async fn a_status_wait_that_is_not_understood_is_refused() {
    let app = spawn_app().await;
    let user = fresh_user();
    let id = app.buy_id(user, 100, "5.00").await;
    for query in [
        "wait=0&status=pending",
        "wait=31&status=pending",
        "wait=ten&status=pending",
        "wait=5",
        "wait=5&status=paid",
    ] {
        let (status, body) = app
            .get(
                &format!("/api/miniapp/payment-status/{id}?{query}"),
                Some(user),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_request")),
            "{query}"
        );
    }
    // Another user's payment still answers like a missing one, waiting or not.
    let (status, _) = app
        .get(
            &format!("/api/miniapp/payment-status/{id}?wait=5&status=pending"),
            Some(fresh_user()),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn stopping_answers_the_waiting_requests_at_once() {
    let app = spawn_app().await;
    let user = fresh_user();
    let id = app.buy_id(user, 100, "5.00").await;
    let waiting = {
        let url = format!("/api/miniapp/payment-status/{id}?wait=30&status=pending");
        let app = &app;
        async move { app.get(&url, Some(user)).await }
    };
    let stopping = async {
        while app.state.waiting_requests() == 0 {
            tokio::task::yield_now().await;
        }
        app.state.stop_waiting();
    };
    let started = std::time::Instant::now();
    let ((status, s), ()) = tokio::join!(waiting, stopping);
    assert_eq!((status, s["status"].as_str()), (200, Some("pending")));
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "not held for the whole wait"
    );
}
