-- The latest check of each credential (issue 12): what Pinterest answered,
-- so a check repeated within a short time is answered from it instead of
-- calling Pinterest again. `credential_version` is the credential's version
-- after the check: a result is reused only while the credential is unchanged.
-- Holds no secret (the error is the client's message, which never has one).
CREATE TABLE credential_checks (
    credential_id TEXT PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    credential_version BIGINT NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL,
    ok BOOLEAN NOT NULL,
    account_username TEXT,
    account_type TEXT,
    error TEXT
);
