-- Launching flights from the web: vehicle registration expiry and pump servo, pilot
-- credentials for the go/no-go, and the go/no-go record of each launched flight.
ALTER TABLE vehicles ADD COLUMN registration_expiry DATE;
ALTER TABLE vehicles ADD COLUMN pump_servo BIGINT NOT NULL DEFAULT 9 CHECK (pump_servo BETWEEN 1 AND 16);
ALTER TABLE flights ADD COLUMN pilot_user_id BIGINT REFERENCES users(id);
CREATE INDEX vehicles_farm ON vehicles(farm_id);

-- One row per pilot: 技能証明 (licence) and MLIT 許可・承認 (permit) with expiry dates.
CREATE TABLE pilot_credentials (
    user_id          BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    licence_no       TEXT NOT NULL DEFAULT '',
    licence_expiry   DATE,
    permit_no        TEXT NOT NULL DEFAULT '',
    permit_expiry    DATE,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- The go/no-go of a launched flight: what was entered, every check's outcome, who launched.
CREATE TABLE flight_gonogo (
    flight_id        BIGINT PRIMARY KEY REFERENCES flights(id) ON DELETE CASCADE,
    pilot_user_id    BIGINT NOT NULL REFERENCES users(id),
    sortie           BIGINT NOT NULL,
    inputs_json      TEXT NOT NULL,
    checks_json      TEXT NOT NULL,
    warnings_acknowledged BOOLEAN NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
