-- Web sessions (issue 6): one row per signed-in browser. The session token is
-- kept only as its SHA-256 hash; the CSRF token is derived from the token, so
-- it is not stored either.

CREATE TABLE web_sessions (
    -- Lowercase hex SHA-256 of the session cookie's value.
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

CREATE INDEX web_sessions_user_id ON web_sessions (user_id);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
