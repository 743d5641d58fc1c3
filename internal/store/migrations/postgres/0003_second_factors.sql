-- Second factors: TOTP authenticators and recovery codes.

CREATE TABLE totp_credentials (
    identity_id   TEXT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    secret        TEXT NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    id           TEXT PRIMARY KEY,
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    code_hash    TEXT NOT NULL,
    used_at      BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX recovery_codes_identity ON recovery_codes (identity_id);
