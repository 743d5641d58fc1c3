-- write_probe holds nothing between checks: store.DB.CheckWrite inserts a
-- row and deletes it in one transaction, to learn whether the database
-- can still commit a write (readiness).
CREATE TABLE write_probe (
    id TEXT PRIMARY KEY,
    filler BYTEA NOT NULL
);
