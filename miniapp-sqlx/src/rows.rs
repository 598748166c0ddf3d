//! Rows as stored, and their checked conversion into core types.

use miniapp_core::catalog::PaymentMethod;
use miniapp_core::event::FailureReason;
use miniapp_core::ids::{IdempotencyKey, PaymentId, ProviderId, ProviderRef, UserId};
use miniapp_core::ledger::{
    Balance, CreditMismatch, EntryKind, HeldEvent, JournalEntry, LedgerError, ProviderTotal,
    QueuedRefund, RecordedEvent, Resolution, ResolutionRecord, UnsentNotification,
};
use miniapp_core::money::{Currency, Money, TokenAmount};
use miniapp_core::payment::{Closure, DisputeState, Payment, PaymentFacts, PaymentStatus};

/// The columns of `miniapp_payments`, in [`PaymentRow`] order.
macro_rules! payment_columns {
    () => {
        "id, user_id, provider, method, tokens, price_minor, currency, exponent, email, \
         idempotency_key, checkout_ref, checkout_url, payment_ref, status, paid_minor, \
         paid_currency, closure, refunded_minor, dispute, tokens_credited, tokens_reversed, \
         tokens_written_off, created_at, updated_at, language, checkout_attempt, refund_facts, \
         failure_reason"
    };
}

/// The columns of `miniapp_journal`, in [`JournalRow`] order.
macro_rules! journal_columns {
    () => {
        "id, user_id, kind, delta, balance_after, payment_id, idempotency_key, memo, created_at, \
         actor"
    };
}

pub(crate) use {journal_columns, payment_columns};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PaymentRow {
    id: String,
    user_id: i64,
    provider: String,
    method: String,
    tokens: i64,
    price_minor: i64,
    currency: String,
    exponent: i32,
    email: Option<String>,
    idempotency_key: Option<String>,
    checkout_ref: Option<String>,
    checkout_url: Option<String>,
    payment_ref: Option<String>,
    status: String,
    paid_minor: Option<i64>,
    paid_currency: Option<String>,
    closure: Option<String>,
    refunded_minor: i64,
    dispute: String,
    tokens_credited: i64,
    tokens_reversed: i64,
    tokens_written_off: i64,
    created_at: i64,
    updated_at: i64,
    language: Option<String>,
    checkout_attempt: i64,
    refund_facts: String,
    failure_reason: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct JournalRow {
    id: i64,
    user_id: i64,
    kind: String,
    delta: i64,
    balance_after: i64,
    payment_id: Option<String>,
    idempotency_key: Option<String>,
    memo: Option<String>,
    created_at: i64,
    actor: Option<String>,
}

/// A payment row with its owner's balance columns (`NULL` when the user has no balance row yet).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PaymentBalanceRow {
    #[sqlx(flatten)]
    payment: PaymentRow,
    b_balance: Option<i64>,
    b_deposited: Option<i64>,
    b_spent: Option<i64>,
}

impl PaymentBalanceRow {
    pub(crate) fn into_payment_and_balance(self) -> Result<(Payment, Balance), LedgerError> {
        let payment = self.payment.into_payment()?;
        let balance = match (self.b_balance, self.b_deposited, self.b_spent) {
            (Some(balance), Some(deposited), Some(spent)) => Balance {
                user_id: payment.user_id,
                balance,
                total_deposited: unsigned(deposited, "total deposited")?,
                total_spent: unsigned(spent, "total spent")?,
            },
            (None, None, None) => Balance::empty(payment.user_id),
            _ => return Err(corrupt("balance")),
        };
        Ok((payment, balance))
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BalanceRow {
    user_id: i64,
    balance: i64,
    total_deposited: i64,
    total_spent: i64,
}

fn corrupt(what: &str) -> LedgerError {
    LedgerError::Corrupt(format!("stored {what} is invalid"))
}

fn unsigned(v: i64, what: &str) -> Result<u64, LedgerError> {
    u64::try_from(v).map_err(|_| corrupt(what))
}

pub(crate) fn signed(v: u64) -> Result<i64, LedgerError> {
    i64::try_from(v).map_err(|_| LedgerError::Corrupt("amount out of range for storage".into()))
}

fn currency(code: &str, exponent: i32) -> Result<Currency, LedgerError> {
    Currency::new(
        code,
        u8::try_from(exponent).map_err(|_| corrupt("currency exponent"))?,
    )
    .ok_or_else(|| corrupt("currency"))
}

fn closure_name(c: Closure) -> &'static str {
    match c {
        Closure::Expired => "expired",
        Closure::Canceled => "canceled",
        Closure::Failed => "failed",
    }
}

fn dispute_name(d: DisputeState) -> &'static str {
    match d {
        DisputeState::None => "none",
        DisputeState::Open => "open",
        DisputeState::Won => "won",
        DisputeState::Lost => "lost",
    }
}

impl PaymentRow {
    pub(crate) fn into_payment(self) -> Result<Payment, LedgerError> {
        let price_currency = currency(&self.currency, self.exponent)?;
        let paid = match (self.paid_minor, self.paid_currency) {
            (Some(minor), Some(code)) => {
                // The paid currency may be any the provider reported; keep its code, and use the
                // price's exponent when it is the same currency.
                let c = Currency::from_code(&code)
                    .or_else(|| currency(&code, self.exponent).ok())
                    .ok_or_else(|| corrupt("paid currency"))?;
                Some(Money::new(unsigned(minor, "paid amount")?, c))
            }
            (None, None) => None,
            _ => return Err(corrupt("paid amount")),
        };
        let closure = match self.closure.as_deref() {
            None => None,
            Some("expired") => Some(Closure::Expired),
            Some("canceled") => Some(Closure::Canceled),
            Some("failed") => Some(Closure::Failed),
            Some(_) => return Err(corrupt("closure")),
        };
        let dispute = match self.dispute.as_str() {
            "none" => DisputeState::None,
            "open" => DisputeState::Open,
            "won" => DisputeState::Won,
            "lost" => DisputeState::Lost,
            _ => return Err(corrupt("dispute")),
        };
        let opt_ref = |v: Option<String>, what: &str| {
            v.map(|s| ProviderRef::new(s).map_err(|_| corrupt(what)))
                .transpose()
        };
        Ok(Payment {
            id: PaymentId::new(self.id).map_err(|_| corrupt("payment id"))?,
            user_id: UserId::new(self.user_id).ok_or_else(|| corrupt("user id"))?,
            provider: ProviderId::new(self.provider).map_err(|_| corrupt("provider"))?,
            method: PaymentMethod::new(&self.method).ok_or_else(|| corrupt("method"))?,
            tokens: TokenAmount::new(unsigned(self.tokens, "tokens")?)
                .ok_or_else(|| corrupt("tokens"))?,
            price: Money::new(unsigned(self.price_minor, "price")?, price_currency),
            email: self.email,
            idempotency_key: self
                .idempotency_key
                .map(|k| IdempotencyKey::new(k).map_err(|_| corrupt("idempotency key")))
                .transpose()?,
            checkout_ref: opt_ref(self.checkout_ref, "checkout reference")?,
            checkout_url: self.checkout_url,
            checkout_attempt: u32::try_from(self.checkout_attempt)
                .map_err(|_| corrupt("checkout attempt"))?,
            language: self.language,
            payment_ref: opt_ref(self.payment_ref, "payment reference")?,
            facts: PaymentFacts {
                paid,
                closure,
                refunded_minor: unsigned(self.refunded_minor, "refunded amount")?,
                dispute,
                refunds: serde_json::from_str(&self.refund_facts)
                    .map_err(|_| corrupt("refund facts"))?,
                // Informative, and written by whichever version reported it: a code this one
                // does not know is `other`, never a corrupt row.
                failure_reason: self
                    .failure_reason
                    .map(|code| FailureReason::parse(&code).unwrap_or(FailureReason::Other)),
            },
            status: PaymentStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            tokens_credited: unsigned(self.tokens_credited, "credited tokens")?,
            tokens_reversed: unsigned(self.tokens_reversed, "reversed tokens")?,
            tokens_written_off: unsigned(self.tokens_written_off, "written-off tokens")?,
            created_at: unsigned(self.created_at, "created_at")?,
            updated_at: unsigned(self.updated_at, "updated_at")?,
        })
    }
}

/// The mutable columns of a payment after an event, ready to bind.
pub(crate) struct PaymentUpdate {
    pub(crate) status: &'static str,
    pub(crate) payment_ref: Option<String>,
    pub(crate) paid_minor: Option<i64>,
    pub(crate) paid_currency: Option<String>,
    pub(crate) closure: Option<&'static str>,
    pub(crate) refunded_minor: i64,
    pub(crate) dispute: &'static str,
    pub(crate) tokens_credited: i64,
    pub(crate) tokens_reversed: i64,
    pub(crate) tokens_written_off: i64,
    pub(crate) updated_at: i64,
    pub(crate) refund_facts: String,
    pub(crate) failure_reason: Option<&'static str>,
}

impl PaymentUpdate {
    pub(crate) fn from_payment(p: &Payment) -> Result<PaymentUpdate, LedgerError> {
        Ok(PaymentUpdate {
            status: p.status.as_str(),
            payment_ref: p.payment_ref.as_ref().map(|r| r.as_str().to_owned()),
            paid_minor: p.facts.paid.map(|m| signed(m.minor_units())).transpose()?,
            paid_currency: p.facts.paid.map(|m| m.currency().code().to_owned()),
            closure: p.facts.closure.map(closure_name),
            refunded_minor: signed(p.facts.refunded_minor)?,
            dispute: dispute_name(p.facts.dispute),
            tokens_credited: signed(p.tokens_credited)?,
            tokens_reversed: signed(p.tokens_reversed)?,
            tokens_written_off: signed(p.tokens_written_off)?,
            updated_at: signed(p.updated_at)?,
            refund_facts: serde_json::to_string(&p.facts.refunds)
                .map_err(|e| LedgerError::Corrupt(e.to_string()))?,
            failure_reason: p.facts.failure_reason.map(FailureReason::code),
        })
    }
}

impl JournalRow {
    pub(crate) fn into_entry(self) -> Result<JournalEntry, LedgerError> {
        Ok(JournalEntry {
            id: self.id,
            user_id: UserId::new(self.user_id).ok_or_else(|| corrupt("user id"))?,
            kind: EntryKind::parse(&self.kind).ok_or_else(|| corrupt("entry kind"))?,
            delta: self.delta,
            balance_after: self.balance_after,
            payment_id: self
                .payment_id
                .map(|id| PaymentId::new(id).map_err(|_| corrupt("payment id")))
                .transpose()?,
            idempotency_key: self
                .idempotency_key
                .map(|k| IdempotencyKey::new(k).map_err(|_| corrupt("idempotency key")))
                .transpose()?,
            memo: self.memo,
            created_at: unsigned(self.created_at, "created_at")?,
            actor: self.actor,
        })
    }
}

impl BalanceRow {
    pub(crate) fn into_balance(self) -> Result<Balance, LedgerError> {
        Ok(Balance {
            user_id: UserId::new(self.user_id).ok_or_else(|| corrupt("user id"))?,
            balance: self.balance,
            total_deposited: unsigned(self.total_deposited, "total deposited")?,
            total_spent: unsigned(self.total_spent, "total spent")?,
        })
    }
}

/// The columns of `miniapp_outbox` a claim returns, in [`OutboxRow`] order.
macro_rules! outbox_columns {
    () => {
        "payment_id, user_id, tokens, amount_minor, currency, exponent, language, attempts, provider"
    };
}

pub(crate) use outbox_columns;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct OutboxRow {
    payment_id: String,
    user_id: i64,
    tokens: i64,
    amount_minor: i64,
    currency: String,
    exponent: i32,
    language: Option<String>,
    attempts: i32,
    provider: String,
}

impl OutboxRow {
    pub(crate) fn into_notification(
        self,
    ) -> Result<miniapp_core::ledger::Notification, LedgerError> {
        Ok(miniapp_core::ledger::Notification {
            payment_id: PaymentId::new(self.payment_id).map_err(|_| corrupt("payment id"))?,
            user_id: UserId::new(self.user_id).ok_or_else(|| corrupt("user id"))?,
            tokens: TokenAmount::new(unsigned(self.tokens, "tokens")?)
                .ok_or_else(|| corrupt("tokens"))?,
            amount: Money::new(
                unsigned(self.amount_minor, "amount")?,
                currency(&self.currency, self.exponent)?,
            ),
            language: self.language,
            provider: ProviderId::new(self.provider).map_err(|_| corrupt("outbox provider"))?,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt("attempts"))?,
        })
    }
}

/// The columns of `miniapp_refund_queue` a claim returns, in [`RefundRow`] order.
macro_rules! refund_columns {
    () => {
        "provider, charge_ref, payment_id, user_id, amount_minor, currency, exponent, attempts, \
         reason"
    };
}

pub(crate) use refund_columns;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RefundRow {
    provider: String,
    charge_ref: String,
    payment_id: String,
    user_id: i64,
    amount_minor: i64,
    currency: String,
    exponent: i32,
    attempts: i32,
    reason: String,
}

impl RefundRow {
    pub(crate) fn into_refund(self) -> Result<miniapp_core::ledger::ChargeRefund, LedgerError> {
        Ok(miniapp_core::ledger::ChargeRefund {
            payment_id: PaymentId::new(self.payment_id).map_err(|_| corrupt("payment id"))?,
            user_id: UserId::new(self.user_id).ok_or_else(|| corrupt("user id"))?,
            provider: ProviderId::new(self.provider).map_err(|_| corrupt("refund provider"))?,
            charge_ref: ProviderRef::new(self.charge_ref)
                .map_err(|_| corrupt("charge reference"))?,
            amount: Money::new(
                unsigned(self.amount_minor, "amount")?,
                currency(&self.currency, self.exponent)?,
            ),
            reason: miniapp_core::ledger::RefundReason::parse(&self.reason)
                .ok_or_else(|| corrupt("refund reason"))?,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt("attempts"))?,
        })
    }
}

/// A row of `miniapp_held_events`: the event is kept as the core serialises it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HeldRow {
    provider: String,
    event: String,
    received_at: i64,
}

impl HeldRow {
    pub(crate) fn into_held(self) -> Result<HeldEvent, LedgerError> {
        Ok(HeldEvent {
            provider: ProviderId::new(self.provider).map_err(|e| corrupt(&e.to_string()))?,
            event: serde_json::from_str(&self.event)
                .map_err(|e| LedgerError::Corrupt(format!("held event: {e}")))?,
            received_at: u64::try_from(self.received_at)
                .map_err(|_| LedgerError::Corrupt("negative received_at".into()))?,
        })
    }
}

/// A row of `miniapp_provider_events`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    provider: String,
    event_id: String,
    payment_id: String,
    kind: String,
    provider_ref: Option<String>,
    no_effect: Option<String>,
    received_at: i64,
}

impl EventRow {
    pub(crate) fn into_recorded(self) -> Result<RecordedEvent, LedgerError> {
        Ok(RecordedEvent {
            provider: ProviderId::new(self.provider).map_err(|_| corrupt("event provider"))?,
            event_id: self.event_id,
            payment_id: PaymentId::new(self.payment_id).map_err(|_| corrupt("payment id"))?,
            kind: self.kind,
            provider_ref: self.provider_ref,
            no_effect: self.no_effect,
            received_at: unsigned(self.received_at, "received_at")?,
        })
    }
}

/// A row of `miniapp_refund_queue` as the operator sees it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct QueuedRefundRow {
    payment_id: String,
    provider: String,
    charge_ref: String,
    amount_minor: i64,
    currency: String,
    exponent: i32,
    reason: String,
    state: String,
    attempts: i32,
    last_error: Option<String>,
}

impl QueuedRefundRow {
    pub(crate) fn into_queued(self) -> Result<QueuedRefund, LedgerError> {
        Ok(QueuedRefund {
            payment_id: PaymentId::new(self.payment_id).map_err(|_| corrupt("payment id"))?,
            provider: ProviderId::new(self.provider).map_err(|_| corrupt("refund provider"))?,
            charge_ref: self.charge_ref,
            amount: Money::new(
                unsigned(self.amount_minor, "amount")?,
                currency(&self.currency, self.exponent)?,
            ),
            reason: self.reason,
            state: self.state,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt("attempts"))?,
            last_error: self.last_error,
        })
    }
}

/// A row of `miniapp_outbox` that may not have been delivered.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UnsentRow {
    payment_id: String,
    user_id: i64,
    state: String,
    last_error: Option<String>,
}

impl UnsentRow {
    pub(crate) fn into_unsent(self) -> Result<UnsentNotification, LedgerError> {
        Ok(UnsentNotification {
            payment_id: PaymentId::new(self.payment_id).map_err(|_| corrupt("payment id"))?,
            user_id: UserId::new(self.user_id).ok_or_else(|| corrupt("user id"))?,
            state: self.state,
            last_error: self.last_error,
        })
    }
}

/// A row of `miniapp_resolutions`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ResolutionRow {
    payment_id: String,
    action: String,
    actor: String,
    reason: String,
    created_at: i64,
}

impl ResolutionRow {
    pub(crate) fn into_record(self) -> Result<ResolutionRecord, LedgerError> {
        let action = [Resolution::Credit, Resolution::Refund, Resolution::Dismiss]
            .into_iter()
            .find(|r| r.as_str() == self.action)
            .ok_or_else(|| corrupt("resolution action"))?;
        Ok(ResolutionRecord {
            payment_id: PaymentId::new(self.payment_id).map_err(|_| corrupt("payment id"))?,
            action,
            actor: self.actor,
            reason: self.reason,
            created_at: unsigned(self.created_at, "created_at")?,
        })
    }
}

/// One number.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CountRow {
    pub(crate) n: i64,
}

/// A user whose balance is not the sum of their journal.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BalanceSumRow {
    pub(crate) user_id: i64,
    pub(crate) balance: i64,
    pub(crate) journal_sum: i64,
}

/// A payment whose credit lines do not match its `tokens_credited`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CreditRow {
    id: String,
    tokens_credited: i64,
    lines: i64,
    credited: i64,
}

impl CreditRow {
    pub(crate) fn into_mismatch(self) -> Result<CreditMismatch, LedgerError> {
        Ok(CreditMismatch {
            payment_id: PaymentId::new(self.id).map_err(|_| corrupt("payment id"))?,
            tokens_credited: unsigned(self.tokens_credited, "tokens credited")?,
            credit_lines: unsigned(self.lines, "lines")?,
            credited_in_journal: self.credited,
        })
    }
}

/// Money per provider and currency.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TotalRow {
    provider: String,
    currency: String,
    paid_payments: i64,
    paid_minor: i64,
    refunded_minor: i64,
    tokens_credited: i64,
    tokens_reversed: i64,
}

impl TotalRow {
    pub(crate) fn into_total(self) -> Result<ProviderTotal, LedgerError> {
        Ok(ProviderTotal {
            provider: ProviderId::new(self.provider).map_err(|_| corrupt("provider"))?,
            currency: self.currency,
            paid_payments: unsigned(self.paid_payments, "count")?,
            paid_minor: unsigned(self.paid_minor, "paid")?,
            refunded_minor: unsigned(self.refunded_minor, "refunded")?,
            tokens_credited: unsigned(self.tokens_credited, "tokens")?,
            tokens_reversed: unsigned(self.tokens_reversed, "tokens")?,
        })
    }
}

/// A row of `miniapp_provider_cursors`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CursorRow {
    pub(crate) cursor: String,
}
