//! Stripe webhook verification and mapping of a real-sized `checkout.session.completed` event,
//! against one raw HMAC-SHA256 over the same bytes plus a JSON parse of the body, and against the
//! signature check alone. Targets: within 2× the baseline (issue 4); within 2× the signature
//! alone (issue 17, see benches/README.md for why serde_json's floor stands in the way).
//! Run: `cargo bench -p miniapp-stripe --bench stripe_webhook_verify`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use miniapp_stripe::{WebhookVerifier, map_event, sign_header};
use sha2::Sha256;

const SECRET: &str = "whsec_TeYq4EFn1z9rzq3Zz3+kk2vxWwEUm1U5";

fn bench(c: &mut Criterion) {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/events/checkout.session.completed.paid.json"
    ))
    .unwrap();
    let t = 1_795_000_000;
    let header = sign_header(SECRET, t, &body);
    let now = UNIX_EPOCH + Duration::from_secs(t + 5);
    let verifier = WebhookVerifier::new([SECRET]);
    assert!(verifier.verify(Some(&header), &body, now).is_ok());
    assert_eq!(map_event(&body).unwrap().len(), 1);

    let mut group = c.benchmark_group("stripe_webhook_verify");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("raw_hmac_plus_json_parse", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(b"1795000000.");
            mac.update(black_box(&body));
            let tag = mac.finalize().into_bytes();
            let value: serde_json::Value = serde_json::from_slice(black_box(&body)).unwrap();
            black_box((tag, value))
        });
    });
    group.bench_function("verify_and_map_event", |b| {
        b.iter(|| {
            verifier
                .verify(Some(black_box(&header)), black_box(&body), now)
                .unwrap();
            black_box(map_event(black_box(&body)).unwrap())
        });
    });
    group.bench_function("verify_signature_only", |b| {
        b.iter(|| {
            black_box(
                verifier
                    .verify(Some(black_box(&header)), black_box(&body), now)
                    .unwrap(),
            )
        });
    });
    // Not targets: the mapping alone, and the floor of any serde_json read of this body (a parse
    // that keeps nothing), which bounds what borrowing and skipping can reach (benches/README.md).
    group.bench_function("map_event_only", |b| {
        b.iter(|| black_box(map_event(black_box(&body)).unwrap()));
    });
    group.bench_function("serde_json_skip_whole_body", |b| {
        let text = std::str::from_utf8(&body).unwrap();
        b.iter(|| {
            black_box(serde_json::from_str::<serde::de::IgnoredAny>(black_box(text)).unwrap())
        });
    });
    group.finish();
    eprintln!("event body: {} bytes", body.len());
}

criterion_group!(benches, bench);
criterion_main!(benches);
