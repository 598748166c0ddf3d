//! The credit and spend algorithms: pure functions a store runs inside its transaction.

use crate::event::ProviderEvent;
use crate::money::TokenAmount;
use crate::payment::{NoEffect, Payment, PaymentStatus, RefundPolicy, transition};

use super::{Balance, EntryKind, EventReceipt, LedgerError};

/// What a store must persist for one event, computed from the locked payment and balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPlan {
    /// The payment to write back (facts, status, counters, `updated_at`).
    pub payment: Payment,
    /// The balance to write back.
    pub balance: Balance,
    /// Journal entries to append, in order: `(kind, delta, balance_after)`.
    pub entries: Vec<(EntryKind, i64, i64)>,
    /// Tokens credited.
    pub credited: u64,
    /// Tokens taken from the balance.
    pub clawed_back: u64,
    /// Tokens reversed but not taken.
    pub written_off: u64,
    /// Tokens given back (a refund that had taken them failed).
    pub restored: u64,
    /// Why the event changed nothing, when it did not ([`transition`]'s answer).
    pub no_effect: Option<NoEffect>,
}

impl EventPlan {
    /// What the store answers once the plan is committed; `status_before` is the locked
    /// payment's status.
    pub fn into_receipt(self, status_before: PaymentStatus) -> EventReceipt {
        EventReceipt {
            status_before,
            payment: self.payment,
            duplicate: false,
            credited: self.credited,
            clawed_back: self.clawed_back,
            written_off: self.written_off,
            restored: self.restored,
            no_effect: self.no_effect,
        }
    }

    /// Whether anything must be written besides the event id.
    pub fn changes_anything(&self, before: &Payment) -> bool {
        !self.entries.is_empty()
            || self.payment.facts != before.facts
            || self.payment.status != before.status
    }
}

/// Decides what `event` does to `payment` and to the buyer's `balance` under `policy`.
///
/// The credit happens at most once per payment (`tokens_credited` is part of the payment, written
/// in the same transaction); reversals are cumulative, so replays and reordering add nothing.
///
/// # Errors
/// [`LedgerError::Corrupt`] if `balance` is not the payment owner's.
pub fn plan_event(
    payment: &Payment,
    balance: &Balance,
    event: &ProviderEvent,
    policy: RefundPolicy,
    now: u64,
) -> Result<EventPlan, LedgerError> {
    if balance.user_id != payment.user_id {
        return Err(LedgerError::Corrupt(
            "balance of another user passed to plan_event".into(),
        ));
    }
    let decision = transition(payment, event);
    let mut next = payment.clone();
    let mut balance = *balance;
    let mut entries = Vec::new();
    next.facts = decision.facts;
    next.status = decision.status;
    if next.payment_ref.is_none() {
        next.payment_ref = decision.payment_ref;
    }
    if decision.credit > 0 {
        let delta = to_delta(decision.credit)?;
        balance.balance = checked(balance.balance.checked_add(delta))?;
        balance.total_deposited = balance.total_deposited.saturating_add(decision.credit);
        next.tokens_credited = decision.credit;
        entries.push((EntryKind::Credit, delta, balance.balance));
    }
    let mut clawed_back = 0;
    let mut written_off = 0;
    if decision.reverse > 0 {
        let take = match policy {
            RefundPolicy::Debt => decision.reverse,
            RefundPolicy::CapAtZero => decision
                .reverse
                .min(u64::try_from(balance.balance.max(0)).unwrap_or(0)),
        };
        if take > 0 {
            let delta = to_delta(take)?;
            balance.balance = checked(balance.balance.checked_sub(delta))?;
            entries.push((EntryKind::Clawback, -delta, balance.balance));
        }
        clawed_back = take;
        written_off = decision.reverse - take;
        next.tokens_reversed += decision.reverse;
        next.tokens_written_off += written_off;
    }
    let mut restored = 0;
    if decision.restore > 0 {
        // What was written off was never taken: un-write it first, give back the rest.
        let unwritten = decision.restore.min(next.tokens_written_off);
        let give = decision.restore - unwritten;
        if give > 0 {
            let delta = to_delta(give)?;
            balance.balance = checked(balance.balance.checked_add(delta))?;
            entries.push((EntryKind::Restore, delta, balance.balance));
        }
        next.tokens_written_off -= unwritten;
        next.tokens_reversed -= decision.restore;
        restored = give;
    }
    if next.facts != payment.facts || !entries.is_empty() {
        next.updated_at = now;
    }
    Ok(EventPlan {
        no_effect: decision.no_effect,
        credited: decision.credit,
        payment: next,
        balance,
        entries,
        clawed_back,
        written_off,
        restored,
    })
}

/// Decides a spend of `amount` from `balance`: the balance after, or
/// [`LedgerError::InsufficientFunds`] (also while the user owes tokens).
///
/// # Errors
/// [`LedgerError::InsufficientFunds`].
///
/// ```
/// use miniapp_core::ledger::{plan_spend, Balance, LedgerError};
/// use miniapp_core::{ids::UserId, money::TokenAmount};
/// let mut b = Balance::empty(UserId::new(1).unwrap());
/// b.balance = 10;
/// assert_eq!(plan_spend(&b, TokenAmount::new(4).unwrap()).unwrap().balance, 6);
/// assert!(matches!(plan_spend(&b, TokenAmount::new(11).unwrap()), Err(LedgerError::InsufficientFunds { .. })));
/// ```
pub fn plan_spend(balance: &Balance, amount: TokenAmount) -> Result<Balance, LedgerError> {
    let needed = amount.as_i64();
    if balance.balance < needed {
        return Err(LedgerError::InsufficientFunds {
            balance: balance.balance,
            requested: amount.get(),
        });
    }
    let mut after = *balance;
    after.balance -= needed;
    after.total_spent = after.total_spent.saturating_add(amount.get());
    Ok(after)
}

fn to_delta(tokens: u64) -> Result<i64, LedgerError> {
    i64::try_from(tokens).map_err(|_| LedgerError::Corrupt("token amount out of range".into()))
}

fn checked(v: Option<i64>) -> Result<i64, LedgerError> {
    v.ok_or_else(|| LedgerError::Corrupt("balance out of range".into()))
}
