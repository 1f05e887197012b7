-- How many of a run's takeovers were announced as `run.taken_over` (issue
-- 14). A takeover and its event are two transactions; a run with more
-- takeovers than announced ones was left unannounced by a process that
-- stopped between them, and any replica's deliverer announces it (once:
-- the announcement raises this count conditionally, in the transaction
-- that queues the event). Takeovers before this column count as announced.
ALTER TABLE runs ADD COLUMN takeovers_announced INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET takeovers_announced = takeovers;
CREATE INDEX runs_unannounced_takeovers ON runs (id)
    WHERE takeovers > takeovers_announced;
