//! The reconciliation sweep: a pending payment is checked with its provider even when nobody
//! polls its status (the page was closed, the webhook was lost, a Stars `successful_payment`
//! could not be recorded).

use std::future::Future;
use std::time::Duration;

use miniapp_core::ledger::LedgerError;
use miniapp_core::payment::PaymentStatus;

use super::api::{reconcile, unix_now};
use super::state::AppState;

/// How far back the sweep looks. Checkouts close within a day (a Stripe Checkout Session
/// expires after at most 24 hours); two days leave room for an outage of the app itself.
pub const SWEEP_WINDOW: Duration = Duration::from_secs(2 * 24 * 3600);

/// Payments read per query, and at most this many pages per sweep.
const PAGE: u32 = 100;
const MAX_PAGES: usize = 20;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sweep {
    /// Pending payments old enough to be checked (each is asked at most every 15 s per process,
    /// whether by the sweep or by status polling).
    pub pending: usize,
    /// Of those, how many the provider's answer settled (paid, failed, expired, …).
    pub settled: usize,
}

/// Checks every payment that has been pending longer than the configured reconciliation age (and
/// less than [`SWEEP_WINDOW`]) with its provider, as of `now` (unix seconds), and applies what
/// the provider says through the ledger, exactly as a status poll would.
///
/// # Errors
/// [`LedgerError`] when the pending payments cannot be listed; a provider that cannot be asked is
/// logged and skipped.
pub async fn sweep_pending(state: &AppState, now: u64) -> Result<Sweep, LedgerError> {
    let to = now.saturating_sub(state.inner.settings.reconcile_after.as_secs());
    let mut from = now.saturating_sub(SWEEP_WINDOW.as_secs());
    let mut sweep = Sweep::default();
    for _ in 0..MAX_PAGES {
        let page = state.inner.ledger.pending_payments(from, to, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for payment in page {
            from = payment.created_at;
            sweep.pending += 1;
            if reconcile(state, payment, now).await.status != PaymentStatus::Pending {
                sweep.settled += 1;
            }
        }
        if !full {
            break;
        }
        // The next page starts after the last second seen; payments beyond a full page in that
        // same second wait for the next sweep.
        from += 1;
    }
    Ok(sweep)
}

/// Sweeps every `every` (the first time at once, which catches up after a restart) until
/// `shutdown` resolves. `miniapp::app::run` runs it every 60 seconds.
pub async fn run_sweeper(state: AppState, every: Duration, shutdown: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => match sweep_pending(&state, unix_now()).await {
                Ok(sweep) if sweep.settled > 0 => {
                    tracing::info!(pending = sweep.pending, settled = sweep.settled, "reconciliation sweep");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reconciliation sweep skipped: storage error"),
            },
        }
    }
}
