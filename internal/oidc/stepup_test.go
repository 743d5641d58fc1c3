package oidc_test

import (
	"context"
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

// A client that requires aal2 refuses a customer without a second factor.
func TestClientRequiringAAL2(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	signUp(t, env, "vic@example.com")
	p := newRP(t, env, client.Spec{FirstParty: ptr(true), RequireAAL: ptr("aal2")})
	state := random()
	back := p.follow(p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "vic@example.com")
	if back.Query().Get("error") != "access_denied" {
		t.Fatalf("want access_denied, got %s", back)
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
