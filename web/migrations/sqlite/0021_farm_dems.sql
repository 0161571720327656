-- A farm's terrain library (issue 13): the elevation models its people uploaded (GeoTIFF, GSI
-- GML tiles and elevation PNG tiles, zipped or not), each decoded once at upload and kept as
-- the planner's own grid bytes, so planning and flying read them back without parsing again.
-- Its extent is kept beside the bytes so a plan finds the models under its field by query.
-- Every row belongs to a farm.
CREATE TABLE farm_dems (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id     INTEGER NOT NULL REFERENCES farms(id),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The uploaded files' names, for the page.
    files       TEXT NOT NULL,
    cells       INTEGER NOT NULL CHECK (cells > 0),
    cell_m      REAL NOT NULL CHECK (cell_m > 0),
    min_lat     REAL NOT NULL,
    min_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    ground_min_m REAL,
    ground_max_m REAL,
    data        BLOB NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    -- The same files uploaded twice on one farm are one model.
    UNIQUE (farm_id, sha256)
);
CREATE INDEX farm_dems_farm ON farm_dems(farm_id);
