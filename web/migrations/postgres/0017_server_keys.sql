-- Keys the server signs with, shared by every server on the database: `alert_ack` signs the
-- acknowledge links in alert messages. Made (random, hex) on first use.
CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY,
    key_hex     TEXT NOT NULL CHECK (length(key_hex) = 64)
);
