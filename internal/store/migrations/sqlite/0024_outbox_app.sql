-- app is the client id of the app whose journey a mail is part of, whose
-- look the mail took (branding.apps); '' for none, as for all mail queued
-- before.
ALTER TABLE outbox ADD COLUMN app TEXT NOT NULL DEFAULT '';
