-- Authorization flows (issue 4): one row per started OAuth flow. The state is
-- kept only as its SHA-256 hash; the PKCE verifier is sealed, bound to the row.

CREATE TABLE oauth_flows (
    id TEXT PRIMARY KEY,
    -- Lowercase hex SHA-256 of the 256-bit state; the state itself is never stored.
    state_hash TEXT NOT NULL UNIQUE,
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider = 'pinterest'),
    redirect_uri TEXT NOT NULL,
    pkce_verifier_sealed BYTEA NOT NULL,
    -- SHA-256 of the browser-binding cookie value, for flows started by a browser.
    browser_binding_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    consumed_at TIMESTAMPTZ,
    -- How the flow ended: 'completed' or 'failed', with a user-facing message.
    outcome TEXT CHECK (outcome IN ('completed', 'failed')),
    message TEXT,
    finished_at TIMESTAMPTZ
);

CREATE INDEX oauth_flows_credential_id ON oauth_flows (credential_id);
CREATE INDEX oauth_flows_expires_at ON oauth_flows (expires_at);
CREATE INDEX credentials_access_token_expires_at ON credentials (access_token_expires_at);
