-- Mail that is useless after a time (a code that expires): the worker
-- gives up on it then instead of delivering it late.
ALTER TABLE outbox ADD COLUMN not_after INTEGER;
