-- lang is the language a mail is worded in (a BCP 47 tag), for its
-- Content-Language header. Mail queued before it was worded in English.
ALTER TABLE outbox ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
