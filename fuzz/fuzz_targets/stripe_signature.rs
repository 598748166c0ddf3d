//! The `Stripe-Signature` verifier on arbitrary headers and bodies (the official SDKs crash on
//! some malformed headers; this must not). The first line of the input is the header.
#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use miniapp_stripe::{WebhookVerifier, sign_header};

static VERIFIER: LazyLock<WebhookVerifier> = LazyLock::new(|| WebhookVerifier::new(["whsec_fuzz_secret", "whsec_rotated"]));

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let header = String::from_utf8_lossy(header);
    let _ = VERIFIER.verify(Some(&header), body, now);
    let _ = VERIFIER.verify(None, body, now);
    // A genuine signature over these exact bytes always verifies; one over other bytes never does.
    let genuine = sign_header("whsec_rotated", 1_795_000_000, body);
    assert!(VERIFIER.verify(Some(&genuine), body, now).is_ok());
    let mut other = body.to_vec();
    other.push(b'x');
    assert!(VERIFIER.verify(Some(&genuine), &other, now).is_err());
});
