//! The bot against a fake Telegram Bot API on loopback (`Bot::set_api_url`; teloxide calls
//! `/bot<token>/SendMessage` and friends): each command, the history callback, the
//! insufficient-funds helper, notifications after a webhook credit (with retries, no duplicate on a
//! replayed webhook, none lost across a restart), and the menu button.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use miniapp::bot::{
    BotDeps, Lang, NotifierOptions, SpendOutcome, deliver_due_notifications, handler_tree,
    set_menu_button, spend_or_offer_top_up,
};
use miniapp::conformance::{fresh_user, pending_payment};
use miniapp::event::{EventKind, ProviderEvent};
use miniapp::ids::{IdempotencyKey, ProviderEventId, ProviderId, ProviderRef, UserId};
use miniapp::ledger::{LedgerStore, NewPayment, SpendRequest};
use miniapp::money::{Money, TokenAmount};
use miniapp::payment::RefundPolicy;
use miniapp::sqlx::SqliteLedgerStore;
use serde_json::{Value, json};
use teloxide::prelude::*;
use teloxide::types::{Me, Update};

const TOKEN: &str = "7000000004:FAKE_bot_api_token";
const PAGE: &str = "https://bot.example.com/miniapp/";

#[derive(Default)]
struct Fake {
    calls: Vec<(String, Value)>,
    failures: VecDeque<Value>,
    star_transactions: Vec<Value>,
    /// The next sendMessage is recorded, announced on `hung`, and never answered.
    hang_next_send: bool,
    hung: Arc<tokio::sync::Notify>,
    /// Signalled after every answered sendMessage.
    sent: Arc<tokio::sync::Notify>,
}

type Shared = Arc<Mutex<Fake>>;

async fn method(
    State(state): State<Shared>,
    Path((_bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Json<Value> {
    let params: Value = serde_json::from_slice(&body).unwrap_or_else(|_| multipart_fields(&body));
    let reply = answer(&state, &method, params);
    match reply {
        Ok(reply) => Json(reply),
        Err(hung) => {
            hung.notify_one();
            std::future::pending().await
        }
    }
}

/// The text fields of a `multipart/form-data` body (teloxide sends setWebhook that way, since
/// it may carry a certificate file), as a JSON object; `null` for anything else.
fn multipart_fields(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text
        .split("Content-Disposition: form-data; name=\"")
        .skip(1)
    {
        let Some((name, rest)) = part.split_once('"') else {
            continue;
        };
        let Some((_, value)) = rest.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.split("\r\n--").next().unwrap_or_default();
        fields.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    }
}

/// The reply to a Bot API call, or the notifier to wake when the call is left unanswered.
fn answer(state: &Shared, method: &str, params: Value) -> Result<Value, Arc<tokio::sync::Notify>> {
    let mut s = state.lock().unwrap();
    s.calls.push((method.to_owned(), params.clone()));
    if method.eq_ignore_ascii_case("sendMessage") && std::mem::take(&mut s.hang_next_send) {
        return Err(s.hung.clone());
    }
    if let Some(failure) = s.failures.pop_front() {
        return Ok(failure);
    }
    let result = match method {
        "GetMe" | "getMe" => serde_json::to_value(me()).unwrap(),
        "SendMessage" | "sendMessage" => json!({
            "message_id": s.calls.len(), "date": 1_795_000_000,
            "chat": {"id": params["chat_id"], "type": "private", "first_name": "Test"},
            "text": params["text"],
        }),
        "CreateInvoiceLink" | "createInvoiceLink" => {
            json!(format!("https://t.me/$invoice{}", s.calls.len()))
        }
        // Newest first, `offset` skipped, at most `limit` (100 by default), as the Bot API pages.
        "GetStarTransactions" | "getStarTransactions" => {
            let number = |k: &str, default: usize| {
                params[k]
                    .as_u64()
                    .map_or(default, |n| usize::try_from(n).unwrap())
            };
            let (offset, limit) = (number("offset", 0), number("limit", 100));
            let page: Vec<&Value> = s
                .star_transactions
                .iter()
                .skip(offset)
                .take(limit)
                .collect();
            json!({ "transactions": page })
        }
        _ => json!(true),
    };
    if method.eq_ignore_ascii_case("sendMessage") {
        s.sent.notify_one();
    }
    Ok(json!({"ok": true, "result": result}))
}

struct FakeApi {
    state: Shared,
    bot: Bot,
    url: String,
}

impl FakeApi {
    async fn start() -> FakeApi {
        let state: Shared = Arc::default();
        let app = axum::Router::new()
            .route("/{bot}/{method}", axum::routing::post(method))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let bot = Bot::new(TOKEN).set_api_url(url.parse().unwrap());
        FakeApi { state, bot, url }
    }

    fn calls(&self, name: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _)| m.eq_ignore_ascii_case(name))
            .map(|(_, p)| p.clone())
            .collect()
    }

    fn fail_next(&self, reply: Value) {
        self.state.lock().unwrap().failures.push_back(reply);
    }
}

async fn store() -> (SqliteLedgerStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLedgerStore::connect(&dir.path().join("bot.db").display().to_string())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

fn me() -> Me {
    serde_json::from_value(json!({
        "id": 7000000004_i64, "is_bot": true, "first_name": "Shop", "username": "shop_bot",
        "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
        "can_connect_to_business": false, "has_main_web_app": false,
    }))
    .unwrap()
}

/// Updates are parsed from text, as teloxide receives them (its `Update` deserializer reads
/// borrowed strings, which a `serde_json::Value` cannot lend).
fn update(value: Value) -> Update {
    serde_json::from_str(&value.to_string()).unwrap()
}

fn message(user: i64, lang: &str, text: &str) -> Update {
    update(json!({
        "update_id": 1,
        "message": {
            "message_id": 10, "date": 1_795_000_000,
            "chat": {"id": user, "type": "private", "first_name": "Anna"},
            "from": {"id": user, "is_bot": false, "first_name": "Anna", "language_code": lang},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": text.len()}],
        }
    }))
}

fn callback(user: i64, lang: &str, data: &str) -> Update {
    update(json!({
        "update_id": 2,
        "callback_query": {
            "id": "cbq1", "chat_instance": "1", "data": data,
            "from": {"id": user, "is_bot": false, "first_name": "Anna", "language_code": lang},
        }
    }))
}

async fn dispatch(api: &FakeApi, deps: &BotDeps, update: Update) {
    let result = handler_tree()
        .dispatch(dptree::deps![api.bot.clone(), deps.clone(), me(), update])
        .await;
    match result {
        std::ops::ControlFlow::Break(r) => r.expect("the handler succeeded"),
        std::ops::ControlFlow::Continue(_) => panic!("no handler took the update"),
    }
}

async fn credit(
    store: &SqliteLedgerStore,
    user: UserId,
    tokens: u64,
    cents: u64,
    language: &str,
) -> miniapp::payment::Payment {
    credit_through(store, "sandbox", user, tokens, cents, language).await
}

/// A payment of `provider` (USD, for simplicity), paid and credited.
async fn credit_through(
    store: &SqliteLedgerStore,
    provider: &str,
    user: UserId,
    tokens: u64,
    cents: u64,
    language: &str,
) -> miniapp::payment::Payment {
    let id = miniapp::ids::PaymentId::generate().unwrap();
    store
        .create_payment(NewPayment {
            id: id.clone(),
            user_id: user,
            provider: ProviderId::new(provider).unwrap(),
            method: miniapp::catalog::PaymentMethod::card(),
            tokens: TokenAmount::new(tokens).unwrap(),
            price: Money::usd_cents(cents),
            email: None,
            idempotency_key: None,
            language: Some(language.into()),
        })
        .await
        .unwrap();
    let event = ProviderEvent {
        id: ProviderEventId::new(format!("evt_{id}")).unwrap(),
        payment_id: Some(id.clone()),
        provider_ref: ProviderRef::new(format!("pi_{id}")).unwrap(),
        kind: EventKind::Succeeded {
            amount: Money::usd_cents(cents),
        },
    };
    let r = store
        .apply_event(
            &ProviderId::new(provider).unwrap(),
            &event,
            RefundPolicy::Debt,
        )
        .await
        .unwrap();
    assert_eq!(r.credited, tokens);
    r.payment
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn start_pay_and_balance_commands() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    credit(&store, user, 500, 2500, "ru").await;

    dispatch(&api, &deps, message(user.get(), "ru", "/start")).await;
    dispatch(&api, &deps, message(user.get(), "ru", "/pay")).await;
    dispatch(&api, &deps, message(user.get(), "en", "/balance")).await;
    let sent = api.calls("SendMessage");
    assert_eq!(sent.len(), 3);
    assert!(
        sent[0]["text"]
            .as_str()
            .unwrap()
            .contains("Ваш баланс: 500 токенов"),
        "{}",
        sent[0]
    );
    assert_eq!(
        sent[0]["reply_markup"]["inline_keyboard"][0][0]["web_app"]["url"],
        PAGE
    );
    assert_eq!(
        sent[1]["text"],
        "💵 Пополнение баланса\n\nНажмите кнопку ниже, чтобы открыть страницу оплаты:"
    );
    assert_eq!(
        sent[1]["reply_markup"]["inline_keyboard"][0][0]["text"],
        "💳 Открыть страницу оплаты"
    );
    assert_eq!(
        sent[2]["text"],
        "💰 Your balance: 500 tokens\n\nChoose an action:"
    );
    let keyboard = &sent[2]["reply_markup"]["inline_keyboard"];
    assert_eq!(keyboard[0][0]["web_app"]["url"], PAGE);
    assert_eq!(keyboard[1][0]["callback_data"], "balance_history");
    assert_eq!(keyboard[2][0]["callback_data"], "main_menu");
    assert_eq!(sent[2]["chat_id"], user.get());
}

#[tokio::test]
async fn history_callback_lists_the_last_ten_entries() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    credit(&store, user, 500, 2500, "ru").await;
    for i in 0..12 {
        let key = IdempotencyKey::new(format!("k{i}")).unwrap();
        let request = SpendRequest {
            user_id: user,
            amount: TokenAmount::new(1).unwrap(),
            idempotency_key: key,
            memo: None,
        };
        let r = spend_or_offer_top_up(&api.bot, &deps, ChatId(user.get()), Lang::Ru, &request)
            .await
            .unwrap();
        assert!(matches!(r, SpendOutcome::Spent(_)));
    }
    dispatch(&api, &deps, callback(user.get(), "ru", "balance_history")).await;
    assert_eq!(api.calls("AnswerCallbackQuery").len(), 1);
    let text = api.calls("SendMessage").last().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.starts_with("📊 Последние операции:"), "{text}");
    assert_eq!(
        text.matches("списание").count(),
        10,
        "the last ten entries: {text}"
    );
    assert!(
        !text.contains("пополнение"),
        "the credit is the 13th newest"
    );
}

#[tokio::test]
async fn spend_helper_spends_or_offers_a_top_up() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    credit(&store, user, 100, 500, "ru").await;
    let key = IdempotencyKey::new("gen-1").unwrap();
    let spend = |cost: u64, key: IdempotencyKey| {
        let request = SpendRequest {
            user_id: user,
            amount: TokenAmount::new(cost).unwrap(),
            idempotency_key: key,
            memo: Some("image".into()),
        };
        let (bot, deps) = (api.bot.clone(), deps.clone());
        async move { spend_or_offer_top_up(&bot, &deps, ChatId(user.get()), Lang::Ru, &request).await }
    };
    assert!(matches!(spend(60, key.clone()).await.unwrap(), SpendOutcome::Spent(r) if !r.replayed));
    assert!(
        matches!(spend(60, key).await.unwrap(), SpendOutcome::Spent(r) if r.replayed),
        "same key, no second spend"
    );
    assert!(
        api.calls("SendMessage").is_empty(),
        "spending sends nothing"
    );
    let short = spend(60, IdempotencyKey::new("gen-2").unwrap())
        .await
        .unwrap();
    assert_eq!(short, SpendOutcome::InsufficientFunds { balance: 40 });
    let sent = api.calls("SendMessage");
    assert_eq!(
        sent[0]["text"],
        "❌ Недостаточно средств!\n\nВаш баланс: 40 токенов\nНеобходимо: 60 токенов\n\nПополните баланс, чтобы продолжить:"
    );
    assert_eq!(
        sent[0]["reply_markup"]["inline_keyboard"][0][0]["text"],
        "💳 Пополнить баланс"
    );
    assert_eq!(store.balance(user).await.unwrap().balance, 40);
}

#[tokio::test]
async fn notification_after_a_credit_is_sent_once_even_when_replayed() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let user = fresh_user();
    let p = credit(&store, user, 500, 2500, "ru").await;
    // The same success again (a replayed webhook) enqueues nothing more.
    let replay = ProviderEvent {
        id: ProviderEventId::new(format!("evt_{}_replay", p.id)).unwrap(),
        payment_id: Some(p.id.clone()),
        provider_ref: ProviderRef::new(format!("pi_{}", p.id)).unwrap(),
        kind: EventKind::Succeeded { amount: p.price },
    };
    store
        .apply_event(
            &ProviderId::new("sandbox").unwrap(),
            &replay,
            RefundPolicy::Debt,
        )
        .await
        .unwrap();
    let options = NotifierOptions::default();
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, now() + 3600)
            .await
            .unwrap(),
        0
    );
    let sent = api.calls("SendMessage");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["chat_id"], user.get());
    assert_eq!(
        sent[0]["text"],
        "✅ Платеж успешно выполнен!\n\nЗачислено: 500 токенов\nСумма: $25.00\n\nСпасибо за покупку! 🎉"
    );
}

#[tokio::test]
async fn a_test_payment_says_so_in_its_notification() {
    // One notifier, as the app runs it next to a sandbox card and real Stars: only the sandbox
    // payment's message carries the note.
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let options = NotifierOptions {
        test_providers: vec![ProviderId::new("sandbox").unwrap()],
        ..NotifierOptions::default()
    };
    let tester = fresh_user();
    credit(&store, tester, 100, 500, "en").await;
    let buyer = fresh_user();
    credit_through(&store, "stars", buyer, 100, 500, "en").await;
    deliver_due_notifications(&api.bot, &store, &options, now())
        .await
        .unwrap();
    let sent = api.calls("SendMessage");
    assert_eq!(sent.len(), 2);
    let text_for = |user: UserId| {
        sent.iter()
            .find(|m| m["chat_id"] == user.get())
            .and_then(|m| m["text"].as_str())
            .unwrap()
            .to_owned()
    };
    assert!(
        text_for(tester)
            .starts_with("🧪 Test payment: no real money was charged.\n\n✅ Payment successful!"),
        "{}",
        text_for(tester)
    );
    assert!(
        text_for(buyer).starts_with("✅ Payment successful!"),
        "a real payment has no test note: {}",
        text_for(buyer)
    );
}

/// Two instances of one bot in webhook mode: each calls setWebhook at start-up, and Telegram
/// posts to whichever the load balancer picks. Both must accept the same secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_in_webhook_mode_accept_the_same_updates() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let mut instances = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        // Each instance reads its own configuration, as two processes would.
        let config = miniapp::config::Config::from_lookup(|k| match k {
            "TELEGRAM_BOT_TOKEN" => Some(TOKEN.to_owned()),
            "TELEGRAM_MODE" => Some("webhook".to_owned()),
            "TELEGRAM_API_URL" => Some(api.url.trim_end_matches('/').to_owned()),
            "PUBLIC_BASE_URL" => Some("https://bot.example.com".to_owned()),
            "PAYMENT_METHODS" => Some("stars".to_owned()),
            _ => None,
        })
        .unwrap();
        let app = miniapp::app::build_with_stores(
            &config,
            miniapp::app::Stores::new(store.clone()),
            miniapp::clock::SystemClock::shared(),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = config.clone();
        let task = tokio::spawn(async move {
            miniapp::app::run(&config, &app, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        // Started once its setWebhook call is in (the webhook route is mounted after it).
        let started = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                if let Ok(r) = reqwest::get(format!("{url}/healthz")).await
                    && r.status().is_success()
                {
                    break;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(started.is_ok(), "instance started");
        instances.push((url, task));
        stops.push(stop);
    }
    // Without BOT_USERNAME, each instance learns the page's link back to the bot with getMe.
    for (url, _) in &instances {
        let learned = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                let packages: Value = reqwest::get(format!("{url}/api/miniapp/packages"))
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if packages["bot_url"] == "https://t.me/shop_bot" {
                    break;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(learned.is_ok(), "bot_url learned with getMe");
    }
    let set = api.calls("SetWebhook");
    assert_eq!(set.len(), 2, "each instance registers the webhook");
    assert_eq!(
        set[0], set[1],
        "the same URL and secret: setWebhook is idempotent"
    );
    let secret = set[1]["secret_token"].as_str().unwrap().to_owned();
    // Derived from the token: HMAC-SHA256(key = token, "miniapp telegram webhook secret_token v1").
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(b"miniapp telegram webhook secret_token v1");
    assert_eq!(secret, hex::encode(mac.finalize().into_bytes()));
    let user = fresh_user();
    let sent_signal = api.state.lock().unwrap().sent.clone();
    for (i, (url, _)) in instances.iter().enumerate() {
        let mut update = serde_json::to_value(message(user.get(), "en", "/balance")).unwrap();
        update["update_id"] = json!(100 + i);
        let r = reqwest::Client::new()
            .post(format!("{url}/telegram/webhook"))
            .header("X-Telegram-Bot-Api-Secret-Token", &secret)
            .json(&update)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "instance {i} accepts the update");
        let wrong = reqwest::Client::new()
            .post(format!("{url}/telegram/webhook"))
            .header("X-Telegram-Bot-Api-Secret-Token", "not-the-secret")
            .json(&update)
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.status().as_u16(),
            401,
            "instance {i} refuses a wrong secret"
        );
    }
    // Both updates are handled: the /balance answers arrive (bounded wait for the fake).
    let answered = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while api
            .calls("SendMessage")
            .iter()
            .filter(|m| m["chat_id"] == user.get())
            .count()
            < 2
        {
            sent_signal.notified().await;
        }
    })
    .await;
    assert!(
        answered.is_ok(),
        "both instances answered: {:?}",
        api.calls("SendMessage")
    );
    for stop in stops {
        let _ = stop.send(());
    }
    for (_, task) in instances {
        task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_sender_killed_mid_send_leaves_only_that_message_in_doubt() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let store = Arc::new(store);
    for _ in 0..3 {
        credit(&store, fresh_user(), 100, 500, "en").await;
    }
    let hung = {
        let mut s = api.state.lock().unwrap();
        s.hang_next_send = true;
        s.hung.clone()
    };
    let options = NotifierOptions::default();
    let t = now();
    let sender = tokio::spawn({
        let (bot, store, options) = (api.bot.clone(), store.clone(), options.clone());
        async move { deliver_due_notifications(&bot, &*store, &options, t).await }
    });
    // The first message is in flight: the sender dies (as under SIGKILL).
    hung.notified().await;
    sender.abort();
    assert!(sender.await.unwrap_err().is_cancelled());
    // After the lease, another sender delivers the two messages the dead one never started and
    // does not repeat the one that may have reached Telegram.
    let later = t + options.lease.as_secs() + 1;
    assert_eq!(
        deliver_due_notifications(&api.bot, &*store, &options, later)
            .await
            .unwrap(),
        2
    );
    let chats: std::collections::HashSet<i64> = api
        .calls("SendMessage")
        .iter()
        .map(|c| c["chat_id"].as_i64().unwrap())
        .collect();
    assert_eq!((api.calls("SendMessage").len(), chats.len()), (3, 3));
    assert_eq!(
        deliver_due_notifications(&api.bot, &*store, &options, later + 3600)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn notification_is_retried_after_two_failures() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let user = fresh_user();
    credit(&store, user, 100, 500, "en").await;
    api.fail_next(json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}));
    api.fail_next(json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}));
    let options = NotifierOptions::default();
    let t = now();
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, t)
            .await
            .unwrap(),
        0,
        "first attempt fails"
    );
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, t + 4)
            .await
            .unwrap(),
        0,
        "not due before the backoff"
    );
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, t + 5)
            .await
            .unwrap(),
        0,
        "second attempt: 429"
    );
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, t + 11)
            .await
            .unwrap(),
        0,
        "Telegram asked for 7 s"
    );
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, t + 12)
            .await
            .unwrap(),
        1,
        "third attempt succeeds"
    );
    let sent = api.calls("SendMessage");
    assert_eq!(sent.len(), 3);
    assert!(
        sent[2]["text"]
            .as_str()
            .unwrap()
            .starts_with("✅ Payment successful!")
    );
}

#[tokio::test]
async fn a_blocked_bot_stops_the_retries() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    credit(&store, fresh_user(), 100, 500, "en").await;
    api.fail_next(json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}));
    let options = NotifierOptions::default();
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, now())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &options, now() + 86_400)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        api.calls("SendMessage").len(),
        1,
        "no retry after a permanent error"
    );
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, last_error FROM miniapp_outbox")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(state, "failed");
    assert!(error.contains("blocked"), "{error}");
}

#[tokio::test]
async fn no_notification_is_lost_across_a_restart() {
    let api = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restart.db").display().to_string();
    let user = fresh_user();
    {
        // The credit commits, then the process dies before sending.
        let first = SqliteLedgerStore::connect(&path).await.unwrap();
        first.migrate().await.unwrap();
        credit(&first, user, 200, 1000, "en").await;
        first.pool().close().await;
    }
    let second = SqliteLedgerStore::connect(&path).await.unwrap();
    assert_eq!(
        deliver_due_notifications(&api.bot, &second, &NotifierOptions::default(), now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(api.calls("SendMessage")[0]["chat_id"], user.get());
}

#[tokio::test]
async fn the_menu_button_opens_the_page_when_it_is_https() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let https = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    assert!(set_menu_button(&api.bot, &https).await.unwrap());
    let calls = api.calls("SetChatMenuButton");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["menu_button"]["type"], "web_app");
    assert_eq!(calls[0]["menu_button"]["web_app"]["url"], PAGE);
    let plain = BotDeps::new(
        Arc::new(store),
        Some("http://127.0.0.1:8080/miniapp/".into()),
    );
    assert!(!set_menu_button(&api.bot, &plain).await.unwrap());
    assert_eq!(
        api.calls("SetChatMenuButton").len(),
        1,
        "not set without https"
    );
}

#[tokio::test]
async fn conformance_helpers_are_usable_here() {
    // pending_payment is the conformance suite's helper; the bot's ledger passes the suite
    // elsewhere, this only keeps the import honest.
    let (store, _dir) = store().await;
    let p = pending_payment(&store, fresh_user(), 100, Money::usd_cents(500)).await;
    assert_eq!(p.status, miniapp::payment::PaymentStatus::Pending);
}

// ---- Telegram Stars ---------------------------------------------------------------------------

use miniapp::payment::PaymentStatus;
use miniapp::provider::{CheckoutRequest, PaymentProvider};
use miniapp::stars::{TelegramStarsProvider, refund_stars};

/// A pending Stars payment of 500 tokens for 1250 XTR, with its invoice link.
async fn stars_payment(
    api: &FakeApi,
    store: &SqliteLedgerStore,
    user: UserId,
) -> miniapp::payment::Payment {
    let stars = TelegramStarsProvider::new(api.bot.clone(), None);
    let id = miniapp::ids::PaymentId::generate().unwrap();
    let payment = store
        .create_payment(NewPayment {
            id: id.clone(),
            user_id: user,
            provider: ProviderId::new("stars").unwrap(),
            method: miniapp::catalog::PaymentMethod::stars(),
            tokens: TokenAmount::new(500).unwrap(),
            price: Money::new(1250, miniapp::money::Currency::XTR),
            email: None,
            idempotency_key: None,
            language: Some("ru".into()),
        })
        .await
        .unwrap();
    let checkout = stars
        .create_checkout(&CheckoutRequest {
            payment_id: id.clone(),
            user_id: user,
            tokens: payment.tokens,
            price: payment.price,
            email: None,
            language: Some("ru".into()),
            created_at: payment.created_at,
            attempt: payment.checkout_attempt,
        })
        .await
        .unwrap();
    store
        .attach_checkout(
            &id,
            &miniapp::ledger::CheckoutRecord {
                checkout_ref: checkout.checkout_ref,
                url: checkout.url,
            },
        )
        .await
        .unwrap()
}

fn pre_checkout(user: i64, payload: &str, currency: &str, amount: u32) -> Update {
    update(json!({
        "update_id": 3,
        "pre_checkout_query": {
            "id": "pcq1", "currency": currency, "total_amount": amount, "invoice_payload": payload,
            "from": {"id": user, "is_bot": false, "first_name": "Anna", "language_code": "ru"},
        }
    }))
}

fn successful_payment(user: i64, payload: &str, amount: u32, charge: &str) -> Update {
    update(json!({
        "update_id": 4,
        "message": {
            "message_id": 11, "date": 1_795_000_000,
            "chat": {"id": user, "type": "private", "first_name": "Anna"},
            "from": {"id": user, "is_bot": false, "first_name": "Anna", "language_code": "ru"},
            "successful_payment": {
                "currency": "XTR", "total_amount": amount, "invoice_payload": payload,
                "telegram_payment_charge_id": charge, "provider_payment_charge_id": "",
            },
        }
    }))
}

#[tokio::test]
async fn stars_invoice_link_has_the_exact_parameters() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let user = fresh_user();
    let p = stars_payment(&api, &store, user).await;
    let calls = api.calls("CreateInvoiceLink");
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c["currency"], "XTR");
    assert_eq!(c["provider_token"], "");
    assert_eq!(c["payload"], p.id.as_str());
    assert_eq!(
        c["prices"],
        json!([{"label": "500 токенов", "amount": 1250}])
    );
    assert_eq!(c["title"], "500 токенов");
    assert!(p.checkout_url.unwrap().starts_with("https://t.me/$invoice"));
}

#[tokio::test]
async fn stars_pre_checkout_accepts_only_the_exact_pending_order() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let (user, other) = (fresh_user(), fresh_user());
    let p = stars_payment(&api, &store, user).await;
    let id = p.id.as_str();
    let cases = [
        (pre_checkout(user.get(), id, "XTR", 1250), true, ""),
        (
            pre_checkout(user.get(), id, "XTR", 1),
            false,
            "Сумма заказа изменилась",
        ),
        (
            pre_checkout(user.get(), id, "USD", 1250),
            false,
            "Сумма заказа изменилась",
        ),
        (
            pre_checkout(user.get(), "pay_unknown", "XTR", 1250),
            false,
            "Заказ не найден",
        ),
        (
            pre_checkout(user.get(), "../../etc", "XTR", 1250),
            false,
            "Заказ не найден",
        ),
        (
            pre_checkout(other.get(), id, "XTR", 1250),
            false,
            "Заказ не найден",
        ),
    ];
    for (update, ok, message) in cases {
        dispatch(&api, &deps, update).await;
        let answer = api.calls("AnswerPreCheckoutQuery").pop().unwrap();
        assert_eq!(answer["ok"], ok, "{answer}");
        if !ok {
            assert!(
                answer["error_message"].as_str().unwrap().contains(message),
                "{answer}"
            );
        }
    }
    dispatch(
        &api,
        &deps,
        successful_payment(user.get(), id, 1250, "charge_1"),
    )
    .await;
    dispatch(&api, &deps, pre_checkout(user.get(), id, "XTR", 1250)).await;
    let answer = api.calls("AnswerPreCheckoutQuery").pop().unwrap();
    assert_eq!(
        (answer["ok"].as_bool(), answer["error_message"].as_str()),
        (Some(false), Some("Этот заказ уже оплачен."))
    );
}

/// The author's own commands, for the composition test.
#[derive(teloxide::macros::BotCommands, Clone, Debug)]
#[command(rename_rule = "lowercase")]
enum ShopCommand {
    /// The author's own command.
    Help,
    /// One of ours, used on its own.
    Balance,
}

/// A bot author's dispatcher: our payment updates first, their own commands (with our `/balance`
/// picked singly), and a catch-all message handler of theirs that answers everything else.
/// `successful_payment` must still be credited, and the catch-all still gets ordinary messages.
#[tokio::test]
async fn payments_are_credited_in_a_dispatcher_with_the_authors_own_catch_all() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    let p = stars_payment(&api, &store, user).await;
    let caught = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tree = dptree::entry()
        .branch(miniapp::bot::payment_handler())
        .branch(
            Update::filter_message()
                .filter_command::<ShopCommand>()
                .endpoint(
                    |bot: Bot, msg: Message, cmd: ShopCommand, deps: BotDeps| async move {
                        match cmd {
                            ShopCommand::Help => {
                                bot.send_message(msg.chat.id, "the author's help").await?;
                                Ok(())
                            }
                            ShopCommand::Balance => miniapp::bot::balance(bot, msg, deps).await,
                        }
                    },
                ),
        )
        .branch(Update::filter_message().endpoint({
            let caught = caught.clone();
            move |bot: Bot, msg: Message| {
                let caught = caught.clone();
                async move {
                    caught.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    bot.send_message(msg.chat.id, "the author's catch-all")
                        .await?;
                    Ok::<(), miniapp::bot::BotError>(())
                }
            }
        }));
    let run =
        |update: Update| tree.dispatch(dptree::deps![api.bot.clone(), deps.clone(), me(), update]);
    let outcome = run(successful_payment(
        user.get(),
        p.id.as_str(),
        1250,
        "charge_author",
    ))
    .await;
    assert!(matches!(outcome, std::ops::ControlFlow::Break(Ok(()))));
    assert_eq!(store.balance(user).await.unwrap().balance, 500, "credited");
    assert_eq!(
        caught.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the catch-all never saw the payment"
    );
    for text in ["hello", "/help", "/balance"] {
        let outcome = run(message(user.get(), "en", text)).await;
        assert!(
            matches!(outcome, std::ops::ControlFlow::Break(Ok(()))),
            "{text}"
        );
    }
    assert_eq!(
        caught.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "only 'hello'"
    );
    let texts: Vec<String> = api
        .calls("SendMessage")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts[0], "the author's catch-all");
    assert_eq!(texts[1], "the author's help");
    assert!(
        texts[2].contains("500"),
        "our /balance, used on its own: {}",
        texts[2]
    );
}

#[tokio::test]
async fn stars_successful_payment_credits_once_and_notifies() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    let p = stars_payment(&api, &store, user).await;
    for _ in 0..3 {
        dispatch(
            &api,
            &deps,
            successful_payment(user.get(), p.id.as_str(), 1250, "charge_42"),
        )
        .await;
    }
    assert_eq!(
        store.balance(user).await.unwrap().balance,
        500,
        "the replayed update is a no-op"
    );
    let paid = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(
        (paid.status, paid.payment_ref.as_ref().map(|r| r.as_str())),
        (PaymentStatus::Succeeded, Some("charge_42"))
    );
    assert_eq!(
        deliver_due_notifications(&api.bot, &store, &NotifierOptions::default(), now())
            .await
            .unwrap(),
        1
    );
    let text = api.calls("SendMessage")[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("Зачислено: 500 токенов") && text.contains("⭐ 1250"),
        "{text}"
    );
}

#[tokio::test]
async fn two_stars_charges_for_one_payment_credit_once_and_the_second_is_recorded_and_refunded_once()
 {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    let p = stars_payment(&api, &store, user).await;
    // Two devices answered the same invoice: Telegram charged twice.
    for charge in ["charge_phone", "charge_desktop", "charge_desktop"] {
        dispatch(
            &api,
            &deps,
            successful_payment(user.get(), p.id.as_str(), 1250, charge),
        )
        .await;
    }
    assert_eq!(
        store.balance(user).await.unwrap().balance,
        500,
        "credited once"
    );
    let paid = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(
        paid.payment_ref.as_ref().map(|r| r.as_str()),
        Some("charge_phone")
    );
    let recorded: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT provider_ref, no_effect FROM miniapp_provider_events WHERE payment_id = $1 \
         ORDER BY provider_ref",
    )
    .bind(p.id.as_str())
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        recorded,
        vec![
            (
                "charge_desktop".to_owned(),
                Some("duplicate_charge".to_owned())
            ),
            ("charge_phone".to_owned(), None),
        ],
        "the second charge is its own durable fact, recorded once"
    );
    // The refund worker gives the extra charge back, once, however often it runs.
    let stars: Arc<dyn miniapp::provider::PaymentProvider> = Arc::new(
        miniapp::stars::TelegramStarsProvider::new(api.bot.clone(), None),
    );
    let reconciler = miniapp::reconcile::Reconciler::new(Arc::new(store.clone()), vec![stars]);
    let notice = miniapp::bot::RefundMessages::new(api.bot.clone());
    let pass =
        miniapp::reconcile::refund_duplicate_charges(&reconciler, &store, Some(&notice), now())
            .await
            .unwrap();
    assert_eq!(pass.refunded, 1, "{pass:?}");
    for later in [now(), now() + 3_600] {
        let again =
            miniapp::reconcile::refund_duplicate_charges(&reconciler, &store, Some(&notice), later)
                .await
                .unwrap();
        assert_eq!(again, miniapp::reconcile::RefundPass::default());
    }
    let calls = api.calls("RefundStarPayment");
    assert_eq!(calls.len(), 1, "one refund call: {calls:?}");
    assert_eq!(
        (
            calls[0]["user_id"].as_i64(),
            calls[0]["telegram_payment_charge_id"].as_str()
        ),
        (Some(user.get()), Some("charge_desktop")),
        "the extra charge, never the credited one"
    );
    assert_eq!(
        store.balance(user).await.unwrap().balance,
        500,
        "refunding the extra charge takes no tokens back"
    );
    let paid = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    let told: Vec<String> = api
        .calls("SendMessage")
        .iter()
        .filter(|c| c["chat_id"].as_i64() == Some(user.get()))
        .map(|c| c["text"].as_str().unwrap_or_default().to_owned())
        .filter(|t| t.contains("⭐ 1250") && t.contains("дважды"))
        .collect();
    assert_eq!(
        told.len(),
        1,
        "the payer is told once, in their language: {told:?}"
    );
}

#[tokio::test]
async fn stars_refund_before_and_after_spending() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    let first = stars_payment(&api, &store, user).await;
    dispatch(
        &api,
        &deps,
        successful_payment(user.get(), first.id.as_str(), 1250, "charge_a"),
    )
    .await;
    let r = refund_stars(&api.bot, &store, &first.id, RefundPolicy::Debt)
        .await
        .unwrap();
    assert_eq!(
        (r.payment.status, r.clawed_back),
        (PaymentStatus::Refunded, 500)
    );
    let call = api.calls("RefundStarPayment").pop().unwrap();
    assert_eq!(
        (
            call["user_id"].as_i64(),
            call["telegram_payment_charge_id"].as_str()
        ),
        (Some(user.get()), Some("charge_a"))
    );
    assert!(
        refund_stars(&api.bot, &store, &first.id, RefundPolicy::Debt)
            .await
            .is_err(),
        "a refunded payment is not refunded again"
    );
    assert_eq!(api.calls("RefundStarPayment").len(), 1);

    let second = stars_payment(&api, &store, user).await;
    dispatch(
        &api,
        &deps,
        successful_payment(user.get(), second.id.as_str(), 1250, "charge_b"),
    )
    .await;
    let request = SpendRequest {
        user_id: user,
        amount: TokenAmount::new(300).unwrap(),
        idempotency_key: IdempotencyKey::new("job").unwrap(),
        memo: None,
    };
    store.spend(&request).await.unwrap();
    let r = refund_stars(&api.bot, &store, &second.id, RefundPolicy::Debt)
        .await
        .unwrap();
    assert_eq!(r.clawed_back, 500);
    assert_eq!(
        store.balance(user).await.unwrap().balance,
        -300,
        "the spent tokens become a debt"
    );
}

#[tokio::test]
async fn stars_reconciliation_finds_a_missed_payment() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let user = fresh_user();
    let p = stars_payment(&api, &store, user).await;
    let stars = TelegramStarsProvider::new(api.bot.clone(), None);
    assert!(
        stars.fetch_status(&p).await.unwrap().is_empty(),
        "nothing paid yet"
    );
    api.state.lock().unwrap().star_transactions = vec![json!({
        "id": "charge_missed", "amount": 1250, "date": 1_795_000_000,
        "source": {"type": "user", "transaction_type": "invoice_payment", "invoice_payload": p.id.as_str(),
                   "user": {"id": user.get(), "is_bot": false, "first_name": "Anna"}},
    })];
    let events = stars.fetch_status(&p).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let stars_id = ProviderId::new("stars").unwrap();
    for e in &events {
        store
            .apply_event(&stars_id, e, RefundPolicy::Debt)
            .await
            .unwrap();
    }
    assert_eq!(store.balance(user).await.unwrap().balance, 500);
}

mod stars_conformance {
    use async_trait::async_trait;
    use miniapp::conformance::{self, ProviderHarness, Scenario};
    use miniapp::ledger::InMemoryLedger;
    use miniapp::money::Currency;
    use miniapp::provider::{Checkout, CheckoutRequest, PaymentProvider, WebhookRequest};

    use super::*;

    const SECRET: &str = "webhook-secret-token";

    struct Harness {
        provider: TelegramStarsProvider,
        _api: FakeApi,
    }

    #[async_trait]
    impl ProviderHarness for Harness {
        fn provider(&self) -> &dyn PaymentProvider {
            &self.provider
        }

        fn currency(&self) -> Currency {
            Currency::XTR
        }

        async fn webhook(
            &self,
            r: &CheckoutRequest,
            _c: &Checkout,
            _scenario: Scenario,
        ) -> WebhookRequest {
            // Stars have one proof, successful_payment; other scenarios are not webhooks here.
            let body = json!({
                "update_id": 9,
                "message": {
                    "message_id": 1, "date": 1_795_000_000,
                    "chat": {"id": r.user_id.get(), "type": "private", "first_name": "A"},
                    "from": {"id": r.user_id.get(), "is_bot": false, "first_name": "A"},
                    "successful_payment": {"currency": "XTR", "total_amount": r.price.minor_units(),
                        "invoice_payload": r.payment_id.as_str(), "telegram_payment_charge_id": format!("ch_{}", r.payment_id),
                        "provider_payment_charge_id": ""},
                }
            });
            WebhookRequest {
                headers: vec![("X-Telegram-Bot-Api-Secret-Token".into(), SECRET.into())],
                body: serde_json::to_vec(&body).unwrap(),
            }
        }

        fn forge(&self, genuine: &WebhookRequest) -> WebhookRequest {
            WebhookRequest {
                headers: vec![("X-Telegram-Bot-Api-Secret-Token".into(), "guess".into())],
                body: genuine.body.clone(),
            }
        }
    }

    async fn harness() -> Harness {
        let api = FakeApi::start().await;
        Harness {
            provider: TelegramStarsProvider::new(api.bot.clone(), Some(SECRET.into())),
            _api: api,
        }
    }

    #[tokio::test]
    async fn checkout_creation_is_idempotent() {
        conformance::checkout_creation_is_idempotent(&harness().await).await;
    }

    #[tokio::test]
    async fn paid_webhook_maps_to_succeeded() {
        conformance::paid_webhook_maps_to_succeeded(&harness().await).await;
    }

    #[tokio::test]
    async fn forged_webhook_is_rejected() {
        conformance::forged_webhook_is_rejected(&harness().await).await;
    }

    #[tokio::test]
    async fn garbage_webhooks_are_rejected() {
        conformance::garbage_webhooks_are_rejected(&harness().await).await;
    }

    #[tokio::test]
    async fn webhook_pipeline_credits_once_up_to_the_refund() {
        // The pipeline's refund step needs a refund webhook, which Stars do not have (refunds are
        // made by the bot, see stars_refund_before_and_after_spending); the credit part is checked
        // with the paid webhook delivered three times.
        let h = harness().await;
        let store = InMemoryLedger::new();
        let r = conformance::checkout_request(miniapp::money::Money::new(1250, Currency::XTR));
        store
            .create_payment(NewPayment {
                id: r.payment_id.clone(),
                user_id: r.user_id,
                provider: h.provider.id().clone(),
                method: miniapp::catalog::PaymentMethod::stars(),
                tokens: r.tokens,
                price: r.price,
                email: None,
                idempotency_key: None,
                language: None,
            })
            .await
            .unwrap();
        let c = h.provider.create_checkout(&r).await.unwrap();
        let webhook = h.webhook(&r, &c, Scenario::Paid).await;
        let mut credited = 0;
        for _ in 0..3 {
            for e in h
                .provider
                .parse_webhook(&webhook, std::time::SystemTime::now())
                .await
                .unwrap()
            {
                credited += store
                    .apply_event(h.provider.id(), &e, RefundPolicy::Debt)
                    .await
                    .unwrap()
                    .credited;
            }
        }
        assert_eq!(credited, 500);
    }
}

#[tokio::test]
async fn stars_refund_recorded_later_when_telegram_already_refunded() {
    // Telegram refunded, but recording it failed; the owner runs /refund again and Telegram answers
    // CHARGE_ALREADY_REFUNDED: the refund must still be recorded and the tokens taken back.
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    let p = stars_payment(&api, &store, user).await;
    dispatch(
        &api,
        &deps,
        successful_payment(user.get(), p.id.as_str(), 1250, "charge_r"),
    )
    .await;
    api.fail_next(json!({"ok": false, "error_code": 400, "description": "Bad Request: CHARGE_ALREADY_REFUNDED"}));
    let r = refund_stars(&api.bot, &store, &p.id, RefundPolicy::Debt)
        .await
        .unwrap();
    assert_eq!(
        (r.payment.status, r.clawed_back),
        (PaymentStatus::Refunded, 500)
    );
    let other = stars_payment(&api, &store, user).await;
    dispatch(
        &api,
        &deps,
        successful_payment(user.get(), other.id.as_str(), 1250, "charge_s"),
    )
    .await;
    api.fail_next(
        json!({"ok": false, "error_code": 400, "description": "Bad Request: CHARGE_NOT_FOUND"}),
    );
    assert!(
        refund_stars(&api.bot, &store, &other.id, RefundPolicy::Debt)
            .await
            .is_err(),
        "other errors are refusals"
    );
    assert_eq!(
        store.payment(&other.id).await.unwrap().unwrap().status,
        PaymentStatus::Succeeded
    );
}

/// The owner's `/payment pay_…` shows what `full_bot admin payment` shows: here a Stars payment
/// charged twice, with both charges and the queued refund. Anyone else gets no answer.
#[tokio::test]
async fn the_owners_payment_command_shows_the_payment_its_events_and_refunds() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let owner = fresh_user();
    let admin: Arc<dyn miniapp::ledger::LedgerAdmin> = Arc::new(store.clone());
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()))
        .with_owners(vec![owner.get()])
        .with_admin(Some(admin));
    let user = fresh_user();
    let p = stars_payment(&api, &store, user).await;
    for charge in ["charge_phone", "charge_desktop"] {
        dispatch(
            &api,
            &deps,
            successful_payment(user.get(), p.id.as_str(), 1250, charge),
        )
        .await;
    }
    let before = api.calls("SendMessage").len();
    let command = format!("/payment {}", p.id);
    dispatch(&api, &deps, message(user.get(), "en", &command)).await;
    assert_eq!(
        api.calls("SendMessage").len(),
        before,
        "not an owner: no answer"
    );
    dispatch(&api, &deps, message(owner.get(), "en", &command)).await;
    dispatch(
        &api,
        &deps,
        message(owner.get(), "en", "/payment pay_missing"),
    )
    .await;
    dispatch(&api, &deps, message(owner.get(), "en", "/payment")).await;
    let sent = api.calls("SendMessage");
    let replies: Vec<&str> = sent[before..]
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(replies.len(), 3, "{replies:?}");
    for needle in [
        p.id.as_str(),
        "succeeded",
        "charge charge_phone",
        "charge_desktop — no effect: duplicate_charge",
        "credit +500",
        "pending charge charge_desktop",
    ] {
        assert!(replies[0].contains(needle), "{needle:?} in\n{}", replies[0]);
    }
    assert_eq!(replies[1], "no payment pay_missing");
    assert_eq!(replies[2], "usage: /payment pay_…");
}

/// A Stars refund made outside the bot (no update reaches us) is found in `getStarTransactions`
/// by the history catch-up, applied once (the tokens are taken back once however often it
/// runs), and the catch-up reads only back to where it stopped.
#[tokio::test]
async fn a_stars_refund_nobody_told_us_about_is_caught_up_from_the_transactions() {
    let api = FakeApi::start().await;
    let (store, _dir) = store().await;
    let deps = BotDeps::new(Arc::new(store.clone()), Some(PAGE.into()));
    let user = fresh_user();
    let p = stars_payment(&api, &store, user).await;
    dispatch(
        &api,
        &deps,
        successful_payment(user.get(), p.id.as_str(), 1250, "charge_paid"),
    )
    .await;
    assert_eq!(store.balance(user).await.unwrap().balance, 500);
    let partner = json!({"type": "user", "transaction_type": "invoice_payment",
        "invoice_payload": p.id.as_str(), "user": {"id": user.get(), "is_bot": false, "first_name": "Anna"}});
    let paid =
        json!({"id": "charge_paid", "amount": 1250, "date": 1_795_000_000, "source": partner});
    let other_bot_payment = json!({"id": "charge_other", "amount": 7, "date": 1_795_000_100,
        "source": {"type": "user", "transaction_type": "invoice_payment", "invoice_payload": "not-ours",
                   "user": {"id": 5, "is_bot": false, "first_name": "B"}}});
    api.state.lock().unwrap().star_transactions = vec![other_bot_payment.clone(), paid.clone()];
    let stars: Arc<dyn miniapp::provider::PaymentProvider> = Arc::new(
        miniapp::stars::TelegramStarsProvider::new(api.bot.clone(), None),
    );
    let reconciler = miniapp::reconcile::Reconciler::new(Arc::new(store.clone()), vec![stars]);
    let first = miniapp::reconcile::catch_up_history(&reconciler)
        .await
        .unwrap();
    assert_eq!(
        (first.events, first.applied),
        (0, 0),
        "the first catch-up starts from now"
    );
    let stars_id = ProviderId::new("stars").unwrap();
    assert_eq!(
        store.provider_cursor(&stars_id).await.unwrap().as_deref(),
        Some("1795000100")
    );
    // The refund, and 150 later transactions of other buyers, newest first.
    let refund =
        json!({"id": "charge_paid", "amount": 1250, "date": 1_795_000_200, "receiver": partner});
    let mut txs: Vec<Value> = (0..150)
        .map(|i| json!({"id": format!("charge_x{i}"), "amount": 1, "date": 1_795_000_300 + i,
            "source": {"type": "user", "transaction_type": "invoice_payment", "invoice_payload": "not-ours",
                       "user": {"id": 6, "is_bot": false, "first_name": "C"}}}))
        .rev()
        .collect();
    txs.extend([refund, other_bot_payment, paid]);
    api.state.lock().unwrap().star_transactions = txs;
    let calls_before = api.calls("GetStarTransactions").len();
    let caught = miniapp::reconcile::catch_up_history(&reconciler)
        .await
        .unwrap();
    assert_eq!(caught.applied, 1, "{caught:?}");
    assert_eq!(
        api.calls("GetStarTransactions").len() - calls_before,
        2,
        "two pages reach back to the cursor"
    );
    let refunded = store.payment(&p.id).await.unwrap().unwrap();
    assert_eq!(refunded.status, miniapp::payment::PaymentStatus::Refunded);
    assert_eq!(store.balance(user).await.unwrap().balance, 0);
    for _ in 0..2 {
        let again = miniapp::reconcile::catch_up_history(&reconciler)
            .await
            .unwrap();
        assert_eq!(again.applied, 0);
    }
    assert_eq!(
        store.balance(user).await.unwrap().balance,
        0,
        "taken back once"
    );
    assert_eq!(
        store.provider_cursor(&stars_id).await.unwrap().as_deref(),
        Some("1795000449")
    );

    // A busy stretch: 700 transactions arrive after a second payment's refund. One call reads 5
    // pages and stops short of the cursor; the next resumes where it stopped, and the refund
    // under them is still found.
    let p2 = stars_payment(&api, &store, user).await;
    dispatch(
        &api,
        &deps,
        successful_payment(user.get(), p2.id.as_str(), 1250, "charge_second"),
    )
    .await;
    assert_eq!(store.balance(user).await.unwrap().balance, 500);
    let partner2 = json!({"type": "user", "transaction_type": "invoice_payment",
        "invoice_payload": p2.id.as_str(), "user": {"id": user.get(), "is_bot": false, "first_name": "Anna"}});
    let refund2 =
        json!({"id": "charge_second", "amount": 1250, "date": 1_795_001_000, "receiver": partner2});
    let mut busy: Vec<Value> = (0..700)
        .map(|i| json!({"id": format!("charge_y{i}"), "amount": 1, "date": 1_795_002_000 + i,
            "source": {"type": "user", "transaction_type": "invoice_payment", "invoice_payload": "not-ours",
                       "user": {"id": 7, "is_bot": false, "first_name": "D"}}}))
        .rev()
        .collect();
    busy.push(refund2);
    busy.append(&mut api.state.lock().unwrap().star_transactions);
    api.state.lock().unwrap().star_transactions = busy;
    let caught = miniapp::reconcile::catch_up_history(&reconciler)
        .await
        .unwrap();
    assert_eq!(caught.applied, 1, "{caught:?}");
    assert_eq!(store.balance(user).await.unwrap().balance, 0);
    assert_eq!(
        store.provider_cursor(&stars_id).await.unwrap().as_deref(),
        Some("1795002699"),
        "the cursor moves to the newest only once the scan reached the old one"
    );
}
