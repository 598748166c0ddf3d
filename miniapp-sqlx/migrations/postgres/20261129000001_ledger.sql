-- miniapp ledger schema (PostgreSQL). The money rules live in miniapp-core; these constraints make
-- the database refuse any state those rules can never produce.

CREATE TABLE miniapp_payments (
    id                 TEXT PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    user_id            BIGINT NOT NULL CHECK (user_id > 0),
    provider           TEXT NOT NULL,
    method             TEXT NOT NULL,
    tokens             BIGINT NOT NULL CHECK (tokens > 0),
    price_minor        BIGINT NOT NULL CHECK (price_minor > 0),
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
    paid_minor         BIGINT CHECK (paid_minor >= 0),
    paid_currency      TEXT,
    closure            TEXT CHECK (closure IN ('expired', 'canceled', 'failed')),
    refunded_minor     BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor BETWEEN 0 AND price_minor),
    dispute            TEXT NOT NULL DEFAULT 'none' CHECK (dispute IN ('none', 'open', 'won', 'lost')),
    tokens_credited    BIGINT NOT NULL DEFAULT 0 CHECK (tokens_credited IN (0, tokens)),
    tokens_reversed    BIGINT NOT NULL DEFAULT 0 CHECK (tokens_reversed BETWEEN 0 AND tokens_credited),
    tokens_written_off BIGINT NOT NULL DEFAULT 0 CHECK (tokens_written_off BETWEEN 0 AND tokens_reversed),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    CHECK ((paid_minor IS NULL) = (paid_currency IS NULL)),
    CHECK (status IN ('created', 'pending', 'failed', 'expired', 'canceled') OR paid_minor IS NOT NULL),
    UNIQUE (user_id, idempotency_key),
    UNIQUE (provider, checkout_ref),
    UNIQUE (provider, payment_ref)
);

-- Every provider event applied, once: a redelivery finds its row and changes nothing.
CREATE TABLE miniapp_provider_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    payment_id  TEXT NOT NULL REFERENCES miniapp_payments (id),
    kind        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- The cached balance. Only the journal trigger below writes it.
CREATE TABLE miniapp_balances (
    user_id         BIGINT PRIMARY KEY CHECK (user_id > 0),
    balance         BIGINT NOT NULL DEFAULT 0,
    total_deposited BIGINT NOT NULL DEFAULT 0 CHECK (total_deposited >= 0),
    total_spent     BIGINT NOT NULL DEFAULT 0 CHECK (total_spent >= 0)
);

-- The append-only journal; balance == sum(delta) per user at every commit.
CREATE TABLE miniapp_journal (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT NOT NULL CHECK (user_id > 0),
    kind            TEXT NOT NULL CHECK (kind IN ('credit', 'spend', 'clawback')),
    delta           BIGINT NOT NULL CHECK ((kind = 'credit') = (delta > 0) AND delta <> 0),
    balance_after   BIGINT NOT NULL,
    payment_id      TEXT REFERENCES miniapp_payments (id),
    provider        TEXT,
    provider_ref    TEXT,
    idempotency_key TEXT,
    memo            TEXT,
    created_at      BIGINT NOT NULL,
    -- Below zero only through a clawback.
    CHECK (balance_after >= 0 OR kind = 'clawback'),
    CHECK (kind <> 'credit' OR (payment_id IS NOT NULL AND provider IS NOT NULL AND provider_ref IS NOT NULL)),
    CHECK (kind <> 'clawback' OR payment_id IS NOT NULL),
    CHECK (kind <> 'spend' OR idempotency_key IS NOT NULL)
);

CREATE UNIQUE INDEX miniapp_journal_one_credit_per_provider_payment
    ON miniapp_journal (provider, provider_ref) WHERE kind = 'credit';
CREATE UNIQUE INDEX miniapp_journal_one_credit_per_payment
    ON miniapp_journal (payment_id) WHERE kind = 'credit';
CREATE UNIQUE INDEX miniapp_journal_one_spend_per_key
    ON miniapp_journal (user_id, idempotency_key) WHERE kind = 'spend';
CREATE INDEX miniapp_journal_by_user ON miniapp_journal (user_id, id DESC);

-- The cached balance moves with each journal row, in the same transaction, and must land exactly
-- on the row's balance_after.
CREATE FUNCTION miniapp_journal_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_balance BIGINT;
BEGIN
    INSERT INTO miniapp_balances (user_id) VALUES (NEW.user_id) ON CONFLICT (user_id) DO NOTHING;
    UPDATE miniapp_balances
       SET balance = balance + NEW.delta,
           total_deposited = total_deposited + CASE WHEN NEW.kind = 'credit' THEN NEW.delta ELSE 0 END,
           total_spent = total_spent - CASE WHEN NEW.kind = 'spend' THEN NEW.delta ELSE 0 END
     WHERE user_id = NEW.user_id
     RETURNING balance INTO new_balance;
    IF new_balance <> NEW.balance_after THEN
        RAISE EXCEPTION 'miniapp: journal balance_after % does not match balance %', NEW.balance_after, new_balance;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER miniapp_journal_apply AFTER INSERT ON miniapp_journal
    FOR EACH ROW EXECUTE FUNCTION miniapp_journal_apply();

CREATE FUNCTION miniapp_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'miniapp: % is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER miniapp_journal_append_only BEFORE UPDATE OR DELETE ON miniapp_journal
    FOR EACH ROW EXECUTE FUNCTION miniapp_refuse_change();
CREATE TRIGGER miniapp_events_append_only BEFORE UPDATE OR DELETE ON miniapp_provider_events
    FOR EACH ROW EXECUTE FUNCTION miniapp_refuse_change();
