//! Reconciliation: asking a payment's provider what became of it, for the payments whose webhook
//! was lost, unverifiable or never sent (feature `axum`). Used by the status route of
//! [`http`](crate::http) (a pending payment past its age is checked when its status is asked) and
//! by the background [`run_sweeper`] (every pending payment is checked even when nobody asks).
//! Answers go through the ledger like any webhook, so asking twice is harmless.
//!
//! ```no_run
//! # async fn run(state: miniapp::http::AppState) {
//! use std::time::Duration;
//! let reconciler = state.reconciler().clone();
//! tokio::spawn(miniapp::reconcile::run_sweeper(reconciler, Duration::from_secs(60), std::future::pending()));
//! # }
//! ```

mod history;
mod refunds;
mod sweep;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use miniapp_core::clock::{SharedClock, SystemClock};
use miniapp_core::ids::{PaymentId, ProviderId};
use miniapp_core::ledger::LedgerStore;
use miniapp_core::payment::{Payment, PaymentStatus, RefundPolicy};
use miniapp_core::provider::PaymentProvider;

pub use history::{CATCH_UP_EVERY, CatchUp, MAX_PAGES, catch_up_history, run_catch_up};
pub use refunds::{RefundNotice, RefundPass, refund_duplicate_charges, run_refunder};
pub use sweep::{HELD_WINDOW, SWEEP_WINDOW, Sweep, UNSTARTED_TIMEOUT, run_sweeper, sweep_pending};

/// At most one provider question per pending payment in this interval when its status is polled
/// (per process): a polling page does not hammer the provider.
const POLL_INTERVAL: Duration = Duration::from_secs(15);

/// Asks providers about payments and applies their answers through the ledger. One per app,
/// shared by the status route and the sweeper; it remembers (per process) when each pending
/// payment was last asked about, so both follow their spacing rules over one record.
pub struct Reconciler {
    ledger: Arc<dyn LedgerStore>,
    providers: Vec<Arc<dyn PaymentProvider>>,
    refund_policy: RefundPolicy,
    reconcile_after: Duration,
    deadline: Duration,
    clock: SharedClock,
    asked: Mutex<HashMap<PaymentId, u64>>,
}

impl fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconciler")
            .field(
                "providers",
                &self.providers.iter().map(|p| p.id()).collect::<Vec<_>>(),
            )
            .field("refund_policy", &self.refund_policy)
            .field("reconcile_after", &self.reconcile_after)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// A reconciler over `ledger` for these providers. Defaults: payments are checked once
    /// pending for 120 s, a provider gets 12 s to answer, refunds after spending make a debt.
    pub fn new(
        ledger: Arc<dyn LedgerStore>,
        providers: Vec<Arc<dyn PaymentProvider>>,
    ) -> Reconciler {
        Reconciler {
            ledger,
            providers,
            refund_policy: RefundPolicy::Debt,
            reconcile_after: Duration::from_secs(120),
            deadline: Duration::from_secs(12),
            clock: SystemClock::shared(),
            asked: Mutex::default(),
        }
    }

    /// What refunds after spending do.
    #[must_use]
    pub fn with_refund_policy(mut self, policy: RefundPolicy) -> Reconciler {
        self.refund_policy = policy;
        self
    }

    /// How long a payment is pending before its provider is asked about it.
    #[must_use]
    pub fn with_reconcile_after(mut self, age: Duration) -> Reconciler {
        self.reconcile_after = age;
        self
    }

    /// Where the sweeper reads "now" (the system clock unless told otherwise).
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Reconciler {
        self.clock = clock;
        self
    }

    /// How long a provider may take to answer one question.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Reconciler {
        self.deadline = deadline;
        self
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<dyn LedgerStore> {
        &self.ledger
    }

    /// The clock the reconciler (and the app state that built it) reads "now" from.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn provider(&self, id: &ProviderId) -> Option<&Arc<dyn PaymentProvider>> {
        self.providers.iter().find(|p| p.id() == id)
    }

    /// For a status poll at `now` (unix seconds): a payment pending longer than the configured
    /// age is checked with its provider, at most every 15 s per payment, within the deadline;
    /// the payment as it is afterwards. Without an answer in time, the stored payment.
    pub async fn on_status_poll(&self, payment: Payment, now: u64) -> Payment {
        let old_enough = now.saturating_sub(payment.created_at) >= self.reconcile_after.as_secs();
        if !old_enough {
            return payment;
        }
        self.ask_in_time(payment, now, "reconciliation").await
    }

    /// For a buyer coming back from the provider's checkout at `now`: a pending payment is
    /// checked with its provider at once, whatever its age (PayPal takes the money only when we
    /// capture, and the buyer's return is when the order was approved), still at most every
    /// 15 s per payment and within the deadline.
    pub async fn on_checkout_return(&self, payment: Payment, now: u64) -> Payment {
        self.ask_in_time(payment, now, "checkout return").await
    }

    /// A pending payment asked about (at most every 15 s per payment) within the deadline; the
    /// stored payment when it is not pending, was asked about just now, or no answer came.
    async fn ask_in_time(&self, payment: Payment, now: u64, why: &'static str) -> Payment {
        if payment.status != PaymentStatus::Pending
            || !self.claim_question(&payment.id, now, POLL_INTERVAL.as_secs())
        {
            return payment;
        }
        let id = payment.id.clone();
        match tokio::time::timeout(self.deadline, self.ask_provider(payment.clone())).await {
            Ok(latest) => latest,
            Err(_) => {
                tracing::warn!(payment = %id, "{why}: the provider did not answer in time");
                payment
            }
        }
    }

    /// Records that the provider is about to be asked about `id` at `now`, unless it was asked
    /// less than `spacing` seconds ago (then returns false and records nothing).
    pub(crate) fn claim_question(&self, id: &PaymentId, now: u64, spacing: u64) -> bool {
        let mut asked = self.asked();
        if asked
            .get(id)
            .is_some_and(|last| now.saturating_sub(*last) < spacing)
        {
            return false;
        }
        // Forget payments nobody asked about for longer than the sweep looks back.
        asked.retain(|_, last| now.saturating_sub(*last) < SWEEP_WINDOW.as_secs());
        asked.insert(id.clone(), now);
        true
    }

    fn asked(&self) -> MutexGuard<'_, HashMap<PaymentId, u64>> {
        self.asked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the payment's provider what became of it and applies the answer through the ledger;
    /// the payment as it is afterwards. A provider that cannot be asked is logged and the payment
    /// returned as it was.
    pub async fn ask_provider(&self, payment: Payment) -> Payment {
        let Some(provider) = self.provider(&payment.provider) else {
            return payment;
        };
        let events = match provider.fetch_status(&payment).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(payment = %payment.id, error = %e, "reconciliation could not ask the provider");
                return payment;
            }
        };
        let mut latest = payment;
        for event in events {
            match crate::report::apply_event(
                &*self.ledger,
                provider.id(),
                &event,
                self.refund_policy,
            )
            .await
            {
                Ok(receipt) => {
                    latest = receipt.payment;
                }
                Err(e) => {
                    tracing::warn!(payment = %latest.id, error = %e, "reconciliation event not applied");
                }
            }
        }
        if latest.status != PaymentStatus::Pending {
            // Settled: no more questions about it.
            self.asked().remove(&latest.id);
        }
        latest
    }
}

/// Runs `pass` every `every` (the first time at once, which catches up after a restart) until
/// `shutdown` resolves. A pass still running at shutdown is dropped: every ledger write it makes
/// is its own transaction, and the queues hand out a claim again after its lease.
pub(crate) async fn every_until<F, Fut>(
    every: Duration,
    shutdown: impl Future<Output = ()>,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = pass() => {}
        }
    }
}
