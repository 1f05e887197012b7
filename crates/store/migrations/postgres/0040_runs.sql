-- Source runs (issue 6): one row per run of a data source started from the
-- web UI or the API. Per-stream counts are a JSON array updated while the
-- run goes on; `error` is a message for people and holds no secret.

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- [{"stream": "boards", "records": 12, "outcome": "done", "error": null}, ...]
    streams TEXT NOT NULL,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);

CREATE INDEX runs_source_id ON runs (source_id, created_at);
