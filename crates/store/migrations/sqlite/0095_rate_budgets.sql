-- One rate budget per Pinterest account and app (issue 14). Every process
-- calling Pinterest for one (app client id, Pinterest account) reserves
-- each request here first: one row per budget key and lane (a rate-limit
-- category, or `universal`), holding the lane's theoretical arrival time
-- in microseconds on the database's clock. A reservation is one
-- upsert that moves it to max(tat, now) + interval_us. No secret here: a
-- key is an app's client id and an account id, both public.
CREATE TABLE rate_budgets (
    budget_key TEXT NOT NULL,
    lane TEXT NOT NULL,
    tat_us INTEGER NOT NULL,
    interval_us INTEGER NOT NULL CHECK (interval_us >= 0),
    PRIMARY KEY (budget_key, lane)
) STRICT;

-- The Pinterest account a credential was last seen to act for (the `id`
-- of `GET /v5/user_account`), so credentials of one account and app share
-- a budget. Forgotten when the credential is authorized again.
CREATE TABLE pinterest_accounts (
    credential_id TEXT PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    seen_at TEXT NOT NULL
) STRICT;
