//! The reconciliation sweep: a pending payment is checked with its provider even when nobody
//! polls its status (the page was closed, the webhook was lost, a Stars `successful_payment`
//! could not be recorded).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use miniapp_core::clock::ClockExt;
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{ProviderEventId, ProviderRef, UserId};
use miniapp_core::ledger::{LedgerError, LedgerStoreExt};
use miniapp_core::payment::PaymentStatus;

use super::Reconciler;

/// How far back the sweep looks. Checkouts close within a day (a Stripe Checkout Session
/// expires after at most 24 hours); two days leave room for an outage of the app itself.
pub const SWEEP_WINDOW: Duration = Duration::from_secs(2 * 24 * 3600);

/// Payments read per query, pages per sweep, and provider questions per sweep: a backlog of
/// abandoned checkouts costs one bounded sweep a minute, not a flood of provider calls.
const PAGE: u32 = 200;
const MAX_PAGES: usize = 25;
const MAX_CHECKS: usize = 200;

/// Provider questions per user per sweep: one user's pile of abandoned checkouts cannot use up
/// the sweep's budget while other buyers' payments wait.
const MAX_CHECKS_PER_USER: usize = 5;

/// A payment still `created` (its checkout never opened: the provider failed or the app stopped
/// mid-request) this long after creation is closed as expired. Far beyond any request deadline,
/// so a checkout being opened right now is never closed under it.
pub const UNSTARTED_TIMEOUT: Duration = Duration::from_secs(3600);

/// Unstarted payments closed per sweep at most; the rest wait for the next sweep.
const MAX_CLOSED: u32 = 200;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sweep {
    /// Pending payments whose provider was asked.
    pub checked: usize,
    /// Of those, how many the provider's answer settled (paid, failed, expired, …).
    pub settled: usize,
    /// Payments whose checkout never opened, closed as expired.
    pub closed_unstarted: usize,
    /// Held events (refunds, disputes that overtook their success) applied now.
    pub released: usize,
}

/// How long a held event is retried by the sweep: Stripe retries a webhook for three days, so a
/// success lands within that or never. Older held events are not ours (another product on the
/// same account); `full_bot admin anomalies` lists them.
pub const HELD_WINDOW: Duration = Duration::from_secs(3 * 24 * 3600);

/// Held events looked at per sweep.
const MAX_HELD: u32 = 200;

/// How long the sweep leaves a still-pending payment alone after asking about it: a minute at
/// first, then a tenth of its age (a day-old abandoned checkout is asked about every 2.4 hours).
fn recheck_after(age_secs: u64) -> u64 {
    (age_secs / 10).max(60)
}

/// Checks payments that have been pending longer than the configured reconciliation age (and
/// less than [`SWEEP_WINDOW`]) with their providers, as of `now` (unix seconds), newest first,
/// and applies the answers through the ledger exactly as a status poll would. A payment still
/// pending after a check is left alone for a minute, or a tenth of its age when that is longer
/// (per process); at most 200 provider questions per sweep and 5 per user. First it closes the
/// payments whose checkout never opened within [`UNSTARTED_TIMEOUT`] as expired, and applies the
/// held events of the last [`HELD_WINDOW`] whose payment is now known.
///
/// # Errors
/// [`LedgerError`] when the pending payments cannot be listed; a provider that cannot be asked is
/// logged and skipped.
pub async fn sweep_pending(reconciler: &Reconciler, now: u64) -> Result<Sweep, LedgerError> {
    let from = now.saturating_sub(SWEEP_WINDOW.as_secs());
    let mut to = now.saturating_sub(reconciler.reconcile_after.as_secs());
    let mut before: Option<miniapp_core::ids::PaymentId> = None;
    // Closing unstarted payments must never stop the reconciliation of pending ones.
    let closed_unstarted = match close_unstarted(reconciler, now).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "unstarted payments not closed this time");
            0
        }
    };
    // Held events whose success landed while the process that should have released them died.
    let released = match reconciler
        .ledger
        .release_held(
            now.saturating_sub(HELD_WINDOW.as_secs()),
            MAX_HELD,
            reconciler.refund_policy,
        )
        .await
    {
        Ok(released) => {
            for (held, receipt) in &released {
                crate::report::report_released(held, receipt);
            }
            released.len()
        }
        Err(e) => {
            tracing::warn!(error = %e, "held events not released this time");
            0
        }
    };
    let mut sweep = Sweep {
        closed_unstarted,
        released,
        ..Sweep::default()
    };
    let mut per_user: HashMap<UserId, usize> = HashMap::new();
    let mut listed = 0usize;
    'pages: for _ in 0..MAX_PAGES {
        let page = reconciler
            .ledger
            .pending_payments(from, to, before.as_ref(), PAGE)
            .await?;
        let full = page.len() == PAGE as usize;
        listed += page.len();
        for payment in page {
            to = payment.created_at;
            before = Some(payment.id.clone());
            if sweep.checked == MAX_CHECKS {
                // The rest waits for the next sweep.
                break 'pages;
            }
            let asked_of_user = per_user.entry(payment.user_id).or_default();
            if *asked_of_user == MAX_CHECKS_PER_USER {
                continue;
            }
            let spacing = recheck_after(now.saturating_sub(payment.created_at));
            if !reconciler.claim_question(&payment.id, now, spacing) {
                continue;
            }
            *asked_of_user += 1;
            sweep.checked += 1;
            if reconciler.ask_provider(payment).await.status != PaymentStatus::Pending {
                sweep.settled += 1;
            }
        }
        if !full {
            break;
        }
    }
    crate::metrics::sweep(
        sweep.checked,
        sweep.settled,
        listed.saturating_sub(sweep.checked),
        sweep.released,
    );
    Ok(sweep)
}

/// Closes payments that stayed `created` for [`UNSTARTED_TIMEOUT`] as expired, through the ledger
/// like any provider event (its id says why, and it is recorded once). No money moved: the
/// checkout never opened. Should the provider take money for it after all (a checkout opened
/// after our deadline and paid), its success is still credited.
async fn close_unstarted(reconciler: &Reconciler, now: u64) -> Result<usize, LedgerError> {
    let cutoff = now.saturating_sub(UNSTARTED_TIMEOUT.as_secs());
    let unstarted = reconciler
        .ledger
        .unstarted_payments(cutoff, MAX_CLOSED)
        .await?;
    let mut closed = 0;
    for payment in unstarted {
        let event = ProviderEvent {
            id: ProviderEventId::new(format!("miniapp_checkout_never_opened_{}", payment.id))
                .map_err(|e| LedgerError::Corrupt(e.to_string()))?,
            payment_id: Some(payment.id.clone()),
            provider_ref: ProviderRef::new(format!("unopened_{}", payment.id))
                .map_err(|e| LedgerError::Corrupt(e.to_string()))?,
            kind: EventKind::Expired,
        };
        match crate::report::apply_event(
            &*reconciler.ledger,
            &payment.provider,
            &event,
            reconciler.refund_policy,
        )
        .await
        {
            Ok(receipt) if !receipt.duplicate => {
                closed += 1;
                tracing::warn!(
                    payment = %payment.id,
                    provider = %payment.provider,
                    attempts = payment.checkout_attempt + 1,
                    "payment closed as expired: its checkout never opened"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(payment = %payment.id, error = %e, "could not close an unstarted payment");
            }
        }
    }
    Ok(closed)
}

/// Sweeps every `every` (the first time at once, which catches up after a restart) until
/// `shutdown` resolves. `miniapp::app::run` runs it every 60 seconds.
pub async fn run_sweeper(
    reconciler: Arc<Reconciler>,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    super::every_until(every, shutdown, || async {
        match sweep_pending(&reconciler, reconciler.clock.unix_now()).await {
            Ok(sweep) if sweep.settled > 0 || sweep.closed_unstarted > 0 => {
                tracing::info!(
                    checked = sweep.checked,
                    settled = sweep.settled,
                    closed_unstarted = sweep.closed_unstarted,
                    "reconciliation sweep"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reconciliation sweep skipped: storage error"),
        }
    })
    .await;
}
