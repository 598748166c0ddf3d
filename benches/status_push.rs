//! The payment-status push measured from outside (issue 17), with release `full_bot` processes
//! on one PostgreSQL database, Stripe's API and Telegram's Bot API faked on loopback
//! (`tests/support/fakes.rs`), webhooks signed as Stripe signs them:
//!
//! 1. **Push latency across instances.** Instance B holds one `payment-status?wait=30` request
//!    per payment; the payments' `checkout.session.completed` webhooks go to instance A one at
//!    a time. For each: from A's `200` to B's answer, p50 and p99 (target p99 ≤ 50 ms).
//! 2. **10,000 waiting requests on one instance.** B holds 10,000 long polls (10,000 payments):
//!    its RSS, the database's connections, and the p99 of plain `payment-status` calls (64 at a
//!    time for `PUSH_LOAD_SECONDS`) while they are held, against the same load before (targets:
//!    RSS ≤ 150 MiB, no connection per waiting request, p99 unchanged). Then the same 10,000 on
//!    A over HTTP/2, 200 streams per connection, as behind a proxy that multiplexes upstream.
//! 3. **Database reads per successful payment.** Pages that wait (`wait=25`) against pages that
//!    poll every 2 s, each paid after a seeded random 3–30 s: the instances' own
//!    `miniapp_status_reads_total` per payment.
//!
//! Run: `benches/status_push.sh` (raises the open-file limit for 10,000 connections, then
//! `cargo bench -p miniapp --bench status_push`). Environment: `DATABASE_URL` (a PostgreSQL
//! server; the bench makes and drops its own database), `PUSH_PAYMENTS` (phase 1, default 300),
//! `PUSH_WAITING` (phase 2, default 10,000), `PUSH_PAGES` (phase 3, per kind, default 100),
//! `PUSH_LOAD_SECONDS` (default 10). The result table goes to stdout.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::float_arithmetic,
    clippy::too_many_lines
)]

#[path = "../tests/support/fakes.rs"]
mod fakes;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fakes::{Process, Rng, full_bot_release, serve, stripe_signature};
use miniapp_core::init_data::{BotToken, sign};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

const TOKEN: &str = "7000000011:PUSH_bench_bot_token";
const STRIPE_KEY: &str = "sk_test_push_bench_key";
const WHSEC: &str = "whsec_push_bench_secret";
const METRICS_TOKEN: &str = "push-bench-metrics-token";
const DATABASE: &str = "miniapp_bench_push";
const COMPLETED: &str =
    include_str!("../miniapp-stripe/tests/vectors/events/checkout.session.completed.paid.json");

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).map_or(default, |v| v.parse().expect(name))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `authorization: tma …` for one buyer.
fn auth(user: i64) -> String {
    let user_json = format!(r#"{{"id":{user},"first_name":"Buyer","language_code":"en"}}"#);
    let signed = sign(
        &[("auth_date", &now_secs().to_string()), ("user", &user_json)],
        &BotToken::new(TOKEN).unwrap(),
    );
    format!("tma {signed}")
}

/// One payment of 100 tokens ($5.00) made through an instance.
#[derive(Clone)]
struct Paying {
    id: String,
    user: i64,
    auth: String,
}

/// `checkout.session.completed` for `p`, from the SDK-generated vector, with its signature.
fn completed_webhook(p: &Paying) -> (Vec<u8>, String) {
    let mut e: Value = serde_json::from_str(COMPLETED).unwrap();
    e["id"] = json!(format!("evt_push_{}", p.id));
    e["created"] = json!(now_secs());
    let o = &mut e["data"]["object"];
    o["id"] = json!(format!("cs_test_{}", p.id));
    o["client_reference_id"] = json!(p.id);
    o["metadata"] = json!({"payment_id": p.id, "telegram_user_id": p.user.to_string()});
    o["amount_total"] = json!(500);
    o["amount_subtotal"] = json!(500);
    o["currency"] = json!("usd");
    o["payment_intent"] = json!(format!("pi_{}", p.id));
    let body = serde_json::to_vec(&e).unwrap();
    let signature = stripe_signature(WHSEC, &body);
    (body, signature)
}

struct Bench {
    http: reqwest::Client,
    a: Process,
    b: Process,
}

impl Bench {
    fn base(p: &Process) -> String {
        p.base.read().unwrap().clone()
    }

    async fn create(&self, on: &Process, user: i64) -> Paying {
        let auth = auth(user);
        let r: Value = self
            .http
            .post(format!("{}/api/miniapp/create-payment", Self::base(on)))
            .header("authorization", &auth)
            .json(&json!({"credits": 100, "amount": "5.00", "currency": "USD", "payment_method": "card"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["success"], true, "create-payment: {r}");
        Paying {
            id: r["payment_id"].as_str().unwrap().to_owned(),
            user,
            auth,
        }
    }

    /// Creates `n` payments through A, 64 at a time, for users `first..first+n`.
    async fn create_many(self: &Arc<Self>, first: i64, n: usize) -> Vec<Paying> {
        let gate = Arc::new(Semaphore::new(64));
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let (bench, gate) = (self.clone(), gate.clone());
                tokio::spawn(async move {
                    let _slot = gate.acquire().await.unwrap();
                    bench.create(&bench.a, first + i as i64).await
                })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    /// Delivers the payment's success webhook to A; the instants it was sent and A answered 200.
    async fn pay(&self, p: &Paying) -> (Instant, Instant) {
        let (body, signature) = completed_webhook(p);
        let sent = Instant::now();
        let r = self
            .http
            .post(format!(
                "{}/api/miniapp/webhooks/stripe",
                Self::base(&self.a)
            ))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let at = Instant::now();
        assert_eq!(r.status(), 200, "webhook: {}", r.text().await.unwrap());
        (sent, at)
    }

    /// `payment-status` of `p` on `on`, waiting up to `wait` seconds while it is `status`;
    /// the answer's status and the instant it arrived.
    async fn status(
        &self,
        on: &Process,
        p: &Paying,
        wait: Option<(u64, &str)>,
    ) -> (String, Instant) {
        self.status_over(&self.http, on, p, wait).await
    }

    /// As [`Bench::status`], through `http`.
    async fn status_over(
        &self,
        http: &reqwest::Client,
        on: &Process,
        p: &Paying,
        wait: Option<(u64, &str)>,
    ) -> (String, Instant) {
        let mut url = format!("{}/api/miniapp/payment-status/{}", Self::base(on), p.id);
        if let Some((secs, status)) = wait {
            url.push_str(&format!("?wait={secs}&status={status}"));
        }
        let r: Value = http
            .get(url)
            .header("authorization", &p.auth)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let at = Instant::now();
        (r["status"].as_str().expect("a status").to_owned(), at)
    }

    /// One Prometheus sample of `on` (a gauge or counter without labels).
    async fn metric(&self, on: &Process, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", Self::base(on)))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Until `on` reports `name` ≥ `at_least` (metrics are polled: the bench is outside).
    async fn until_metric(&self, on: &Process, name: &str, at_least: f64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.metric(on, name).await < at_least {
            assert!(Instant::now() < deadline, "{name} never reached {at_least}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn rss_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap();
    kib / 1024.0
}

/// Plain `payment-status` calls on `on`, `concurrency` at a time for `secs`: latencies in ms.
async fn load(on: &Process, p: &Paying, concurrency: usize, secs: u64) -> Vec<f64> {
    let until = Instant::now() + Duration::from_secs(secs);
    let url = format!("{}/api/miniapp/payment-status/{}", Bench::base(on), p.id);
    // A client of its own, so the load's connections are not those holding long polls.
    let http = reqwest::Client::new();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, url, auth) = (http.clone(), url.clone(), p.auth.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    let r = http
                        .get(&url)
                        .header("authorization", &auth)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    r.bytes().await.unwrap();
                    times.push(started.elapsed().as_secs_f64() * 1e3);
                }
                times
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_by(f64::total_cmp);
    all
}

async fn database_connections(admin: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
        .bind(DATABASE)
        .fetch_one(admin)
        .await
        .unwrap()
}

fn main() {
    // `cargo bench` passes `--bench`; this bench takes no filter.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    assert!(
        server.starts_with("postgres"),
        "DATABASE_URL must name PostgreSQL"
    );
    let payments = env_or("PUSH_PAYMENTS", 300);
    let waiting = env_or("PUSH_WAITING", 10_000);
    let pages = env_or("PUSH_PAGES", 100);
    let load_secs = env_or("PUSH_LOAD_SECONDS", 10) as u64;

    // benches/status_push.sh builds it first; run alone, the bench builds it.
    let bin = std::env::var_os("FULL_BOT").map_or_else(full_bot_release, std::path::PathBuf::from);
    let admin = sqlx::PgPool::connect(&server).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
        .execute(&admin)
        .await
        .unwrap();
    let db_url = format!(
        "{}/{DATABASE}",
        server
            .rsplit_once('/')
            .map_or(server.as_str(), |(base, _)| base)
    );
    let stripe = serve(fakes::fake_stripe(STRIPE_KEY)).await;
    let (telegram, _) = fakes::fake_telegram();
    let telegram = serve(telegram).await;
    let env = vec![
        ("DATABASE_URL", db_url),
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", telegram),
        ("BOT_USERNAME", "push_bench_bot".to_owned()),
        ("PUBLIC_BASE_URL", "https://push.example".to_owned()),
        ("STRIPE_SECRET_KEY", STRIPE_KEY.to_owned()),
        ("STRIPE_WEBHOOK_SECRET", WHSEC.to_owned()),
        ("STRIPE_API_BASE", stripe),
        ("MINIAPP_SANDBOX", "off".to_owned()),
        ("METRICS_TOKEN", METRICS_TOKEN.to_owned()),
        // Every buyer comes from this machine's one address.
        ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
    ];
    let a = Process::start("A", &bin, &env);
    let b = Process::start("B", &bin, &env);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let bench = Arc::new(Bench { http, a, b });
    bench
        .until_metric(&bench.a, "miniapp_status_listener_connected", 1.0)
        .await;
    bench
        .until_metric(&bench.b, "miniapp_status_listener_connected", 1.0)
        .await;
    eprintln!(
        "status_push: A {} and B {} listening",
        Bench::base(&bench.a),
        Bench::base(&bench.b)
    );

    // --- 1. Push latency: webhook on A, waiting request on B ----------------------------------
    let batch = bench.create_many(1_000_000_000, payments).await;
    let (first_status, _) = bench.status(&bench.b, &batch[0], None).await;
    let held: Vec<_> = batch
        .iter()
        .map(|p| {
            let (bench, p, known) = (bench.clone(), p.clone(), first_status.clone());
            tokio::spawn(async move { bench.status(&bench.b, &p, Some((30, &known))).await })
        })
        .collect();
    bench
        .until_metric(&bench.b, "miniapp_status_waiting", payments as f64)
        .await;
    let mut paid_at = Vec::with_capacity(payments);
    for p in &batch {
        paid_at.push(bench.pay(p).await);
        // One at a time, a little apart: the latency of a quiet system, not of a queue.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // From A's 200 to B's answer, signed: B's LISTEN hears the commit at the same moment A
    // starts writing its 200, so B often answers first (a negative figure). And from the
    // webhook's sending, which includes A's own work.
    let (mut after_200, mut after_send) = (Vec::new(), Vec::new());
    for (task, (sent, ok)) in held.into_iter().zip(&paid_at) {
        let (status, answered) = task.await.unwrap();
        assert_eq!(status, "succeeded", "B answered with the committed status");
        let signed = |from: Instant| match answered.checked_duration_since(from) {
            Some(d) => d.as_secs_f64() * 1e3,
            None => -(from.duration_since(answered).as_secs_f64() * 1e3),
        };
        after_200.push(signed(*ok));
        after_send.push(signed(*sent));
    }
    after_200.sort_by(f64::total_cmp);
    after_send.sort_by(f64::total_cmp);
    eprintln!("status_push: phase 1 done ({payments} payments)");

    // --- 2. 10,000 waiting requests on B ------------------------------------------------------
    let probe = bench.create(&bench.a, 2_999_999_999).await;
    let before = load(&bench.b, &probe, 64, load_secs).await;
    let rss_before = rss_mib(bench.b.child.id(), "VmRSS:");
    let connections_before = database_connections(&admin).await;
    let many = bench.create_many(2_000_000_000, waiting).await;
    let (known, _) = bench.status(&bench.b, &many[0], None).await;
    let ramp = Instant::now();
    let mut holders = Vec::with_capacity(waiting);
    // 500 new connections at a time, each batch held before the next: 10,000 connects at once
    // overflow the listen backlog, which measures the kernel rather than the server.
    for chunk in many.chunks(500) {
        for p in chunk {
            let (bench, p, known) = (bench.clone(), p.clone(), known.clone());
            holders.push(tokio::spawn(async move {
                bench.status(&bench.b, &p, Some((30, &known))).await
            }));
        }
        bench
            .until_metric(&bench.b, "miniapp_status_waiting", holders.len() as f64)
            .await;
    }
    let ramp = ramp.elapsed();
    let rss_holding = rss_mib(bench.b.child.id(), "VmRSS:");
    let connections_holding = database_connections(&admin).await;
    let during = load(&bench.b, &probe, 64, load_secs).await;
    let still_waiting = bench.metric(&bench.b, "miniapp_status_waiting").await;
    let rss_peak = rss_mib(bench.b.child.id(), "VmHWM:");
    for h in holders {
        let (status, _) = h.await.unwrap();
        assert_eq!(
            status, known,
            "a held request ends with its wait, unchanged"
        );
    }
    // The same waits over HTTP/2 (h2c, which axum's server accepts), as behind a proxy that
    // multiplexes its upstream: hyper's fixed per-connection buffers are then per 200 streams
    // (its default limit of concurrent streams). On A, whose memory has not held the above.
    let h2_clients: Vec<reqwest::Client> = (0..waiting.div_ceil(200))
        .map(|_| {
            reqwest::Client::builder()
                .http2_prior_knowledge()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap()
        })
        .collect();
    let h2_rss_before = rss_mib(bench.a.child.id(), "VmRSS:");
    let mut h2_holders = Vec::with_capacity(waiting);
    for (i, chunk) in many.chunks(500).enumerate() {
        for (j, p) in chunk.iter().enumerate() {
            let http = h2_clients[(i * 500 + j) % h2_clients.len()].clone();
            let (bench, p, known) = (bench.clone(), p.clone(), known.clone());
            h2_holders.push(tokio::spawn(async move {
                bench
                    .status_over(&http, &bench.a, &p, Some((30, &known)))
                    .await
            }));
        }
        bench
            .until_metric(&bench.a, "miniapp_status_waiting", h2_holders.len() as f64)
            .await;
    }
    let h2_rss_holding = rss_mib(bench.a.child.id(), "VmRSS:");
    for h in h2_holders {
        assert_eq!(h.await.unwrap().0, known);
    }
    eprintln!("status_push: phase 2 done ({waiting} waiting, HTTP/1.1 then HTTP/2)");

    // --- 3. Reads per successful payment: waiting pages on B, polling pages on A ---------------
    let waiting_pages = bench.create_many(3_000_000_000, pages).await;
    let polling_pages = bench.create_many(4_000_000_000, pages).await;
    let reads_a = bench.metric(&bench.a, "miniapp_status_reads_total").await;
    let reads_b = bench.metric(&bench.b, "miniapp_status_reads_total").await;
    let mut rng = Rng(17);
    let started = Instant::now();
    let mut page_tasks = Vec::new();
    for (kind, list) in [("wait", &waiting_pages), ("poll", &polling_pages)] {
        for p in list {
            let paid_after = Duration::from_millis(3_000 + rng.next() % 27_000);
            let bench = bench.clone();
            let p = p.clone();
            page_tasks.push(tokio::spawn(async move {
                let payer = {
                    let (bench, p) = (bench.clone(), p.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep_until((started + paid_after).into()).await;
                        bench.pay(&p).await
                    })
                };
                let mut requests = 0_u32;
                let mut known = bench
                    .status(if kind == "wait" { &bench.b } else { &bench.a }, &p, None)
                    .await
                    .0;
                requests += 1;
                while known != "succeeded" {
                    known = if kind == "wait" {
                        bench.status(&bench.b, &p, Some((25, &known))).await.0
                    } else {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        bench.status(&bench.a, &p, None).await.0
                    };
                    requests += 1;
                }
                payer.await.unwrap();
                (kind, requests)
            }));
        }
    }
    let (mut wait_requests, mut poll_requests) = (0_u32, 0_u32);
    for t in page_tasks {
        match t.await.unwrap() {
            ("wait", n) => wait_requests += n,
            (_, n) => poll_requests += n,
        }
    }
    let wait_reads = bench.metric(&bench.b, "miniapp_status_reads_total").await - reads_b;
    let poll_reads = bench.metric(&bench.a, "miniapp_status_reads_total").await - reads_a;
    eprintln!("status_push: phase 3 done ({pages} pages of each kind)");

    // --- The table -------------------------------------------------------------------------------
    let ms = |v: f64| format!("{v:.1} ms");
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| webhook's 200 from A → B's answer, {payments} payments (negative: B answered first) | p50 {}, p99 {}, max {} | p99 ≤ 50 ms: {} |",
        ms(percentile(&after_200, 50.0)),
        ms(percentile(&after_200, 99.0)),
        ms(percentile(&after_200, 100.0)),
        if percentile(&after_200, 99.0) <= 50.0 {
            "met"
        } else {
            "**missed**"
        }
    );
    println!(
        "| webhook sent to A → B's answer (A's verification and commit included) | p50 {}, p99 {}, max {} | — |",
        ms(percentile(&after_send, 50.0)),
        ms(percentile(&after_send, 99.0)),
        ms(percentile(&after_send, 100.0)),
    );
    println!(
        "| {waiting} waiting requests on B | held after {:.1} s; RSS {rss_before:.1} MiB before, {rss_holding:.1} MiB holding, peak {rss_peak:.1} MiB | ≤ 150 MiB: {} |",
        ramp.as_secs_f64(),
        if rss_peak <= 150.0 {
            "met"
        } else {
            "**missed**"
        }
    );
    println!(
        "| the same {waiting} waiting on A over HTTP/2 ({} connections of 200 streams, as behind a multiplexing proxy) | RSS {h2_rss_before:.1} MiB before, {h2_rss_holding:.1} MiB holding | ≤ 150 MiB: {} |",
        h2_clients.len(),
        if h2_rss_holding <= 150.0 {
            "met"
        } else {
            "**missed**"
        }
    );
    println!(
        "| database connections (both instances) | {connections_before} before, {connections_holding} while {waiting} wait | none per waiting request: {} |",
        if connections_holding <= connections_before + 2 {
            "met"
        } else {
            "**missed**"
        }
    );
    let (p99_before, p99_during) = (percentile(&before, 99.0), percentile(&during, 99.0));
    println!(
        "| plain payment-status on B, 64 at a time, {load_secs} s | before: {} calls, p50 {}, p99 {}; holding ({still_waiting} still waiting): {} calls, p50 {}, p99 {} | p99 unchanged: {:.2}× |",
        before.len(),
        ms(percentile(&before, 50.0)),
        ms(p99_before),
        during.len(),
        ms(percentile(&during, 50.0)),
        ms(p99_during),
        p99_during / p99_before
    );
    println!(
        "| status reads per successful payment, {pages} pages each, paid after 3–30 s | waiting: {:.2} reads ({:.2} requests); polling every 2 s: {:.2} reads ({:.2} requests) | {:.1}× fewer |",
        wait_reads / pages as f64,
        f64::from(wait_requests) / pages as f64,
        poll_reads / pages as f64,
        f64::from(poll_requests) / pages as f64,
        poll_reads / wait_reads
    );
    drop(bench);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}
