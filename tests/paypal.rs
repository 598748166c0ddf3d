//! `PAYMENT_METHODS=paypal` end to end, in-process: the app as `full_bot` builds it from its
//! configuration, against the fake PayPal of `miniapp-paypal`'s tests (PayPal's documented
//! shapes, checked against the official SDK's recorded requests there).
#![cfg(all(feature = "paypal", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

#[path = "../miniapp-paypal/tests/support/fake.rs"]
mod fake;

use fake::Fake;
use miniapp::config::Config;
use miniapp::init_data::sign;
use serde_json::{Value, json};

struct Running {
    base: String,
    state: miniapp::http::AppState,
    http: reqwest::Client,
    token: miniapp::init_data::BotToken,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    fn auth(&self, user: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let user = json!({"id": user, "first_name": "Buyer", "language_code": "en"}).to_string();
        format!(
            "tma {}",
            sign(
                &[("user", &user), ("auth_date", &now.to_string())],
                &self.token
            )
        )
    }

    /// `create-payment` of `credits` tokens at `amount` USD with PayPal.
    async fn buy(&self, user: i64, credits: u64, amount: &str) -> Value {
        self.http
            .post(format!("{}/api/miniapp/create-payment", self.base))
            .header("authorization", self.auth(user))
            .json(&json!({"credits": credits, "amount": amount, "currency": "USD", "payment_method": "paypal"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The payment's status and the buyer's balance, as the page reads them.
    async fn assert_status(&self, id: &str, user: i64, status: &str, balance: i64) {
        let reply = self
            .get(&format!("/api/miniapp/payment-status/{id}"), user)
            .await;
        assert_eq!(
            (reply["status"].as_str(), reply["balance"].as_i64()),
            (Some(status), Some(balance)),
            "{reply}"
        );
    }

    /// The buyer of the last order created comes back from PayPal: to the return URL the order
    /// was given, with PayPal's own `token` and `PayerID`, as PayPal sends them. The status.
    async fn come_back(&self, fake: &Fake, order: &str) -> u16 {
        let sent = fake.requests("/v2/checkout/orders").pop().unwrap().json();
        let return_url = sent["payment_source"]["paypal"]["experience_context"]["return_url"]
            .as_str()
            .unwrap()
            .replace("https://bot.example", &self.base);
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{return_url}&token={order}&PayerID=QYR5Z8XDVJNXQ"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn get(&self, path: &str, user: i64) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .header("authorization", self.auth(user))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The payment id and PayPal order id of a `create-payment` answer (the order is the approval
/// link's `token`).
fn ids_of(created: &Value) -> (String, String) {
    let url = created["payment_url"].as_str().unwrap();
    let order = url.rsplit('=').next().unwrap().to_owned();
    (created["payment_id"].as_str().unwrap().to_owned(), order)
}

async fn start(fake: &Fake) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("paypal.db").display());
    let pairs: Vec<(&str, String)> = vec![
        ("DATABASE_URL", db),
        ("PAYMENT_METHODS", "paypal".into()),
        ("PAYPAL_CLIENT_ID", fake::CLIENT_ID.into()),
        ("PAYPAL_CLIENT_SECRET", fake::CLIENT_SECRET.into()),
        ("PAYPAL_WEBHOOK_ID", fake::WEBHOOK_ID.into()),
        ("PAYPAL_API_BASE", fake.base.clone()),
        ("PUBLIC_BASE_URL", "https://bot.example".into()),
        ("MINIAPP_SANDBOX", "off".into()),
    ];
    let config =
        Config::from_lookup(move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .unwrap();
    let app = miniapp::app::build(&config).await.unwrap();
    let token = app
        .dev_token
        .clone()
        .expect("development mode signs with a local token");
    let state = app.state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        miniapp::app::run(&config, &app, listener, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Running {
        base,
        state,
        http: reqwest::Client::new(),
        token,
        _dir: dir,
        _stop: stop,
    }
}

#[tokio::test]
async fn a_paypal_payment_is_captured_on_approval_and_credited_once() {
    let fake = Fake::start().await;
    let app = start(&fake).await;
    let user = 777_000_001;

    let packages: Value = app
        .http
        .get(format!("{}/api/miniapp/packages", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let methods = packages["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 1, "{packages}");
    assert_eq!(
        (methods[0]["id"].as_str(), methods[0]["opens"].as_str()),
        (Some("paypal"), Some("link"))
    );

    let created = app.buy(user, 500, "25.00").await;
    let url = created["payment_url"].as_str().unwrap();
    assert!(
        url.starts_with("https://www.sandbox.paypal.com/checkoutnow?token="),
        "{created}"
    );
    let (id, order) = ids_of(&created);

    // The buyer approves; PayPal tells us; we capture and credit, once however often told.
    fake.approve(&order);
    let approved = fake.webhook(
        "CHECKOUT.ORDER.APPROVED",
        "checkout-order",
        fake.order_json(&order),
    );
    let deliver = |w: &miniapp::provider::WebhookRequest| {
        let mut r = app
            .http
            .post(format!("{}/api/miniapp/webhooks/paypal", app.base));
        for (k, v) in &w.headers {
            r = r.header(k, v);
        }
        r.body(w.body.clone()).send()
    };
    for _ in 0..2 {
        assert_eq!(deliver(&approved).await.unwrap().status(), 200);
    }
    let completed = fake.webhook(
        "PAYMENT.CAPTURE.COMPLETED",
        "capture",
        fake.capture_json(&order),
    );
    assert_eq!(deliver(&completed).await.unwrap().status(), 200);
    app.assert_status(&id, user, "succeeded", 500).await;
    assert_eq!(
        fake.capture_requests().len(),
        1,
        "told twice, captured once: the second approval reads the captured order"
    );
    assert!(fake.order(&order).capture.is_some());

    // A forged webhook is refused and moves nothing.
    let mut forged = completed.clone();
    forged.body = String::from_utf8(forged.body)
        .unwrap()
        .replace("25.00", "0.01")
        .into_bytes();
    assert_eq!(deliver(&forged).await.unwrap().status(), 400);

    // The refund comes back from PayPal: the tokens go with it.
    let refund = fake.refund_now(&order, "25.00");
    let refunded = fake.webhook("PAYMENT.CAPTURE.REFUNDED", "refund", refund);
    assert_eq!(deliver(&refunded).await.unwrap().status(), 200);
    app.assert_status(&id, user, "refunded", 0).await;
}

/// The buyer's return captures at once, before any webhook and before the reconciliation age.
#[tokio::test]
async fn the_buyers_return_captures_the_approved_order() {
    let fake = Fake::start().await;
    let app = start(&fake).await;
    let user = 777_000_002;
    let created = app.buy(user, 100, "5.00").await;
    let (id, order) = ids_of(&created);
    fake.approve(&order);
    // Where PayPal sends the buyer: our return URL plus its own `token` and `PayerID`.
    assert_eq!(app.come_back(&fake, &order).await, 303);
    app.assert_status(&id, user, "succeeded", 100).await;
}

/// PayPal refunds a payment and every delivery of its webhook is lost: the history catch-up
/// finds the refund in PayPal's event list and takes the tokens back, once however often it runs.
#[tokio::test]
async fn a_refund_whose_webhooks_were_all_lost_is_caught_up_from_paypals_event_list() {
    let fake = Fake::start().await;
    let app = start(&fake).await;
    let user = 777_000_003;
    let created = app.buy(user, 500, "25.00").await;
    let (id, order) = ids_of(&created);
    fake.approve(&order);
    // The buyer comes back: captured and credited.
    let back = app.come_back(&fake, &order).await;
    assert!((200..400).contains(&back), "{back}");
    app.assert_status(&id, user, "succeeded", 500).await;

    let reconciler = app.state.reconciler().clone();
    let first = miniapp::reconcile::catch_up_history(&reconciler)
        .await
        .unwrap();
    assert_eq!(
        (first.events, first.applied),
        (0, 0),
        "the first catch-up starts from now"
    );
    let paypal = miniapp::ids::ProviderId::new("paypal").unwrap();
    let ledger = app.state.ledger();
    assert!(ledger.provider_cursor(&paypal).await.unwrap().is_some());
    // As if that first catch-up had run twenty minutes ago, and PayPal refunded ten minutes
    // ago: its webhook never arrived.
    let now = time::OffsetDateTime::now_utc();
    let earlier = (now - std::time::Duration::from_secs(20 * 60))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    ledger
        .save_provider_cursor(&paypal, &earlier)
        .await
        .unwrap();
    let refund = fake.refund_now(&order, "25.00");
    fake.webhook_at(
        now - std::time::Duration::from_secs(10 * 60),
        "PAYMENT.CAPTURE.REFUNDED",
        "refund",
        refund,
    );
    let caught = miniapp::reconcile::catch_up_history(&reconciler)
        .await
        .unwrap();
    assert_eq!(caught.applied, 1, "{caught:?}");
    app.assert_status(&id, user, "refunded", 0).await;
    // The same stretch read again (a crash before the cursor was saved): the refund is read
    // and is a repeat.
    for _ in 0..2 {
        ledger
            .save_provider_cursor(&paypal, &earlier)
            .await
            .unwrap();
        let again = miniapp::reconcile::catch_up_history(&reconciler)
            .await
            .unwrap();
        assert_eq!((again.events, again.applied), (1, 0), "{again:?}");
    }
    let after = miniapp::reconcile::catch_up_history(&reconciler)
        .await
        .unwrap();
    assert_eq!(after.events, 0, "read on from where it stopped: {after:?}");
    app.assert_status(&id, user, "refunded", 0).await;
}
