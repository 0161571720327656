-- no-transaction
-- More alert kinds: platform fault/alarm, conductivity above the cow's own level, milk
-- temperature, bridge offline, flight link lost / failsafe / aborted, a record left unsigned,
-- a day without data. Rules get a lower bound (a temperature range) and windows up to 30
-- days (7 days for an unsigned record); an alert keeps what it saw (`detail`), and may be
-- about no parlor (a bridge, a flight, a record). Intervals carry the milk-line temperature
-- and the alarms active at their end.
-- SQLite cannot change a CHECK constraint: `alert_rules` is rebuilt with the same rows, with
-- foreign keys off so the alerts that refer to it stay (SQLite's documented procedure), hence
-- no migration transaction of sqlx's own but an explicit one.
PRAGMA foreign_keys = OFF;
BEGIN;
ALTER TABLE parlor_intervals ADD COLUMN milk_temp_c REAL;
-- A JSON array of alarm names.
ALTER TABLE parlor_intervals ADD COLUMN alarms TEXT NOT NULL DEFAULT '[]';
CREATE TABLE alert_rules_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id        INTEGER NOT NULL REFERENCES farms(id),
    kind           TEXT NOT NULL CHECK (kind IN ('parlor_offline', 'parlor_stopped',
                       'low_throughput', 'platform_fault', 'high_conductivity',
                       'milk_temperature', 'bridge_offline', 'flight_link_lost',
                       'flight_failsafe', 'sortie_aborted', 'record_unsigned',
                       'day_data_missing')),
    parlor_id      INTEGER REFERENCES parlors(id),
    minutes        INTEGER NOT NULL CHECK (minutes BETWEEN 1 AND 43200),
    threshold      REAL CHECK (threshold IS NULL OR threshold > 0),
    threshold_low  REAL CHECK (threshold_low IS NULL OR threshold IS NULL OR threshold_low < threshold),
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);
INSERT INTO alert_rules_new (id, farm_id, kind, parlor_id, minutes, threshold, enabled, created_at)
SELECT id, farm_id, kind, parlor_id, minutes, threshold, enabled, created_at FROM alert_rules;
DROP TABLE alert_rules;
ALTER TABLE alert_rules_new RENAME TO alert_rules;
CREATE INDEX alert_rules_farm ON alert_rules(farm_id);
ALTER TABLE alerts ADD COLUMN detail TEXT NOT NULL DEFAULT '';
COMMIT;
PRAGMA foreign_keys = ON;
