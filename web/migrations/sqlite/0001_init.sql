-- agriops storage, SQLite flavour. Timestamps are RFC 3339 UTC text (sqlx's chrono encoding).
CREATE TABLE districts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT NOT NULL UNIQUE,
    name_ja     TEXT NOT NULL,
    name_en     TEXT NOT NULL
);
INSERT INTO districts (code, name_ja, name_en) VALUES
    ('kuroiso', '黒磯', 'Kuroiso'),
    ('nishinasuno', '西那須野', 'Nishinasuno'),
    ('shiobara', '塩原', 'Shiobara');

CREATE TABLE farms (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    district_id INTEGER NOT NULL REFERENCES districts(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('crop', 'dairy', 'mixed')),
    address     TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    UNIQUE (district_id, name)
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'farmer', 'dairy')),
    farm_id       INTEGER REFERENCES farms(id),
    lang          TEXT NOT NULL DEFAULT 'ja' CHECK (lang IN ('ja', 'en')),
    created_at    TEXT NOT NULL,
    CHECK (role IN ('admin', 'staff') OR farm_id IS NOT NULL)
);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE fields (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id          INTEGER NOT NULL REFERENCES farms(id),
    name             TEXT NOT NULL,
    crop             TEXT NOT NULL DEFAULT '',
    fude_polygon_id  TEXT,
    land_type        TEXT,
    geojson          TEXT NOT NULL,
    area_ha          REAL NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX fields_farm ON fields(farm_id);

CREATE TABLE plans (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    field_id     INTEGER NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    config_json  TEXT NOT NULL,
    report_json  TEXT NOT NULL,
    plan_file    TEXT NOT NULL,
    geojson      TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX plans_field ON plans(field_id);

CREATE TABLE vehicles (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id          INTEGER NOT NULL REFERENCES farms(id),
    registration_no  TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    autopilot        TEXT NOT NULL CHECK (autopilot IN ('ardupilot', 'px4')),
    link_address     TEXT NOT NULL,
    created_at       TEXT NOT NULL
);

CREATE TABLE flights (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id          INTEGER NOT NULL REFERENCES farms(id),
    field_id         INTEGER REFERENCES fields(id),
    plan_id          INTEGER REFERENCES plans(id),
    vehicle_id       INTEGER REFERENCES vehicles(id),
    status           TEXT NOT NULL CHECK (status IN ('planned', 'uploading', 'flying', 'paused', 'completed', 'aborted', 'failed')),
    started_at       TEXT,
    ended_at         TEXT,
    sprayed_area_m2  REAL,
    litres           REAL,
    summary_json     TEXT NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL
);
CREATE INDEX flights_farm ON flights(farm_id, created_at);

CREATE TABLE flight_samples (
    flight_id    INTEGER NOT NULL REFERENCES flights(id) ON DELETE CASCADE,
    t            TEXT NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL,
    alt_m        REAL NOT NULL,
    spray        INTEGER NOT NULL,
    battery_pct  REAL,
    PRIMARY KEY (flight_id, t)
);

CREATE TABLE parlors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    name        TEXT NOT NULL,
    bails       INTEGER CHECK (bails BETWEEN 1 AND 200),
    created_at  TEXT NOT NULL,
    UNIQUE (farm_id, name)
);

CREATE TABLE bridge_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- One row per accepted batch: a batch key seen again is a replay and changes nothing.
CREATE TABLE ingest_batches (
    token_id         INTEGER NOT NULL REFERENCES bridge_tokens(id),
    batch_key        TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    n_records        INTEGER NOT NULL,
    n_accepted       INTEGER NOT NULL,
    PRIMARY KEY (token_id, batch_key)
);

-- One row per completed milking; `dedupe_key` (parlor/bail/epoch/seq/…) makes a re-sent event a no-op.
CREATE TABLE milking_events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    parlor_id          INTEGER NOT NULL REFERENCES parlors(id),
    dedupe_key         TEXT NOT NULL UNIQUE,
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
    missed_before      INTEGER NOT NULL
);
CREATE INDEX milking_events_parlor_t ON milking_events(parlor_id, t);

-- KPI intervals as the bridge reports them (counter-based, wraps and restarts handled there).
CREATE TABLE parlor_intervals (
    parlor_id      INTEGER NOT NULL REFERENCES parlors(id),
    dedupe_key     TEXT NOT NULL UNIQUE,
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
    PRIMARY KEY (parlor_id, start_t)
);

-- Spans in which a parlor did not answer: gaps, never zeros.
CREATE TABLE parlor_gaps (
    parlor_id             INTEGER NOT NULL REFERENCES parlors(id),
    dedupe_key            TEXT NOT NULL UNIQUE,
    start_t               TEXT NOT NULL,
    end_t                 TEXT NOT NULL,
    controller_restarted  INTEGER NOT NULL
);
CREATE INDEX parlor_gaps_parlor ON parlor_gaps(parlor_id, start_t);

-- Milking sessions (platform running/stopped between idle or wash periods).
CREATE TABLE parlor_sessions (
    parlor_id   INTEGER NOT NULL REFERENCES parlors(id),
    dedupe_key  TEXT NOT NULL UNIQUE,
    start_t     TEXT NOT NULL,
    end_t       TEXT NOT NULL,
    cows        REAL NOT NULL,
    milk_kg     REAL NOT NULL
);
CREATE INDEX parlor_sessions_parlor ON parlor_sessions(parlor_id, start_t);

-- Hourly and daily (Asia/Tokyo days) roll-ups, kept current as records arrive.
CREATE TABLE parlor_rollups (
    parlor_id      INTEGER NOT NULL REFERENCES parlors(id),
    granularity    TEXT NOT NULL CHECK (granularity IN ('hour', 'day')),
    bucket_start   TEXT NOT NULL,
    cows           REAL NOT NULL,
    milk_kg        REAL NOT NULL,
    milkings       INTEGER NOT NULL,
    online_s       REAL NOT NULL,
    kickoffs       REAL NOT NULL,
    stops          REAL NOT NULL,
    alerts         INTEGER NOT NULL,
    PRIMARY KEY (parlor_id, granularity, bucket_start)
);
