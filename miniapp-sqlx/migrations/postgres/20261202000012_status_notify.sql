-- Every change of a payment's status is announced at commit on the channel
-- miniapp_payment_status (payload: the payment id), whatever wrote it: this instance, another
-- one, the sweep, the operator's CLI. A page waiting for the status (payment-status?wait=) is
-- answered by the instance that holds its request. NOTIFY is delivered only if the transaction
-- commits, and only once per payload per transaction.
CREATE OR REPLACE FUNCTION miniapp_notify_status() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('miniapp_payment_status', NEW.id);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER miniapp_payment_status_changed
  AFTER UPDATE OF status ON miniapp_payments
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION miniapp_notify_status();
