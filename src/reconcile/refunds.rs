//! Giving back duplicate charges (and the payments an operator refunds): the worker that drains
//! the [`RefundQueue`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use miniapp_core::clock::ClockExt;
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::ProviderEventId;
use miniapp_core::ledger::{ChargeRefund, ClaimOutcome, LedgerError, RefundQueue};
use miniapp_core::provider::ProviderError;

use super::Reconciler;

/// Most refunds one pass handles.
const MAX_PER_PASS: u32 = 20;
/// How long a claimed refund is reserved for this worker (longer than any provider call).
const LEASE: Duration = Duration::from_secs(120);
/// The first retry delay after an unreachable provider; doubled per attempt, at most an hour.
const FIRST_RETRY: Duration = Duration::from_secs(60);

/// Tells the payer that an extra charge was given back (the bot's
/// [`RefundMessages`](crate::bot::RefundMessages) sends a Telegram message).
///
/// Best effort, after the refund: a message that cannot be sent is logged, not retried. In the
/// rare case of a worker dying between the provider's refund and recording it, the refund is
/// asked again (the provider refunds once) and the message may be sent twice.
#[async_trait::async_trait]
pub trait RefundNotice: Send + Sync {
    /// `refund` was refunded; `language` is the buyer's, if the payment recorded it.
    async fn charge_refunded(&self, refund: &ChargeRefund, language: Option<&str>);
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefundPass {
    /// Extra charges the provider refunded.
    pub refunded: usize,
    /// Refunds to try again later (provider unreachable).
    pub retried: usize,
    /// Refunds a person has to make (the provider refused or cannot refund).
    pub failed: usize,
}

/// Refunds the duplicate charges due at `now` (unix seconds) through their providers, at most
/// 20 per pass. Each refund is the provider's [`refund_charge`], which is idempotent per charge,
/// so a pass that dies half-way refunds nothing twice. A refunded charge is also recorded as a
/// refund event of that charge (it takes back no tokens: the credited charge is another one).
///
/// # Errors
/// [`LedgerError`] when the queue cannot be read or written; the pass stops there.
///
/// [`refund_charge`]: miniapp_core::provider::PaymentProvider::refund_charge
pub async fn refund_duplicate_charges(
    reconciler: &Reconciler,
    queue: &dyn RefundQueue,
    notice: Option<&dyn RefundNotice>,
    now: u64,
) -> Result<RefundPass, LedgerError> {
    let mut pass = RefundPass::default();
    let claimed = queue
        .claim_refunds(now, LEASE.as_secs(), MAX_PER_PASS)
        .await?;
    for refund in claimed {
        let outcome = refund_one(reconciler, &refund, now).await;
        let counted = match &outcome {
            ClaimOutcome::Done => {
                pass.refunded += 1;
                "refunded"
            }
            ClaimOutcome::Retry { .. } => {
                pass.retried += 1;
                "retry"
            }
            _ => {
                pass.failed += 1;
                "failed"
            }
        };
        crate::metrics::refund(refund.provider.as_str(), counted);
        queue
            .finish_refund(&refund.provider, &refund.charge_ref, &outcome, now)
            .await?;
        if let (ClaimOutcome::Done, Some(notice)) = (&outcome, notice) {
            let language = match reconciler.ledger.payment(&refund.payment_id).await {
                Ok(Some(p)) => p.language,
                _ => None,
            };
            notice.charge_refunded(&refund, language.as_deref()).await;
        }
    }
    Ok(pass)
}

async fn refund_one(reconciler: &Reconciler, refund: &ChargeRefund, now: u64) -> ClaimOutcome {
    let Some(provider) = reconciler.provider(&refund.provider) else {
        let error = format!("provider {} is not enabled", refund.provider);
        tracing::error!(payment = %refund.payment_id, charge = %refund.charge_ref, %error, "charge not refunded: refund it by hand, then `full_bot admin resolve <payment> --dismiss`");
        return ClaimOutcome::Failed { error };
    };
    let asked = tokio::time::timeout(reconciler.deadline, provider.refund_charge(refund)).await;
    match asked {
        Ok(Ok(())) => {
            tracing::warn!(payment = %refund.payment_id, provider = %refund.provider, charge = %refund.charge_ref, amount = %refund.amount, user = refund.user_id.get(), reason = refund.reason.as_str(), "charge refunded");
            record(reconciler, refund).await;
            ClaimOutcome::Done
        }
        Ok(Err(e @ (ProviderError::Unavailable(_) | ProviderError::InProgress))) => {
            retry(refund, now, e.to_string())
        }
        Err(_) => retry(refund, now, "the provider did not answer in time".into()),
        Ok(Err(e)) => {
            tracing::error!(payment = %refund.payment_id, provider = %refund.provider, charge = %refund.charge_ref, amount = %refund.amount, error = %e, "charge not refunded: refund it by hand, then `full_bot admin resolve <payment> --dismiss`");
            ClaimOutcome::Failed {
                error: e.to_string(),
            }
        }
    }
}

fn retry(refund: &ChargeRefund, now: u64, error: String) -> ClaimOutcome {
    let wait = FIRST_RETRY
        .saturating_mul(1 << refund.attempts.min(6))
        .min(Duration::from_secs(3600));
    tracing::warn!(payment = %refund.payment_id, charge = %refund.charge_ref, %error, retry_in_secs = wait.as_secs(), "charge refund postponed");
    ClaimOutcome::Retry {
        not_before: now + wait.as_secs(),
        error,
    }
}

/// The refund as an event of the extra charge, so the payment's event log shows it.
async fn record(reconciler: &Reconciler, refund: &ChargeRefund) {
    let Ok(id) = ProviderEventId::new(format!("miniapp_refund_{}", refund.charge_ref)) else {
        return;
    };
    let event = ProviderEvent {
        id,
        payment_id: Some(refund.payment_id.clone()),
        provider_ref: refund.charge_ref.clone(),
        kind: EventKind::Refunded {
            total_refunded: refund.amount,
        },
    };
    if let Err(e) = crate::report::apply_event(
        &*reconciler.ledger,
        &refund.provider,
        &event,
        reconciler.refund_policy,
    )
    .await
    {
        tracing::warn!(payment = %refund.payment_id, error = %e, "refund of a duplicate charge not recorded as an event");
    }
}

/// Runs [`refund_duplicate_charges`] every `every` until `shutdown` resolves, telling payers
/// through `notice`. `miniapp::app::run` runs it every 60 seconds (with the bot's messages when
/// it has a bot token).
pub async fn run_refunder(
    reconciler: Arc<Reconciler>,
    queue: Arc<dyn RefundQueue>,
    notice: Option<Arc<dyn RefundNotice>>,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    super::every_until(every, shutdown, || async {
        let now = reconciler.clock.unix_now();
        if let Err(e) = refund_duplicate_charges(&reconciler, &*queue, notice.as_deref(), now).await
        {
            tracing::warn!(error = %e, "duplicate-charge refunds skipped: storage error");
        }
    })
    .await;
}
