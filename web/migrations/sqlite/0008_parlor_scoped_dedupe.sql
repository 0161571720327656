-- Dedupe keys (`{parlor}/{start_ms}`, `{parlor}/{bail}/{epoch}/{seq}`, …) were unique across all
-- farms, so two farms with a parlor of the same name, or one farm's bridge token re-sending
-- another farm's keys, silently dropped each other's records. A key is now unique per parlor,
-- and a parlor belongs to one farm (parlors stay UNIQUE (farm_id, name)).
-- SQLite cannot drop an inline UNIQUE constraint: each table is rebuilt with the same columns.

CREATE TABLE milking_events_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    parlor_id          INTEGER NOT NULL REFERENCES parlors(id),
    dedupe_key         TEXT NOT NULL,
    t                  TEXT NOT NULL,
    controller_t       INTEGER,
    bail               INTEGER NOT NULL,
    epoch              INTEGER NOT NULL,
    seq                INTEGER NOT NULL,
    cow_id             INTEGER NOT NULL,
    yield_kg           REAL NOT NULL,
    duration_s         REAL,
    conductivity       REAL,
    high_conductivity  INTEGER NOT NULL,
    missed_before      INTEGER NOT NULL,
    UNIQUE (parlor_id, dedupe_key)
);
INSERT INTO milking_events_new (id, parlor_id, dedupe_key, t, controller_t, bail, epoch, seq,
    cow_id, yield_kg, duration_s, conductivity, high_conductivity, missed_before)
SELECT id, parlor_id, dedupe_key, t, controller_t, bail, epoch, seq,
    cow_id, yield_kg, duration_s, conductivity, high_conductivity, missed_before
FROM milking_events;
DROP TABLE milking_events;
ALTER TABLE milking_events_new RENAME TO milking_events;
CREATE INDEX milking_events_parlor_t ON milking_events(parlor_id, t);

CREATE TABLE parlor_intervals_new (
    parlor_id      INTEGER NOT NULL REFERENCES parlors(id),
    dedupe_key     TEXT NOT NULL,
    start_t        TEXT NOT NULL,
    end_t          TEXT NOT NULL,
    online_s       REAL NOT NULL,
    cows           REAL NOT NULL,
    milk_kg        REAL NOT NULL,
    cows_per_hour_rolling REAL NOT NULL,
    milkings       INTEGER NOT NULL,
    rotation_s     REAL,
    occupancy      REAL,
    idle_bails     REAL NOT NULL,
    kickoffs       REAL NOT NULL,
    reattaches     REAL NOT NULL,
    stops          REAL NOT NULL,
    washes         INTEGER NOT NULL,
    alerts         INTEGER NOT NULL,
    state          TEXT NOT NULL,
    PRIMARY KEY (parlor_id, start_t),
    UNIQUE (parlor_id, dedupe_key)
);
INSERT INTO parlor_intervals_new (parlor_id, dedupe_key, start_t, end_t, online_s, cows, milk_kg,
    cows_per_hour_rolling, milkings, rotation_s, occupancy, idle_bails, kickoffs, reattaches,
    stops, washes, alerts, state)
SELECT parlor_id, dedupe_key, start_t, end_t, online_s, cows, milk_kg,
    cows_per_hour_rolling, milkings, rotation_s, occupancy, idle_bails, kickoffs, reattaches,
    stops, washes, alerts, state
FROM parlor_intervals;
DROP TABLE parlor_intervals;
ALTER TABLE parlor_intervals_new RENAME TO parlor_intervals;

CREATE TABLE parlor_gaps_new (
    parlor_id             INTEGER NOT NULL REFERENCES parlors(id),
    dedupe_key            TEXT NOT NULL,
    start_t               TEXT NOT NULL,
    end_t                 TEXT NOT NULL,
    controller_restarted  INTEGER NOT NULL,
    UNIQUE (parlor_id, dedupe_key)
);
INSERT INTO parlor_gaps_new (parlor_id, dedupe_key, start_t, end_t, controller_restarted)
SELECT parlor_id, dedupe_key, start_t, end_t, controller_restarted FROM parlor_gaps;
DROP TABLE parlor_gaps;
ALTER TABLE parlor_gaps_new RENAME TO parlor_gaps;
CREATE INDEX parlor_gaps_parlor ON parlor_gaps(parlor_id, start_t);

CREATE TABLE parlor_sessions_new (
    parlor_id   INTEGER NOT NULL REFERENCES parlors(id),
    dedupe_key  TEXT NOT NULL,
    start_t     TEXT NOT NULL,
    end_t       TEXT NOT NULL,
    cows        REAL NOT NULL,
    milk_kg     REAL NOT NULL,
    UNIQUE (parlor_id, dedupe_key)
);
INSERT INTO parlor_sessions_new (parlor_id, dedupe_key, start_t, end_t, cows, milk_kg)
SELECT parlor_id, dedupe_key, start_t, end_t, cows, milk_kg FROM parlor_sessions;
DROP TABLE parlor_sessions;
ALTER TABLE parlor_sessions_new RENAME TO parlor_sessions;
CREATE INDEX parlor_sessions_parlor ON parlor_sessions(parlor_id, start_t);
