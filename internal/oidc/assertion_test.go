package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func TestClientCredentialsWithPrivateKeyJWT(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		c, secret, err := env.Server.Clients.Create(context.Background(), "customers", client.Spec{
			Name: ptr("Agent"), GrantTypes: &[]string{"client_credentials"}, AuthMethod: ptr("private_key_jwt"), JWKS: jwks})
		if err != nil {
			t.Fatal(err)
		}
		if secret != "" {
			t.Fatal("a private_key_jwt client got a shared secret")
		}
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
		assertion := func(aud string, exp time.Duration, jti string) string {
			now := env.Clock.Now()
			s, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{aud},
				Expiry: jwt.NewNumericDate(now.Add(exp)), IssuedAt: jwt.NewNumericDate(now), ID: jti}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		token := func(a string) (int, map[string]any) {
			return postForm(t, env.URL+"/oauth/token", "", "", url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}})
		}
		// The token endpoint URL as audience (what RFC 7523 libraries send)...
		a1 := assertion(env.URL+"/oauth/token", 2*time.Minute, "jti-1")
		if status, out := token(a1); status != 200 || out["access_token"] == nil {
			t.Fatalf("assertion: %d %v", status, out)
		}
		// ...and the issuer both work.
		if status, out := token(assertion(env.URL, 2*time.Minute, "jti-2")); status != 200 {
			t.Fatalf("issuer audience: %d %v", status, out)
		}
		for name, a := range map[string]string{
			"replayed":       a1,
			"wrong audience": assertion("https://other.example", 2*time.Minute, "jti-3"),
			"too long":       assertion(env.URL, 2*time.Hour, "jti-4"),
			"no jti":         assertion(env.URL, 2*time.Minute, ""),
		} {
			if status, out := token(a); status != 401 || out["error"] != "invalid_client" {
				t.Errorf("%s: %d %v", name, status, out)
			}
		}
		// Signed by another key.
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		signer, _ = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: other}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if status, _ := token(assertion(env.URL, 2*time.Minute, "jti-5")); status != 401 {
			t.Errorf("foreign key: %d", status)
		}
		// Expired.
		signer, _ = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		expired := assertion(env.URL, time.Minute, "jti-6")
		env.Clock.Advance(2 * time.Minute)
		if status, _ := token(expired); status != 401 {
			t.Errorf("expired: %d", status)
		}

		// Introspection and revocation hold assertions to the same rules
		// before the library checks them: Foyer's own refusal is JSON.
		_, tok := token(assertion(env.URL, 2*time.Minute, "jti-7"))
		auth := func(path, a string) (int, map[string]any) {
			return postForm(t, env.URL+path, "", "", url.Values{"token": {tok["access_token"].(string)},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}})
		}
		a8 := assertion(env.URL, 2*time.Minute, "jti-8")
		auth("/oauth/introspect", a8) // its first use
		for _, path := range []string{"/oauth/introspect", "/revoke"} {
			for name, a := range map[string]string{
				"replayed": a8,
				"too long": assertion(env.URL, 2*time.Hour, "jti-9-"+path),
				"no jti":   assertion(env.URL, 2*time.Minute, ""),
			} {
				if status, out := auth(path, a); status != 401 || out["error"] != "invalid_client" {
					t.Errorf("%s, %s: %d %v", path, name, status, out)
				}
			}
		}
	})
}

// A private_key_jwt web app signs in people with the code flow, refreshes
// and revokes, with the token endpoint as its assertions' audience (what
// OpenID Connect Core, section 9, recommends) or the issuer.
func TestCodeFlowWithPrivateKeyJWT(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "heidi@example.com")
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		p := newRP(t, env, client.Spec{FirstParty: ptr(true), AuthMethod: ptr("private_key_jwt"), JWKS: jwks})
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		n := 0
		assertion := func(aud string) string {
			n++
			now := env.Clock.Now()
			s, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: p.client.ID, Subject: p.client.ID, Audience: jwt.Audience{aud},
				Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: "jti-" + strconv.Itoa(n)}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		post := func(path, aud string, form url.Values) (int, map[string]any) {
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			form.Set("client_assertion", assertion(aud))
			return postForm(t, env.URL+path, "", "", form)
		}
		for _, aud := range []string{env.URL + "/oauth/token", env.URL} {
			code, verifier, _ := p.authorize("heidi@example.com")
			status, tok := post("/oauth/token", aud, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {redirectURI}, "code_verifier": {verifier}})
			if status != 200 || tok["id_token"] == nil || tok["refresh_token"] == nil {
				t.Fatalf("audience %s: code exchange: %d %v", aud, status, tok)
			}
			status, next := post("/oauth/token", aud, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}})
			if status != 200 || next["access_token"] == nil {
				t.Fatalf("audience %s: refresh: %d %v", aud, status, next)
			}
			rt := next["refresh_token"].(string)
			if status, out := post("/oauth/introspect", aud, url.Values{"token": {rt}}); status != 200 || out["active"] != true {
				t.Fatalf("audience %s: introspection: %d %v", aud, status, out)
			}
			if status, out := post("/revoke", aud, url.Values{"token": {rt}}); status != 200 {
				t.Fatalf("audience %s: revocation: %d %v", aud, status, out)
			}
			if status, out := post("/oauth/introspect", aud, url.Values{"token": {rt}}); status != 200 || out["active"] != false {
				t.Fatalf("audience %s: after revocation: %d %v", aud, status, out)
			}
		}
		// Any other audience is refused, before and by the library alike.
		code, verifier, _ := p.authorize("heidi@example.com")
		if status, out := post("/oauth/token", env.URL+"/oauth/introspect", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirectURI}, "code_verifier": {verifier}}); status != 401 || out["error"] != "invalid_client" {
			t.Fatalf("wrong audience: %d %v", status, out)
		}
	})
}
