-- The latest state of every bail of a parlor (latest wins, not history): one row per parlor.
CREATE TABLE parlor_bail_snapshots (
    parlor_id      BIGINT PRIMARY KEY REFERENCES parlors(id),
    t_ms           BIGINT NOT NULL,
    entrance_bail  BIGINT,
    bails_json     TEXT NOT NULL
);

-- A disabled user cannot sign in; NULL = active.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;

-- Who changed which account and when (admin edits, password resets and changes).
CREATE TABLE account_audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor_id    BIGINT REFERENCES users(id),
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX account_audit_at ON account_audit(at);
