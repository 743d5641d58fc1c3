-- Pushed authorization requests (RFC 9126): an app posts its request's
-- parameters, and sends the customer to /authorize with the request_uri
-- it got back. The request_uri is stored hashed, used once.
CREATE TABLE oauth_pushed_requests (
    id          TEXT PRIMARY KEY,
    domain      TEXT NOT NULL,
    client_id   TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    params      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX oauth_pushed_requests_expires ON oauth_pushed_requests (expires_at);
