-- Sign-in failures across the site, a row per node and minute
-- (risk.Velocity): each node adds its own, every node reads the sum, so a
-- failure-rate spike is seen by all of them. A row with node '' marks a
-- minute whose spike was recorded. Pruned after a day.
CREATE TABLE site_failures (
    node      TEXT NOT NULL,
    minute    INTEGER NOT NULL,
    failures  INTEGER NOT NULL,
    PRIMARY KEY (minute, node)
);
