package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// paymentPolicy refuses payments over 10,000 from what the app says is at
// stake (the authorization details), and lets the rest through.
const paymentPolicy = `version: 1
rules:
  - name: big-payments
    when: >-
      action == "oauth.authorize" && transaction.details.exists(d, d.type == "payment_initiation" &&
      double(d.instructedAmount.amount) > 10000.0)
    then: {effect: deny, reason: "Payments over 10,000 are made at a branch."}
`

func payment(amount string) string {
	return `[{"type":"payment_initiation","actions":["initiate"],"locations":["https://bank.example/payments"],` +
		`"instructedAmount":{"currency":"EUR","amount":"` + amount + `"},"creditorName":"Merchant A"}]`
}

// Rich Authorization Requests (RFC 9396): the details an app sends are
// the policy's transaction, shown on the consent page every time, and
// granted with the tokens — in the token response (on refresh too), the
// JWT access token and introspection. Details the client may not send are
// refused at its redirect URI.
func TestAuthorizationDetails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		path := filepath.Join(t.TempDir(), "policy.yaml")
		if err := os.WriteFile(path, []byte(paymentPolicy), 0o600); err != nil {
			t.Fatal(err)
		}
		env := servertest.Start(t, db, func(c *config.Config) { c.Policy.File = path })
		signUp(t, env, "pat@example.com")
		p := newRP(t, env, client.Spec{AuthorizationDetailsTypes: &[]string{"payment_initiation"}})
		ctx := context.Background()

		var meta map[string]any
		env.JSON(t, "GET", "/.well-known/openid-configuration", "", nil, &meta)
		if got := canon(meta["authorization_details_types_supported"]); got != `["payment_initiation"]` {
			t.Fatalf("authorization_details_types_supported: %s", got)
		}

		if r := p.browser.Submit("/login", url.Values{"email": {"pat@example.com"}, "password": {password}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", r.StatusCode)
		}
		// start asks for the details and returns the page the browser
		// lands on in Foyer (or the redirect to the app) and the verifier.
		var consentPath string
		start := func(details string) (*servertest.Response, string, string) {
			t.Helper()
			state, verifier := random(), oauth2.GenerateVerifier()
			r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n"),
				oauth2.SetAuthURLParam("authorization_details", details)), env.URL))
			if loc := r.Header.Get("Location"); strings.HasPrefix(loc, "/") {
				consentPath = loc
				r = p.browser.Get(loc)
			}
			return r, state, verifier
		}
		allow := func(page *servertest.Response) *url.URL {
			t.Helper()
			r := p.browser.Post(consentPath, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "decision": {"allow"}})
			back, _ := url.Parse(r.Header.Get("Location"))
			return back
		}

		// The consent page shows what is at stake.
		page, state, verifier := start(payment("250.00"))
		for _, want := range []string{`data-id="consent.details"`, "<h2>payment_initiation</h2>", "<dt>instructedAmount.amount</dt><dd>250.00</dd>",
			"<dt>instructedAmount.currency</dt><dd>EUR</dd>", "<dt>creditorName</dt><dd>Merchant A</dd>", "<dt>actions</dt><dd>initiate</dd>"} {
			if !strings.Contains(page.Body, want) {
				t.Fatalf("consent page lacks %s: %d\n%s", want, page.StatusCode, page.Body)
			}
		}
		back := allow(page)
		if back.Query().Get("state") != state || back.Query().Get("code") == "" {
			t.Fatalf("after allow: %s", back)
		}
		tok, err := p.oauth.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		granted := canon(tok.Extra("authorization_details"))
		if want := canon(decode(t, payment("250.00"))); granted != want {
			t.Fatalf("token response details %s, want %s", granted, want)
		}
		// In the JWT access token, and through introspection.
		parts := strings.Split(tok.AccessToken, ".")
		if len(parts) != 3 {
			t.Fatalf("access token is not a JWT: %q", tok.AccessToken)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		_ = json.Unmarshal(payload, &claims)
		if got := canon(claims["authorization_details"]); got != granted {
			t.Fatalf("access token details %s", got)
		}
		code, intro := postForm(t, env.URL+"/oauth/introspect", p.client.ID, p.secret, url.Values{"token": {tok.AccessToken}})
		if code != http.StatusOK || intro["active"] != true || canon(intro["authorization_details"]) != granted {
			t.Fatalf("introspection: %d %v", code, intro)
		}
		// A refresh grants the same details.
		again, err := p.refresh(tok.RefreshToken)
		if err != nil || canon(again.Extra("authorization_details")) != granted {
			t.Fatalf("refresh: %v %v", again, err)
		}

		// A consent given before does not cover another transaction.
		page, _, _ = start(payment("900.00"))
		if !strings.Contains(page.Body, "<dd>900.00</dd>") {
			t.Fatalf("second payment skipped the consent page: %d %s", page.StatusCode, page.Header.Get("Location"))
		}
		// Without details the scopes' consent holds.
		r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL(random(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), env.URL))
		if r = p.browser.Get(r.Header.Get("Location")); !strings.Contains(r.Header.Get("Location"), "code=") {
			t.Fatalf("without details: %d %s", r.StatusCode, r.Header.Get("Location"))
		}

		// The policy reads the transaction: a big payment is refused with
		// its reason, and the record keeps what was at stake.
		r, state, _ = start(payment("25000.00"))
		back, _ = url.Parse(r.Header.Get("Location"))
		if back.Query().Get("error") != "access_denied" || back.Query().Get("error_description") != "Payments over 10,000 are made at a branch." ||
			back.Query().Get("state") != state {
			t.Fatalf("big payment: %d %s", r.StatusCode, r.Header.Get("Location"))
		}
		recs, err := env.Server.Decisions.List(ctx, decision.Query{ClientID: p.client.ID, Action: policy.AuthorizeApp})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(recs, func(r decision.Record) bool { return r.Effect == policy.Deny })
		if i < 0 || recs[i].Rule != "big-payments" || !strings.Contains(canon(recs[i].Input.Transaction), "25000.00") {
			t.Fatalf("records: %+v", recs)
		}

		// Details the client may not send, or cannot be read, are refused
		// at its redirect URI; nothing is stored.
		for _, bad := range []struct{ details, desc string }{
			{`[{"type":"account_information"}]`, `may not send type "account_information"`},
			{`{"type":"payment_initiation"}`, "JSON array"},
			{`[]`, "1 to 10 objects"},
			{`[{"type":"payment_initiation","type":"account_information"}]`, `key "type" appears twice`},
			{`[{"type":"payment_initiation","actions":"initiate"}]`, "actions must be an array of strings"},
			{`[{"type":"payment_initiation"}] x`, "not valid JSON"},
			{`[{"type":"payment_initiation","x":` + strings.Repeat(`"x",`, 3000) + `1}]`, "at most 8192 bytes"},
		} {
			r, state, _ := start(bad.details)
			back, _ := url.Parse(r.Header.Get("Location"))
			if back.Query().Get("error") != "invalid_authorization_details" || !strings.Contains(back.Query().Get("error_description"), bad.desc) ||
				back.Query().Get("state") != state || back.Host != "shop.example" {
				t.Errorf("%s: %d %s", bad.details, r.StatusCode, r.Header.Get("Location"))
			}
		}
	})
}

// A client registered for no types may send none.
func TestAuthorizationDetailsNotRegistered(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	signUp(t, env, "quinn@example.com")
	p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
	var meta map[string]any
	env.JSON(t, "GET", "/.well-known/openid-configuration", "", nil, &meta)
	if _, ok := meta["authorization_details_types_supported"]; ok {
		t.Fatalf("types advertised with no client using any: %v", meta["authorization_details_types_supported"])
	}
	r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("authorization_details", payment("1.00"))), env.URL))
	back, _ := url.Parse(r.Header.Get("Location"))
	if back.Query().Get("error") != "invalid_authorization_details" {
		t.Fatalf("%d %s", r.StatusCode, r.Header.Get("Location"))
	}
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// canon is v as JSON, with object keys sorted: two decoded values compare
// by it.
func canon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
