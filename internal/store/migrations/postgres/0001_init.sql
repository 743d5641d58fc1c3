-- Foyer's first schema. Times are integer Unix microseconds. Every row that
-- belongs to a customer journey carries its policy domain.

CREATE TABLE identities (
    id          TEXT PRIMARY KEY,
    domain      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'active', 'disabled')),
    schema_id   TEXT NOT NULL,
    traits      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX identities_domain_created ON identities (domain, created_at);

CREATE TABLE identifiers (
    id           TEXT PRIMARY KEY,
    domain       TEXT NOT NULL,
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('email', 'phone', 'username')),
    value        TEXT NOT NULL,
    verified_at  BIGINT,
    created_at   BIGINT NOT NULL,
    UNIQUE (domain, kind, value)
);
CREATE INDEX identifiers_identity ON identifiers (identity_id);

CREATE TABLE credentials (
    id           TEXT PRIMARY KEY,
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
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
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX flows_expires ON flows (expires_at);

CREATE TABLE codes (
    id           TEXT PRIMARY KEY,
    flow_id      TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX codes_flow ON codes (flow_id, created_at);

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    domain            TEXT NOT NULL,
    token_hash        TEXT NOT NULL UNIQUE,
    identity_id       TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    aal               TEXT NOT NULL,
    methods           TEXT NOT NULL,
    device_id         TEXT NOT NULL,
    ip                TEXT NOT NULL,
    user_agent        TEXT NOT NULL,
    authenticated_at  BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    seen_at           BIGINT NOT NULL,
    idle_expires_at   BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    revoked_at        BIGINT
);
CREATE INDEX sessions_identity ON sessions (identity_id);
CREATE INDEX sessions_device ON sessions (device_id, identity_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE events (
    seq          BIGSERIAL PRIMARY KEY,
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
    occurred_at  BIGINT NOT NULL
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
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_created ON outbox (created_at);

CREATE TABLE throttle (
    key           TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    last_failure  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX throttle_expires ON throttle (expires_at);
