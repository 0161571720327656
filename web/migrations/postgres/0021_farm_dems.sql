-- A farm's terrain library (issue 13): the elevation models its people uploaded (GeoTIFF, GSI
-- GML tiles and elevation PNG tiles, zipped or not), each decoded once at upload and kept as
-- the planner's own grid bytes, so planning and flying read them back without parsing again.
-- Its extent is kept beside the bytes so a plan finds the models under its field by query.
-- Every row belongs to a farm.
CREATE TABLE farm_dems (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    farm_id     BIGINT NOT NULL REFERENCES farms(id),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The uploaded files' names, for the page.
    files       TEXT NOT NULL,
    cells       BIGINT NOT NULL CHECK (cells > 0),
    cell_m      DOUBLE PRECISION NOT NULL CHECK (cell_m > 0),
    min_lat     DOUBLE PRECISION NOT NULL,
    min_lon     DOUBLE PRECISION NOT NULL,
    max_lat     DOUBLE PRECISION NOT NULL,
    max_lon     DOUBLE PRECISION NOT NULL,
    ground_min_m DOUBLE PRECISION,
    ground_max_m DOUBLE PRECISION,
    data        BYTEA NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    -- The same files uploaded twice on one farm are one model.
    UNIQUE (farm_id, sha256)
);
CREATE INDEX farm_dems_farm ON farm_dems(farm_id);
