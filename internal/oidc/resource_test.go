package oidc_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// Introspection (RFC 7662) answers for refresh tokens as well as access
// tokens, takes every secret-based method a client may register, and
// refuses a failed client authentication with a JSON error.
func TestIntrospectionOfRefreshTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "frank@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true), AuthMethod: ptr("client_secret_post")})
		code, verifier, _ := p.authorize("frank@example.com")
		tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		// client_secret_post, the client's own method.
		post := func(token string) (int, map[string]any) {
			return postForm(t, env.URL+"/oauth/introspect", "", "", url.Values{"token": {token}, "client_id": {p.client.ID}, "client_secret": {p.secret}})
		}
		status, out := post(tok.RefreshToken)
		if status != 200 || out["active"] != true || out["client_id"] != p.client.ID || out["sub"] == nil || out["exp"] == nil ||
			!strings.Contains(out["scope"].(string), "offline_access") {
			t.Fatalf("refresh token: %d %v", status, out)
		}
		if _, ok := out["token_type"]; ok {
			t.Errorf("refresh token has token_type %v: that names access token types", out["token_type"])
		}
		if status, out := post(tok.AccessToken); status != 200 || out["active"] != true || out["token_type"] != "Bearer" {
			t.Fatalf("access token: %d %v", status, out)
		}
		// Another client learns nothing about it.
		other := newRP(t, env, client.Spec{Name: ptr("Other")})
		if status, out := postForm(t, env.URL+"/oauth/introspect", other.client.ID, other.secret, url.Values{"token": {tok.RefreshToken}}); status != 200 || out["active"] != false || len(out) != 1 {
			t.Fatalf("foreign refresh token: %d %v", status, out)
		}
		// Once rotated it is spent.
		if _, err := p.refresh(tok.RefreshToken); err != nil {
			t.Fatal(err)
		}
		if status, out := post(tok.RefreshToken); status != 200 || out["active"] != false {
			t.Fatalf("rotated refresh token: %d %v", status, out)
		}
		if status, out := post("fyr_unknown"); status != 200 || out["active"] != false {
			t.Fatalf("unknown refresh token: %d %v", status, out)
		}

		// Failed client authentication: 401, a JSON error, a challenge.
		for name, form := range map[string]url.Values{
			"wrong secret":   {"token": {tok.AccessToken}, "client_id": {p.client.ID}, "client_secret": {p.secret + "x"}},
			"no secret":      {"token": {tok.AccessToken}, "client_id": {p.client.ID}},
			"unknown client": {"token": {tok.AccessToken}, "client_id": {"nobody"}, "client_secret": {p.secret}},
		} {
			if status, out := postForm(t, env.URL+"/oauth/introspect", "", "", form); status != 401 || out["error"] != "invalid_client" {
				t.Errorf("%s: %d %v", name, status, out)
			}
		}
		if status, out := postForm(t, env.URL+"/oauth/introspect", p.client.ID, "wrong", url.Values{"token": {tok.AccessToken}}); status != 401 || out["error"] != "invalid_client" {
			t.Errorf("wrong Basic secret: %d %v", status, out)
		}
		// One method at a time (RFC 6749, section 2.3), refused as at the
		// token endpoint.
		if status, out := postForm(t, env.URL+"/oauth/introspect", p.client.ID, p.secret,
			url.Values{"token": {tok.AccessToken}, "client_id": {p.client.ID}, "client_secret": {p.secret}}); status != 400 || out["error"] != "invalid_request" {
			t.Errorf("two methods: %d %v", status, out)
		}
	})
}

// UserInfo tells a client whose token is no good (401 invalid_token) from
// one whose token is good but not for UserInfo (403 insufficient_scope),
// as RFC 6750 asks, and takes the token from a POST's form body too.
func TestUserInfoErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "grace@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		code, verifier, _ := p.authorize("grace@example.com")
		tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		userinfo := func(method, token string) (int, string, map[string]any) {
			t.Helper()
			var req *http.Request
			if method == "POST" {
				req, _ = http.NewRequest("POST", env.URL+"/userinfo", strings.NewReader(url.Values{"access_token": {token}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				req, _ = http.NewRequest("GET", env.URL+"/userinfo", nil)
				req.Header.Set("Authorization", "bearer "+token) // the scheme is case-insensitive
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var out map[string]any
			_ = json.Unmarshal(raw, &out)
			return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), out
		}
		for _, method := range []string{"GET", "POST"} {
			if status, _, out := userinfo(method, tok.AccessToken); status != 200 || out["email"] != "grace@example.com" || out["sub"] == nil {
				t.Fatalf("%s userinfo: %d %v", method, status, out)
			}
		}

		// A machine client's token is live, but speaks for no person.
		c, secret, err := env.Server.Clients.Create(context.Background(), "customers", client.Spec{
			Name: ptr("Job"), GrantTypes: &[]string{"client_credentials"}, Scopes: &[]string{"reports:read"}})
		if err != nil {
			t.Fatal(err)
		}
		_, cc := postForm(t, env.URL+"/oauth/token", c.ID, secret, url.Values{"grant_type": {"client_credentials"}})
		status, challenge, out := userinfo("GET", cc["access_token"].(string))
		if status != 403 || out["error"] != "insufficient_scope" || !strings.Contains(challenge, `error="insufficient_scope"`) {
			t.Fatalf("machine token: %d %q %v", status, challenge, out)
		}

		// Revoked: 401 invalid_token, whichever way the token came.
		if status, _ := postForm(t, env.URL+"/revoke", p.client.ID, p.secret, url.Values{"token": {tok.AccessToken}}); status != 200 {
			t.Fatalf("revoke: %d", status)
		}
		for _, method := range []string{"GET", "POST"} {
			status, challenge, out := userinfo(method, tok.AccessToken)
			if status != 401 || out["error"] != "invalid_token" || challenge != `Bearer realm="foyer", error="invalid_token"` {
				t.Errorf("%s with a revoked token: %d %q %v", method, status, challenge, out)
			}
		}
		// A token sent two ways at once is refused (RFC 6750, section 2).
		req, _ := http.NewRequest("POST", env.URL+"/userinfo", strings.NewReader(url.Values{"access_token": {tok.AccessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		both, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		both.Body.Close()
		if both.StatusCode != 400 || both.Header.Get("WWW-Authenticate") != `Bearer realm="foyer", error="invalid_request"` {
			t.Errorf("token in the header and the body: %d, WWW-Authenticate %q", both.StatusCode, both.Header.Get("WWW-Authenticate"))
		}
		// A POST without a token gets a challenge without an error code.
		resp, err := http.Post(env.URL+"/userinfo", "application/x-www-form-urlencoded", strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="foyer"` {
			t.Errorf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

// Whatever algorithm a client's tokens are signed with, Foyer reads them
// back: its access tokens at UserInfo, introspection and revocation, its ID
// tokens as hints at logout.
func TestTokensOfEverySigningAlgorithm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "ivan@example.com")
		for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
			p := newRP(t, env, client.Spec{Name: ptr("App " + alg), FirstParty: ptr(true), SigningAlg: ptr(alg),
				PostLogoutRedirectURIs: &[]string{"https://shop.example/bye"}})
			code, verifier, _ := p.authorize("ivan@example.com")
			tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
			if _, err := p.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok)); err != nil {
				t.Errorf("%s: userinfo: %v", alg, err)
			}
			introspect := func() any {
				_, out := postForm(t, env.URL+"/oauth/introspect", p.client.ID, p.secret, url.Values{"token": {tok.AccessToken}})
				return out["active"]
			}
			if got := introspect(); got != true {
				t.Errorf("%s: introspection: active %v", alg, got)
			}
			if status, _ := postForm(t, env.URL+"/revoke", p.client.ID, p.secret, url.Values{"token": {tok.AccessToken}}); status != 200 || introspect() != false {
				t.Errorf("%s: revocation: %d, then active %v", alg, status, introspect())
			}
			r := p.browser.Get("/end_session?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"https://shop.example/bye"}}.Encode())
			if !strings.HasPrefix(r.Header.Get("Location"), "/logout?") {
				t.Errorf("%s: end_session with the ID token as hint: %d %q %s", alg, r.StatusCode, r.Header.Get("Location"), r.Body)
			}
		}
	})
}

// A public client that sends its id with an empty secret (as some client
// libraries do) is a public client, not one that failed to authenticate.
func TestPublicClientWithEmptySecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "jane@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true), Public: ptr(true)})
		code, verifier, _ := p.authorize("jane@example.com")
		status, out := postForm(t, env.URL+"/oauth/token", p.client.ID, "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirectURI}, "code_verifier": {verifier}, "client_secret": {""}})
		if status != 200 || out["access_token"] == nil {
			t.Fatalf("public client, empty secret: %d %v", status, out)
		}
	})
}
