-- A customer's recent security activity (event.Log.Activity): sign-ins,
-- recoveries and changes to the account, newest first. Partial, so that
-- the journeys' other events cost no more to write.
CREATE INDEX events_security ON events (identity_id, occurred_at)
    WHERE type IN ('login.succeeded', 'recovery.completed', 'settings.changed', 'settings.reverted', 'methods.changed', 'session.revoked');
-- An account's recoveries under way, which a newer one (or the one that
-- completes) ends (flow.Store.endRecoveriesTx).
CREATE INDEX flows_recovery ON flows (identity_id) WHERE type = 'recovery';
