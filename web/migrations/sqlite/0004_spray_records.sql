-- Spray records (農薬使用記録) and flight logbook drafts (飛行日誌), and each flight's .tlog.
-- A record or logbook entry is a chain of versions per flight: only the newest may be edited,
-- and only until it is signed; a change after signing is a new version (an amendment) that
-- leaves the signed one as it was.
CREATE TABLE flight_tlogs (
    flight_id   INTEGER PRIMARY KEY REFERENCES flights(id) ON DELETE CASCADE,
    bytes       BLOB NOT NULL
);

CREATE TABLE pesticides (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    name        TEXT NOT NULL CHECK (name <> ''),
    reg_no      TEXT NOT NULL DEFAULT '',
    dilution    REAL CHECK (dilution > 0),
    l_per_10a   REAL CHECK (l_per_10a > 0),
    created_at  TEXT NOT NULL,
    UNIQUE (farm_id, name)
);

CREATE TABLE spray_records (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    flight_id        INTEGER NOT NULL REFERENCES flights(id) ON DELETE CASCADE,
    version          INTEGER NOT NULL CHECK (version >= 1),
    farm_id          INTEGER NOT NULL REFERENCES farms(id),
    sprayed_on       TEXT NOT NULL,
    place            TEXT NOT NULL DEFAULT '',
    fude_polygon_id  TEXT NOT NULL DEFAULT '',
    address          TEXT NOT NULL DEFAULT '',
    crop             TEXT NOT NULL DEFAULT '',
    pesticide_name   TEXT NOT NULL DEFAULT '',
    pesticide_reg_no TEXT NOT NULL DEFAULT '',
    dilution         REAL,
    l_per_10a        REAL,
    litres           REAL,
    area_m2          REAL,
    operator         TEXT NOT NULL DEFAULT '',
    notes            TEXT NOT NULL DEFAULT '',
    signed_at        TEXT,
    signed_by        TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (flight_id, version)
);
CREATE INDEX spray_records_farm ON spray_records(farm_id, sprayed_on);

CREATE TABLE flight_logbooks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    flight_id        INTEGER NOT NULL REFERENCES flights(id) ON DELETE CASCADE,
    version          INTEGER NOT NULL CHECK (version >= 1),
    farm_id          INTEGER NOT NULL REFERENCES farms(id),
    flown_on         TEXT NOT NULL,
    pilot            TEXT NOT NULL DEFAULT '',
    drone_reg_no     TEXT NOT NULL DEFAULT '',
    takeoff_at       TEXT,
    takeoff_lat      REAL,
    takeoff_lon      REAL,
    takeoff_place    TEXT NOT NULL DEFAULT '',
    landing_at       TEXT,
    landing_lat      REAL,
    landing_lon      REAL,
    landing_place    TEXT NOT NULL DEFAULT '',
    flight_s         REAL,
    purpose          TEXT NOT NULL DEFAULT '',
    events_json      TEXT NOT NULL DEFAULT '{}',
    notes            TEXT NOT NULL DEFAULT '',
    signed_at        TEXT,
    signed_by        TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (flight_id, version)
);
CREATE INDEX flight_logbooks_farm ON flight_logbooks(farm_id, flown_on);
