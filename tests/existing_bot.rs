//! `examples/existing_bot.rs` end to end, as its author runs it: the built binary on loopback
//! with a fake Telegram Bot API. The host's own routes and 404 stay theirs, the payments work
//! under `/shop` (page, API, sandbox checkout, return links), and in the host's dispatcher, with
//! its own commands and catch-all, a Stars `successful_payment` is credited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use miniapp::init_data::{BotToken, sign};
use serde_json::{Value, json};

const TOKEN: &str = "7000000007:EXISTING_bot_token";

#[derive(Default)]
struct Fake {
    /// Updates handed out by the next getUpdates.
    queued: Vec<Value>,
    sent: Vec<Value>,
}

type Shared = Arc<(Mutex<Fake>, tokio::sync::Notify)>;

async fn bot_api(
    State(state): State<Shared>,
    Path((_bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Json<Value> {
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let result = match method.to_ascii_lowercase().as_str() {
        "getme" => json!({
            "id": 7000000007_i64, "is_bot": true, "first_name": "Shop", "username": "shop_bot",
            "can_join_groups": false, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false,
        }),
        "getupdates" => {
            // A long poll: answer when there is something, or after a second with nothing.
            let wait = tokio::time::timeout(Duration::from_secs(1), async {
                loop {
                    let notified = state.1.notified();
                    if !state.0.lock().unwrap().queued.is_empty() {
                        return;
                    }
                    notified.await;
                }
            });
            let _ = wait.await;
            json!(std::mem::take(&mut state.0.lock().unwrap().queued))
        }
        "sendmessage" => {
            let mut fake = state.0.lock().unwrap();
            fake.sent.push(params.clone());
            state.1.notify_waiters();
            json!({"message_id": fake.sent.len(), "date": 1_795_000_000,
                   "chat": {"id": params["chat_id"], "type": "private", "first_name": "A"},
                   "text": params["text"]})
        }
        "createinvoicelink" => json!("https://t.me/$invoice_existing_bot"),
        "getwebhookinfo" => json!({"url": "", "has_custom_certificate": false,
                                    "pending_update_count": 0}),
        _ => json!(true),
    };
    Json(json!({"ok": true, "result": result}))
}

fn example_binary() -> std::path::PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "existing_bot"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --example existing_bot");
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    deps.parent().unwrap().join("examples").join("existing_bot")
}

fn init_data(user: i64) -> String {
    let user = json!({"id": user, "first_name": "Ann", "language_code": "en"}).to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    sign(
        &[("user", &user), ("auth_date", &now)],
        &BotToken::new(TOKEN).unwrap(),
    )
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_mounted_under_a_prefix_of_an_existing_app_and_bot() {
    let bin = example_binary();
    let fake: Shared = Arc::default();
    let api = axum::Router::new()
        .route("/{bot}/{method}", axum::routing::post(bot_api))
        .with_state(fake.clone());
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", api_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(api_listener, api).await.unwrap() });
    // The app's own port, known before it starts so PUBLIC_BASE_URL can name it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(&bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .env("TELEGRAM_API_URL", &api_url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_BASE_URL", format!("{base}/shop"))
        .env("PAYMENT_METHODS", "card,stars")
        .env("MINIAPP_SANDBOX", "on")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("shop.db").display()),
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _child = Child(child);
    let listening = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("listening on"))
    });
    let line = tokio::time::timeout(Duration::from_secs(60), listening)
        .await
        .expect("the example started")
        .unwrap();
    assert!(line.is_some(), "the example printed where it listens");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The host's own routes and 404 are untouched.
    let home = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.text().await.unwrap(), "my bot's own site");
    for path in ["/nope", "/shop/nope", "/api/miniapp/packages"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert_eq!(r.text().await.unwrap(), "my own 404", "{path}");
    }
    // The page and its API under /shop.
    let redirect = http
        .get(format!("{base}/shop/miniapp"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status().as_u16(), 308);
    assert_eq!(redirect.headers()["location"], "miniapp/");
    let page = http
        .get(format!("{base}/shop/miniapp/"))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("styles.css"));
    // The module that computes the API's URL (`static/js/api.js`).
    let script = http
        .get(format!("{base}/shop/miniapp/js/api.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !script.contains("'/api/miniapp'"),
        "the page finds its API relative to itself"
    );

    // A card payment through the sandbox: its checkout and return links carry the prefix.
    let user = 7_100_000_001_i64;
    let auth = format!("tma {}", init_data(user));
    // The shop's API, as the page calls it (signed init data of the user).
    let api = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = http
            .request(method, format!("{base}/shop/api/miniapp/{path}"))
            .header("authorization", &auth);
        if let Some(body) = body {
            r = r.json(&body);
        }
        async move { r.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let created = api(
        reqwest::Method::POST,
        "create-payment",
        Some(
            json!({"credits": 500, "amount": "25.00", "currency": "USD", "payment_method": "card"}),
        ),
    )
    .await;
    let id = created["payment_id"].as_str().unwrap().to_owned();
    let checkout = created["payment_url"].as_str().unwrap().to_owned();
    assert_eq!(checkout, format!("{base}/shop/sandbox/checkout/{id}"));
    let paid = http
        .post(&checkout)
        .form(&[
            ("card_number", "4242 4242 4242 4242"),
            ("expiry", "12/40"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(paid.contains("Payment succeeded"), "{paid}");
    assert!(
        paid.contains(&format!("href=\"../../miniapp/?payment_id={id}\"")),
        "the way back stays under the prefix"
    );

    // A Stars payment, paid in the bot: the successful_payment update arrives with the host's
    // own messages around it.
    let stars = api(
        reqwest::Method::POST,
        "create-payment",
        Some(
            json!({"credits": 100, "amount": "250", "currency": "XTR", "payment_method": "stars"}),
        ),
    )
    .await;
    assert_eq!(stars["success"], true, "{stars}");
    let chat = json!({"id": user, "type": "private", "first_name": "Ann"});
    let from = json!({"id": user, "is_bot": false, "first_name": "Ann", "language_code": "en"});
    let message = |id: i64, extra: Value| {
        let mut m = json!({"message_id": id, "date": 1_795_000_000, "chat": chat, "from": from});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"update_id": id, "message": m})
    };
    {
        let mut f = fake.0.lock().unwrap();
        f.queued.push(message(1, json!({"text": "hello"})));
        f.queued.push(message(
            2,
            json!({"successful_payment": {
                "currency": "XTR", "total_amount": stars["amount_minor"],
                "invoice_payload": stars["payment_id"],
                "telegram_payment_charge_id": "charge_existing_1",
                "provider_payment_charge_id": ""}}),
        ));
        f.queued.push(message(
            3,
            json!({"text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}),
        ));
    }
    fake.1.notify_waiters();
    // The three updates of one chat are handled in order: once "my own help" is sent, the
    // payment before it was handled. Two payment notifications follow from the outbox.
    let texts = || -> Vec<String> {
        fake.0
            .lock()
            .unwrap()
            .sent
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let done = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let notified = fake.1.notified();
            let t = texts();
            if t.iter().any(|t| t == "my own help")
                && t.iter()
                    .filter(|t| t.contains("Payment successful"))
                    .count()
                    == 2
            {
                return;
            }
            notified.await;
        }
    })
    .await;
    let sent = texts();
    assert!(done.is_ok(), "the bot answered and notified: {sent:?}");
    assert_eq!(
        sent.iter().filter(|t| *t == "my own catch-all").count(),
        1,
        "the catch-all got 'hello' and never the payment: {sent:?}"
    );
    assert!(
        sent.iter()
            .any(|t| t.starts_with("🧪 Test payment") && t.contains("500 tokens")),
        "the sandbox payment's message says it was a test: {sent:?}"
    );
    assert!(
        sent.iter()
            .any(|t| t.starts_with("✅ Payment successful") && t.contains("100 tokens")),
        "the Stars payment is real: {sent:?}"
    );
    let balance = api(reqwest::Method::GET, "balance", None).await;
    assert_eq!(balance["balance"], 600, "500 by card and 100 by Stars");
}
