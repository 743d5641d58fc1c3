package oidc_test

import (
	"context"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	pqtotp "github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// An app asking for aal2 with acr_values sends an aal1 customer through
// step-up with their authenticator app, and sees acr=aal2 in the ID token.
func TestACRValuesStepUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "uma@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		ctx := context.Background()
		// Sign in (aal1) in the browser, then set up an authenticator app.
		code, verifier, _ := p.authorize("uma@example.com")
		if _, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatal(err)
		}
		page := p.browser.Get("/account/two-factor")
		p.browser.Post("/account/two-factor/setup", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}})
		page = p.browser.Get("/account/two-factor")
		secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(page.Body)[1]
		first, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
		if r := p.browser.Post("/account/two-factor/confirm", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {first}}); r.StatusCode != 200 {
			t.Fatalf("confirm: %d", r.StatusCode)
		}

		// The app asks for aal2.
		verifier = oauth2.GenerateVerifier()
		r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", "aal2")), env.URL))
		next := p.browser.Get(r.Header.Get("Location"))
		stepup := next.Header.Get("Location")
		if !strings.HasPrefix(stepup, "/stepup?") {
			t.Fatalf("no step-up: %q", stepup)
		}
		form := p.browser.Get(stepup)
		env.Clock.Advance(30 * time.Second)
		totpCode, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
		back := p.browser.Post(stepup, url.Values{"csrf_token": {servertest.CSRF(t, form.Body)}, "kind": {"totp"}, "code": {totpCode}})
		acr, amr := p.finishWithACR(back.Header.Get("Location"), verifier)
		if acr != "aal2" || !slices.Contains(amr, "mfa") || !slices.Contains(amr, "otp") {
			t.Fatalf("claims after step-up: acr %s amr %v", acr, amr)
		}
	})
}

// A client that requires aal2 refuses a customer without a second factor:
// the policy's decision, recorded with its reason. So does every app of a
// domain whose apps require aal2 (apps_require_aal), unless the app says
// otherwise.
func TestClientRequiringAAL2(t *testing.T) {
	for _, tc := range []struct {
		name   string
		domain string
		app    *string
		denied bool
	}{
		{"app requires aal2", "", ptr("aal2"), true},
		{"domain's apps require aal2", "aal2", nil, true},
		{"app says aal1 in an aal2 domain", "aal2", ptr("aal1"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.Domains[config.DefaultDomain].AppsRequireAAL = tc.domain })
			signUp(t, env, "vic@example.com")
			p := newRP(t, env, client.Spec{FirstParty: ptr(true), RequireAAL: tc.app})
			back := p.follow(p.oauth.AuthCodeURL(random(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "vic@example.com")
			if denied := back.Query().Get("error") == "access_denied"; denied != tc.denied {
				t.Fatalf("denied %v, want %v: %s", denied, tc.denied, back)
			}
			recs, err := env.Server.Decisions.List(t.Context(), decision.Query{ClientID: p.client.ID, Action: policy.AuthorizeApp})
			if err != nil || len(recs) != 1 {
				t.Fatalf("authorize decisions: %+v, %v", recs, err)
			}
			if r := recs[0]; tc.denied && (r.Effect != policy.Deny || r.Reason != "second_factor_not_set_up" || r.Input.AAL != "aal1") {
				t.Fatalf("record: %+v", r)
			}
		})
	}
}

// finishWithACR follows the browser back into Foyer from next until the
// redirect to the app, exchanges the code and returns the ID token's acr
// and amr.
func (p *rp) finishWithACR(next, verifier string) (string, []string) {
	p.t.Helper()
	final := p.browser.Get(next)
	loc, _ := url.Parse(final.Header.Get("Location"))
	if loc.Query().Get("code") == "" {
		p.t.Fatalf("no code after step-up: %d %s", final.StatusCode, final.Header.Get("Location"))
	}
	tok, err := p.oauth.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		p.t.Fatal(err)
	}
	idt, err := p.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		p.t.Fatal(err)
	}
	var claims struct {
		ACR string   `json:"acr"`
		AMR []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil {
		p.t.Fatal(err)
	}
	return claims.ACR, claims.AMR
}
