-- When Pinion last asked Pinterest whether the credential works (Check).
ALTER TABLE credentials ADD COLUMN last_checked_at TIMESTAMPTZ;
