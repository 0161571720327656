-- Alerts, first slice: per-farm rules over the parlor facts, the alerts they open and resolve,
-- where a farm wants them delivered, and every delivery attempt. Every row has its farm.
CREATE TABLE alert_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    kind        TEXT NOT NULL CHECK (kind IN ('parlor_offline', 'parlor_stopped', 'low_throughput')),
    -- NULL: every parlor of the farm.
    parlor_id   INTEGER REFERENCES parlors(id),
    minutes     INTEGER NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    -- cows/h for low_throughput; NULL for the other kinds.
    threshold   REAL CHECK (threshold IS NULL OR threshold > 0),
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL
);
CREATE INDEX alert_rules_farm ON alert_rules(farm_id);

-- Where a farm's alerts go: a signed webhook (secret = the HMAC key) or an e-mail address.
CREATE TABLE alert_channels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    kind        TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
    target      TEXT NOT NULL,
    secret      TEXT,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    CHECK (kind <> 'webhook' OR secret IS NOT NULL)
);
CREATE INDEX alert_channels_farm ON alert_channels(farm_id);

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id          INTEGER NOT NULL REFERENCES farms(id),
    rule_id          INTEGER NOT NULL REFERENCES alert_rules(id),
    -- What the rule saw, e.g. `parlor:7`: one rule may watch several parlors.
    condition_key    TEXT NOT NULL,
    parlor_id        INTEGER REFERENCES parlors(id),
    opened_at        TEXT NOT NULL,
    resolved_at      TEXT,
    acknowledged_at  TEXT,
    acknowledged_by  INTEGER REFERENCES users(id)
);
-- At most one open alert per condition: a second evaluation while it is open opens nothing.
CREATE UNIQUE INDEX alerts_one_open ON alerts(rule_id, condition_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_farm ON alerts(farm_id, opened_at);

CREATE TABLE alert_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    alert_id    INTEGER NOT NULL REFERENCES alerts(id),
    -- Which message: the alert opening or its resolution.
    event       TEXT NOT NULL CHECK (event IN ('opened', 'resolved')),
    channel     TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
    target      TEXT NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    status      TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
    error       TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id, at);
