-- Sync state (issue 5): per-stream progress of `pinion sync` runs and the
-- publish ledger of `pinion publish`, kept in Pinion's store. A job is the
-- credential plus the destination (with any password removed), so runs of
-- different credentials or destinations never share progress. Nothing here
-- is a secret: bookmarks, counts, Pinterest ids, row keys and messages.

CREATE TABLE sync_runs (
    id BIGSERIAL PRIMARY KEY,
    job TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'failed', 'succeeded', 'abandoned')),
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);

CREATE INDEX sync_runs_job ON sync_runs (job, id);

CREATE TABLE sync_streams (
    run_id BIGINT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    stream TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'skipped', 'failed')),
    -- The destination's position at the last commit.
    position BIGINT,
    records BIGINT NOT NULL DEFAULT 0,
    message TEXT,
    PRIMARY KEY (run_id, stream)
);

-- One partition (a board, a section, an ad account, or '' for a stream read
-- as one list): the bookmark of the next page, or done.
CREATE TABLE sync_partitions (
    run_id BIGINT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    stream TEXT NOT NULL,
    part TEXT NOT NULL,
    bookmark TEXT,
    done BOOLEAN NOT NULL,
    watermark TEXT,
    PRIMARY KEY (run_id, stream, part)
);

-- Change markers of the last successful run of a job, for incremental runs.
CREATE TABLE sync_watermarks (
    job TEXT NOT NULL,
    stream TEXT NOT NULL,
    part TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (job, stream, part)
);

-- The publish outbox: a row is 'sent' before its create request (and stays
-- so when the answer is lost), 'confirmed' with the created object's id, or
-- 'failed' when Pinterest refused it. sent_at is the first send only.
CREATE TABLE publish_ledger (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sent', 'confirmed', 'unknown', 'failed')),
    target TEXT NOT NULL,
    object_id TEXT,
    sent_at TIMESTAMPTZ,
    message TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE INDEX publish_ledger_target ON publish_ledger (namespace, target, state);
