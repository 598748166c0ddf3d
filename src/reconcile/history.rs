//! Catching up from the providers' own history: refunds and disputes (and successes) whose
//! webhooks were all lost are found in the provider's event list and applied like any webhook.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use miniapp_core::ledger::LedgerError;
use miniapp_core::provider::ProviderError;

use super::Reconciler;

/// Pages asked of each provider per catch-up: with [`CATCH_UP_EVERY`], 30 bounded calls an hour
/// per provider (Stripe's pages of 100: up to 3,000 events an hour; PayPal's calls are sized for
/// about 300 events: about 9,000).
pub const MAX_PAGES: usize = 5;

/// How often `full_bot` catches up: a lost refund or dispute is applied within this (plus one
/// call) — well within the hour.
pub const CATCH_UP_EVERY: Duration = Duration::from_secs(600);

/// What one catch-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatchUp {
    /// Provider calls made.
    pub calls: usize,
    /// Events read.
    pub events: usize,
    /// Of those, events that changed something (the ones whose webhooks were lost).
    pub applied: usize,
}

/// Reads each provider's history after its stored cursor ([`PaymentProvider::fetch_history`],
/// at most [`MAX_PAGES`] calls per provider, each within the provider deadline) and applies
/// the events through the ledger, then moves the cursor. A cursor moves only after its page was
/// applied, so a crash repeats a page (harmless: events are applied once by id) and never skips
/// one. Providers without a history are skipped.
///
/// # Errors
/// [`LedgerError`] when the ledger fails; a provider that cannot be reached is logged and
/// skipped until the next catch-up.
///
/// [`PaymentProvider::fetch_history`]: miniapp_core::provider::PaymentProvider::fetch_history
pub async fn catch_up_history(reconciler: &Reconciler) -> Result<CatchUp, LedgerError> {
    let mut done = CatchUp::default();
    for provider in &reconciler.providers {
        let id = provider.id();
        for _ in 0..MAX_PAGES {
            let cursor = reconciler.ledger.provider_cursor(id).await?;
            done.calls += 1;
            let asked = tokio::time::timeout(
                reconciler.deadline,
                provider.fetch_history(cursor.as_deref()),
            )
            .await;
            let batch = match asked {
                Ok(Ok(batch)) => batch,
                Ok(Err(ProviderError::Unsupported(_))) => {
                    done.calls -= 1;
                    break;
                }
                Ok(Err(e)) => {
                    tracing::warn!(provider = %id, error = %e, "history catch-up: provider not reachable");
                    break;
                }
                Err(_) => {
                    tracing::warn!(provider = %id, "history catch-up: provider did not answer in time");
                    break;
                }
            };
            for event in &batch.events {
                done.events += 1;
                match crate::report::apply_or_hold(
                    &*reconciler.ledger,
                    id,
                    event,
                    reconciler.refund_policy,
                )
                .await
                {
                    Ok(Some(r)) if !r.duplicate && r.no_effect.is_none() => {
                        done.applied += 1;
                        tracing::warn!(payment = %r.payment.id, provider = %id, event = %event.id, kind = event.kind.name(), "applied from the provider's history: its webhook was lost");
                    }
                    Ok(_) | Err(LedgerError::UnknownPayment) => {}
                    Err(e) => return Err(e),
                }
            }
            if let Some(next) = &batch.cursor {
                reconciler.ledger.save_provider_cursor(id, next).await?;
            }
            if !batch.more {
                break;
            }
        }
    }
    crate::metrics::catch_up(done.calls, done.applied);
    Ok(done)
}

/// Runs [`catch_up_history`] every `every` (the first time at once) until `shutdown` resolves.
/// `miniapp::app::run` runs it every [`CATCH_UP_EVERY`].
pub async fn run_catch_up(
    reconciler: Arc<Reconciler>,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    super::every_until(every, shutdown, || async {
        match catch_up_history(&reconciler).await {
            Ok(c) if c.applied > 0 => {
                tracing::warn!(
                    events = c.events,
                    applied = c.applied,
                    "history catch-up applied lost events"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "history catch-up skipped: storage error"),
        }
    })
    .await;
}
