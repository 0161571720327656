-- PostgreSQL flavour of sqlite/0004_spray_records.sql (dates as YYYY-MM-DD text in both).
-- Spray records (農薬使用記録) and flight logbook drafts (飛行日誌), and each flight's .tlog.
-- A record or logbook entry is a chain of versions per flight: only the newest may be edited,
-- and only until it is signed; a change after signing is a new version (an amendment) that
-- leaves the signed one as it was.
CREATE TABLE flight_tlogs (
    flight_id   BIGINT PRIMARY KEY REFERENCES flights(id) ON DELETE CASCADE,
    bytes       BYTEA NOT NULL
);

CREATE TABLE pesticides (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id     BIGINT NOT NULL REFERENCES farms(id),
    name        TEXT NOT NULL CHECK (name <> ''),
    reg_no      TEXT NOT NULL DEFAULT '',
    dilution    DOUBLE PRECISION CHECK (dilution > 0),
    l_per_10a   DOUBLE PRECISION CHECK (l_per_10a > 0),
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (farm_id, name)
);

CREATE TABLE spray_records (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flight_id        BIGINT NOT NULL REFERENCES flights(id) ON DELETE CASCADE,
    version          BIGINT NOT NULL CHECK (version >= 1),
    farm_id          BIGINT NOT NULL REFERENCES farms(id),
    sprayed_on       TEXT NOT NULL,
    place            TEXT NOT NULL DEFAULT '',
    fude_polygon_id  TEXT NOT NULL DEFAULT '',
    address          TEXT NOT NULL DEFAULT '',
    crop             TEXT NOT NULL DEFAULT '',
    pesticide_name   TEXT NOT NULL DEFAULT '',
    pesticide_reg_no TEXT NOT NULL DEFAULT '',
    dilution         DOUBLE PRECISION,
    l_per_10a        DOUBLE PRECISION,
    litres           DOUBLE PRECISION,
    area_m2          DOUBLE PRECISION,
    operator         TEXT NOT NULL DEFAULT '',
    notes            TEXT NOT NULL DEFAULT '',
    signed_at        TIMESTAMPTZ,
    signed_by        TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (flight_id, version)
);
CREATE INDEX spray_records_farm ON spray_records(farm_id, sprayed_on);

CREATE TABLE flight_logbooks (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flight_id        BIGINT NOT NULL REFERENCES flights(id) ON DELETE CASCADE,
    version          BIGINT NOT NULL CHECK (version >= 1),
    farm_id          BIGINT NOT NULL REFERENCES farms(id),
    flown_on         TEXT NOT NULL,
    pilot            TEXT NOT NULL DEFAULT '',
    drone_reg_no     TEXT NOT NULL DEFAULT '',
    takeoff_at       TIMESTAMPTZ,
    takeoff_lat      DOUBLE PRECISION,
    takeoff_lon      DOUBLE PRECISION,
    takeoff_place    TEXT NOT NULL DEFAULT '',
    landing_at       TIMESTAMPTZ,
    landing_lat      DOUBLE PRECISION,
    landing_lon      DOUBLE PRECISION,
    landing_place    TEXT NOT NULL DEFAULT '',
    flight_s         DOUBLE PRECISION,
    purpose          TEXT NOT NULL DEFAULT '',
    events_json      TEXT NOT NULL DEFAULT '{}',
    notes            TEXT NOT NULL DEFAULT '',
    signed_at        TIMESTAMPTZ,
    signed_by        TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (flight_id, version)
);
CREATE INDEX flight_logbooks_farm ON flight_logbooks(farm_id, flown_on);
