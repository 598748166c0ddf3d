//! [`LedgerAdmin`] on the SQL stores: what `full_bot admin` reads and does. Writes take the same
//! locks in the same order as the ledger (payment, then balance), so they serialize with
//! webhooks and spends.

use async_trait::async_trait;
use miniapp_core::ids::{IdempotencyKey, PaymentId, UserId};
use miniapp_core::ledger::{
    AdjustReceipt, Anomalies, AuditReport, EntryKind, JournalEntry, LedgerAdmin, LedgerError,
    OperatorNote, QueuedRefund, RecordedEvent, Resolution, ResolutionRecord, plan_adjustment,
    plan_resolution,
};
use miniapp_core::payment::Payment;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use crate::dialect::Dialect;
use crate::error::map_err;
use crate::rows::{
    BalanceSumRow, CountRow, CreditRow, EventRow, HeldRow, JournalRow, PaymentRow, QueuedRefundRow,
    ResolutionRow, TotalRow, UnsentRow, journal_columns, payment_columns, signed,
};
use crate::store::{SqlLedgerStore, locked, locked_balance};

/// Held events younger than this are in transit (their success is on its way), not anomalies.
const UNMATCHED_AFTER_SECS: u64 = 3600;
/// Held events older than this are no longer retried (Stripe retries a webhook for three days,
/// so their success never comes): events of another product on the same account, which stop
/// being listed then instead of staying an anomaly nobody can resolve.
const UNMATCHED_UNTIL_SECS: u64 = 3 * 24 * 3600;

const EVENT_COLUMNS: &str =
    "e.provider, e.event_id, e.payment_id, e.kind, e.provider_ref, e.no_effect, e.received_at";
const REFUND_COLUMNS: &str = "payment_id, provider, charge_ref, amount_minor, currency, \
     exponent, reason, state, attempts, last_error";

#[async_trait]
impl<DB> LedgerAdmin for SqlLedgerStore<DB>
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
    async fn payment_events(&self, id: &PaymentId) -> Result<Vec<RecordedEvent>, LedgerError> {
        let rows: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM miniapp_provider_events e WHERE e.payment_id = $1 \
             ORDER BY e.received_at, e.event_id"
        )))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(EventRow::into_recorded).collect()
    }

    async fn payment_journal(&self, id: &PaymentId) -> Result<Vec<JournalEntry>, LedgerError> {
        let rows: Vec<JournalRow> = sqlx::query_as(concat!(
            "SELECT ",
            journal_columns!(),
            " FROM miniapp_journal WHERE payment_id = $1 ORDER BY id"
        ))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(JournalRow::into_entry).collect()
    }

    async fn payment_refunds(&self, id: &PaymentId) -> Result<Vec<QueuedRefund>, LedgerError> {
        let rows: Vec<QueuedRefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REFUND_COLUMNS} FROM miniapp_refund_queue WHERE payment_id = $1 \
             ORDER BY created_at, charge_ref"
        )))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(QueuedRefundRow::into_queued).collect()
    }

    async fn resolutions(&self, id: &PaymentId) -> Result<Vec<ResolutionRecord>, LedgerError> {
        let rows: Vec<ResolutionRow> = sqlx::query_as(
            "SELECT payment_id, action, actor, reason, created_at FROM miniapp_resolutions \
             WHERE payment_id = $1 ORDER BY id",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(ResolutionRow::into_record).collect()
    }

    async fn anomalies(&self, now: u64, limit: u32) -> Result<Anomalies, LedgerError> {
        let limit = i64::from(limit.clamp(1, 10_000));
        let conflicted: Vec<PaymentRow> = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM miniapp_payments WHERE status = 'conflicted' AND NOT EXISTS \
             (SELECT 1 FROM miniapp_resolutions r WHERE r.payment_id = miniapp_payments.id) \
             ORDER BY updated_at DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        // An event stops being an anomaly when a person resolved its payment after it arrived
        // (a refund of a payment credited by hand, arriving later, is shown again), and a
        // duplicate charge and its refund event when the charge is refunded.
        let events: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM miniapp_provider_events e \
             WHERE e.no_effect IS NOT NULL AND e.no_effect <> 'already_known' \
             AND NOT EXISTS (SELECT 1 FROM miniapp_resolutions r WHERE r.payment_id = e.payment_id \
             AND r.created_at >= e.received_at) \
             AND NOT EXISTS (SELECT 1 FROM miniapp_refund_queue q WHERE q.provider = e.provider \
             AND q.charge_ref = e.provider_ref AND q.state = 'refunded') \
             ORDER BY e.received_at DESC, e.event_id LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        // A failed refund stays listed until it is retried or a person dismisses it (refunded
        // it by hand) after it failed.
        let refunds: Vec<QueuedRefundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REFUND_COLUMNS} FROM miniapp_refund_queue q \
             WHERE state IN ('pending', 'claimed', 'failed') AND NOT (state = 'failed' AND \
             EXISTS (SELECT 1 FROM miniapp_resolutions r WHERE r.payment_id = q.payment_id \
             AND r.action = 'dismiss' AND r.created_at >= COALESCE(q.finished_at, q.created_at))) \
             ORDER BY created_at DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let unmatched: Vec<HeldRow> = sqlx::query_as(
            "SELECT h.provider, h.event, h.received_at FROM miniapp_held_events h \
             WHERE h.received_at < $1 AND h.received_at >= $3 AND NOT EXISTS \
             (SELECT 1 FROM miniapp_provider_events e \
             WHERE e.provider = h.provider AND e.event_id = h.event_id) \
             ORDER BY h.received_at DESC LIMIT $2",
        )
        .bind(signed(now.saturating_sub(UNMATCHED_AFTER_SECS))?)
        .bind(limit)
        .bind(signed(now.saturating_sub(UNMATCHED_UNTIL_SECS))?)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let notifications: Vec<UnsentRow> = sqlx::query_as(
            "SELECT payment_id, user_id, state, last_error FROM miniapp_outbox o \
             WHERE state IN ('failed', 'unknown') AND NOT EXISTS \
             (SELECT 1 FROM miniapp_resolutions r WHERE r.payment_id = o.payment_id \
             AND r.created_at >= o.created_at) \
             ORDER BY created_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(Anomalies {
            conflicted: conflicted
                .into_iter()
                .map(PaymentRow::into_payment)
                .collect::<Result<_, _>>()?,
            events: events
                .into_iter()
                .map(EventRow::into_recorded)
                .collect::<Result<_, _>>()?,
            refunds: refunds
                .into_iter()
                .map(QueuedRefundRow::into_queued)
                .collect::<Result<_, _>>()?,
            // A row this binary cannot read must not hide every other anomaly.
            unmatched: unmatched
                .into_iter()
                .filter_map(|row| row.into_held().ok())
                .collect(),
            notifications: notifications
                .into_iter()
                .map(UnsentRow::into_unsent)
                .collect::<Result<_, _>>()?,
        })
    }

    async fn resolve(
        &self,
        id: &PaymentId,
        resolution: Resolution,
        note: &OperatorNote,
    ) -> Result<Payment, LedgerError> {
        let t = signed(self.now())?;
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
        let balance = locked_balance(&mut tx, payment.user_id.get()).await?;
        let failed: CountRow = sqlx::query_as(
            "SELECT COUNT(*) AS n FROM miniapp_refund_queue WHERE payment_id = $1 \
             AND state = 'failed'",
        )
        .bind(payment.id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let plan = plan_resolution(
            &payment,
            &balance,
            resolution,
            u64::try_from(failed.n).unwrap_or(0),
        )?;
        if let Some((tokens, balance_after)) = plan.credit {
            // The one credit this payment can have (the unique credit indexes hold it to that),
            // with its notification, as an ordinary credit does.
            sqlx::query(
                "INSERT INTO miniapp_journal (user_id, kind, delta, balance_after, payment_id, \
                 provider, provider_ref, memo, actor, created_at) \
                 VALUES ($1, 'credit', $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(payment.user_id.get())
            .bind(tokens)
            .bind(balance_after)
            .bind(payment.id.as_str())
            .bind(payment.provider.as_str())
            .bind(payment.payment_ref.as_ref().map(|r| r.as_str()))
            .bind(note.reason())
            .bind(note.actor())
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            sqlx::query(
                "UPDATE miniapp_payments SET tokens_credited = $2, updated_at = $3 WHERE id = $1",
            )
            .bind(payment.id.as_str())
            .bind(tokens)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            sqlx::query(
                "INSERT INTO miniapp_outbox (payment_id, user_id, tokens, amount_minor, currency, \
                 exponent, language, created_at, provider) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            )
            .bind(payment.id.as_str())
            .bind(payment.user_id.get())
            .bind(tokens)
            .bind(signed(payment.price.minor_units())?)
            .bind(payment.price.currency().code())
            .bind(i32::from(payment.price.currency().exponent()))
            .bind(payment.language.as_deref())
            .bind(t)
            .bind(payment.provider.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        if plan.refund_own_charge
            && let (Some(charge), Some(paid)) = (&payment.payment_ref, payment.facts.paid)
        {
            sqlx::query(
                "INSERT INTO miniapp_refund_queue (provider, charge_ref, payment_id, user_id, \
                 amount_minor, currency, exponent, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'operator', $8) ON CONFLICT DO NOTHING",
            )
            .bind(payment.provider.as_str())
            .bind(charge.as_str())
            .bind(payment.id.as_str())
            .bind(payment.user_id.get())
            .bind(signed(paid.minor_units())?)
            .bind(paid.currency().code())
            .bind(i32::from(paid.currency().exponent()))
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        if plan.retry_failed_refunds {
            sqlx::query(
                "UPDATE miniapp_refund_queue SET state = 'pending', not_before = 0, \
                 claimed_until = NULL WHERE payment_id = $1 AND state = 'failed'",
            )
            .bind(payment.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        sqlx::query(
            "INSERT INTO miniapp_resolutions (payment_id, action, actor, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(payment.id.as_str())
        .bind(resolution.as_str())
        .bind(note.actor())
        .bind(note.reason())
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let row: PaymentRow = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM miniapp_payments WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        row.into_payment()
    }

    async fn adjust(
        &self,
        user: UserId,
        delta: i64,
        note: &OperatorNote,
        key: &IdempotencyKey,
    ) -> Result<AdjustReceipt, LedgerError> {
        let select = concat!(
            "SELECT ",
            journal_columns!(),
            " FROM miniapp_journal WHERE user_id = $1 AND idempotency_key = $2 \
             AND kind = 'adjustment'"
        );
        let mut tx = DB::begin_write(&self.pool).await.map_err(map_err)?;
        let balance = locked_balance(&mut tx, user.get()).await?;
        let first: Option<JournalRow> = sqlx::query_as(select)
            .bind(user.get())
            .bind(key.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(first) = first {
            let entry = first.into_entry()?;
            if entry.delta != delta {
                return Err(LedgerError::IdempotencyConflict);
            }
            return Ok(AdjustReceipt {
                entry,
                replayed: true,
            });
        }
        let after = plan_adjustment(&balance, delta)?;
        sqlx::query(
            "INSERT INTO miniapp_journal (user_id, kind, delta, balance_after, idempotency_key, \
             memo, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user.get())
        .bind(EntryKind::Adjustment.as_str())
        .bind(delta)
        .bind(after)
        .bind(key.as_str())
        .bind(note.reason())
        .bind(note.actor())
        .bind(signed(self.now())?)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let entry: JournalRow = sqlx::query_as(select)
            .bind(user.get())
            .bind(key.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(AdjustReceipt {
            entry: entry.into_entry()?,
            replayed: false,
        })
    }

    async fn audit(&self) -> Result<AuditReport, LedgerError> {
        // Sums are cast back to BIGINT: PostgreSQL sums BIGINTs as NUMERIC.
        let balances: Vec<BalanceSumRow> = sqlx::query_as(
            "SELECT b.user_id, b.balance, CAST(COALESCE(SUM(j.delta), 0) AS BIGINT) AS journal_sum \
             FROM miniapp_balances b LEFT JOIN miniapp_journal j ON j.user_id = b.user_id \
             GROUP BY b.user_id, b.balance \
             HAVING b.balance <> CAST(COALESCE(SUM(j.delta), 0) AS BIGINT) ORDER BY b.user_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let credits: Vec<CreditRow> = sqlx::query_as(
            "SELECT p.id, p.tokens_credited, COUNT(j.id) AS lines, \
             CAST(COALESCE(SUM(j.delta), 0) AS BIGINT) AS credited \
             FROM miniapp_payments p LEFT JOIN miniapp_journal j \
             ON j.payment_id = p.id AND j.kind = 'credit' GROUP BY p.id, p.tokens_credited \
             HAVING COUNT(j.id) <> CASE WHEN p.tokens_credited > 0 THEN 1 ELSE 0 END \
             OR CAST(COALESCE(SUM(j.delta), 0) AS BIGINT) <> p.tokens_credited ORDER BY p.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let totals: Vec<TotalRow> = sqlx::query_as(
            "SELECT provider, currency, COUNT(*) AS paid_payments, \
             CAST(SUM(price_minor) AS BIGINT) AS paid_minor, \
             CAST(SUM(refunded_minor) AS BIGINT) AS refunded_minor, \
             CAST(SUM(tokens_credited) AS BIGINT) AS tokens_credited, \
             CAST(SUM(tokens_reversed) AS BIGINT) AS tokens_reversed \
             FROM miniapp_payments WHERE tokens_credited > 0 OR status IN ('succeeded', \
             'partially_refunded', 'refunded', 'disputed') \
             GROUP BY provider, currency ORDER BY provider, currency",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let count = |sql: &'static str| async move {
            sqlx::query_as::<DB, CountRow>(sql)
                .fetch_one(&self.pool)
                .await
                .map(|r| u64::try_from(r.n).unwrap_or(0))
                .map_err(map_err)
        };
        Ok(AuditReport {
            balance_mismatches: balances
                .into_iter()
                .map(|r| {
                    let user = UserId::new(r.user_id)
                        .ok_or_else(|| LedgerError::Corrupt("user id".into()))?;
                    Ok((user, r.balance, r.journal_sum))
                })
                .collect::<Result<_, LedgerError>>()?,
            credit_mismatches: credits
                .into_iter()
                .map(CreditRow::into_mismatch)
                .collect::<Result<_, _>>()?,
            users: count("SELECT COUNT(*) AS n FROM miniapp_balances").await?,
            journal_lines: count("SELECT COUNT(*) AS n FROM miniapp_journal").await?,
            totals: totals
                .into_iter()
                .map(TotalRow::into_total)
                .collect::<Result<_, _>>()?,
        })
    }

    async fn journal_since(
        &self,
        since: u64,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<JournalEntry>, LedgerError> {
        let rows: Vec<JournalRow> = sqlx::query_as(concat!(
            "SELECT ",
            journal_columns!(),
            " FROM miniapp_journal WHERE created_at >= $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(signed(since)?)
        .bind(after_id)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter().map(JournalRow::into_entry).collect()
    }
}
