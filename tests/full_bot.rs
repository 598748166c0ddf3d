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
        assert!(page.text().await.unwrap().contains("payment.js"));
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
