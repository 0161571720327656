-- Launching flights from the web: vehicle registration expiry and pump servo, pilot
-- credentials for the go/no-go, and the go/no-go record of each launched flight.
ALTER TABLE vehicles ADD COLUMN registration_expiry TEXT;
ALTER TABLE vehicles ADD COLUMN pump_servo INTEGER NOT NULL DEFAULT 9 CHECK (pump_servo BETWEEN 1 AND 16);
ALTER TABLE flights ADD COLUMN pilot_user_id INTEGER REFERENCES users(id);
CREATE INDEX vehicles_farm ON vehicles(farm_id);

-- One row per pilot: 技能証明 (licence) and MLIT 許可・承認 (permit) with expiry dates.
CREATE TABLE pilot_credentials (
    user_id          INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    licence_no       TEXT NOT NULL DEFAULT '',
    licence_expiry   TEXT,
    permit_no        TEXT NOT NULL DEFAULT '',
    permit_expiry    TEXT,
    updated_at       TEXT NOT NULL
);

-- The go/no-go of a launched flight: what was entered, every check's outcome, who launched.
CREATE TABLE flight_gonogo (
    flight_id        INTEGER PRIMARY KEY REFERENCES flights(id) ON DELETE CASCADE,
    pilot_user_id    INTEGER NOT NULL REFERENCES users(id),
    sortie           INTEGER NOT NULL,
    inputs_json      TEXT NOT NULL,
    checks_json      TEXT NOT NULL,
    warnings_acknowledged INTEGER NOT NULL,
    created_at       TEXT NOT NULL
);
