-- Staff alerts (issue 14): the city's own alert, "a district's data missing for a day", with
-- its rule, channels, alerts, outbox and delivery attempts in tables of their own. None of
-- them has a farm column and no farm query reads them: a farm's credentials reach only rows
-- named by their farm, and these rows are named by nothing a farm has. The farm tables keep
-- "every row belongs to a farm" as it was.

-- The one city-wide rule (id 1, made on first save): on/off and the Asia/Tokyo hour of the
-- next day after which a day without data counts as missing.
CREATE TABLE staff_alert_rule (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    enabled     INTEGER NOT NULL DEFAULT 0,
    after_hour  INTEGER NOT NULL CHECK (after_hour BETWEEN 0 AND 23),
    updated_by  INTEGER REFERENCES users(id),
    updated_at  TEXT NOT NULL
);

-- The districts the rule watches.
CREATE TABLE staff_alert_districts (
    district_id  INTEGER PRIMARY KEY REFERENCES districts(id)
);

-- Where staff alerts go: a signed webhook (secret = the HMAC key), an e-mail address, or a
-- staff member's browser (`webpush`, its subscription in `staff_push_subscriptions`).
CREATE TABLE staff_alert_channels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'webpush')),
    target      TEXT NOT NULL,
    secret      TEXT,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_by  INTEGER REFERENCES users(id),
    created_at  TEXT NOT NULL,
    CHECK (kind <> 'webhook' OR secret IS NOT NULL)
);

-- One alert per district and Asia/Tokyo day (`YYYY-MM-DD`), ever: it opens once, clears once.
CREATE TABLE staff_alerts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    district_id      INTEGER NOT NULL REFERENCES districts(id),
    day              TEXT NOT NULL CHECK (length(day) = 10),
    -- The silent farms' names when it opened.
    detail           TEXT NOT NULL DEFAULT '',
    opened_at        TEXT NOT NULL,
    resolved_at      TEXT,
    acknowledged_at  TEXT,
    acknowledged_by  INTEGER REFERENCES users(id),
    UNIQUE (district_id, day)
);
CREATE INDEX staff_alerts_open ON staff_alerts(id) WHERE resolved_at IS NULL;

-- Queued in the alert change's transaction, claimed for a lease, marked done, as
-- `alert_outbox`.
CREATE TABLE staff_alert_outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id       INTEGER NOT NULL REFERENCES staff_alerts(id),
    event          TEXT NOT NULL CHECK (event IN ('opened', 'resolved')),
    channel_id     INTEGER NOT NULL REFERENCES staff_alert_channels(id),
    notice_json    TEXT NOT NULL,
    due_at         TEXT NOT NULL,
    claimed_until  TEXT,
    done_at        TEXT,
    outcome        TEXT CHECK (outcome IS NULL OR outcome IN ('sent', 'failed', 'skipped')),
    created_at     TEXT NOT NULL,
    UNIQUE (alert_id, event, channel_id)
);
CREATE INDEX staff_alert_outbox_due ON staff_alert_outbox(due_at) WHERE done_at IS NULL;

CREATE TABLE staff_alert_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id    INTEGER NOT NULL REFERENCES staff_alerts(id),
    event       TEXT NOT NULL CHECK (event IN ('opened', 'resolved')),
    channel     TEXT NOT NULL CHECK (channel IN ('webhook', 'email', 'webpush')),
    target      TEXT NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    status      TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
    error       TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX staff_alert_deliveries_alert ON staff_alert_deliveries(alert_id, at);

-- A staff member's browser subscribed to the staff alerts (as `push_subscriptions` is for a
-- farm's): one `webpush` staff channel each, with the endpoint and the keys the payload is
-- encrypted to (RFC 8291).
CREATE TABLE staff_push_subscriptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    channel_id  INTEGER NOT NULL UNIQUE REFERENCES staff_alert_channels(id),
    endpoint    TEXT NOT NULL UNIQUE CHECK (length(endpoint) BETWEEN 12 AND 2048),
    p256dh      TEXT NOT NULL CHECK (length(p256dh) = 87),
    auth        TEXT NOT NULL CHECK (length(auth) = 22),
    created_at  TEXT NOT NULL
);
