//! The verifier against headers produced by Stripe's official libraries (stripe-node and
//! stripe-python), including the inputs on which those libraries crash. Regenerate with
//! `bash miniapp-stripe/tests/vectors/generate.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use miniapp_stripe::WebhookVerifier;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    payload_file: Option<String>,
    payload: Option<String>,
    header: Option<String>,
    secrets: Vec<String>,
    tolerance: u64,
    now: u64,
    node_valid: serde_json::Value,
    python_valid: serde_json::Value,
    expect_valid: bool,
    expect_error: Option<String>,
}

fn dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors"))
}

#[test]
fn every_vector_gets_the_expected_verdict() {
    let v: Vectors =
        serde_json::from_slice(&std::fs::read(dir().join("webhook_signatures.json")).unwrap())
            .unwrap();
    assert!(v.cases.len() >= 60, "the vector file is complete");
    let mut failures = Vec::new();
    let mut sdk_crashes = 0;
    for case in &v.cases {
        let body = match (&case.payload_file, &case.payload) {
            (Some(file), _) => std::fs::read(dir().join(file)).unwrap(),
            (None, Some(text)) => text.clone().into_bytes(),
            (None, None) => panic!("{}: no body", case.name),
        };
        sdk_crashes += usize::from(case.node_valid == "crash" || case.python_valid == "crash");
        let verifier = WebhookVerifier::new(case.secrets.clone())
            .with_tolerance(Duration::from_secs(case.tolerance));
        let result = verifier.verify(
            case.header.as_deref(),
            &body,
            UNIX_EPOCH + Duration::from_secs(case.now),
        );
        let got = result.err().map(|e| e.kind());
        if result.is_ok() != case.expect_valid || got != case.expect_error.as_deref() {
            failures.push(format!(
                "{}: got {got:?}, want {:?}",
                case.name, case.expect_error
            ));
        }
    }
    assert!(
        sdk_crashes > 0,
        "the vectors include the inputs the official SDKs crash on"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
