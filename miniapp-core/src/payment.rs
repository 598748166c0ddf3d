//! The payment record and its state machine.
//!
//! A payment accumulates *facts* reported by its provider (paid amount, closure, refunded total,
//! dispute). Every fact only grows (a join: a refunded total is the maximum seen, a closure keeps
//! the strongest reason, …), and the status is derived from the facts. So applying an event twice
//! changes nothing the second time, and the same set of events reaches the same state in any
//! order: a refund that overtakes its success on the wire still ends `refunded`.
//!
//! Lifecycle (derived): `created → pending → succeeded → partially_refunded → refunded`;
//! `pending → failed | expired | canceled`; `succeeded → disputed → succeeded | refunded`; and
//! `conflicted` when the provider reports an amount or currency that is not the price. A success
//! after `expired`/`failed`/`canceled` is still `succeeded`: the money was taken.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::PaymentMethod;
use crate::event::{EventKind, FailureReason, ProviderEvent};
use crate::ids::{IdempotencyKey, PaymentId, ProviderId, ProviderRef, UserId};
use crate::money::{Money, TokenAmount};

/// Where a payment is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentStatus {
    /// Recorded; no checkout exists at the provider yet.
    Created,
    /// A checkout exists; waiting for the payer.
    Pending,
    /// Paid and credited.
    Succeeded,
    /// Paid, part of it refunded (the matching part of the tokens taken back).
    PartiallyRefunded,
    /// Paid and fully refunded, or a dispute was lost.
    Refunded,
    /// Paid, and the payer opened a dispute.
    Disputed,
    /// The attempt failed.
    Failed,
    /// The checkout expired unpaid.
    Expired,
    /// Canceled before payment.
    Canceled,
    /// The provider reported an amount or currency other than the price: nothing credited, a
    /// person has to look.
    Conflicted,
}

impl PaymentStatus {
    /// The stable snake_case name used in the API and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Created => "created",
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Disputed => "disputed",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Canceled => "canceled",
            PaymentStatus::Conflicted => "conflicted",
        }
    }

    /// Parses [`PaymentStatus::as_str`] back.
    pub fn parse(s: &str) -> Option<PaymentStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Every status, for tables and tests.
    pub const ALL: [PaymentStatus; 10] = [
        PaymentStatus::Created,
        PaymentStatus::Pending,
        PaymentStatus::Succeeded,
        PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded,
        PaymentStatus::Disputed,
        PaymentStatus::Failed,
        PaymentStatus::Expired,
        PaymentStatus::Canceled,
        PaymentStatus::Conflicted,
    ];

    /// Whether the payer's money was taken (tokens were credited at some point).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            PaymentStatus::Succeeded
                | PaymentStatus::PartiallyRefunded
                | PaymentStatus::Refunded
                | PaymentStatus::Disputed
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an unpaid payment closed; when several arrive the highest-ranked one is kept
/// (`failed` over `canceled` over `expired`), so the result does not depend on order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// Expired unpaid.
    Expired,
    /// Canceled.
    Canceled,
    /// Failed.
    Failed,
}

/// The state of a dispute; later states win (`lost` over `won` over `open`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeState {
    /// No dispute.
    #[default]
    None,
    /// Opened, not decided.
    Open,
    /// Decided for the merchant.
    Won,
    /// Decided for the payer: the money is gone, as with a full refund.
    Lost,
}

/// Everything the provider has reported about a payment; each field only grows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFacts {
    /// What the first success reported as captured.
    pub paid: Option<Money>,
    /// The strongest reason an unpaid checkout closed.
    pub closure: Option<Closure>,
    /// The largest cumulative refund reported, in the payment's minor units, at most the price.
    pub refunded_minor: u64,
    /// The dispute.
    pub dispute: DisputeState,
    /// Refunds reported one by one ([`EventKind::RefundUpdated`]), by the provider's refund id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refunds: BTreeMap<String, RefundFact>,
    /// Why the payment, or an attempt at it, failed ([`EventKind::Failed`],
    /// [`EventKind::AttemptFailed`]): the first reason reported is kept, and a later failure
    /// without a reason does not erase it. Informative only: it moves no money, and a payment that
    /// was paid after a failed attempt keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<FailureReason>,
}

/// One refund as its provider reported it; both fields only grow (a refund that failed stays
/// failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundFact {
    /// Its amount, in the payment's minor units, at most the price.
    pub minor: u64,
    /// It failed or was canceled: the money stayed with the merchant.
    pub failed: bool,
}

impl PaymentFacts {
    /// What was refunded, everything reported considered, at most `price_minor`: the largest
    /// cumulative total reported less the refunds known to have failed, or the sum of the
    /// refunds reported one by one that did not fail, whichever is larger. A provider's
    /// cumulative total drops when a refund fails; taking the larger of the two keeps every
    /// order of the same reports at the same answer.
    ///
    /// ```
    /// use miniapp_core::payment::{PaymentFacts, RefundFact};
    /// let mut f = PaymentFacts { refunded_minor: 5000, ..PaymentFacts::default() };
    /// f.refunds.insert("re_a".into(), RefundFact { minor: 5000, failed: true });
    /// f.refunds.insert("re_b".into(), RefundFact { minor: 2000, failed: false });
    /// assert_eq!(f.refunded(5000), 2000);
    /// ```
    pub fn refunded(&self, price_minor: u64) -> u64 {
        let (failed, live) = self.refunds.values().fold((0u64, 0u64), |(f, l), r| {
            if r.failed {
                (f.saturating_add(r.minor), l)
            } else {
                (f, l.saturating_add(r.minor))
            }
        });
        self.refunded_minor
            .saturating_sub(failed)
            .max(live)
            .min(price_minor)
    }
}

/// A payment as stored: what was sold, to whom, through which provider, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Our id.
    pub id: PaymentId,
    /// The buyer.
    pub user_id: UserId,
    /// The provider that takes the money.
    pub provider: ProviderId,
    /// The method the buyer chose.
    pub method: PaymentMethod,
    /// Tokens sold.
    pub tokens: TokenAmount,
    /// Catalog price at the time of the order.
    pub price: Money,
    /// Receipt email, if given.
    pub email: Option<String>,
    /// The key the client sent to make creation retry-safe.
    pub idempotency_key: Option<IdempotencyKey>,
    /// The buyer's language, for messages about this payment.
    pub language: Option<String>,
    /// The provider's checkout reference (`cs_…`), once a checkout exists.
    pub checkout_ref: Option<ProviderRef>,
    /// Where to send the payer.
    pub checkout_url: Option<String>,
    /// Which attempt at opening a checkout is current (0 first). It moves on only when an
    /// attempt failed before any checkout was attached, so the provider idempotency key of a
    /// failed attempt (whose stored error a provider would replay) is never used again.
    pub checkout_attempt: u32,
    /// The provider's payment reference, learned from the success event.
    pub payment_ref: Option<ProviderRef>,
    /// Provider facts.
    pub facts: PaymentFacts,
    /// Derived from the facts.
    pub status: PaymentStatus,
    /// Tokens credited for this payment (0 or `tokens`).
    pub tokens_credited: u64,
    /// Tokens reversed because of refunds or a lost dispute (clawed back + written off).
    pub tokens_reversed: u64,
    /// Part of `tokens_reversed` that could not be clawed back (cap-at-zero policy).
    pub tokens_written_off: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
}

impl Payment {
    /// Whether the provider reported exactly the price as captured.
    pub fn paid_as_priced(&self) -> bool {
        self.facts.paid == Some(self.price)
    }
}

/// What happens to tokens that a refund or lost dispute takes back but the user already spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundPolicy {
    /// Take back everything: the balance may go below zero (a debt), and spending is refused
    /// until later credits repay it. The default: refunds cannot be used to get tokens for free.
    #[default]
    Debt,
    /// Take back only what the balance holds; the rest is written off (recorded on the payment).
    CapAtZero,
}

/// The pure decision for one event: the payment's new facts and status, and how many tokens
/// the ledger must credit and reverse. Balance-dependent splitting of a reversal is
/// [`crate::ledger::plan_event`]'s job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Facts after the event.
    pub facts: PaymentFacts,
    /// Status after the event.
    pub status: PaymentStatus,
    /// The provider payment reference to record, if this event teaches it.
    pub payment_ref: Option<ProviderRef>,
    /// Tokens to credit now (0 or the package).
    pub credit: u64,
    /// Further tokens to reverse now.
    pub reverse: u64,
    /// Reversed tokens to give back now (a refund that had taken them failed).
    pub restore: u64,
    /// Why nothing changed, when nothing did.
    pub no_effect: Option<NoEffect>,
}

/// Why an event changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NoEffect {
    /// The facts already included this event (a repeat, or an older event arriving late).
    AlreadyKnown,
    /// The event's currency is not the payment's.
    CurrencyMismatch,
    /// A second success with another amount than the first; kept for review, not applied.
    ConflictingSuccess,
    /// An expiry or cancellation of a checkout that is not the payment's (one left over from a
    /// checkout attempt that was given up): the payment's own checkout is still open.
    OtherCheckout,
    /// A second successful capture under another provider reference than the credited one: the
    /// payer was charged twice for one payment (two devices paying one Stars invoice, say). It
    /// credits nothing; the extra charge has to be given back.
    DuplicateCharge,
    /// A refund or dispute of a charge that is not the payment's credited one (the refund of a
    /// duplicate charge, typically): it takes back none of the tokens the credited charge bought.
    OtherCharge,
    /// A refund or dispute of a `conflicted` payment: recorded in its facts, but it moves no
    /// tokens (none were credited automatically, and an operator who credited it by hand
    /// decides what a refund takes back, with `full_bot admin adjust`).
    ConflictedPayment,
}

impl NoEffect {
    /// The stable snake_case name used in logs, receipts and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            NoEffect::AlreadyKnown => "already_known",
            NoEffect::CurrencyMismatch => "currency_mismatch",
            NoEffect::ConflictingSuccess => "conflicting_success",
            NoEffect::OtherCheckout => "other_checkout",
            NoEffect::DuplicateCharge => "duplicate_charge",
            NoEffect::OtherCharge => "other_charge",
            NoEffect::ConflictedPayment => "conflicted_payment",
        }
    }

    /// Parses [`NoEffect::as_str`] back.
    pub fn parse(s: &str) -> Option<NoEffect> {
        [
            NoEffect::AlreadyKnown,
            NoEffect::CurrencyMismatch,
            NoEffect::ConflictingSuccess,
            NoEffect::OtherCheckout,
            NoEffect::DuplicateCharge,
            NoEffect::OtherCharge,
            NoEffect::ConflictedPayment,
        ]
        .into_iter()
        .find(|n| n.as_str() == s)
    }

    /// Whether this is something a person should know about: money the ledger did not follow
    /// (everything but [`NoEffect::AlreadyKnown`], a plain repeat).
    pub fn is_anomaly(self) -> bool {
        self != NoEffect::AlreadyKnown
    }
}

impl fmt::Display for NoEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state machine: what `event` does to `payment`. Pure; stores call it while holding the
/// payment row and persist the result.
///
/// ```
/// use miniapp_core::event::{EventKind, ProviderEvent};
/// use miniapp_core::payment::{transition, PaymentStatus};
/// # let payment = miniapp_core::payment::example_pending_payment();
/// let event = ProviderEvent {
///     id: "evt_1".parse().unwrap(),
///     payment_id: Some(payment.id.clone()),
///     provider_ref: "pi_1".parse().unwrap(),
///     kind: EventKind::Succeeded { amount: payment.price },
/// };
/// let d = transition(&payment, &event);
/// assert_eq!((d.status, d.credit), (PaymentStatus::Succeeded, 500));
/// ```
pub fn transition(payment: &Payment, event: &ProviderEvent) -> Decision {
    let mut facts = payment.facts.clone();
    let mut payment_ref = None;
    let mut no_effect = None;
    match &event.kind {
        EventKind::Succeeded { amount } => match facts.paid {
            None => {
                facts.paid = Some(*amount);
                payment_ref = Some(event.provider_ref.clone());
            }
            Some(_) if concerns_another_charge(payment, event) => {
                no_effect = Some(NoEffect::DuplicateCharge);
            }
            Some(first) if first != *amount => no_effect = Some(NoEffect::ConflictingSuccess),
            Some(_) => {}
        },
        kind if kind.gives_money_back() && concerns_another_charge(payment, event) => {
            no_effect = Some(NoEffect::OtherCharge);
        }
        EventKind::Pending => {}
        EventKind::Failed { reason } => {
            facts.closure = facts.closure.max(Some(Closure::Failed));
            facts.failure_reason = facts.failure_reason.or(*reason);
        }
        EventKind::AttemptFailed { reason } => {
            facts.failure_reason = facts.failure_reason.or(Some(*reason));
        }
        EventKind::Expired | EventKind::Canceled if closes_another_checkout(payment, event) => {
            no_effect = Some(NoEffect::OtherCheckout);
        }
        EventKind::Expired => facts.closure = facts.closure.max(Some(Closure::Expired)),
        EventKind::Canceled => facts.closure = facts.closure.max(Some(Closure::Canceled)),
        EventKind::Refunded { total_refunded } => {
            if total_refunded.currency() == payment.price.currency() {
                let capped = total_refunded
                    .minor_units()
                    .min(payment.price.minor_units());
                facts.refunded_minor = facts.refunded_minor.max(capped);
            } else {
                no_effect = Some(NoEffect::CurrencyMismatch);
            }
        }
        EventKind::RefundUpdated {
            refund,
            amount,
            failed,
        } => {
            if amount.currency() == payment.price.currency() {
                let fact = facts.refunds.entry(refund.to_string()).or_default();
                fact.minor = fact
                    .minor
                    .max(amount.minor_units().min(payment.price.minor_units()));
                fact.failed |= *failed;
            } else {
                no_effect = Some(NoEffect::CurrencyMismatch);
            }
        }
        EventKind::DisputeOpened => facts.dispute = facts.dispute.max(DisputeState::Open),
        EventKind::DisputeClosed { won } => {
            let closed = if *won {
                DisputeState::Won
            } else {
                DisputeState::Lost
            };
            facts.dispute = facts.dispute.max(closed);
        }
    }
    if no_effect.is_none() && facts == payment.facts {
        no_effect = Some(NoEffect::AlreadyKnown);
    }
    let status = derive_status(&facts, payment);
    if no_effect.is_none() && status == PaymentStatus::Conflicted && event.kind.gives_money_back() {
        no_effect = Some(NoEffect::ConflictedPayment);
    }
    let paid_as_priced = facts.paid == Some(payment.price);
    let credit = if paid_as_priced && payment.tokens_credited == 0 {
        payment.tokens.get()
    } else {
        0
    };
    let target_reversed = if paid_as_priced {
        reversal_target(&facts, payment)
    } else {
        0
    };
    Decision {
        status,
        payment_ref,
        credit,
        reverse: target_reversed.saturating_sub(payment.tokens_reversed),
        restore: payment.tokens_reversed.saturating_sub(target_reversed),
        no_effect,
        facts,
    }
}

/// Money events carry the charge's reference (Stripe's payment intent, a Stars charge id). Once a
/// success taught the payment its reference, an event under another one is about another charge.
/// Before that (a refund overtaking its success) the event is taken as the payment's: there is
/// no second charge to confuse it with until a second success arrives.
fn concerns_another_charge(payment: &Payment, event: &ProviderEvent) -> bool {
    payment
        .payment_ref
        .as_ref()
        .is_some_and(|charge| *charge != event.provider_ref)
}

/// Expiry and cancellation are facts about one checkout (their reference is the checkout's). A
/// payment may have had checkouts opened for attempts that were given up (the provider failed or
/// did not answer in time, so their URLs were never handed out); when those expire, the payment's
/// own, attached checkout may still be paid.
fn closes_another_checkout(payment: &Payment, event: &ProviderEvent) -> bool {
    payment
        .checkout_ref
        .as_ref()
        .is_some_and(|checkout| *checkout != event.provider_ref)
        && payment.payment_ref.as_ref() != Some(&event.provider_ref)
}

fn derive_status(facts: &PaymentFacts, payment: &Payment) -> PaymentStatus {
    match facts.paid {
        Some(paid) if paid != payment.price => PaymentStatus::Conflicted,
        Some(_) => {
            let refunded = facts.refunded(payment.price.minor_units());
            if facts.dispute == DisputeState::Lost || refunded >= payment.price.minor_units() {
                PaymentStatus::Refunded
            } else if facts.dispute == DisputeState::Open {
                PaymentStatus::Disputed
            } else if refunded > 0 {
                PaymentStatus::PartiallyRefunded
            } else {
                PaymentStatus::Succeeded
            }
        }
        None => match facts.closure {
            Some(Closure::Failed) => PaymentStatus::Failed,
            Some(Closure::Canceled) => PaymentStatus::Canceled,
            Some(Closure::Expired) => PaymentStatus::Expired,
            None if payment.checkout_ref.is_some() => PaymentStatus::Pending,
            None => PaymentStatus::Created,
        },
    }
}

/// Tokens that should have been taken back in total: all of them for a full refund or a lost
/// dispute, otherwise the refunded share of the price, rounded up (a refund never leaves the
/// user a fraction of a token more than they paid for).
fn reversal_target(facts: &PaymentFacts, payment: &Payment) -> u64 {
    let tokens = payment.tokens.get();
    let price = payment.price.minor_units();
    let refunded = facts.refunded(price);
    if facts.dispute == DisputeState::Lost || refunded >= price {
        return tokens;
    }
    let share = u128::from(tokens) * u128::from(refunded);
    u64::try_from(share.div_ceil(u128::from(price.max(1))))
        .unwrap_or(tokens)
        .min(tokens)
}

/// A pending 500-token, $25 payment, for documentation examples.
#[doc(hidden)]
pub fn example_pending_payment() -> Payment {
    Payment {
        id: PaymentId::new("pay_example").unwrap_or_else(|_| unreachable!()),
        user_id: UserId::new(42).unwrap_or_else(|| unreachable!()),
        provider: ProviderId::new("sandbox").unwrap_or_else(|_| unreachable!()),
        method: PaymentMethod::card(),
        tokens: TokenAmount::new(500).unwrap_or_else(|| unreachable!()),
        price: Money::usd_cents(2500),
        email: None,
        idempotency_key: None,
        language: None,
        checkout_ref: ProviderRef::new("cs_example").ok(),
        checkout_url: None,
        checkout_attempt: 0,
        payment_ref: None,
        facts: PaymentFacts::default(),
        status: PaymentStatus::Pending,
        tokens_credited: 0,
        tokens_reversed: 0,
        tokens_written_off: 0,
        created_at: 0,
        updated_at: 0,
    }
}
