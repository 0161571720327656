-- The alert delivery outbox: one row per (alert, message, channel), written in the same
-- transaction as the alert's opening or resolution, so an alert opened just before a crash
-- is still sent after the restart. A server claims a row for a lease before it sends (two
-- servers never both send it; a crashed one's claim runs out); `done_at` marks it finished.
-- The unique key keeps one message per alert, event and channel.
CREATE TABLE alert_outbox (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id        BIGINT NOT NULL REFERENCES farms(id),
    alert_id       BIGINT NOT NULL REFERENCES alerts(id),
    event          TEXT NOT NULL CHECK (event IN ('opened', 'resolved')),
    channel_id     BIGINT NOT NULL REFERENCES alert_channels(id),
    -- What to say (the notice as the service made it, JSON).
    notice_json    TEXT NOT NULL,
    due_at         TIMESTAMPTZ NOT NULL,
    claimed_until  TIMESTAMPTZ,
    done_at        TIMESTAMPTZ,
    -- sent; failed (every retry failed); skipped (channel disabled, alert acknowledged, …).
    outcome        TEXT CHECK (outcome IS NULL OR outcome IN ('sent', 'failed', 'skipped')),
    created_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (alert_id, event, channel_id)
);
CREATE INDEX alert_outbox_due ON alert_outbox(due_at) WHERE done_at IS NULL;
