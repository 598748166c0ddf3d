//! The PayPal settings, read from the environment in one place.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

/// PayPal's two environments. Which one a client id belongs to is PayPal's business; a sandbox
/// id against the live API simply fails to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayPalEnvironment {
    /// `https://api-m.sandbox.paypal.com`: test accounts, no real money.
    Sandbox,
    /// `https://api-m.paypal.com`: real money.
    Live,
}

impl PayPalEnvironment {
    /// The REST API's base URL.
    ///
    /// ```
    /// use miniapp_paypal::PayPalEnvironment;
    /// assert_eq!(PayPalEnvironment::Live.api_base(), "https://api-m.paypal.com");
    /// ```
    pub fn api_base(self) -> &'static str {
        match self {
            PayPalEnvironment::Sandbox => "https://api-m.sandbox.paypal.com",
            PayPalEnvironment::Live => "https://api-m.paypal.com",
        }
    }
}

/// Everything the PayPal provider needs. Build it with [`PayPalConfig::from_env`] (or
/// [`PayPalConfig::from_lookup`]); `Debug` never shows the client secret.
#[derive(Clone)]
pub struct PayPalConfig {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) webhook_id: String,
    pub(crate) environment: PayPalEnvironment,
    pub(crate) api_base: String,
    pub(crate) public_base_url: String,
    pub(crate) timeout: Duration,
    pub(crate) approval_window: Duration,
}

impl fmt::Debug for PayPalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayPalConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("webhook_id", &self.webhook_id)
            .field("environment", &self.environment)
            .field("api_base", &self.api_base)
            .field("public_base_url", &self.public_base_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What is wrong with the PayPal settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayPalConfigError {
    /// Some of `PAYPAL_CLIENT_ID`, `PAYPAL_CLIENT_SECRET`, `PAYPAL_WEBHOOK_ID` are set, not all:
    /// without the webhook id no webhook can be verified, so payments could be taken and never
    /// credited by a webhook.
    #[error(
        "PayPal needs PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET and PAYPAL_WEBHOOK_ID; {0} is missing"
    )]
    Missing(&'static str),
    /// `PAYPAL_ENV` is neither `sandbox` nor `live`.
    #[error("PAYPAL_ENV must be sandbox or live")]
    UnknownEnvironment,
    /// `PUBLIC_BASE_URL` is needed for the return and cancel links.
    #[error("PUBLIC_BASE_URL is needed for PayPal's return and cancel links")]
    MissingPublicBaseUrl,
    /// `PAYPAL_API_BASE` is plain http somewhere other than this machine: the client secret and
    /// access tokens travel with every request.
    #[error("PAYPAL_API_BASE must be https:// (plain http only on loopback)")]
    InsecureApiBase,
}

impl PayPalConfig {
    /// Settings for `environment` with these credentials; return and cancel links go to
    /// `public_base_url` + `/miniapp/`.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        webhook_id: impl Into<String>,
        environment: PayPalEnvironment,
        public_base_url: impl Into<String>,
    ) -> PayPalConfig {
        PayPalConfig {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            webhook_id: webhook_id.into(),
            environment,
            api_base: environment.api_base().to_owned(),
            public_base_url: public_base_url.into().trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(5),
            approval_window: Duration::from_secs(3 * 3600),
        }
    }

    /// Reads `PAYPAL_CLIENT_ID`, `PAYPAL_CLIENT_SECRET`, `PAYPAL_WEBHOOK_ID`, `PAYPAL_ENV`
    /// (`sandbox` or `live`; default `sandbox`, so a forgotten setting never takes real money),
    /// `PUBLIC_BASE_URL` and, for tests against a fake, `PAYPAL_API_BASE`. `Ok(None)` when none
    /// of the three PayPal credentials is set.
    ///
    /// ```
    /// use miniapp_paypal::{PayPalConfig, PayPalConfigError};
    /// let env = |k: &str| match k {
    ///     "PAYPAL_CLIENT_ID" => Some("id".to_owned()),
    ///     "PAYPAL_CLIENT_SECRET" => Some("secret".to_owned()),
    ///     "PUBLIC_BASE_URL" => Some("https://bot.example".to_owned()),
    ///     _ => None,
    /// };
    /// assert_eq!(
    ///     PayPalConfig::from_lookup(env).unwrap_err(),
    ///     PayPalConfigError::Missing("PAYPAL_WEBHOOK_ID")
    /// );
    /// assert!(PayPalConfig::from_lookup(|_| None).unwrap().is_none());
    /// ```
    ///
    /// # Errors
    /// [`PayPalConfigError`] for an incomplete or unsafe configuration.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<PayPalConfig>, PayPalConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let (id, secret, webhook) = (
            get("PAYPAL_CLIENT_ID"),
            get("PAYPAL_CLIENT_SECRET"),
            get("PAYPAL_WEBHOOK_ID"),
        );
        if id.is_none() && secret.is_none() && webhook.is_none() {
            return Ok(None);
        }
        let id = id.ok_or(PayPalConfigError::Missing("PAYPAL_CLIENT_ID"))?;
        let secret = secret.ok_or(PayPalConfigError::Missing("PAYPAL_CLIENT_SECRET"))?;
        let webhook = webhook.ok_or(PayPalConfigError::Missing("PAYPAL_WEBHOOK_ID"))?;
        let environment = match get("PAYPAL_ENV").as_deref() {
            None | Some("sandbox") => PayPalEnvironment::Sandbox,
            Some("live") => PayPalEnvironment::Live,
            Some(_) => return Err(PayPalConfigError::UnknownEnvironment),
        };
        let base = get("PUBLIC_BASE_URL").ok_or(PayPalConfigError::MissingPublicBaseUrl)?;
        let mut config = PayPalConfig::new(id, secret, webhook, environment, base);
        if let Some(api) = get("PAYPAL_API_BASE") {
            config = config.with_api_base(api)?;
        }
        Ok(Some(config))
    }

    /// [`PayPalConfig::from_lookup`] on the process environment.
    ///
    /// # Errors
    /// As [`PayPalConfig::from_lookup`].
    pub fn from_env() -> Result<Option<PayPalConfig>, PayPalConfigError> {
        PayPalConfig::from_lookup(|k| std::env::var(k).ok())
    }

    /// Another API base URL (a local fake). The client secret is sent to it, so plain `http://`
    /// is accepted only on loopback.
    ///
    /// # Errors
    /// [`PayPalConfigError::InsecureApiBase`] for plain http elsewhere.
    pub fn with_api_base(
        mut self,
        url: impl Into<String>,
    ) -> Result<PayPalConfig, PayPalConfigError> {
        let url = url.into().trim_end_matches('/').to_owned();
        if !(url.starts_with("https://") || miniapp_core::provider::is_loopback_http(&url)) {
            return Err(PayPalConfigError::InsecureApiBase);
        }
        self.api_base = url;
        Ok(self)
    }

    /// The timeout of each request to PayPal (default 5 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> PayPalConfig {
        self.timeout = timeout;
        self
    }

    /// The environment these credentials belong to.
    pub fn environment(&self) -> PayPalEnvironment {
        self.environment
    }
}
