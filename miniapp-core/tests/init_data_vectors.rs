//! Our verifier against vectors made and judged by the official libraries
//! (`@telegram-apps/init-data-node` and aiogram) and against real Telegram-signed samples from
//! their test suites and init-data-golang's. Regenerate with
//! `bash miniapp-core/tests/vectors/generate.sh` (see the README next to it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::time::{Duration, UNIX_EPOCH};

use miniapp_core::init_data::{
    BotToken, InitDataVerifier, TelegramPublicKey, ThirdPartyVerifier, VerifyOptions,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    telegram_public_keys: Keys,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Keys {
    production: String,
    test: String,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    scheme: String,
    init_data: String,
    bot_token: Option<String>,
    bot_id: Option<i64>,
    public_key: Option<String>,
    now: u64,
    max_age: u64,
    node_valid: Option<bool>,
    python_valid: Option<bool>,
    expect_valid: bool,
    expect_error: Option<String>,
}

/// Cases where we deliberately answer differently from `expect_valid`, and why.
const OVERRIDES: &[(&str, &str, &str)] = &[(
    "real_aiogram_hmac_valid_plus_spaces_and_surrogate_escapes",
    "invalid_field",
    "aiogram's hand-made sample has a string user id; Telegram sends an integer and we need one",
)];

fn load() -> Vectors {
    let text = include_str!("vectors/init_data.json");
    serde_json::from_str(text).expect("vectors/init_data.json parses")
}

#[test]
fn published_keys_match_ours() {
    let v = load();
    assert_eq!(
        v.telegram_public_keys.production,
        TelegramPublicKey::PRODUCTION_HEX
    );
    assert_eq!(v.telegram_public_keys.test, TelegramPublicKey::TEST_HEX);
}

#[test]
fn every_vector_gets_the_expected_verdict() {
    let v = load();
    assert!(v.cases.len() >= 60, "the vector file is complete");
    let mut failures = Vec::new();
    let mut real = 0;
    for case in &v.cases {
        real += usize::from(case.name.starts_with("real_"));
        let now = UNIX_EPOCH + Duration::from_secs(case.now);
        let options = VerifyOptions::default().with_max_age(Duration::from_secs(case.max_age));
        let result = match case.scheme.as_str() {
            "hmac" => {
                let token = BotToken::new(case.bot_token.clone().expect("hmac case has a token"))
                    .expect("valid token");
                InitDataVerifier::new(&token)
                    .with_options(options)
                    .verify(&case.init_data, now)
            }
            "ed25519" => {
                let key = match case.public_key.as_deref().expect("ed25519 case has a key") {
                    "production" => TelegramPublicKey::production(),
                    "test" => TelegramPublicKey::test_environment(),
                    hex => TelegramPublicKey::from_hex(hex).expect("valid custom key"),
                };
                ThirdPartyVerifier::new(case.bot_id.expect("ed25519 case has a bot id"), key)
                    .with_options(options)
                    .verify(&case.init_data, now)
            }
            other => panic!("unknown scheme {other}"),
        };
        let got = result.as_ref().err().map(|e| e.kind());
        let (want_valid, want_error) = match OVERRIDES.iter().find(|(n, _, _)| *n == case.name) {
            Some((_, kind, _)) => (false, Some(*kind)),
            None => (case.expect_valid, case.expect_error.as_deref()),
        };
        if result.is_ok() != want_valid || (!want_valid && got != want_error) {
            failures.push(format!(
                "{}: got {:?}, want {} {:?} (node {:?}, python {:?})",
                case.name,
                got,
                if want_valid { "valid" } else { "invalid" },
                want_error,
                case.node_valid,
                case.python_valid
            ));
        }
        // Where both official libraries judge the signature valid and we expect validity, we agree.
        if case.node_valid == Some(true) && case.python_valid == Some(true) && case.expect_valid {
            assert!(
                result.is_ok() || OVERRIDES.iter().any(|(n, _, _)| *n == case.name),
                "{}",
                case.name
            );
        }
    }
    assert!(
        real >= 10,
        "real Telegram samples are part of the vectors ({real})"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
