-- A client that wants UserInfo as a signed JWT (OpenID Connect
-- userinfo_signed_response_alg): its algorithm; '' for plain JSON.
ALTER TABLE oauth_clients ADD COLUMN userinfo_signing_alg TEXT NOT NULL DEFAULT '';
