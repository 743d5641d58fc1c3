-- Passkeys: WebAuthn credentials and the server-side challenges of their
-- ceremonies (internal/credential/passkey).

CREATE TABLE webauthn_credentials (
    id               TEXT PRIMARY KEY,  -- credential id, base64url without padding
    identity_id      TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    domain           TEXT NOT NULL,
    name             TEXT NOT NULL,     -- chosen by the customer, e.g. "iPhone"
    public_key       BLOB NOT NULL,     -- COSE_Key
    sign_count       INTEGER NOT NULL DEFAULT 0,
    aaguid           TEXT NOT NULL,
    transports       TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    backup_eligible  INTEGER NOT NULL DEFAULT 0,
    backup_state     INTEGER NOT NULL DEFAULT 0,
    user_verified    INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX webauthn_credentials_identity ON webauthn_credentials (identity_id);

CREATE TABLE webauthn_challenges (
    id            TEXT PRIMARY KEY,
    identity_id   TEXT NOT NULL DEFAULT '',  -- '' for a sign-in (the customer is not known yet)
    kind          TEXT NOT NULL CHECK (kind IN ('registration', 'login')),
    session_data  TEXT NOT NULL,             -- JSON of webauthn.SessionData
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);
