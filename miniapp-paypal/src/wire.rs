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

impl Order {
    /// The payment this order is for, when it is one of ours ([`our_payment`] of its unit).
    pub(crate) fn ours(&self) -> Option<PaymentId> {
        let unit = self.purchase_units.first()?;
        our_payment(unit.custom_id.as_deref(), unit.invoice_id.as_deref())
    }
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
pub(crate) struct Dispute {
    dispute_id: String,
    #[serde(default)]
    status: Option<String>,
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

/// What an event is about, by its `event_type`: an object PayPal's API shows at
/// [`Subject::path`]. Types we do not act on have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// `CHECKOUT.ORDER.APPROVED`: the buyer approved; the money moves only when we capture.
    Approval,
    /// `CHECKOUT.ORDER.VOIDED`.
    Void,
    /// `PAYMENT.CAPTURE.*` but refunds and reversals.
    Capture,
    /// `PAYMENT.CAPTURE.REFUNDED` and `.REVERSED` (PayPal records a reversal as a refund).
    Refund,
    /// `CUSTOMER.DISPUTE.CREATED` and `.RESOLVED`.
    Dispute,
}

impl Subject {
    fn of(event_type: &str) -> Option<Subject> {
        Some(match event_type {
            "CHECKOUT.ORDER.APPROVED" => Subject::Approval,
            "CHECKOUT.ORDER.VOIDED" => Subject::Void,
            "PAYMENT.CAPTURE.COMPLETED"
            | "PAYMENT.CAPTURE.DENIED"
            | "PAYMENT.CAPTURE.DECLINED"
            | "PAYMENT.CAPTURE.PENDING" => Subject::Capture,
            "PAYMENT.CAPTURE.REFUNDED" | "PAYMENT.CAPTURE.REVERSED" => Subject::Refund,
            "CUSTOMER.DISPUTE.CREATED" | "CUSTOMER.DISPUTE.RESOLVED" => Subject::Dispute,
            _ => return None,
        })
    }

    /// Where PayPal's API shows the object `id` (one [`is_paypal_id`] accepted).
    pub(crate) fn path(self, id: &str) -> String {
        match self {
            Subject::Approval | Subject::Void => format!("/v2/checkout/orders/{id}"),
            Subject::Capture => format!("/v2/payments/captures/{id}"),
            Subject::Refund => format!("/v2/payments/refunds/{id}"),
            Subject::Dispute => format!("/v1/customer/disputes/{id}"),
        }
    }
}

/// What an authentic webhook names. Its body is never taken for the truth: PayPal signs a CRC32
/// of it, which anyone holding one genuine delivery can match with other content, so the
/// provider reads the named object back from PayPal's API and maps that.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) event: ProviderEventId,
    pub(crate) subject: Subject,
    /// The object's id, safe in a path.
    pub(crate) id: String,
}

#[derive(Deserialize)]
struct Ids {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    dispute_id: Option<String>,
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> ProviderError {
    ProviderError::MalformedPayload(what.to_string())
}

/// One fact about one of our payments, under a provider event id we derive (`reconcile_…`,
/// `capture_declined_…`): stable per fact, so asking again records nothing new.
pub(crate) fn fact(
    id: &str,
    payment_id: &PaymentId,
    provider_ref: &str,
    kind: EventKind,
) -> Result<ProviderEvent, ProviderError> {
    Ok(ProviderEvent {
        id: event_id(id)?,
        payment_id: Some(payment_id.clone()),
        provider_ref: reference(provider_ref)?,
        kind,
    })
}

pub(crate) fn reference(s: &str) -> Result<ProviderRef, ProviderError> {
    ProviderRef::new(s).map_err(|e| malformed(format!("reference {s:?}: {e}")))
}

fn event_id(s: &str) -> Result<ProviderEventId, ProviderError> {
    ProviderEventId::new(s).map_err(|e| malformed(format!("event id {s:?}: {e}")))
}

/// Our payment id: `custom_id` (and `invoice_id`, when present) hold one of our generated ids,
/// `pay_` and 32 lowercase hex digits, as `create_checkout` sets them. Anything else is another
/// integration's on the same PayPal account (shops often put their order number in both), or no
/// one's: never ours to capture or credit.
pub(crate) fn our_payment(custom_id: Option<&str>, invoice_id: Option<&str>) -> Option<PaymentId> {
    let id = custom_id?;
    if invoice_id.is_some_and(|i| i != id) {
        return None;
    }
    PaymentId::new(id).ok().filter(PaymentId::is_generated)
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

/// What one authentic webhook body names; `None` for an event we do not act on.
pub(crate) fn map_webhook(body: &[u8]) -> Result<Option<Named>, ProviderError> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(body).map_err(|e| malformed(format!("event: {e}")))?;
    let event = event_id(&envelope.id)?;
    let Some(subject) = Subject::of(&envelope.event_type) else {
        return Ok(None);
    };
    let ids: Ids = resource_of(envelope.resource.get())?;
    let id = match subject {
        Subject::Dispute => ids.dispute_id,
        _ => ids.id,
    };
    let id = id
        .filter(|v| is_paypal_id(v))
        .ok_or_else(|| malformed(format!("{subject:?} without a usable id")))?;
    Ok(Some(Named { event, subject, id }))
}

/// The events of `event` about `subject`, mapped from the object as PayPal shows it (`json`).
/// An approval gives none here: capturing it is the provider's.
pub(crate) fn subject_events(
    event: ProviderEventId,
    subject: Subject,
    json: &str,
) -> Result<Vec<ProviderEvent>, ProviderError> {
    Ok(match subject {
        Subject::Approval => Vec::new(),
        Subject::Void => {
            let order: Order = resource_of(json)?;
            match order.ours() {
                Some(payment_id) if order.status == "VOIDED" => vec![ProviderEvent {
                    id: event,
                    payment_id: Some(payment_id),
                    provider_ref: reference(&order.id)?,
                    kind: EventKind::Expired,
                }],
                _ => Vec::new(),
            }
        }
        Subject::Capture => capture_event(event, &resource_of(json)?)?
            .into_iter()
            .collect(),
        Subject::Refund => refund_event(event, &resource_of(json)?)?
            .into_iter()
            .collect(),
        Subject::Dispute => dispute_events(&event, &resource_of(json)?)?,
    })
}

/// A page of `GET /v1/notifications/webhooks-events` (the events PayPal sent, or tried to send,
/// to this app's webhooks): the events as they were, and the link to the next page.
#[derive(Deserialize)]
pub(crate) struct EventList {
    #[serde(default)]
    pub(crate) events: Vec<Box<RawValue>>,
    #[serde(default)]
    pub(crate) links: Vec<Link>,
}

impl EventList {
    /// The `href` of the `next` page, when there is one.
    pub(crate) fn next(&self) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.rel == "next")
            .map(|l| l.href.as_str())
    }
}

#[derive(Deserialize)]
struct Listed<'a> {
    id: String,
    event_type: String,
    #[serde(default)]
    create_time: Option<String>,
    #[serde(borrow)]
    resource: &'a RawValue,
}

/// An event of PayPal's event list, when it is one we act on: its create time (for ordering)
/// and its events, mapped from the resource it carries. Unlike a webhook's body, that resource
/// is PayPal's word: the list is PayPal's answer to our own authenticated request, so nothing is
/// read back. `CHECKOUT.ORDER.APPROVED` gives nothing here: capturing is for the buyer's
/// return, the webhook and the reconciliation of pending payments, which read the order as it
/// is now.
pub(crate) fn listed_event(
    raw: &RawValue,
) -> Result<(Option<String>, Vec<ProviderEvent>), ProviderError> {
    let listed: Listed<'_> =
        serde_json::from_str(raw.get()).map_err(|e| malformed(format!("listed event: {e}")))?;
    let event = event_id(&listed.id)?;
    let events = match Subject::of(&listed.event_type) {
        Some(subject) => subject_events(event, subject, listed.resource.get())?,
        None => Vec::new(),
    };
    Ok((listed.create_time, events))
}

fn resource_of<'a, T: Deserialize<'a>>(resource: &'a str) -> Result<T, ProviderError> {
    serde_json::from_str(resource).map_err(|e| malformed(format!("resource: {e}")))
}

/// PayPal's ids are letters, digits and `-` (`5O190127TN364715T`, `PP-D-12345`): safe in a path.
pub(crate) fn is_paypal_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A capture read from PayPal: its event, when it is ours.
pub(crate) fn capture_event(
    event: ProviderEventId,
    capture: &Capture,
) -> Result<Option<ProviderEvent>, ProviderError> {
    let Some(payment_id) = our_payment(capture.custom_id.as_deref(), capture.invoice_id.as_deref())
    else {
        return Ok(None);
    };
    let Some(kind) = capture_kind(capture)? else {
        return Ok(None);
    };
    Ok(Some(ProviderEvent {
        id: event,
        payment_id: Some(payment_id),
        provider_ref: reference(&capture.id)?,
        kind,
    }))
}

/// A refund (or reversal) read from PayPal: the cumulative refunded amount of its capture.
pub(crate) fn refund_event(
    event: ProviderEventId,
    refund: &Refund,
) -> Result<Option<ProviderEvent>, ProviderError> {
    if refund.status != "COMPLETED" {
        // A pending, failed or cancelled refund has not moved money.
        return Ok(None);
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
    Ok(Some(ProviderEvent {
        id: event,
        payment_id: our_payment(refund.custom_id.as_deref(), refund.invoice_id.as_deref()),
        provider_ref: reference(&capture)?,
        kind: EventKind::Refunded {
            total_refunded: total,
        },
    }))
}

/// A dispute read from PayPal: opened while it runs; decided when resolved with an outcome
/// that says who keeps the money. One event per disputed transaction (a capture).
pub(crate) fn dispute_events(
    event: &ProviderEventId,
    dispute: &Dispute,
) -> Result<Vec<ProviderEvent>, ProviderError> {
    let outcome = dispute
        .dispute_outcome
        .as_ref()
        .and_then(|o| o.outcome_code.as_deref());
    let kind = match (dispute.status.as_deref(), outcome) {
        (Some("RESOLVED"), Some("RESOLVED_SELLER_FAVOUR" | "CANCELED_BY_BUYER" | "DENIED")) => {
            EventKind::DisputeClosed { won: true }
        }
        (Some("RESOLVED"), Some("RESOLVED_BUYER_FAVOUR" | "ACCEPTED")) => {
            EventKind::DisputeClosed { won: false }
        }
        // Resolved without an outcome we can read (`NONE`, a payout by PayPal itself): nothing
        // is decided about our money; the refund or reversal, if any, comes as its own event.
        (Some("RESOLVED"), _) => return Ok(Vec::new()),
        _ => EventKind::DisputeOpened,
    };
    let mut events = Vec::new();
    for (n, t) in dispute.disputed_transactions.iter().enumerate() {
        let Some(capture) = t.seller_transaction_id.as_deref() else {
            continue;
        };
        events.push(ProviderEvent {
            id: if n == 0 {
                event.clone()
            } else {
                event_id(&format!("{event}_{n}"))?
            },
            payment_id: our_payment(t.custom.as_deref(), t.invoice_number.as_deref()),
            provider_ref: reference(capture)?,
            kind: kind.clone(),
        });
    }
    if events.is_empty() {
        tracing::warn!(dispute = %dispute.dispute_id, "a PayPal dispute names no transaction");
    }
    Ok(events)
}

/// An order read from the API as events, ids stable per fact (`reconcile_<capture>_<state>`).
pub(crate) fn order_events(
    order: &Order,
    payment_id: &PaymentId,
) -> Result<Vec<ProviderEvent>, ProviderError> {
    // An order that names another payment than the one we asked about is refused rather than
    // credited to either.
    if order.ours().as_ref() != Some(payment_id) {
        return Err(malformed(format!(
            "PayPal's order {} is not for payment {payment_id}",
            order.id
        )));
    }
    let mut events = Vec::new();
    if order.status == "VOIDED" {
        let id = format!("reconcile_{}_voided", order.id);
        events.push(fact(&id, payment_id, &order.id, EventKind::Expired)?);
        return Ok(events);
    }
    for unit in &order.purchase_units {
        let Some(payments) = &unit.payments else {
            continue;
        };
        for capture in &payments.captures {
            let Some(kind) = capture_kind(capture)? else {
                continue;
            };
            let id = format!("reconcile_{}_{}", capture.id, kind.name());
            events.push(fact(&id, payment_id, &capture.id, kind)?);
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
                let id = format!("reconcile_{}_refunded_{}", capture.id, total.minor_units());
                let kind = EventKind::Refunded {
                    total_refunded: total,
                };
                events.push(fact(&id, payment_id, &capture.id, kind)?);
            }
        }
    }
    Ok(events)
}
