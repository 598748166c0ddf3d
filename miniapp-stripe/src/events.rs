//! Stripe event bodies mapped to the core's [`ProviderEvent`]s.

use miniapp_core::event::{EventKind, FailureReason, ProviderEvent};
use miniapp_core::ids::{PaymentId, ProviderEventId, ProviderRef};
use miniapp_core::money::{Currency, Money};
use miniapp_core::provider::ProviderError;
use serde::Deserialize;

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: serde_json::Value,
}

/// The parts of a Checkout Session we read.
#[derive(Debug, Deserialize)]
pub(crate) struct Session {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) payment_status: Option<String>,
    #[serde(default)]
    pub(crate) amount_total: Option<u64>,
    #[serde(default)]
    pub(crate) currency: Option<String>,
    #[serde(default)]
    pub(crate) client_reference_id: Option<String>,
    #[serde(default)]
    pub(crate) metadata: Metadata,
    /// An id, or the expanded object when fetched with `expand[]=payment_intent`.
    #[serde(default)]
    pub(crate) payment_intent: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) expires_at: Option<u64>,
    /// Only on API versions before 2025-03-31.basil when Adaptive Pricing was used: then
    /// `amount_total`/`currency` are the buyer's local currency and this holds ours.
    #[serde(default)]
    currency_conversion: Option<CurrencyConversion>,
}

#[derive(Debug, Deserialize)]
struct CurrencyConversion {
    amount_total: u64,
    source_currency: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Metadata {
    #[serde(default)]
    payment_id: Option<String>,
}

/// The parts of a PaymentIntent we read (`payment_intent.payment_failed`, or expanded on a
/// Session).
#[derive(Debug, Deserialize)]
struct PaymentIntent {
    id: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    last_payment_error: Option<PaymentError>,
}

/// A PaymentIntent's `last_payment_error`: what the last attempt failed with.
#[derive(Debug, Deserialize)]
struct PaymentError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
}

impl PaymentError {
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
struct Charge {
    id: String,
    #[serde(default)]
    amount_refunded: u64,
    currency: String,
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    metadata: Metadata,
}

/// A Refund object (`re_…`), as `refund.*` and `charge.refund.updated` carry it.
#[derive(Deserialize)]
struct Refund {
    id: String,
    amount: u64,
    currency: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    charge: Option<String>,
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Deserialize)]
struct Dispute {
    charge: String,
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    status: Option<String>,
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

fn our_payment(metadata: &Metadata, client_reference_id: Option<&str>) -> Option<PaymentId> {
    metadata
        .payment_id
        .as_deref()
        .or(client_reference_id)
        .and_then(|id| PaymentId::new(id).ok())
}

impl Session {
    /// The payment intent's id, whether the field holds the id or the expanded object.
    pub(crate) fn payment_intent_id(&self) -> Option<&str> {
        match &self.payment_intent {
            Some(serde_json::Value::String(id)) => Some(id),
            Some(serde_json::Value::Object(o)) => o.get("id").and_then(|v| v.as_str()),
            _ => None,
        }
    }

    /// The refunded total of the intent's latest charge, when expanded.
    pub(crate) fn refunded(&self) -> Option<(u64, String)> {
        let charge = self.payment_intent.as_ref()?.get("latest_charge")?;
        let amount = charge.get("amount_refunded")?.as_u64()?;
        let currency = charge.get("currency")?.as_str()?;
        Some((amount, currency.to_owned()))
    }

    pub(crate) fn payment_id(&self) -> Option<PaymentId> {
        our_payment(&self.metadata, self.client_reference_id.as_deref())
    }

    /// Why the last attempt at paying failed, when the payment intent is expanded and says.
    pub(crate) fn failure_reason(&self) -> Option<FailureReason> {
        let error = self.payment_intent.as_ref()?.get("last_payment_error")?;
        let error: PaymentError = serde_json::from_value(error.clone()).ok()?;
        Some(error.reason())
    }

    /// The reference a credit is keyed by: the payment intent (shared by every event about the
    /// money), or the session when there is none yet.
    pub(crate) fn payment_ref(&self) -> Result<ProviderRef, ProviderError> {
        reference(self.payment_intent_id().unwrap_or(&self.id))
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
    let event: Event = serde_json::from_slice(body).map_err(malformed)?;
    let id = ProviderEventId::new(event.id).map_err(malformed)?;
    let object = event.data.object;
    let one = |payment_id, provider_ref, kind| {
        Ok(vec![ProviderEvent {
            id: id.clone(),
            payment_id,
            provider_ref,
            kind,
        }])
    };
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let s: Session = serde_json::from_value(object).map_err(malformed)?;
            let kind = match s.paid_amount()? {
                Some(amount) => EventKind::Succeeded { amount },
                // `unpaid`: an asynchronous method is still settling; `no_payment_required`
                // cannot happen for our priced sessions. Neither credits.
                None => EventKind::Pending,
            };
            one(s.payment_id(), s.payment_ref()?, kind)
        }
        "checkout.session.async_payment_failed" => {
            // The session is complete and unpaid for good. Its payment intent is an id here, so
            // the reason comes with the intent's own `payment_intent.payment_failed`.
            let s: Session = serde_json::from_value(object).map_err(malformed)?;
            let reason = s.failure_reason();
            one(
                s.payment_id(),
                s.payment_ref()?,
                EventKind::Failed { reason },
            )
        }
        "payment_intent.payment_failed" => {
            // One attempt failed (a declined card, a failed 3-D Secure): the Checkout Session
            // stays open and the buyer may pay with another card, so the payment stays open too.
            let pi: PaymentIntent = serde_json::from_value(object).map_err(malformed)?;
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
        "checkout.session.expired" => {
            // The session is what expired: its id, so that the expiry of a session left over
            // from a given-up attempt never closes a payment whose own session is still open.
            let s: Session = serde_json::from_value(object).map_err(malformed)?;
            one(s.payment_id(), reference(&s.id)?, EventKind::Expired)
        }
        "charge.refunded" => {
            let c: Charge = serde_json::from_value(object).map_err(malformed)?;
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
            let r: Refund = serde_json::from_value(object).map_err(malformed)?;
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
            let d: Dispute = serde_json::from_value(object).map_err(malformed)?;
            // Disputes carry no metadata: found through the payment intent we recorded.
            one(
                None,
                reference(d.payment_intent.as_deref().unwrap_or(&d.charge))?,
                EventKind::DisputeOpened,
            )
        }
        "charge.dispute.closed" => {
            let d: Dispute = serde_json::from_value(object).map_err(malformed)?;
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
