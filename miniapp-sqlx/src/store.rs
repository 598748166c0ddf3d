//! The one `LedgerStore` and `NotificationOutbox` implementation, generic over the database.
//!
//! Every write runs [`miniapp_core::ledger::plan_event`] or [`miniapp_core::ledger::plan_spend`]
//! while the rows it reads are locked, in one fixed order: payment, provider event, balance. What
//! the two databases do differently is in [`crate::dialect`]; the `where` clauses below only
//! spell out, for the compiler, the column types this SQL binds and reads.

use std::fmt;

use async_trait::async_trait;
use miniapp_core::clock::{ClockExt, SharedClock, SystemClock};
use miniapp_core::event::{EventKind, ProviderEvent};
use miniapp_core::ids::{PaymentId, ProviderId, ProviderRef, UserId};
use miniapp_core::ledger::{
    Balance, ChargeRefund, CheckoutRecord, ClaimOutcome, EntryKind, EventReceipt, HeldEvent,
    HistoryPage, HistoryQuery, LedgerError, LedgerStore, NewPayment, Notification,
    NotificationOutbox, RefundQueue, SpendReceipt, SpendRequest, plan_event, plan_spend,
};
use miniapp_core::payment::{NoEffect, Payment, RefundPolicy, transition};
use sqlx::{
    AssertSqlSafe, ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Transaction, Type,
};

use crate::dialect::Dialect;
use crate::error::{is_unique_violation, map_err};
use crate::rows::{
    BalanceRow, CursorRow, HeldRow, JournalRow, OutboxRow, PaymentBalanceRow, PaymentRow,
    PaymentUpdate, RefundRow, journal_columns, outbox_columns, payment_columns, refund_columns,
    signed,
};

/// A [`LedgerStore`] and [`NotificationOutbox`] on a sqlx pool: use it as [`PgLedgerStore`]
/// (PostgreSQL) or [`SqliteLedgerStore`] (SQLite), whose pages say how each database is
/// configured and locked.
///
/// Timestamps (`created_at`, `updated_at`, journal and event times) come from the store's clock,
/// the system clock unless [`SqlLedgerStore::with_clock`] says otherwise.
///
/// [`PgLedgerStore`]: crate::PgLedgerStore
/// [`SqliteLedgerStore`]: crate::SqliteLedgerStore
pub struct SqlLedgerStore<DB: Dialect> {
    pub(crate) pool: Pool<DB>,
    clock: SharedClock,
    /// Shared by clones: a hook registered on one clone hears the changes made through all.
    hooks: std::sync::Arc<miniapp_core::ledger::StatusHooks>,
}

impl<DB: Dialect> Clone for SqlLedgerStore<DB> {
    fn clone(&self) -> Self {
        SqlLedgerStore {
            pool: self.pool.clone(),
            clock: self.clock.clone(),
            hooks: self.hooks.clone(),
        }
    }
}

impl<DB: Dialect> fmt::Debug for SqlLedgerStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlLedgerStore")
            .field("pool", &self.pool)
            .field("clock", &self.clock)
            .finish()
    }
}

impl<DB: Dialect> SqlLedgerStore<DB> {
    /// A store on an existing pool (configure it as the backend's `connect` does).
    pub fn new(pool: Pool<DB>) -> SqlLedgerStore<DB> {
        SqlLedgerStore {
            pool,
            clock: SystemClock::shared(),
            hooks: std::sync::Arc::default(),
        }
    }

    /// Timestamps from `clock` instead of the system clock (tests move time with
    /// [`ManualClock`](miniapp_core::clock::ManualClock)).
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> SqlLedgerStore<DB> {
        self.clock = clock;
        self
    }

    /// The pool, for health checks and for tables of your own.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.unix_now()
    }
}

impl<DB: Dialect> SqlLedgerStore<DB>
where
    DB::Connection: sqlx::migrate::Migrate,
{
    /// Applies the embedded migrations ([`POSTGRES_MIGRATOR`](crate::POSTGRES_MIGRATOR) or
    /// [`SQLITE_MIGRATOR`](crate::SQLITE_MIGRATOR)). Idempotent, and safe when several instances
    /// start at once: sqlx serializes them (an advisory lock on PostgreSQL).
    ///
    /// # Errors
    /// [`LedgerError`] when the database is unreachable or a migration fails.
    pub async fn migrate(&self) -> Result<(), LedgerError> {
        DB::migrator()
            .run(&self.pool)
            .await
            .map_err(|e| map_err(e.into()))
    }
}

/// `sql` followed by the dialect's row lock.
pub(crate) fn locked<DB: Dialect>(sql: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!("{sql}{}", DB::ROW_LOCK))
}

/// The user's balance row, created when missing and locked for the rest of `tx`.
pub(crate) async fn locked_balance<DB>(
    tx: &mut Transaction<'static, DB>,
    user: i64,
) -> Result<Balance, LedgerError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
{
    sqlx::query("INSERT INTO miniapp_balances (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(user)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    let row: BalanceRow = sqlx::query_as(locked::<DB>(
        "SELECT user_id, balance, total_deposited, total_spent FROM miniapp_balances \
         WHERE user_id = $1",
    ))
    .bind(user)
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)?;
    row.into_balance()
}

#[async_trait]
impl<DB> LedgerStore for SqlLedgerStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i32: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    i64: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    String: Type<DB> + for<'r> Decode<'r, DB>,
    for<'a> &'a str: Type<DB> + Encode<'a, DB>,
    for<'a> Option<&'a str>: Type<DB> + Encode<'a, DB>,
    Option<i64>: Type<DB> + for<'q> Encode<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
{
    async fn create_payment(&self, new: NewPayment) -> Result<Payment, LedgerError> {
        let by_key = concat!(
            "SELECT ",
            payment_columns!(),
            " FROM miniapp_payments WHERE user_id = $1 AND idempotency_key = $2"
        );
        let mut tx = DB::begin_write(&self.pool).await.map_err(map_err)?;
        if let Some(key) = &new.idempotency_key {
            let existing: Option<PaymentRow> = sqlx::query_as(by_key)
                .bind(new.user_id.get())
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if let Some(row) = existing {
                let first = row.into_payment()?;
                return if new.same_order(&first) {
                    Ok(first)
                } else {
                    Err(LedgerError::IdempotencyConflict)
                };
            }
        }
        let t = signed(self.now())?;
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
        // A conflict: a concurrent request with the same key won the race (its row is committed
        // and visible now), or the payment id is already taken.
        if let Some(key) = &new.idempotency_key {
            let existing: Option<PaymentRow> = sqlx::query_as(by_key)
                .bind(new.user_id.get())
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if let Some(first) = existing.map(PaymentRow::into_payment).transpose()?
                && new.same_order(&first)
            {
                return Ok(first);
            }
        }
        Err(LedgerError::IdempotencyConflict)
    }

    async fn attach_checkout(
        &self,
        id: &PaymentId,
        checkout: &CheckoutRecord,
    ) -> Result<Payment, LedgerError> {
        let mut tx = DB::begin_write(&self.pool).await.map_err(map_err)?;
        let row: Option<PaymentRow> = sqlx::query_as(locked::<DB>(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM miniapp_payments WHERE id = $1"
        )))
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
        .bind(signed(self.now())?)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                LedgerError::CheckoutConflict
            } else {
                map_err(e)
            }
        })?;
        let before = payment.status;
        let payment = updated.into_payment()?;
        tx.commit().await.map_err(map_err)?;
        if payment.status != before {
            self.hooks.announce(&payment.id);
        }
        Ok(payment)
    }

    async fn apply_event(
        &self,
        provider: &ProviderId,
        event: &ProviderEvent,
        policy: RefundPolicy,
    ) -> Result<EventReceipt, LedgerError> {
        let mut tx = DB::begin_write(&self.pool).await.map_err(map_err)?;
        // 1. The payment, locked.
        let rows: Vec<PaymentRow> = match &event.payment_id {
            Some(id) => sqlx::query_as(locked::<DB>(concat!(
                "SELECT ",
                payment_columns!(),
                " FROM miniapp_payments WHERE id = $1"
            )))
            .bind(id.as_str()),
            None => sqlx::query_as(locked::<DB>(concat!(
                "SELECT ",
                payment_columns!(),
                " FROM miniapp_payments \
                 WHERE provider = $1 AND (checkout_ref = $2 OR payment_ref = $2) LIMIT 2"
            )))
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
        let t = self.now();
        // 2. The event id, recorded once with what it did: a redelivery stops here. The outcome
        //    is the state machine's on the locked payment, the same one step 4 persists.
        let no_effect = transition(&payment, event).no_effect;
        let recorded = sqlx::query(
            "INSERT INTO miniapp_provider_events (provider, event_id, payment_id, kind, \
             received_at, provider_ref, no_effect) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT DO NOTHING",
        )
        .bind(provider.as_str())
        .bind(event.id.as_str())
        .bind(payment.id.as_str())
        .bind(event.kind.name())
        .bind(signed(t)?)
        .bind(event.provider_ref.as_str())
        .bind(no_effect.map(NoEffect::as_str))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if DB::rows_affected(&recorded) == 0 {
            return Ok(EventReceipt::redelivered(payment));
        }
        // 3. The buyer's balance, locked.
        let balance = locked_balance(&mut tx, payment.user_id.get()).await?;
        // 4. The decision, made by the core.
        let plan = plan_event(&payment, &balance, event, policy, t)?;
        // 5. Persist: journal rows (the trigger moves the cached balance and checks it), then the
        //    payment.
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
            .bind(
                plan.payment
                    .payment_ref
                    .as_ref()
                    .filter(|_| credit)
                    .map(|r| r.as_str()),
            )
            .bind(signed(t)?)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        if plan.credited > 0 {
            // The notification, in the credit's transaction: once per payment (primary key).
            sqlx::query(
                "INSERT INTO miniapp_outbox (payment_id, user_id, tokens, amount_minor, currency, \
                 exponent, language, created_at, provider) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
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
        if let (Some(NoEffect::DuplicateCharge), EventKind::Succeeded { amount }) =
            (plan.no_effect, &event.kind)
        {
            // The extra charge, queued for its refund in the transaction that records it: once
            // per (provider, charge), whichever event reports it.
            sqlx::query(
                "INSERT INTO miniapp_refund_queue (provider, charge_ref, payment_id, user_id, \
                 amount_minor, currency, exponent, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(provider.as_str())
            .bind(event.provider_ref.as_str())
            .bind(payment.id.as_str())
            .bind(payment.user_id.get())
            .bind(signed(amount.minor_units())?)
            .bind(amount.currency().code())
            .bind(i32::from(amount.currency().exponent()))
            .bind(signed(t)?)
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
                 updated_at = $12, refund_facts = $13, failure_reason = $14 WHERE id = $1",
            )
            .bind(payment.id.as_str())
            .bind(u.status)
            .bind(u.payment_ref.as_deref())
            .bind(u.paid_minor)
            .bind(u.paid_currency.as_deref())
            .bind(u.closure)
            .bind(u.refunded_minor)
            .bind(u.dispute)
            .bind(u.tokens_credited)
            .bind(u.tokens_reversed)
            .bind(u.tokens_written_off)
            .bind(u.updated_at)
            .bind(u.refund_facts.as_str())
            .bind(u.failure_reason)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        if plan.payment.status != payment.status {
            self.hooks.announce(&payment.id);
        }
        Ok(plan.into_receipt(payment.status))
    }

    async fn provider_cursor(&self, provider: &ProviderId) -> Result<Option<String>, LedgerError> {
        let row: Option<CursorRow> =
            sqlx::query_as("SELECT cursor FROM miniapp_provider_cursors WHERE provider = $1")
                .bind(provider.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(row.map(|r| r.cursor))
    }

    async fn save_provider_cursor(
        &self,
        provider: &ProviderId,
        cursor: &str,
    ) -> Result<(), LedgerError> {
        let cursor: String = cursor.chars().take(500).collect();
        sqlx::query(
            "INSERT INTO miniapp_provider_cursors (provider, cursor, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (provider) DO UPDATE SET cursor = excluded.cursor, \
             updated_at = excluded.updated_at",
        )
        .bind(provider.as_str())
        .bind(cursor.as_str())
        .bind(signed(self.now())?)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn hold_event(
        &self,
        provider: &ProviderId,
        event: &ProviderEvent,
    ) -> Result<(), LedgerError> {
        let body = serde_json::to_string(event).map_err(|e| LedgerError::Backend(e.into()))?;
        sqlx::query(
            "INSERT INTO miniapp_held_events (provider, event_id, provider_ref, kind, event, \
             received_at) SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM \
             miniapp_provider_events WHERE provider = $1 AND event_id = $2) ON CONFLICT DO NOTHING",
        )
        .bind(provider.as_str())
        .bind(event.id.as_str())
        .bind(event.provider_ref.as_str())
        .bind(event.kind.name())
        .bind(body.as_str())
        .bind(signed(self.now())?)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn held_events(
        &self,
        charge: Option<(&ProviderId, &ProviderRef)>,
        received_from: u64,
        limit: u32,
    ) -> Result<Vec<HeldEvent>, LedgerError> {
        let rows: Vec<HeldRow> = sqlx::query_as(
            "SELECT h.provider, h.event, h.received_at FROM miniapp_held_events h \
             WHERE (($1 IS NULL AND EXISTS (SELECT 1 FROM miniapp_payments p \
             WHERE p.provider = h.provider AND p.payment_ref = h.provider_ref)) \
             OR (h.provider = $1 AND h.provider_ref = $2)) \
             AND h.received_at >= $3 AND NOT EXISTS (SELECT 1 FROM miniapp_provider_events e \
             WHERE e.provider = h.provider AND e.event_id = h.event_id) \
             ORDER BY h.received_at, h.provider, h.event_id LIMIT $4",
        )
        .bind(charge.map(|(p, _)| p.as_str()))
        .bind(charge.map(|(_, r)| r.as_str()))
        .bind(signed(received_from)?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        // One row this binary cannot read (written by a newer one, say) must not hide the rest.
        Ok(rows
            .into_iter()
            .filter_map(|row| match row.into_held() {
                Ok(held) => Some(held),
                Err(e) => {
                    tracing::warn!(error = %e, "a held event could not be read; skipped");
                    None
                }
            })
            .collect())
    }

    async fn spend(&self, request: &SpendRequest) -> Result<SpendReceipt, LedgerError> {
        let user = request.user_id.get();
        let mut tx = DB::begin_write(&self.pool).await.map_err(map_err)?;
        let balance = locked_balance(&mut tx, user).await?;
        let first: Option<JournalRow> = sqlx::query_as(concat!(
            "SELECT ",
            journal_columns!(),
            " FROM miniapp_journal WHERE user_id = $1 AND kind = 'spend' AND idempotency_key = $2"
        ))
        .bind(user)
        .bind(request.idempotency_key.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(first) = first {
            let entry = first.into_entry()?;
            return if entry.delta == -request.amount.as_i64() {
                Ok(SpendReceipt {
                    entry,
                    replayed: true,
                })
            } else {
                Err(LedgerError::IdempotencyConflict)
            };
        }
        let after = plan_spend(&balance, request.amount)?;
        let memo: Option<String> = request
            .memo
            .as_deref()
            .map(|m| m.chars().take(200).collect());
        let row: JournalRow = sqlx::query_as(concat!(
            "INSERT INTO miniapp_journal (user_id, kind, delta, balance_after, idempotency_key, \
             memo, created_at) VALUES ($1, 'spend', $2, $3, $4, $5, $6) RETURNING ",
            journal_columns!()
        ))
        .bind(user)
        .bind(-request.amount.as_i64())
        .bind(after.balance)
        .bind(request.idempotency_key.as_str())
        .bind(memo.as_deref())
        .bind(signed(self.now())?)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let entry = row.into_entry()?;
        tx.commit().await.map_err(map_err)?;
        Ok(SpendReceipt {
            entry,
            replayed: false,
        })
    }

    async fn balance(&self, user: UserId) -> Result<Balance, LedgerError> {
        let row: Option<BalanceRow> = sqlx::query_as(
            "SELECT user_id, balance, total_deposited, total_spent FROM miniapp_balances \
             WHERE user_id = $1",
        )
        .bind(user.get())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        match row {
            Some(row) => row.into_balance(),
            None => Ok(Balance::empty(user)),
        }
    }

    async fn payment(&self, id: &PaymentId) -> Result<Option<Payment>, LedgerError> {
        let row: Option<PaymentRow> = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM miniapp_payments WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(PaymentRow::into_payment).transpose()
    }

    async fn abandon_checkout_attempt(
        &self,
        id: &PaymentId,
        failed: u32,
    ) -> Result<Payment, LedgerError> {
        // One statement: the conditions make a concurrent give-up or attach win cleanly.
        let moved: Option<PaymentRow> = sqlx::query_as(concat!(
            "UPDATE miniapp_payments SET checkout_attempt = checkout_attempt + 1, updated_at = $3 \
             WHERE id = $1 AND checkout_attempt = $2 AND checkout_ref IS NULL \
             AND status = 'created' RETURNING ",
            payment_columns!()
        ))
        .bind(id.as_str())
        .bind(i64::from(failed))
        .bind(signed(self.now())?)
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
        user: UserId,
        created_from: u64,
    ) -> Result<Vec<Payment>, LedgerError> {
        let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM miniapp_payments \
             WHERE user_id = $1 AND status IN ('created', 'pending') AND created_at >= $2 \
             ORDER BY created_at DESC, id DESC LIMIT 100"
        ))
        .bind(user.get())
        .bind(clamp(created_from))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(PaymentRow::into_payment).collect()
    }

    async fn unstarted_payments(
        &self,
        created_before: u64,
        limit: u32,
    ) -> Result<Vec<Payment>, LedgerError> {
        let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM miniapp_payments WHERE status = 'created' AND created_at < $1 \
             ORDER BY created_at, id LIMIT $2"
        ))
        .bind(clamp(created_before))
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
        before_id: Option<&PaymentId>,
        limit: u32,
    ) -> Result<Vec<Payment>, LedgerError> {
        let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM miniapp_payments \
             WHERE status = 'pending' AND created_at >= $1 AND created_at <= $2 \
             AND (created_at < $2 OR $3 IS NULL OR id < $3) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(clamp(created_from))
        .bind(clamp(created_to))
        .bind(before_id.map(PaymentId::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(PaymentRow::into_payment).collect()
    }

    async fn payment_with_balance(
        &self,
        user: UserId,
        id: &PaymentId,
    ) -> Result<(Payment, Balance), LedgerError> {
        // One round trip: status polling is the hottest read. The balance columns are renamed in
        // a subquery so the payment's unqualified column names stay unique.
        let row: Option<PaymentBalanceRow> = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            ", b_balance, b_deposited, b_spent \
             FROM miniapp_payments LEFT JOIN (SELECT user_id AS b_user, balance AS b_balance, \
             total_deposited AS b_deposited, total_spent AS b_spent FROM miniapp_balances) b \
             ON b.b_user = miniapp_payments.user_id WHERE id = $1 AND user_id = $2"
        ))
        .bind(id.as_str())
        .bind(user.get())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.ok_or(LedgerError::UnknownPayment)?
            .into_payment_and_balance()
    }

    async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    fn watch_status(&self, hook: miniapp_core::ledger::StatusHook) -> bool {
        self.hooks.add(hook);
        true
    }

    async fn history(&self, user: UserId, query: HistoryQuery) -> Result<HistoryPage, LedgerError> {
        let limit = query.clamped_limit();
        let rows: Vec<JournalRow> = sqlx::query_as(concat!(
            "SELECT ",
            journal_columns!(),
            " FROM miniapp_journal WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
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
        Ok(HistoryPage {
            entries,
            next_before,
        })
    }
}

/// The columns a finished claim of either queue writes: its state (`done` names the queue's
/// final state), when it is due again, and the error (at most 500 characters).
fn finished(
    outcome: &ClaimOutcome,
    done: &'static str,
) -> Result<(&'static str, i64, Option<String>), LedgerError> {
    let short = |e: &str| Some(e.chars().take(500).collect::<String>());
    Ok(match outcome {
        ClaimOutcome::Done => (done, 0, None),
        ClaimOutcome::Retry { not_before, error } => {
            ("pending", signed(*not_before)?, short(error))
        }
        ClaimOutcome::Failed { error } => ("failed", 0, short(error)),
        _ => return Err(LedgerError::Corrupt("unknown claim outcome".into())),
    })
}

/// Unix seconds past `i64::MAX` cannot be stored: a time window simply ends there.
fn clamp(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

#[async_trait]
impl<DB> NotificationOutbox for SqlLedgerStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i32: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    i64: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    String: Type<DB> + for<'r> Decode<'r, DB>,
    for<'a> &'a str: Type<DB> + Encode<'a, DB>,
    for<'a> Option<&'a str>: Type<DB> + Encode<'a, DB>,
    Option<i64>: Type<DB> + for<'q> Encode<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
{
    async fn claim_notifications(
        &self,
        now: u64,
        lease_secs: u64,
        limit: u32,
    ) -> Result<Vec<Notification>, LedgerError> {
        let now = signed(now)?;
        let mut tx = DB::begin_write(&self.pool).await.map_err(map_err)?;
        // A claim that outlived its lease has an unknown outcome: never resend it.
        sqlx::query(
            "UPDATE miniapp_outbox SET state = 'unknown', finished_at = $1 \
             WHERE state = 'sending' AND claimed_until < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let claim = format!(
            "UPDATE miniapp_outbox SET state = 'sending', claimed_until = $2 WHERE payment_id IN \
             (SELECT payment_id FROM miniapp_outbox WHERE state = 'pending' AND not_before <= $1 \
             ORDER BY not_before, created_at LIMIT $3{}) RETURNING {}",
            DB::SKIP_LOCKED,
            outbox_columns!()
        );
        let rows: Vec<OutboxRow> = sqlx::query_as(AssertSqlSafe(claim))
            .bind(now)
            .bind(now.saturating_add(signed(lease_secs)?))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let claimed = rows
            .into_iter()
            .map(OutboxRow::into_notification)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(map_err)?;
        Ok(claimed)
    }

    async fn finish_notification(
        &self,
        payment: &PaymentId,
        outcome: &ClaimOutcome,
        now: u64,
    ) -> Result<(), LedgerError> {
        let (state, not_before, error) = finished(outcome, "sent")?;
        let done = sqlx::query(
            "UPDATE miniapp_outbox SET state = $2, attempts = attempts + 1, not_before = $3, \
             last_error = $4, claimed_until = NULL, \
             finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE $5 END \
             WHERE payment_id = $1 AND state = 'sending'",
        )
        .bind(payment.as_str())
        .bind(state)
        .bind(not_before)
        .bind(error.as_deref())
        .bind(signed(now)?)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if DB::rows_affected(&done) == 0 {
            return Err(LedgerError::UnknownPayment);
        }
        Ok(())
    }
}

#[async_trait]
impl<DB> RefundQueue for SqlLedgerStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i32: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    i64: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>,
    String: Type<DB> + for<'r> Decode<'r, DB>,
    for<'a> &'a str: Type<DB> + Encode<'a, DB>,
    for<'a> Option<&'a str>: Type<DB> + Encode<'a, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
{
    async fn claim_refunds(
        &self,
        now: u64,
        lease_secs: u64,
        limit: u32,
    ) -> Result<Vec<ChargeRefund>, LedgerError> {
        let now = signed(now)?;
        let mut tx = DB::begin_write(&self.pool).await.map_err(map_err)?;
        // Due: pending and past `not_before`, or claimed by a worker whose lease ran out (asking
        // the provider again refunds once: the charge is its idempotency key).
        let claim = format!(
            "UPDATE miniapp_refund_queue SET state = 'claimed', claimed_until = $2 \
             WHERE (provider, charge_ref) IN (SELECT provider, charge_ref FROM miniapp_refund_queue \
             WHERE (state = 'pending' AND not_before <= $1) OR (state = 'claimed' AND claimed_until < $1) \
             ORDER BY not_before, created_at LIMIT $3{}) RETURNING {}",
            DB::SKIP_LOCKED,
            refund_columns!()
        );
        let rows: Vec<RefundRow> = sqlx::query_as(AssertSqlSafe(claim))
            .bind(now)
            .bind(now.saturating_add(signed(lease_secs)?))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let claimed = rows
            .into_iter()
            .map(RefundRow::into_refund)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(map_err)?;
        Ok(claimed)
    }

    async fn finish_refund(
        &self,
        provider: &ProviderId,
        charge: &ProviderRef,
        outcome: &ClaimOutcome,
        now: u64,
    ) -> Result<(), LedgerError> {
        let (state, not_before, error) = finished(outcome, "refunded")?;
        let done = sqlx::query(
            "UPDATE miniapp_refund_queue SET state = $3, attempts = attempts + 1, not_before = $4, \
             last_error = $5, claimed_until = NULL, \
             finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $6 END \
             WHERE provider = $1 AND charge_ref = $2 AND state = 'claimed'",
        )
        .bind(provider.as_str())
        .bind(charge.as_str())
        .bind(state)
        .bind(not_before)
        .bind(error.as_deref())
        .bind(signed(now)?)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if DB::rows_affected(&done) == 0 {
            return Err(LedgerError::UnknownPayment);
        }
        Ok(())
    }
}
