-- agriops storage, PostgreSQL flavour. Same tables and columns as sqlite/0001_init.sql.
CREATE TABLE districts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name_ja     TEXT NOT NULL,
    name_en     TEXT NOT NULL
);
INSERT INTO districts (code, name_ja, name_en) VALUES
    ('kuroiso', '黒磯', 'Kuroiso'),
    ('nishinasuno', '西那須野', 'Nishinasuno'),
    ('shiobara', '塩原', 'Shiobara');

CREATE TABLE farms (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    district_id BIGINT NOT NULL REFERENCES districts(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('crop', 'dairy', 'mixed')),
    address     TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (district_id, name)
);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'farmer', 'dairy')),
    farm_id       BIGINT REFERENCES farms(id),
    lang          TEXT NOT NULL DEFAULT 'ja' CHECK (lang IN ('ja', 'en')),
    created_at    TIMESTAMPTZ NOT NULL,
    CHECK (role IN ('admin', 'staff') OR farm_id IS NOT NULL)
);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE fields (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id          BIGINT NOT NULL REFERENCES farms(id),
    name             TEXT NOT NULL,
    crop             TEXT NOT NULL DEFAULT '',
    fude_polygon_id  TEXT,
    land_type        TEXT,
    geojson          TEXT NOT NULL,
    area_ha          DOUBLE PRECISION NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX fields_farm ON fields(farm_id);

CREATE TABLE plans (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    field_id     BIGINT NOT NULL REFERENCES fields(id) ON DELETE CASCADE,
    config_json  TEXT NOT NULL,
    report_json  TEXT NOT NULL,
    plan_file    TEXT NOT NULL,
    geojson      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX plans_field ON plans(field_id);

CREATE TABLE vehicles (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id          BIGINT NOT NULL REFERENCES farms(id),
    registration_no  TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    autopilot        TEXT NOT NULL CHECK (autopilot IN ('ardupilot', 'px4')),
    link_address     TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE flights (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id          BIGINT NOT NULL REFERENCES farms(id),
    field_id         BIGINT REFERENCES fields(id),
    plan_id          BIGINT REFERENCES plans(id),
    vehicle_id       BIGINT REFERENCES vehicles(id),
    status           TEXT NOT NULL CHECK (status IN ('planned', 'uploading', 'flying', 'paused', 'completed', 'aborted', 'failed')),
    started_at       TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ,
    sprayed_area_m2  DOUBLE PRECISION,
    litres           DOUBLE PRECISION,
    summary_json     TEXT NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX flights_farm ON flights(farm_id, created_at);

CREATE TABLE flight_samples (
    flight_id    BIGINT NOT NULL REFERENCES flights(id) ON DELETE CASCADE,
    t            TIMESTAMPTZ NOT NULL,
    lat          DOUBLE PRECISION NOT NULL,
    lon          DOUBLE PRECISION NOT NULL,
    alt_m        DOUBLE PRECISION NOT NULL,
    spray        BOOLEAN NOT NULL,
    battery_pct  DOUBLE PRECISION,
    PRIMARY KEY (flight_id, t)
);

CREATE TABLE parlors (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id     BIGINT NOT NULL REFERENCES farms(id),
    name        TEXT NOT NULL,
    bails       BIGINT CHECK (bails BETWEEN 1 AND 200),
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (farm_id, name)
);

CREATE TABLE bridge_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id     BIGINT NOT NULL REFERENCES farms(id),
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

-- One row per accepted batch: a batch key seen again is a replay and changes nothing.
CREATE TABLE ingest_batches (
    token_id         BIGINT NOT NULL REFERENCES bridge_tokens(id),
    batch_key        TEXT NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    n_records        BIGINT NOT NULL,
    n_accepted       BIGINT NOT NULL,
    PRIMARY KEY (token_id, batch_key)
);

-- One row per completed milking; `dedupe_key` (parlor/bail/epoch/seq/…) makes a re-sent event a no-op.
CREATE TABLE milking_events (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parlor_id          BIGINT NOT NULL REFERENCES parlors(id),
    dedupe_key         TEXT NOT NULL UNIQUE,
    t                  TIMESTAMPTZ NOT NULL,
    controller_t       BIGINT,
    bail               BIGINT NOT NULL,
    epoch              BIGINT NOT NULL,
    seq                BIGINT NOT NULL,
    cow_id             BIGINT NOT NULL,
    yield_kg           DOUBLE PRECISION NOT NULL,
    duration_s         DOUBLE PRECISION,
    conductivity       DOUBLE PRECISION,
    high_conductivity  BOOLEAN NOT NULL,
    missed_before      BIGINT NOT NULL
);
CREATE INDEX milking_events_parlor_t ON milking_events(parlor_id, t);

-- KPI intervals as the bridge reports them (counter-based, wraps and restarts handled there).
CREATE TABLE parlor_intervals (
    parlor_id      BIGINT NOT NULL REFERENCES parlors(id),
    dedupe_key     TEXT NOT NULL UNIQUE,
    start_t        TIMESTAMPTZ NOT NULL,
    end_t          TIMESTAMPTZ NOT NULL,
    online_s       DOUBLE PRECISION NOT NULL,
    cows           DOUBLE PRECISION NOT NULL,
    milk_kg        DOUBLE PRECISION NOT NULL,
    cows_per_hour_rolling DOUBLE PRECISION NOT NULL,
    milkings       BIGINT NOT NULL,
    rotation_s     DOUBLE PRECISION,
    occupancy      DOUBLE PRECISION,
    idle_bails     DOUBLE PRECISION NOT NULL,
    kickoffs       DOUBLE PRECISION NOT NULL,
    reattaches     DOUBLE PRECISION NOT NULL,
    stops          DOUBLE PRECISION NOT NULL,
    washes         BIGINT NOT NULL,
    alerts         BIGINT NOT NULL,
    state          TEXT NOT NULL,
    PRIMARY KEY (parlor_id, start_t)
);

-- Spans in which a parlor did not answer: gaps, never zeros.
CREATE TABLE parlor_gaps (
    parlor_id             BIGINT NOT NULL REFERENCES parlors(id),
    dedupe_key            TEXT NOT NULL UNIQUE,
    start_t               TIMESTAMPTZ NOT NULL,
    end_t                 TIMESTAMPTZ NOT NULL,
    controller_restarted  BOOLEAN NOT NULL
);
CREATE INDEX parlor_gaps_parlor ON parlor_gaps(parlor_id, start_t);

-- Milking sessions (platform running/stopped between idle or wash periods).
CREATE TABLE parlor_sessions (
    parlor_id   BIGINT NOT NULL REFERENCES parlors(id),
    dedupe_key  TEXT NOT NULL UNIQUE,
    start_t     TIMESTAMPTZ NOT NULL,
    end_t       TIMESTAMPTZ NOT NULL,
    cows        DOUBLE PRECISION NOT NULL,
    milk_kg     DOUBLE PRECISION NOT NULL
);
CREATE INDEX parlor_sessions_parlor ON parlor_sessions(parlor_id, start_t);

-- Hourly and daily (Asia/Tokyo days) roll-ups, kept current as records arrive.
CREATE TABLE parlor_rollups (
    parlor_id      BIGINT NOT NULL REFERENCES parlors(id),
    granularity    TEXT NOT NULL CHECK (granularity IN ('hour', 'day')),
    bucket_start   TIMESTAMPTZ NOT NULL,
    cows           DOUBLE PRECISION NOT NULL,
    milk_kg        DOUBLE PRECISION NOT NULL,
    milkings       BIGINT NOT NULL,
    online_s       DOUBLE PRECISION NOT NULL,
    kickoffs       DOUBLE PRECISION NOT NULL,
    stops          DOUBLE PRECISION NOT NULL,
    alerts         BIGINT NOT NULL,
    PRIMARY KEY (parlor_id, granularity, bucket_start)
);
