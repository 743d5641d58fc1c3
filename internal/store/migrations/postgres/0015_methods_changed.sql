-- When the identity last changed how it signs in (an authenticator app,
-- recovery codes, a passkey added or removed): a risk signal at sign-in
-- (policy.Signals.SinceMethodsChange). 0 for never.
ALTER TABLE identities ADD COLUMN methods_changed_at BIGINT NOT NULL DEFAULT 0;
