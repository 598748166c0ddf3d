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
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use miniapp_core::ids::PaymentId;
use tokio::sync::Notify;

/// The waiters of this process, per payment, and the shutdown that ends every wait.
#[derive(Debug, Default)]
pub(crate) struct StatusWaiters {
    waiters: Mutex<HashMap<PaymentId, Weak<Notify>>>,
    shutdown: Notify,
    closed: std::sync::atomic::AtomicBool,
    waiting: std::sync::atomic::AtomicUsize,
    /// Whether [`forward_status_changes`] is LISTENing now.
    pub(crate) listening: std::sync::atomic::AtomicBool,
}

/// Counts a request as waiting while it lives ([`StatusWaiters::enter`]).
pub(crate) struct Waiting<'a>(&'a StatusWaiters);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl StatusWaiters {
    /// The notifier of `id`, shared by every request waiting on it. An entry lives only while a
    /// request holds it.
    pub(crate) fn waiter(&self, id: &PaymentId) -> Arc<Notify> {
        let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(notify) = waiters.get(id).and_then(Weak::upgrade) {
            return notify;
        }
        if waiters.len() >= 1024 && waiters.len().is_power_of_two() {
            waiters.retain(|_, w| w.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        waiters.insert(id.clone(), Arc::downgrade(&notify));
        notify
    }

    /// Counts one more waiting request until the guard drops.
    pub(crate) fn enter(&self) -> Waiting<'_> {
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Waiting(self)
    }

    /// Requests waiting now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Wakes the requests waiting on `id`.
    pub(crate) fn wake(&self, id: &PaymentId) {
        let notify = {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            match waiters.get(id).map(Weak::upgrade) {
                Some(Some(n)) => Some(n),
                Some(None) => {
                    waiters.remove(id);
                    None
                }
                None => None,
            }
        };
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// Ends every wait now and every later one at once (the process is stopping).
    pub(crate) fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.shutdown.notify_waiters();
    }

    /// Resolves when the process is stopping.
    pub(crate) async fn closing(&self) {
        let notified = self.shutdown.notified();
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        notified.await;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
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
                waiters
                    .listening
                    .store(true, std::sync::atomic::Ordering::SeqCst);
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
                    waiters
                        .listening
                        .store(false, std::sync::atomic::Ordering::SeqCst);
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
        assert!(Arc::ptr_eq(&first, &second), "one notifier per payment");
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
        drop((first, second, other));
        assert_eq!(waiters.len(), 0, "entries die with their requests");
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
