-- Every policy decision, with the input it saw (decision.Record): what
-- shadow mode, replay and the console read. One row per decision, written
-- in the transaction of the step it decided. Found by time, and by
-- identity and time; pruned by time (config: retention.decisions).
CREATE TABLE decisions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    domain       TEXT NOT NULL,
    action       TEXT NOT NULL,
    identity_id  TEXT NOT NULL,
    flow_id      TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    effect       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    require      TEXT NOT NULL,
    policy       TEXT NOT NULL,
    input        TEXT NOT NULL
);
CREATE INDEX decisions_at ON decisions (at);
CREATE INDEX decisions_identity_at ON decisions (identity_id, at) WHERE identity_id <> '';
