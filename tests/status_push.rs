//! A payment's status pushed across instances: two app instances on one PostgreSQL database,
//! a page waiting (`payment-status?wait=`) on instance B, the payment's webhook committed by
//! instance A. B's one LISTEN connection (`forward_status_changes`) wakes the request.
//! Needs PostgreSQL at `DATABASE_URL`; without it the test says so and passes, under `CI=true`
//! it fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)] // tests fail by panicking

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use miniapp::catalog::{Catalog, MethodOffer, PaymentMethod};
use miniapp::http::{AppState, Auth, EnabledMethod, HttpSettings, Opens, StateParts};
use miniapp::init_data::{BotToken, sign};

use miniapp::money::Currency;
use miniapp::sandbox::SandboxProvider;
use miniapp::sqlx::PgLedgerStore;
use serde_json::{Value, json};

const TOKEN: &str = "7000000003:PUSH_test_token";

struct Instance {
    url: String,
    state: AppState,
    sandbox: Arc<SandboxProvider>,
    store: PgLedgerStore,
}

async fn instance(database: &str) -> Instance {
    let store = PgLedgerStore::connect(database, 4).await.unwrap();
    store.migrate().await.unwrap();
    let sandbox = Arc::new(SandboxProvider::new(None).unwrap());
    let state = AppState::new(StateParts {
        ledger: Arc::new(store.clone()),
        catalog: Catalog::default(),
        methods: vec![EnabledMethod {
            offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
            provider: sandbox.clone(),
            opens: Opens::Link,
        }],
        auth: Auth::Bot(BotToken::new(TOKEN).unwrap()),
        settings: HttpSettings::default(),
        routes: vec![sandbox.routes()],
        clock: miniapp::clock::SystemClock::shared(),
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = miniapp::http::router(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Instance {
        url,
        state,
        sandbox,
        store,
    }
}

fn auth(user: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let user = json!({"id": user, "first_name": "Test"}).to_string();
    format!(
        "tma {}",
        sign(
            &[("user", &user), ("auth_date", &now.to_string())],
            &BotToken::new(TOKEN).unwrap()
        )
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_committed_by_one_instance_wakes_a_request_waiting_on_another() {
    let Some(server) = support::postgres_url("the cross-instance status push") else {
        return;
    };
    let database = support::fresh_database(&server, "miniapp_push").await;
    let a = instance(&database).await;
    let b = instance(&database).await;
    tokio::spawn(miniapp::http::forward_status_changes(
        b.state.clone(),
        b.store.clone(),
    ));
    let http = reqwest::Client::new();
    let user = miniapp::conformance::fresh_user().get();

    let created: Value = http
        .post(format!("{}/api/miniapp/create-payment", a.url))
        .header("authorization", auth(user))
        .json(&json!({"credits": 500, "amount": "25.00", "currency": "USD", "payment_method": "card"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["payment_id"].as_str().expect("created").to_owned();

    // B listens (one connection of its own) before anything is committed.
    let ready = Instant::now();
    while !b.state.status_listener_connected() {
        assert!(
            ready.elapsed() < Duration::from_secs(10),
            "B connects its listener"
        );
        tokio::task::yield_now().await;
    }
    let waiting = http
        .get(format!(
            "{}/api/miniapp/payment-status/{id}?wait=30&status=pending",
            b.url
        ))
        .header("authorization", auth(user))
        .send();
    let paying = async {
        while b.state.waiting_requests() == 0 {
            tokio::task::yield_now().await;
        }
        let payment = a.store_payment(&id).await;
        let webhook = a.sandbox.signed_event(&payment, "paid");
        let mut r = http
            .post(format!("{}/api/miniapp/webhooks/sandbox", a.url))
            .body(webhook.body.clone());
        for (k, v) in &webhook.headers {
            r = r.header(k, v);
        }
        let status = r.send().await.unwrap().status().as_u16();
        (status, Instant::now())
    };
    let (answer, (paid, paid_at)) = tokio::join!(waiting, paying);
    let answered_at = Instant::now();
    assert_eq!(paid, 200, "A committed the success");
    let answer: Value = answer.unwrap().json().await.unwrap();
    assert_eq!(
        (answer["status"].as_str(), answer["balance"].as_i64()),
        (Some("succeeded"), Some(500)),
        "B answered with the committed status"
    );
    assert!(
        answered_at.duration_since(paid_at) < Duration::from_secs(10),
        "B was woken by A's commit, not by the end of its 30 s wait"
    );
    assert_eq!(b.state.waiting_requests(), 0);
    b.state.stop_waiting();
    a.store.pool().close().await;
    b.store.pool().close().await;
    support::drop_database(&server, &database).await;
}

impl Instance {
    async fn store_payment(&self, id: &str) -> miniapp::payment::Payment {
        use miniapp::ledger::LedgerStore;
        self.store
            .payment(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
    }
}
