-- Retention: the server deletes ended sessions and abandoned sign-ups
-- after a while (config: retention). These indexes find them without
-- reading the whole table. A session has ended once its idle expiry has
-- passed (never later than its absolute one) or it was signed out.
CREATE INDEX sessions_idle_expires ON sessions (idle_expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX identities_pending ON identities (created_at) WHERE state = 'pending';
