-- Destinations (issue 6): a Pinterest board to publish pins to, with the
-- credential that writes there. As for sources, the credential is referenced
-- without a foreign key, so deleting it leaves the destination to fail with a
-- clear message rather than vanish.

CREATE TABLE destinations (
    id TEXT PRIMARY KEY NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    name TEXT NOT NULL,
    board_id TEXT NOT NULL,
    -- The board's name when it was picked, for display.
    board_name TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX destinations_owner_id ON destinations (owner_id);
CREATE INDEX destinations_credential_id ON destinations (credential_id);
