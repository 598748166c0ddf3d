//! Assembling the reference app from a [`Config`]: ledger, providers, state, server.

use std::future::Future;
use std::sync::Arc;

use miniapp_core::catalog::{Catalog, MethodOffer, PaymentMethod};
use miniapp_core::clock::{ClockExt, SharedClock, SystemClock};
use miniapp_core::init_data::{BotToken, VerifyOptions};
use miniapp_core::ledger::{LedgerAdmin, LedgerStore, NotificationOutbox, RefundQueue};
use miniapp_core::money::Currency;

use crate::config::{Config, SandboxMode};
use crate::http::{AppState, Auth, EnabledMethod, HttpSettings, Opens, StateParts};
use crate::sandbox::SandboxProvider;

/// Why the app could not start: one sentence, safe to print (no secrets).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The database could not be opened, reached or migrated.
    #[error("database: {0}")]
    Database(String),
    /// A payment provider could not be set up.
    #[error("payment provider: {0}")]
    Provider(String),
    /// The methods do not fit the catalog.
    #[error("configuration: {0}")]
    State(#[from] crate::http::StateError),
    /// The listener could not be bound or failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// Metrics were asked for, but another recorder is installed in this process.
    #[error("metrics: {0}")]
    Metrics(#[from] crate::metrics::MetricsError),
    /// An operator's command was wrong or refused.
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
}

/// The assembled app.
#[derive(Debug, Clone)]
pub struct App {
    /// What the router serves.
    pub state: AppState,
    /// The ledger (shared with the bot).
    pub ledger: Arc<dyn LedgerStore>,
    /// The notification outbox (the same database as the ledger), for the notifier.
    pub outbox: Arc<dyn NotificationOutbox>,
    /// Duplicate charges to refund (the same database), for [`run_refunder`].
    ///
    /// [`run_refunder`]: crate::reconcile::run_refunder
    pub refunds: Arc<dyn RefundQueue>,
    /// The operator's view, when the store has one (the owner's `/payment`).
    pub admin: Option<Arc<dyn LedgerAdmin>>,
    /// The Prometheus recorder, when `METRICS_BIND_ADDR` or `METRICS_TOKEN` asks for it.
    pub metrics: Option<crate::metrics::Metrics>,
    /// In development mode, the local token that signs and verifies init data.
    pub dev_token: Option<BotToken>,
    /// Whether the sandbox takes payments.
    pub sandbox: bool,
    /// The clock shared by the state, the stores, the providers and the background tasks.
    pub clock: SharedClock,
    /// The PostgreSQL store, for the listener of status changes ([`Stores::postgres`]).
    #[cfg(feature = "postgres")]
    pub postgres: Option<crate::sqlx::PgLedgerStore>,
}

/// The ledger, its notification outbox and its refund queue: one store behind three traits.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Payments, balances, the journal.
    pub ledger: Arc<dyn LedgerStore>,
    /// Payment-success notifications, written with the credits.
    pub outbox: Arc<dyn NotificationOutbox>,
    /// Duplicate charges to refund, written with the duplicates.
    pub refunds: Arc<dyn RefundQueue>,
    /// The operator's view ([`crate::admin`], the owner's `/payment`); the SQL stores have it.
    pub admin: Option<Arc<dyn LedgerAdmin>>,
    /// The PostgreSQL store, whose one LISTEN connection wakes this instance's waiting status
    /// requests for changes committed by any instance ([`crate::http::forward_status_changes`]).
    #[cfg(feature = "postgres")]
    pub postgres: Option<crate::sqlx::PgLedgerStore>,
}

impl Stores {
    /// One store as the ledger, the outbox and the refund queue, without the operator's view
    /// (the in-memory ledger).
    pub fn new<S: LedgerStore + NotificationOutbox + RefundQueue + 'static>(store: S) -> Stores {
        let store = Arc::new(store);
        Stores {
            ledger: store.clone(),
            outbox: store.clone(),
            refunds: store,
            admin: None,
            #[cfg(feature = "postgres")]
            postgres: None,
        }
    }

    /// One store as all four (the SQL stores).
    pub fn with_admin<S>(store: S) -> Stores
    where
        S: LedgerStore + NotificationOutbox + RefundQueue + LedgerAdmin + 'static,
    {
        let store = Arc::new(store);
        Stores {
            ledger: store.clone(),
            outbox: store.clone(),
            refunds: store.clone(),
            admin: Some(store),
            #[cfg(feature = "postgres")]
            postgres: None,
        }
    }
}

/// `full_bot admin <args>`: opens the configured database and runs the operator's command
/// ([`crate::admin`]), writing to `out`; returns the exit status.
///
/// # Errors
/// [`AppError::Database`] when the database cannot be opened or has no operator view;
/// [`AppError::Admin`] when the command is wrong or refused.
pub async fn run_admin(
    config: &Config,
    args: &[String],
    out: &mut dyn std::io::Write,
) -> Result<u8, AppError> {
    let invocation = crate::admin::parse(args, &config.operator)?;
    let clock = SystemClock::shared();
    let stores = open_ledger(&config.database_url, 2, clock.clone()).await?;
    let admin = stores.admin.ok_or_else(|| {
        AppError::Database("this store has no operator view (use SQLite or PostgreSQL)".into())
    })?;
    Ok(crate::admin::run(&*admin, &*stores.ledger, &invocation, clock.unix_now(), out).await?)
}

/// Opens the store named by `database_url` (its ledger and its outbox) and applies its
/// migrations. `max_connections` sizes the PostgreSQL pool (SQLite uses its own small pool);
/// timestamps come from `clock`.
///
/// # Errors
/// [`AppError::Database`].
pub async fn open_ledger(
    database_url: &str,
    max_connections: u32,
    clock: SharedClock,
) -> Result<Stores, AppError> {
    let db = |e: miniapp_core::ledger::LedgerError| {
        let cause = std::error::Error::source(&e)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        AppError::Database(format!("{e}{cause}"))
    };
    if let Some(path) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        #[cfg(feature = "sqlite")]
        {
            let store = miniapp_sqlx::SqliteLedgerStore::connect(path)
                .await
                .map_err(db)?;
            store.migrate().await.map_err(db)?;
            return Ok(Stores::with_admin(store.with_clock(clock)));
        }
        #[cfg(not(feature = "sqlite"))]
        return Err(AppError::Database(format!(
            "{path}: built without the `sqlite` feature"
        )));
    }
    #[cfg(feature = "postgres")]
    {
        let store = miniapp_sqlx::PgLedgerStore::connect(database_url, max_connections)
            .await
            .map_err(db)?;
        store.migrate().await.map_err(db)?;
        let store = store.with_clock(clock);
        Ok(Stores {
            postgres: Some(store.clone()),
            ..Stores::with_admin(store)
        })
    }
    #[cfg(not(feature = "postgres"))]
    Err(AppError::Database(
        "built without the `postgres` feature".into(),
    ))
}

fn random_dev_token() -> Result<BotToken, AppError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Provider(format!("no system randomness: {e}")))?;
    BotToken::new(format!("1:dev{}", hex::encode(bytes)))
        .map_err(|e| AppError::Provider(e.to_string()))
}

/// Builds the app: ledger, providers and shared state.
///
/// # Errors
/// [`AppError`].
pub async fn build(config: &Config) -> Result<App, AppError> {
    let clock = SystemClock::shared();
    let stores = open_ledger(
        &config.database_url,
        config.database_max_connections,
        clock.clone(),
    )
    .await?;
    build_with_stores(config, stores, clock)
}

/// Builds the app on existing stores (tests use one in-memory store for all three), reading
/// "now" from `clock`: give the stores the same one.
///
/// # Errors
/// [`AppError`].
pub fn build_with_stores(
    config: &Config,
    stores: Stores,
    clock: SharedClock,
) -> Result<App, AppError> {
    let Stores {
        ledger,
        outbox,
        refunds,
        admin,
        #[cfg(feature = "postgres")]
        postgres,
    } = stores;
    let (auth, dev_token) = match &config.bot_token {
        Some(token) => (Auth::Bot(token.clone()), None),
        None => {
            let token = random_dev_token()?;
            (Auth::Development(token.clone()), Some(token))
        }
    };
    let mut methods = Vec::new();
    #[cfg(feature = "stripe")]
    let mut card_provider = match &config.stripe {
        Some(stripe) => Some(
            miniapp_stripe::StripeProvider::new(stripe.clone())
                .map_err(|e| AppError::Provider(e.to_string()))?
                .with_clock(clock.clone()),
        ),
        None => None,
    };
    #[cfg(not(feature = "stripe"))]
    let mut card_provider: Option<SandboxProvider> = None;
    let has_card_provider = card_provider.is_some();
    let sandbox_on = config.sandbox_enabled();
    if sandbox_on && config.bot_token.is_some() {
        tracing::warn!(
            "MINIAPP_SANDBOX=on with a bot token: anyone can pay the sandbox with a test card and receive tokens; use it only for a test bot"
        );
    }
    #[cfg(feature = "stripe")]
    if config.bot_token.is_some()
        && config
            .stripe
            .as_ref()
            .is_some_and(miniapp_stripe::StripeConfig::is_test_mode)
    {
        tracing::warn!(
            "STRIPE_SECRET_KEY is a test-mode key with a bot token: anyone can pay with Stripe's test cards and receive tokens; use it only for a test bot"
        );
    }
    let sandbox = if sandbox_on {
        Some(Arc::new(
            SandboxProvider::new(config.public_base_url.clone())
                .map_err(|e| AppError::Provider(e.to_string()))?,
        ))
    } else {
        None
    };
    for m in &config.payment_methods {
        if m == "card" {
            if let Some(provider) = card_provider.take() {
                methods.push(EnabledMethod {
                    offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
                    provider: Arc::new(provider),
                    opens: Opens::Link,
                });
            } else if let Some(sandbox) = &sandbox {
                methods.push(EnabledMethod {
                    offer: MethodOffer::new(PaymentMethod::card(), Currency::USD),
                    provider: sandbox.clone(),
                    opens: Opens::Link,
                });
            }
        }
    }
    #[cfg(feature = "paypal")]
    if let Some(paypal) = config
        .paypal
        .as_ref()
        .filter(|_| config.payment_methods.iter().any(|m| m == "paypal"))
    {
        let provider = miniapp_paypal::PayPalProvider::new(paypal.clone())
            .map_err(|e| AppError::Provider(e.to_string()))?
            .with_clock(clock.clone())
            .with_ledger(ledger.clone());
        if config.bot_token.is_some() && miniapp_core::provider::PaymentProvider::is_test(&provider)
        {
            tracing::warn!(
                "PAYPAL_ENV=sandbox with a bot token: anyone with a PayPal sandbox account can pay and receive tokens; use it only for a test bot"
            );
        }
        let id = PaymentMethod::new("paypal").unwrap_or_else(|| unreachable!("a valid id"));
        methods.push(EnabledMethod {
            offer: MethodOffer::new(id, Currency::USD),
            provider: Arc::new(provider),
            opens: Opens::Link,
        });
    }
    #[cfg(feature = "teloxide")]
    if let Some(token) = config
        .bot_token
        .as_ref()
        .filter(|_| config.payment_methods.iter().any(|m| m == "stars"))
    {
        let bot = bot_client(config, token);
        methods.push(EnabledMethod {
            offer: MethodOffer::new(PaymentMethod::stars(), Currency::XTR),
            provider: Arc::new(crate::stars::TelegramStarsProvider::new(bot, None)),
            opens: Opens::Invoice,
        });
    }
    if has_card_provider
        && config.sandbox == SandboxMode::On
        && let Some(sandbox) = &sandbox
    {
        let id = PaymentMethod::new("sandbox").unwrap_or_else(|| unreachable!("a valid id"));
        methods.push(EnabledMethod {
            offer: MethodOffer::new(id, Currency::USD),
            provider: sandbox.clone(),
            opens: Opens::Link,
        });
    }
    let state = AppState::new(StateParts {
        ledger: ledger.clone(),
        catalog: Catalog::default(),
        methods,
        auth,
        settings: HttpSettings {
            init_data: VerifyOptions::default().with_max_age(config.init_data_max_age),
            reconcile_after: config.reconcile_after,
            refund_policy: config.refund_policy,
            public_base_url: config.public_base_url.clone(),
            max_open_payments: config.max_open_payments,
            rate_limit_per_minute: config.rate_limit_per_minute,
            trust_forwarded_for: config.trust_forwarded_for,
            bot_url: config
                .bot_username
                .as_deref()
                .and_then(HttpSettings::bot_url_for),
            ..HttpSettings::default()
        },
        routes: sandbox.iter().map(SandboxProvider::routes).collect(),
        clock: clock.clone(),
    })?;
    let metrics = if config.metrics_bind_addr.is_some() || config.metrics_token.is_some() {
        Some(crate::metrics::Metrics::install()?)
    } else {
        None
    };
    Ok(App {
        state,
        ledger,
        outbox,
        refunds,
        admin,
        metrics,
        dev_token,
        sandbox: sandbox.is_some(),
        clock,
        #[cfg(feature = "postgres")]
        postgres,
    })
}

/// Binds `METRICS_BIND_ADDR`, when it is set and metrics are on, so the caller can say where
/// they are before [`run_with_metrics`] serves them.
///
/// # Errors
/// [`AppError::Io`] when the address cannot be bound.
pub async fn bind_metrics(
    config: &Config,
    app: &App,
) -> Result<Option<tokio::net::TcpListener>, AppError> {
    match (&app.metrics, config.metrics_bind_addr) {
        (Some(_), Some(addr)) => Ok(Some(tokio::net::TcpListener::bind(addr).await?)),
        _ => Ok(None),
    }
}

/// Runs everything the configuration asks for on `listener`: the HTTP app, and with a bot token
/// the bot (long polling, or its webhook merged into the same listener), the notification
/// delivery and the menu button. Returns when `shutdown` resolves and in-flight requests finished.
///
/// # Errors
/// [`AppError`].
pub async fn run(
    config: &Config,
    app: &App,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let metrics = bind_metrics(config, app).await?;
    run_with_metrics(config, app, listener, metrics, shutdown).await
}

/// [`run`], with `METRICS_BIND_ADDR` already bound ([`bind_metrics`]).
///
/// # Errors
/// [`AppError`].
pub async fn run_with_metrics(
    config: &Config,
    app: &App,
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    #[allow(unused_mut)]
    let mut router = crate::http::router(app.state.clone());
    let mut tasks = Vec::new();
    if let (Some(_), Some(admin)) = (&app.metrics, &app.admin) {
        tasks.push(tokio::spawn(crate::metrics::run_anomaly_gauges(
            admin.clone(),
            app.clock.clone(),
            std::time::Duration::from_secs(60),
            stopped(),
        )));
    }
    if let Some(metrics) = &app.metrics {
        let endpoint =
            crate::metrics::metrics_router(metrics.clone(), config.metrics_token.clone());
        let metrics_listener = match metrics_listener {
            Some(bound) => Some(bound),
            None => bind_metrics(config, app).await?,
        };
        match metrics_listener {
            Some(listener) => {
                tracing::info!(address = %listener.local_addr()?, "metrics at /metrics");
                let stop = stopped();
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, endpoint)
                        .with_graceful_shutdown(stop)
                        .await
                    {
                        tracing::error!(error = %e, "the metrics listener failed");
                    }
                }));
            }
            // Behind its bearer token (`build_with_stores` refuses neither-nor).
            None => router = router.merge(endpoint),
        }
    }
    #[cfg(feature = "postgres")]
    if let Some(store) = &app.postgres {
        tasks.push(tokio::spawn(crate::http::forward_status_changes(
            app.state.clone(),
            store.clone(),
        )));
    }
    tasks.push(tokio::spawn(crate::reconcile::run_sweeper(
        app.state.reconciler().clone(),
        std::time::Duration::from_secs(60),
        stopped(),
    )));
    #[cfg(feature = "teloxide")]
    let bot = config
        .bot_token
        .as_ref()
        .map(|token| bot_client(config, token));
    // Payers are told about refunded duplicate charges by the bot, when there is one.
    #[cfg(feature = "teloxide")]
    let refund_notice = bot.clone().map(|bot| {
        Arc::new(crate::bot::RefundMessages::new(bot)) as Arc<dyn crate::reconcile::RefundNotice>
    });
    #[cfg(not(feature = "teloxide"))]
    let refund_notice = None;
    tasks.push(tokio::spawn(crate::reconcile::run_catch_up(
        app.state.reconciler().clone(),
        crate::reconcile::CATCH_UP_EVERY,
        stopped(),
    )));
    tasks.push(tokio::spawn(crate::reconcile::run_refunder(
        app.state.reconciler().clone(),
        app.refunds.clone(),
        refund_notice,
        std::time::Duration::from_secs(60),
        stopped(),
    )));
    #[cfg(feature = "teloxide")]
    if let (Some(bot), Some(bot_token)) = (bot, &config.bot_token) {
        use teloxide::prelude::*;
        let deps = crate::bot::BotDeps::new(
            app.ledger.clone(),
            config
                .public_base_url
                .as_ref()
                .map(|b| format!("{b}/miniapp/")),
        )
        .with_refund_policy(config.refund_policy)
        .with_owners(config.owners.clone())
        .with_admin(app.admin.clone());
        if let Err(e) = crate::bot::set_menu_button(&bot, &deps).await {
            tracing::warn!(error = %e, "could not set the menu button");
        }
        if app.state.bot_url().is_none() {
            tasks.push(tokio::spawn(learn_bot_username(
                bot.clone(),
                app.state.clone(),
                stopped(),
            )));
        }
        tasks.push(tokio::spawn(crate::bot::run_notifier(
            bot.clone(),
            app.outbox.clone(),
            crate::bot::NotifierOptions {
                test_providers: app.state.test_providers(),
                clock: app.clock.clone(),
                ..crate::bot::NotifierOptions::default()
            },
            stopped(),
        )));
        let mut dispatcher = Dispatcher::builder(bot.clone(), crate::bot::handler_tree())
            .dependencies(dptree::deps![deps])
            .default_handler(|_| async {})
            .build();
        let token = dispatcher.shutdown_token();
        match config.bot_mode {
            crate::config::BotMode::Polling => {
                let stop = stopped.clone();
                tasks.push(tokio::spawn(async move {
                    // teloxide's `dispatch` panics when its first call (getMe) fails, which would
                    // leave the app running without a bot after a network blip at start-up:
                    // retry with backoff instead.
                    let mut wait = std::time::Duration::from_secs(1);
                    loop {
                        let attempt = async {
                            let listener =
                                teloxide::update_listeners::polling_default(bot.clone()).await;
                            let errors = LoggingErrorHandler::with_custom_text("telegram updates");
                            dispatcher.try_dispatch_with_listener(listener, errors).await
                        };
                        match until_stopped(attempt, &token, stop()).await {
                            (_, true) | (Ok(()), _) => return,
                            (Err(e), false) => {
                                tracing::warn!(error = %e, retry_in = ?wait, "the bot cannot reach Telegram");
                            }
                        }
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = stop() => return,
                        }
                        wait = (wait * 2).min(std::time::Duration::from_secs(60));
                    }
                }));
            }
            crate::config::BotMode::Webhook => {
                let base = config.public_base_url.clone().unwrap_or_default();
                let url = url::Url::parse(&format!("{base}/telegram/webhook"))
                    .map_err(|e| AppError::Provider(format!("webhook URL: {e}")))?;
                // One secret for every instance of this bot: whichever called setWebhook last,
                // all of them accept Telegram's updates.
                let options =
                    teloxide::update_listeners::webhooks::Options::new(config.bind_addr, url)
                        .secret_token(webhook_secret(config, bot_token));
                let (update_listener, _stop, telegram) =
                    teloxide::update_listeners::webhooks::axum_to_router(bot, options)
                        .await
                        .map_err(|e| AppError::Provider(format!("setWebhook failed: {e}")))?;
                // Telegram's route answers a wrong secret with an empty 401: the same JSON
                // error shape as every other route.
                router = router.merge(telegram.layer(crate::http::json_errors_layer()));
                let stop = stopped();
                tasks.push(tokio::spawn(async move {
                    let errors = LoggingErrorHandler::with_custom_text("telegram update");
                    let attempt = dispatcher.try_dispatch_with_listener(update_listener, errors);
                    if let (Err(e), _) = until_stopped(attempt, &token, stop).await {
                        tracing::error!(error = %e, "the bot could not start: getMe failed");
                    }
                }));
            }
        }
        tracing::info!(mode = ?config.bot_mode, "bot started");
    }
    #[cfg(not(feature = "teloxide"))]
    let _ = config;
    // The peer address feeds the per-address rate limit of create-payment.
    let serve = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown({
        let state = app.state.clone();
        async move {
            shutdown.await;
            // Long polls answer now instead of holding the shutdown for up to 30 s.
            state.stop_waiting();
            let _ = stop_tx.send(true);
        }
    });
    serve.await?;
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

/// Runs `dispatch` until it ends or `stop` resolves; on stop, lets the dispatcher finish the
/// updates in hand. Returns its result and whether stop was asked.
#[cfg(feature = "teloxide")]
async fn until_stopped<E>(
    dispatch: impl Future<Output = Result<(), E>>,
    token: &teloxide::dispatching::ShutdownToken,
    stop: impl Future<Output = ()>,
) -> (Result<(), E>, bool) {
    tokio::pin!(dispatch);
    tokio::select! {
        r = &mut dispatch => return (r, false),
        () = stop => {}
    }
    // The dispatcher refuses a shutdown while it is still starting (getMe): ask again until it
    // takes the request, or ends by itself.
    loop {
        if token.shutdown().is_ok() {
            return (dispatch.await, true);
        }
        tokio::select! {
            r = &mut dispatch => return (r, true),
            () = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
        }
    }
}

/// How long start-up waits for `getMe` to name the bot ([`learn_bot_username`]).
#[cfg(feature = "teloxide")]
const GET_ME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Asks Telegram for the bot's username (`getMe`, in the background, for at most
/// [`GET_ME_TIMEOUT`]) so the page can link back to the bot (`BOT_USERNAME` unset). A failure is
/// logged and leaves the page without the link; nothing else waits for it.
#[cfg(feature = "teloxide")]
async fn learn_bot_username(bot: teloxide::Bot, state: AppState, stop: impl Future<Output = ()>) {
    use teloxide::requests::Requester;
    let me = tokio::select! {
        me = tokio::time::timeout(GET_ME_TIMEOUT, bot.get_me()) => me,
        () = stop => return,
    };
    let why = match me {
        Ok(Ok(me)) => match me.user.username.as_deref() {
            Some(username) if state.learn_bot_username(username) => {
                tracing::info!(username, "the page links back to the bot");
                return;
            }
            _ => "getMe named no usable username".to_owned(),
        },
        Ok(Err(e)) => format!("getMe failed: {e}"),
        Err(_) => format!("getMe did not answer within {GET_ME_TIMEOUT:?}"),
    };
    tracing::warn!(
        reason = %why,
        "the page offers no link back to the bot outside Telegram; set BOT_USERNAME"
    );
}

/// The `secret_token` of the bot's webhook: `TELEGRAM_WEBHOOK_SECRET`, or else derived from the
/// bot token (HMAC-SHA256 keyed with the token over a fixed label, hex), so that every instance
/// of one bot computes the same secret and nobody without the token can.
#[cfg(feature = "teloxide")]
pub fn webhook_secret(config: &Config, token: &BotToken) -> String {
    use hmac::{Hmac, Mac};
    if let Some(secret) = &config.telegram_webhook_secret {
        return secrecy::ExposeSecret::expose_secret(secret).to_owned();
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(token.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(b"miniapp telegram webhook secret_token v1");
    hex::encode(mac.finalize().into_bytes())
}

/// The Bot API client for `token`, on `TELEGRAM_API_URL` when set.
#[cfg(feature = "teloxide")]
fn bot_client(config: &Config, token: &miniapp_core::init_data::BotToken) -> teloxide::Bot {
    let bot = teloxide::Bot::new(token.expose_secret());
    match &config.telegram_api_url {
        Some(url) => bot.set_api_url(url.clone()),
        None => bot,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
