-- Who started an authorization flow (issue 13): the credential's owner, or
-- the operator through the local CLI. Its outcome is logged as theirs, so an
-- operator's authorization is never logged as the owner's. Flows started
-- before this were logged as the owner's and stay so.
ALTER TABLE oauth_flows ADD COLUMN started_by TEXT NOT NULL DEFAULT 'owner'
    CHECK (started_by IN ('owner', 'operator'));
