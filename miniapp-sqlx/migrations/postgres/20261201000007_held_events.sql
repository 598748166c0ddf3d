-- Refunds and disputes that arrived before the success that makes their payment known (they
-- name only the charge; Stripe does not order its events), kept until it lands. A held event is
-- released by applying it: once its id is in miniapp_provider_events it is no longer listed, so
-- it is applied exactly once, by whichever instance gets there first. Rows are never changed.
CREATE TABLE miniapp_held_events (
    provider     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    provider_ref TEXT NOT NULL,
    kind         TEXT NOT NULL,
    event        TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX miniapp_held_events_charge ON miniapp_held_events (provider, provider_ref);
CREATE INDEX miniapp_held_events_received ON miniapp_held_events (received_at);
