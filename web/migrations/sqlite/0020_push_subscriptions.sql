-- no-transaction
-- Web Push (issue 14): a user's browser subscribed to the farm's alerts. Each subscription is
-- one `webpush` channel of the farm (so the outbox, its de-duplication, quiet hours and the
-- stored attempts are the same as for mail and webhooks) and one `push_subscriptions` row with
-- what the browser's push service gave: the endpoint URL and the keys the payload is encrypted
-- to (RFC 8291). Every row has its farm and its user. The server's VAPID key is the
-- `server_keys` row `vapid`.
-- SQLite cannot change a CHECK constraint: `alert_channels` and `alert_deliveries` are rebuilt
-- with the same rows, with foreign keys off so the rows that refer to them stay (SQLite's
-- documented procedure), hence an explicit transaction instead of sqlx's own.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE alert_channels_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id             INTEGER NOT NULL REFERENCES farms(id),
    kind                TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'webpush')),
    target              TEXT NOT NULL,
    secret              TEXT,
    enabled             INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    quiet_from          INTEGER CHECK (quiet_from BETWEEN 0 AND 1439),
    quiet_to            INTEGER CHECK (quiet_to BETWEEN 0 AND 1439),
    escalate_after_min  INTEGER CHECK (escalate_after_min BETWEEN 1 AND 10080),
    CHECK (kind <> 'webhook' OR secret IS NOT NULL)
);
INSERT INTO alert_channels_new (id, farm_id, kind, target, secret, enabled, created_at,
    quiet_from, quiet_to, escalate_after_min)
SELECT id, farm_id, kind, target, secret, enabled, created_at, quiet_from, quiet_to,
    escalate_after_min FROM alert_channels;
DROP TABLE alert_channels;
ALTER TABLE alert_channels_new RENAME TO alert_channels;
CREATE INDEX alert_channels_farm ON alert_channels(farm_id);
CREATE TABLE alert_deliveries_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    alert_id    INTEGER NOT NULL REFERENCES alerts(id),
    event       TEXT NOT NULL CHECK (event IN ('opened', 'resolved')),
    channel     TEXT NOT NULL CHECK (channel IN ('webhook', 'email', 'webpush')),
    target      TEXT NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    status      TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
    error       TEXT,
    at          TEXT NOT NULL
);
INSERT INTO alert_deliveries_new SELECT id, farm_id, alert_id, event, channel, target, attempt,
    status, error, at FROM alert_deliveries;
DROP TABLE alert_deliveries;
ALTER TABLE alert_deliveries_new RENAME TO alert_deliveries;
CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id, at);
CREATE TABLE push_subscriptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    -- The farm's `webpush` channel this browser is.
    channel_id  INTEGER NOT NULL UNIQUE REFERENCES alert_channels(id),
    endpoint    TEXT NOT NULL CHECK (length(endpoint) BETWEEN 12 AND 2048),
    -- base64url without padding: the browser's P-256 key (65 bytes) and auth secret (16).
    p256dh      TEXT NOT NULL CHECK (length(p256dh) = 87),
    auth        TEXT NOT NULL CHECK (length(auth) = 22),
    created_at  TEXT NOT NULL,
    -- A browser subscribed twice on one farm is one row; another farm's row is its own.
    UNIQUE (farm_id, endpoint)
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);
COMMIT;
PRAGMA foreign_keys = ON;
