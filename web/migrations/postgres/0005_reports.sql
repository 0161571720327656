-- Regional reports (issue 6): per-flight spray facts and monthly roll-ups kept current as data
-- arrives. Months are Asia/Tokyo calendar months; `month_start` is the UTC instant of the 1st, 00:00 JST.

-- One row per flight: what it contributes to the spray reports. Re-upserting a flight (e.g. when
-- its pesticide record is saved) replaces its contribution.
CREATE TABLE flight_facts (
    flight_id         BIGINT PRIMARY KEY REFERENCES flights(id),
    farm_id           BIGINT NOT NULL REFERENCES farms(id),
    flown_at          TIMESTAMPTZ NOT NULL,
    month_start       TIMESTAMPTZ NOT NULL,
    area_m2           DOUBLE PRECISION NOT NULL,
    litres            DOUBLE PRECISION NOT NULL,
    pesticide_name    TEXT,
    pesticide_reg_no  TEXT
);
CREATE INDEX flight_facts_farm_month ON flight_facts(farm_id, month_start);

-- Spray totals per farm, month and pesticide (`pesticide_key`: registration number, else name,
-- else '' for "not recorded"), recomputed from `flight_facts` for the touched keys on each upsert.
CREATE TABLE spray_month_rollups (
    farm_id           BIGINT NOT NULL REFERENCES farms(id),
    month_start       TIMESTAMPTZ NOT NULL,
    pesticide_key     TEXT NOT NULL,
    pesticide_name    TEXT,
    pesticide_reg_no  TEXT,
    flights           BIGINT NOT NULL,
    area_m2           DOUBLE PRECISION NOT NULL,
    litres            DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (farm_id, month_start, pesticide_key)
);
CREATE INDEX spray_month_rollups_month ON spray_month_rollups(month_start);

-- Dairy totals per parlor and month, grown inside `ingest_batch` like `parlor_rollups`;
-- `offline_s` sums the recorded offline gaps (by their start) for the uptime figure.
CREATE TABLE parlor_month_rollups (
    parlor_id    BIGINT NOT NULL REFERENCES parlors(id),
    month_start  TIMESTAMPTZ NOT NULL,
    cows         DOUBLE PRECISION NOT NULL,
    milk_kg      DOUBLE PRECISION NOT NULL,
    milkings     BIGINT NOT NULL,
    online_s     DOUBLE PRECISION NOT NULL,
    offline_s    DOUBLE PRECISION NOT NULL,
    alerts       BIGINT NOT NULL,
    PRIMARY KEY (parlor_id, month_start)
);
CREATE INDEX parlor_month_rollups_month ON parlor_month_rollups(month_start);
