-- OpenID Connect provider: clients, signing keys, authorization requests,
-- tokens and consents. Booleans are 0/1 integers in SQLite.

CREATE TABLE oauth_clients (
    id                         TEXT PRIMARY KEY,
    domain                     TEXT NOT NULL,
    name                       TEXT NOT NULL,
    public                     INTEGER NOT NULL,
    first_party                INTEGER NOT NULL,
    secret_hash                TEXT NOT NULL,
    auth_method                TEXT NOT NULL,
    redirect_uris              TEXT NOT NULL,
    post_logout_redirect_uris  TEXT NOT NULL,
    grant_types                TEXT NOT NULL,
    scopes                     TEXT NOT NULL,
    jwks                       TEXT NOT NULL,
    access_token_format        TEXT NOT NULL,
    signing_alg                TEXT NOT NULL,
    access_token_ttl           INTEGER NOT NULL,
    id_token_ttl               INTEGER NOT NULL,
    refresh_token_ttl          INTEGER NOT NULL,
    require_aal                TEXT NOT NULL,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX oauth_clients_domain ON oauth_clients (domain, created_at);

CREATE TABLE signing_keys (
    id            TEXT PRIMARY KEY,
    alg           TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
    private_key   TEXT NOT NULL,
    public_jwk    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    activated_at  INTEGER,
    retired_at    INTEGER,
    expires_at    INTEGER
);
CREATE INDEX signing_keys_state ON signing_keys (alg, state);
-- At most one signing key per algorithm is active.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';

CREATE TABLE oauth_auth_requests (
    id             TEXT PRIMARY KEY,
    domain         TEXT NOT NULL,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    request        TEXT NOT NULL,
    browser_hash   TEXT NOT NULL,
    subject        TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    amr            TEXT NOT NULL,
    acr            TEXT NOT NULL,
    done           INTEGER NOT NULL,
    code_hash      TEXT UNIQUE,
    code_expires_at INTEGER,
    code_used_at   INTEGER,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX oauth_auth_requests_expires ON oauth_auth_requests (expires_at);

CREATE TABLE oauth_tokens (
    id                 TEXT PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    token_hash         TEXT UNIQUE,
    family_id          TEXT NOT NULL,
    auth_request_id    TEXT NOT NULL,
    domain             TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    subject            TEXT NOT NULL,
    session_id         TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    audience           TEXT NOT NULL,
    amr                TEXT NOT NULL,
    acr                TEXT NOT NULL,
    auth_time          INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    family_expires_at  INTEGER NOT NULL,
    used_at            INTEGER,
    revoked_at         INTEGER
);
CREATE INDEX oauth_tokens_family ON oauth_tokens (family_id);
CREATE INDEX oauth_tokens_subject ON oauth_tokens (subject, client_id);
CREATE INDEX oauth_tokens_auth_request ON oauth_tokens (auth_request_id);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);

CREATE TABLE oauth_consents (
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    domain       TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (identity_id, client_id)
);

-- Client assertion ids seen (private_key_jwt), to refuse replays.
CREATE TABLE oauth_assertions (
    jti         TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX oauth_assertions_expires ON oauth_assertions (expires_at);

-- Events about apps name the client.
ALTER TABLE events ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
