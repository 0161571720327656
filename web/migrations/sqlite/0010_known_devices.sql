-- Browsers a user has signed in from. The sign-in limiter locks an account after repeated
-- wrong passwords; a browser listed here for that account is exempt from that lock (not from
-- the per-address one), so whoever guesses cannot lock the owner out. Only a SHA-256 of the
-- cookie's token is kept.
CREATE TABLE known_devices (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL
);
CREATE INDEX known_devices_user ON known_devices(user_id, created_at);
