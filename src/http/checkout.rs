//! Opening a payment's checkout exactly once, however many requests, retries and instances ask.
//!
//! - In this process, one request at a time opens a given payment's checkout; the others wait
//!   and then return the checkout it attached (a double tap, a retrying client).
//! - Across instances, the provider idempotency key of the payment's current attempt makes the
//!   provider return one checkout; a key still in use elsewhere is `409 payment_in_progress`.
//! - A provider that fails, refuses or does not answer before the deadline gives its attempt up
//!   ([`LedgerStore::abandon_checkout_attempt`]), so the next request uses a fresh provider
//!   idempotency key instead of one whose stored error the provider would replay for a day.
//!
//! [`LedgerStore::abandon_checkout_attempt`]: miniapp_core::ledger::LedgerStore::abandon_checkout_attempt

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use axum::http::StatusCode;
use miniapp_core::ids::PaymentId;
use miniapp_core::ledger::{CheckoutRecord, LedgerError};
use miniapp_core::payment::{Payment, PaymentStatus};
use miniapp_core::provider::{CheckoutRequest, ProviderError};

use super::api::REUSE_WINDOW_SECS;
use super::error::ApiError;
use super::state::{AppState, EnabledMethod};

/// Per-payment locks of the checkouts being opened in this process. An entry lives only while
/// some request holds or waits for it.
#[derive(Debug, Default)]
pub(crate) struct CheckoutLocks {
    locks: Mutex<HashMap<PaymentId, Weak<tokio::sync::Mutex<()>>>>,
}

impl CheckoutLocks {
    fn lock_for(&self, id: &PaymentId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lock) = locks.get(id).and_then(Weak::upgrade) {
            return lock;
        }
        locks.retain(|_, lock| lock.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(id.clone(), Arc::downgrade(&lock));
        lock
    }
}

fn closed(payment: &Payment) -> ApiError {
    let message = if payment.status == PaymentStatus::Created {
        "this payment's checkout could not be opened in time; start a new one".to_owned()
    } else {
        format!(
            "this payment is {} and can no longer be paid; start a new one",
            payment.status
        )
    };
    ApiError::new(StatusCode::CONFLICT, "payment_closed", message)
}

/// The payment with its checkout: the one already attached, or a new one from `method`'s
/// provider, opened within the provider deadline.
///
/// # Errors
/// `409 payment_closed` for a payment that closed without a checkout (or could not get one for 15
/// minutes), `409 payment_in_progress`
/// while another instance opens it, the provider's errors (`503 provider_unavailable` also after
/// the deadline), and storage errors.
pub(crate) async fn ensure_checkout(
    state: &AppState,
    method: &EnabledMethod,
    payment: Payment,
) -> Result<Payment, ApiError> {
    if payment.checkout_url.is_some() {
        return Ok(payment);
    }
    let deadline = state.inner.settings.provider_deadline();
    let started = tokio::time::Instant::now();
    let seen_attempt = payment.checkout_attempt;
    let lock = state.inner.checkouts.lock_for(&payment.id);
    // Waiting for another request of this process counts against the same deadline.
    let Ok(_opening) = tokio::time::timeout(deadline, lock.lock()).await else {
        return Err(unavailable(method, deadline));
    };
    // Whoever held the lock before may have attached a checkout (or given its attempt up).
    let payment = current(state, &payment.id).await?;
    if payment.checkout_url.is_some() {
        return Ok(payment);
    }
    if payment.checkout_attempt != seen_attempt && payment.status == PaymentStatus::Created {
        // The request before this one failed just now: answer as it did rather than start
        // another attempt (and leave another checkout behind) for every queued double tap.
        return Err(unavailable(method, deadline));
    }
    // A checkout that could not be opened for this long is not opened any more: a provider may
    // refuse a checkout so close to the payment's expiry (Stripe needs 30 minutes left of the
    // hour), and the client starts a new payment on `payment_closed`. The sweep closes it.
    let stale = state.unix_now().saturating_sub(payment.created_at) >= REUSE_WINDOW_SECS;
    if payment.status != PaymentStatus::Created || stale {
        return Err(closed(&payment));
    }
    let request = CheckoutRequest {
        payment_id: payment.id.clone(),
        user_id: payment.user_id,
        tokens: payment.tokens,
        price: payment.price,
        email: payment.email.clone(),
        // The payment's, not the caller's: every request of one attempt must be identical.
        language: payment.language.clone(),
        created_at: payment.created_at,
        attempt: payment.checkout_attempt,
    };
    let left = deadline.saturating_sub(started.elapsed());
    let opened = tokio::time::timeout(left, method.provider.create_checkout(&request)).await;
    let error = match opened {
        Ok(Ok(checkout)) => {
            let record = CheckoutRecord {
                checkout_ref: checkout.checkout_ref,
                url: checkout.url,
            };
            return match state
                .inner
                .ledger
                .attach_checkout(&payment.id, &record)
                .await
            {
                Ok(p) => Ok(p),
                // Another instance attached its checkout first: that one is the payment's.
                Err(LedgerError::CheckoutConflict) => {
                    let p = current(state, &payment.id).await?;
                    if p.checkout_url.is_some() {
                        Ok(p)
                    } else {
                        Err(LedgerError::CheckoutConflict.into())
                    }
                }
                Err(e) => Err(e.into()),
            };
        }
        // Another instance is opening this very attempt: its checkout will be attached soon.
        Ok(Err(ProviderError::InProgress)) => {
            let p = current(state, &payment.id).await?;
            return if p.checkout_url.is_some() {
                Ok(p)
            } else {
                Err(ProviderError::InProgress.into())
            };
        }
        Ok(Err(e)) => e,
        Err(_elapsed) => {
            give_up(state, &payment).await;
            return Err(unavailable(method, deadline));
        }
    };
    give_up(state, &payment).await;
    Err(error.into())
}

fn unavailable(method: &EnabledMethod, deadline: std::time::Duration) -> ApiError {
    ProviderError::Unavailable(
        format!(
            "no checkout from {} within {} s",
            method.provider.id(),
            deadline.as_secs_f32()
        )
        .into(),
    )
    .into()
}

async fn give_up(state: &AppState, payment: &Payment) {
    // No checkout URL of this attempt was handed out: give it up so the next request for this
    // payment does not get the provider's stored answer to this one.
    if let Err(e) = state
        .inner
        .ledger
        .abandon_checkout_attempt(&payment.id, payment.checkout_attempt)
        .await
    {
        tracing::warn!(payment = %payment.id, error = %e, "could not give up a failed checkout attempt");
    }
}

async fn current(state: &AppState, id: &PaymentId) -> Result<Payment, ApiError> {
    Ok(state
        .inner
        .ledger
        .payment(id)
        .await?
        .ok_or(LedgerError::UnknownPayment)?)
}
