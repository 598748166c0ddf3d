//! Requests waiting for a payment's status to change (`payment-status?wait=`).
//!
//! A waiting request holds no database connection: it holds a [`Notify`] of its payment, woken
//! by the ledger's [`LedgerStore::watch_status`] hook in this process and, on PostgreSQL, by
//! [`forward_status_changes`] from the one connection that LISTENs for changes committed by any
//! instance. A wake is only a hint: the handler reads the status again before answering, so a
//! lost or spurious wake costs at most the rest of the wait.
//!
//! [`LedgerStore::watch_status`]: miniapp_core::ledger::LedgerStore::watch_status

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use miniapp_core::ids::PaymentId;
use tokio::sync::Notify;

/// The waiters of this process, per payment, and the shutdown that ends every wait.
#[derive(Debug, Default)]
pub(crate) struct StatusWaiters {
    /// Per payment, its notifier and how many requests hold it; removed with the last one.
    waiters: Mutex<HashMap<PaymentId, (Arc<Notify>, usize)>>,
    shutdown: Notify,
    closed: AtomicBool,
    waiting: AtomicUsize,
    /// Whether [`forward_status_changes`] is LISTENing now.
    pub(crate) listening: AtomicBool,
}

/// One waiting request: its payment's notifier, counted while it lives.
pub(crate) struct Waiter<'a> {
    waiters: &'a StatusWaiters,
    id: PaymentId,
    notify: Arc<Notify>,
}

impl Waiter<'_> {
    /// Resolves at the next wake of this payment (`enable` it before reading the status).
    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut waiters = self.waiters.lock();
        if let Some((_, holders)) = waiters.get_mut(&self.id) {
            *holders -= 1;
            if *holders == 0 {
                waiters.remove(&self.id);
            }
        }
        self.waiters.waiting.fetch_sub(1, Ordering::SeqCst);
        crate::metrics::status_waiting(-1.0);
    }
}

impl StatusWaiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PaymentId, (Arc<Notify>, usize)>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request waiting on `id`: shares the payment's notifier with the others waiting on it.
    pub(crate) fn waiter(&self, id: &PaymentId) -> Waiter<'_> {
        let notify = {
            let mut waiters = self.lock();
            let (notify, holders) = waiters
                .entry(id.clone())
                .or_insert_with(|| (Arc::new(Notify::new()), 0));
            *holders += 1;
            notify.clone()
        };
        self.waiting.fetch_add(1, Ordering::SeqCst);
        crate::metrics::status_waiting(1.0);
        Waiter {
            waiters: self,
            id: id.clone(),
            notify,
        }
    }

    /// Requests waiting now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Wakes the requests waiting on `id`.
    pub(crate) fn wake(&self, id: &PaymentId) {
        let notify = self.lock().get(id).map(|(n, _)| n.clone());
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// Ends every wait now and every later one at once (the process is stopping).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
    }

    /// Resolves when the process is stopping.
    pub(crate) async fn closing(&self) {
        let notified = self.shutdown.notified();
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Wakes this instance's waiting requests for every status change committed on the PostgreSQL
/// database by any process, from one listening connection. Runs until `state` stops waiting
/// ([`super::AppState::stop_waiting`]); reconnects with backoff (1 s doubling to 30 s) while the
/// database is unreachable. A change announced while disconnected is not lost for the page: a
/// waiting request reads the status again when its wait ends.
#[cfg(feature = "postgres")]
pub async fn forward_status_changes(state: super::AppState, store: crate::sqlx::PgLedgerStore) {
    let waiters = &state.inner.waiters;
    let mut backoff = Duration::from_secs(1);
    loop {
        let connected = tokio::select! {
            () = waiters.closing() => return,
            c = store.status_changes() => c,
        };
        let mut changes = match connected {
            Ok(changes) => {
                backoff = Duration::from_secs(1);
                waiters.listening.store(true, Ordering::SeqCst);
                crate::metrics::status_listener(true);
                changes
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_secs = backoff.as_secs(), "cannot listen for payment status changes");
                tokio::select! {
                    () = waiters.closing() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                () = waiters.closing() => return,
                n = changes.next() => n,
            };
            match next {
                Ok(Some(id)) => waiters.wake(&id),
                Ok(None) => {}
                Err(e) => {
                    waiters.listening.store(false, Ordering::SeqCst);
                    crate::metrics::status_listener(false);
                    tracing::warn!(error = %e, "lost the status listener; reconnecting");
                    tokio::select! {
                        () = waiters.closing() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_wake_reaches_every_waiter_of_its_payment_only() {
        let waiters = StatusWaiters::default();
        let a = PaymentId::new("pay_a").unwrap();
        let b = PaymentId::new("pay_b").unwrap();
        let first = waiters.waiter(&a);
        let second = waiters.waiter(&a);
        let other = waiters.waiter(&b);
        assert!(
            Arc::ptr_eq(&first.notify, &second.notify),
            "one notifier per payment"
        );
        assert_eq!(waiters.waiting(), 3);
        {
            let (f, s, o) = (first.notified(), second.notified(), other.notified());
            tokio::pin!(f, s, o);
            f.as_mut().enable();
            s.as_mut().enable();
            o.as_mut().enable();
            waiters.wake(&a);
            f.await;
            s.await;
            assert!(
                futures_util::poll!(o.as_mut()).is_pending(),
                "another payment's waiter sleeps on"
            );
        }
        drop(first);
        assert_eq!(
            waiters.len(),
            2,
            "the payment's entry lives while one request holds it"
        );
        drop((second, other));
        assert_eq!(
            (waiters.len(), waiters.waiting()),
            (0, 0),
            "entries die with their requests"
        );
    }

    #[tokio::test]
    async fn closing_ends_current_and_later_waits() {
        let waiters = StatusWaiters::default();
        let current = waiters.closing();
        tokio::pin!(current);
        assert!(futures_util::poll!(current.as_mut()).is_pending());
        waiters.close();
        current.await;
        waiters.closing().await;
    }
}
