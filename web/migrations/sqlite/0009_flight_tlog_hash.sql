-- A `.tlog` upload retried after a timeout stored the same flight twice. Each flight now keeps
-- the SHA-256 of the `.tlog` it was recorded from, unique per farm: a retry of the same bytes
-- finds the flight already stored. Flights without a `.tlog` (planned, launched and not yet
-- finished) have none; NULLs never collide in a unique index, on either backend.
ALTER TABLE flights ADD COLUMN tlog_sha256 TEXT;
CREATE UNIQUE INDEX flights_farm_tlog ON flights (farm_id, tlog_sha256);
