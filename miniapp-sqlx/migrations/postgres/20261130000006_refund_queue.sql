-- Extra charges of paid payments (duplicate charges) to give back, written in the transaction
-- that records the duplicate: one row per (provider, charge), so no redelivery, restart or second
-- instance can queue a charge twice. Refunding is idempotent at the provider, so a claim whose
-- worker died is handed out again after its lease.
CREATE TABLE miniapp_refund_queue (
    provider      TEXT NOT NULL,
    charge_ref    TEXT NOT NULL,
    payment_id    TEXT NOT NULL REFERENCES miniapp_payments (id),
    user_id       BIGINT NOT NULL CHECK (user_id > 0),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency      TEXT NOT NULL,
    exponent      INTEGER NOT NULL,
    reason        TEXT NOT NULL DEFAULT 'duplicate_charge',
    state         TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'claimed', 'refunded', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    not_before    BIGINT NOT NULL DEFAULT 0,
    claimed_until BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    PRIMARY KEY (provider, charge_ref)
);
CREATE INDEX miniapp_refund_queue_due ON miniapp_refund_queue (not_before)
    WHERE state IN ('pending', 'claimed');
