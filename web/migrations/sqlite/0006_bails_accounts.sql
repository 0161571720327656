-- The latest state of every bail of a parlor (latest wins, not history): one row per parlor.
CREATE TABLE parlor_bail_snapshots (
    parlor_id      INTEGER PRIMARY KEY REFERENCES parlors(id),
    t_ms           INTEGER NOT NULL,
    entrance_bail  INTEGER,
    bails_json     TEXT NOT NULL
);

-- A disabled user cannot sign in; NULL = active.
ALTER TABLE users ADD COLUMN disabled_at TEXT;

-- Who changed which account and when (admin edits, password resets and changes).
CREATE TABLE account_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor_id    INTEGER REFERENCES users(id),
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX account_audit_at ON account_audit(at);
