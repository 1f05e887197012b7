-- Schedules (issue 14): a source runs by itself every `every_seconds`, or at
-- the times a five-field cron expression matches in `time_zone`. Every
-- replica's scheduler reads the due rows and takes a slot with one
-- conditional UPDATE on `next_run_at`, so exactly one replica starts each
-- run. `next_run_at` is NULL only while paused. No secret here.
CREATE TABLE source_schedules (
    source_id TEXT PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    every_seconds BIGINT CHECK (every_seconds IS NULL OR every_seconds > 0),
    cron TEXT,
    time_zone TEXT NOT NULL,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    next_run_at TIMESTAMPTZ,
    last_fired_at TIMESTAMPTZ,
    last_run_id TEXT,
    last_note TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK ((every_seconds IS NULL) <> (cron IS NULL)),
    CHECK (paused OR next_run_at IS NOT NULL)
);

CREATE INDEX source_schedules_due ON source_schedules (next_run_at) WHERE NOT paused;

-- Two runs of one source never overlap, whichever process starts them: at
-- most one queued or running run per source. Older unfinished duplicates
-- (possible before this rule) are failed first, keeping the newest.
UPDATE runs SET status = 'failed',
    error = 'Stopped: another run of this source was started at the same time.',
    finished_at = created_at
WHERE status IN ('queued', 'running')
  AND EXISTS (
    SELECT 1 FROM runs AS newer
    WHERE newer.source_id = runs.source_id
      AND newer.status IN ('queued', 'running')
      AND (newer.created_at, newer.id) > (runs.created_at, runs.id)
  );

CREATE UNIQUE INDEX runs_one_unfinished_per_source ON runs (source_id)
    WHERE status IN ('queued', 'running');
