package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// agent is a private_key_jwt client and a maker of its assertions.
type agent struct {
	t      *testing.T
	env    *servertest.Env
	client *client.Client
	signer jose.Signer
	n      int
}

func newAgent(t *testing.T, env *servertest.Env, spec client.Spec) *agent {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	spec.AuthMethod, spec.JWKS = ptr("private_key_jwt"), jwks
	if spec.Name == nil {
		spec.Name = ptr("Agent")
	}
	c, _, err := env.Server.Clients.Create(context.Background(), "customers", spec)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	return &agent{t: t, env: env, client: c, signer: signer}
}

// form returns form with a fresh client assertion.
func (a *agent) form(form url.Values) url.Values {
	a.n++
	now := a.env.Clock.Now()
	s, err := jwt.Signed(a.signer).Claims(jwt.Claims{Issuer: a.client.ID, Subject: a.client.ID, Audience: jwt.Audience{a.env.URL},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: "jti-" + strconv.Itoa(a.n)}).Serialize()
	if err != nil {
		a.t.Fatal(err)
	}
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", s)
	return form
}

// A client authenticates one way only wherever it authenticates: an
// assertion of one client with another's Basic credentials (or a posted
// secret) is an invalid request, and nothing is issued or revoked.
func TestOneClientAuthenticationMethod(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "olga@example.com")
		machine := newAgent(t, env, client.Spec{GrantTypes: &[]string{"client_credentials"}})
		web := newAgent(t, env, client.Spec{Name: ptr("Web"), FirstParty: ptr(true), RedirectURIs: &[]string{redirectURI}})
		other := newRP(t, env, client.Spec{Name: ptr("Other"), FirstParty: ptr(true), GrantTypes: &[]string{"authorization_code", "refresh_token", "client_credentials"}})
		code, verifier, _ := other.authorize("olga@example.com")
		tok, err := other.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		for name, try := range map[string]func() (int, map[string]any){
			"client_credentials, assertion and Basic": func() (int, map[string]any) {
				return postForm(t, env.URL+"/oauth/token", other.client.ID, other.secret, machine.form(url.Values{"grant_type": {"client_credentials"}}))
			},
			"client_credentials, assertion and posted secret": func() (int, map[string]any) {
				return postForm(t, env.URL+"/oauth/token", "", "", machine.form(url.Values{"grant_type": {"client_credentials"},
					"client_id": {other.client.ID}, "client_secret": {other.secret}}))
			},
			"refresh_token, assertion and Basic": func() (int, map[string]any) {
				return postForm(t, env.URL+"/oauth/token", other.client.ID, other.secret, web.form(url.Values{"grant_type": {"refresh_token"},
					"refresh_token": {tok.RefreshToken}}))
			},
			"revocation, assertion and Basic": func() (int, map[string]any) {
				return postForm(t, env.URL+"/revoke", other.client.ID, other.secret, web.form(url.Values{"token": {tok.RefreshToken}}))
			},
			"introspection, assertion and Basic": func() (int, map[string]any) {
				return postForm(t, env.URL+"/oauth/introspect", other.client.ID, other.secret, web.form(url.Values{"token": {tok.AccessToken}}))
			},
		} {
			if status, out := try(); status != http.StatusBadRequest || out["error"] != "invalid_request" {
				t.Errorf("%s: %d %v", name, status, out)
			}
		}
		// Nothing was revoked or used up.
		if _, err := other.refresh(tok.RefreshToken); err != nil {
			t.Fatalf("the refresh token after the refused requests: %v", err)
		}
	})
}

// internals are fragments of what Foyer's and the drivers' errors say,
// which must never reach a client.
var internals = []string{"oidc:", "store:", "sql", "table", "relation", "no such", "does not exist", "column", "syntax", "context"}

// noInternals fails when a response carries an internal error's text, in
// its body or its redirect.
func noInternals(t *testing.T, what string, status int, header http.Header, body string) {
	t.Helper()
	all := strings.ToLower(body + " " + header.Get("Location"))
	if loc, err := url.Parse(header.Get("Location")); err == nil {
		all += " " + strings.ToLower(loc.Query().Get("error_description"))
	}
	for _, s := range internals {
		if strings.Contains(all, s) {
			t.Errorf("%s: %d answers with an internal error (%q):\n%s %s", what, status, s, header.Get("Location"), body)
			return
		}
	}
}

func post(t *testing.T, u, user, pass string, form url.Values) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

// When the database fails, the protocol endpoints answer server_error
// (or their own refusal) and never the error itself: not in a JSON body,
// not in a redirect's error_description. A failure to rotate a refresh
// token is not invalid_grant, which would make the client drop it.
func TestNoInternalErrorsOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		ctx := context.Background()
		signUp(t, env, "pia@example.com")
		machine := newAgent(t, env, client.Spec{GrantTypes: &[]string{"client_credentials"}})
		job, jobSecret, err := env.Server.Clients.Create(ctx, "customers", client.Spec{Name: ptr("Job"), GrantTypes: &[]string{"client_credentials"}})
		if err != nil {
			t.Fatal(err)
		}
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		code, verifier, _ := p.authorize("pia@example.com")
		tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		code, verifier, _ = p.authorize("pia@example.com") // redeemed below, with the tokens' table gone

		// Client assertions cannot be recorded.
		if _, err := env.DB.Exec(ctx, `DROP TABLE oauth_assertions`); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/oauth/token", "/oauth/introspect", "/revoke"} {
			status, h, body := post(t, env.URL+path, "", "", machine.form(url.Values{"grant_type": {"client_credentials"}, "token": {"x"}}))
			if status < 500 {
				t.Errorf("%s with an assertion that cannot be recorded: %d %s", path, status, body)
			}
			noInternals(t, path+" with an assertion that cannot be recorded", status, h, body)
		}

		// Tokens cannot be read or stored.
		if _, err := env.DB.Exec(ctx, `ALTER TABLE oauth_tokens RENAME TO oauth_tokens_gone`); err != nil {
			t.Fatal(err)
		}
		for name, form := range map[string]url.Values{
			"client_credentials": {"grant_type": {"client_credentials"}},
			"authorization_code": {"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}},
			"refresh_token":      {"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
		} {
			user, pass := p.client.ID, p.secret
			if name == "client_credentials" {
				user, pass = job.ID, jobSecret
			}
			status, h, body := post(t, env.URL+"/oauth/token", user, pass, form)
			noInternals(t, name, status, h, body)
			if strings.Contains(body, "invalid_grant") {
				t.Errorf("%s: a database failure answered as invalid_grant: %s", name, body)
			}
		}
		for _, path := range []string{"/revoke", "/oauth/introspect"} {
			status, h, body := post(t, env.URL+path, p.client.ID, p.secret, url.Values{"token": {tok.RefreshToken}})
			noInternals(t, path, status, h, body)
		}

		// Authorization requests cannot be stored.
		if _, err := env.DB.Exec(ctx, `ALTER TABLE oauth_auth_requests RENAME TO oauth_auth_requests_gone`); err != nil {
			t.Fatal(err)
		}
		r := p.start(p.params(nil))
		noInternals(t, "/authorize", r.StatusCode, r.Header, r.Body)
	})
}
