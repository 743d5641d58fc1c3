-- A recovery (package flow, recovery.go) restricts the account until
-- restricted_until, the end of its cool-off: the customer is in, but what
-- would lock the owner out for good waits. recovered_at tells the factors
-- enrolled before the recovery (the owner's) from those enrolled since.
-- 0 for never.
ALTER TABLE identities ADD COLUMN recovered_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE identities ADD COLUMN restricted_until BIGINT NOT NULL DEFAULT 0;
