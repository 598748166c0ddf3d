//! The payment page in a real headless Chromium (Debian's `/usr/bin/chromium`, driven by
//! `playwright-core` from `tests/browser/page.test.mjs`) against real servers on loopback: one
//! with a bot token (the page runs inside a stubbed Telegram), one in development mode.
//! Needs `node`, `chromium` and `npm ci --prefix tests/browser`; `.ci/run` installs them. Without
//! them the test says so and passes; under `CI=true` it fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)] // tests fail by panicking

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use miniapp::catalog::{Catalog, MethodOffer, PaymentMethod};
use miniapp::http::{AppState, Auth, EnabledMethod, HttpSettings, Opens, StateParts};
use miniapp::init_data::BotToken;
use miniapp::ledger::InMemoryLedger;
use miniapp::money::Currency;
use miniapp::sandbox::SandboxProvider;

const TOKEN: &str = "7000000002:BROWSER_test_token";
const STARS_SECRET: &str = "stars-webhook-secret";

/// A server selling by card (sandbox) and Telegram Stars; its Bot API is a local fake that answers
/// `createInvoiceLink`.
async fn stars_state() -> AppState {
    let fake = axum::Router::new().fallback(|| async {
        axum::Json(serde_json::json!({"ok": true, "result": "https://t.me/$invoice_browser_test"}))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, fake).await.unwrap() });
    let bot = teloxide::Bot::new(TOKEN).set_api_url(api.parse().unwrap());
    let sandbox = Arc::new(SandboxProvider::new(None).unwrap());
    AppState::new(StateParts {
        ledger: Arc::new(InMemoryLedger::new()),
        catalog: Catalog::default(),
        methods: vec![
            EnabledMethod {
                offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
                provider: sandbox.clone(),
                opens: Opens::Link,
            },
            EnabledMethod {
                offer: MethodOffer::new(PaymentMethod::stars(), Currency::XTR),
                provider: Arc::new(miniapp::stars::TelegramStarsProvider::new(
                    bot,
                    Some(STARS_SECRET.into()),
                )),
                opens: Opens::Invoice,
            },
        ],
        auth: Auth::Bot(BotToken::new(TOKEN).unwrap()),
        settings: HttpSettings::default(),
        routes: vec![sandbox.routes()],
        clock: miniapp::clock::SystemClock::shared(),
    })
    .unwrap()
}

/// The sandbox, 5 s slow to open a checkout: a provider under load. Only latency is added; every
/// answer is the sandbox's own.
#[derive(Debug)]
struct SlowProvider(Arc<SandboxProvider>);

#[async_trait::async_trait]
impl miniapp::provider::PaymentProvider for SlowProvider {
    fn id(&self) -> &miniapp::ids::ProviderId {
        self.0.id()
    }

    async fn create_checkout(
        &self,
        request: &miniapp::provider::CheckoutRequest,
    ) -> Result<miniapp::provider::Checkout, miniapp::provider::ProviderError> {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        self.0.create_checkout(request).await
    }

    async fn parse_webhook(
        &self,
        request: &miniapp::provider::WebhookRequest,
        now: std::time::SystemTime,
    ) -> Result<Vec<miniapp::event::ProviderEvent>, miniapp::provider::ProviderError> {
        self.0.parse_webhook(request, now).await
    }

    async fn fetch_status(
        &self,
        payment: &miniapp::payment::Payment,
    ) -> Result<Vec<miniapp::event::ProviderEvent>, miniapp::provider::ProviderError> {
        self.0.fetch_status(payment).await
    }

    fn is_test(&self) -> bool {
        true
    }
}

fn slow_state() -> AppState {
    let sandbox = Arc::new(SandboxProvider::new(None).unwrap());
    AppState::new(StateParts {
        ledger: Arc::new(InMemoryLedger::new()),
        catalog: Catalog::default(),
        methods: vec![EnabledMethod {
            offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
            provider: Arc::new(SlowProvider(sandbox.clone())),
            opens: Opens::Link,
        }],
        auth: Auth::Bot(BotToken::new(TOKEN).unwrap()),
        settings: HttpSettings::default(),
        routes: vec![sandbox.routes()],
        clock: miniapp::clock::SystemClock::shared(),
    })
    .unwrap()
}

fn missing(what: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {what} is missing: the browser tests must run in CI");
    }
    eprintln!("SKIPPED: {what} is missing, so the browser tests did not run");
    true
}

/// The payments nested under `/shop` of a host app with its own routes and 404, as
/// `examples/existing_bot.rs` mounts them: the page must find its API relative to itself.
async fn serve_under_prefix(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let host = axum::Router::new()
        .route("/", axum::routing::get(|| async { "the host's own page" }))
        .nest("/shop", miniapp::http::payments_router(state))
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "the host's own 404") });
    tokio::spawn(async move { axum::serve(listener, host).await.unwrap() });
    format!("{url}/shop")
}

async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, miniapp::http::router(state))
            .await
            .unwrap()
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_page_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_node && missing("node") {
        return;
    }
    if !Path::new("/usr/bin/chromium").exists()
        && missing("/usr/bin/chromium (apt-get install chromium)")
    {
        return;
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .exists()
        && missing("tests/browser/node_modules (npm ci --prefix tests/browser)")
    {
        return;
    }

    let sandbox = Arc::new(SandboxProvider::new(None).unwrap());
    let telegram = AppState::new(StateParts {
        ledger: Arc::new(InMemoryLedger::new()),
        catalog: Catalog::default(),
        methods: vec![EnabledMethod {
            offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
            provider: sandbox.clone(),
            opens: Opens::Link,
        }],
        auth: Auth::Bot(BotToken::new(TOKEN).unwrap()),
        settings: HttpSettings {
            bot_url: HttpSettings::bot_url_for("miniapp_browser_bot"),
            ..HttpSettings::default()
        },
        routes: vec![sandbox.routes()],
        clock: miniapp::clock::SystemClock::shared(),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = miniapp::config::Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(format!("sqlite://{}", dir.path().join("dev.db").display())),
        _ => None,
    })
    .unwrap();
    let dev = miniapp::app::build(&config).await.unwrap();
    // Every Telegram-side test runs against the page mounted under a prefix; the development
    // server below is mounted at the root, as `full_bot` serves it.
    let base_url = serve_under_prefix(telegram).await;
    let dev_url = serve(dev.state).await;
    let stars_url = serve(stars_state().await).await;
    let slow_url = serve(slow_state()).await;
    let screenshots = root.join("target/browser-screenshots");

    let output = tokio::process::Command::new("node")
        .arg("--test")
        .arg("--test-reporter=tap")
        .args(
            ["page", "telegram", "look"]
                .map(|name| root.join(format!("tests/browser/{name}.test.mjs"))),
        )
        .env("BASE_URL", &base_url)
        .env("DEV_BASE_URL", &dev_url)
        .env("STARS_BASE_URL", &stars_url)
        .env("STARS_SECRET", STARS_SECRET)
        .env("SLOW_BASE_URL", &slow_url)
        .env("BOT_TOKEN", TOKEN)
        .env("SCREENSHOT_DIR", &screenshots)
        .current_dir(root)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the browser tests failed (output above)"
    );
    assert!(
        stdout.contains("# fail 0") && !stdout.contains("# pass 0"),
        "the node runner ran the tests and none failed"
    );
    for shot in [
        "main.png",
        "waiting.png",
        "success.png",
        "failed.png",
        "error-320.png",
        "session-expired.png",
        "returned-outside.png",
        "sandbox.png",
        "sandbox-ru.png",
        "main-ru.png",
        "main-telegram-light.png",
        "main-browser-light.png",
        "main-320-en.png",
        "main-320-ru.png",
        "waiting-320-ru.png",
        "history-320-en.png",
    ] {
        assert!(screenshots.join(shot).exists(), "{shot} saved");
    }
}
