//! The operator path on SQLite and PostgreSQL: every kind of anomaly is listed, each can be
//! resolved, adjustments are journal lines with who and why (once per key), the audit catches a
//! balance that is not the sum of its journal, and `full_bot admin` does the same from the
//! command line with the documented exit statuses.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)] // tests fail by panicking, and say loudly what they skipped

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use miniapp::admin::{self, parse};
use miniapp::clock::{ClockExt, ManualClock, SystemClock};
use miniapp::conformance::{SUITE_PROVIDER, fresh_user, pending_payment};
use miniapp::event::{EventKind, ProviderEvent};
use miniapp::ids::{PaymentId, ProviderEventId, ProviderId, ProviderRef, UserId};
use miniapp::ledger::{
    ClaimOutcome, LedgerAdmin, LedgerError, LedgerStore, LedgerStoreExt, NotificationOutbox,
    OperatorNote, RefundQueue, Resolution, adjustment_key,
};
use miniapp::money::Money;
use miniapp::payment::{NoEffect, Payment, PaymentStatus, RefundPolicy};
use miniapp::sqlx::{PgLedgerStore, SqliteLedgerStore};
use serde_json::Value;

fn provider() -> ProviderId {
    ProviderId::new(SUITE_PROVIDER).unwrap()
}

fn event(p: &Payment, name: &str, charge: &str, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        id: ProviderEventId::new(format!("evt_{}_{name}", p.id)).unwrap(),
        payment_id: Some(p.id.clone()),
        provider_ref: ProviderRef::new(charge).unwrap(),
        kind,
    }
}

async fn apply(store: &dyn LedgerStore, e: &ProviderEvent) {
    store
        .apply_or_hold(&provider(), e, RefundPolicy::Debt)
        .await
        .unwrap();
}

fn note(actor: &str, reason: &str) -> OperatorNote {
    OperatorNote::new(actor, reason).unwrap()
}

/// What the scenario left behind, for the command-line half.
struct Scene {
    conflicted: Payment,
    duplicated: Payment,
    user: UserId,
}

/// One of each anomaly, then each resolved, on `store` whose clock is `clock`.
async fn scenario<S>(store: &S, clock: &ManualClock) -> Scene
where
    S: LedgerStore + NotificationOutbox + RefundQueue + LedgerAdmin,
{
    let user = fresh_user();
    // A conflicted payment: captured a cent short.
    let conflicted = pending_payment(store, user, 500, Money::usd_cents(2500)).await;
    let pi1 = format!("pi_{}", conflicted.id);
    apply(
        store,
        &event(
            &conflicted,
            "paid",
            &pi1,
            EventKind::Succeeded {
                amount: Money::usd_cents(2499),
            },
        ),
    )
    .await;
    // A duplicate charge (its refund is queued) whose credit message failed for good.
    let duplicated = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    let pi2 = format!("pi_{}", duplicated.id);
    let paid = EventKind::Succeeded {
        amount: duplicated.price,
    };
    apply(store, &event(&duplicated, "paid", &pi2, paid.clone())).await;
    apply(
        store,
        &event(&duplicated, "again", &format!("{pi2}_2"), paid),
    )
    .await;
    let claimed = store
        .claim_notifications(clock.unix_now(), 60, 100)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .finish_notification(
            &duplicated.id,
            &ClaimOutcome::Failed {
                error: "Forbidden: bot was blocked by the user".into(),
            },
            clock.unix_now(),
        )
        .await
        .unwrap();
    // A dispute of a charge no payment knows, held for two hours.
    let stray = ProviderEvent {
        id: ProviderEventId::new(format!("evt_stray_{user}")).unwrap(),
        payment_id: None,
        provider_ref: ProviderRef::new(format!("pi_stray_{user}")).unwrap(),
        kind: EventKind::DisputeOpened,
    };
    apply(store, &stray).await;
    clock.advance(std::time::Duration::from_secs(7200));

    let now = clock.unix_now();
    let a = store.anomalies(now, 100).await.unwrap();
    assert_eq!(
        a.conflicted.iter().map(|p| &p.id).collect::<Vec<_>>(),
        [&conflicted.id]
    );
    let reasons: Vec<(&PaymentId, &str)> = a
        .events
        .iter()
        .map(|e| (&e.payment_id, e.no_effect.as_deref().unwrap()))
        .collect();
    assert_eq!(reasons, [(&duplicated.id, "duplicate_charge")]);
    assert_eq!(a.refunds.len(), 1);
    assert_eq!(
        (a.refunds[0].state.as_str(), a.refunds[0].reason.as_str()),
        ("pending", "duplicate_charge")
    );
    assert_eq!(
        a.unmatched.iter().map(|h| &h.event.id).collect::<Vec<_>>(),
        [&stray.id]
    );
    let days_later = store.anomalies(now + 4 * 24 * 3600, 100).await.unwrap();
    assert!(
        days_later.unmatched.is_empty(),
        "no longer retried after three days: not listed forever"
    );
    assert_eq!(
        a.notifications
            .iter()
            .map(|n| (&n.payment_id, n.state.as_str()))
            .collect::<Vec<_>>(),
        [(&duplicated.id, "failed")]
    );

    // Credit the conflicted payment, once.
    let alice = note(
        "alice",
        "the cent was a rounding fee; the buyer paid in full",
    );
    let p = store
        .resolve(&conflicted.id, Resolution::Credit, &alice)
        .await
        .unwrap();
    assert_eq!(
        (p.status, p.tokens_credited),
        (PaymentStatus::Conflicted, 500)
    );
    let again = store
        .resolve(&conflicted.id, Resolution::Credit, &alice)
        .await;
    assert!(
        matches!(again, Err(LedgerError::NotAllowed(_))),
        "{again:?}"
    );
    assert_eq!(store.balance(user).await.unwrap().balance, 700);
    // A refund of it after the resolution moves no tokens, and is shown again.
    clock.advance(std::time::Duration::from_secs(1));
    let r = store
        .apply_event(
            &provider(),
            &event(
                &conflicted,
                "refund",
                &pi1,
                EventKind::Refunded {
                    total_refunded: Money::usd_cents(2499),
                },
            ),
            RefundPolicy::Debt,
        )
        .await
        .unwrap();
    assert_eq!(
        (r.clawed_back, r.no_effect),
        (0, Some(NoEffect::ConflictedPayment))
    );
    // Credited by hand, its money bought tokens: --refund will not give it back behind them.
    let refused = store
        .resolve(&conflicted.id, Resolution::Refund, &note("alice", "asked"))
        .await;
    assert!(
        matches!(refused, Err(LedgerError::NotAllowed(_))),
        "{refused:?}"
    );
    // The duplicate's refund fails at the provider; --refund retries it, and only it.
    let claimed = store.claim_refunds(clock.unix_now(), 60, 10).await.unwrap();
    let dup = claimed
        .iter()
        .find(|r| r.payment_id == duplicated.id)
        .unwrap();
    store
        .finish_refund(
            &dup.provider,
            &dup.charge_ref,
            &ClaimOutcome::Failed {
                error: "card closed".into(),
            },
            clock.unix_now(),
        )
        .await
        .unwrap();
    let a = store.anomalies(clock.unix_now(), 100).await.unwrap();
    assert_eq!(
        a.refunds
            .iter()
            .map(|r| r.state.as_str())
            .collect::<Vec<_>>(),
        ["failed"]
    );
    clock.advance(std::time::Duration::from_secs(1));
    store
        .resolve(
            &duplicated.id,
            Resolution::Refund,
            &note("bob", "card replaced"),
        )
        .await
        .unwrap();
    let retried = store.payment_refunds(&duplicated.id).await.unwrap();
    assert_eq!(
        retried
            .iter()
            .map(|r| (r.charge_ref.as_str(), r.state.as_str()))
            .collect::<Vec<_>>(),
        [(format!("{pi2}_2").as_str(), "pending")],
        "the extra charge again, never the credited one"
    );
    // Dismiss the duplicate's other anomalies: its event and message go from the list, its
    // queued refund stays until done.
    store
        .resolve(
            &duplicated.id,
            Resolution::Dismiss,
            &note("bob", "told the buyer by hand"),
        )
        .await
        .unwrap();
    let a = store.anomalies(clock.unix_now(), 100).await.unwrap();
    assert!(a.conflicted.is_empty());
    let reasons: Vec<(&PaymentId, &str)> = a
        .events
        .iter()
        .map(|e| (&e.payment_id, e.no_effect.as_deref().unwrap()))
        .collect();
    assert_eq!(reasons, [(&conflicted.id, "conflicted_payment")]);
    assert_eq!(a.refunds.len(), 1);
    assert!(a.notifications.is_empty());
    // A conflicted payment nobody was credited for: --refund gives back what was captured.
    let uncredited = pending_payment(store, user, 200, Money::usd_cents(1000)).await;
    let pi3 = format!("pi_{}", uncredited.id);
    apply(
        store,
        &event(
            &uncredited,
            "paid",
            &pi3,
            EventKind::Succeeded {
                amount: Money::usd_cents(999),
            },
        ),
    )
    .await;
    store
        .resolve(
            &uncredited.id,
            Resolution::Refund,
            &note("alice", "buyer asked"),
        )
        .await
        .unwrap();
    let refunds = store.payment_refunds(&uncredited.id).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (
            refunds[0].charge_ref.as_str(),
            refunds[0].amount,
            refunds[0].reason.as_str()
        ),
        (pi3.as_str(), Money::usd_cents(999), "operator")
    );

    // Adjustments: journal lines with who and why, once per key, never below zero.
    let goodwill = note("carol", "goodwill after the outage");
    let key = adjustment_key(user, 50, goodwill.reason());
    let first = store.adjust(user, 50, &goodwill, &key).await.unwrap();
    let second = store.adjust(user, 50, &goodwill, &key).await.unwrap();
    assert!(!first.replayed && second.replayed);
    assert_eq!(first.entry, second.entry);
    assert_eq!(
        (first.entry.actor.as_deref(), first.entry.memo.as_deref()),
        (Some("carol"), Some("goodwill after the outage"))
    );
    let conflict = store.adjust(user, 60, &goodwill, &key).await;
    assert!(matches!(conflict, Err(LedgerError::IdempotencyConflict)));
    let overdraw = store
        .adjust(
            user,
            -10_000,
            &goodwill,
            &adjustment_key(user, -10_000, "x"),
        )
        .await;
    assert!(matches!(
        overdraw,
        Err(LedgerError::InsufficientFunds { .. })
    ));
    assert_eq!(store.balance(user).await.unwrap().balance, 750);
    miniapp::conformance::assert_consistent(store, user).await;

    // The payment's own view.
    let view = admin::PaymentView::load(store, store, &conflicted.id)
        .await
        .unwrap();
    let text = view.to_text();
    for needle in [
        "conflicted",
        "credit +500",
        "by alice",
        "no effect: conflicted_payment",
        "resolutions (1)",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }

    // The same counts as gauges, for alerts.
    let metrics = miniapp::metrics::Metrics::install().unwrap();
    let listed = store.anomalies(clock.unix_now(), 10_000).await.unwrap();
    miniapp::metrics::refresh_anomaly_gauges(store, clock.unix_now())
        .await
        .unwrap();
    let rendered = metrics.render();
    for (kind, n) in [
        ("conflicted", listed.conflicted.len()),
        ("events", listed.events.len()),
        ("refunds", listed.refunds.len()),
        ("unmatched", listed.unmatched.len()),
        ("notifications", listed.notifications.len()),
    ] {
        // Both stores' tests share the recorder; they list the same counts at this point.
        let line = format!("miniapp_anomalies{{kind=\"{kind}\"}} {n}");
        assert!(rendered.lines().any(|l| l == line), "{line}: {rendered}");
    }
    assert_eq!(
        (
            listed.conflicted.len(),
            listed.events.len(),
            listed.refunds.len(),
            listed.unmatched.len()
        ),
        (0, 1, 2, 1),
        "the refund of the hand-credited payment after its resolution; two refunds not done"
    );

    let audit = store.audit().await.unwrap();
    assert!(audit.is_clean(), "{audit:?}");
    let ours = audit
        .totals
        .iter()
        .find(|t| t.provider == provider())
        .unwrap();
    assert!(ours.tokens_credited >= 700);
    Scene {
        conflicted,
        duplicated,
        user,
    }
}

fn full_bot() -> &'static PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(build_full_bot)
}

fn build_full_bot() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "full_bot"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --example full_bot");
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    deps.parent().unwrap().join("examples").join("full_bot")
}

/// Runs `full_bot admin <args>` on `database_url`: (exit status, stdout, stderr).
fn admin_cli(database_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(full_bot())
        .arg("admin")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("MINIAPP_OPERATOR", "ops-on-call")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The command line against the database the scenario used; `tamper` breaks one balance
/// behind the ledger's back (what a hand-written UPDATE would do).
async fn command_line(database_url: &str, scene: &Scene, tamper: impl AsyncFnOnce()) {
    let (code, out, err) = admin_cli(database_url, &["audit", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let audit: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(audit["balance_mismatches"], Value::Array(vec![]));

    let (code, out, _) = admin_cli(database_url, &["anomalies", "--json"]);
    assert_eq!(code, 0);
    let anomalies: Value = serde_json::from_str(&out).unwrap();
    assert!(
        anomalies["unmatched"].as_array().unwrap().len() == 1
            && anomalies["refunds"].as_array().unwrap().len() == 2,
        "{anomalies}"
    );

    let id = scene.duplicated.id.as_str();
    let (code, out, _) = admin_cli(database_url, &["payment", id]);
    assert_eq!(code, 0);
    assert!(
        out.contains("duplicate_charge") && out.contains("dismiss by bob"),
        "{out}"
    );

    // Refused and wrong commands: a clear line, the documented status, nothing changed.
    let (code, _, err) = admin_cli(
        database_url,
        &["resolve", id, "--credit", "--reason", "try"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not allowed"), "{err}");
    for bad in [
        &["adjust", "1", "0", "--reason", "x"][..],
        &["adjust", "1", "5"],
        &["resolve", id, "--credit", "--dismiss", "--reason", "x"],
        &["payment", "not a payment id"],
        &["frobnicate"],
    ] {
        let (code, _, err) = admin_cli(database_url, bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("usage: full_bot admin"), "{err}");
    }

    // An adjustment from the command line records the configured operator.
    let user = scene.user.to_string();
    let args = ["adjust", &user, "+25", "--reason", "support ticket 1234"];
    let (code, out, _) = admin_cli(database_url, &args);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = admin_cli(database_url, &args);
    assert!(code == 0 && out.starts_with("already done"), "{out}");
    let (code, csv, _) = admin_cli(database_url, &["export", "--since", "2020-01-01"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = csv
        .lines()
        .filter(|l| l.contains(&format!(",{user},")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",adjustment,25,")
                && l.ends_with(",support ticket 1234,ops-on-call")),
        "{csv}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(",credit,")).count(),
        2,
        "the duplicated payment's credit and the resolution's, each once: {csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(scene.conflicted.id.as_str()) && l.ends_with(",alice")),
        "the resolution's credit says who: {csv}"
    );

    tamper().await;
    let (code, out, _) = admin_cli(database_url, &["audit"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("MISMATCH user {user}")) && out.ends_with("audit: MISMATCH\n"),
        "{out}"
    );
}

#[tokio::test]
async fn operator_path_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ops.db").display().to_string();
    let clock = Arc::new(ManualClock::at_unix(SystemClock.unix_now() - 3 * 3600));
    let store = SqliteLedgerStore::connect(&path)
        .await
        .unwrap()
        .with_clock(clock.clone());
    store.migrate().await.unwrap();
    let scene = scenario(&store, &clock).await;
    let user = scene.user.get();
    command_line(&format!("sqlite://{path}"), &scene, async || {
        sqlx::query("UPDATE miniapp_balances SET balance = balance + 7 WHERE user_id = $1")
            .bind(user)
            .execute(store.pool())
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn operator_path_on_postgres() {
    let Some(server) = support::postgres_url("the PostgreSQL operator test") else {
        return;
    };
    let url = support::fresh_database(&server, "miniapp_ops").await;
    let clock = Arc::new(ManualClock::at_unix(SystemClock.unix_now() - 3 * 3600));
    let store = PgLedgerStore::connect(&url, 4)
        .await
        .unwrap()
        .with_clock(clock.clone());
    store.migrate().await.unwrap();
    let scene = scenario(&store, &clock).await;
    let user = scene.user.get();
    command_line(&url, &scene, async || {
        sqlx::query("UPDATE miniapp_balances SET balance = balance + 7 WHERE user_id = $1")
            .bind(user)
            .execute(store.pool())
            .await
            .unwrap();
    })
    .await;
    store.pool().close().await;
    support::drop_database(&server, &url).await;
}

#[test]
fn the_command_line_is_parsed_strictly() {
    assert!(parse(&["audit"], "ops").is_ok());
    let inv = parse(
        &[
            "resolve", "pay_1", "--refund", "--reason", "asked", "--by", "zoe",
        ],
        "ops",
    )
    .unwrap();
    match inv.command {
        admin::Command::Resolve {
            resolution, note, ..
        } => {
            assert_eq!(resolution, Resolution::Refund);
            assert_eq!(note.actor(), "zoe");
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        &["audit", "--since"][..],
        &["resolve", "pay_1", "--reason", "x"],
        &["resolve", "pay_1", "--dismiss", "--reason", "   "],
        &["adjust", "-5", "10", "--reason", "x"],
        &["adjust", "5", "ten", "--reason", "x"],
        &["adjust", "5", "99999999999999999999", "--reason", "x"],
        &["export", "--since", "yesterday"],
        &["audit", "--credit"],
        &["anomalies", "--limit", "-1"],
    ] {
        assert!(
            matches!(parse(bad, "ops"), Err(admin::AdminError::Usage(_))),
            "{bad:?}"
        );
    }
}
