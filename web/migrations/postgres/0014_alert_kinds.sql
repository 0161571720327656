-- More alert kinds: platform fault/alarm, conductivity above the cow's own level, milk
-- temperature, bridge offline, flight link lost / failsafe / aborted, a record left unsigned,
-- a day without data. Rules get a lower bound (a temperature range) and windows up to 30
-- days (7 days for an unsigned record); an alert keeps what it saw (`detail`), and may be
-- about no parlor (a bridge, a flight, a record). Intervals carry the milk-line temperature
-- and the alarms active at their end.
ALTER TABLE parlor_intervals ADD COLUMN milk_temp_c DOUBLE PRECISION;
-- A JSON array of alarm names.
ALTER TABLE parlor_intervals ADD COLUMN alarms TEXT NOT NULL DEFAULT '[]';
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_kind_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_kind_check CHECK (kind IN ('parlor_offline',
    'parlor_stopped', 'low_throughput', 'platform_fault', 'high_conductivity',
    'milk_temperature', 'bridge_offline', 'flight_link_lost', 'flight_failsafe',
    'sortie_aborted', 'record_unsigned', 'day_data_missing'));
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_minutes_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_minutes_check CHECK (minutes BETWEEN 1 AND 43200);
ALTER TABLE alert_rules ADD COLUMN threshold_low DOUBLE PRECISION
    CHECK (threshold_low IS NULL OR threshold IS NULL OR threshold_low < threshold);
ALTER TABLE alerts ADD COLUMN detail TEXT NOT NULL DEFAULT '';
