-- Runs that outlive their process (issue 12): a run names the instance
-- running it (`inst_…`, or another process id) and holds a lease its
-- owner renews by heartbeat. A run whose lease ran out, or whose owner's
-- instance lock is released, is claimed by another process with a
-- compare-and-set on (owner_instance, lease) and resumed from its
-- checkpoint; taken_over_at and takeovers say so on the run page.
-- Rows from before this migration have no owner and an expired lease, so
-- the next `pinion serve` takes them over.

ALTER TABLE runs ADD COLUMN owner_instance TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN lease_expires_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00+00:00';
ALTER TABLE runs ADD COLUMN taken_over_at TEXT;
ALTER TABLE runs ADD COLUMN takeovers INTEGER NOT NULL DEFAULT 0;

CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running');
