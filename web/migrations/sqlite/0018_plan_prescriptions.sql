-- Variable-rate prescriptions a plan was made with: one per plan, and its zones as the planner
-- clipped them to the field (the gap last) with what each asks for. Every row names its farm,
-- the farm of the plan's field, which the insert takes from the field itself.
CREATE TABLE plan_prescriptions (
    plan_id      INTEGER PRIMARY KEY REFERENCES plans(id) ON DELETE CASCADE,
    farm_id      INTEGER NOT NULL REFERENCES farms(id),
    file_name    TEXT NOT NULL,
    rate_column  TEXT,
    rate_unit    TEXT NOT NULL CHECK (rate_unit IN ('L/10a', 'L/ha', 'kg/10a')),
    gap_rate     REAL CHECK (gap_rate IS NULL OR gap_rate >= 0),
    created_at   TEXT NOT NULL
);
CREATE INDEX plan_prescriptions_farm ON plan_prescriptions(farm_id);

CREATE TABLE plan_prescription_zones (
    plan_id        INTEGER NOT NULL REFERENCES plan_prescriptions(plan_id) ON DELETE CASCADE,
    position       INTEGER NOT NULL CHECK (position >= 1),
    farm_id        INTEGER NOT NULL REFERENCES farms(id),
    name           TEXT NOT NULL,
    rate           REAL NOT NULL CHECK (rate >= 0),
    is_gap         INTEGER NOT NULL,
    sprayable_ha   REAL NOT NULL CHECK (sprayable_ha >= 0),
    amount         REAL NOT NULL CHECK (amount >= 0),
    amount_pumped  REAL NOT NULL CHECK (amount_pumped >= 0),
    geojson        TEXT NOT NULL,
    PRIMARY KEY (plan_id, position)
);
CREATE INDEX plan_prescription_zones_farm ON plan_prescription_zones(farm_id);
