//! Delivery of payment-success notifications from the ledger's outbox.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use miniapp_core::ledger::{LedgerStore, NotificationOutcome};
use teloxide::prelude::*;
use teloxide::{ApiError, RequestError};

use super::texts::{Lang, payment_success};

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
}

impl Default for NotifierOptions {
    fn default() -> NotifierOptions {
        NotifierOptions {
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            first_retry: Duration::from_secs(5),
            max_attempts: 10,
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Telegram errors that no retry can fix: the user blocked the bot, deleted the account, or
/// never started a chat with it.
fn permanent(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::BotBlocked | ApiError::UserDeactivated | ApiError::ChatNotFound
    ) || matches!(e, ApiError::Unknown(text) if text.contains("Forbidden"))
}

/// One pass: claims the due notifications at `now`, sends them, records each outcome. Returns how
/// many were sent.
///
/// # Errors
/// Storage errors (Telegram errors are recorded as outcomes, not returned).
pub async fn deliver_due_notifications(
    bot: &Bot,
    ledger: &dyn LedgerStore,
    options: &NotifierOptions,
    now: u64,
) -> Result<usize, miniapp_core::ledger::LedgerError> {
    let claimed = ledger
        .claim_notifications(now, options.lease.as_secs(), 20)
        .await?;
    let mut sent = 0;
    for n in claimed {
        let lang = Lang::from_code(n.language.as_deref());
        let text = payment_success(lang, n.tokens.get(), n.amount);
        let outcome = match bot.send_message(ChatId(n.user_id.get()), text).await {
            Ok(_) => {
                sent += 1;
                NotificationOutcome::Sent
            }
            Err(RequestError::Api(e)) if permanent(&e) => {
                tracing::warn!(payment = %n.payment_id, error = %e, "notification cannot be delivered");
                NotificationOutcome::Failed {
                    error: e.to_string(),
                }
            }
            Err(e) if n.attempts + 1 >= options.max_attempts => {
                tracing::warn!(payment = %n.payment_id, error = %e, "notification given up");
                NotificationOutcome::Failed {
                    error: format!("gave up after {} attempts: {e}", n.attempts + 1),
                }
            }
            // A request that may have reached Telegram (a timeout after sending) must not be
            // repeated: at most once. Connection failures and Telegram's own errors are safe.
            Err(RequestError::Network(e)) if !e.is_connect() => {
                tracing::warn!(payment = %n.payment_id, error = %e, "notification outcome unknown; not resent");
                NotificationOutcome::Failed {
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
                NotificationOutcome::Retry {
                    not_before: now + wait.as_secs().max(1),
                    error: e.to_string(),
                }
            }
        };
        ledger
            .finish_notification(&n.payment_id, &outcome, now)
            .await?;
    }
    Ok(sent)
}

/// Delivers notifications until `shutdown` resolves.
pub async fn run_notifier(
    bot: Bot,
    ledger: Arc<dyn LedgerStore>,
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
                if let Err(e) = deliver_due_notifications(&bot, &*ledger, &options, unix_now()).await {
                    tracing::warn!(error = %e, "notification delivery paused: storage error");
                }
            }
        }
    }
}
