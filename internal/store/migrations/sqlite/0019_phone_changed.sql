-- When the identity's phone number last changed (0 for never): a number
-- new in the recovery cool-off recovers nothing (flow/phone.go).
ALTER TABLE identities ADD COLUMN phone_changed_at INTEGER NOT NULL DEFAULT 0;
