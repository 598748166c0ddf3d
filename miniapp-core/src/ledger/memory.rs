//! The in-memory reference store.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::clock::{ClockExt, SharedClock, SystemClock};
use crate::event::{EventKind, ProviderEvent};
use crate::ids::{IdempotencyKey, PaymentId, ProviderEventId, ProviderId, ProviderRef, UserId};
use crate::payment::{NoEffect, Payment, PaymentFacts, PaymentStatus, RefundPolicy};

use super::{
    Balance, CheckoutRecord, ClaimOutcome, EntryKind, EventReceipt, HistoryPage, HistoryQuery,
    JournalEntry, LedgerError, LedgerStore, NewPayment, Notification, NotificationOutbox,
    SpendReceipt, SpendRequest, plan_event, plan_spend,
};
use super::{ChargeRefund, HeldEvent, RefundQueue};

/// A [`LedgerStore`] in memory: the reference implementation of the contract, correct under
/// concurrent use (one lock around the whole state, never held across an `.await`). Not durable:
/// for tests, examples and demos.
///
/// ```
/// # tokio_test_block_on(async {
/// use miniapp_core::ledger::{InMemoryLedger, LedgerStore};
/// use miniapp_core::ids::UserId;
/// let ledger = InMemoryLedger::new();
/// let balance = ledger.balance(UserId::new(7).unwrap()).await.unwrap();
/// assert_eq!(balance.balance, 0);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct InMemoryLedger {
    state: Mutex<State>,
    clock: SharedClock,
    hooks: super::StatusHooks,
}

impl Default for InMemoryLedger {
    fn default() -> InMemoryLedger {
        InMemoryLedger {
            state: Mutex::default(),
            clock: SystemClock::shared(),
            hooks: super::StatusHooks::default(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    payments: HashMap<PaymentId, Payment>,
    refs: HashMap<(ProviderId, ProviderRef), PaymentId>,
    payment_keys: HashMap<(UserId, IdempotencyKey), PaymentId>,
    events: HashSet<(ProviderId, ProviderEventId)>,
    credits: HashSet<(ProviderId, ProviderRef)>,
    balances: HashMap<UserId, Balance>,
    journal: Vec<JournalEntry>,
    by_user: HashMap<UserId, Vec<usize>>,
    spends: HashMap<(UserId, IdempotencyKey), usize>,
    outbox: Vec<Queued<Notification>>,
    refunds: Vec<Queued<ChargeRefund>>,
    held: Vec<HeldEvent>,
    cursors: HashMap<ProviderId, String>,
}

/// An entry of one of the two durable queues (notifications, refunds), with the same columns
/// the SQL stores keep.
#[derive(Debug)]
struct Queued<T> {
    item: T,
    state: QueueState,
    not_before: u64,
    claimed_until: u64,
    #[allow(dead_code)] // recorded like the SQL stores' last_error column; shown by Debug
    last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueState {
    Pending,
    Claimed,
    Done,
    Failed,
    /// A notification whose sender's lease ran out: never sent again.
    Unknown,
}

impl<T: Clone> Queued<T> {
    fn new(item: T) -> Queued<T> {
        Queued {
            item,
            state: QueueState::Pending,
            not_before: 0,
            claimed_until: 0,
            last_error: None,
        }
    }

    fn claim(&mut self, now: u64, lease_secs: u64) -> T {
        self.state = QueueState::Claimed;
        self.claimed_until = now + lease_secs;
        self.item.clone()
    }

    /// Records how the claim ended (the caller counts the attempt on its item).
    fn finish(&mut self, outcome: &ClaimOutcome) {
        match outcome {
            ClaimOutcome::Done => self.state = QueueState::Done,
            ClaimOutcome::Retry { not_before, error } => {
                self.state = QueueState::Pending;
                self.not_before = *not_before;
                self.last_error = Some(error.clone());
            }
            ClaimOutcome::Failed { error } => {
                self.state = QueueState::Failed;
                self.last_error = Some(error.clone());
            }
        }
    }
}

impl InMemoryLedger {
    /// An empty ledger.
    pub fn new() -> InMemoryLedger {
        InMemoryLedger::default()
    }

    /// Timestamps from `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> InMemoryLedger {
        self.clock = clock;
        self
    }

    fn now(&self) -> u64 {
        self.clock.unix_now()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only changed after every check passed, so a panic elsewhere cannot leave
        // it half-written; keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn balance(&self, user: UserId) -> Balance {
        self.balances
            .get(&user)
            .copied()
            .unwrap_or_else(|| Balance::empty(user))
    }

    fn append(&mut self, mut entry: JournalEntry) -> usize {
        let index = self.journal.len();
        entry.id = i64::try_from(index).unwrap_or(i64::MAX - 1) + 1;
        self.by_user.entry(entry.user_id).or_default().push(index);
        self.journal.push(entry);
        index
    }

    fn find_payment(&self, provider: &ProviderId, event: &ProviderEvent) -> Option<PaymentId> {
        let id = match &event.payment_id {
            Some(id) => id.clone(),
            None => self
                .refs
                .get(&(provider.clone(), event.provider_ref.clone()))?
                .clone(),
        };
        let payment = self.payments.get(&id)?;
        (payment.provider == *provider).then_some(id)
    }
}

#[async_trait]
impl LedgerStore for InMemoryLedger {
    async fn create_payment(&self, new: NewPayment) -> Result<Payment, LedgerError> {
        let mut s = self.lock();
        if let Some(key) = &new.idempotency_key
            && let Some(id) = s.payment_keys.get(&(new.user_id, key.clone()))
        {
            let first = s
                .payments
                .get(id)
                .ok_or_else(|| LedgerError::Corrupt("dangling key".into()))?;
            return if new.same_order(first) {
                Ok(first.clone())
            } else {
                Err(LedgerError::IdempotencyConflict)
            };
        }
        if s.payments.contains_key(&new.id) {
            return Err(LedgerError::IdempotencyConflict);
        }
        let t = self.now();
        let payment = Payment {
            id: new.id,
            user_id: new.user_id,
            provider: new.provider,
            method: new.method,
            tokens: new.tokens,
            price: new.price,
            email: new.email,
            idempotency_key: new.idempotency_key,
            language: new.language,
            checkout_ref: None,
            checkout_url: None,
            checkout_attempt: 0,
            payment_ref: None,
            facts: PaymentFacts::default(),
            status: PaymentStatus::Created,
            tokens_credited: 0,
            tokens_reversed: 0,
            tokens_written_off: 0,
            created_at: t,
            updated_at: t,
        };
        if let Some(key) = &payment.idempotency_key {
            s.payment_keys
                .insert((payment.user_id, key.clone()), payment.id.clone());
        }
        s.payments.insert(payment.id.clone(), payment.clone());
        Ok(payment)
    }

    async fn attach_checkout(
        &self,
        id: &PaymentId,
        checkout: &CheckoutRecord,
    ) -> Result<Payment, LedgerError> {
        let mut s = self.lock();
        let payment = s.payments.get(id).ok_or(LedgerError::UnknownPayment)?;
        let before = payment.status;
        match &payment.checkout_ref {
            Some(existing) if *existing == checkout.checkout_ref => return Ok(payment.clone()),
            Some(_) => return Err(LedgerError::CheckoutConflict),
            None => {}
        }
        let key = (payment.provider.clone(), checkout.checkout_ref.clone());
        if s.refs.contains_key(&key) {
            return Err(LedgerError::CheckoutConflict);
        }
        let mut updated = payment.clone();
        updated.checkout_ref = Some(checkout.checkout_ref.clone());
        updated.checkout_url = Some(checkout.url.clone());
        if updated.status == PaymentStatus::Created {
            updated.status = PaymentStatus::Pending;
        }
        updated.updated_at = self.now();
        s.refs.insert(key, id.clone());
        s.payments.insert(id.clone(), updated.clone());
        drop(s);
        if updated.status != before {
            self.hooks.announce(id);
        }
        Ok(updated)
    }

    async fn abandon_checkout_attempt(
        &self,
        id: &PaymentId,
        failed: u32,
    ) -> Result<Payment, LedgerError> {
        let mut s = self.lock();
        let payment = s.payments.get_mut(id).ok_or(LedgerError::UnknownPayment)?;
        if payment.checkout_ref.is_none()
            && payment.status == PaymentStatus::Created
            && payment.checkout_attempt == failed
        {
            payment.checkout_attempt = failed.saturating_add(1);
            payment.updated_at = self.now();
        }
        Ok(payment.clone())
    }

    async fn open_payments(
        &self,
        user: UserId,
        created_from: u64,
    ) -> Result<Vec<Payment>, LedgerError> {
        let s = self.lock();
        let mut open: Vec<Payment> = s
            .payments
            .values()
            .filter(|p| {
                p.user_id == user
                    && p.created_at >= created_from
                    && matches!(p.status, PaymentStatus::Created | PaymentStatus::Pending)
            })
            .cloned()
            .collect();
        open.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        open.truncate(100);
        Ok(open)
    }

    async fn unstarted_payments(
        &self,
        created_before: u64,
        limit: u32,
    ) -> Result<Vec<Payment>, LedgerError> {
        let s = self.lock();
        let mut unstarted: Vec<Payment> = s
            .payments
            .values()
            .filter(|p| p.status == PaymentStatus::Created && p.created_at < created_before)
            .cloned()
            .collect();
        unstarted.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        unstarted.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(unstarted)
    }

    async fn apply_event(
        &self,
        provider: &ProviderId,
        event: &ProviderEvent,
        policy: RefundPolicy,
    ) -> Result<EventReceipt, LedgerError> {
        let mut s = self.lock();
        let id = s
            .find_payment(provider, event)
            .ok_or(LedgerError::UnknownPayment)?;
        let payment = s
            .payments
            .get(&id)
            .ok_or(LedgerError::UnknownPayment)?
            .clone();
        let event_key = (provider.clone(), event.id.clone());
        if s.events.contains(&event_key) {
            return Ok(EventReceipt::redelivered(payment));
        }
        let balance = s.balance(payment.user_id);
        let t = self.now();
        let plan = plan_event(&payment, &balance, event, policy, t)?;
        // The same checks a database makes with UNIQUE constraints, before anything is written.
        let credit_key = plan
            .payment
            .payment_ref
            .clone()
            .map(|r| (provider.clone(), r));
        if plan.credited > 0 {
            match &credit_key {
                Some(key) if !s.credits.contains(key) => {}
                _ => {
                    return Err(LedgerError::Corrupt(
                        "provider payment already credited".into(),
                    ));
                }
            }
        }
        let payment_ref_key = plan
            .payment
            .payment_ref
            .clone()
            .map(|r| (provider.clone(), r));
        if let Some(key) = &payment_ref_key
            && s.refs.get(key).is_some_and(|owner| *owner != id)
        {
            return Err(LedgerError::Corrupt(
                "provider reference belongs to another payment".into(),
            ));
        }
        s.events.insert(event_key);
        if plan.credited > 0
            && let Some(key) = credit_key
        {
            s.credits.insert(key);
        }
        if let Some(key) = payment_ref_key {
            s.refs.insert(key, id.clone());
        }
        for (kind, delta, balance_after) in &plan.entries {
            s.append(JournalEntry {
                id: 0,
                user_id: payment.user_id,
                kind: *kind,
                delta: *delta,
                balance_after: *balance_after,
                payment_id: Some(id.clone()),
                idempotency_key: None,
                memo: None,
                created_at: t,
                actor: None,
            });
        }
        s.balances.insert(payment.user_id, plan.balance);
        if plan.credited > 0 && !s.outbox.iter().any(|r| r.item.payment_id == id) {
            s.outbox.push(Queued::new(Notification {
                payment_id: id.clone(),
                user_id: payment.user_id,
                tokens: payment.tokens,
                amount: payment.price,
                language: payment.language.clone(),
                provider: provider.clone(),
                attempts: 0,
            }));
        }
        if let (Some(NoEffect::DuplicateCharge), EventKind::Succeeded { amount }) =
            (plan.no_effect, &event.kind)
            && !s
                .refunds
                .iter()
                .any(|r| r.item.provider == *provider && r.item.charge_ref == event.provider_ref)
        {
            s.refunds.push(Queued::new(ChargeRefund {
                payment_id: id.clone(),
                user_id: payment.user_id,
                provider: provider.clone(),
                charge_ref: event.provider_ref.clone(),
                amount: *amount,
                reason: super::RefundReason::DuplicateCharge,
                attempts: 0,
            }));
        }
        s.payments.insert(id.clone(), plan.payment.clone());
        drop(s);
        if plan.payment.status != payment.status {
            self.hooks.announce(&id);
        }
        Ok(plan.into_receipt(payment.status))
    }

    fn watch_status(&self, hook: super::StatusHook) -> bool {
        self.hooks.add(hook);
        true
    }

    async fn provider_cursor(&self, provider: &ProviderId) -> Result<Option<String>, LedgerError> {
        Ok(self.lock().cursors.get(provider).cloned())
    }

    async fn save_provider_cursor(
        &self,
        provider: &ProviderId,
        cursor: &str,
    ) -> Result<(), LedgerError> {
        self.lock()
            .cursors
            .insert(provider.clone(), cursor.chars().take(500).collect());
        Ok(())
    }

    async fn hold_event(
        &self,
        provider: &ProviderId,
        event: &ProviderEvent,
    ) -> Result<(), LedgerError> {
        let t = self.now();
        let mut s = self.lock();
        let known = s.events.contains(&(provider.clone(), event.id.clone()))
            || s.held
                .iter()
                .any(|h| h.provider == *provider && h.event.id == event.id);
        if !known {
            s.held.push(HeldEvent {
                provider: provider.clone(),
                event: event.clone(),
                received_at: t,
            });
        }
        Ok(())
    }

    async fn held_events(
        &self,
        charge: Option<(&ProviderId, &ProviderRef)>,
        received_from: u64,
        limit: u32,
    ) -> Result<Vec<HeldEvent>, LedgerError> {
        let s = self.lock();
        // Kept in arrival order, so already oldest first.
        Ok(s.held
            .iter()
            .filter(|h| h.received_at >= received_from)
            .filter(|h| match charge {
                Some((p, r)) => h.provider == *p && h.event.provider_ref == *r,
                None => s
                    .refs
                    .contains_key(&(h.provider.clone(), h.event.provider_ref.clone())),
            })
            .filter(|h| !s.events.contains(&(h.provider.clone(), h.event.id.clone())))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn spend(&self, request: &SpendRequest) -> Result<SpendReceipt, LedgerError> {
        let mut s = self.lock();
        let key = (request.user_id, request.idempotency_key.clone());
        if let Some(&index) = s.spends.get(&key) {
            let entry = s
                .journal
                .get(index)
                .ok_or_else(|| LedgerError::Corrupt("dangling spend".into()))?;
            if entry.delta != -request.amount.as_i64() {
                return Err(LedgerError::IdempotencyConflict);
            }
            return Ok(SpendReceipt {
                entry: entry.clone(),
                replayed: true,
            });
        }
        let after = plan_spend(&s.balance(request.user_id), request.amount)?;
        let index = s.append(JournalEntry {
            id: 0,
            user_id: request.user_id,
            kind: EntryKind::Spend,
            delta: -request.amount.as_i64(),
            balance_after: after.balance,
            payment_id: None,
            idempotency_key: Some(request.idempotency_key.clone()),
            memo: request
                .memo
                .as_deref()
                .map(|m| m.chars().take(200).collect()),
            created_at: self.now(),
            actor: None,
        });
        s.spends.insert(key, index);
        s.balances.insert(request.user_id, after);
        let entry = s.journal[index].clone();
        Ok(SpendReceipt {
            entry,
            replayed: false,
        })
    }

    async fn balance(&self, user: UserId) -> Result<Balance, LedgerError> {
        Ok(self.lock().balance(user))
    }

    async fn payment(&self, id: &PaymentId) -> Result<Option<Payment>, LedgerError> {
        Ok(self.lock().payments.get(id).cloned())
    }

    async fn pending_payments(
        &self,
        created_from: u64,
        created_to: u64,
        before_id: Option<&PaymentId>,
        limit: u32,
    ) -> Result<Vec<Payment>, LedgerError> {
        let s = self.lock();
        let mut pending: Vec<Payment> = s
            .payments
            .values()
            .filter(|p| {
                p.status == PaymentStatus::Pending
                    && (created_from..=created_to).contains(&p.created_at)
                    && (p.created_at < created_to
                        || before_id.is_none_or(|b| p.id.as_str() < b.as_str()))
            })
            .cloned()
            .collect();
        pending.sort_by(|a, b| (b.created_at, b.id.as_str()).cmp(&(a.created_at, a.id.as_str())));
        pending.truncate(limit as usize);
        Ok(pending)
    }

    async fn history(&self, user: UserId, query: HistoryQuery) -> Result<HistoryPage, LedgerError> {
        let s = self.lock();
        let limit = query.clamped_limit() as usize;
        let indices = s.by_user.get(&user).map(Vec::as_slice).unwrap_or_default();
        let mut entries: Vec<JournalEntry> = indices
            .iter()
            .rev()
            .map(|&i| &s.journal[i])
            .filter(|e| query.before.is_none_or(|b| e.id < b))
            .take(limit + 1)
            .cloned()
            .collect();
        let next_before = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(HistoryPage {
            entries,
            next_before,
        })
    }
}

#[async_trait]
impl NotificationOutbox for InMemoryLedger {
    async fn claim_notifications(
        &self,
        now: u64,
        lease_secs: u64,
        limit: u32,
    ) -> Result<Vec<Notification>, LedgerError> {
        let mut s = self.lock();
        let mut claimed = Vec::new();
        for row in &mut s.outbox {
            // A sender whose lease ran out may have sent it: never send it again.
            if row.state == QueueState::Claimed && row.claimed_until < now {
                row.state = QueueState::Unknown;
            }
            if claimed.len() < limit as usize
                && row.state == QueueState::Pending
                && row.not_before <= now
            {
                claimed.push(row.claim(now, lease_secs));
            }
        }
        Ok(claimed)
    }

    async fn finish_notification(
        &self,
        payment: &PaymentId,
        outcome: &ClaimOutcome,
        _now: u64,
    ) -> Result<(), LedgerError> {
        let mut s = self.lock();
        let row = s
            .outbox
            .iter_mut()
            .find(|r| r.item.payment_id == *payment && r.state == QueueState::Claimed)
            .ok_or(LedgerError::UnknownPayment)?;
        row.item.attempts += 1;
        row.finish(outcome);
        Ok(())
    }
}

#[async_trait]
impl RefundQueue for InMemoryLedger {
    async fn claim_refunds(
        &self,
        now: u64,
        lease_secs: u64,
        limit: u32,
    ) -> Result<Vec<ChargeRefund>, LedgerError> {
        let mut s = self.lock();
        let mut claimed = Vec::new();
        for row in &mut s.refunds {
            let due = match row.state {
                QueueState::Pending => row.not_before <= now,
                // The worker died mid-call: asking the provider again refunds once.
                QueueState::Claimed => row.claimed_until < now,
                QueueState::Done | QueueState::Failed | QueueState::Unknown => false,
            };
            if due && claimed.len() < limit as usize {
                claimed.push(row.claim(now, lease_secs));
            }
        }
        Ok(claimed)
    }

    async fn finish_refund(
        &self,
        provider: &ProviderId,
        charge: &ProviderRef,
        outcome: &ClaimOutcome,
        _now: u64,
    ) -> Result<(), LedgerError> {
        let mut s = self.lock();
        let row = s
            .refunds
            .iter_mut()
            .find(|r| {
                r.item.provider == *provider
                    && r.item.charge_ref == *charge
                    && r.state == QueueState::Claimed
            })
            .ok_or(LedgerError::UnknownPayment)?;
        row.item.attempts += 1;
        row.finish(outcome);
        Ok(())
    }
}

#[cfg(test)]
mod clock_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::money::Money;

    #[tokio::test]
    async fn timestamps_come_from_the_injected_clock() {
        let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
        let ledger = InMemoryLedger::new().with_clock(clock.clone());
        let payment = ledger
            .create_payment(NewPayment {
                id: PaymentId::new("pay_clock").unwrap(),
                user_id: UserId::new(7).unwrap(),
                provider: ProviderId::new("p").unwrap(),
                method: crate::catalog::PaymentMethod::card(),
                tokens: crate::money::TokenAmount::new(100).unwrap(),
                price: Money::usd_cents(500),
                email: None,
                idempotency_key: None,
                language: None,
            })
            .await
            .unwrap();
        assert_eq!(payment.created_at, 1_800_000_000);
        clock.advance(Duration::from_secs(60));
        let failed = ledger
            .abandon_checkout_attempt(&payment.id, 0)
            .await
            .unwrap();
        assert_eq!(
            (failed.created_at, failed.updated_at),
            (1_800_000_000, 1_800_000_060)
        );
    }
}
