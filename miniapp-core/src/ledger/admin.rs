//! The operator's view and hands: what a person needs to see every money anomaly and resolve
//! it without writing SQL (`full_bot admin …` and the owner's `/payment` are built on this).
//!
//! The rules stay the ledger's: an adjustment is one more append-only journal line (with who and
//! why), so `balance = Σ journal` still holds; a resolution is recorded, never an edit; crediting
//! a conflicted payment is the one credit that payment can ever have.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{IdempotencyKey, PaymentId, ProviderId, UserId};
use crate::money::Money;
use crate::payment::{Payment, PaymentStatus};

use super::{Balance, EntryKind, HeldEvent, JournalEntry, LedgerError};

/// A provider event as the ledger recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedEvent {
    /// The provider that sent it.
    pub provider: ProviderId,
    /// The provider's event id.
    pub event_id: String,
    /// The payment it was applied to.
    pub payment_id: PaymentId,
    /// `succeeded`, `refunded`, … ([`crate::event::EventKind::name`]).
    pub kind: String,
    /// The charge or checkout it named (absent on rows older than migration 0005).
    pub provider_ref: Option<String>,
    /// Why it changed nothing ([`crate::payment::NoEffect::as_str`]), when it did not.
    pub no_effect: Option<String>,
    /// Unix seconds.
    pub received_at: u64,
}

/// A refund in the refund queue: a duplicate charge, or one an operator asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuedRefund {
    /// The payment it belongs to.
    pub payment_id: PaymentId,
    /// The provider that holds the money.
    pub provider: ProviderId,
    /// The charge to refund.
    pub charge_ref: String,
    /// How much.
    pub amount: Money,
    /// `duplicate_charge` or `operator`.
    pub reason: String,
    /// `pending`, `claimed`, `refunded` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The provider's last answer, when it failed.
    pub last_error: Option<String>,
}

/// A payment-success message that may not have reached the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsentNotification {
    /// The credited payment.
    pub payment_id: PaymentId,
    /// The buyer.
    pub user_id: UserId,
    /// `failed` (the messenger refused for good) or `unknown` (the sender died mid-send).
    pub state: String,
    /// Why.
    pub last_error: Option<String>,
}

/// Everything a person should look at, oldest problems included, newest first within a kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Anomalies {
    /// Payments whose captured amount or currency was not the price: nothing credited.
    pub conflicted: Vec<Payment>,
    /// Events that changed nothing for a reason other than a plain repeat (a duplicate charge
    /// not yet refunded, a refund in another currency, …).
    pub events: Vec<RecordedEvent>,
    /// Refunds not done: pending, in progress or failed.
    pub refunds: Vec<QueuedRefund>,
    /// Refunds and disputes held for over an hour and less than three days (retried meanwhile):
    /// their charge is no payment's (yet).
    pub unmatched: Vec<HeldEvent>,
    /// Payment-success messages that failed or may not have been delivered.
    pub notifications: Vec<UnsentNotification>,
}

impl Anomalies {
    /// Whether there is nothing to look at.
    pub fn is_empty(&self) -> bool {
        self.conflicted.is_empty()
            && self.events.is_empty()
            && self.refunds.is_empty()
            && self.unmatched.is_empty()
            && self.notifications.is_empty()
    }
}

/// What an operator decides about a payment's anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Resolution {
    /// Credit the package to a `conflicted` payment: the person accepts what was captured as
    /// payment in full. Once per payment.
    Credit,
    /// Give the money back: queue a refund of the payment's charge (its tokens are taken back
    /// when the refund is recorded), and retry its failed refunds.
    Refund,
    /// Nothing moves: handled elsewhere (at the provider's dashboard, say) or not a problem.
    Dismiss,
}

impl Resolution {
    /// The stable name used in storage and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Credit => "credit",
            Resolution::Refund => "refund",
            Resolution::Dismiss => "dismiss",
        }
    }
}

/// Who acts and why; both are kept with what they did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorNote {
    actor: String,
    reason: String,
}

impl OperatorNote {
    /// `actor`: 1–64 characters; `reason`: 1–500 characters, trimmed.
    ///
    /// # Errors
    /// [`LedgerError::NotAllowed`] when either is empty or too long.
    ///
    /// ```
    /// use miniapp_core::ledger::OperatorNote;
    /// assert!(OperatorNote::new("alice", "customer paid twice by card").is_ok());
    /// assert!(OperatorNote::new("alice", "  ").is_err());
    /// ```
    pub fn new(actor: &str, reason: &str) -> Result<OperatorNote, LedgerError> {
        let (actor, reason) = (actor.trim(), reason.trim());
        if actor.is_empty() || actor.chars().count() > 64 {
            return Err(LedgerError::NotAllowed(
                "the actor must be 1-64 characters".into(),
            ));
        }
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(LedgerError::NotAllowed(
                "a reason of 1-500 characters is required".into(),
            ));
        }
        Ok(OperatorNote {
            actor: actor.to_owned(),
            reason: reason.to_owned(),
        })
    }

    /// Who.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A recorded resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolutionRecord {
    /// The payment.
    pub payment_id: PaymentId,
    /// What was decided.
    pub action: Resolution,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// The result of an adjustment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdjustReceipt {
    /// The journal line.
    pub entry: JournalEntry,
    /// `true` when the same adjustment (same key) had been made before and nothing happened now.
    pub replayed: bool,
}

/// A payment whose credits break "exactly one credit per credited payment".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditMismatch {
    /// The payment.
    pub payment_id: PaymentId,
    /// `tokens_credited` on the payment.
    pub tokens_credited: u64,
    /// Credit lines in the journal for it.
    pub credit_lines: u64,
    /// Their sum.
    pub credited_in_journal: i64,
}

/// Money per provider and currency, for reconciling with the provider's own reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderTotal {
    /// The provider.
    pub provider: ProviderId,
    /// ISO code of the prices.
    pub currency: String,
    /// Payments whose money was taken (credited, refunded or disputed since).
    pub paid_payments: u64,
    /// Their prices, in minor units.
    pub paid_minor: u64,
    /// Refunded, in minor units.
    pub refunded_minor: u64,
    /// Tokens credited for them.
    pub tokens_credited: u64,
    /// Tokens reversed.
    pub tokens_reversed: u64,
}

/// What [`LedgerAdmin::audit`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Users whose balance is not the sum of their journal: `(user, balance, sum)`.
    pub balance_mismatches: Vec<(UserId, i64, i64)>,
    /// Payments without exactly one credit of their tokens while credited, or with credits while
    /// not.
    pub credit_mismatches: Vec<CreditMismatch>,
    /// Users counted.
    pub users: u64,
    /// Journal lines counted.
    pub journal_lines: u64,
    /// Totals per provider and currency.
    pub totals: Vec<ProviderTotal>,
}

impl AuditReport {
    /// Whether every invariant held.
    pub fn is_clean(&self) -> bool {
        self.balance_mismatches.is_empty() && self.credit_mismatches.is_empty()
    }
}

/// The key that makes an adjustment a no-op when the same command runs twice: derived from the
/// user, the amount and the reason (a second, deliberate adjustment of the same amount needs
/// its own reason, or an explicit key).
///
/// ```
/// use miniapp_core::ids::UserId;
/// use miniapp_core::ledger::adjustment_key;
/// let user = UserId::new(42).unwrap();
/// assert_eq!(adjustment_key(user, 50, "goodwill"), adjustment_key(user, 50, "goodwill"));
/// assert_ne!(adjustment_key(user, 50, "goodwill"), adjustment_key(user, -50, "goodwill"));
/// ```
pub fn adjustment_key(user: UserId, delta: i64, reason: &str) -> IdempotencyKey {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}\n{delta}\n{}", user.get(), reason.trim()));
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    IdempotencyKey::new(format!("adjust-{hex}")).unwrap_or_else(|_| unreachable!("valid key"))
}

/// The journal line an adjustment of `delta` makes on `balance`.
///
/// # Errors
/// [`LedgerError::NotAllowed`] for a zero delta; [`LedgerError::InsufficientFunds`] when a
/// negative one would take the balance below zero (only a clawback may).
pub fn plan_adjustment(balance: &Balance, delta: i64) -> Result<i64, LedgerError> {
    if delta == 0 {
        return Err(LedgerError::NotAllowed("an adjustment of 0 tokens".into()));
    }
    let after = balance
        .balance
        .checked_add(delta)
        .ok_or_else(|| LedgerError::NotAllowed("adjustment out of range".into()))?;
    // A negative adjustment may not take the balance below zero; a positive one may leave a
    // debt smaller.
    if delta < 0 && after < 0 {
        return Err(LedgerError::InsufficientFunds {
            balance: balance.balance,
            requested: delta.unsigned_abs(),
        });
    }
    Ok(after)
}

/// What a resolution does, decided by [`plan_resolution`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolutionPlan {
    /// The credit to make: (tokens, balance after).
    pub credit: Option<(i64, i64)>,
    /// Queue the refund of the payment's own charge (a conflicted payment nobody was credited
    /// for: the money goes back, no tokens to take).
    pub refund_own_charge: bool,
    /// Make the payment's failed refunds (of duplicate charges) due again.
    pub retry_failed_refunds: bool,
}

/// Checks that `resolution` applies to `payment`, which has `failed_refunds` refunds in the
/// queue that failed, and says what it does.
///
/// [`Resolution::Refund`] never refunds a charge whose money bought tokens: it retries the
/// payment's failed refunds, and refunds the payment's own charge only when the payment is
/// `conflicted` and nobody was credited for it. A paid, credited payment is refunded at the
/// provider; its refund event takes the tokens back.
///
/// # Errors
/// [`LedgerError::NotAllowed`]: crediting a payment that is not `conflicted` or was credited;
/// refunding when there is nothing of that kind to refund.
pub fn plan_resolution(
    payment: &Payment,
    balance: &Balance,
    resolution: Resolution,
    failed_refunds: u64,
) -> Result<ResolutionPlan, LedgerError> {
    match resolution {
        Resolution::Credit => {
            if payment.status != PaymentStatus::Conflicted || payment.tokens_credited > 0 {
                return Err(LedgerError::NotAllowed(format!(
                    "only a conflicted, uncredited payment can be credited; {} is {}",
                    payment.id, payment.status
                )));
            }
            let tokens = payment.tokens.as_i64();
            Ok(ResolutionPlan {
                credit: Some((tokens, balance.balance.saturating_add(tokens))),
                ..ResolutionPlan::default()
            })
        }
        Resolution::Refund => {
            let refund_own_charge = payment.status == PaymentStatus::Conflicted
                && payment.tokens_credited == 0
                && payment.facts.paid.is_some()
                && payment.payment_ref.is_some();
            if !refund_own_charge && failed_refunds == 0 {
                return Err(LedgerError::NotAllowed(format!(
                    "{} ({}) has no failed refund to retry, and its money bought tokens: refund it \
                     at the provider (the refund takes the tokens back)",
                    payment.id, payment.status
                )));
            }
            Ok(ResolutionPlan {
                refund_own_charge,
                retry_failed_refunds: failed_refunds > 0,
                ..ResolutionPlan::default()
            })
        }
        Resolution::Dismiss => Ok(ResolutionPlan::default()),
    }
}

/// What an operator can see and do on a ledger. The SQL stores implement it.
///
/// # Contract
/// - Nothing here edits history: adjustments are new journal lines of
///   [`EntryKind::Adjustment`] (never below zero, once per (user, key)), resolutions are new
///   records, and `balance = Σ journal` keeps holding.
/// - [`LedgerAdmin::resolve`] with [`Resolution::Credit`] credits a `conflicted` payment once,
///   in one transaction with its notification; with [`Resolution::Refund`] it queues the refund
///   of the payment's charge in the [`super::RefundQueue`] (once per charge) and makes its
///   failed refunds due again.
/// - [`LedgerAdmin::anomalies`] leaves out what a resolution recorded after it covers (a
///   conflicted payment, its events and notifications up to the resolution), never a refund that
///   is not done, and never an event that arrives after the resolution.
#[async_trait]
pub trait LedgerAdmin: Send + Sync + fmt::Debug {
    /// The events recorded for a payment, oldest first.
    async fn payment_events(&self, id: &PaymentId) -> Result<Vec<RecordedEvent>, LedgerError>;

    /// The journal lines of a payment (its credit and clawbacks), oldest first.
    async fn payment_journal(&self, id: &PaymentId) -> Result<Vec<JournalEntry>, LedgerError>;

    /// The refunds queued for a payment.
    async fn payment_refunds(&self, id: &PaymentId) -> Result<Vec<QueuedRefund>, LedgerError>;

    /// The resolutions of a payment, oldest first.
    async fn resolutions(&self, id: &PaymentId) -> Result<Vec<ResolutionRecord>, LedgerError>;

    /// What needs a person, as of `now` (unix seconds), at most `limit` per kind.
    async fn anomalies(&self, now: u64, limit: u32) -> Result<Anomalies, LedgerError>;

    /// Records `resolution` of payment `id` and does what it says (see the contract).
    async fn resolve(
        &self,
        id: &PaymentId,
        resolution: Resolution,
        note: &OperatorNote,
    ) -> Result<Payment, LedgerError>;

    /// Adds `delta` tokens (either sign) to `user`'s balance as an [`EntryKind::Adjustment`].
    async fn adjust(
        &self,
        user: UserId,
        delta: i64,
        note: &OperatorNote,
        key: &IdempotencyKey,
    ) -> Result<AdjustReceipt, LedgerError>;

    /// Checks `balance = Σ journal` for every user and one credit per credited payment, and
    /// totals the money per provider.
    async fn audit(&self) -> Result<AuditReport, LedgerError>;

    /// Journal lines created at or after `since` (unix seconds) with an id above `after_id`,
    /// oldest first, at most `limit` (clamped to 1..=1000): page with the last id.
    async fn journal_since(
        &self,
        since: u64,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<JournalEntry>, LedgerError>;
}

impl EntryKind {
    /// Whether a person made this entry.
    pub fn is_manual(self) -> bool {
        self == EntryKind::Adjustment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustments_never_go_below_zero_and_are_never_zero() {
        let user = UserId::new(1).unwrap();
        let b = Balance {
            balance: 30,
            ..Balance::empty(user)
        };
        assert_eq!(plan_adjustment(&b, -30).unwrap(), 0);
        assert_eq!(plan_adjustment(&b, 70).unwrap(), 100);
        assert!(matches!(
            plan_adjustment(&b, -31),
            Err(LedgerError::InsufficientFunds { .. })
        ));
        assert!(matches!(
            plan_adjustment(&b, 0),
            Err(LedgerError::NotAllowed(_))
        ));
        assert!(matches!(
            plan_adjustment(&b, i64::MAX),
            Err(LedgerError::NotAllowed(_))
        ));
    }

    #[test]
    fn only_a_conflicted_uncredited_payment_can_be_credited() {
        let mut p = crate::payment::example_pending_payment();
        let b = Balance::empty(p.user_id);
        assert!(plan_resolution(&p, &b, Resolution::Credit, 0).is_err());
        assert!(plan_resolution(&p, &b, Resolution::Refund, 0).is_err());
        assert!(plan_resolution(&p, &b, Resolution::Dismiss, 0).is_ok());
        p.status = PaymentStatus::Conflicted;
        p.facts.paid = Some(Money::usd_cents(1));
        p.payment_ref = "pi_1".parse().ok();
        assert_eq!(
            plan_resolution(&p, &b, Resolution::Credit, 0)
                .unwrap()
                .credit,
            Some((500, 500))
        );
        let refund = plan_resolution(&p, &b, Resolution::Refund, 0).unwrap();
        assert!(refund.refund_own_charge && !refund.retry_failed_refunds);
        p.tokens_credited = 500;
        assert!(plan_resolution(&p, &b, Resolution::Credit, 0).is_err());
        assert!(
            plan_resolution(&p, &b, Resolution::Refund, 0).is_err(),
            "credited by hand: its money bought tokens"
        );
    }

    #[test]
    fn a_refund_resolution_of_a_paid_payment_only_retries_its_failed_refunds() {
        let mut p = crate::payment::example_pending_payment();
        let b = Balance::empty(p.user_id);
        p.status = PaymentStatus::Succeeded;
        p.facts.paid = Some(p.price);
        p.payment_ref = "pi_1".parse().ok();
        p.tokens_credited = 500;
        assert!(plan_resolution(&p, &b, Resolution::Refund, 0).is_err());
        let retry = plan_resolution(&p, &b, Resolution::Refund, 1).unwrap();
        assert!(!retry.refund_own_charge && retry.retry_failed_refunds);
    }
}
