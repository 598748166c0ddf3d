-- The reconciliation sweep lists pending payments by age; the partial index keeps that cheap
-- however many settled payments accumulate.
CREATE INDEX miniapp_payments_pending ON miniapp_payments (created_at, id) WHERE status = 'pending';
