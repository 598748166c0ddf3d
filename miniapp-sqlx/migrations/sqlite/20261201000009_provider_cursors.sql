-- Where the catch-up from each provider's own history (Stripe's event list, Telegram's Star
-- transactions) stopped: the events before it were applied.
CREATE TABLE miniapp_provider_cursors (
    provider   TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL CHECK (length(cursor) <= 500),
    updated_at INTEGER NOT NULL
) STRICT;
