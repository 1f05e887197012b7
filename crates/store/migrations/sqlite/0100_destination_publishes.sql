-- Publishes from a destination's page (issue 15): one row per upload or
-- form, with its counts and each row's outcome (JSON: line, outcome, the
-- created pin's id or the reasons a row was refused). Rows' content is not
-- kept. Deleted with the destination.
CREATE TABLE destination_publishes (
    id TEXT PRIMARY KEY NOT NULL,
    destination_id TEXT NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    rows INTEGER NOT NULL CHECK (rows >= 0),
    created INTEGER NOT NULL CHECK (created >= 0),
    already_published INTEGER NOT NULL CHECK (already_published >= 0),
    rejected INTEGER NOT NULL CHECK (rejected >= 0),
    unfinished INTEGER NOT NULL CHECK (unfinished >= 0),
    results TEXT NOT NULL
) STRICT;

CREATE INDEX destination_publishes_destination ON destination_publishes (destination_id, created_at);
