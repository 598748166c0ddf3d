//! The app's configuration: the one place that reads environment variables (and `.env`).

use std::net::SocketAddr;
use std::time::Duration;

use miniapp_core::init_data::BotToken;
use miniapp_core::payment::RefundPolicy;

/// Whether the offline sandbox takes card payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    /// On when no real card provider is configured (the default).
    Auto,
    /// On even next to Stripe (explicitly asked for with `MINIAPP_SANDBOX=on`).
    On,
    /// Off.
    Off,
}

/// How the bot receives updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotMode {
    /// Long polling (`getUpdates`): works anywhere, the default.
    Polling,
    /// A webhook at `{PUBLIC_BASE_URL}/telegram/webhook` on the app's own listener (needs https).
    Webhook,
}

/// Everything `full_bot` can be configured with; see the README's configuration table.
#[derive(Debug, Clone)]
pub struct Config {
    /// `BIND_ADDR`, default `127.0.0.1:8080`.
    pub bind_addr: SocketAddr,
    /// `PUBLIC_BASE_URL`: where users reach the app (`https://…` for Telegram).
    pub public_base_url: Option<String>,
    /// `TELEGRAM_BOT_TOKEN`; without it the app runs in development mode.
    pub bot_token: Option<BotToken>,
    /// `DATABASE_URL`, default `sqlite://miniapp.db` (a file next to where you run it).
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`: the PostgreSQL pool size, default twice the CPU count plus
    /// one.
    pub database_max_connections: u32,
    /// `INIT_DATA_MAX_AGE` in seconds, default 86400.
    pub init_data_max_age: Duration,
    /// `PAYMENT_METHODS`, comma-separated, default `card`.
    pub payment_methods: Vec<String>,
    /// `MINIAPP_SANDBOX` = `auto` (default) | `on` | `off`.
    pub sandbox: SandboxMode,
    /// `REFUND_POLICY` = `debt` (default) | `cap_at_zero`.
    pub refund_policy: RefundPolicy,
    /// `RECONCILE_AFTER` in seconds, default 120.
    pub reconcile_after: Duration,
    /// `TELEGRAM_MODE` = `polling` (default) | `webhook`.
    pub bot_mode: BotMode,
    /// `BOT_OWNER_IDS`: Telegram user ids allowed to use owner commands (`/refund`).
    pub owners: Vec<i64>,
    /// `TELEGRAM_API_URL`: another Bot API server (a self-hosted `telegram-bot-api`, or a fake
    /// in tests); default Telegram's own.
    #[cfg(feature = "teloxide")]
    pub telegram_api_url: Option<url::Url>,
    /// `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`.
    #[cfg(feature = "stripe")]
    pub stripe: Option<miniapp_stripe::StripeConfig>,
}

/// A configuration error: one clear sentence naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(s: impl Into<String>) -> ConfigError {
    ConfigError(s.into())
}

impl Config {
    /// Reads the process environment, after loading `.env` from the working directory if there is
    /// one (variables already set win).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_env() -> Result<Config, ConfigError> {
        if let Ok(text) = std::fs::read_to_string(".env") {
            let vars = parse_dotenv(&text)?;
            let lookup = |k: &str| {
                std::env::var(k)
                    .ok()
                    .or_else(|| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            };
            return Config::from_lookup(lookup);
        }
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bind_addr = match get("BIND_ADDR") {
            Some(v) => v.parse().map_err(|_| {
                err(format!(
                    "BIND_ADDR {v:?} is not an address like 127.0.0.1:8080"
                ))
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let public_base_url = get("PUBLIC_BASE_URL").map(|u| check_url(&u)).transpose()?;
        let bot_token = get("TELEGRAM_BOT_TOKEN")
            .map(|t| BotToken::new(t).map_err(|e| err(format!("TELEGRAM_BOT_TOKEN: {e}"))))
            .transpose()?;
        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://miniapp.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err(
                "DATABASE_URL must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        let database_max_connections = match get("DATABASE_MAX_CONNECTIONS") {
            // More connections than the cores can serve only queue inside PostgreSQL and add
            // context switches (the load test: p99 of a status poll 15 ms at 16, 9.5 ms at 4 on
            // two cores); twice the cores plus one is the usual starting point.
            None => std::thread::available_parallelism()
                .map_or(4, |n| {
                    u32::try_from(n.get()).unwrap_or(32).saturating_mul(2)
                })
                .saturating_add(1),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    err(format!(
                        "DATABASE_MAX_CONNECTIONS must be a number from 1 to 1000, not {v:?}"
                    ))
                })?,
        };
        let seconds = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .map(Duration::from_secs)
                    .ok_or_else(|| {
                        err(format!(
                            "{name} must be a positive number of seconds, not {v:?}"
                        ))
                    }),
            }
        };
        let init_data_max_age = seconds("INIT_DATA_MAX_AGE", 86_400)?;
        let reconcile_after = seconds("RECONCILE_AFTER", 120)?;
        let payment_methods: Vec<String> = get("PAYMENT_METHODS")
            .unwrap_or_else(|| "card".into())
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .collect();
        for m in &payment_methods {
            if !matches!(m.as_str(), "card" | "stars") {
                return Err(err(format!(
                    "PAYMENT_METHODS: unknown payment method {m:?} (known: card, stars)"
                )));
            }
        }
        if payment_methods.iter().any(|m| m == "stars") && bot_token.is_none() {
            return Err(err(
                "PAYMENT_METHODS includes stars, which needs TELEGRAM_BOT_TOKEN",
            ));
        }
        let owners = match get("BOT_OWNER_IDS") {
            None => Vec::new(),
            Some(v) => v
                .split(',')
                .map(|id| id.trim().parse::<i64>().ok().filter(|id| *id > 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    err(format!(
                        "BOT_OWNER_IDS must be comma-separated Telegram user ids, not {v:?}"
                    ))
                })?,
        };
        if payment_methods.is_empty() {
            return Err(err("PAYMENT_METHODS names no method"));
        }
        let sandbox = match get("MINIAPP_SANDBOX").as_deref() {
            None | Some("auto") => SandboxMode::Auto,
            Some("on") => SandboxMode::On,
            Some("off") => SandboxMode::Off,
            Some(v) => {
                return Err(err(format!(
                    "MINIAPP_SANDBOX must be auto, on or off, not {v:?}"
                )));
            }
        };
        let refund_policy = match get("REFUND_POLICY").as_deref() {
            None | Some("debt") => RefundPolicy::Debt,
            Some("cap_at_zero") => RefundPolicy::CapAtZero,
            Some(v) => {
                return Err(err(format!(
                    "REFUND_POLICY must be debt or cap_at_zero, not {v:?}"
                )));
            }
        };
        let bot_mode = match get("TELEGRAM_MODE").as_deref() {
            None | Some("polling") => BotMode::Polling,
            Some("webhook") => BotMode::Webhook,
            Some(v) => {
                return Err(err(format!(
                    "TELEGRAM_MODE must be polling or webhook, not {v:?}"
                )));
            }
        };
        if bot_mode == BotMode::Webhook
            && !public_base_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        {
            return Err(err(
                "TELEGRAM_MODE=webhook needs an https:// PUBLIC_BASE_URL (Telegram delivers webhooks only over https)",
            ));
        }
        #[cfg(feature = "teloxide")]
        let telegram_api_url = get("TELEGRAM_API_URL")
            .map(|u| {
                // The bot token travels in the URL path: plain http only to this machine.
                let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                    .iter()
                    .any(|p| u.strip_prefix(p).is_some_and(|r| r.is_empty() || r.starts_with([':', '/'])));
                check_url(&u)
                    .ok()
                    .filter(|_| u.starts_with("https://") || loopback)
                    .and_then(|u| url::Url::parse(&format!("{u}/")).ok())
                    .ok_or_else(|| {
                        err(format!(
                            "TELEGRAM_API_URL {u:?} is not an https:// base URL like https://api.telegram.org (http:// only on 127.0.0.1 or localhost: the bot token is in the URL)"
                        ))
                    })
            })
            .transpose()?;
        #[cfg(feature = "stripe")]
        let stripe =
            miniapp_stripe::StripeConfig::from_lookup(&lookup).map_err(|e| err(e.to_string()))?;
        Ok(Config {
            bind_addr,
            public_base_url,
            bot_token,
            database_url,
            database_max_connections,
            init_data_max_age,
            payment_methods,
            sandbox,
            refund_policy,
            reconcile_after,
            bot_mode,
            owners,
            #[cfg(feature = "teloxide")]
            telegram_api_url,
            #[cfg(feature = "stripe")]
            stripe,
        })
    }
}

fn check_url(url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            err(format!(
                "PUBLIC_BASE_URL {url:?} must start with https:// (or http:// for local tests)"
            ))
        })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || rest.contains(['?', '#']) {
        return Err(err(format!(
            "PUBLIC_BASE_URL {url:?} is not a base URL like https://bot.example.com"
        )));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// `KEY=value` lines; `#` comments, blank lines, optional `export ` and quotes.
fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| err(format!(".env line {}: expected KEY=value", n + 1)))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        vars.push((k.trim().to_owned(), v.to_owned()));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://miniapp.db");
        assert!(c.bot_token.is_none() && c.public_base_url.is_none());
        assert_eq!(c.sandbox, SandboxMode::Auto);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (pairs, needle) in [
            (vec![("BIND_ADDR", "nope")], "BIND_ADDR"),
            (vec![("PUBLIC_BASE_URL", "ftp://x")], "PUBLIC_BASE_URL"),
            (vec![("PUBLIC_BASE_URL", "https://")], "PUBLIC_BASE_URL"),
            (vec![("TELEGRAM_BOT_TOKEN", "abc")], "TELEGRAM_BOT_TOKEN"),
            (vec![("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
            (vec![("INIT_DATA_MAX_AGE", "-1")], "INIT_DATA_MAX_AGE"),
            (vec![("PAYMENT_METHODS", "card,bitcoin")], "bitcoin"),
            (vec![("MINIAPP_SANDBOX", "maybe")], "MINIAPP_SANDBOX"),
            (
                vec![
                    ("TELEGRAM_MODE", "webhook"),
                    ("PUBLIC_BASE_URL", "http://x.example"),
                ],
                "https",
            ),
            (vec![("TELEGRAM_MODE", "push")], "TELEGRAM_MODE"),
            (
                vec![("DATABASE_MAX_CONNECTIONS", "0")],
                "DATABASE_MAX_CONNECTIONS",
            ),
            (vec![("TELEGRAM_API_URL", "ftp://x")], "TELEGRAM_API_URL"),
            (
                vec![("TELEGRAM_API_URL", "http://api.example.com")],
                "TELEGRAM_API_URL",
            ),
            (
                vec![("TELEGRAM_API_URL", "http://127.0.0.1.evil.example")],
                "TELEGRAM_API_URL",
            ),
            (
                vec![
                    ("STRIPE_SECRET_KEY", "sk_test_1"),
                    ("PUBLIC_BASE_URL", "https://x.example"),
                ],
                "STRIPE_WEBHOOK_SECRET",
            ),
        ] {
            let e = config(&pairs).unwrap_err();
            assert!(e.0.contains(needle), "{e}");
        }
    }

    #[test]
    fn dotenv_lines() {
        let v = parse_dotenv("# c\nA=1\nexport B = \"two words\"\n\nC='x'\n").unwrap();
        assert_eq!(
            v,
            [
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x".into())
            ]
        );
        assert!(parse_dotenv("oops").is_err());
    }
}
