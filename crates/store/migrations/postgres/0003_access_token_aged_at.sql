-- When the access token has lived nine tenths of its lifetime, written with
-- the token. The refresh rule (DueRule in src/lifecycle.rs) refreshes an access
-- token when it expires within the margin AND this moment has passed, so a
-- short-lived token is refreshed near the end of its life, not on every pass.
-- Rows stored before this column existed keep NULL (the plain margin) until
-- their next refresh writes it.
ALTER TABLE credentials ADD COLUMN access_token_aged_at TIMESTAMPTZ;
