//! Chaos test: two release `full_bot` processes on one PostgreSQL database take 5,000 payments,
//! one in five with PayPal and the rest with Stripe, whose webhooks (for PayPal: the approval on
//! which we capture, the capture, the refund) arrive three times each, shuffled, at 32
//! concurrency, to both
//! processes, while one process is killed with SIGKILL five times and restarted. Everything is
//! delivered once more at the end; then SQL says whether every paid payment was credited exactly
//! once, every balance equals its journal, and every notification was queued once and sent once.
//!
//! Stripe's API and Telegram's Bot API are fakes on loopback; webhook bodies are Stripe's own
//! event shapes (the SDK-generated vectors of `miniapp-stripe/tests/vectors/events`) signed as
//! Stripe documents it (`t=…,v1=HMAC-SHA256(secret, "{t}.{body}")`), computed here with `hmac`
//! rather than with our verifier's code.
//!
//! It is `#[ignore]`d in the ordinary test run because it builds `full_bot` in release mode;
//! `.ci/run` runs it: `cargo nextest run -p miniapp --test chaos --run-ignored only --no-capture`.
//! `CHAOS_PAYMENTS` (default 5000) and `CHAOS_SEED` (default: from the clock, printed) vary it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

#[path = "support/fakes.rs"]
mod fakes;
#[path = "../miniapp-paypal/tests/support/fake.rs"]
mod paypal;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fakes::{Process, Rng, full_bot_release, serve, stripe_signature};
use miniapp_core::init_data::{BotToken, sign};
use serde_json::{Value, json};
use sqlx::Row;

const TOKEN: &str = "7000000009:CHAOS_test_bot_token";
const STRIPE_KEY: &str = "sk_test_chaos_key";
const WHSEC: &str = "whsec_chaos_webhook_secret";
const CONCURRENCY: usize = 32;
const KILLS: usize = 5;
const PACKAGES: [(u64, u64); 4] = [(100, 500), (200, 1000), (500, 2500), (1000, 5000)];

const COMPLETED: &str =
    include_str!("../miniapp-stripe/tests/vectors/events/checkout.session.completed.paid.json");
const REFUNDED: &str =
    include_str!("../miniapp-stripe/tests/vectors/events/charge.refunded.full.json");
const EXPIRED: &str =
    include_str!("../miniapp-stripe/tests/vectors/events/checkout.session.expired.json");

// ---------------------------------------------------------------------------------------------
// Payments, events and deliveries.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Plan {
    Paid,
    PaidThenRefunded,
    Expired,
}

struct Payment {
    id: String,
    user: i64,
    tokens: u64,
    cents: u64,
    plan: Plan,
    /// The PayPal order, for a payment made with PayPal (one in five); `None`: Stripe.
    order: Option<String>,
}

/// One webhook as its provider delivers it.
enum Event {
    Stripe(Vec<u8>),
    PayPal(miniapp_core::provider::WebhookRequest),
}

fn stripe_event(template: &str, kind: &str, p: &Payment, created: u64) -> Vec<u8> {
    let mut e: Value = serde_json::from_str(template).unwrap();
    e["id"] = json!(format!("evt_{kind}_{}", p.id));
    e["created"] = json!(created);
    let o = &mut e["data"]["object"];
    let intent = format!("pi_{}", p.id);
    match kind {
        "refunded" => {
            o["id"] = json!(format!("ch_{}", p.id));
            o["payment_intent"] = json!(intent);
            o["amount"] = json!(p.cents);
            o["amount_captured"] = json!(p.cents);
            o["amount_refunded"] = json!(p.cents);
            o["currency"] = json!("usd");
            o["metadata"] = json!({"payment_id": p.id, "telegram_user_id": p.user.to_string()});
        }
        _ => {
            o["id"] = json!(format!("cs_test_{}", p.id));
            o["client_reference_id"] = json!(p.id);
            o["metadata"] = json!({"payment_id": p.id, "telegram_user_id": p.user.to_string()});
            o["amount_total"] = json!(p.cents);
            o["amount_subtotal"] = json!(p.cents);
            o["currency"] = json!("usd");
            o["payment_intent"] = if kind == "expired" {
                Value::Null
            } else {
                json!(intent)
            };
        }
    }
    serde_json::to_vec(&e).unwrap()
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    server_error: AtomicUsize,
    client_error: AtomicUsize,
    refused: AtomicUsize,
}

impl Tally {
    fn line(&self) -> String {
        format!(
            "2xx {}, 5xx {}, 4xx {}, connection failed {}",
            self.ok.load(Ordering::Relaxed),
            self.server_error.load(Ordering::Relaxed),
            self.client_error.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed)
        )
    }
}

/// Runs `job(i)` for every `i` in `0..count` on `CONCURRENCY` tasks, each taking the next index.
async fn concurrently<F, Fut>(count: usize, job: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (job, next) = (job.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                job(i).await;
            }
        });
    }
    while let Some(r) = workers.join_next().await {
        r.unwrap();
    }
}

/// Delivers `order` (indexes into `events`, and the process to send to) at `CONCURRENCY`.
async fn deliver(
    client: &reqwest::Client,
    bases: &[Arc<RwLock<String>>],
    events: Arc<Vec<Event>>,
    order: Arc<Vec<(usize, usize)>>,
    progress: Arc<tokio::sync::watch::Sender<usize>>,
) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    let (client, bases, counted) = (client.clone(), bases.to_vec(), tally.clone());
    concurrently(order.len(), move |i| {
        let (client, tally, progress) = (client.clone(), counted.clone(), progress.clone());
        let (event, target) = order[i];
        let base = bases[target].read().unwrap().clone();
        let request = match &events[event] {
            Event::Stripe(body) => client
                .post(format!("{base}/api/miniapp/webhooks/stripe"))
                .header("stripe-signature", stripe_signature(WHSEC, body))
                .header("content-type", "application/json")
                .body(body.clone()),
            Event::PayPal(w) => w
                .headers
                .iter()
                .fold(
                    client.post(format!("{base}/api/miniapp/webhooks/paypal")),
                    |r, (k, v)| r.header(k, v),
                )
                .body(w.body.clone()),
        };
        async move {
            let r = request.send().await;
            let counter = match r {
                Ok(r) if r.status().is_success() => &tally.ok,
                Ok(r) if r.status().is_server_error() => &tally.server_error,
                Ok(r) => {
                    eprintln!(
                        "webhook answered {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                    &tally.client_error
                }
                Err(_) => &tally.refused,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            progress.send_modify(|n| *n += 1);
        }
    })
    .await;
    tally
}

fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but DATABASE_URL does not name PostgreSQL: the chaos test needs it")
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "builds full_bot in release; .ci/run runs it with --run-ignored only"]
async fn two_processes_sigkill_and_redelivery_credit_every_payment_exactly_once() {
    let Some(admin_url) = database_url() else {
        eprintln!("SKIPPED: the chaos test needs DATABASE_URL=postgres://…");
        return;
    };
    let started = Instant::now();
    let n: usize = std::env::var("CHAOS_PAYMENTS").map_or(5_000, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("CHAOS_SEED").map_or_else(
        |_| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |v| v.parse().unwrap(),
    );
    println!("chaos: {n} payments, seed {seed} (CHAOS_SEED={seed} repeats this run)");
    let mut rng = Rng(seed);

    let bin = full_bot_release();
    println!("chaos: full_bot built ({:.1?})", started.elapsed());

    // A database of its own, dropped and made afresh.
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    sqlx::query("DROP DATABASE IF EXISTS miniapp_chaos WITH (FORCE)")
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE miniapp_chaos")
        .execute(&admin)
        .await
        .unwrap();
    let db_url = format!(
        "{}/miniapp_chaos",
        admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base)
    );

    let stripe = serve(fakes::fake_stripe(STRIPE_KEY)).await;
    let paypal = paypal::Fake::start().await;
    let (telegram, telegram_state) = fakes::fake_telegram();
    let telegram = serve(telegram).await;

    let env = vec![
        ("DATABASE_URL", db_url.clone()),
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", telegram),
        ("PUBLIC_BASE_URL", "https://chaos.example".to_owned()),
        ("STRIPE_SECRET_KEY", STRIPE_KEY.to_owned()),
        ("STRIPE_WEBHOOK_SECRET", WHSEC.to_owned()),
        ("STRIPE_API_BASE", stripe),
        ("PAYMENT_METHODS", "card,paypal".to_owned()),
        ("PAYPAL_CLIENT_ID", paypal::CLIENT_ID.to_owned()),
        ("PAYPAL_CLIENT_SECRET", paypal::CLIENT_SECRET.to_owned()),
        ("PAYPAL_WEBHOOK_ID", paypal::WEBHOOK_ID.to_owned()),
        ("PAYPAL_API_BASE", paypal.base.clone()),
        ("MINIAPP_SANDBOX", "off".to_owned()),
        // 5,000 buyers all come from this machine's one address: the per-address rate limit
        // would refuse them (a real deployment sees them from their own addresses).
        ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
    ];
    let a = Process::start("A", &bin, &env);
    let mut b = Process::start("B", &bin, &env);
    let bases = [a.base.clone(), b.base.clone()];
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // 5,000 payments of 5,000 users, created through both processes.
    let token = BotToken::new(TOKEN).unwrap();
    let auth_date = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let plans: Vec<(i64, u64, u64, Plan, bool)> = (0..n)
        .map(|i| {
            let (tokens, cents) = PACKAGES[rng.below(PACKAGES.len())];
            let plan = match rng.below(10) {
                0 => Plan::PaidThenRefunded,
                1 => Plan::Expired,
                _ => Plan::Paid,
            };
            (
                8_000_000_000 + i as i64,
                tokens,
                cents,
                plan,
                rng.below(5) == 0,
            )
        })
        .collect();
    let created = Arc::new(Mutex::new(Vec::with_capacity(n)));
    {
        let (client, bases, created) = (client.clone(), bases.clone(), created.clone());
        concurrently(n, move |i| {
            let (user, tokens, cents, plan, with_paypal) = plans[i];
            let user_json = format!(r#"{{"id":{user},"first_name":"Payer","language_code":"en"}}"#);
            let init_data = sign(&[("auth_date", &auth_date), ("user", &user_json)], &token);
            let base = bases[i % 2].read().unwrap().clone();
            let (client, created) = (client.clone(), created.clone());
            async move {
                let r: Value = client
                    .post(format!("{base}/api/miniapp/create-payment"))
                    .header("authorization", format!("tma {init_data}"))
                    .json(&json!({
                        "credits": tokens,
                        "amount": format!("{}.{:02}", cents / 100, cents % 100),
                        "currency": "USD",
                        "payment_method": if with_paypal { "paypal" } else { "card" },
                    }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(r["success"], true, "create-payment: {r}");
                created.lock().unwrap().push(Payment {
                    id: r["payment_id"].as_str().unwrap().to_owned(),
                    user,
                    tokens,
                    cents,
                    plan,
                    order: with_paypal.then(|| {
                        let url = r["payment_url"].as_str().unwrap();
                        url.rsplit_once("token=").unwrap().1.to_owned()
                    }),
                });
            }
        })
        .await;
    }
    let mut payments = std::mem::take(&mut *created.lock().unwrap());
    payments.sort_by_key(|p| p.user);
    println!(
        "chaos: {} payments created through both processes ({:.1?})",
        payments.len(),
        started.elapsed()
    );

    // Their events: paid, paid then refunded, or expired; each delivered 3 times, shuffled.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut events = Vec::new();
    for p in &payments {
        let stripe = |template, kind, at| Event::Stripe(stripe_event(template, kind, p, at));
        match (p.plan, &p.order) {
            (Plan::Paid, None) => events.push(stripe(COMPLETED, "completed", now)),
            (Plan::PaidThenRefunded, None) => {
                events.push(stripe(COMPLETED, "completed", now));
                events.push(stripe(REFUNDED, "refunded", now + 1));
            }
            (Plan::Expired, None) => events.push(stripe(EXPIRED, "expired", now)),
            // PayPal: the buyer approves, and we capture on the approval. For half of the paid
            // ones PayPal's capture is already made (by an instance killed before it committed,
            // or by the buyer's return) and its own webhook comes too; refunds come after one.
            // All of them arrive in any order, to either process, three times each.
            (plan @ (Plan::Paid | Plan::PaidThenRefunded), Some(order)) => {
                paypal.approve(order);
                events.push(Event::PayPal(paypal.webhook(
                    "CHECKOUT.ORDER.APPROVED",
                    "checkout-order",
                    paypal.order_json(order),
                )));
                if plan == Plan::PaidThenRefunded || rng.below(2) == 0 {
                    paypal.capture_now(order, "COMPLETED");
                    events.push(Event::PayPal(paypal.webhook(
                        "PAYMENT.CAPTURE.COMPLETED",
                        "capture",
                        paypal.capture_json(order),
                    )));
                }
                if plan == Plan::PaidThenRefunded {
                    let cents = format!("{}.{:02}", p.cents / 100, p.cents % 100);
                    let refund = paypal.refund_now(order, &cents);
                    events.push(Event::PayPal(paypal.webhook(
                        "PAYMENT.CAPTURE.REFUNDED",
                        "refund",
                        refund,
                    )));
                }
            }
            (Plan::Expired, Some(order)) => {
                paypal.void(order);
                events.push(Event::PayPal(paypal.webhook(
                    "CHECKOUT.ORDER.VOIDED",
                    "checkout-order",
                    paypal.order_json(order),
                )));
            }
        }
    }
    let events = Arc::new(events);
    let mut order: Vec<(usize, usize)> = (0..3)
        .flat_map(|_| 0..events.len())
        .map(|e| (e, 0))
        .collect();
    rng.shuffle(&mut order);
    for d in &mut order {
        d.1 = rng.below(2);
    }
    let total = order.len();
    let mut kill_at: Vec<usize> = (0..KILLS).map(|_| 1 + rng.below(total - 1)).collect();
    kill_at.sort_unstable();

    // The killer: SIGKILL process B at five random points of the delivery, restart it at once.
    let (progress, mut watch) = tokio::sync::watch::channel(0usize);
    let progress = Arc::new(progress);
    let killer = tokio::spawn(async move {
        for at in kill_at {
            watch.wait_for(|n| *n >= at).await.unwrap();
            let t = Instant::now();
            b.kill_and_restart();
            println!(
                "chaos: SIGKILL {} after {at} deliveries, back in {:.0?}",
                b.name,
                t.elapsed()
            );
        }
        b
    });
    let t = Instant::now();
    let tally = deliver(&client, &bases, events.clone(), Arc::new(order), progress).await;
    let b = killer.await.unwrap();
    println!(
        "chaos: {total} deliveries ({} events × 3) in {:.1?}: {}",
        events.len(),
        t.elapsed(),
        tally.line()
    );
    assert_eq!(
        tally.client_error.load(Ordering::Relaxed),
        0,
        "no validly signed delivery may be refused"
    );

    // Everything once more, as Stripe redelivers what was not acknowledged; all must be 2xx.
    let mut again: Vec<(usize, usize)> = (0..events.len()).map(|e| (e, rng.below(2))).collect();
    rng.shuffle(&mut again);
    let (progress, _) = tokio::sync::watch::channel(0usize);
    let t = Instant::now();
    let redelivered = deliver(
        &client,
        &bases,
        events.clone(),
        Arc::new(again),
        Arc::new(progress),
    )
    .await;
    println!(
        "chaos: redelivery of {} events in {:.1?}: {}",
        events.len(),
        t.elapsed(),
        redelivered.line()
    );
    assert_eq!(redelivered.ok.load(Ordering::Relaxed), events.len());

    // Notifications: wait until the outbox has nothing pending or in flight. A message whose
    // sender was killed mid-send stays `sending` until its 60 s lease ends, then becomes
    // `unknown` (never resent: at most once).
    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    loop {
        ticker.tick().await;
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM miniapp_outbox WHERE state IN ('pending', 'sending')",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} notifications still pending or in flight after 150 s"
        );
    }
    drop((a, b));

    // The verdict, from SQL.
    let one = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let paid = one("SELECT count(*) FROM miniapp_payments WHERE status IN ('succeeded', 'partially_refunded', 'refunded', 'disputed')").await;
    let credited =
        one("SELECT count(DISTINCT payment_id) FROM miniapp_journal WHERE kind = 'credit'").await;
    let double = one("SELECT count(*) FROM (SELECT payment_id FROM miniapp_journal WHERE kind = 'credit' GROUP BY payment_id HAVING count(*) > 1) d").await;
    let drift = one("SELECT count(*) FROM miniapp_balances b LEFT JOIN \
         (SELECT user_id, sum(delta) AS total FROM miniapp_journal GROUP BY user_id) j \
         ON j.user_id = b.user_id WHERE b.balance <> coalesce(j.total, 0)")
    .await;
    let balances = one("SELECT coalesce(sum(balance), 0)::BIGINT FROM miniapp_balances").await;
    let packages =
        one("SELECT coalesce(sum(delta), 0)::BIGINT FROM miniapp_journal WHERE kind = 'credit'")
            .await;
    let refunds =
        one("SELECT coalesce(-sum(delta), 0)::BIGINT FROM miniapp_journal WHERE kind = 'clawback'")
            .await;
    let queued = one("SELECT count(*) FROM miniapp_outbox").await;
    let outbox: Vec<(String, i64)> =
        sqlx::query("SELECT state, count(*) FROM miniapp_outbox GROUP BY state ORDER BY state")
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let count = |state: &str| {
        outbox
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, c)| *c)
    };
    let sent_rows: Vec<i64> =
        sqlx::query_scalar("SELECT user_id FROM miniapp_outbox WHERE state = 'sent'")
            .fetch_all(&db)
            .await
            .unwrap();
    let statuses: HashMap<String, String> = sqlx::query("SELECT id, status FROM miniapp_payments")
        .fetch_all(&db)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();

    let messages = std::mem::take(&mut telegram_state.lock().unwrap().messages);
    let delivered_twice = messages.values().filter(|m| m.len() > 1).count();
    let sent_not_delivered = sent_rows
        .iter()
        .filter(|u| messages.get(u).is_none_or(Vec::is_empty))
        .count();
    let expected_paid = payments.iter().filter(|p| p.plan != Plan::Expired).count() as i64;
    let expected_balance: u64 = payments
        .iter()
        .filter(|p| p.plan == Plan::Paid)
        .map(|p| p.tokens)
        .sum();
    let wrong_status = payments
        .iter()
        .filter(|p| {
            let want = match p.plan {
                Plan::Paid => "succeeded",
                Plan::PaidThenRefunded => "refunded",
                Plan::Expired => "expired",
            };
            statuses.get(&p.id).map(String::as_str) != Some(want)
        })
        .count();

    println!("chaos: results after {:.1?}", started.elapsed());
    println!("  paid payments                      {paid} (planned {expected_paid})");
    println!("  credited payments                  {credited} (must equal paid)");
    println!("  double credits                     {double} (must be 0)");
    println!("  users with balance != sum(journal) {drift} (must be 0)");
    println!("  payments not in their planned state {wrong_status} (must be 0)");
    println!(
        "  sum of balances                    {balances} = paid packages {packages} − refunds {refunds} (planned {expected_balance})"
    );
    println!(
        "  notifications queued               {queued} (one per credited payment): sent {}, unknown {}, failed {}",
        count("sent"),
        count("unknown"),
        count("failed")
    );
    println!(
        "  Bot API messages                   {} to {} chats; chats messaged twice {delivered_twice}; sent but not received {sent_not_delivered}",
        messages.values().map(Vec::len).sum::<usize>(),
        messages.len()
    );

    let paypal_paid = payments
        .iter()
        .filter(|p| p.order.is_some() && p.plan != Plan::Expired)
        .count();
    println!(
        "  PayPal payments                    {} ({paypal_paid} paid): orders captured {}, capture requests {}",
        payments.iter().filter(|p| p.order.is_some()).count(),
        paypal.captured(),
        paypal.capture_requests().len()
    );

    assert_eq!(paid, expected_paid);
    assert_eq!(
        paypal.captured(),
        paypal_paid,
        "every approved PayPal order was captured (PayPal refuses a second capture)"
    );
    assert_eq!(credited, paid);
    assert_eq!(double, 0);
    assert_eq!(drift, 0);
    assert_eq!(wrong_status, 0);
    assert_eq!(balances, packages - refunds);
    assert_eq!(balances, expected_balance as i64);
    assert_eq!(queued, credited);
    assert_eq!(count("failed") + count("pending") + count("sending"), 0);
    assert_eq!(count("sent") + count("unknown"), queued);
    assert_eq!(delivered_twice, 0, "a notification was delivered twice");
    assert_eq!(
        sent_not_delivered, 0,
        "a notification marked sent never reached the Bot API"
    );
    // Only a sender killed mid-send may leave a message in doubt: at most one per kill.
    assert!(
        count("unknown") <= KILLS as i64,
        "{} notifications in doubt",
        count("unknown")
    );
}
