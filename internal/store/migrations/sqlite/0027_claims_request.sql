-- The claims an authorization request asked for by name (the OpenID
-- Connect claims parameter), for the ID token and for UserInfo: kept with
-- the request, then with its tokens. '' when none.
ALTER TABLE oauth_auth_requests ADD COLUMN claims TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_tokens ADD COLUMN claims TEXT NOT NULL DEFAULT '';
