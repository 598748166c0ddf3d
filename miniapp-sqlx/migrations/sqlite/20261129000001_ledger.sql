-- miniapp ledger schema (SQLite). Same invariants as the PostgreSQL schema, in SQLite's dialect.

CREATE TABLE miniapp_payments (
    id                 TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    user_id            INTEGER NOT NULL CHECK (user_id > 0),
    provider           TEXT NOT NULL,
    method             TEXT NOT NULL,
    tokens             INTEGER NOT NULL CHECK (tokens > 0),
    price_minor        INTEGER NOT NULL CHECK (price_minor > 0),
    currency           TEXT NOT NULL CHECK (length(currency) = 3),
    exponent           INTEGER NOT NULL CHECK (exponent BETWEEN 0 AND 4),
    email              TEXT,
    idempotency_key    TEXT,
    checkout_ref       TEXT,
    checkout_url       TEXT,
    payment_ref        TEXT,
    status             TEXT NOT NULL CHECK (status IN ('created', 'pending', 'succeeded',
                           'partially_refunded', 'refunded', 'disputed', 'failed', 'expired',
                           'canceled', 'conflicted')),
    paid_minor         INTEGER CHECK (paid_minor >= 0),
    paid_currency      TEXT,
    closure            TEXT CHECK (closure IN ('expired', 'canceled', 'failed')),
    refunded_minor     INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor BETWEEN 0 AND price_minor),
    dispute            TEXT NOT NULL DEFAULT 'none' CHECK (dispute IN ('none', 'open', 'won', 'lost')),
    tokens_credited    INTEGER NOT NULL DEFAULT 0 CHECK (tokens_credited IN (0, tokens)),
    tokens_reversed    INTEGER NOT NULL DEFAULT 0 CHECK (tokens_reversed BETWEEN 0 AND tokens_credited),
    tokens_written_off INTEGER NOT NULL DEFAULT 0 CHECK (tokens_written_off BETWEEN 0 AND tokens_reversed),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    CHECK ((paid_minor IS NULL) = (paid_currency IS NULL)),
    CHECK (status IN ('created', 'pending', 'failed', 'expired', 'canceled') OR paid_minor IS NOT NULL),
    UNIQUE (user_id, idempotency_key),
    UNIQUE (provider, checkout_ref),
    UNIQUE (provider, payment_ref)
) STRICT;

CREATE TABLE miniapp_provider_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    payment_id  TEXT NOT NULL REFERENCES miniapp_payments (id),
    kind        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
) STRICT;

CREATE TABLE miniapp_balances (
    user_id         INTEGER PRIMARY KEY CHECK (user_id > 0),
    balance         INTEGER NOT NULL DEFAULT 0,
    total_deposited INTEGER NOT NULL DEFAULT 0 CHECK (total_deposited >= 0),
    total_spent     INTEGER NOT NULL DEFAULT 0 CHECK (total_spent >= 0)
) STRICT;

CREATE TABLE miniapp_journal (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL CHECK (user_id > 0),
    kind            TEXT NOT NULL CHECK (kind IN ('credit', 'spend', 'clawback')),
    delta           INTEGER NOT NULL CHECK ((kind = 'credit') = (delta > 0) AND delta <> 0),
    balance_after   INTEGER NOT NULL,
    payment_id      TEXT REFERENCES miniapp_payments (id),
    provider        TEXT,
    provider_ref    TEXT,
    idempotency_key TEXT,
    memo            TEXT,
    created_at      INTEGER NOT NULL,
    CHECK (balance_after >= 0 OR kind = 'clawback'),
    CHECK (kind <> 'credit' OR (payment_id IS NOT NULL AND provider IS NOT NULL AND provider_ref IS NOT NULL)),
    CHECK (kind <> 'clawback' OR payment_id IS NOT NULL),
    CHECK (kind <> 'spend' OR idempotency_key IS NOT NULL)
) STRICT;

CREATE UNIQUE INDEX miniapp_journal_one_credit_per_provider_payment
    ON miniapp_journal (provider, provider_ref) WHERE kind = 'credit';
CREATE UNIQUE INDEX miniapp_journal_one_credit_per_payment
    ON miniapp_journal (payment_id) WHERE kind = 'credit';
CREATE UNIQUE INDEX miniapp_journal_one_spend_per_key
    ON miniapp_journal (user_id, idempotency_key) WHERE kind = 'spend';
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
CREATE TRIGGER miniapp_events_no_update BEFORE UPDATE ON miniapp_provider_events
BEGIN
    SELECT RAISE(ABORT, 'miniapp: miniapp_provider_events is append-only');
END;
CREATE TRIGGER miniapp_events_no_delete BEFORE DELETE ON miniapp_provider_events
BEGIN
    SELECT RAISE(ABORT, 'miniapp: miniapp_provider_events is append-only');
END;
