-- When a run's outcome was announced as a webhook event (issue 14). Storing
-- an outcome and announcing it are two transactions; a finished run with no
-- `announced_at` was left unannounced by a process that stopped between
-- them, and any replica's deliverer announces it (once: the announcement
-- sets this column conditionally, in the transaction that queues the event).
-- Runs that finished before this column existed count as announced.
ALTER TABLE runs ADD COLUMN announced_at TIMESTAMPTZ;
UPDATE runs SET announced_at = COALESCE(finished_at, created_at)
    WHERE status IN ('succeeded', 'failed');
CREATE INDEX runs_unannounced ON runs (finished_at)
    WHERE announced_at IS NULL AND status IN ('succeeded', 'failed');
