-- The operator path (`full_bot admin`): adjustments by a person, with who and why, in the same
-- append-only journal (balance = sum of the journal still holds), and resolutions of anomalies.
-- And `restore`: tokens given back when a refund that had taken them failed.
ALTER TABLE miniapp_journal ADD COLUMN actor TEXT CHECK (length(actor) BETWEEN 1 AND 64);
ALTER TABLE miniapp_journal DROP CONSTRAINT miniapp_journal_kind_check;
ALTER TABLE miniapp_journal ADD CONSTRAINT miniapp_journal_kind_check
    CHECK (kind IN ('credit', 'spend', 'clawback', 'adjustment', 'restore'));
ALTER TABLE miniapp_journal DROP CONSTRAINT miniapp_journal_check;
ALTER TABLE miniapp_journal ADD CONSTRAINT miniapp_journal_delta_sign CHECK (
    delta <> 0 AND CASE kind WHEN 'credit' THEN delta > 0 WHEN 'restore' THEN delta > 0
                             WHEN 'adjustment' THEN true ELSE delta < 0 END);
-- Only a clawback takes a balance below zero; a positive entry (a credit, a restore, an
-- adjustment) may leave a debt smaller but still below zero. The first schema refused that, so a
-- user in debt could not be credited for a payment.
ALTER TABLE miniapp_journal DROP CONSTRAINT miniapp_journal_check1;
ALTER TABLE miniapp_journal ADD CONSTRAINT miniapp_journal_below_zero
    CHECK (balance_after >= 0 OR kind = 'clawback' OR delta > 0);
ALTER TABLE miniapp_journal ADD CONSTRAINT miniapp_journal_restore_has_payment CHECK (
    kind <> 'restore' OR payment_id IS NOT NULL);
-- An adjustment says who made it, why (memo), and under which key (a repeated command is a no-op).
ALTER TABLE miniapp_journal ADD CONSTRAINT miniapp_journal_adjustment_attributed CHECK (
    kind <> 'adjustment' OR (actor IS NOT NULL AND memo IS NOT NULL AND idempotency_key IS NOT NULL));
CREATE UNIQUE INDEX miniapp_journal_one_adjustment_per_key
    ON miniapp_journal (user_id, idempotency_key) WHERE kind = 'adjustment';

CREATE TABLE miniapp_resolutions (
    id          BIGSERIAL PRIMARY KEY,
    payment_id  TEXT NOT NULL REFERENCES miniapp_payments (id),
    action      TEXT NOT NULL CHECK (action IN ('credit', 'refund', 'dismiss')),
    actor       TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 64),
    reason      TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    created_at  BIGINT NOT NULL
);
CREATE INDEX miniapp_resolutions_payment ON miniapp_resolutions (payment_id);
CREATE TRIGGER miniapp_resolutions_append_only BEFORE UPDATE OR DELETE ON miniapp_resolutions
    FOR EACH ROW EXECUTE FUNCTION miniapp_refuse_change();
