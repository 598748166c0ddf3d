//! The app's configuration: the one place that reads environment variables (and `.env`).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use miniapp_core::init_data::BotToken;
use miniapp_core::payment::RefundPolicy;
use miniapp_core::provider::is_loopback_http;

/// Whether the offline sandbox takes card payments. Anyone can pay it with a test card, so it
/// must never stand in for a real provider unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    /// `auto`, the default: on only in development mode (no `TELEGRAM_BOT_TOKEN`) and only when
    /// Stripe is not configured. With a bot token it is off.
    DevelopmentOnly,
    /// `on`: on even with a bot token (a test bot) and next to Stripe (as its own method
    /// `sandbox`). Start-up warns, the page marks the method as a test and the bot says so in its
    /// messages; refused next to a live Stripe key.
    On,
    /// `off`.
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

/// Everything `full_bot` can be configured with; see the README's configuration table. `Debug`
/// shows no secret: the bot token and the Stripe keys are masked, and so is the password of
/// `DATABASE_URL`.
#[derive(Clone)]
pub struct Config {
    /// `BIND_ADDR`, default `127.0.0.1:8080`.
    pub bind_addr: SocketAddr,
    /// `PUBLIC_BASE_URL`: where users reach the app (`https://…` for Telegram).
    pub public_base_url: Option<String>,
    /// `TELEGRAM_BOT_TOKEN`; without it the app runs in development mode.
    pub bot_token: Option<BotToken>,
    /// `BOT_USERNAME` (`my_shop_bot`, a leading `@` allowed and dropped): the page links to
    /// `https://t.me/<username>` when it is opened outside Telegram. Unset with a bot token, the
    /// app asks Telegram (`getMe`) after start-up.
    pub bot_username: Option<String>,
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
    /// `MINIAPP_OPERATOR`, else `USER`, else `operator`: who `full_bot admin` records as acting
    /// (`--by` overrides it per command).
    pub operator: String,
    /// `MAX_OPEN_PAYMENTS`: open payments a user may have from the last hour, default 5; `0`
    /// disables the limit (load tests).
    pub max_open_payments: u32,
    /// `RATE_LIMIT_PER_MINUTE`: `create-payment` calls per user per minute (five times that per
    /// client address), default 20; `0` disables rate limiting.
    pub rate_limit_per_minute: u32,
    /// `TRUST_X_FORWARDED_FOR` = `false` (default) | `true`: take the client address for rate
    /// limiting from the last `X-Forwarded-For` entry (behind your own reverse proxy).
    pub trust_forwarded_for: bool,
    /// `TELEGRAM_WEBHOOK_SECRET`: the `secret_token` of the bot's webhook. Unset, it is derived
    /// from the bot token, so every instance of one bot accepts the same updates.
    pub telegram_webhook_secret: Option<secrecy::SecretString>,
    /// `METRICS_BIND_ADDR`: serve Prometheus `/metrics` on this address of its own (an internal
    /// interface, say). Unset, and `METRICS_TOKEN` unset too, there are no metrics.
    pub metrics_bind_addr: Option<SocketAddr>,
    /// `METRICS_TOKEN` (at least 16 characters): `/metrics` requires
    /// `Authorization: Bearer <token>`; without `METRICS_BIND_ADDR` it is served on the main
    /// listener.
    pub metrics_token: Option<secrecy::SecretString>,
    /// `TELEGRAM_API_URL`: another Bot API server (a self-hosted `telegram-bot-api`, or a fake
    /// in tests); default Telegram's own.
    #[cfg(feature = "teloxide")]
    pub telegram_api_url: Option<url::Url>,
    /// `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`.
    #[cfg(feature = "stripe")]
    pub stripe: Option<miniapp_stripe::StripeConfig>,
    /// `PAYPAL_CLIENT_ID`, `PAYPAL_CLIENT_SECRET`, `PAYPAL_WEBHOOK_ID`, `PAYPAL_ENV`
    /// (`PAYPAL_API_BASE` for a fake in tests); needed when `PAYMENT_METHODS` names `paypal`.
    #[cfg(feature = "paypal")]
    pub paypal: Option<miniapp_paypal::PayPalConfig>,
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
        let bot_username = get("BOT_USERNAME")
            .map(|u| {
                crate::http::HttpSettings::bot_url_for(&u)
                    .map(|_| u.strip_prefix('@').unwrap_or(&u).to_owned())
                    .ok_or_else(|| {
                        err(format!(
                            "BOT_USERNAME {u:?} is not a bot username like my_shop_bot (5 to 32 characters of A-Z, a-z, 0-9 and _, starting with a letter)"
                        ))
                    })
            })
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
            if !matches!(m.as_str(), "card" | "stars" | "paypal") {
                return Err(err(format!(
                    "PAYMENT_METHODS: unknown payment method {m:?} (known: card, stars, paypal)"
                )));
            }
        }
        if payment_methods.iter().any(|m| m == "stars") && bot_token.is_none() {
            return Err(err(
                "PAYMENT_METHODS includes stars, which needs TELEGRAM_BOT_TOKEN",
            ));
        }
        let operator = get("MINIAPP_OPERATOR")
            .or_else(|| get("USER"))
            .filter(|o| !o.trim().is_empty())
            .unwrap_or_else(|| "operator".to_owned());
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
        let count = |name: &str, default: u32, min: u32| -> Result<u32, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (min..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        err(format!(
                            "{name} must be a whole number from {min} to 1000000, not {v:?}"
                        ))
                    }),
            }
        };
        let max_open_payments = count("MAX_OPEN_PAYMENTS", 5, 0)?;
        if max_open_payments > 100 {
            // The ledger lists at most 100 open payments of a user.
            return Err(err(format!(
                "MAX_OPEN_PAYMENTS must be a whole number from 0 (no limit) to 100, not {max_open_payments}"
            )));
        }
        let rate_limit_per_minute = count("RATE_LIMIT_PER_MINUTE", 20, 0)?;
        let trust_forwarded_for = match get("TRUST_X_FORWARDED_FOR").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => {
                return Err(err(format!(
                    "TRUST_X_FORWARDED_FOR must be true or false, not {v:?}"
                )));
            }
        };
        let metrics_bind_addr = match get("METRICS_BIND_ADDR") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| {
                err(format!(
                    "METRICS_BIND_ADDR {v:?} is not an address like 127.0.0.1:9100"
                ))
            })?),
        };
        let metrics_token = match get("METRICS_TOKEN") {
            None => None,
            Some(v) if v.len() >= 16 && v.bytes().all(|b| b.is_ascii_graphic()) => {
                Some(secrecy::SecretString::from(v))
            }
            Some(_) => {
                return Err(err(
                    "METRICS_TOKEN must be at least 16 printable characters without spaces",
                ));
            }
        };
        let telegram_webhook_secret = match get("TELEGRAM_WEBHOOK_SECRET") {
            None => None,
            // Telegram's own rule for secret_token.
            Some(v)
                if v.len() <= 256
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                Some(secrecy::SecretString::from(v))
            }
            Some(_) => {
                return Err(err(
                    "TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -",
                ));
            }
        };
        let sandbox = match get("MINIAPP_SANDBOX").as_deref() {
            None | Some("auto") => SandboxMode::DevelopmentOnly,
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
                let loopback = is_loopback_http(&u);
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
        #[cfg(feature = "stripe")]
        let (has_stripe, live_stripe) = (
            stripe.is_some(),
            stripe
                .as_ref()
                .is_some_and(miniapp_stripe::StripeConfig::is_live_mode),
        );
        #[cfg(not(feature = "stripe"))]
        let (has_stripe, live_stripe) = (false, false);
        if live_stripe && sandbox == SandboxMode::On {
            return Err(err(
                "MINIAPP_SANDBOX=on next to a live STRIPE_SECRET_KEY would let anyone pay with a test card: use a sk_test_ key or drop MINIAPP_SANDBOX",
            ));
        }
        let card = payment_methods.iter().any(|m| m == "card");
        let sandbox_enabled = sandbox_enabled(sandbox, bot_token.is_some(), has_stripe);
        if card && !has_stripe && !sandbox_enabled {
            return Err(err(if bot_token.is_some() {
                "PAYMENT_METHODS includes card, but STRIPE_SECRET_KEY is not set: with TELEGRAM_BOT_TOKEN card payments need Stripe (or MINIAPP_SANDBOX=on for a test bot whose tokens are worth nothing; or PAYMENT_METHODS=stars)"
            } else {
                "PAYMENT_METHODS includes card, but STRIPE_SECRET_KEY is not set and MINIAPP_SANDBOX=off: card payments have no provider"
            }));
        }
        #[cfg(feature = "paypal")]
        let paypal =
            miniapp_paypal::PayPalConfig::from_lookup(&lookup).map_err(|e| err(e.to_string()))?;
        #[cfg(feature = "paypal")]
        let has_paypal = paypal.is_some();
        #[cfg(not(feature = "paypal"))]
        let has_paypal = false;
        if payment_methods.iter().any(|m| m == "paypal") && !has_paypal {
            return Err(err(
                "PAYMENT_METHODS includes paypal, but PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET and PAYPAL_WEBHOOK_ID are not set",
            ));
        }
        // Telegram opens the page, and the checkout returns to it, only over https.
        let returns_to_page = card || payment_methods.iter().any(|m| m == "paypal");
        if bot_token.is_some()
            && returns_to_page
            && !public_base_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://") || is_loopback_http(u))
        {
            return Err(err(
                "PUBLIC_BASE_URL must be an https:// URL with TELEGRAM_BOT_TOKEN and card or PayPal payments: the checkout returns to the page there, and Telegram opens only https (http:// only on 127.0.0.1 or localhost, for local tests)",
            ));
        }
        Ok(Config {
            bind_addr,
            public_base_url,
            bot_token,
            bot_username,
            database_url,
            database_max_connections,
            init_data_max_age,
            payment_methods,
            sandbox,
            refund_policy,
            reconcile_after,
            bot_mode,
            owners,
            operator,
            max_open_payments,
            rate_limit_per_minute,
            trust_forwarded_for,
            telegram_webhook_secret,
            metrics_bind_addr,
            metrics_token,
            #[cfg(feature = "teloxide")]
            telegram_api_url,
            #[cfg(feature = "stripe")]
            stripe,
            #[cfg(feature = "paypal")]
            paypal,
        })
    }
}

impl Config {
    /// Whether the sandbox takes payments under this configuration: [`SandboxMode::On`], or
    /// [`SandboxMode::DevelopmentOnly`] in development mode without Stripe.
    pub fn sandbox_enabled(&self) -> bool {
        #[cfg(feature = "stripe")]
        let has_stripe = self.stripe.is_some();
        #[cfg(not(feature = "stripe"))]
        let has_stripe = false;
        sandbox_enabled(self.sandbox, self.bot_token.is_some(), has_stripe)
    }
}

fn sandbox_enabled(mode: SandboxMode, bot_token: bool, stripe: bool) -> bool {
    match mode {
        SandboxMode::DevelopmentOnly => !bot_token && !stripe,
        SandboxMode::On => true,
        SandboxMode::Off => false,
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Config");
        d.field("bind_addr", &self.bind_addr)
            .field(
                "public_base_url",
                &self.public_base_url.as_deref().map(redact_url),
            )
            .field("bot_token", &self.bot_token)
            .field("bot_username", &self.bot_username)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("init_data_max_age", &self.init_data_max_age)
            .field("payment_methods", &self.payment_methods)
            .field("sandbox", &self.sandbox)
            .field("refund_policy", &self.refund_policy)
            .field("reconcile_after", &self.reconcile_after)
            .field("bot_mode", &self.bot_mode)
            .field("owners", &self.owners)
            .field("operator", &self.operator)
            .field("max_open_payments", &self.max_open_payments)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field(
                "telegram_webhook_secret",
                &self.telegram_webhook_secret.as_ref().map(|_| "***"),
            )
            .field("metrics_bind_addr", &self.metrics_bind_addr)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"));
        #[cfg(feature = "teloxide")]
        d.field(
            "telegram_api_url",
            &self
                .telegram_api_url
                .as_ref()
                .map(|u| redact_url(u.as_str())),
        );
        #[cfg(feature = "stripe")]
        d.field("stripe", &self.stripe);
        #[cfg(feature = "paypal")]
        d.field("paypal", &self.paypal);
        d.finish()
    }
}

/// `url` with the password of its user info and of any `password` query parameter masked.
pub(crate) fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => match user_info.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.to_ascii_lowercase().contains("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{out}?{}", pairs.join("&"));
    }
    out
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
        assert_eq!(c.sandbox, SandboxMode::DevelopmentOnly);
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

    const TOKEN: &str = "7000000009:SECRET_bot_token_value";

    #[cfg(feature = "paypal")]
    #[test]
    fn paypal_needs_its_three_credentials_and_defaults_to_the_sandbox() {
        let e = config(&[("PAYMENT_METHODS", "paypal")]).unwrap_err();
        assert!(e.0.contains("PAYPAL_CLIENT_ID"), "{e}");
        let e = config(&[
            ("PAYMENT_METHODS", "paypal"),
            ("PAYPAL_CLIENT_ID", "id"),
            ("PAYPAL_CLIENT_SECRET", "paypal-secret-value"),
            ("PUBLIC_BASE_URL", "https://bot.example"),
        ])
        .unwrap_err();
        assert!(e.0.contains("PAYPAL_WEBHOOK_ID"), "{e}");
        let c = config(&[
            ("PAYMENT_METHODS", "card,paypal"),
            ("PAYPAL_CLIENT_ID", "id"),
            ("PAYPAL_CLIENT_SECRET", "paypal-secret-value"),
            ("PAYPAL_WEBHOOK_ID", "WH1"),
            ("PUBLIC_BASE_URL", "https://bot.example"),
        ])
        .unwrap();
        let paypal = c.paypal.as_ref().unwrap();
        assert_eq!(
            paypal.environment(),
            miniapp_paypal::PayPalEnvironment::Sandbox
        );
        assert!(!format!("{c:?}").contains("paypal-secret-value"));
        // PayPal sends the buyer back to PUBLIC_BASE_URL: https with a real bot.
        let e = config(&[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("PAYMENT_METHODS", "paypal"),
            ("PAYPAL_CLIENT_ID", "id"),
            ("PAYPAL_CLIENT_SECRET", "paypal-secret-value"),
            ("PAYPAL_WEBHOOK_ID", "WH1"),
            ("PUBLIC_BASE_URL", "http://bot.example"),
        ])
        .unwrap_err();
        assert!(e.0.contains("https://"), "{e}");
    }

    #[cfg(feature = "stripe")]
    #[test]
    fn the_sandbox_is_on_by_default_only_in_development_mode() {
        let dev = config(&[]).unwrap();
        assert!(
            dev.sandbox_enabled(),
            "no bot token: the demo pays with the sandbox"
        );
        let bot = config(&[("TELEGRAM_BOT_TOKEN", TOKEN), ("PAYMENT_METHODS", "stars")]).unwrap();
        assert!(!bot.sandbox_enabled(), "a bot token turns auto off");
        let test_bot = config(&[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("MINIAPP_SANDBOX", "on"),
            ("PUBLIC_BASE_URL", "https://bot.example"),
        ])
        .unwrap();
        assert!(test_bot.sandbox_enabled(), "explicitly on");
        let with_stripe = config(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("PUBLIC_BASE_URL", "https://bot.example"),
        ])
        .unwrap();
        assert!(!with_stripe.sandbox_enabled(), "Stripe takes the card");
    }

    #[cfg(feature = "stripe")]
    #[test]
    fn a_bot_with_card_and_no_stripe_refuses_to_start() {
        for pairs in [
            vec![
                ("TELEGRAM_BOT_TOKEN", TOKEN),
                ("PUBLIC_BASE_URL", "https://bot.example"),
            ],
            vec![
                ("TELEGRAM_BOT_TOKEN", TOKEN),
                ("PUBLIC_BASE_URL", "https://bot.example"),
                ("MINIAPP_SANDBOX", "auto"),
                ("PAYMENT_METHODS", "card,stars"),
            ],
            vec![
                ("TELEGRAM_BOT_TOKEN", TOKEN),
                ("PUBLIC_BASE_URL", "https://bot.example"),
                ("MINIAPP_SANDBOX", "off"),
            ],
        ] {
            let e = config(&pairs).unwrap_err();
            assert!(
                e.0.contains("STRIPE_SECRET_KEY") && e.0.contains("MINIAPP_SANDBOX"),
                "{pairs:?}: {e}"
            );
        }
        let e = config(&[("MINIAPP_SANDBOX", "off")]).unwrap_err();
        assert!(
            e.0.contains("STRIPE_SECRET_KEY") && e.0.contains("MINIAPP_SANDBOX"),
            "{e}"
        );
    }

    #[cfg(feature = "stripe")]
    #[test]
    fn a_live_stripe_key_and_the_sandbox_refuse_to_start_together() {
        // A key that is not recognisably a test key counts as live.
        for key in ["sk_live_1", "rk_live_1", "sk_1"] {
            let e = config(&[
                ("STRIPE_SECRET_KEY", key),
                ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
                ("PUBLIC_BASE_URL", "https://bot.example"),
                ("MINIAPP_SANDBOX", "on"),
            ])
            .unwrap_err();
            assert!(
                e.0.contains("MINIAPP_SANDBOX") && e.0.contains("live"),
                "{e}"
            );
        }
        config(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("PUBLIC_BASE_URL", "https://bot.example"),
            ("MINIAPP_SANDBOX", "on"),
        ])
        .unwrap();
    }

    #[cfg(feature = "stripe")]
    #[test]
    fn a_bot_taking_cards_needs_an_https_public_url() {
        let stripe = [
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("STRIPE_SECRET_KEY", "sk_live_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ];
        for url in ["http://bot.example", "http://127.0.0.1.evil.example"] {
            let mut pairs = stripe.to_vec();
            pairs.push(("PUBLIC_BASE_URL", url));
            let e = config(&pairs).unwrap_err();
            assert!(
                e.0.contains("PUBLIC_BASE_URL") && e.0.contains("https"),
                "{url}: {e}"
            );
        }
        let sandbox_bot = [("TELEGRAM_BOT_TOKEN", TOKEN), ("MINIAPP_SANDBOX", "on")];
        let e = config(&sandbox_bot).unwrap_err();
        assert!(e.0.contains("PUBLIC_BASE_URL"), "{e}");
        for url in ["https://bot.example", "http://127.0.0.1:8080"] {
            let mut pairs = stripe.to_vec();
            pairs.push(("PUBLIC_BASE_URL", url));
            config(&pairs).unwrap();
        }
        // Stars alone have no return URL.
        config(&[("TELEGRAM_BOT_TOKEN", TOKEN), ("PAYMENT_METHODS", "stars")]).unwrap();
    }

    #[cfg(feature = "stripe")]
    #[test]
    fn stripe_api_base_in_clear_text_only_on_loopback() {
        let e = config(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("PUBLIC_BASE_URL", "https://bot.example"),
            ("STRIPE_API_BASE", "http://stripe.example"),
        ])
        .unwrap_err();
        assert!(e.0.contains("STRIPE_API_BASE"), "{e}");
    }

    #[cfg(feature = "stripe")]
    #[test]
    fn debug_shows_no_secret() {
        let c = config(&[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("PAYMENT_METHODS", "card"),
            ("PUBLIC_BASE_URL", "https://bot.example"),
            ("STRIPE_SECRET_KEY", "sk_test_SECRETstripekey"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_SECRETwebhook"),
            ("TELEGRAM_WEBHOOK_SECRET", "SECRETtelegramwebhook"),
            ("TELEGRAM_API_URL", "https://relay:SECRETrelay@bot-api.example"),
            (
                "DATABASE_URL",
                "postgres://shop:SECRETdbpassword@db.example:5432/shop?sslmode=require&password=SECRETtoo",
            ),
        ])
        .unwrap();
        let debug = format!("{c:?} {c:#?}");
        for secret in [
            "SECRET_bot_token_value",
            "SECRETstripekey",
            "SECRETwebhook",
            "SECRETtelegramwebhook",
            "SECRETdbpassword",
            "SECRETtoo",
            "SECRETrelay",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(
            debug.contains("postgres://shop:***@db.example:5432/shop?sslmode=require&password=***"),
            "{debug}"
        );
    }

    #[test]
    fn urls_are_redacted_without_losing_what_helps() {
        assert_eq!(redact_url("sqlite://miniapp.db"), "sqlite://miniapp.db");
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(
            redact_url("postgresql://u:p%40ss@h/db"),
            "postgresql://u:***@h/db"
        );
    }

    #[test]
    fn limits_and_webhook_secret_are_read_and_checked() {
        let c = config(&[
            ("MAX_OPEN_PAYMENTS", "3"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("TRUST_X_FORWARDED_FOR", "true"),
        ])
        .unwrap();
        assert_eq!(
            (
                c.max_open_payments,
                c.rate_limit_per_minute,
                c.trust_forwarded_for
            ),
            (3, 0, true)
        );
        let d = config(&[]).unwrap();
        assert_eq!((d.max_open_payments, d.rate_limit_per_minute), (5, 20));
        let unlimited = config(&[("MAX_OPEN_PAYMENTS", "0")]).unwrap();
        assert_eq!(
            unlimited.max_open_payments, 0,
            "0 means no limit (load tests)"
        );
        for (var, value) in [
            ("MAX_OPEN_PAYMENTS", "-1"),
            ("MAX_OPEN_PAYMENTS", "101"),
            ("RATE_LIMIT_PER_MINUTE", "-1"),
            ("TRUST_X_FORWARDED_FOR", "yes"),
            ("TELEGRAM_WEBHOOK_SECRET", "has space"),
        ] {
            let e = config(&[(var, value)]).unwrap_err();
            assert!(e.0.contains(var), "{e}");
        }
    }

    #[test]
    fn bot_username_is_checked_and_loses_its_at() {
        assert_eq!(config(&[]).unwrap().bot_username, None);
        for given in ["my_shop_bot", "@my_shop_bot", " my_shop_bot "] {
            let c = config(&[("BOT_USERNAME", given)]).unwrap();
            assert_eq!(c.bot_username.as_deref(), Some("my_shop_bot"), "{given:?}");
        }
        for bad in [
            "bot",
            "https://t.me/my_shop_bot",
            "my shop bot",
            "1shop_bot",
            "@@my_shop_bot",
            &"b".repeat(33),
        ] {
            let e = config(&[("BOT_USERNAME", bad)]).unwrap_err();
            assert!(e.0.contains("BOT_USERNAME"), "{bad:?}: {e}");
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
