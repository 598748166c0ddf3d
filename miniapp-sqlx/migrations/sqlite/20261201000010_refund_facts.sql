-- Refunds reported one by one (Stripe's refund.* events), by refund id, as the core serialises
-- them ({"re_…": {"minor": 500, "failed": false}}): a refund that fails later gives back what its
-- clawback took, once.
ALTER TABLE miniapp_payments ADD COLUMN refund_facts TEXT NOT NULL DEFAULT '{}';
