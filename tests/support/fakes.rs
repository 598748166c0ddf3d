//! What `full_bot` talks to, faked on loopback (Stripe's API, Telegram's Bot API), and
//! `full_bot` itself as a release process: shared by the chaos test and the status-push bench
//! (`#[path]`-included there).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)] // each user takes part; tests fail by panicking

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

// ---------------------------------------------------------------------------------------------
// Fake Stripe API: creates Checkout Sessions the way Stripe answers them.

/// The fake's state: the secret key it accepts and the sessions it made, per idempotency key.
#[derive(Default)]
pub(crate) struct FakeStripe {
    secret_key: String,
    by_key: HashMap<String, Value>,
}

/// The fake Stripe API (`POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`),
/// accepting `secret_key` only.
pub(crate) fn fake_stripe(secret_key: &str) -> Router {
    Router::new()
        .route("/v1/checkout/sessions", post(create_session))
        .route("/v1/checkout/sessions/{id}", get(get_session))
        .with_state(Arc::new(Mutex::new(FakeStripe {
            secret_key: secret_key.to_owned(),
            by_key: HashMap::new(),
        })))
}

async fn create_session(
    State(state): State<Arc<Mutex<FakeStripe>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Json<Value> {
    let expected = format!("Bearer {}", state.lock().unwrap().secret_key);
    assert_eq!(headers.get("authorization").unwrap(), &expected);
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let key = headers
        .get("idempotency-key")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let payment_id = &form["metadata[payment_id]"];
    let id = format!("cs_test_{payment_id}");
    let session = json!({
        "id": id, "object": "checkout.session", "status": "open", "payment_status": "unpaid",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        "amount_total": form["line_items[0][price_data][unit_amount]"].parse::<u64>().unwrap(),
        "currency": form["line_items[0][price_data][currency]"],
        "client_reference_id": form["client_reference_id"],
        "metadata": {"payment_id": payment_id},
        "expires_at": form["expires_at"].parse::<u64>().unwrap(),
        "payment_intent": null,
    });
    let mut s = state.lock().unwrap();
    Json(s.by_key.entry(key).or_insert(session).clone())
}

async fn get_session(Path(id): Path<String>) -> Json<Value> {
    // Reconciliation is not expected within the test's minutes; answer like an open session.
    Json(
        json!({"id": id, "object": "checkout.session", "status": "open", "payment_status": "unpaid"}),
    )
}

// ---------------------------------------------------------------------------------------------
// Fake Bot API: long polling that never has updates, and a record of every message sent.

#[derive(Default)]
pub(crate) struct FakeTelegram {
    /// chat id → texts sent to it.
    pub(crate) messages: HashMap<i64, Vec<String>>,
}

/// The fake Bot API (`POST /{bot}/{method}`) and the record of what it was sent.
pub(crate) fn fake_telegram() -> (Router, Arc<Mutex<FakeTelegram>>) {
    let state = Arc::new(Mutex::new(FakeTelegram::default()));
    let router = Router::new()
        .route("/{bot}/{method}", post(bot_method))
        .with_state(state.clone());
    (router, state)
}

async fn bot_method(
    State(state): State<Arc<Mutex<FakeTelegram>>>,
    Path((_bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Json<Value> {
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let result = match method.to_ascii_lowercase().as_str() {
        "getme" => json!({
            "id": 7000000009_i64, "is_bot": true, "first_name": "Fake", "username": "fake_bot",
            "can_join_groups": false, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false,
        }),
        "getupdates" => {
            // Telegram holds a long poll open until its timeout when there is nothing to say.
            let secs = params["timeout"].as_u64().unwrap_or(0).min(2);
            tokio::time::sleep(Duration::from_secs(secs)).await;
            json!([])
        }
        "sendmessage" => {
            let chat = params["chat_id"].as_i64().unwrap();
            let text = params["text"].as_str().unwrap_or_default().to_owned();
            let mut s = state.lock().unwrap();
            let n = s.messages.values().map(Vec::len).sum::<usize>() + 1;
            s.messages.entry(chat).or_default().push(text.clone());
            json!({
                "message_id": n, "date": 1_795_000_000,
                "chat": {"id": chat, "type": "private", "first_name": "Payer"},
                "text": text,
            })
        }
        _ => json!(true),
    };
    Json(json!({"ok": true, "result": result}))
}

/// Serves `app` on a loopback port of its own; its `http://127.0.0.1:port`.
pub(crate) async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

// ---------------------------------------------------------------------------------------------
// The processes under test.

/// `cargo build --release --example full_bot`, and the binary's path.
pub(crate) fn full_bot_release() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--example", "full_bot"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --release --example full_bot");
    let target = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let bin = target.join("release").join("examples").join("full_bot");
    assert!(bin.exists(), "{} exists", bin.display());
    bin
}

pub(crate) struct Process {
    pub(crate) name: &'static str,
    bin: PathBuf,
    env: Vec<(&'static str, String)>,
    pub(crate) child: Child,
    /// `http://127.0.0.1:port` of the running instance.
    pub(crate) base: Arc<RwLock<String>>,
}

impl Process {
    pub(crate) fn start(
        name: &'static str,
        bin: &PathBuf,
        env: &[(&'static str, String)],
    ) -> Process {
        let (child, base) = Self::spawn(bin, env);
        Process {
            name,
            bin: bin.clone(),
            env: env.to_vec(),
            child,
            base: Arc::new(RwLock::new(base)),
        }
    }

    fn spawn(bin: &PathBuf, env: &[(&'static str, String)]) -> (Child, String) {
        let mut child = Command::new(bin)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "error")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("full_bot exited before listening"))
                .unwrap();
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.to_owned();
            }
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        (child, base)
    }

    /// SIGKILL, then a fresh instance on a new port.
    pub(crate) fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let (child, base) = Self::spawn(&self.bin, &self.env);
        self.child = child;
        *self.base.write().unwrap() = base;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Stripe-Signature` as Stripe documents it (`t=…,v1=HMAC-SHA256(secret, "{t}.{body}")`),
/// computed here with `hmac` rather than with the verifier's code.
pub(crate) fn stripe_signature(webhook_secret: &str, body: &[u8]) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut mac = Hmac::<Sha256>::new_from_slice(webhook_secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// SplitMix64: a seeded, reproducible stream for the shuffles and the kill moments.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}
