//! Adding payments to a bot you already have: an axum app with its own routes and 404, and a
//! teloxide bot with its own commands and a catch-all. The payments live under `/shop`.
//!
//! `PUBLIC_BASE_URL` is where the payments are mounted (`https://bot.example.com/shop`); the rest
//! of the configuration is `full_bot`'s (README). `tests/existing_bot.rs` runs this binary.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use axum::routing::get;
use miniapp::bot::{BotDeps, BotError, NotifierOptions, payment_handler, run_notifier};
use miniapp::{app, config::Config, http};
use teloxide::{prelude::*, utils::command::BotCommands};

/// The bot's own commands, as they were.
#[derive(BotCommands, Clone)]
#[command(rename_rule = "lowercase")]
enum MyCommand {
    /// The bot's own help.
    Help,
    /// Our balance menu, used as one of the bot's commands.
    Balance,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().init();
    let config = Config::from_env()?;
    let payments = app::build(&config).await?; // ledger, providers, state (from the environment)
    let token = config
        .bot_token
        .clone()
        .ok_or_else(|| anyhow::anyhow!("set TELEGRAM_BOT_TOKEN"))?;
    let mut bot = Bot::new(token.expose_secret());
    if let Some(url) = &config.telegram_api_url {
        bot = bot.set_api_url(url.clone());
    }
    let page = config
        .public_base_url
        .as_ref()
        .map(|base| format!("{base}/miniapp/"));
    let deps = BotDeps::new(payments.ledger.clone(), page);

    // 1. The app's own routes and 404, with the payments nested under /shop.
    let web = axum::Router::new()
        .route("/", get(|| async { "my bot's own site" }))
        .nest("/shop", http::payments_router(payments.state.clone()))
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "my own 404") });

    // 2. The bot's own tree, with the payment updates first.
    let tree = dptree::entry()
        .branch(payment_handler())
        .branch(
            Update::filter_message()
                .filter_command::<MyCommand>()
                .endpoint(
                    |bot: Bot, msg: Message, cmd: MyCommand, deps: BotDeps| async move {
                        match cmd {
                            MyCommand::Help => {
                                bot.send_message(msg.chat.id, "my own help").await?;
                                Ok(())
                            }
                            MyCommand::Balance => miniapp::bot::balance(bot, msg, deps).await,
                        }
                    },
                ),
        )
        .branch(
            Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
                bot.send_message(msg.chat.id, "my own catch-all").await?;
                Ok::<(), BotError>(())
            }),
        );

    // 3. Run everything: the notifier and the sweep in the background, the bot, the web app.
    let forever = std::future::pending::<()>;
    let test_providers = payments.state.test_providers(); // "test payment" in the message
    let notifier = NotifierOptions {
        test_providers,
        ..NotifierOptions::default()
    };
    tokio::spawn(run_notifier(
        bot.clone(),
        payments.outbox.clone(),
        notifier,
        forever(),
    ));
    tokio::spawn(miniapp::reconcile::run_sweeper(
        payments.state.reconciler().clone(),
        Duration::from_secs(60),
        forever(),
    ));
    tokio::spawn(miniapp::reconcile::run_refunder(
        payments.state.reconciler().clone(),
        payments.refunds.clone(),
        Some(std::sync::Arc::new(miniapp::bot::RefundMessages::new(
            bot.clone(),
        ))),
        Duration::from_secs(60),
        forever(),
    ));
    let mut dispatcher = Dispatcher::builder(bot, tree)
        .dependencies(dptree::deps![deps])
        .build();
    tokio::spawn(async move { dispatcher.dispatch().await });
    let listener = tokio::net::TcpListener::bind(config.bind_addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        web.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await?;
    Ok(())
}
