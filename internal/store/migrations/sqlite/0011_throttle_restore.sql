-- A throttle reservation counts an attempt before its work and moves the
-- key's last attempt to now; a success, or an attempt the policy refused,
-- gives the count back. seq numbers a key's reservations, and prev_last /
-- prev_expires keep what the latest one replaced, so that giving it back
-- also restores the key's time, when no later reservation moved it since:
-- a success must not re-arm a busy network's wait, nor a refused attempt
-- push an account's window forward.
ALTER TABLE throttle ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE throttle ADD COLUMN prev_last BIGINT NOT NULL DEFAULT 0;
ALTER TABLE throttle ADD COLUMN prev_expires BIGINT NOT NULL DEFAULT 0;
