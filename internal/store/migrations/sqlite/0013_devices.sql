-- The devices each identity has signed in from with full credentials
-- (risk.Devices): what makes a device known, and the places an identity
-- signs in from (country, network, coordinates) for the policy's risk
-- signals and, later, the customer's account page. Filled from the
-- sessions so far: a device that held a session is known.
CREATE TABLE devices (
    identity_id   TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    user_agent    TEXT NOT NULL,
    network       TEXT NOT NULL,
    country       TEXT NOT NULL,
    city          TEXT NOT NULL,
    latitude      REAL,
    longitude     REAL,
    asn           INTEGER NOT NULL,
    PRIMARY KEY (identity_id, device_id)
);
CREATE INDEX devices_identity_seen ON devices (identity_id, last_seen_at);
INSERT INTO devices (identity_id, device_id, first_seen_at, last_seen_at, user_agent, network, country, city, asn)
    SELECT identity_id, device_id, MIN(created_at), MAX(created_at), '', '', '', '', 0
    FROM sessions WHERE device_id <> '' GROUP BY identity_id, device_id;
