//! The `LedgerStore` implementation shared by both databases.
//!
//! The SQL is the same for PostgreSQL and SQLite (both accept `$n` parameters, `ON CONFLICT` and
//! `RETURNING`); what differs is how a write transaction starts and how rows are locked, which the
//! two invocations of [`impl_ledger_store!`] pass in. A macro rather than generics over
//! `sqlx::Database`: the generic bounds for two backends are longer than the code.
//!
//! Every write runs [`miniapp_core::ledger::plan_event`] or [`miniapp_core::ledger::plan_spend`]
//! while the rows it reads are locked, in one fixed order: payment, provider event, balance.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Implements `LedgerStore` for `$store` (a struct with a `pool` field of `sqlx::Pool<$db>`).
/// `$begin` starts a write transaction on `$pool`; `$lock` is appended to row-locking selects.
macro_rules! impl_ledger_store {
    ($store:ty, $db:ty, |$pool:ident| $begin:expr, $lock:literal, $skip_locked:literal) => {
        impl $store {
            /// The user's balance row, created when missing and locked for the rest of `tx`.
            async fn locked_balance(
                tx: &mut sqlx::Transaction<'static, $db>,
                user: i64,
            ) -> Result<miniapp_core::ledger::Balance, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::BalanceRow;

                sqlx::query("INSERT INTO miniapp_balances (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(user)
                    .execute(&mut **tx)
                    .await
                    .map_err(map_err)?;
                let row: BalanceRow = sqlx::query_as(concat!(
                    "SELECT user_id, balance, total_deposited, total_spent FROM miniapp_balances \
                     WHERE user_id = $1", $lock
                ))
                .bind(user)
                .fetch_one(&mut **tx)
                .await
                .map_err(map_err)?;
                row.into_balance()
            }
        }

        #[async_trait::async_trait]
        impl miniapp_core::ledger::LedgerStore for $store {
            async fn create_payment(
                &self,
                new: miniapp_core::ledger::NewPayment,
            ) -> Result<miniapp_core::payment::Payment, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{PaymentRow, payment_columns, signed};
                use miniapp_core::ledger::LedgerError;

                let by_key = concat!(
                    "SELECT ", payment_columns!(),
                    " FROM miniapp_payments WHERE user_id = $1 AND idempotency_key = $2"
                );
                let $pool = &self.pool;
                let mut tx = $begin.await.map_err(map_err)?;
                if let Some(key) = &new.idempotency_key {
                    let existing: Option<PaymentRow> = sqlx::query_as(by_key)
                        .bind(new.user_id.get())
                        .bind(key.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    if let Some(row) = existing {
                        let first = row.into_payment()?;
                        return if new.same_order(&first) { Ok(first) } else { Err(LedgerError::IdempotencyConflict) };
                    }
                }
                let t = signed($crate::store::now())?;
                let inserted: Option<PaymentRow> = sqlx::query_as(concat!(
                    "INSERT INTO miniapp_payments (id, user_id, provider, method, tokens, price_minor, \
                     currency, exponent, email, idempotency_key, status, created_at, updated_at, language) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'created', $11, $11, $12) \
                     ON CONFLICT DO NOTHING RETURNING ",
                    payment_columns!()
                ))
                .bind(new.id.as_str())
                .bind(new.user_id.get())
                .bind(new.provider.as_str())
                .bind(new.method.as_str())
                .bind(signed(new.tokens.get())?)
                .bind(signed(new.price.minor_units())?)
                .bind(new.price.currency().code())
                .bind(i32::from(new.price.currency().exponent()))
                .bind(new.email.as_deref())
                .bind(new.idempotency_key.as_ref().map(|k| k.as_str()))
                .bind(t)
                .bind(new.language.as_deref().filter(|l| l.len() <= 16))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                if let Some(row) = inserted {
                    let payment = row.into_payment()?;
                    tx.commit().await.map_err(map_err)?;
                    return Ok(payment);
                }
                // A conflict: a concurrent request with the same key won the race (its row is
                // committed and visible now), or the payment id is already taken.
                if let Some(key) = &new.idempotency_key {
                    let existing: Option<PaymentRow> = sqlx::query_as(by_key)
                        .bind(new.user_id.get())
                        .bind(key.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    if let Some(first) = existing.map(PaymentRow::into_payment).transpose()? {
                        if new.same_order(&first) {
                            return Ok(first);
                        }
                    }
                }
                Err(LedgerError::IdempotencyConflict)
            }

            async fn attach_checkout(
                &self,
                id: &miniapp_core::ids::PaymentId,
                checkout: &miniapp_core::ledger::CheckoutRecord,
            ) -> Result<miniapp_core::payment::Payment, miniapp_core::ledger::LedgerError> {
                use $crate::error::{is_unique_violation, map_err};
                use $crate::rows::{PaymentRow, payment_columns, signed};
                use miniapp_core::ledger::LedgerError;

                let $pool = &self.pool;
                let mut tx = $begin.await.map_err(map_err)?;
                let row: Option<PaymentRow> = sqlx::query_as(concat!(
                    "SELECT ", payment_columns!(), " FROM miniapp_payments WHERE id = $1", $lock
                ))
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                let payment = row.ok_or(LedgerError::UnknownPayment)?.into_payment()?;
                match &payment.checkout_ref {
                    Some(existing) if *existing == checkout.checkout_ref => return Ok(payment),
                    Some(_) => return Err(LedgerError::CheckoutConflict),
                    None => {}
                }
                let updated: PaymentRow = sqlx::query_as(concat!(
                    "UPDATE miniapp_payments SET checkout_ref = $2, checkout_url = $3, \
                     status = CASE WHEN status = 'created' THEN 'pending' ELSE status END, \
                     updated_at = $4 WHERE id = $1 RETURNING ",
                    payment_columns!()
                ))
                .bind(id.as_str())
                .bind(checkout.checkout_ref.as_str())
                .bind(checkout.url.as_str())
                .bind(signed($crate::store::now())?)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| if is_unique_violation(&e) { LedgerError::CheckoutConflict } else { map_err(e) })?;
                let payment = updated.into_payment()?;
                tx.commit().await.map_err(map_err)?;
                Ok(payment)
            }

            async fn apply_event(
                &self,
                provider: &miniapp_core::ids::ProviderId,
                event: &miniapp_core::event::ProviderEvent,
                policy: miniapp_core::payment::RefundPolicy,
            ) -> Result<miniapp_core::ledger::EventReceipt, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{PaymentRow, PaymentUpdate, payment_columns, signed};
                use miniapp_core::ledger::{EntryKind, EventReceipt, LedgerError};

                let $pool = &self.pool;
                let mut tx = $begin.await.map_err(map_err)?;
                // 1. The payment, locked.
                let rows: Vec<PaymentRow> = match &event.payment_id {
                    Some(id) => sqlx::query_as(concat!(
                        "SELECT ", payment_columns!(), " FROM miniapp_payments WHERE id = $1", $lock
                    ))
                    .bind(id.as_str()),
                    None => sqlx::query_as(concat!(
                        "SELECT ", payment_columns!(), " FROM miniapp_payments \
                         WHERE provider = $1 AND (checkout_ref = $2 OR payment_ref = $2) LIMIT 2", $lock
                    ))
                    .bind(provider.as_str())
                    .bind(event.provider_ref.as_str()),
                }
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                let mut rows = rows.into_iter();
                let (Some(row), None) = (rows.next(), rows.next()) else {
                    return Err(LedgerError::UnknownPayment);
                };
                let payment = row.into_payment()?;
                if payment.provider != *provider {
                    return Err(LedgerError::UnknownPayment);
                }
                let t = $crate::store::now();
                // 2. The event id, recorded once: a redelivery stops here.
                let recorded = sqlx::query(
                    "INSERT INTO miniapp_provider_events (provider, event_id, payment_id, kind, received_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(provider.as_str())
                .bind(event.id.as_str())
                .bind(payment.id.as_str())
                .bind(event.kind.name())
                .bind(signed(t)?)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
                if recorded == 0 {
                    return Ok(EventReceipt {
                        status_before: payment.status,
                        payment,
                        duplicate: true,
                        credited: 0,
                        clawed_back: 0,
                        written_off: 0,
                    });
                }
                // 3. The buyer's balance, locked.
                let balance = Self::locked_balance(&mut tx, payment.user_id.get()).await?;
                // 4. The decision, made by the core.
                let plan = miniapp_core::ledger::plan_event(&payment, &balance, event, policy, t)?;
                // 5. Persist: journal rows (the trigger moves the cached balance and checks it),
                //    then the payment.
                for (kind, delta, balance_after) in &plan.entries {
                    let credit = *kind == EntryKind::Credit;
                    sqlx::query(
                        "INSERT INTO miniapp_journal (user_id, kind, delta, balance_after, payment_id, \
                         provider, provider_ref, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(payment.user_id.get())
                    .bind(kind.as_str())
                    .bind(*delta)
                    .bind(*balance_after)
                    .bind(payment.id.as_str())
                    .bind(credit.then(|| provider.as_str()))
                    .bind(credit.then(|| plan.payment.payment_ref.as_ref().map(|r| r.as_str())).flatten())
                    .bind(signed(t)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                }
                if plan.credited > 0 {
                    // The notification, in the credit's transaction: once per payment (primary key).
                    sqlx::query(
                        "INSERT INTO miniapp_outbox (payment_id, user_id, tokens, amount_minor, currency, \
                         exponent, language, created_at, provider) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(payment.id.as_str())
                    .bind(payment.user_id.get())
                    .bind(signed(plan.credited)?)
                    .bind(signed(payment.price.minor_units())?)
                    .bind(payment.price.currency().code())
                    .bind(i32::from(payment.price.currency().exponent()))
                    .bind(payment.language.as_deref())
                    .bind(signed(t)?)
                    .bind(provider.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                }
                if plan.changes_anything(&payment) {
                    let u = PaymentUpdate::from_payment(&plan.payment)?;
                    sqlx::query(
                        "UPDATE miniapp_payments SET status = $2, payment_ref = $3, paid_minor = $4, \
                         paid_currency = $5, closure = $6, refunded_minor = $7, dispute = $8, \
                         tokens_credited = $9, tokens_reversed = $10, tokens_written_off = $11, \
                         updated_at = $12 WHERE id = $1",
                    )
                    .bind(payment.id.as_str())
                    .bind(u.status)
                    .bind(u.payment_ref)
                    .bind(u.paid_minor)
                    .bind(u.paid_currency)
                    .bind(u.closure)
                    .bind(u.refunded_minor)
                    .bind(u.dispute)
                    .bind(u.tokens_credited)
                    .bind(u.tokens_reversed)
                    .bind(u.tokens_written_off)
                    .bind(u.updated_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)?;
                Ok(EventReceipt {
                    status_before: payment.status,
                    payment: plan.payment,
                    duplicate: false,
                    credited: plan.credited,
                    clawed_back: plan.clawed_back,
                    written_off: plan.written_off,
                })
            }

            async fn spend(
                &self,
                request: &miniapp_core::ledger::SpendRequest,
            ) -> Result<miniapp_core::ledger::SpendReceipt, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{JournalRow, journal_columns, signed};
                use miniapp_core::ledger::{LedgerError, SpendReceipt};

                let user = request.user_id.get();
                let $pool = &self.pool;
                let mut tx = $begin.await.map_err(map_err)?;
                let balance = Self::locked_balance(&mut tx, user).await?;
                let first: Option<JournalRow> = sqlx::query_as(concat!(
                    "SELECT ", journal_columns!(), " FROM miniapp_journal \
                     WHERE user_id = $1 AND kind = 'spend' AND idempotency_key = $2"
                ))
                .bind(user)
                .bind(request.idempotency_key.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                if let Some(first) = first {
                    let entry = first.into_entry()?;
                    return if entry.delta == -request.amount.as_i64() {
                        Ok(SpendReceipt { entry, replayed: true })
                    } else {
                        Err(LedgerError::IdempotencyConflict)
                    };
                }
                let after = miniapp_core::ledger::plan_spend(&balance, request.amount)?;
                let memo: Option<String> = request.memo.as_deref().map(|m| m.chars().take(200).collect());
                let row: JournalRow = sqlx::query_as(concat!(
                    "INSERT INTO miniapp_journal (user_id, kind, delta, balance_after, idempotency_key, \
                     memo, created_at) VALUES ($1, 'spend', $2, $3, $4, $5, $6) RETURNING ",
                    journal_columns!()
                ))
                .bind(user)
                .bind(-request.amount.as_i64())
                .bind(after.balance)
                .bind(request.idempotency_key.as_str())
                .bind(memo)
                .bind(signed($crate::store::now())?)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
                let entry = row.into_entry()?;
                tx.commit().await.map_err(map_err)?;
                Ok(SpendReceipt { entry, replayed: false })
            }

            async fn balance(
                &self,
                user: miniapp_core::ids::UserId,
            ) -> Result<miniapp_core::ledger::Balance, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::BalanceRow;

                let row: Option<BalanceRow> = sqlx::query_as(
                    "SELECT user_id, balance, total_deposited, total_spent FROM miniapp_balances WHERE user_id = $1",
                )
                .bind(user.get())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
                match row {
                    Some(row) => row.into_balance(),
                    None => Ok(miniapp_core::ledger::Balance::empty(user)),
                }
            }

            async fn payment(
                &self,
                id: &miniapp_core::ids::PaymentId,
            ) -> Result<Option<miniapp_core::payment::Payment>, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{PaymentRow, payment_columns};

                let row: Option<PaymentRow> = sqlx::query_as(concat!(
                    "SELECT ", payment_columns!(), " FROM miniapp_payments WHERE id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
                row.map(PaymentRow::into_payment).transpose()
            }

            async fn abandon_checkout_attempt(
                &self,
                id: &miniapp_core::ids::PaymentId,
                failed: u32,
            ) -> Result<miniapp_core::payment::Payment, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{PaymentRow, payment_columns, signed};
                use miniapp_core::ledger::LedgerError;

                // One statement: the conditions make a concurrent give-up or attach win cleanly.
                let moved: Option<PaymentRow> = sqlx::query_as(concat!(
                    "UPDATE miniapp_payments SET checkout_attempt = checkout_attempt + 1, updated_at = $3 \
                     WHERE id = $1 AND checkout_attempt = $2 AND checkout_ref IS NULL \
                     AND status = 'created' RETURNING ",
                    payment_columns!()
                ))
                .bind(id.as_str())
                .bind(i64::from(failed))
                .bind(signed($crate::store::now())?)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
                match moved {
                    Some(row) => row.into_payment(),
                    None => self.payment(id).await?.ok_or(LedgerError::UnknownPayment),
                }
            }

            async fn open_payments(
                &self,
                user: miniapp_core::ids::UserId,
                created_from: u64,
            ) -> Result<Vec<miniapp_core::payment::Payment>, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{PaymentRow, payment_columns};

                let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
                    "SELECT ", payment_columns!(), " FROM miniapp_payments \
                     WHERE user_id = $1 AND status IN ('created', 'pending') AND created_at >= $2 \
                     ORDER BY created_at DESC, id DESC LIMIT 100"
                ))
                .bind(user.get())
                .bind(i64::try_from(created_from).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
                rows.into_iter().map(PaymentRow::into_payment).collect()
            }

            async fn unstarted_payments(
                &self,
                created_before: u64,
                limit: u32,
            ) -> Result<Vec<miniapp_core::payment::Payment>, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{PaymentRow, payment_columns};

                let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
                    "SELECT ", payment_columns!(), " FROM miniapp_payments \
                     WHERE status = 'created' AND created_at < $1 \
                     ORDER BY created_at, id LIMIT $2"
                ))
                .bind(i64::try_from(created_before).unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
                rows.into_iter().map(PaymentRow::into_payment).collect()
            }

            async fn pending_payments(
                &self,
                created_from: u64,
                created_to: u64,
                before_id: Option<&miniapp_core::ids::PaymentId>,
                limit: u32,
            ) -> Result<Vec<miniapp_core::payment::Payment>, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{PaymentRow, payment_columns};

                let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
                    "SELECT ", payment_columns!(), " FROM miniapp_payments \
                     WHERE status = 'pending' AND created_at >= $1 AND created_at <= $2 \
                     AND (created_at < $2 OR $3 IS NULL OR id < $3) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                ))
                // Unix seconds past i64::MAX cannot be stored: the window simply ends there.
                .bind(i64::try_from(created_from).unwrap_or(i64::MAX))
                .bind(i64::try_from(created_to).unwrap_or(i64::MAX))
                .bind(before_id.map(miniapp_core::ids::PaymentId::as_str))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
                rows.into_iter().map(PaymentRow::into_payment).collect()
            }

            async fn payment_with_balance(
                &self,
                user: miniapp_core::ids::UserId,
                id: &miniapp_core::ids::PaymentId,
            ) -> Result<
                (miniapp_core::payment::Payment, miniapp_core::ledger::Balance),
                miniapp_core::ledger::LedgerError,
            > {
                use $crate::error::map_err;
                use $crate::rows::{PaymentBalanceRow, payment_columns};

                // One round trip: status polling is the hottest read. The balance columns are
                // renamed in a subquery so the payment's unqualified column names stay unique.
                let row: Option<PaymentBalanceRow> = sqlx::query_as(concat!(
                    "SELECT ", payment_columns!(), ", b_balance, b_deposited, b_spent \
                     FROM miniapp_payments LEFT JOIN (SELECT user_id AS b_user, balance AS b_balance, \
                     total_deposited AS b_deposited, total_spent AS b_spent FROM miniapp_balances) b \
                     ON b.b_user = miniapp_payments.user_id WHERE id = $1 AND user_id = $2"
                ))
                .bind(id.as_str())
                .bind(user.get())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
                row.ok_or(miniapp_core::ledger::LedgerError::UnknownPayment)?
                    .into_payment_and_balance()
            }

            async fn ping(&self) -> Result<(), miniapp_core::ledger::LedgerError> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err($crate::error::map_err)
            }

            async fn history(
                &self,
                user: miniapp_core::ids::UserId,
                query: miniapp_core::ledger::HistoryQuery,
            ) -> Result<miniapp_core::ledger::HistoryPage, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{JournalRow, journal_columns};

                let limit = query.clamped_limit();
                let rows: Vec<JournalRow> = sqlx::query_as(concat!(
                    "SELECT ", journal_columns!(), " FROM miniapp_journal \
                     WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                ))
                .bind(user.get())
                .bind(query.before.unwrap_or(i64::MAX))
                .bind(i64::from(limit) + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
                let mut entries = rows
                    .into_iter()
                    .map(JournalRow::into_entry)
                    .collect::<Result<Vec<_>, _>>()?;
                let next_before = if entries.len() > limit as usize {
                    entries.truncate(limit as usize);
                    entries.last().map(|e| e.id)
                } else {
                    None
                };
                Ok(miniapp_core::ledger::HistoryPage { entries, next_before })
            }
        }

        #[async_trait::async_trait]
        impl miniapp_core::ledger::NotificationOutbox for $store {
            async fn claim_notifications(
                &self,
                now: u64,
                lease_secs: u64,
                limit: u32,
            ) -> Result<Vec<miniapp_core::ledger::Notification>, miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::{OutboxRow, outbox_columns, signed};

                let now = signed(now)?;
                let $pool = &self.pool;
                let mut tx = $begin.await.map_err(map_err)?;
                // A claim that outlived its lease has an unknown outcome: never resend it.
                sqlx::query("UPDATE miniapp_outbox SET state = 'unknown', finished_at = $1 WHERE state = 'sending' AND claimed_until < $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                let rows: Vec<OutboxRow> = sqlx::query_as(concat!(
                    "UPDATE miniapp_outbox SET state = 'sending', claimed_until = $2 WHERE payment_id IN \
                     (SELECT payment_id FROM miniapp_outbox WHERE state = 'pending' AND not_before <= $1 \
                     ORDER BY not_before, created_at LIMIT $3", $skip_locked, ") RETURNING ",
                    outbox_columns!()
                ))
                .bind(now)
                .bind(now.saturating_add(signed(lease_secs)?))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                let claimed = rows.into_iter().map(OutboxRow::into_notification).collect::<Result<Vec<_>, _>>()?;
                tx.commit().await.map_err(map_err)?;
                Ok(claimed)
            }

            async fn finish_notification(
                &self,
                payment: &miniapp_core::ids::PaymentId,
                outcome: &miniapp_core::ledger::NotificationOutcome,
                now: u64,
            ) -> Result<(), miniapp_core::ledger::LedgerError> {
                use $crate::error::map_err;
                use $crate::rows::signed;
                use miniapp_core::ledger::{LedgerError, NotificationOutcome};

                let (state, not_before, error) = match outcome {
                    NotificationOutcome::Sent => ("sent", 0, None),
                    NotificationOutcome::Retry { not_before, error } => ("pending", signed(*not_before)?, Some(error.as_str())),
                    NotificationOutcome::Failed { error } => ("failed", 0, Some(error.as_str())),
                    _ => return Err(LedgerError::Corrupt("unknown notification outcome".into())),
                };
                let done = sqlx::query(
                    "UPDATE miniapp_outbox SET state = $2, attempts = attempts + 1, not_before = $3, \
                     last_error = $4, claimed_until = NULL, \
                     finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE $5 END \
                     WHERE payment_id = $1 AND state = 'sending'",
                )
                .bind(payment.as_str())
                .bind(state)
                .bind(not_before)
                .bind(error.map(|e| e.chars().take(500).collect::<String>()))
                .bind(signed(now)?)
                .execute(&self.pool)
                .await
                .map_err(map_err)?
                .rows_affected();
                if done == 0 {
                    return Err(LedgerError::UnknownPayment);
                }
                Ok(())
            }
        }
    };
}

pub(crate) use impl_ledger_store;
