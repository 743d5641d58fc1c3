-- The worker looks for due mail among queued and sending entries only.
-- Indexing just those keeps the index the size of the queue, not of the
-- outbox: every claim and delivery moves an entry on, and an index over
-- all of them filled, on PostgreSQL, with entries for rows since updated,
-- which each claim then had to visit (19 ms a claim after ten thousand
-- sign-ups with autovacuum off).
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('queued', 'sending');
