-- Each credential's rate tier (issue 14): how fast Pinion calls Pinterest
-- with it. `standard` (Pinterest's standard access), `trial`, `N/min` (N
-- requests a minute in every rate-limit category) or `unlimited`.
ALTER TABLE credentials ADD COLUMN rate_tier TEXT NOT NULL DEFAULT 'standard';
