-- API tokens managed from the web UI (issue 6): a name for people and when
-- the token was last used (updated at most once a minute). A token's public
-- id is derived from its hash, so nothing about the token itself is added.

ALTER TABLE api_tokens ADD COLUMN name TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMPTZ;
