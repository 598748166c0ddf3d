//! Producing signed init data, for tests, demos and the development login (feature `sign`).

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::Mac;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{BotToken, HmacSha256, derive_secret};

/// What `URLSearchParams` leaves unescaped, besides letters and digits.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// Signs `pairs` for the bot of `token` the way Telegram does and returns the init data string
/// (pairs in the given order, `hash` last). A `hash` pair in `pairs` is ignored.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use miniapp_core::init_data::{sign, BotToken, InitDataVerifier};
/// let token = BotToken::new("42:TEST").unwrap();
/// let raw = sign(&[("auth_date", "1700000000"), ("user", r#"{"id":7,"first_name":"Ann"}"#)], &token);
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let data = InitDataVerifier::new(&token).verify(&raw, now).unwrap();
/// assert_eq!(data.user().map(|u| u.id), Some(7));
/// ```
pub fn sign(pairs: &[(&str, &str)], token: &BotToken) -> String {
    let secret = derive_secret(token);
    let mut mac =
        HmacSha256::new_from_slice(&secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(data_check_string(pairs, &["hash"]).as_bytes());
    let hash = hex::encode(mac.finalize().into_bytes());
    let mut out = encode(pairs);
    if !out.is_empty() {
        out.push('&');
    }
    out.push_str("hash=");
    out.push_str(&hash);
    out
}

/// Adds an Ed25519 `signature` (unpadded base64url, as Telegram sends it) for `bot_id` over
/// `pairs`, then signs the whole with the bot token like [`sign`]: what Telegram itself produces.
pub fn sign_ed25519(
    pairs: &[(&str, &str)],
    bot_id: i64,
    key: &SigningKey,
    token: &BotToken,
) -> String {
    let message = format!(
        "{bot_id}:WebAppData\n{}",
        data_check_string(pairs, &["hash", "signature"])
    );
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(key.sign(message.as_bytes()).to_bytes());
    let mut with_signature: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "signature")
        .collect();
    with_signature.push(("signature", &signature));
    sign(&with_signature, token)
}

/// The data-check-string, written independently of the verifier's parser.
fn data_check_string(pairs: &[(&str, &str)], skip: &[&str]) -> String {
    // Sorted by the key itself (not by the `k=v` line: a key may contain `=`, which the fuzzer
    // found).
    let mut sorted: Vec<&(&str, &str)> = pairs.iter().filter(|(k, _)| !skip.contains(k)).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(k, _)| *k != "hash")
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, FORM),
                utf8_percent_encode(v, FORM)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}
