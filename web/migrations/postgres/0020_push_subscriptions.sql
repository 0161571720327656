-- Web Push (issue 14): a user's browser subscribed to the farm's alerts. Each subscription is
-- one `webpush` channel of the farm (so the outbox, its de-duplication, quiet hours and the
-- stored attempts are the same as for mail and webhooks) and one `push_subscriptions` row with
-- what the browser's push service gave: the endpoint URL and the keys the payload is encrypted
-- to (RFC 8291). Every row has its farm and its user. The server's VAPID key is the
-- `server_keys` row `vapid`.
ALTER TABLE alert_channels DROP CONSTRAINT alert_channels_kind_check;
ALTER TABLE alert_channels ADD CONSTRAINT alert_channels_kind_check
    CHECK (kind IN ('webhook', 'email', 'webpush'));
ALTER TABLE alert_deliveries DROP CONSTRAINT alert_deliveries_channel_check;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_channel_check
    CHECK (channel IN ('webhook', 'email', 'webpush'));
CREATE TABLE push_subscriptions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id     BIGINT NOT NULL REFERENCES farms(id),
    user_id     BIGINT NOT NULL REFERENCES users(id),
    -- The farm's `webpush` channel this browser is.
    channel_id  BIGINT NOT NULL UNIQUE REFERENCES alert_channels(id),
    endpoint    TEXT NOT NULL CHECK (length(endpoint) BETWEEN 12 AND 2048),
    -- base64url without padding: the browser's P-256 key (65 bytes) and auth secret (16).
    p256dh      TEXT NOT NULL CHECK (length(p256dh) = 87),
    auth        TEXT NOT NULL CHECK (length(auth) = 22),
    created_at  TIMESTAMPTZ NOT NULL,
    -- A browser subscribed twice on one farm is one row; another farm's row is its own.
    UNIQUE (farm_id, endpoint)
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);
