-- Why a payment, or an attempt at it, failed, as the core's stable code (card_declined,
-- insufficient_funds, expired_card, incorrect_cvc, authentication_failed, processing_error,
-- other): the first reason a provider reported. NULL when none was. No CHECK on the values, so
-- a code added later does not need a migration (an older binary reads it back as `other`).
ALTER TABLE miniapp_payments ADD COLUMN failure_reason TEXT;
