-- Payment-success notifications, written in the credit's transaction (at most one per payment)
-- and delivered by the bot with retries.

ALTER TABLE miniapp_payments ADD COLUMN language TEXT CHECK (length(language) <= 16);

CREATE TABLE miniapp_outbox (
    payment_id    TEXT PRIMARY KEY REFERENCES miniapp_payments (id),
    user_id       BIGINT NOT NULL CHECK (user_id > 0),
    tokens        BIGINT NOT NULL CHECK (tokens > 0),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency      TEXT NOT NULL,
    exponent      INTEGER NOT NULL,
    language      TEXT,
    state         TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    not_before    BIGINT NOT NULL DEFAULT 0,
    claimed_until BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    finished_at   BIGINT
);
CREATE INDEX miniapp_outbox_due ON miniapp_outbox (not_before) WHERE state = 'pending';
