-- A payment's checkout attempt: moved on (only while no checkout is attached) when the provider
-- failed, so the next request uses a fresh provider idempotency key instead of replaying a stored
-- error. Never negative.
ALTER TABLE miniapp_payments ADD COLUMN checkout_attempt BIGINT NOT NULL DEFAULT 0 CHECK (checkout_attempt >= 0);

-- The abuse limits count a user's open payments; the sweep closes payments whose checkout never
-- opened. Both look only at open rows, so partial indexes stay small however many settle.
CREATE INDEX miniapp_payments_open_by_user ON miniapp_payments (user_id, created_at) WHERE status IN ('created', 'pending');
CREATE INDEX miniapp_payments_unstarted ON miniapp_payments (created_at, id) WHERE status = 'created';

-- The provider of a notification's payment (a test provider's message says so), copied from the
-- payment for the rows written before this column.
ALTER TABLE miniapp_outbox ADD COLUMN provider TEXT NOT NULL DEFAULT '';
UPDATE miniapp_outbox SET provider = (SELECT p.provider FROM miniapp_payments p WHERE p.id = miniapp_outbox.payment_id);
