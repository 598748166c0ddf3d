//! The reference app: the payment page, the API, the webhooks and (with a token) the bot.
//!
//! `cargo run --example full_bot` with nothing configured: an SQLite file `miniapp.db`, the
//! sandbox provider, development login, on http://127.0.0.1:8080/miniapp/. Configuration is in
//! the README's table (environment variables or a `.env` file).
//!
//! `cargo run --example full_bot -- admin <command>` runs an operator's command against the
//! configured database instead (`miniapp::admin`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use miniapp::app;
use miniapp::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("admin") {
        return admin(&args[1..]).await;
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("full_bot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The operator's commands against the configured database (`full_bot admin help`): exit 0
/// done, 1 failed or an audit mismatch, 2 a usage error.
async fn admin(args: &[String]) -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("full_bot: {e}");
            return ExitCode::FAILURE;
        }
    };
    match app::run_admin(&config, args, &mut std::io::stdout().lock()).await {
        Ok(status) => ExitCode::from(status),
        Err(e @ app::AppError::Admin(miniapp::admin::AdminError::Usage(_))) => {
            eprintln!("full_bot admin: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("full_bot admin: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let app = app::build(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.bind_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind_addr))?;
    let local = listener.local_addr()?;
    // Bound before anything is printed: whoever reads the first line can use both listeners.
    let metrics = app::bind_metrics(&config, &app).await?;
    let page = match &config.public_base_url {
        Some(base) => format!("{base}/miniapp/"),
        None => format!("http://{local}/miniapp/"),
    };
    println!("miniapp is running: open {page}");
    println!("listening on http://{local}");
    if app.dev_token.is_some() {
        println!("development mode (no TELEGRAM_BOT_TOKEN): the page logs in as a local test user");
    }
    if app.sandbox {
        println!("sandbox payments: pay with 4242 4242 4242 4242, any future expiry, any CVC");
    }
    if config.bot_token.is_some() {
        println!(
            "bot: {:?} mode; notifications are delivered from the outbox",
            config.bot_mode
        );
    }
    if let Some(m) = &metrics {
        println!("metrics: http://{}/metrics", m.local_addr()?);
    } else if app.metrics.is_some() {
        println!("metrics: http://{local}/metrics (Authorization: Bearer $METRICS_TOKEN)");
    }
    app::run_with_metrics(&config, &app, listener, metrics, app::shutdown_signal()).await?;
    Ok(())
}
