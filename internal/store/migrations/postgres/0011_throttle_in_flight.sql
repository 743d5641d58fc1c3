-- Attempts whose outcome comes later (a password checked) hold a place on
-- their keys while they run, and count only if they fail: pending is how
-- many are under way, pending_until when the latest one's place lapses
-- (its node may have died). See throttle.Rule.InFlight.
ALTER TABLE throttle ADD COLUMN pending BIGINT NOT NULL DEFAULT 0;
ALTER TABLE throttle ADD COLUMN pending_until BIGINT NOT NULL DEFAULT 0;
