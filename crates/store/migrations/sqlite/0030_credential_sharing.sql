-- Sharing and the activity log (issue 6).
--
-- A share lets another user (a collaborator) use a credential for their own
-- sources and destinations without seeing or changing its settings. A
-- withdrawn share keeps its row with `withdrawn_at` set, so a collaborator's
-- source that used it fails with "no longer shared with you" rather than a
-- bare "not found"; sharing again clears `withdrawn_at`.

CREATE TABLE credential_shares (
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The user who shared it (the owner).
    shared_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    withdrawn_at TEXT,
    PRIMARY KEY (credential_id, user_id)
) STRICT;

CREATE INDEX credential_shares_user_id ON credential_shares (user_id);

-- The append-only activity log of each credential. No foreign key: the log
-- of a deleted credential (its `deleted` row included) stays for admins.
-- Rows hold no secret: details are classified reasons, scopes and ids.
CREATE TABLE credential_activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    credential_id TEXT NOT NULL,
    -- The credential's name when the event happened.
    credential_name TEXT NOT NULL,
    at TEXT NOT NULL,
    -- The acting user's id, NULL for the system (the token refresher).
    actor_id TEXT,
    -- The acting user's username, or 'system'.
    actor TEXT NOT NULL,
    event TEXT NOT NULL,
    -- What the event is about: a username, a source or destination id, a
    -- failure class.
    subject TEXT,
    detail TEXT
) STRICT;

CREATE INDEX credential_activity_credential ON credential_activity (credential_id, id);

CREATE TRIGGER credential_activity_no_update BEFORE UPDATE ON credential_activity
BEGIN
    SELECT RAISE(ABORT, 'credential_activity is append-only');
END;

CREATE TRIGGER credential_activity_no_delete BEFORE DELETE ON credential_activity
BEGIN
    SELECT RAISE(ABORT, 'credential_activity is append-only');
END;
