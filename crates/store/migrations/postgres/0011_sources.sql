-- Data sources (issue 6): what to read from Pinterest with which credential,
-- and where to write it. The credential is referenced without a foreign key:
-- a source outlives the deletion of its credential and then fails to run
-- with a clear message, and the credential's screen lists the sources that
-- use it before it is deleted.

CREATE TABLE sources (
    id TEXT PRIMARY KEY NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Comma-separated stream names, e.g. 'boards,board_pins'.
    streams TEXT NOT NULL,
    output_kind TEXT NOT NULL CHECK (output_kind IN ('jsonl', 'sqlite')),
    -- A file or directory path on the server; never a URL with a password.
    output_path TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX sources_owner_id ON sources (owner_id);
CREATE INDEX sources_credential_id ON sources (credential_id);
