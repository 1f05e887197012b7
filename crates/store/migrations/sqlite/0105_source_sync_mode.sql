-- A source's sync mode (issue 15): `full_refresh` reads everything on every
-- run; `incremental` skips boards whose pins did not change since the last
-- successful run. Sources made before this read everything, as they did.
ALTER TABLE sources ADD COLUMN sync_mode TEXT NOT NULL DEFAULT 'full_refresh'
    CHECK (sync_mode IN ('full_refresh', 'incremental'));
