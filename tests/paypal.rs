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
    let order = url.rsplit('=').next().unwrap().to_owned();
    let id = created["payment_id"].as_str().unwrap().to_owned();

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
    let order = created["payment_url"]
        .as_str()
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap()
        .to_owned();
    let id = created["payment_id"].as_str().unwrap().to_owned();
    fake.approve(&order);
    // Where PayPal sends the buyer: our return URL plus its own `token` and `PayerID`.
    let sent = fake.requests("/v2/checkout/orders").pop().unwrap().json();
    let return_url = sent["payment_source"]["paypal"]["experience_context"]["return_url"]
        .as_str()
        .unwrap()
        .replace("https://bot.example", &app.base);
    let back = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{return_url}&token={order}&PayerID=QYR5Z8XDVJNXQ"))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    app.assert_status(&id, user, "succeeded", 100).await;
}
