//! The built `full_bot` example as a user runs it: no configuration at all serves the page and
//! `/healthz` and stops cleanly on SIGTERM; bad configuration exits non-zero with one clear line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn full_bot() -> PathBuf {
    // Built by the same cargo that runs the tests (a no-op when `cargo test` already built it).
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "full_bot"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --example full_bot");
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let bin = deps.parent().unwrap().join("examples").join("full_bot");
    assert!(bin.exists(), "{} exists", bin.display());
    bin
}

fn command(bin: &PathBuf, dir: &tempfile::TempDir) -> Command {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn runs_with_no_configuration_and_stops_on_sigterm() {
    let bin = full_bot();
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(&bin, &dir).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("miniapp is running: open ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let base = url.trim_end_matches("/miniapp/").to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = reqwest::get(&url).await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        assert!(page.text().await.unwrap().contains("styles.css"));
        let health: serde_json::Value = reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["database"], "ok");
        let packages: serde_json::Value = reqwest::get(format!("{base}/api/miniapp/packages"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                packages["sandbox"].as_bool(),
                packages["dev_login"].as_bool()
            ),
            (Some(true), Some(true))
        );
    });
    assert!(
        dir.path().join("miniapp.db").exists(),
        "the SQLite file was created and migrated"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

#[test]
fn bad_configuration_exits_with_one_clear_line() {
    let bin = full_bot();
    for (var, value, needle) in [
        ("DATABASE_URL", "mysql://nope", "DATABASE_URL"),
        ("PUBLIC_BASE_URL", "not a url", "PUBLIC_BASE_URL"),
        ("PAYMENT_METHODS", "card,bitcoin", "bitcoin"),
        ("TELEGRAM_MODE", "webhook", "https"),
        ("STRIPE_SECRET_KEY", "sk_test_123", "STRIPE_WEBHOOK_SECRET"),
        (
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/none",
            "database",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = command(&bin, &dir)
            .env(var, value)
            .env(
                "PUBLIC_BASE_URL",
                if var == "PUBLIC_BASE_URL" {
                    value
                } else {
                    "http://127.0.0.1:9"
                },
            )
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={value} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("full_bot:"))
            .collect();
        assert_eq!(lines.len(), 1, "{var}={value}: one line, got {stderr}");
        assert!(lines[0].contains(needle), "{var}={value}: {}", lines[0]);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// What a new bot owner does first: a real bot token, no Stripe yet. Before, every Telegram user
/// could then "pay" with the sandbox's test card and receive real tokens; now it does not start,
/// and says in one line which variables decide.
#[test]
fn a_bot_token_without_stripe_does_not_start_taking_card_payments() {
    let bin = full_bot();
    for extra in [
        vec![],
        vec![("MINIAPP_SANDBOX", "auto")],
        vec![("PAYMENT_METHODS", "card,stars")],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = command(&bin, &dir);
        c.env("TELEGRAM_BOT_TOKEN", "7000000006:REAL_bot_token_secret")
            .env("PUBLIC_BASE_URL", "https://bot.example");
        for (k, v) in &extra {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success(), "{extra:?} must not start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("full_bot:"))
            .collect();
        assert_eq!(lines.len(), 1, "{extra:?}: one line, got {stderr}");
        assert!(
            lines[0].contains("STRIPE_SECRET_KEY") && lines[0].contains("MINIAPP_SANDBOX"),
            "{}",
            lines[0]
        );
        assert!(!stderr.contains("REAL_bot_token_secret"), "{stderr}");
        assert!(
            !dir.path().join("miniapp.db").exists(),
            "refused before touching the database"
        );
    }
}

/// A test bot may take sandbox payments when asked explicitly, and then says so at start-up.
#[test]
fn an_explicit_sandbox_with_a_bot_token_starts_with_a_warning() {
    let bin = full_bot();
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(&bin, &dir)
        .env("TELEGRAM_BOT_TOKEN", "7000000008:TEST_bot_token_value")
        // Telegram is unreachable here: the bot retries in the background, the app serves.
        .env("TELEGRAM_API_URL", "http://127.0.0.1:9")
        .env("PUBLIC_BASE_URL", "https://test-bot.example")
        .env("MINIAPP_SANDBOX", "on")
        .env("NO_COLOR", "1")
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let warned = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) => {
                let found = line.contains("WARN") && line.contains("MINIAPP_SANDBOX=on");
                seen.push(line);
                if found {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(warned, "no start-up warning:\n{}", seen.join("\n"));
    assert!(!seen.join("\n").contains("TEST_bot_token_value"));
}

/// Secrets in the configuration never reach what the app prints, even when it fails with them.
#[test]
fn secrets_never_reach_the_output() {
    let bin = full_bot();
    let dir = tempfile::tempdir().unwrap();
    let out = command(&bin, &dir)
        .env(
            "DATABASE_URL",
            "postgres://shop:SECRET_db_password@127.0.0.1:1/shop",
        )
        .env("STRIPE_SECRET_KEY", "sk_test_SECRET_stripe_key")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_SECRET_webhook")
        .env("PUBLIC_BASE_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the database is unreachable");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("full_bot: database"), "{all}");
    for secret in ["SECRET_db_password", "SECRET_stripe_key", "SECRET_webhook"] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
}

/// Telegram unreachable at start-up (a network blip, a firewall not yet open) must not kill the
/// bot for the life of the process: it keeps retrying and starts polling once Telegram answers,
/// and the token never appears in what it logs meanwhile.
#[test]
fn the_bot_starts_once_telegram_becomes_reachable() {
    use std::sync::{Arc, Mutex};

    const TOKEN: &str = "7000000005:LATE_telegram_secret";
    let bin = full_bot();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A port with nothing listening yet: where the Bot API will appear later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = command(&bin, &dir)
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .env("PAYMENT_METHODS", "stars")
        .env("TELEGRAM_API_URL", format!("http://127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .spawn()
        .unwrap();
    // Logs go to stdout (tracing's default), after the start-up lines; a thread forwards them so
    // a bot that never says anything fails the test instead of hanging it.
    // stderr too: a panic message lands there.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for stream in [
        Box::new(stdout) as Box<dyn BufRead + Send>,
        Box::new(stderr) as Box<dyn BufRead + Send>,
    ] {
        let lines_tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in stream.lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(lines_tx);
    let mut seen = Vec::new();
    let first = loop {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "full_bot never said why the bot waits:\n{}",
                    seen.join("\n")
                )
            });
        seen.push(line.clone());
        if line.contains("cannot reach Telegram") {
            break line;
        }
    };
    assert!(first.contains("cannot reach Telegram"), "{first}");
    // Telegram comes up: the bot must call getUpdates on it.
    let (polled_tx, polled_rx) = std::sync::mpsc::channel::<()>();
    let polled_tx = Arc::new(Mutex::new(Some(polled_tx)));
    rt.spawn(async move {
        let app = axum::Router::new().route(
            "/{bot}/{method}",
            axum::routing::post(
                move |axum::extract::Path((_bot, method)): axum::extract::Path<(
                    String,
                    String,
                )>| {
                    let polled_tx = polled_tx.clone();
                    async move {
                        let result = match method.to_ascii_lowercase().as_str() {
                            "getme" => serde_json::json!({
                                "id": 7000000005_i64, "is_bot": true, "first_name": "Late",
                                "username": "late_bot", "can_join_groups": false,
                                "can_read_all_group_messages": false,
                                "supports_inline_queries": false,
                                "can_connect_to_business": false, "has_main_web_app": false,
                            }),
                            "getupdates" => {
                                if let Some(tx) = polled_tx.lock().unwrap().take() {
                                    let _ = tx.send(());
                                }
                                serde_json::json!([])
                            }
                            "getwebhookinfo" => serde_json::json!({
                                "url": "", "has_custom_certificate": false,
                                "pending_update_count": 0,
                            }),
                            _ => serde_json::json!(true),
                        };
                        axum::Json(serde_json::json!({"ok": true, "result": result}))
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        axum::serve(listener, app).await.unwrap();
    });
    let polled = polled_rx.recv_timeout(std::time::Duration::from_secs(30));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    // Shutdown must finish: a hang fails the test instead of hanging it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("full_bot did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    seen.extend(lines.iter());
    let log = seen.join("\n");
    assert!(
        polled.is_ok(),
        "the bot never polled after Telegram came up:\n{log}"
    );
    assert!(status.success(), "{status:?}\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        !log.contains("LATE_telegram_secret"),
        "the token leaked:\n{log}"
    );
}

/// Starts `full_bot` with `env` and returns it with its base URL.
fn start_with(
    bin: &PathBuf,
    dir: &tempfile::TempDir,
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    let mut c = command(bin, dir);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("miniapp is running: open ")
        .unwrap_or_else(|| panic!("{first}"))
        .trim_end_matches("/miniapp/")
        .to_owned();
    // Keep reading stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

fn stop(mut child: std::process::Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Prometheus metrics are off by default; with `METRICS_TOKEN` they are on the main listener
/// behind the bearer token; with `METRICS_BIND_ADDR` on their own address only.
#[test]
fn metrics_are_off_by_default_and_never_public_when_on() {
    let bin = full_bot();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = "s3cret-metrics-token-0123";

    let dir = tempfile::tempdir().unwrap();
    let (child, base) = start_with(&bin, &dir, &[]);
    rt.block_on(async {
        assert_eq!(get(&format!("{base}/metrics"), None).await.0, 404);
    });
    stop(child);

    let dir = tempfile::tempdir().unwrap();
    let (child, base) = start_with(&bin, &dir, &[("METRICS_TOKEN", token)]);
    rt.block_on(async {
        assert_eq!(get(&format!("{base}/healthz"), None).await.0, 200);
        let (status, body) = get(&format!("{base}/metrics"), None).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
        let (status, _) = get(&format!("{base}/metrics"), Some("s3cret-metrics-token-012")).await;
        assert_eq!(status, 401, "a prefix of the token is not the token");
        let (status, body) = get(&format!("{base}/metrics"), Some(token)).await;
        assert_eq!(status, 200);
        assert!(
            body.contains(
                "miniapp_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
            ),
            "{body}"
        );
    });
    stop(child);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = start_with(&bin, &dir, &[("METRICS_BIND_ADDR", &metrics_addr)]);
    rt.block_on(async {
        assert_eq!(get(&format!("{base}/metrics"), None).await.0, 404);
        let _ = get(&format!("{base}/api/miniapp/packages"), None).await;
        let (status, body) = get(&format!("http://{metrics_addr}/metrics"), None).await;
        assert_eq!(status, 200);
        assert!(body.contains("route=\"/api/miniapp/packages\""), "{body}");
    });
    stop(child);
}
