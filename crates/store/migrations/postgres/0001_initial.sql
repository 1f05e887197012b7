-- Pinion's initial schema (PostgreSQL). Sealed values are envelopes:
-- format version | key version | nonce | ciphertext+tag.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL CONSTRAINT users_username_unique UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    -- An argon2 PHC string; NULL until the user sets a password.
    password_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    -- SHA-256 of the token; the token itself is never stored.
    token_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    -- Lowercased name: names are unique per owner, case-insensitively.
    name_key TEXT NOT NULL,
    description TEXT,
    provider TEXT NOT NULL CHECK (provider = 'pinterest'),
    client_id TEXT NOT NULL,
    client_secret_sealed BYTEA NOT NULL,
    -- Space-separated scope lists.
    scopes TEXT NOT NULL,
    granted_scopes TEXT,
    status TEXT NOT NULL CHECK (status IN ('needs_authorization', 'active', 'needs_reauthorization', 'error')),
    access_token_sealed BYTEA,
    access_token_expires_at TIMESTAMPTZ,
    refresh_token_sealed BYTEA,
    refresh_token_expires_at TIMESTAMPTZ,
    last_refreshed_at TIMESTAMPTZ,
    last_error TEXT,
    -- Token refresher bookkeeping: an in-flight marker and failure backoff.
    refresh_started_at TIMESTAMPTZ,
    refresh_attempt_id TEXT,
    refresh_failures BIGINT NOT NULL DEFAULT 0,
    next_refresh_at TIMESTAMPTZ,
    -- Bumped on every write, for compare-and-set.
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT credentials_owner_name_unique UNIQUE (owner_id, name_key)
);

CREATE INDEX credentials_next_refresh_at ON credentials (next_refresh_at);

-- One row per encryption key version the data may use: an HMAC of a fixed
-- label under a key derived from that version's master key.
CREATE TABLE key_checks (
    key_version BIGINT PRIMARY KEY CHECK (key_version > 0),
    check_value BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
