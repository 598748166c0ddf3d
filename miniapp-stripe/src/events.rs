//! Stripe event bodies mapped to the core's [`ProviderEvent`]s.

use std::borrow::Cow;

use miniapp_core::event::{EventKind, FailureReason, ProviderEvent};
use miniapp_core::ids::{PaymentId, ProviderEventId, ProviderRef};
use miniapp_core::money::{Currency, Money};
use miniapp_core::provider::ProviderError;
use serde::Deserialize;
use serde_json::value::RawValue;

// Every type here borrows from the body and names only the fields the mapping reads: serde skips
// the rest of a 4 KB event without building it, and strings without escapes are not copied.

/// An event whose `data.object` is read as `O`.
#[derive(Deserialize)]
struct Event<'a, O> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    data: Data<O>,
}

#[derive(Deserialize)]
struct Data<O> {
    object: O,
}

/// The parts of a Checkout Session we read.
#[derive(Debug, Deserialize)]
pub(crate) struct Session<'a> {
    #[serde(borrow)]
    pub(crate) id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub(crate) status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    payment_status: Option<Cow<'a, str>>,
    #[serde(default)]
    amount_total: Option<u64>,
    #[serde(default, borrow)]
    currency: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    client_reference_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    metadata: Metadata<'a>,
    /// An id, or the expanded object when fetched with `expand[]=payment_intent`: read when
    /// asked, so a webhook never parses what only reconciliation needs.
    #[serde(default, borrow)]
    payment_intent: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) url: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) expires_at: Option<u64>,
    /// Only on API versions before 2025-03-31.basil when Adaptive Pricing was used: then
    /// `amount_total`/`currency` are the buyer's local currency and this holds ours.
    #[serde(default, borrow)]
    currency_conversion: Option<CurrencyConversion<'a>>,
}

#[derive(Debug, Deserialize)]
struct CurrencyConversion<'a> {
    amount_total: u64,
    #[serde(borrow)]
    source_currency: Cow<'a, str>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Metadata<'a> {
    #[serde(default, borrow)]
    payment_id: Option<Cow<'a, str>>,
}

/// The parts of a PaymentIntent we read (`payment_intent.payment_failed`, or expanded on a
/// Session).
#[derive(Debug, Deserialize)]
struct PaymentIntent<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    metadata: Metadata<'a>,
    #[serde(default, borrow)]
    last_payment_error: Option<PaymentError<'a>>,
    /// An id, or the Charge when expanded (`expand[]=payment_intent.latest_charge`).
    #[serde(default, borrow)]
    latest_charge: Option<&'a RawValue>,
}

/// A PaymentIntent's `last_payment_error`: what the last attempt failed with.
#[derive(Debug, Deserialize)]
struct PaymentError<'a> {
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    decline_code: Option<Cow<'a, str>>,
}

impl PaymentError<'_> {
    /// The reason a buyer may be told. The issuer's `decline_code` says more than the error
    /// `code` (`card_declined` with `insufficient_funds`), so it goes first. Declines the buyer
    /// must not be told about (`lost_card`, `stolen_card`, `fraudulent`, `pickup_card`, …) are a
    /// plain `card_declined`, as Stripe recommends.
    fn reason(&self) -> FailureReason {
        if let Some(decline) = self.decline_code.as_deref() {
            return match decline {
                "insufficient_funds" => FailureReason::InsufficientFunds,
                "expired_card" => FailureReason::ExpiredCard,
                "incorrect_cvc" | "invalid_cvc" => FailureReason::IncorrectCvc,
                "authentication_required" => FailureReason::AuthenticationFailed,
                // Stripe's advice for these: the payment should be attempted again.
                "processing_error"
                | "issuer_not_available"
                | "try_again_later"
                | "reenter_transaction" => FailureReason::ProcessingError,
                _ => FailureReason::CardDeclined,
            };
        }
        match self.code.as_deref() {
            Some("card_declined") => FailureReason::CardDeclined,
            Some("expired_card") => FailureReason::ExpiredCard,
            Some("incorrect_cvc" | "invalid_cvc") => FailureReason::IncorrectCvc,
            Some("processing_error") => FailureReason::ProcessingError,
            Some("authentication_required" | "payment_intent_authentication_failure") => {
                FailureReason::AuthenticationFailed
            }
            _ => FailureReason::Other,
        }
    }
}

#[derive(Deserialize)]
struct Charge<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default)]
    amount_refunded: u64,
    #[serde(borrow)]
    currency: Cow<'a, str>,
    #[serde(default, borrow)]
    payment_intent: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    metadata: Metadata<'a>,
}

/// A Refund object (`re_…`), as `refund.*` and `charge.refund.updated` carry it.
#[derive(Deserialize)]
struct Refund<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    amount: u64,
    #[serde(borrow)]
    currency: Cow<'a, str>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    charge: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    payment_intent: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    metadata: Metadata<'a>,
}

#[derive(Deserialize)]
struct Dispute<'a> {
    #[serde(borrow)]
    charge: Cow<'a, str>,
    #[serde(default, borrow)]
    payment_intent: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
}

/// The refunded total of an expanded Charge.
#[derive(Deserialize)]
struct ChargeRefunded<'a> {
    amount_refunded: u64,
    #[serde(borrow)]
    currency: Cow<'a, str>,
}

/// An expanded object's id.
#[derive(Deserialize)]
struct Expanded<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// The id an expandable field holds: the field itself, or the expanded object's `id`.
fn expandable_id(raw: &RawValue) -> Option<Cow<'_, str>> {
    if raw.get().starts_with('"') {
        serde_json::from_str(raw.get()).ok()
    } else {
        serde_json::from_str::<Expanded<'_>>(raw.get())
            .ok()
            .map(|o| o.id)
    }
}

fn malformed(what: impl std::fmt::Display) -> ProviderError {
    ProviderError::MalformedPayload(what.to_string())
}

/// Stripe currencies are lower-case ISO codes; unknown ones keep their code with two decimals
/// (they will not equal any price, so the ledger marks the payment conflicted).
pub(crate) fn currency(code: &str) -> Result<Currency, ProviderError> {
    Currency::from_code(code)
        .or_else(|| Currency::new(code, 2))
        .ok_or_else(|| malformed(format!("currency {code:?}")))
}

fn reference(s: &str) -> Result<ProviderRef, ProviderError> {
    ProviderRef::new(s).map_err(malformed)
}

fn our_payment(metadata: &Metadata<'_>, client_reference_id: Option<&str>) -> Option<PaymentId> {
    metadata
        .payment_id
        .as_deref()
        .or(client_reference_id)
        .and_then(|id| PaymentId::new(id).ok())
}

fn object<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, ProviderError> {
    serde_json::from_str(raw.get()).map_err(malformed)
}

impl<'a> Session<'a> {
    /// Decodes a Session as the API returns it.
    pub(crate) fn from_api(body: &'a [u8]) -> Result<Session<'a>, ProviderError> {
        crate::client::decode(body)
    }

    /// The payment intent's id, whether the field holds the id or the expanded object.
    pub(crate) fn payment_intent_id(&self) -> Option<Cow<'a, str>> {
        expandable_id(self.payment_intent?)
    }

    /// The expanded payment intent, when it is expanded.
    fn expanded_intent(&self) -> Option<PaymentIntent<'a>> {
        serde_json::from_str(self.payment_intent?.get()).ok()
    }

    /// The refunded total of the intent's latest charge, when expanded.
    pub(crate) fn refunded(&self) -> Option<(u64, String)> {
        let charge = self.expanded_intent()?.latest_charge?;
        let charge: ChargeRefunded<'_> = serde_json::from_str(charge.get()).ok()?;
        Some((charge.amount_refunded, charge.currency.into_owned()))
    }

    pub(crate) fn payment_id(&self) -> Option<PaymentId> {
        our_payment(&self.metadata, self.client_reference_id.as_deref())
    }

    /// Why the last attempt at paying failed, when the payment intent is expanded and says.
    pub(crate) fn failure_reason(&self) -> Option<FailureReason> {
        Some(self.expanded_intent()?.last_payment_error?.reason())
    }

    /// The reference a credit is keyed by: the payment intent (shared by every event about the
    /// money), or the session when there is none yet.
    pub(crate) fn payment_ref(&self) -> Result<ProviderRef, ProviderError> {
        reference(self.payment_intent_id().as_deref().unwrap_or(&self.id))
    }

    /// A success event when the session is paid, in the integration's currency (what the
    /// catalog priced), whatever the webhook endpoint's API version: since 2025-03-31.basil
    /// `amount_total`/`currency` are that (the buyer's currency is in `presentment_details`);
    /// before it, with Adaptive Pricing, they are the buyer's and `currency_conversion` holds
    /// ours.
    pub(crate) fn paid_amount(&self) -> Result<Option<Money>, ProviderError> {
        if self.payment_status.as_deref() != Some("paid") {
            return Ok(None);
        }
        if let Some(ours) = &self.currency_conversion {
            return Ok(Some(Money::new(
                ours.amount_total,
                currency(&ours.source_currency)?,
            )));
        }
        let amount = self
            .amount_total
            .ok_or_else(|| malformed("paid session without amount_total"))?;
        let code = self
            .currency
            .as_deref()
            .ok_or_else(|| malformed("paid session without currency"))?;
        Ok(Some(Money::new(amount, currency(code)?)))
    }
}

/// Maps one verified Stripe event body. Unknown event types give no events.
///
/// # Errors
/// [`ProviderError::MalformedPayload`] when the body is not a Stripe event of the shape its type
/// promises.
pub fn map_event(body: &[u8]) -> Result<Vec<ProviderEvent>, ProviderError> {
    // Stripe writes `type` after `data`, so the object's shape is known only once it has been
    // read. Checkout Session events are most of what arrives (one or two per payment), so the
    // object is read as a session in the same pass; any other type (or a session that does not
    // read) is read again from the raw object as its own shape.
    // One UTF-8 check of the whole body up front is cheaper than serde_json checking each
    // string it reads or skips.
    let body = std::str::from_utf8(body).map_err(malformed)?;
    if let Ok(event) = serde_json::from_str::<Event<'_, Session<'_>>>(body)
        && let Some(mapped) = session_event(&event.kind, &event.data.object)
    {
        let (provider_ref, kind) = mapped?;
        return Ok(vec![ProviderEvent {
            id: ProviderEventId::new(event.id).map_err(malformed)?,
            payment_id: event.data.object.payment_id(),
            provider_ref,
            kind,
        }]);
    }
    let event: Event<'_, &RawValue> = serde_json::from_str(body).map_err(malformed)?;
    let id = ProviderEventId::new(event.id).map_err(malformed)?;
    let raw = event.data.object;
    let one = |payment_id, provider_ref, kind| {
        Ok(vec![ProviderEvent {
            id: id.clone(),
            payment_id,
            provider_ref,
            kind,
        }])
    };
    match &*event.kind {
        kind @ ("checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired") => {
            // Only reached when the one-pass read of the session failed: this read fails the
            // same way and says why (every type of this arm is a session event).
            let s: Session<'_> = object(raw)?;
            let (provider_ref, kind) =
                session_event(kind, &s).ok_or_else(|| malformed("not a session event"))??;
            one(s.payment_id(), provider_ref, kind)
        }
        "payment_intent.payment_failed" => {
            // One attempt failed (a declined card, a failed 3-D Secure): the Checkout Session
            // stays open and the buyer may pay with another card, so the payment stays open too.
            let pi: PaymentIntent<'_> = object(raw)?;
            let reason = pi
                .last_payment_error
                .as_ref()
                .map_or(FailureReason::Other, PaymentError::reason);
            one(
                our_payment(&pi.metadata, None),
                reference(&pi.id)?,
                EventKind::AttemptFailed { reason },
            )
        }
        "charge.refunded" => {
            let c: Charge<'_> = object(raw)?;
            let total_refunded = Money::new(c.amount_refunded, currency(&c.currency)?);
            let provider_ref = reference(c.payment_intent.as_deref().unwrap_or(&c.id))?;
            one(
                our_payment(&c.metadata, None),
                provider_ref,
                EventKind::Refunded { total_refunded },
            )
        }
        // One refund at a time: what lets a refund that fails after its `charge.refunded` give
        // back the tokens its clawback took (the charge's cumulative total only drops).
        "charge.refund.updated" | "refund.created" | "refund.updated" | "refund.failed" => {
            let r: Refund<'_> = object(raw)?;
            let charge = r
                .payment_intent
                .as_deref()
                .or(r.charge.as_deref())
                .ok_or_else(|| malformed("refund without payment_intent or charge"))?;
            let failed = matches!(r.status.as_deref(), Some("failed" | "canceled"));
            one(
                our_payment(&r.metadata, None),
                reference(charge)?,
                EventKind::RefundUpdated {
                    refund: reference(&r.id)?,
                    amount: Money::new(r.amount, currency(&r.currency)?),
                    failed,
                },
            )
        }
        "charge.dispute.created" => {
            let d: Dispute<'_> = object(raw)?;
            // Disputes carry no metadata: found through the payment intent we recorded.
            one(
                None,
                reference(d.payment_intent.as_deref().unwrap_or(&d.charge))?,
                EventKind::DisputeOpened,
            )
        }
        "charge.dispute.closed" => {
            let d: Dispute<'_> = object(raw)?;
            // Only `lost` takes the money; `won` and `warning_closed` (an inquiry that never
            // became a chargeback) leave it with the merchant.
            let won = d.status.as_deref() != Some("lost");
            one(
                None,
                reference(d.payment_intent.as_deref().unwrap_or(&d.charge))?,
                EventKind::DisputeClosed { won },
            )
        }
        other => {
            tracing::debug!(
                event_type = other,
                "ignoring a Stripe event type we do not use"
            );
            Ok(Vec::new())
        }
    }
}

/// What a Checkout Session event says: the reference and the kind; `None` for another type.
fn session_event(
    kind: &str,
    s: &Session<'_>,
) -> Option<Result<(ProviderRef, EventKind), ProviderError>> {
    Some(match kind {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            s.paid_amount().and_then(|paid| {
                let kind = match paid {
                    Some(amount) => EventKind::Succeeded { amount },
                    // `unpaid`: an asynchronous method is still settling; `no_payment_required`
                    // cannot happen for our priced sessions. Neither credits.
                    None => EventKind::Pending,
                };
                Ok((s.payment_ref()?, kind))
            })
        }
        // The session is complete and unpaid for good. Its payment intent is an id here, so the
        // reason comes with the intent's own `payment_intent.payment_failed`.
        "checkout.session.async_payment_failed" => s.payment_ref().map(|r| {
            (
                r,
                EventKind::Failed {
                    reason: s.failure_reason(),
                },
            )
        }),
        // The session is what expired: its id, so that the expiry of a session left over from a
        // given-up attempt never closes a payment whose own session is still open.
        "checkout.session.expired" => reference(&s.id).map(|r| (r, EventKind::Expired)),
        _ => return None,
    })
}
