-- Rich Authorization Requests (RFC 9396). The authorization details types
-- a client may send (a JSON array of strings); the details an
-- authorization request carried, and the tokens issued for it (a compact
-- JSON array; '' when none were sent).
ALTER TABLE oauth_clients ADD COLUMN authorization_details_types TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_auth_requests ADD COLUMN authorization_details TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_tokens ADD COLUMN authorization_details TEXT NOT NULL DEFAULT '';
