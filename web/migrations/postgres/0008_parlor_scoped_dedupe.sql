-- Dedupe keys (`{parlor}/{start_ms}`, `{parlor}/{bail}/{epoch}/{seq}`, …) were unique across all
-- farms, so two farms with a parlor of the same name, or one farm's bridge token re-sending
-- another farm's keys, silently dropped each other's records. A key is now unique per parlor,
-- and a parlor belongs to one farm (parlors stay UNIQUE (farm_id, name)).

ALTER TABLE milking_events DROP CONSTRAINT milking_events_dedupe_key_key;
ALTER TABLE milking_events ADD CONSTRAINT milking_events_parlor_dedupe_key
    UNIQUE (parlor_id, dedupe_key);

ALTER TABLE parlor_intervals DROP CONSTRAINT parlor_intervals_dedupe_key_key;
ALTER TABLE parlor_intervals ADD CONSTRAINT parlor_intervals_parlor_dedupe_key
    UNIQUE (parlor_id, dedupe_key);

ALTER TABLE parlor_gaps DROP CONSTRAINT parlor_gaps_dedupe_key_key;
ALTER TABLE parlor_gaps ADD CONSTRAINT parlor_gaps_parlor_dedupe_key
    UNIQUE (parlor_id, dedupe_key);

ALTER TABLE parlor_sessions DROP CONSTRAINT parlor_sessions_dedupe_key_key;
ALTER TABLE parlor_sessions ADD CONSTRAINT parlor_sessions_parlor_dedupe_key
    UNIQUE (parlor_id, dedupe_key);
