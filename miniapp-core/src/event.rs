//! What a payment provider tells us, normalised: the input of the payment state machine.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{PaymentId, ProviderEventId, ProviderRef};
use crate::money::Money;

/// One verified event from a provider about one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvent {
    /// The provider's id of this event; a redelivery carries the same id.
    pub id: ProviderEventId,
    /// Our payment id when the provider echoes it (metadata, invoice payload).
    pub payment_id: Option<PaymentId>,
    /// The provider's reference of the payment (for Stripe the payment intent or the checkout
    /// session; for Stars the `telegram_payment_charge_id`). A credit is unique per
    /// (provider, this reference).
    pub provider_ref: ProviderRef,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to a payment, in the core's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The money was taken: `amount` is what the provider says it captured.
    Succeeded {
        /// Amount and currency captured.
        amount: Money,
    },
    /// The payment is still open on the provider's side (e.g. an asynchronous method).
    Pending,
    /// The payment failed for good: the checkout cannot be paid any more.
    Failed {
        /// Why, when the provider says ([`FailureReason`]); kept with the payment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<FailureReason>,
    },
    /// One attempt at paying failed, but the checkout stays open for another one (Stripe's
    /// `payment_intent.payment_failed`: the buyer may try another card in the same Checkout).
    /// It closes nothing; it only tells the payment why the attempt failed.
    AttemptFailed {
        /// Why the attempt failed.
        reason: FailureReason,
    },
    /// The checkout expired unpaid.
    Expired,
    /// The user or the merchant canceled it before payment.
    Canceled,
    /// Money was returned; `total_refunded` is the cumulative refunded amount so far.
    Refunded {
        /// Everything refunded for this payment up to now (not just this refund).
        total_refunded: Money,
    },
    /// One refund's state, as a provider that reports refunds one by one says it (Stripe's
    /// `refund.*` and `charge.refund.updated`): created, succeeded, or failed after all. A failed
    /// refund gives back the tokens its clawback took.
    RefundUpdated {
        /// The provider's id of this refund (`re_…`).
        refund: ProviderRef,
        /// The refund's amount.
        amount: Money,
        /// The refund failed or was canceled: the money stayed with the merchant.
        failed: bool,
    },
    /// The payer disputed the charge (chargeback opened).
    DisputeOpened,
    /// The dispute was decided.
    DisputeClosed {
        /// `true` when the merchant kept the money.
        won: bool,
    },
}

impl EventKind {
    /// A short stable name (`succeeded`, `refunded`, …) for logs and storage.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Succeeded { .. } => "succeeded",
            EventKind::Pending => "pending",
            EventKind::Failed { .. } => "failed",
            EventKind::AttemptFailed { .. } => "attempt_failed",
            EventKind::Expired => "expired",
            EventKind::Canceled => "canceled",
            EventKind::Refunded { .. } => "refunded",
            EventKind::RefundUpdated { .. } => "refund_updated",
            EventKind::DisputeOpened => "dispute_opened",
            EventKind::DisputeClosed { .. } => "dispute_closed",
        }
    }
}

/// Why a payment (or one attempt at it) failed, in words a buyer may be shown: stable
/// snake_case codes ([`FailureReason::code`]) for the API and storage.
///
/// Providers map their own codes onto these. Reasons a buyer must not be told (a card reported
/// stolen, a payment suspected of fraud) map to [`FailureReason::CardDeclined`], as card networks
/// and Stripe recommend.
///
/// ```
/// use miniapp_core::event::FailureReason;
/// assert_eq!(FailureReason::InsufficientFunds.code(), "insufficient_funds");
/// assert_eq!(FailureReason::parse("expired_card"), Some(FailureReason::ExpiredCard));
/// assert_eq!(FailureReason::parse("stolen_card"), None); // not one of ours
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureReason {
    /// The card issuer declined the payment (and said nothing a buyer should be told).
    CardDeclined,
    /// Not enough money on the card.
    InsufficientFunds,
    /// The card has expired.
    ExpiredCard,
    /// The security code (CVC) is wrong.
    IncorrectCvc,
    /// The buyer did not complete, or failed, the bank's authentication (3-D Secure).
    AuthenticationFailed,
    /// The provider or the issuer failed to process the payment; trying again may work.
    ProcessingError,
    /// Any other reason. Also what a stored code this version does not know reads back as.
    #[serde(other)]
    Other,
}

impl FailureReason {
    /// Every reason, for tables and tests.
    pub const ALL: [FailureReason; 7] = [
        FailureReason::CardDeclined,
        FailureReason::InsufficientFunds,
        FailureReason::ExpiredCard,
        FailureReason::IncorrectCvc,
        FailureReason::AuthenticationFailed,
        FailureReason::ProcessingError,
        FailureReason::Other,
    ];

    /// The stable snake_case code used in the API and in storage.
    ///
    /// ```
    /// use miniapp_core::event::FailureReason;
    /// assert_eq!(FailureReason::CardDeclined.code(), "card_declined");
    /// assert_eq!(FailureReason::AuthenticationFailed.to_string(), "authentication_failed");
    /// ```
    pub fn code(self) -> &'static str {
        match self {
            FailureReason::CardDeclined => "card_declined",
            FailureReason::InsufficientFunds => "insufficient_funds",
            FailureReason::ExpiredCard => "expired_card",
            FailureReason::IncorrectCvc => "incorrect_cvc",
            FailureReason::AuthenticationFailed => "authentication_failed",
            FailureReason::ProcessingError => "processing_error",
            FailureReason::Other => "other",
        }
    }

    /// Parses [`FailureReason::code`] back; `None` for any other string (a provider's own code is
    /// mapped by its provider, not here). Readers of stored codes that must not fail use
    /// `.unwrap_or(FailureReason::Other)`, as deserialisation does.
    ///
    /// ```
    /// use miniapp_core::event::FailureReason;
    /// for reason in FailureReason::ALL {
    ///     assert_eq!(FailureReason::parse(reason.code()), Some(reason));
    /// }
    /// assert_eq!(FailureReason::parse("Card_Declined"), None);
    /// ```
    pub fn parse(code: &str) -> Option<FailureReason> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl ProviderEvent {
    /// Whether this event may arrive before the success that makes its payment known, and must
    /// then be kept until it is ([`crate::ledger::LedgerStoreExt::apply_or_hold`]): a refund or
    /// dispute that names no payment of ours, only a charge reference (Stripe disputes carry no
    /// metadata, and Stripe does not order its events). An event that names a payment id is
    /// never held: if that payment is unknown, the event is not ours.
    ///
    /// ```
    /// use miniapp_core::event::{EventKind, ProviderEvent};
    /// let dispute = ProviderEvent {
    ///     id: "evt_1".parse().unwrap(),
    ///     payment_id: None,
    ///     provider_ref: "pi_1".parse().unwrap(),
    ///     kind: EventKind::DisputeOpened,
    /// };
    /// assert!(dispute.may_precede_its_payment());
    /// ```
    pub fn may_precede_its_payment(&self) -> bool {
        self.payment_id.is_none() && self.kind.gives_money_back()
    }
}

impl EventKind {
    /// Whether this is a refund or a dispute: money going back to the payer, which concerns one
    /// charge and may take tokens back.
    pub fn gives_money_back(&self) -> bool {
        matches!(
            self,
            EventKind::Refunded { .. }
                | EventKind::RefundUpdated { .. }
                | EventKind::DisputeOpened
                | EventKind::DisputeClosed { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn failure_reasons_serialise_as_their_codes() {
        for reason in FailureReason::ALL {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.code()));
            assert_eq!(
                serde_json::from_str::<FailureReason>(&json).unwrap(),
                reason
            );
        }
        // A code a newer version wrote reads back as `other`, never as an error.
        assert_eq!(
            serde_json::from_str::<FailureReason>("\"do_not_honor\"").unwrap(),
            FailureReason::Other
        );
    }

    #[test]
    fn a_failure_without_reason_keeps_its_old_shape() {
        let bare = EventKind::Failed { reason: None };
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"type":"failed"}"#
        );
        assert_eq!(
            serde_json::from_str::<EventKind>(r#"{"type":"failed"}"#).unwrap(),
            bare
        );
        let declined = EventKind::Failed {
            reason: Some(FailureReason::CardDeclined),
        };
        let json = serde_json::to_string(&declined).unwrap();
        assert_eq!(json, r#"{"type":"failed","reason":"card_declined"}"#);
        assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), declined);
    }
}
