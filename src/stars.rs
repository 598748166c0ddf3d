//! Telegram Stars (currency XTR): the payment method Telegram requires for digital goods in bots
//! and Mini Apps (feature `teloxide`).
//!
//! - **Checkout:** `createInvoiceLink` with currency `XTR`, an empty provider token, one price in
//!   whole Stars from the catalog, and our payment id as the payload. The page opens the link with
//!   `Telegram.WebApp.openInvoice` and then polls the server; the invoice callback is only a hint.
//! - **Pre-checkout:** [`answer_pre_checkout`] accepts only a pending payment of that same user,
//!   with exactly that amount in XTR; it refuses everything else with a message the user
//!   understands. So a payment can never be paid twice through two invoice links.
//! - **Proof of payment:** only a `successful_payment` message. It becomes a `Succeeded` event keyed
//!   by `telegram_payment_charge_id` and goes through the same ledger path as every provider
//!   (exactly once; the notification through the outbox).
//! - **Refunds:** [`refund_stars`] calls `refundStarPayment` and applies the refund with the
//!   configured refund-after-spend policy.
//! - **Reconciliation:** `fetch_status` looks the payment up in `getStarTransactions`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;

use async_trait::async_trait;
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{PaymentId, ProviderEventId, ProviderId, ProviderRef};
use miniapp_core::ledger::{ChargeRefund, EventReceipt, LedgerError, LedgerStore};
use miniapp_core::money::{Currency, Money};
use miniapp_core::payment::{Payment, PaymentStatus, RefundPolicy};
use miniapp_core::provider::{
    Checkout, CheckoutRequest, HistoryBatch, PaymentProvider, ProviderError, WebhookRequest,
};
use subtle::ConstantTimeEq;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    LabeledPrice, PreCheckoutQuery, SuccessfulPayment, TelegramTransactionId, TransactionPartner,
    TransactionPartnerUserKind,
};

use crate::i18n::Lang;

/// The provider id of Telegram Stars.
pub const STARS: &str = "stars";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_cache_is_bounded() {
        let mut cache = RecentLinks::default();
        let checkout = |i: usize| Checkout {
            checkout_ref: ProviderRef::new(format!("stars_{i}")).unwrap(),
            url: format!("https://t.me/$invoice{i}"),
            expires_at: None,
        };
        let id = |i: usize| PaymentId::new(format!("pay_{i}")).unwrap();
        for i in 0..RecentLinks::CAPACITY + 500 {
            cache.insert(id(i), checkout(i));
            cache.insert(id(i), checkout(i));
        }
        assert_eq!(cache.links.len(), RecentLinks::CAPACITY);
        assert_eq!(cache.order.len(), RecentLinks::CAPACITY);
        assert!(cache.get(&id(0)).is_none(), "the oldest is forgotten");
        assert_eq!(
            cache.get(&id(RecentLinks::CAPACITY + 499)),
            Some(&checkout(RecentLinks::CAPACITY + 499))
        );
    }
}

/// Telegram Stars as a [`PaymentProvider`] (id `stars`).
pub struct TelegramStarsProvider {
    id: ProviderId,
    bot: Bot,
    webhook_secret: Option<String>,
    links: Mutex<RecentLinks>,
}

/// The invoice links handed out most recently, at most [`RecentLinks::CAPACITY`]: a repeated
/// create for a payment gets its link again without a Bot API call. Older ones are forgotten
/// (the HTTP layer hands out the link attached to the payment anyway), so memory stays bounded.
#[derive(Default)]
struct RecentLinks {
    links: HashMap<PaymentId, Checkout>,
    order: VecDeque<PaymentId>,
}

impl RecentLinks {
    const CAPACITY: usize = 1024;

    fn get(&self, id: &PaymentId) -> Option<&Checkout> {
        self.links.get(id)
    }

    fn insert(&mut self, id: PaymentId, checkout: Checkout) {
        if self.links.insert(id.clone(), checkout).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > Self::CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.links.remove(&oldest);
            }
        }
    }
}

impl fmt::Debug for TelegramStarsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramStarsProvider")
            .finish_non_exhaustive()
    }
}

fn provider_error(e: RequestError) -> ProviderError {
    match e {
        RequestError::Api(api) => ProviderError::Rejected {
            code: "telegram".into(),
            message: api.to_string(),
        },
        other => ProviderError::Unavailable(Box::new(other)),
    }
}

impl TelegramStarsProvider {
    /// Stars through `bot`. `webhook_secret` is the `secret_token` of the bot's webhook, if updates
    /// arrive by webhook (checked by [`PaymentProvider::parse_webhook`]).
    pub fn new(bot: Bot, webhook_secret: Option<String>) -> TelegramStarsProvider {
        TelegramStarsProvider {
            id: ProviderId::new(STARS).unwrap_or_else(|_| unreachable!("a valid id")),
            bot,
            webhook_secret,
            links: Mutex::default(),
        }
    }
}

/// The event id of a Stars charge: the same whether the charge arrives as `successful_payment`
/// or is found by reconciliation in `getStarTransactions`, so the ledger records it once.
fn paid_event_id(charge: &str) -> Result<ProviderEventId, miniapp_core::ids::IdError> {
    ProviderEventId::new(format!("stars_paid_{charge}"))
}

/// The event a `successful_payment` proves, or `None` for a payment in another currency or for a
/// payload that is not our payment id.
pub fn successful_payment_event(payment: &SuccessfulPayment) -> Option<ProviderEvent> {
    if payment.currency != "XTR" {
        return None;
    }
    let charge = &payment.telegram_payment_charge_id.0;
    Some(ProviderEvent {
        id: paid_event_id(charge).ok()?,
        payment_id: Some(PaymentId::new(payment.invoice_payload.as_str()).ok()?),
        provider_ref: ProviderRef::new(charge.as_str()).ok()?,
        kind: EventKind::Succeeded {
            amount: Money::new(u64::from(payment.total_amount), Currency::XTR),
        },
    })
}

#[async_trait]
impl PaymentProvider for TelegramStarsProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn create_checkout(&self, r: &CheckoutRequest) -> Result<Checkout, ProviderError> {
        if r.price.currency() != Currency::XTR {
            return Err(ProviderError::Unsupported("Telegram Stars charge XTR only"));
        }
        // Every call would make a new link for the same payload; hand out one per payment. (Two
        // links could never both be paid anyway: the pre-checkout refuses a paid payment.)
        if let Some(existing) = self
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&r.payment_id)
        {
            return Ok(existing.clone());
        }
        let amount = u32::try_from(r.price.minor_units())
            .map_err(|_| ProviderError::Unsupported("too many Stars"))?;
        let (title, description, label) = match Lang::from_code(r.language.as_deref()) {
            Lang::Ru => (
                format!("{} токенов", r.tokens),
                format!("Пополнение баланса на {} токенов", r.tokens),
                format!("{} токенов", r.tokens),
            ),
            Lang::En => (
                format!("{} tokens", r.tokens),
                format!("Top up your balance with {} tokens", r.tokens),
                format!("{} tokens", r.tokens),
            ),
        };
        let url = self
            .bot
            .create_invoice_link(
                title,
                description,
                r.payment_id.as_str(),
                "XTR",
                [LabeledPrice::new(label, amount)],
            )
            .provider_token("")
            .await
            .map_err(provider_error)?;
        let checkout = Checkout {
            checkout_ref: ProviderRef::new(format!("stars_{}", r.payment_id))
                .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
            url,
            expires_at: None,
        };
        self.links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(r.payment_id.clone(), checkout.clone());
        Ok(checkout)
    }

    async fn parse_webhook(
        &self,
        request: &WebhookRequest,
        _now: SystemTime,
    ) -> Result<Vec<ProviderEvent>, ProviderError> {
        // A webhook update is authentic when it carries the bot's secret token (Telegram sends it
        // in X-Telegram-Bot-Api-Secret-Token); without a configured secret nothing is.
        let expected = self.webhook_secret.as_deref().ok_or_else(|| {
            ProviderError::InvalidSignature("no webhook secret configured".into())
        })?;
        let given = request
            .header("X-Telegram-Bot-Api-Secret-Token")
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(ProviderError::InvalidSignature(
                "secret token mismatch".into(),
            ));
        }
        let text = std::str::from_utf8(&request.body)
            .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?;
        let update: Update = serde_json::from_str(text)
            .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?;
        let teloxide::types::UpdateKind::Message(message) = update.kind else {
            return Ok(Vec::new());
        };
        Ok(message
            .successful_payment()
            .and_then(successful_payment_event)
            .into_iter()
            .collect())
    }

    /// `refundStarPayment` for the extra charge. A charge Telegram already refunded is `Ok`.
    async fn refund_charge(&self, refund: &ChargeRefund) -> Result<(), ProviderError> {
        let user = teloxide::types::UserId(u64::try_from(refund.user_id.get()).map_err(|_| {
            ProviderError::Rejected {
                code: "invalid_user".into(),
                message: "not a Telegram user id".into(),
            }
        })?);
        match self
            .bot
            .refund_star_payment(user, TelegramTransactionId(refund.charge_ref.to_string()))
            .await
        {
            Ok(_) => Ok(()),
            Err(RequestError::Api(e)) if e.to_string().contains("ALREADY_REFUNDED") => Ok(()),
            Err(e) => Err(provider_error(e)),
        }
    }

    async fn fetch_status(&self, payment: &Payment) -> Result<Vec<ProviderEvent>, ProviderError> {
        // Newest first, 100 at a time; a pending payment is recent, so a few pages suffice.
        for page in 0..10u32 {
            let list = self
                .bot
                .get_star_transactions()
                .offset(page * 100)
                .limit(100)
                .await
                .map_err(provider_error)?;
            for tx in &list.transactions {
                let Some(TransactionPartner::User(partner)) = &tx.source else {
                    continue;
                };
                let TransactionPartnerUserKind::InvoicePayment(invoice) = &partner.kind else {
                    continue;
                };
                if invoice.invoice_payload.as_deref() != Some(payment.id.as_str())
                    || i64::try_from(partner.user.id.0).ok() != Some(payment.user_id.get())
                {
                    continue;
                }
                let charge = &tx.id.0;
                return Ok(vec![ProviderEvent {
                    id: paid_event_id(charge)
                        .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
                    payment_id: Some(payment.id.clone()),
                    provider_ref: ProviderRef::new(charge.as_str())
                        .map_err(|e| ProviderError::MalformedPayload(e.to_string()))?,
                    kind: EventKind::Succeeded {
                        amount: Money::new(u64::from(tx.amount), Currency::XTR),
                    },
                }]);
            }
            if list.transactions.len() < 100 {
                break;
            }
        }
        Ok(Vec::new())
    }

    /// `getStarTransactions`, newest first, from the newest back to the stored cursor (the date
    /// of the newest transaction seen, inclusive: a transaction of that same second is read
    /// again, harmlessly), at most 5 pages of 100 per call. A scan that used up its pages before
    /// reaching the cursor says `more` and resumes at the offset where it stopped (transactions
    /// that arrive meanwhile push the older ones further, so resuming re-reads a few and skips
    /// none); the cursor moves to the newest date only once the scan reached the old one.
    /// Outgoing transactions to a user are refunds (their id is the refunded charge's),
    /// incoming ones payments; both become events with the ids the bot's own updates and
    /// `/refund` use. The first call only learns where "now" is. A page listed oldest first is
    /// refused loudly rather than read with the wrong cursor.
    async fn fetch_history(&self, cursor: Option<&str>) -> Result<HistoryBatch, ProviderError> {
        let bad = || ProviderError::MalformedPayload(format!("Stars history cursor {cursor:?}"));
        let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
        // "since", or "since:offset:newest" while a scan is resumed.
        let (since, start, mut newest) = match cursor.map(|c| c.split(':').collect::<Vec<_>>()) {
            None => (None, 0, None),
            Some(parts) => match parts.as_slice() {
                [s] => (Some(number(s)?), 0, None),
                [s, o, n] => (
                    Some(number(s)?),
                    u32::try_from(number(o)?).map_err(|_| bad())?,
                    Some(number(n)?),
                ),
                _ => return Err(bad()),
            },
        };
        let mut events = Vec::new();
        let mut offset = start;
        let mut reached = false;
        for _ in 0..5 {
            let list = self
                .bot
                .get_star_transactions()
                .offset(offset)
                .limit(if since.is_some() { 100 } else { 1 })
                .await
                .map_err(provider_error)?;
            if let (Some(first), Some(last)) = (list.transactions.first(), list.transactions.last())
                && first.date < last.date
            {
                return Err(ProviderError::MalformedPayload(
                    "getStarTransactions listed oldest first; the Stars catch-up reads newest first"
                        .into(),
                ));
            }
            for tx in &list.transactions {
                let date = tx.date.timestamp();
                newest = newest.max(Some(date));
                match since {
                    Some(since) if date >= since => events.extend(transaction_event(tx)),
                    _ => {
                        reached = true;
                        break;
                    }
                }
            }
            if reached || list.transactions.len() < 100 {
                reached = true;
                break;
            }
            offset += 100;
        }
        events.reverse();
        let cursor = match (reached, since, newest) {
            (true, _, Some(newest)) => Some(newest.to_string()),
            (false, Some(since), Some(newest)) => Some(format!("{since}:{offset}:{newest}")),
            _ => None,
        };
        Ok(HistoryBatch {
            events,
            cursor,
            more: !reached,
        })
    }
}

/// A Star transaction as the event it proves: an incoming invoice payment is a success, an
/// outgoing one to a user the refund of the charge with that id. Others (withdrawals, ads) are
/// not ours.
fn transaction_event(tx: &teloxide::types::StarTransaction) -> Option<ProviderEvent> {
    let (partner, incoming) = match (&tx.source, &tx.receiver) {
        (Some(TransactionPartner::User(p)), _) => (p, true),
        (_, Some(TransactionPartner::User(p))) => (p, false),
        _ => return None,
    };
    let TransactionPartnerUserKind::InvoicePayment(invoice) = &partner.kind else {
        return None;
    };
    let payment_id = invoice
        .invoice_payload
        .as_deref()
        .and_then(|p| PaymentId::new(p).ok());
    let charge = tx.id.0.as_str();
    let amount = Money::new(u64::from(tx.amount), Currency::XTR);
    let (id, kind) = if incoming {
        (paid_event_id(charge).ok()?, EventKind::Succeeded { amount })
    } else {
        (
            ProviderEventId::new(format!("stars_refund_{charge}")).ok()?,
            EventKind::Refunded {
                total_refunded: amount,
            },
        )
    };
    Some(ProviderEvent {
        id,
        // A payment id is required for a success (a payment of another bot's payload is not
        // ours); a refund is found by its charge too.
        payment_id: if incoming {
            Some(payment_id?)
        } else {
            payment_id
        },
        provider_ref: ProviderRef::new(charge).ok()?,
        kind,
    })
}

/// Why a pre-checkout query is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreCheckoutRefusal {
    /// The payload is no payment of this user (or none of ours).
    UnknownOrder,
    /// The payment is already paid.
    AlreadyPaid,
    /// The payment expired, failed or was canceled.
    Expired,
    /// The amount or currency is not the payment's price.
    AmountChanged,
}

impl PreCheckoutRefusal {
    /// The message Telegram shows the user.
    pub fn message(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (PreCheckoutRefusal::UnknownOrder, Lang::Ru) => {
                "Заказ не найден. Откройте страницу оплаты заново."
            }
            (PreCheckoutRefusal::UnknownOrder, Lang::En) => {
                "This order was not found. Open the payment page again."
            }
            (PreCheckoutRefusal::AlreadyPaid, Lang::Ru) => "Этот заказ уже оплачен.",
            (PreCheckoutRefusal::AlreadyPaid, Lang::En) => "This order is already paid.",
            (PreCheckoutRefusal::Expired, Lang::Ru) => {
                "Срок действия заказа истёк. Создайте новый на странице оплаты."
            }
            (PreCheckoutRefusal::Expired, Lang::En) => {
                "This order has expired. Create a new one on the payment page."
            }
            (PreCheckoutRefusal::AmountChanged, Lang::Ru) => {
                "Сумма заказа изменилась. Откройте страницу оплаты заново."
            }
            (PreCheckoutRefusal::AmountChanged, Lang::En) => {
                "The amount has changed. Open the payment page again."
            }
        }
    }
}

/// Decides a pre-checkout query: `Ok` only for a pending Stars payment of that same user with
/// exactly that amount in XTR.
///
/// # Errors
/// Storage failures (the caller should then refuse, as the order cannot be checked).
pub async fn check_pre_checkout(
    ledger: &dyn LedgerStore,
    q: &PreCheckoutQuery,
) -> Result<Result<(), PreCheckoutRefusal>, LedgerError> {
    let Ok(id) = PaymentId::new(q.invoice_payload.as_str()) else {
        return Ok(Err(PreCheckoutRefusal::UnknownOrder));
    };
    let Some(payment) = ledger.payment(&id).await? else {
        return Ok(Err(PreCheckoutRefusal::UnknownOrder));
    };
    let same_user = i64::try_from(q.from.id.0).ok() == Some(payment.user_id.get());
    if payment.provider.as_str() != STARS || !same_user {
        return Ok(Err(PreCheckoutRefusal::UnknownOrder));
    }
    if payment.status.is_paid() || payment.status == PaymentStatus::Conflicted {
        return Ok(Err(PreCheckoutRefusal::AlreadyPaid));
    }
    if payment.status != PaymentStatus::Pending {
        return Ok(Err(PreCheckoutRefusal::Expired));
    }
    if q.currency != "XTR" || payment.price != Money::new(u64::from(q.total_amount), Currency::XTR)
    {
        return Ok(Err(PreCheckoutRefusal::AmountChanged));
    }
    Ok(Ok(()))
}

/// Answers a pre-checkout query (Telegram waits at most 10 seconds; this is one database read).
///
/// # Errors
/// Telegram errors.
pub async fn answer_pre_checkout(
    bot: &Bot,
    ledger: &dyn LedgerStore,
    q: &PreCheckoutQuery,
) -> Result<(), RequestError> {
    let lang = Lang::from_code(q.from.language_code.as_deref());
    let verdict = match check_pre_checkout(ledger, q).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "pre-checkout: storage unavailable, refusing");
            Err(PreCheckoutRefusal::UnknownOrder)
        }
    };
    match verdict {
        Ok(()) => bot.answer_pre_checkout_query(q.id.clone(), true).await?,
        Err(refusal) => {
            tracing::info!(payload = %q.invoice_payload, ?refusal, "pre-checkout refused");
            bot.answer_pre_checkout_query(q.id.clone(), false)
                .error_message(refusal.message(lang))
                .await?
        }
    };
    Ok(())
}

/// Credits a `successful_payment` (exactly once, keyed by `telegram_payment_charge_id`).
///
/// # Errors
/// Storage failures; an unknown or foreign payload is [`LedgerError::UnknownPayment`].
pub async fn apply_successful_payment(
    ledger: &dyn LedgerStore,
    payment: &SuccessfulPayment,
    policy: RefundPolicy,
) -> Result<Option<EventReceipt>, LedgerError> {
    let Some(event) = successful_payment_event(payment) else {
        return Ok(None);
    };
    let stars = ProviderId::new(STARS).unwrap_or_else(|_| unreachable!("a valid id"));
    crate::report::apply_event(ledger, &stars, &event, policy)
        .await
        .map(Some)
}

/// Refunds a paid Stars payment with `refundStarPayment` and applies the refund (tokens taken back
/// per `policy`). For the bot owner.
///
/// # Errors
/// An error message for the owner: not a paid Stars payment, Telegram refused, storage failed.
pub async fn refund_stars(
    bot: &Bot,
    ledger: &dyn LedgerStore,
    id: &PaymentId,
    policy: RefundPolicy,
) -> Result<EventReceipt, String> {
    let payment = ledger
        .payment(id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no such payment")?;
    if payment.provider.as_str() != STARS
        || !payment.status.is_paid()
        || payment.status == PaymentStatus::Refunded
    {
        return Err(format!(
            "payment {id} is not a paid, unrefunded Stars payment ({})",
            payment.status
        ));
    }
    let charge = payment
        .payment_ref
        .clone()
        .ok_or("the payment has no Telegram charge id")?;
    let user =
        teloxide::types::UserId(u64::try_from(payment.user_id.get()).map_err(|e| e.to_string())?);
    match bot
        .refund_star_payment(user, TelegramTransactionId(charge.to_string()))
        .await
    {
        Ok(_) => {}
        // Telegram refunded earlier but recording it failed (storage down): record it now, or
        // the refunded tokens would stay on the balance forever.
        Err(RequestError::Api(e)) if e.to_string().contains("ALREADY_REFUNDED") => {
            tracing::warn!(payment = %payment.id, "Telegram says the charge was already refunded; recording it");
        }
        Err(e) => return Err(format!("Telegram refused the refund: {e}")),
    }
    let event = ProviderEvent {
        id: ProviderEventId::new(format!("stars_refund_{charge}")).map_err(|e| e.to_string())?,
        payment_id: Some(payment.id.clone()),
        provider_ref: charge,
        kind: EventKind::Refunded {
            total_refunded: payment.price,
        },
    };
    let stars = ProviderId::new(STARS).unwrap_or_else(|_| unreachable!("a valid id"));
    crate::report::apply_event(ledger, &stars, &event, policy)
        .await
        .map_err(|e| e.to_string())
}
