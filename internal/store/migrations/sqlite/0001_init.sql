-- Foyer's first schema. Times are integer Unix microseconds. Every row that
-- belongs to a customer journey carries its policy domain.

CREATE TABLE identities (
    id          TEXT PRIMARY KEY,
    domain      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'active', 'disabled')),
    schema_id   TEXT NOT NULL,
    traits      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX identities_domain_created ON identities (domain, created_at);

CREATE TABLE identifiers (
    id           TEXT PRIMARY KEY,
    domain       TEXT NOT NULL,
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('email', 'phone', 'username')),
    value        TEXT NOT NULL,
    verified_at  INTEGER,
    created_at   INTEGER NOT NULL,
    UNIQUE (domain, kind, value)
);
CREATE INDEX identifiers_identity ON identifiers (identity_id);

CREATE TABLE credentials (
    id           TEXT PRIMARY KEY,
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX credentials_identity ON credentials (identity_id, type);
-- One password per identity; other credential types (passkeys) may repeat.
CREATE UNIQUE INDEX credentials_one_password ON credentials (identity_id) WHERE type = 'password';

CREATE TABLE flows (
    id           TEXT PRIMARY KEY,
    domain       TEXT NOT NULL,
    type         TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('browser', 'api')),
    state        TEXT NOT NULL,
    binding      TEXT NOT NULL,
    identity_id  TEXT,
    return_to    TEXT NOT NULL,
    data         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX flows_expires ON flows (expires_at);

CREATE TABLE codes (
    id           TEXT PRIMARY KEY,
    flow_id      TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX codes_flow ON codes (flow_id, created_at);

-- Keyed by the token hash: the lookup on every request is one b-tree search.
CREATE TABLE sessions (
    token_hash        TEXT PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    domain            TEXT NOT NULL,
    identity_id       TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    aal               TEXT NOT NULL,
    methods           TEXT NOT NULL,
    device_id         TEXT NOT NULL,
    ip                TEXT NOT NULL,
    user_agent        TEXT NOT NULL,
    authenticated_at  INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    seen_at           INTEGER NOT NULL,
    idle_expires_at   INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    revoked_at        INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_identity ON sessions (identity_id);
CREATE INDEX sessions_device ON sessions (device_id, identity_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL,
    domain       TEXT NOT NULL,
    type         TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    flow_id      TEXT NOT NULL,
    identity_id  TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL
);
CREATE INDEX events_occurred ON events (occurred_at);
CREATE INDEX events_type_occurred ON events (domain, type, occurred_at);

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    domain           TEXT NOT NULL,
    template         TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_created ON outbox (created_at);

CREATE TABLE throttle (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX throttle_expires ON throttle (expires_at);
