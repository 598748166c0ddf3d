//! Verification of the `Stripe-Signature` header, as Stripe's official libraries do it, without
//! their crashes on malformed headers.

use std::fmt;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Longest header accepted. Real ones are under 300 bytes (a few `v1` during rotation); the
/// official libraries accept any length, and so do we up to a bound that HTTP servers exceed first.
const MAX_HEADER_LEN: usize = 64 * 1024;

/// Why a webhook signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("no Stripe-Signature header")]
    MissingHeader,
    /// No single, plain-integer `t`, or an unreadable item.
    #[error("malformed Stripe-Signature header")]
    MalformedHeader,
    /// No `v1` signature at all.
    #[error("no v1 signature in the Stripe-Signature header")]
    NoSignatures,
    /// No `v1` matches any endpoint secret.
    #[error("no v1 signature matches")]
    SignatureMismatch,
    /// Signed longer ago than the tolerance.
    #[error("the signature timestamp is outside the tolerance")]
    TimestampOutOfTolerance,
}

impl SignatureError {
    /// A stable class name (`missing_header`, `malformed_header`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader => "missing_header",
            SignatureError::MalformedHeader => "malformed_header",
            SignatureError::NoSignatures => "no_signatures",
            SignatureError::SignatureMismatch => "signature_mismatch",
            SignatureError::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
        }
    }
}

/// Verifies `Stripe-Signature` headers for one webhook endpoint: one or more endpoint secrets
/// (several while rotating) and a timestamp tolerance (300 s by default; zero disables the check,
/// as in the official libraries).
///
/// ```
/// use miniapp_stripe::WebhookVerifier;
/// let verifier = WebhookVerifier::new(["whsec_test"]);
/// let err = verifier.verify(Some("t=1,v1=00"), b"{}", std::time::SystemTime::now()).unwrap_err();
/// assert_eq!(err.kind(), "signature_mismatch");
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    keys: Vec<Hmac<Sha256>>,
    tolerance: Duration,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl WebhookVerifier {
    /// A verifier accepting a signature by any of `secrets` (the `whsec_…` strings).
    pub fn new<S: Into<String>>(secrets: impl IntoIterator<Item = S>) -> WebhookVerifier {
        let keys = secrets
            .into_iter()
            .map(|s| {
                let secret = SecretString::from(s.into());
                // The key is the whole `whsec_…` string, as bytes (not base64-decoded).
                Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
                    .unwrap_or_else(|_| unreachable!("HMAC takes any key"))
            })
            .collect();
        WebhookVerifier {
            keys,
            tolerance: Duration::from_secs(300),
        }
    }

    /// The same verifier with another tolerance (zero: no timestamp check).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> WebhookVerifier {
        self.tolerance = tolerance;
        self
    }

    /// Checks `header` (the `Stripe-Signature` value, `None` if absent) over the raw `body`.
    /// Returns the signed timestamp.
    ///
    /// # Errors
    /// [`SignatureError`], in the libraries' order: header, timestamp format, presence of `v1`,
    /// signature, age.
    pub fn verify(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<u64, SignatureError> {
        let header = header.ok_or(SignatureError::MissingHeader)?;
        if header.len() > MAX_HEADER_LEN {
            return Err(SignatureError::MalformedHeader);
        }
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for item in header.split(',') {
            let Some((key, value)) = item.split_once('=') else {
                // A bare `t` or `v1` is a broken header; anything else unknown is ignored.
                if item == "t" || item == "v1" {
                    return Err(SignatureError::MalformedHeader);
                }
                continue;
            };
            match key {
                "t" => {
                    if timestamp.is_some() {
                        return Err(SignatureError::MalformedHeader);
                    }
                    timestamp = Some(parse_timestamp(value)?);
                }
                "v1" => signatures.push(value),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::MalformedHeader)?;
        if signatures.is_empty() {
            return Err(SignatureError::NoSignatures);
        }
        let prefix = format!("{timestamp}.");
        let matched = self.keys.iter().any(|key| {
            let mut mac = key.clone();
            mac.update(prefix.as_bytes());
            mac.update(body);
            let expected = mac.finalize().into_bytes();
            signatures.iter().any(|candidate| {
                let mut decoded = [0u8; 32];
                // Lower-case hex of exactly 32 bytes, then a constant-time comparison.
                candidate.len() == 64
                    && candidate
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                    && hex::decode_to_slice(candidate, &mut decoded).is_ok()
                    && bool::from(decoded.as_slice().ct_eq(expected.as_slice()))
            })
        });
        if !matched {
            return Err(SignatureError::SignatureMismatch);
        }
        if !self.tolerance.is_zero() {
            let now = miniapp_core::clock::unix_seconds(now);
            if now.saturating_sub(timestamp) > self.tolerance.as_secs() {
                return Err(SignatureError::TimestampOutOfTolerance);
            }
        }
        Ok(timestamp)
    }
}

fn parse_timestamp(value: &str) -> Result<u64, SignatureError> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedHeader);
    }
    let t: u64 = value.parse().map_err(|_| SignatureError::MalformedHeader)?;
    // Timestamps beyond i64 are what no SDK can produce; refusing them keeps arithmetic simple.
    if t > 9_223_372_036_854_775_807 {
        return Err(SignatureError::MalformedHeader);
    }
    Ok(t)
}

/// Produces a `Stripe-Signature` header value for `body` at `timestamp`, exactly as Stripe's
/// libraries do for tests (`t=…,v1=…`). For fakes and tests; Stripe signs real webhooks.
pub fn sign_header(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}
