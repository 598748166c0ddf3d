-- The operator path (`full_bot admin`): adjustments by a person, with who and why, in the same
-- append-only journal (balance = sum of the journal still holds), and resolutions of anomalies.
-- And `restore`: tokens given back when a refund that had taken them failed.
-- SQLite cannot change a CHECK constraint, so the journal is rebuilt with its rows, ids,
-- indexes and triggers (DROP TABLE fires no DELETE trigger; nothing references the journal).
CREATE TABLE miniapp_journal_v8 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL CHECK (user_id > 0),
    kind            TEXT NOT NULL CHECK (kind IN ('credit', 'spend', 'clawback', 'adjustment',
                        'restore')),
    delta           INTEGER NOT NULL CHECK (delta <> 0 AND CASE kind WHEN 'credit' THEN delta > 0
                        WHEN 'restore' THEN delta > 0 WHEN 'adjustment' THEN 1 ELSE delta < 0 END),
    balance_after   INTEGER NOT NULL,
    payment_id      TEXT REFERENCES miniapp_payments (id),
    provider        TEXT,
    provider_ref    TEXT,
    idempotency_key TEXT,
    memo            TEXT,
    created_at      INTEGER NOT NULL,
    actor           TEXT CHECK (length(actor) BETWEEN 1 AND 64),
    -- Only a clawback takes a balance below zero; a positive entry may leave a debt smaller (the
    -- first schema refused that, so a user in debt could not be credited).
    CHECK (balance_after >= 0 OR kind = 'clawback' OR delta > 0),
    CHECK (kind <> 'credit' OR (payment_id IS NOT NULL AND provider IS NOT NULL AND provider_ref IS NOT NULL)),
    CHECK (kind <> 'clawback' OR payment_id IS NOT NULL),
    CHECK (kind <> 'restore' OR payment_id IS NOT NULL),
    CHECK (kind <> 'spend' OR idempotency_key IS NOT NULL),
    CHECK (kind <> 'adjustment' OR (actor IS NOT NULL AND memo IS NOT NULL AND idempotency_key IS NOT NULL))
) STRICT;
INSERT INTO miniapp_journal_v8 (id, user_id, kind, delta, balance_after, payment_id, provider,
    provider_ref, idempotency_key, memo, created_at)
    SELECT id, user_id, kind, delta, balance_after, payment_id, provider, provider_ref,
           idempotency_key, memo, created_at FROM miniapp_journal;
DROP TABLE miniapp_journal;
ALTER TABLE miniapp_journal_v8 RENAME TO miniapp_journal;

CREATE UNIQUE INDEX miniapp_journal_one_credit_per_provider_payment
    ON miniapp_journal (provider, provider_ref) WHERE kind = 'credit';
CREATE UNIQUE INDEX miniapp_journal_one_credit_per_payment
    ON miniapp_journal (payment_id) WHERE kind = 'credit';
CREATE UNIQUE INDEX miniapp_journal_one_spend_per_key
    ON miniapp_journal (user_id, idempotency_key) WHERE kind = 'spend';
CREATE UNIQUE INDEX miniapp_journal_one_adjustment_per_key
    ON miniapp_journal (user_id, idempotency_key) WHERE kind = 'adjustment';
CREATE INDEX miniapp_journal_by_user ON miniapp_journal (user_id, id DESC);

CREATE TRIGGER miniapp_journal_apply AFTER INSERT ON miniapp_journal
BEGIN
    INSERT OR IGNORE INTO miniapp_balances (user_id) VALUES (NEW.user_id);
    UPDATE miniapp_balances
       SET balance = balance + NEW.delta,
           total_deposited = total_deposited + CASE WHEN NEW.kind = 'credit' THEN NEW.delta ELSE 0 END,
           total_spent = total_spent - CASE WHEN NEW.kind = 'spend' THEN NEW.delta ELSE 0 END
     WHERE user_id = NEW.user_id;
    SELECT RAISE(ABORT, 'miniapp: journal balance_after does not match the balance')
     WHERE (SELECT balance FROM miniapp_balances WHERE user_id = NEW.user_id) <> NEW.balance_after;
END;
CREATE TRIGGER miniapp_journal_no_update BEFORE UPDATE ON miniapp_journal
BEGIN
    SELECT RAISE(ABORT, 'miniapp: miniapp_journal is append-only');
END;
CREATE TRIGGER miniapp_journal_no_delete BEFORE DELETE ON miniapp_journal
BEGIN
    SELECT RAISE(ABORT, 'miniapp: miniapp_journal is append-only');
END;

CREATE TABLE miniapp_resolutions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id  TEXT NOT NULL REFERENCES miniapp_payments (id),
    action      TEXT NOT NULL CHECK (action IN ('credit', 'refund', 'dismiss')),
    actor       TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 64),
    reason      TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX miniapp_resolutions_payment ON miniapp_resolutions (payment_id);
CREATE TRIGGER miniapp_resolutions_no_update BEFORE UPDATE ON miniapp_resolutions
BEGIN
    SELECT RAISE(ABORT, 'miniapp: miniapp_resolutions is append-only');
END;
CREATE TRIGGER miniapp_resolutions_no_delete BEFORE DELETE ON miniapp_resolutions
BEGIN
    SELECT RAISE(ABORT, 'miniapp: miniapp_resolutions is append-only');
END;
