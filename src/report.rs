//! Applying a provider event and saying what it did: the one path every webhook, reconciliation
//! answer and Stars update takes into the ledger, so no outcome that needs a person is silent.

use miniapp_core::event::ProviderEvent;
use miniapp_core::ids::ProviderId;
use miniapp_core::ledger::{
    Applied, EventReceipt, HeldEvent, LedgerError, LedgerStore, LedgerStoreExt,
};
use miniapp_core::payment::{NoEffect, PaymentStatus, RefundPolicy};

/// Applies `event` from `provider` and logs its outcome: credits at info; every event that
/// changed nothing for a reason other than being a plain repeat at warn, with the payment, the
/// event and the reason (and both charge references for a duplicate charge); a payment turning
/// `conflicted` at error.
///
/// Plain repeats ([`NoEffect::AlreadyKnown`], e.g. the webhook of a payment the reconciler had
/// already settled) are logged at debug: they are the normal price of at-least-once delivery,
/// and a warning for each would bury the ones that matter.
pub(crate) async fn apply_event(
    ledger: &dyn LedgerStore,
    provider: &ProviderId,
    event: &ProviderEvent,
    policy: RefundPolicy,
) -> Result<EventReceipt, LedgerError> {
    // Only events that name no payment are held, and the callers of this one name theirs.
    apply_or_hold(ledger, provider, event, policy)
        .await?
        .ok_or(LedgerError::UnknownPayment)
}

/// [`apply_event`] for events that may overtake their payment's success (a webhook's dispute):
/// `None` when it was held until its payment is known
/// ([`LedgerStoreExt::apply_or_hold`]). Events released by this one are reported too.
pub(crate) async fn apply_or_hold(
    ledger: &dyn LedgerStore,
    provider: &ProviderId,
    event: &ProviderEvent,
    policy: RefundPolicy,
) -> Result<Option<EventReceipt>, LedgerError> {
    let applied = match ledger.apply_or_hold(provider, event, policy).await {
        Err(e @ LedgerError::UnknownPayment) => {
            crate::metrics::event_outcome(provider.as_str(), "unknown_payment");
            return Err(e);
        }
        other => other?,
    };
    match applied {
        Applied::Matched { receipt, released } => {
            report(provider, event, &receipt);
            for (held, receipt) in &released {
                report_released(held, receipt);
            }
            Ok(Some(receipt))
        }
        Applied::Held => {
            crate::metrics::event_outcome(provider.as_str(), "held");
            tracing::info!(
                provider = %provider,
                event = %event.id,
                kind = event.kind.name(),
                reference = %event.provider_ref,
                "event for a charge no payment knows yet: held until its success lands"
            );
            Ok(None)
        }
        _ => Err(LedgerError::Corrupt("unexpected outcome".into())),
    }
}

/// Reports an event that was held and has now been applied.
pub(crate) fn report_released(held: &HeldEvent, receipt: &EventReceipt) {
    tracing::info!(
        payment = %receipt.payment.id,
        provider = %held.provider,
        event = %held.event.id,
        held_since = held.received_at,
        "held event applied: its payment is now known"
    );
    report(&held.provider, &held.event, receipt);
}

fn report(provider: &ProviderId, event: &ProviderEvent, receipt: &EventReceipt) {
    crate::metrics::event_applied(provider.as_str(), receipt);
    let payment = &receipt.payment;
    if receipt.duplicate {
        tracing::debug!(payment = %payment.id, provider = %provider, event = %event.id, "event redelivered; applied before");
        return;
    }
    if receipt.credited > 0 {
        tracing::info!(payment = %payment.id, provider = %provider, event = %event.id, tokens = receipt.credited, "credited");
    }
    if receipt.clawed_back > 0 || receipt.written_off > 0 {
        tracing::info!(payment = %payment.id, provider = %provider, event = %event.id, clawed_back = receipt.clawed_back, written_off = receipt.written_off, "tokens taken back");
    }
    let credited_ref = payment.payment_ref.as_ref().map_or("", |r| r.as_str());
    match receipt.no_effect {
        None => {}
        Some(NoEffect::AlreadyKnown) => {
            tracing::debug!(payment = %payment.id, provider = %provider, event = %event.id, reason = "already_known", "event changed nothing");
        }
        Some(reason @ (NoEffect::DuplicateCharge | NoEffect::OtherCharge)) => {
            tracing::warn!(
                payment = %payment.id,
                provider = %provider,
                event = %event.id,
                reason = %reason,
                credited_charge = credited_ref,
                other_charge = %event.provider_ref,
                user = payment.user_id.get(),
                "event about another charge of a paid payment: not applied to the tokens; review it"
            );
        }
        Some(reason) => {
            tracing::warn!(
                payment = %payment.id,
                provider = %provider,
                event = %event.id,
                reason = %reason,
                reference = %event.provider_ref,
                "event not applied; review it"
            );
        }
    }
    if payment.status == PaymentStatus::Conflicted
        && receipt.status_before != PaymentStatus::Conflicted
    {
        tracing::error!(payment = %payment.id, provider = %provider, event = %event.id, "amount or currency mismatch: payment conflicted, nothing credited; review it");
    }
}
