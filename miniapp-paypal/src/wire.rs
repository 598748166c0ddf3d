//! PayPal's JSON, only the fields the mapping reads, and the mapping onto the core's events.
//!
//! Shapes: Orders v2 (`checkout_orders_v2.json`), Payments v2 (`payments_payment_v2.json`),
//! Disputes v1 and the webhook event envelope, as PayPal publishes them
//! (`paypal/paypal-rest-api-specifications`); amounts are decimal strings, never numbers.

use miniapp_core::event::{EventKind, FailureReason, ProviderEvent};
use miniapp_core::ids::{PaymentId, ProviderEventId, ProviderRef};
use miniapp_core::money::{Currency, Money};
use miniapp_core::provider::ProviderError;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Deserialize)]
pub(crate) struct Amount {
    pub(crate) currency_code: String,
    pub(crate) value: String,
}

impl Amount {
    pub(crate) fn money(&self) -> Result<Money, ProviderError> {
        let currency = Currency::from_code(&self.currency_code)
            .ok_or_else(|| malformed(format!("unknown currency {}", self.currency_code)))?;
        Money::parse(&self.value, currency)
            .map_err(|e| malformed(format!("amount {:?}: {e}", self.value)))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Link {
    pub(crate) href: String,
    pub(crate) rel: String,
}

/// The last path segment of the link called `rel` (`up` of a refund names its capture).
fn linked_id(links: &[Link], rel: &str) -> Option<String> {
    let link = links.iter().find(|l| l.rel == rel)?;
    let id = link.href.trim_end_matches('/').rsplit('/').next()?;
    (!id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| id.to_owned())
}

/// An Orders v2 order.
#[derive(Debug, Deserialize)]
pub(crate) struct Order {
    pub(crate) id: String,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) links: Vec<Link>,
    #[serde(default)]
    pub(crate) purchase_units: Vec<PurchaseUnit>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PurchaseUnit {
    #[serde(default)]
    pub(crate) custom_id: Option<String>,
    #[serde(default)]
    pub(crate) invoice_id: Option<String>,
    #[serde(default)]
    pub(crate) payments: Option<Payments>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Payments {
    #[serde(default)]
    pub(crate) captures: Vec<Capture>,
    #[serde(default)]
    pub(crate) refunds: Vec<Refund>,
}

/// A capture: the money of an order.
#[derive(Debug, Deserialize)]
pub(crate) struct Capture {
    pub(crate) id: String,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) amount: Option<Amount>,
    #[serde(default)]
    pub(crate) custom_id: Option<String>,
    #[serde(default)]
    pub(crate) invoice_id: Option<String>,
}

/// A refund, or the reversal PayPal records as one (`PAYMENT.CAPTURE.REVERSED`).
#[derive(Debug, Deserialize)]
pub(crate) struct Refund {
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) amount: Option<Amount>,
    #[serde(default)]
    pub(crate) custom_id: Option<String>,
    #[serde(default)]
    pub(crate) invoice_id: Option<String>,
    #[serde(default)]
    pub(crate) links: Vec<Link>,
    #[serde(default)]
    pub(crate) seller_payable_breakdown: Option<RefundBreakdown>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RefundBreakdown {
    #[serde(default)]
    pub(crate) total_refunded_amount: Option<Amount>,
}

#[derive(Debug, Deserialize)]
struct Dispute {
    dispute_id: String,
    #[serde(default)]
    disputed_transactions: Vec<DisputedTransaction>,
    #[serde(default)]
    dispute_outcome: Option<DisputeOutcome>,
}

#[derive(Debug, Deserialize)]
struct DisputedTransaction {
    #[serde(default)]
    seller_transaction_id: Option<String>,
    #[serde(default)]
    custom: Option<String>,
    #[serde(default)]
    invoice_number: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DisputeOutcome {
    #[serde(default)]
    outcome_code: Option<String>,
}

/// The webhook envelope.
#[derive(Deserialize)]
struct Envelope<'a> {
    id: String,
    event_type: String,
    #[serde(borrow)]
    resource: &'a RawValue,
}

/// What a webhook asks of the provider.
#[derive(Debug)]
pub(crate) enum Webhook {
    /// Events to apply as they are.
    Events(Vec<ProviderEvent>),
    /// `CHECKOUT.ORDER.APPROVED`: the buyer approved; the money moves only when we capture.
    Approved {
        order_id: String,
        payment_id: PaymentId,
    },
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> ProviderError {
    ProviderError::MalformedPayload(what.to_string())
}

fn reference(s: &str) -> Result<ProviderRef, ProviderError> {
    ProviderRef::new(s).map_err(|e| malformed(format!("reference {s:?}: {e}")))
}

fn event_id(s: &str) -> Result<ProviderEventId, ProviderError> {
    ProviderEventId::new(s).map_err(|e| malformed(format!("event id {s:?}: {e}")))
}

/// Our payment id, from `custom_id` first, then `invoice_id` (we set both to it).
pub(crate) fn our_payment(custom_id: Option<&str>, invoice_id: Option<&str>) -> Option<PaymentId> {
    [custom_id, invoice_id]
        .into_iter()
        .flatten()
        .find_map(|s| PaymentId::new(s).ok())
}

/// A capture's state as events: `Succeeded` (and nothing else) for a completed or refunded
/// capture, `Failed` for a declined or failed one, `Pending` while PayPal holds it.
pub(crate) fn capture_kind(capture: &Capture) -> Result<Option<EventKind>, ProviderError> {
    Ok(Some(match capture.status.as_str() {
        "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED" => EventKind::Succeeded {
            amount: capture
                .amount
                .as_ref()
                .ok_or_else(|| malformed("a completed capture without an amount"))?
                .money()?,
        },
        "DECLINED" | "FAILED" => EventKind::Failed {
            reason: Some(FailureReason::CardDeclined),
        },
        "PENDING" => EventKind::Pending,
        _ => return Ok(None),
    }))
}

/// Maps one authentic webhook body.
pub(crate) fn map_webhook(body: &[u8]) -> Result<Webhook, ProviderError> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(body).map_err(|e| malformed(format!("event: {e}")))?;
    let id = event_id(&envelope.id)?;
    let resource = envelope.resource.get();
    let read = |what: &str| {
        let what = what.to_owned();
        move |e: serde_json::Error| malformed(format!("{what}: {e}"))
    };
    let one = |payment_id, provider_ref, kind| {
        Ok(Webhook::Events(vec![ProviderEvent {
            id: id.clone(),
            payment_id,
            provider_ref,
            kind,
        }]))
    };
    match envelope.event_type.as_str() {
        "CHECKOUT.ORDER.APPROVED" => {
            let order: Order = serde_json::from_str(resource).map_err(read("order"))?;
            // Only our own orders are captured: we set `custom_id` and `invoice_id` both to our
            // payment id. Another integration's order on the same PayPal account is not ours to
            // capture.
            let ours = order
                .purchase_units
                .first()
                .filter(|u| u.custom_id.is_some() && u.custom_id == u.invoice_id)
                .and_then(|u| our_payment(u.custom_id.as_deref(), None));
            match ours {
                Some(payment_id) => Ok(Webhook::Approved {
                    payment_id,
                    order_id: order.id,
                }),
                None => {
                    tracing::warn!(order = %order.id, "an approved PayPal order that is not ours; not captured");
                    Ok(Webhook::Events(Vec::new()))
                }
            }
        }
        "CHECKOUT.ORDER.VOIDED" => {
            let order: Order = serde_json::from_str(resource).map_err(read("order"))?;
            let unit = order.purchase_units.first();
            one(
                unit.and_then(|u| our_payment(u.custom_id.as_deref(), u.invoice_id.as_deref())),
                reference(&order.id)?,
                EventKind::Expired,
            )
        }
        "PAYMENT.CAPTURE.COMPLETED"
        | "PAYMENT.CAPTURE.DENIED"
        | "PAYMENT.CAPTURE.DECLINED"
        | "PAYMENT.CAPTURE.PENDING" => {
            let capture: Capture = serde_json::from_str(resource).map_err(read("capture"))?;
            let Some(kind) = capture_kind(&capture)? else {
                return Ok(Webhook::Events(Vec::new()));
            };
            one(
                our_payment(capture.custom_id.as_deref(), capture.invoice_id.as_deref()),
                reference(&capture.id)?,
                kind,
            )
        }
        "PAYMENT.CAPTURE.REFUNDED" | "PAYMENT.CAPTURE.REVERSED" => {
            let refund: Refund = serde_json::from_str(resource).map_err(read("refund"))?;
            if refund.status != "COMPLETED" {
                // A pending or failed refund has not moved money (yet).
                return Ok(Webhook::Events(Vec::new()));
            }
            let capture = linked_id(&refund.links, "up")
                .ok_or_else(|| malformed("a refund without its capture (links rel=up)"))?;
            let total = refund
                .seller_payable_breakdown
                .as_ref()
                .and_then(|b| b.total_refunded_amount.as_ref())
                .or(refund.amount.as_ref())
                .ok_or_else(|| malformed("a refund without an amount"))?
                .money()?;
            one(
                our_payment(refund.custom_id.as_deref(), refund.invoice_id.as_deref()),
                reference(&capture)?,
                EventKind::Refunded {
                    total_refunded: total,
                },
            )
        }
        "CUSTOMER.DISPUTE.CREATED" | "CUSTOMER.DISPUTE.RESOLVED" => {
            let dispute: Dispute = serde_json::from_str(resource).map_err(read("dispute"))?;
            let kind = if envelope.event_type.ends_with("CREATED") {
                EventKind::DisputeOpened
            } else {
                // The merchant keeps the money unless PayPal decided for the buyer or the
                // merchant accepted the claim.
                let won = matches!(
                    dispute
                        .dispute_outcome
                        .as_ref()
                        .and_then(|o| o.outcome_code.as_deref()),
                    Some("RESOLVED_SELLER_FAVOUR" | "CANCELED_BY_BUYER" | "DENIED")
                );
                EventKind::DisputeClosed { won }
            };
            // One event per disputed capture of ours; a dispute of nothing we know is
            // acknowledged without events (it cannot be about our money).
            let mut events = Vec::new();
            for (n, t) in dispute.disputed_transactions.iter().enumerate() {
                let Some(capture) = t.seller_transaction_id.as_deref() else {
                    continue;
                };
                events.push(ProviderEvent {
                    id: if n == 0 {
                        id.clone()
                    } else {
                        event_id(&format!("{}_{n}", envelope.id))?
                    },
                    payment_id: our_payment(t.custom.as_deref(), t.invoice_number.as_deref()),
                    provider_ref: reference(capture)?,
                    kind: kind.clone(),
                });
            }
            if events.is_empty() {
                tracing::warn!(dispute = %dispute.dispute_id, "a PayPal dispute names no transaction");
            }
            Ok(Webhook::Events(events))
        }
        _ => Ok(Webhook::Events(Vec::new())),
    }
}

/// An order read from the API as events, ids stable per fact (`reconcile_<capture>_<state>`).
pub(crate) fn order_events(
    order: &Order,
    payment_id: Option<&PaymentId>,
) -> Result<Vec<ProviderEvent>, ProviderError> {
    let ours = |unit: Option<&PurchaseUnit>| {
        payment_id.cloned().or_else(|| {
            unit.and_then(|u| our_payment(u.custom_id.as_deref(), u.invoice_id.as_deref()))
        })
    };
    let event = |id: String,
                 payment_id: Option<PaymentId>,
                 provider_ref: &str,
                 kind|
     -> Result<ProviderEvent, ProviderError> {
        Ok(ProviderEvent {
            id: event_id(&id)?,
            payment_id,
            provider_ref: reference(provider_ref)?,
            kind,
        })
    };
    let mut events = Vec::new();
    if order.status == "VOIDED" {
        events.push(event(
            format!("reconcile_{}_voided", order.id),
            ours(order.purchase_units.first()),
            &order.id,
            EventKind::Expired,
        )?);
        return Ok(events);
    }
    for unit in &order.purchase_units {
        let payment_id = ours(Some(unit));
        let Some(payments) = &unit.payments else {
            continue;
        };
        for capture in &payments.captures {
            let Some(kind) = capture_kind(capture)? else {
                continue;
            };
            let name = kind.name();
            events.push(event(
                format!("reconcile_{}_{name}", capture.id),
                payment_id.clone(),
                &capture.id,
                kind,
            )?);
            // Refunds of this capture, summed: the core takes the cumulative amount.
            let mut refunded: Option<Money> = None;
            for refund in payments.refunds.iter().filter(|r| r.status == "COMPLETED") {
                if linked_id(&refund.links, "up").as_deref() != Some(capture.id.as_str()) {
                    continue;
                }
                let Some(amount) = &refund.amount else {
                    continue;
                };
                let amount = amount.money()?;
                refunded = Some(match refunded {
                    None => amount,
                    Some(sum) if sum.currency() == amount.currency() => {
                        Money::new(sum.minor_units() + amount.minor_units(), sum.currency())
                    }
                    Some(_) => return Err(malformed("refunds of one capture in two currencies")),
                });
            }
            if let Some(total) = refunded.filter(|m| !m.is_zero()) {
                events.push(event(
                    format!("reconcile_{}_refunded_{}", capture.id, total.minor_units()),
                    payment_id.clone(),
                    &capture.id,
                    EventKind::Refunded {
                        total_refunded: total,
                    },
                )?);
            }
        }
    }
    Ok(events)
}
