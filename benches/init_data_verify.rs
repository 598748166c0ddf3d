//! Init-data verification against one raw HMAC-SHA256 over the same data-check-string, on two
//! inputs: the synthetic 505-byte fixture below and the real production-signed vector of
//! miniapp-core's test vectors (`real_tmajs_hmac_valid`: escaped `photo_url`, `signature`,
//! `chat_instance`). Targets: full verification with a precomputed secret within 3× the raw HMAC
//! on the fixture (issue 2), within 4× on the real vector (issue 17).
//! Run: `cargo bench -p miniapp-core --bench init_data_verify`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::print_stderr
)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use miniapp_core::init_data::{BotToken, InitDataVerifier, WebAppUser, sign};
use sha2::Sha256;

const AUTH_DATE: &str = "1733584787";
const USER: &str = r#"{"id":279058397,"first_name":"Vladislav","last_name":"Kibenko","username":"vdkfrost","language_code":"ru","is_premium":true,"allows_write_to_pm":true,"photo_url":"https:\/\/t.me\/i\/userpic\/320\/4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg"}"#;

fn fixture() -> (BotToken, String, String) {
    let token = BotToken::new("7342037359:AAFZehRPBRs8Seg40oDjTMIW8uTGPuW1zfQ").unwrap();
    let pairs = [
        ("user", USER),
        ("chat_instance", "8134722200314281151"),
        ("chat_type", "private"),
        ("auth_date", AUTH_DATE),
    ];
    let raw = sign(&pairs, &token);
    let mut sorted = pairs.to_vec();
    sorted.sort();
    let dcs = sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    (token, raw, dcs)
}

/// The production-signed vector: its init data, bot token, the time it is checked at, and its
/// data-check-string built here with `percent_encoding` (not with the code under test).
fn real_vector() -> (BotToken, String, SystemTime, String) {
    let vectors: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/init_data.json"
    )))
    .unwrap();
    let case = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "real_tmajs_hmac_valid")
        .unwrap();
    let raw = case["init_data"].as_str().unwrap().to_owned();
    let token = BotToken::new(case["bot_token"].as_str().unwrap()).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(case["now"].as_u64().unwrap());
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8()
                .unwrap()
                .into_owned();
            (k.to_owned(), v)
        })
        .filter(|(k, _)| k != "hash")
        .collect();
    pairs.sort();
    let dcs = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    (token, raw, now, dcs)
}

fn secret_of(token: &BotToken) -> Vec<u8> {
    let mut secret_mac = Hmac::<Sha256>::new_from_slice(b"WebAppData").unwrap();
    secret_mac.update(token.expose_secret().as_bytes());
    secret_mac.finalize().into_bytes().to_vec()
}

/// The baseline: one HMAC-SHA256 keyed with the bot's secret over `dcs`, key setup included.
fn bench_raw_hmac(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    secret: &[u8],
    dcs: &str,
) {
    group.bench_function("raw_hmac_sha256_over_dcs", |b| {
        b.iter(|| {
            let mut m = Hmac::<Sha256>::new_from_slice(black_box(secret)).unwrap();
            m.update(black_box(dcs.as_bytes()));
            black_box(m.finalize().into_bytes())
        });
    });
}

fn bench_real(c: &mut Criterion) {
    let (token, raw, now, dcs) = real_vector();
    let verifier = InitDataVerifier::new(&token);
    assert!(verifier.verify(&raw, now).is_ok());
    let secret = secret_of(&token);
    let mut group = c.benchmark_group("init_data_verify_real");
    group.throughput(Throughput::Bytes(raw.len() as u64));
    bench_raw_hmac(&mut group, &secret, &dcs);
    group.bench_function("verify_precomputed_secret", |b| {
        b.iter(|| black_box(verifier.verify(black_box(&raw), now).is_ok()));
    });
    group.finish();
    eprintln!(
        "real init data: {} bytes, data-check-string {} bytes",
        raw.len(),
        dcs.len()
    );
}

fn bench(c: &mut Criterion) {
    let (token, raw, dcs) = fixture();
    let now = UNIX_EPOCH + Duration::from_secs(1_733_584_800);
    let verifier = InitDataVerifier::new(&token);
    assert!(verifier.verify(&raw, now).is_ok());
    let secret = secret_of(&token);

    let mut group = c.benchmark_group("init_data_verify");
    group.throughput(Throughput::Bytes(raw.len() as u64));
    bench_raw_hmac(&mut group, &secret, &dcs);
    group.bench_function("verify_precomputed_secret", |b| {
        b.iter(|| black_box(verifier.verify(black_box(&raw), now).is_ok()));
    });
    group.bench_function("verify_from_token", |b| {
        b.iter(|| {
            let r = miniapp_core::init_data::verify(
                black_box(&raw),
                &token,
                now,
                Duration::from_secs(86_400),
            );
            black_box(r.is_ok())
        });
    });
    // Not a target: the part of verification that limits it (see benches/README.md).
    group.bench_function("serde_json_user_object_alone", |b| {
        b.iter(|| black_box(serde_json::from_str::<WebAppUser>(black_box(USER)).map(|u| u.id)));
    });
    group.finish();
    eprintln!("init data length: {} bytes", raw.len());
}

criterion_group!(benches, bench, bench_real);
criterion_main!(benches);
