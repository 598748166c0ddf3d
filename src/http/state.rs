//! What the handlers share: the ledger, the payment methods and their providers, the catalog, the
//! init-data verifier and the settings. Built once; no globals.

use std::sync::Arc;
use std::time::Duration;

use miniapp_core::catalog::{Catalog, MethodOffer};
use miniapp_core::clock::{ClockExt, SharedClock};
use miniapp_core::ids::ProviderId;
use miniapp_core::init_data::{BotToken, InitDataVerifier, VerifyOptions};
use miniapp_core::ledger::LedgerStore;
use miniapp_core::payment::RefundPolicy;
use miniapp_core::provider::PaymentProvider;

/// How the page opens a checkout URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Opens {
    /// `Telegram.WebApp.openLink` (or a normal navigation outside Telegram).
    Link,
    /// `Telegram.WebApp.openInvoice`.
    Invoice,
}

/// An enabled payment method: what it charges in, which provider takes the money, how the page
/// opens its checkout.
#[derive(Debug, Clone)]
pub struct EnabledMethod {
    /// The method id and its currency.
    pub offer: MethodOffer,
    /// The provider.
    pub provider: Arc<dyn PaymentProvider>,
    /// How the page opens the checkout.
    pub opens: Opens,
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Init-data freshness rules.
    pub init_data: VerifyOptions,
    /// A pending payment older than this is checked with its provider when its status is asked.
    pub reconcile_after: Duration,
    /// What refunds after spending do.
    pub refund_policy: RefundPolicy,
    /// `https://…` the app is reachable at (return URLs, sandbox links); `None` in local demos.
    pub public_base_url: Option<String>,
    /// A request (reading its body included) that takes longer is answered 408: slow clients
    /// cannot hold a connection and its task forever. A provider call gets four fifths of it
    /// ([`HttpSettings::provider_deadline`]), so a stalled provider is a JSON
    /// `503 provider_unavailable`, never a bare timeout.
    pub request_timeout: Duration,
    /// Open (`created` or `pending`) payments a user may have from the last hour; one more
    /// `create-payment` is `429 too_many_open_payments`. Default 5; `0` disables the limit.
    pub max_open_payments: u32,
    /// `create-payment` calls per verified user per minute (five times that per client address);
    /// `0` disables rate limiting. Default 20: a person retrying never sees it.
    pub rate_limit_per_minute: u32,
    /// Take the client address for rate limiting from the last `X-Forwarded-For` entry (set
    /// when the app runs behind its own reverse proxy) instead of the TCP peer. Default off.
    pub trust_forwarded_for: bool,
    /// The bot's `https://t.me/<username>` link, which `GET /api/miniapp/packages` hands the
    /// page as `bot_url`: the way back to the bot for a page opened outside Telegram. Build it
    /// from a username with [`HttpSettings::bot_url_for`]; [`AppState::new`] refuses any other
    /// shape ([`StateError::InvalidBotUrl`]). `None` (the default): the page offers no link.
    pub bot_url: Option<String>,
}

impl HttpSettings {
    /// How long a provider call (opening a checkout) may take: four fifths of the request
    /// timeout, leaving the rest for the ledger and the answer.
    pub fn provider_deadline(&self) -> Duration {
        (self.request_timeout * 4 / 5).max(Duration::from_millis(1))
    }

    /// `https://t.me/<username>` for a bot's username (a leading `@` is dropped), or `None` when
    /// it is not a Telegram username: 5 to 32 characters of `A-Z a-z 0-9 _`, starting with a
    /// letter.
    ///
    /// ```
    /// use miniapp::http::HttpSettings;
    /// assert_eq!(HttpSettings::bot_url_for("@shop_bot").as_deref(), Some("https://t.me/shop_bot"));
    /// assert_eq!(HttpSettings::bot_url_for("t.me/x"), None);
    /// ```
    pub fn bot_url_for(username: &str) -> Option<String> {
        let username = username.strip_prefix('@').unwrap_or(username);
        let valid = (5..=32).contains(&username.len())
            && username.starts_with(|c: char| c.is_ascii_alphabetic())
            && username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid.then(|| format!("https://t.me/{username}"))
    }
}

/// Whether `url` is what [`HttpSettings::bot_url_for`] makes.
fn is_bot_url(url: &str) -> bool {
    url.strip_prefix("https://t.me/")
        .is_some_and(|username| HttpSettings::bot_url_for(username).as_deref() == Some(url))
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            init_data: VerifyOptions::default(),
            reconcile_after: Duration::from_secs(120),
            refund_policy: RefundPolicy::Debt,
            public_base_url: None,
            request_timeout: Duration::from_secs(15),
            max_open_payments: 5,
            rate_limit_per_minute: 20,
            trust_forwarded_for: false,
            bot_url: None,
        }
    }
}

/// How init data is authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A real bot: init data must be signed with its token.
    Bot(BotToken),
    /// No bot token: a random local token signs and verifies, and `dev-login` hands out init data
    /// for a local test user so the page works in a normal browser.
    Development(BotToken),
}

/// Everything the router needs, shared by all requests.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) ledger: Arc<dyn LedgerStore>,
    pub(crate) catalog: Catalog,
    pub(crate) methods: Vec<EnabledMethod>,
    pub(crate) verifier: InitDataVerifier,
    pub(crate) auth: Auth,
    pub(crate) settings: HttpSettings,
    pub(crate) routes: Vec<axum::Router<AppState>>,
    /// Asks providers about payments whose webhook may be lost (status polls, the sweep).
    pub(crate) reconciler: Arc<crate::reconcile::Reconciler>,
    /// Checkouts being opened by this process.
    pub(crate) checkouts: super::checkout::CheckoutLocks,
    /// Fresh keys create-payment answered with an older payment of the same order.
    pub(crate) handoff_aliases: super::handoff::HandoffAliases,
    /// Requests waiting for a status change (`payment-status?wait=`).
    pub(crate) waiters: Arc<super::watch::StatusWaiters>,
    /// Rate limits of `create-payment` and of the checkout handoff, unless disabled.
    pub(crate) limits: Option<super::limits::RateLimits>,
    /// The bot's link learned after start-up (`getMe`), when the settings had none.
    pub(crate) learned_bot_url: std::sync::OnceLock<String>,
}

/// Why an [`AppState`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// No payment method enabled.
    #[error("no payment method is enabled")]
    NoMethods,
    /// Two methods with one id.
    #[error("payment method {0} is enabled twice")]
    DuplicateMethod(String),
    /// A method's currency has no price in the catalog.
    #[error("payment method {method} charges {currency}, but no package has a price in it")]
    UnpricedCurrency {
        /// The method.
        method: String,
        /// Its currency.
        currency: String,
    },
    /// [`HttpSettings::bot_url`] is not `https://t.me/<username>`.
    #[error("bot_url {0:?} is not a link like https://t.me/my_shop_bot")]
    InvalidBotUrl(String),
}

/// The parts of an [`AppState`].
#[derive(Debug)]
pub struct StateParts {
    /// The ledger.
    pub ledger: Arc<dyn LedgerStore>,
    /// The catalog (the price authority).
    pub catalog: Catalog,
    /// Enabled methods; the first is the page's default.
    pub methods: Vec<EnabledMethod>,
    /// How init data is authenticated.
    pub auth: Auth,
    /// Settings.
    pub settings: HttpSettings,
    /// Routes the providers bring along (the sandbox's checkout page:
    /// [`SandboxProvider::routes`](crate::sandbox::SandboxProvider::routes)), merged into
    /// [`payments_router`](super::payments_router) next to the API. Paths are relative to where
    /// the payments router is mounted.
    pub routes: Vec<axum::Router<AppState>>,
    /// Where "now" comes from: init-data age, webhook timestamps, payment ages. Give the stores
    /// the same clock ([`SystemClock::shared`](miniapp_core::clock::SystemClock::shared) in
    /// production, a [`ManualClock`](miniapp_core::clock::ManualClock) in tests).
    pub clock: SharedClock,
}

impl AppState {
    /// Shared state from its parts.
    ///
    /// # Errors
    /// [`StateError`] when the methods do not fit the catalog.
    pub fn new(parts: StateParts) -> Result<AppState, StateError> {
        let StateParts {
            ledger,
            catalog,
            methods,
            auth,
            settings,
            routes,
            clock,
        } = parts;
        if methods.is_empty() {
            return Err(StateError::NoMethods);
        }
        if let Some(url) = settings.bot_url.as_deref().filter(|u| !is_bot_url(u)) {
            return Err(StateError::InvalidBotUrl(url.to_owned()));
        }
        for (i, m) in methods.iter().enumerate() {
            if methods[..i]
                .iter()
                .any(|o| o.offer.method == m.offer.method)
            {
                return Err(StateError::DuplicateMethod(m.offer.method.to_string()));
            }
            if !catalog
                .packages()
                .iter()
                .all(|p| p.price_in(m.offer.currency).is_some())
            {
                return Err(StateError::UnpricedCurrency {
                    method: m.offer.method.to_string(),
                    currency: m.offer.currency.to_string(),
                });
            }
        }
        let token = match &auth {
            Auth::Bot(t) | Auth::Development(t) => t,
        };
        let verifier = InitDataVerifier::new(token).with_options(settings.init_data);
        let mut providers: Vec<Arc<dyn PaymentProvider>> = Vec::new();
        for m in &methods {
            if !providers.iter().any(|p| p.id() == m.provider.id()) {
                providers.push(m.provider.clone());
            }
        }
        let reconciler = Arc::new(
            crate::reconcile::Reconciler::new(ledger.clone(), providers)
                .with_refund_policy(settings.refund_policy)
                .with_reconcile_after(settings.reconcile_after)
                .with_deadline(settings.provider_deadline())
                .with_clock(clock),
        );
        let waiters = Arc::new(super::watch::StatusWaiters::default());
        let woken = waiters.clone();
        ledger.watch_status(Arc::new(move |id| woken.wake(id)));
        let limits = super::limits::RateLimits::new(
            settings.rate_limit_per_minute,
            settings.trust_forwarded_for,
        );
        Ok(AppState {
            inner: Arc::new(Inner {
                ledger,
                catalog,
                methods,
                verifier,
                auth,
                settings,
                routes,
                reconciler,
                checkouts: super::checkout::CheckoutLocks::default(),
                handoff_aliases: super::handoff::HandoffAliases::default(),
                waiters,
                limits,
                learned_bot_url: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Answers every request waiting for a status change (`payment-status?wait=`) now, and every
    /// later one at once: call it when the server starts shutting down, so a graceful shutdown
    /// does not wait out the long polls. [`crate::app::run`] does.
    pub fn stop_waiting(&self) {
        self.inner.waiters.close();
    }

    /// How many `payment-status?wait=` requests are waiting now (subscribed to their payment's
    /// changes).
    pub fn waiting_requests(&self) -> usize {
        self.inner.waiters.waiting()
    }

    /// Whether [`forward_status_changes`](crate::http::forward_status_changes) is listening to
    /// PostgreSQL now (changes committed by other instances wake this one's waiting requests).
    pub fn status_listener_connected(&self) -> bool {
        self.inner
            .waiters
            .listening
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<dyn LedgerStore> {
        &self.inner.ledger
    }

    /// The reconciler (for [`run_sweeper`](crate::reconcile::run_sweeper)).
    pub fn reconciler(&self) -> &Arc<crate::reconcile::Reconciler> {
        &self.inner.reconciler
    }

    /// The settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// The bot's link the page offers outside Telegram: [`HttpSettings::bot_url`], or else the
    /// one learned from the bot's username after start-up ([`AppState::learn_bot_username`]).
    pub fn bot_url(&self) -> Option<&str> {
        self.inner
            .settings
            .bot_url
            .as_deref()
            .or_else(|| self.inner.learned_bot_url.get().map(String::as_str))
    }

    /// Sets [`AppState::bot_url`] from the bot's username once it is known (`getMe` after
    /// start-up), unless the settings named one or a username was learned already. Returns
    /// whether it was taken; an invalid username is not.
    pub fn learn_bot_username(&self, username: &str) -> bool {
        if self.inner.settings.bot_url.is_some() {
            return false;
        }
        HttpSettings::bot_url_for(username)
            .is_some_and(|url| self.inner.learned_bot_url.set(url).is_ok())
    }

    /// The clock every part of the state reads "now" from.
    pub fn clock(&self) -> &SharedClock {
        self.inner.reconciler.clock()
    }

    pub(crate) fn unix_now(&self) -> u64 {
        self.clock().unix_now()
    }

    pub(crate) fn method(&self, id: &str) -> Option<&EnabledMethod> {
        self.inner
            .methods
            .iter()
            .find(|m| m.offer.method.as_str() == id)
    }

    pub(crate) fn provider(&self, id: &ProviderId) -> Option<&Arc<dyn PaymentProvider>> {
        self.inner
            .methods
            .iter()
            .map(|m| &m.provider)
            .find(|p| p.id() == id)
    }

    pub(crate) fn offers(&self) -> Vec<MethodOffer> {
        self.inner.methods.iter().map(|m| m.offer.clone()).collect()
    }

    /// The providers of the enabled methods that move no real money
    /// ([`PaymentProvider::is_test`]).
    pub fn test_providers(&self) -> Vec<ProviderId> {
        let mut ids: Vec<ProviderId> = self
            .inner
            .methods
            .iter()
            .filter(|m| m.provider.is_test())
            .map(|m| m.provider.id().clone())
            .collect();
        ids.dedup();
        ids
    }

    pub(crate) fn is_development(&self) -> bool {
        matches!(self.inner.auth, Auth::Development(_))
    }
}
