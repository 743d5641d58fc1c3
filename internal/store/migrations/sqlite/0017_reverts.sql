-- "This wasn't me": every recovery and every change of the email address
-- or the password mails the account's verified addresses a link that
-- undoes it (flow/revert.go). Only the link's hash is kept, with what the
-- change replaced: the old address, or the old password's hash.
CREATE TABLE reverts (
    id           TEXT PRIMARY KEY,
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    old_value    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX reverts_identity ON reverts (identity_id);
CREATE INDEX reverts_expires ON reverts (expires_at);
-- An account whose owner used such a link is protected: a password alone
-- no longer signs it in (policy.Signals.Protected) until a sign-in passes
-- with the owner's own channel. email_changed_at keeps a new address out
-- of recovery for the cool-off. 0 for never.
ALTER TABLE identities ADD COLUMN protected_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE identities ADD COLUMN email_changed_at INTEGER NOT NULL DEFAULT 0;
