-- What each event was about and, when it changed nothing, why: a duplicate charge, a refund of
-- another charge or a currency mismatch stays findable after the log line scrolled away.
-- Rows written before this migration have NULL in both columns.
ALTER TABLE miniapp_provider_events ADD COLUMN provider_ref TEXT;
ALTER TABLE miniapp_provider_events ADD COLUMN no_effect TEXT;
CREATE INDEX miniapp_provider_events_anomalies ON miniapp_provider_events (received_at)
    WHERE no_effect IS NOT NULL AND no_effect <> 'already_known';
