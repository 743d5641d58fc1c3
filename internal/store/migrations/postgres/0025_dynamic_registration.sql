-- Dynamic client registration (RFC 7591 and 7592, OpenID Connect Dynamic
-- Client Registration 1.0). A client records its contacts (a JSON array
-- of addresses), its application_type ('web' or 'native'; '' when the
-- operator registered it and said nothing), whether it registered itself
-- (dynamic), and the hash of its registration access token ('' for none:
-- only clients that registered themselves manage their registration).
ALTER TABLE oauth_clients ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_clients ADD COLUMN application_type TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN dynamic BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE oauth_clients ADD COLUMN registration_token_hash TEXT NOT NULL DEFAULT '';

-- Initial access tokens: what lets their holder register clients when
-- registration needs one (oidc.registration: token). Only a keyed hash is
-- kept; a token works until expires_at, uses_left times.
CREATE TABLE oauth_initial_tokens (
    id            TEXT PRIMARY KEY,
    domain        TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    note          TEXT NOT NULL,
    uses_left     INTEGER NOT NULL CHECK (uses_left >= 0),
    used          INTEGER NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL
);
CREATE INDEX oauth_initial_tokens_domain ON oauth_initial_tokens (domain, created_at);
