//! What a payment provider tells us, normalised: the input of the payment state machine.

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
    /// The payment attempt failed for good.
    Failed,
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
            EventKind::Failed => "failed",
            EventKind::Expired => "expired",
            EventKind::Canceled => "canceled",
            EventKind::Refunded { .. } => "refunded",
            EventKind::RefundUpdated { .. } => "refund_updated",
            EventKind::DisputeOpened => "dispute_opened",
            EventKind::DisputeClosed { .. } => "dispute_closed",
        }
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
