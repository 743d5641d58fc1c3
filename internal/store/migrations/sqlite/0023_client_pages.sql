-- What the hosted pages show of an app that sends a customer: its
-- website, logo, privacy policy and terms (OpenID Connect Dynamic Client
-- Registration's client_uri, logo_uri, policy_uri, tos_uri); '' for none.
ALTER TABLE oauth_clients ADD COLUMN client_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN logo_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN policy_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN tos_uri TEXT NOT NULL DEFAULT '';
