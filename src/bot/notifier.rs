//! Delivery of payment-success notifications from the [`NotificationOutbox`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use miniapp_core::clock::{ClockExt, SharedClock, SystemClock};
use miniapp_core::ledger::{ClaimOutcome, NotificationOutbox};
use teloxide::prelude::*;
use teloxide::{ApiError, RequestError};

use miniapp_core::ids::ProviderId;

use crate::i18n::{Lang, payment_success, test_payment_note};

/// How notifications are delivered.
#[derive(Debug, Clone)]
pub struct NotifierOptions {
    /// How often the outbox is checked.
    pub poll_interval: Duration,
    /// How long a claimed notification is reserved for one sender.
    pub lease: Duration,
    /// The first retry delay; doubled per attempt, at most an hour.
    pub first_retry: Duration,
    /// Attempts after which a notification is given up.
    pub max_attempts: u32,
    /// Providers that move no real money ([`PaymentProvider::is_test`]): the notification of a
    /// payment through one of them says it was a test payment.
    ///
    /// [`PaymentProvider::is_test`]: miniapp_core::provider::PaymentProvider::is_test
    pub test_providers: Vec<ProviderId>,
    /// Where "now" comes from for leases and retry times (the store's clock).
    pub clock: SharedClock,
}

impl Default for NotifierOptions {
    fn default() -> NotifierOptions {
        NotifierOptions {
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            first_retry: Duration::from_secs(5),
            max_attempts: 10,
            test_providers: Vec::new(),
            clock: SystemClock::shared(),
        }
    }
}

/// Telegram errors that no retry can fix: the user blocked the bot, deleted the account, or
/// never started a chat with it.
fn permanent(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::BotBlocked | ApiError::UserDeactivated | ApiError::ChatNotFound
    ) || matches!(e, ApiError::Unknown(text) if text.contains("Forbidden"))
}

/// Most notifications handled in one pass; the leases of a pass are computed from its `now`, so a
/// pass is kept short enough to finish well inside them.
const MAX_PER_PASS: usize = 50;

/// One pass: claims the notifications due at `now` one at a time (at most 50), sends each and
/// records its outcome. Returns how many were sent.
///
/// Claiming one at a time is what keeps delivery at most once without losing messages: a claim
/// says "this message may be in flight", so a sender that dies mid-send leaves exactly the one
/// message it was sending in doubt (recorded as `unknown` when the lease runs out), never a
/// batch of messages it had not started.
///
/// # Errors
/// Storage errors (Telegram errors are recorded as outcomes, not returned).
pub async fn deliver_due_notifications(
    bot: &Bot,
    outbox: &dyn NotificationOutbox,
    options: &NotifierOptions,
    now: u64,
) -> Result<usize, miniapp_core::ledger::LedgerError> {
    pass(bot, outbox, options, now).await.map(|p| p.sent)
}

/// What one pass did.
struct Pass {
    handled: usize,
    sent: usize,
}

async fn pass(
    bot: &Bot,
    outbox: &dyn NotificationOutbox,
    options: &NotifierOptions,
    now: u64,
) -> Result<Pass, miniapp_core::ledger::LedgerError> {
    let (mut handled, mut sent) = (0, 0);
    let started = std::time::Instant::now();
    // A pass ends after half a lease, so no claim outlives its lease while this sender still
    // works on it (another sender would then record it as `unknown`).
    while handled < MAX_PER_PASS && started.elapsed() < options.lease / 2 {
        // `now` moves with the clock during the pass (callers pass the time the pass began).
        let now = now + started.elapsed().as_secs();
        let Some(n) = outbox
            .claim_notifications(now, options.lease.as_secs(), 1)
            .await?
            .pop()
        else {
            break;
        };
        handled += 1;
        let lang = Lang::from_code(n.language.as_deref());
        let mut text = payment_success(lang, n.tokens.get(), n.amount);
        if options.test_providers.contains(&n.provider) {
            text = format!("{}\n\n{text}", test_payment_note(lang));
        }
        let outcome = match bot.send_message(ChatId(n.user_id.get()), text).await {
            Ok(_) => {
                sent += 1;
                ClaimOutcome::Done
            }
            Err(RequestError::Api(e)) if permanent(&e) => {
                tracing::warn!(payment = %n.payment_id, error = %e, "notification cannot be delivered");
                ClaimOutcome::Failed {
                    error: e.to_string(),
                }
            }
            Err(e) if n.attempts + 1 >= options.max_attempts => {
                tracing::warn!(payment = %n.payment_id, error = %e, "notification given up");
                ClaimOutcome::Failed {
                    error: format!("gave up after {} attempts: {e}", n.attempts + 1),
                }
            }
            // A request that may have reached Telegram (a timeout after sending) must not be
            // repeated: at most once. Connection failures and Telegram's own errors are safe.
            Err(RequestError::Network(e)) if !e.is_connect() => {
                tracing::warn!(payment = %n.payment_id, error = %e, "notification outcome unknown; not resent");
                ClaimOutcome::Failed {
                    error: format!("outcome unknown: {e}"),
                }
            }
            Err(e) => {
                let wait = match &e {
                    RequestError::RetryAfter(secs) => secs.duration(),
                    _ => options
                        .first_retry
                        .saturating_mul(2u32.saturating_pow(n.attempts))
                        .min(Duration::from_secs(3600)),
                };
                tracing::info!(payment = %n.payment_id, error = %e, ?wait, "notification will be retried");
                ClaimOutcome::Retry {
                    not_before: now + wait.as_secs().max(1),
                    error: e.to_string(),
                }
            }
        };
        crate::metrics::notification(match &outcome {
            ClaimOutcome::Done => "sent",
            ClaimOutcome::Retry { .. } => "retry",
            ClaimOutcome::Failed { error } if error.starts_with("outcome unknown") => "in_doubt",
            _ => "failed",
        });
        outbox
            .finish_notification(&n.payment_id, &outcome, now)
            .await?;
    }
    Ok(Pass { handled, sent })
}

/// Delivers notifications until `shutdown` resolves.
pub async fn run_notifier(
    bot: Bot,
    outbox: Arc<dyn NotificationOutbox>,
    options: NotifierOptions,
    shutdown: impl Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(options.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {
                // Full passes follow each other at once (a burst of payments); a short one means
                // the outbox is drained until the next tick.
                loop {
                    // Shutdown is honoured between and during passes; a message in flight at that
                    // moment is left in doubt (`unknown` after its lease), never sent twice.
                    let outcome = tokio::select! {
                        () = &mut shutdown => return,
                        outcome = pass(&bot, &*outbox, &options, options.clock.unix_now()) => outcome,
                    };
                    match outcome {
                        Ok(p) if p.handled == MAX_PER_PASS => {}
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "notification delivery paused: storage error");
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Tells a payer by Telegram message that an extra charge was refunded: the bot's
/// [`RefundNotice`](crate::reconcile::RefundNotice) for
/// [`run_refunder`](crate::reconcile::run_refunder).
#[derive(Debug, Clone)]
pub struct RefundMessages {
    bot: Bot,
}

impl RefundMessages {
    /// Messages sent through `bot`.
    pub fn new(bot: Bot) -> RefundMessages {
        RefundMessages { bot }
    }
}

#[async_trait::async_trait]
impl crate::reconcile::RefundNotice for RefundMessages {
    async fn charge_refunded(
        &self,
        refund: &miniapp_core::ledger::ChargeRefund,
        language: Option<&str>,
    ) {
        let lang = Lang::from_code(language);
        let text = match refund.reason {
            miniapp_core::ledger::RefundReason::DuplicateCharge => {
                crate::i18n::duplicate_charge_refunded(lang, refund.amount)
            }
            _ => crate::i18n::payment_refunded(lang, refund.amount),
        };
        if let Err(e) = self
            .bot
            .send_message(ChatId(refund.user_id.get()), text)
            .await
        {
            tracing::warn!(payment = %refund.payment_id, error = %e, "could not tell the payer about the refunded duplicate charge");
        }
    }
}
