//! The operator's commands: `full_bot admin <command>` against the configured database, plain
//! text for people and `--json` for scripts. The owner's bot command `/payment pay_…` prints the
//! same [`payment_summary`].
//!
//! ```text
//! full_bot admin payment <payment id>
//! full_bot admin anomalies [--limit N]
//! full_bot admin resolve <payment id> --credit|--refund|--dismiss --reason "…" [--by NAME]
//! full_bot admin adjust <user id> <±tokens> --reason "…" [--by NAME] [--key KEY]
//! full_bot admin audit
//! full_bot admin export [--since YYYY-MM-DD|unix seconds]
//! ```
//!
//! Exit status: 0 done; 1 the command failed, or `audit` found a mismatch; 2 a usage error.
//! Nothing edits history: see [`LedgerAdmin`].

use std::io::Write;

use miniapp_core::ids::{IdempotencyKey, PaymentId, UserId};
use miniapp_core::ledger::{
    Anomalies, AuditReport, JournalEntry, LedgerAdmin, LedgerError, OperatorNote, QueuedRefund,
    RecordedEvent, Resolution, ResolutionRecord, adjustment_key,
};
use miniapp_core::money::Money;
use miniapp_core::payment::Payment;
use serde_json::json;

/// What can go wrong with an admin command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The command line is wrong; the message says how it should look.
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    /// The ledger refused or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// The usage text.
pub const USAGE: &str = "usage: full_bot admin <command> [--json]
  payment <payment id>                       the payment, its provider events, journal lines, refunds and resolutions
  anomalies [--limit N]                      conflicted payments, duplicate charges, refunds pending or failed,
                                             unmatched events, notifications in doubt
  resolve <payment id> --credit|--refund|--dismiss --reason TEXT [--by NAME]
  adjust <user id> <+N|-N> --reason TEXT [--by NAME] [--key KEY]
                                             a journal line of kind `adjustment`; the same command twice adjusts once
  audit                                      balance = sum of the journal for every user, one credit per credited
                                             payment, totals per provider; exits 1 on any mismatch
  export [--since YYYY-MM-DD|UNIX]           the journal as CSV";

/// A parsed admin command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `payment <id>`.
    Payment(PaymentId),
    /// `anomalies`.
    Anomalies {
        /// Per kind.
        limit: u32,
    },
    /// `resolve <id> --credit|--refund|--dismiss`.
    Resolve {
        /// The payment.
        id: PaymentId,
        /// What to do.
        resolution: Resolution,
        /// Who and why.
        note: OperatorNote,
    },
    /// `adjust <user> <±tokens>`.
    Adjust {
        /// Whose balance.
        user: UserId,
        /// Tokens, either sign.
        delta: i64,
        /// Who and why.
        note: OperatorNote,
        /// Makes a repeated command a no-op.
        key: IdempotencyKey,
    },
    /// `audit`.
    Audit,
    /// `export [--since]`.
    Export {
        /// Unix seconds.
        since: u64,
    },
}

/// A command and its output format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// What to do.
    pub command: Command,
    /// JSON instead of text.
    pub json: bool,
}

fn usage(msg: impl Into<String>) -> AdminError {
    AdminError::Usage(msg.into())
}

/// Parses the arguments after `admin`. `default_actor` is who acts when `--by` is not given
/// (the caller passes `$USER`).
///
/// # Errors
/// [`AdminError::Usage`].
///
/// ```
/// use miniapp::admin::{Command, parse};
/// let inv = parse(&["adjust", "42", "-50", "--reason", "chargeback", "--json"], "alice").unwrap();
/// assert!(inv.json);
/// assert!(matches!(inv.command, Command::Adjust { delta: -50, .. }));
/// assert!(parse(&["adjust", "42", "0x10", "--reason", "x"], "alice").is_err());
/// ```
pub fn parse<S: AsRef<str>>(args: &[S], default_actor: &str) -> Result<Invocation, AdminError> {
    let mut positional = Vec::new();
    let mut json = false;
    let mut flags: Vec<&str> = Vec::new();
    let mut reason = None;
    let mut by = None;
    let mut key = None;
    let mut since = None;
    let mut limit = None;
    let mut it = args.iter().map(AsRef::as_ref);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .map(str::to_owned)
                .ok_or_else(|| usage(format!("{name} needs a value")))
        };
        match arg {
            "--json" => json = true,
            "--credit" | "--refund" | "--dismiss" => flags.push(arg),
            "--reason" => reason = Some(value("--reason")?),
            "--by" => by = Some(value("--by")?),
            "--key" => key = Some(value("--key")?),
            "--since" => since = Some(value("--since")?),
            "--limit" => limit = Some(value("--limit")?),
            flag if flag.starts_with("--") => return Err(usage(format!("unknown option {flag}"))),
            other => positional.push(other),
        }
    }
    let note = |reason: Option<String>| -> Result<OperatorNote, AdminError> {
        let reason = reason.ok_or_else(|| usage("--reason is required"))?;
        OperatorNote::new(by.as_deref().unwrap_or(default_actor), &reason)
            .map_err(|e| usage(e.to_string()))
    };
    let payment_id = |s: Option<&&str>| -> Result<PaymentId, AdminError> {
        let s = s.ok_or_else(|| usage("a payment id is required"))?;
        PaymentId::new(*s).map_err(|e| usage(format!("payment id {s:?}: {e}")))
    };
    let command = match positional.as_slice() {
        ["payment", rest @ ..] if rest.len() == 1 => Command::Payment(payment_id(rest.first())?),
        ["anomalies"] => Command::Anomalies {
            limit: match limit {
                Some(l) => l.parse().map_err(|_| usage("--limit takes a number"))?,
                None => 50,
            },
        },
        ["resolve", rest @ ..] if rest.len() == 1 => {
            let resolution = match flags.as_slice() {
                ["--credit"] => Resolution::Credit,
                ["--refund"] => Resolution::Refund,
                ["--dismiss"] => Resolution::Dismiss,
                _ => return Err(usage("exactly one of --credit, --refund, --dismiss")),
            };
            Command::Resolve {
                id: payment_id(rest.first())?,
                resolution,
                note: note(reason)?,
            }
        }
        ["adjust", user, delta] => {
            let user = user
                .parse::<i64>()
                .ok()
                .and_then(UserId::new)
                .ok_or_else(|| usage(format!("user id {user:?}: a positive Telegram user id")))?;
            let delta: i64 = delta
                .strip_prefix('+')
                .unwrap_or(delta)
                .parse()
                .ok()
                .filter(|d| *d != 0)
                .ok_or_else(|| usage(format!("tokens {delta:?}: a non-zero whole number")))?;
            let note = note(reason)?;
            let key = match key {
                Some(k) => IdempotencyKey::new(k).map_err(|e| usage(format!("--key: {e}")))?,
                None => adjustment_key(user, delta, note.reason()),
            };
            Command::Adjust {
                user,
                delta,
                note,
                key,
            }
        }
        ["audit"] => Command::Audit,
        ["export"] => Command::Export {
            since: match since {
                Some(s) => parse_since(&s)?,
                None => 0,
            },
        },
        [] => return Err(usage("a command is required")),
        other => return Err(usage(format!("cannot read {other:?}"))),
    };
    if !flags.is_empty() && !matches!(command, Command::Resolve { .. }) {
        return Err(usage("--credit, --refund and --dismiss belong to resolve"));
    }
    Ok(Invocation { command, json })
}

/// `YYYY-MM-DD` (midnight UTC) or unix seconds.
fn parse_since(s: &str) -> Result<u64, AdminError> {
    if let Ok(unix) = s.parse::<u64>() {
        return Ok(unix);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date =
        time::Date::parse(s, &format).map_err(|_| usage(format!("--since {s:?}: YYYY-MM-DD")))?;
    u64::try_from(date.midnight().assume_utc().unix_timestamp())
        .map_err(|_| usage("--since before 1970"))
}

/// Runs `invocation` on `admin`, writing to `out`; returns the exit status (0, or 1 when
/// `audit` found a mismatch).
///
/// # Errors
/// [`AdminError`]: the ledger refused (an unknown payment, a resolution that does not apply, an
/// adjustment below zero) or failed.
pub async fn run(
    admin: &dyn LedgerAdmin,
    ledger: &dyn miniapp_core::ledger::LedgerStore,
    invocation: &Invocation,
    now: u64,
    out: &mut dyn Write,
) -> Result<u8, AdminError> {
    let json = invocation.json;
    match &invocation.command {
        Command::Payment(id) => {
            let view = PaymentView::load(admin, ledger, id).await?;
            if json {
                writeln!(out, "{}", view.to_json())?;
            } else {
                write!(out, "{}", view.to_text())?;
            }
        }
        Command::Anomalies { limit } => {
            let anomalies = admin.anomalies(now, *limit).await?;
            if json {
                writeln!(out, "{}", json!(anomalies))?;
            } else {
                write!(out, "{}", anomalies_text(&anomalies))?;
            }
        }
        Command::Resolve {
            id,
            resolution,
            note,
        } => {
            let payment = admin.resolve(id, *resolution, note).await?;
            if json {
                writeln!(
                    out,
                    "{}",
                    json!({"resolved": id, "action": resolution, "actor": note.actor(),
                           "reason": note.reason(), "payment": payment})
                )?;
            } else {
                writeln!(
                    out,
                    "{id}: {} by {} ({}); now {}, {} tokens credited",
                    resolution.as_str(),
                    note.actor(),
                    note.reason(),
                    payment.status,
                    payment.tokens_credited
                )?;
                if *resolution == Resolution::Refund {
                    writeln!(
                        out,
                        "the refund is queued: the refund worker of the running app sends it"
                    )?;
                }
            }
        }
        Command::Adjust {
            user,
            delta,
            note,
            key,
        } => {
            let receipt = admin.adjust(*user, *delta, note, key).await?;
            if json {
                writeln!(out, "{}", json!(receipt))?;
            } else {
                let e = &receipt.entry;
                writeln!(
                    out,
                    "{}user {} {:+} tokens by {} ({}): balance {} (journal #{}, key {})",
                    if receipt.replayed {
                        "already done: "
                    } else {
                        ""
                    },
                    e.user_id,
                    e.delta,
                    note.actor(),
                    note.reason(),
                    e.balance_after,
                    e.id,
                    key
                )?;
            }
        }
        Command::Audit => {
            let report = admin.audit().await?;
            if json {
                writeln!(out, "{}", json!(report))?;
            } else {
                write!(out, "{}", audit_text(&report))?;
            }
            return Ok(if report.is_clean() { 0 } else { 1 });
        }
        Command::Export { since } => export_csv(admin, *since, out).await?,
    }
    Ok(0)
}

/// A payment with everything recorded about it.
#[derive(Debug, Clone)]
pub struct PaymentView {
    /// The payment.
    pub payment: Payment,
    /// Its provider events.
    pub events: Vec<RecordedEvent>,
    /// Its journal lines.
    pub journal: Vec<JournalEntry>,
    /// Its refunds.
    pub refunds: Vec<QueuedRefund>,
    /// Its resolutions.
    pub resolutions: Vec<ResolutionRecord>,
}

impl PaymentView {
    /// Reads it all.
    ///
    /// # Errors
    /// [`LedgerError::UnknownPayment`] when there is no such payment.
    pub async fn load(
        admin: &dyn LedgerAdmin,
        ledger: &dyn miniapp_core::ledger::LedgerStore,
        id: &PaymentId,
    ) -> Result<PaymentView, LedgerError> {
        let payment = ledger
            .payment(id)
            .await?
            .ok_or(LedgerError::UnknownPayment)?;
        Ok(PaymentView {
            payment,
            events: admin.payment_events(id).await?,
            journal: admin.payment_journal(id).await?,
            refunds: admin.payment_refunds(id).await?,
            resolutions: admin.resolutions(id).await?,
        })
    }

    /// For scripts.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "payment": self.payment, "events": self.events, "journal": self.journal,
            "refunds": self.refunds, "resolutions": self.resolutions,
        })
    }

    /// For people (and the owner's `/payment`).
    pub fn to_text(&self) -> String {
        payment_summary(self)
    }
}

fn when(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

fn money(m: Money) -> String {
    format!("{} {}", m.to_decimal_string(), m.currency().code())
}

/// The payment, its events, journal lines, refunds and resolutions, as text.
pub fn payment_summary(view: &PaymentView) -> String {
    use std::fmt::Write as _;
    let p = &view.payment;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "payment {} — {}\n  user {}, {} via {} ({})\n  order: {} tokens for {}",
        p.id,
        p.status,
        p.user_id,
        p.method.as_str(),
        p.provider,
        p.language.as_deref().unwrap_or("-"),
        p.tokens,
        money(p.price)
    );
    let _ = writeln!(
        s,
        "  captured: {}, charge {}\n  refunded: {} minor units, dispute {:?}",
        p.facts.paid.map_or_else(|| "nothing".to_owned(), money),
        p.payment_ref.as_ref().map_or("-", |r| r.as_str()),
        p.facts.refunded(p.price.minor_units()),
        p.facts.dispute
    );
    for (id, r) in &p.facts.refunds {
        let _ = writeln!(
            s,
            "    refund {id}: {} minor units{}",
            r.minor,
            if r.failed { ", failed" } else { "" }
        );
    }
    let _ = writeln!(
        s,
        "  tokens: {} credited, {} reversed, {} written off\n  checkout {}\n  created {}, updated {}",
        p.tokens_credited,
        p.tokens_reversed,
        p.tokens_written_off,
        p.checkout_ref.as_ref().map_or("-", |r| r.as_str()),
        when(p.created_at),
        when(p.updated_at)
    );
    let _ = writeln!(s, "events ({}):", view.events.len());
    for e in &view.events {
        let _ = writeln!(
            s,
            "  {} {} {} {}{}",
            when(e.received_at),
            e.event_id,
            e.kind,
            e.provider_ref.as_deref().unwrap_or("-"),
            e.no_effect
                .as_deref()
                .map(|n| format!(" — no effect: {n}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(s, "journal ({}):", view.journal.len());
    for j in &view.journal {
        let _ = writeln!(
            s,
            "  #{} {} {} {:+} → {}{}",
            j.id,
            when(j.created_at),
            j.kind.as_str(),
            j.delta,
            j.balance_after,
            j.actor
                .as_deref()
                .map(|a| format!(" by {a}"))
                .unwrap_or_default()
        );
    }
    if !view.refunds.is_empty() {
        let _ = writeln!(s, "refunds ({}):", view.refunds.len());
        for r in &view.refunds {
            let _ = writeln!(s, "  {}", refund_line(r));
        }
    }
    if !view.resolutions.is_empty() {
        let _ = writeln!(s, "resolutions ({}):", view.resolutions.len());
        for r in &view.resolutions {
            let _ = writeln!(
                s,
                "  {} {} by {}: {}",
                when(r.created_at),
                r.action.as_str(),
                r.actor,
                r.reason
            );
        }
    }
    s
}

fn refund_line(r: &QueuedRefund) -> String {
    format!(
        "{} {} charge {} of {} ({}), {} attempts{}",
        r.payment_id,
        r.state,
        r.charge_ref,
        money(r.amount),
        r.reason,
        r.attempts,
        r.last_error
            .as_deref()
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default()
    )
}

fn anomalies_text(a: &Anomalies) -> String {
    use std::fmt::Write as _;
    if a.is_empty() {
        return "no anomalies\n".to_owned();
    }
    let mut s = String::new();
    let _ = writeln!(s, "conflicted payments ({}):", a.conflicted.len());
    for p in &a.conflicted {
        let _ = writeln!(
            s,
            "  {} user {}: priced {}, captured {} (charge {})",
            p.id,
            p.user_id,
            money(p.price),
            p.facts.paid.map_or_else(|| "-".to_owned(), money),
            p.payment_ref.as_ref().map_or("-", |r| r.as_str())
        );
    }
    let _ = writeln!(s, "events with no effect ({}):", a.events.len());
    for e in &a.events {
        let _ = writeln!(
            s,
            "  {} {} {} {} {}: {}",
            when(e.received_at),
            e.payment_id,
            e.provider,
            e.event_id,
            e.provider_ref.as_deref().unwrap_or("-"),
            e.no_effect.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(s, "refunds not done ({}):", a.refunds.len());
    for r in &a.refunds {
        let _ = writeln!(s, "  {}", refund_line(r));
    }
    let _ = writeln!(
        s,
        "unmatched events, held over an hour ({}):",
        a.unmatched.len()
    );
    for h in &a.unmatched {
        let _ = writeln!(
            s,
            "  {} {} {} {} {}",
            when(h.received_at),
            h.provider,
            h.event.id,
            h.event.kind.name(),
            h.event.provider_ref
        );
    }
    let _ = writeln!(s, "notifications in doubt ({}):", a.notifications.len());
    for n in &a.notifications {
        let _ = writeln!(
            s,
            "  {} user {}: {}{}",
            n.payment_id,
            n.user_id,
            n.state,
            n.last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    s.push_str(
        "resolve with: full_bot admin resolve <payment id> --credit|--refund|--dismiss --reason …\n",
    );
    s
}

fn audit_text(r: &AuditReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{} users, {} journal lines", r.users, r.journal_lines);
    for (user, balance, sum) in &r.balance_mismatches {
        let _ = writeln!(
            s,
            "MISMATCH user {user}: balance {balance}, journal sums to {sum}"
        );
    }
    for m in &r.credit_mismatches {
        let _ = writeln!(
            s,
            "MISMATCH payment {}: {} tokens credited, {} credit lines summing to {}",
            m.payment_id, m.tokens_credited, m.credit_lines, m.credited_in_journal
        );
    }
    for t in &r.totals {
        let _ = writeln!(
            s,
            "{} {}: {} paid payments, {} minor units paid, {} refunded; {} tokens credited, {} reversed",
            t.provider,
            t.currency,
            t.paid_payments,
            t.paid_minor,
            t.refunded_minor,
            t.tokens_credited,
            t.tokens_reversed
        );
    }
    s.push_str(if r.is_clean() {
        "audit: OK\n"
    } else {
        "audit: MISMATCH\n"
    });
    s
}

/// Spreadsheets run cells that start with these as formulas; a memo is the buyer's text.
fn defuse(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

async fn export_csv(
    admin: &dyn LedgerAdmin,
    since: u64,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "id",
        "created_at",
        "user_id",
        "kind",
        "delta",
        "balance_after",
        "payment_id",
        "idempotency_key",
        "memo",
        "actor",
    ])
    .map_err(csv_error)?;
    let mut after = 0;
    loop {
        let page = admin.journal_since(since, after, 1000).await?;
        for e in &page {
            csv.write_record([
                e.id.to_string(),
                when(e.created_at),
                e.user_id.to_string(),
                e.kind.as_str().to_owned(),
                e.delta.to_string(),
                e.balance_after.to_string(),
                e.payment_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                e.idempotency_key
                    .as_ref()
                    .map(|k| defuse(k.as_str()))
                    .unwrap_or_default(),
                e.memo.as_deref().map(defuse).unwrap_or_default(),
                e.actor.as_deref().map(defuse).unwrap_or_default(),
            ])
            .map_err(csv_error)?;
        }
        match page.last() {
            Some(last) if page.len() == 1000 => after = last.id,
            _ => break,
        }
    }
    csv.flush()?;
    Ok(())
}

fn csv_error(e: csv::Error) -> AdminError {
    AdminError::Output(std::io::Error::other(e.to_string()))
}
