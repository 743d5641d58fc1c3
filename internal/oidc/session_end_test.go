package oidc_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	pqtotp "github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// introspect asks whether token is active, as p.
func (p *rp) introspect(token string) bool {
	p.t.Helper()
	status, out := postForm(p.t, p.env.URL+"/oauth/introspect", p.client.ID, p.secret, url.Values{"token": {token}})
	if status != 200 {
		p.t.Fatalf("introspect: %d %v", status, out)
	}
	return out["active"] == true
}

// live reports whether an app's tokens still work, asking the way apps
// do: UserInfo and introspection for the access token; for a refresh
// token, introspection only, which does not use it up.
func (p *rp) live(tok *oauth2.Token) (access, refresh bool) {
	p.t.Helper()
	_, err := p.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	access = err == nil
	if p.introspect(tok.AccessToken) != access {
		p.t.Fatalf("UserInfo and introspection disagree about an access token (UserInfo: %v)", err)
	}
	if tok.RefreshToken != "" {
		refresh = p.introspect(tok.RefreshToken)
	}
	return access, refresh
}

// tokens runs the code flow and exchanges the code.
func (p *rp) tokens(email string, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	p.t.Helper()
	code, verifier, _ := p.authorize(email, opts...)
	tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

func keepOfflineGrants(keep bool) servertest.Option {
	return func(c *config.Config) { c.Domains[config.DefaultDomain].Session.KeepOfflineGrants = &keep }
}

// Signing out ends the tokens apps got in that session: the access token
// no longer reads UserInfo and introspects inactive. An offline grant
// (offline_access) outlives the session unless the domain says otherwise;
// then its refresh token no longer refreshes either.
func TestSignOutEndsTheSessionsTokens(t *testing.T) {
	for _, keep := range []bool{true, false} {
		name := "offline grants kept"
		if !keep {
			name = "offline grants end"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				env := servertest.Start(t, db, keepOfflineGrants(keep))
				signUp(t, env, "lou@example.com")
				online := newRP(t, env, client.Spec{Name: ptr("Online"), FirstParty: ptr(true)})
				online.oauth.Scopes = []string{gooidc.ScopeOpenID, "email"}
				offline := newRP(t, env, client.Spec{Name: ptr("Offline"), FirstParty: ptr(true)})
				offline.browser = online.browser
				onTok := online.tokens("lou@example.com")
				offTok := offline.tokens("lou@example.com")
				if onTok.RefreshToken != "" || offTok.RefreshToken == "" {
					t.Fatalf("refresh tokens: without offline_access %q, with it %q", onTok.RefreshToken, offTok.RefreshToken)
				}
				if a, _ := online.live(onTok); !a {
					t.Fatal("the access token does not work before sign-out")
				}
				if a, r := offline.live(offTok); !a || !r {
					t.Fatalf("the offline grant before sign-out: access %v, refresh %v", a, r)
				}

				page := online.browser.Get("/logout")
				if out := online.browser.Post("/logout", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}}); out.StatusCode != 303 {
					t.Fatalf("sign-out: %d", out.StatusCode)
				}

				if a, _ := online.live(onTok); a {
					t.Fatal("the access token survived sign-out")
				}
				a, r := offline.live(offTok)
				if a != keep || r != keep {
					t.Fatalf("the offline grant after sign-out: access %v, refresh %v; want %v", a, r, keep)
				}
				_, err := offline.refresh(offTok.RefreshToken)
				if keep && err != nil {
					t.Fatalf("the kept offline grant does not refresh: %v", err)
				}
				if !keep && (err == nil || !strings.Contains(err.Error(), "invalid_grant")) {
					t.Fatalf("the ended offline grant refreshed: %v", err)
				}
			})
		})
	}
}

// Tokens end with their session however it ends — revoked (sign-out
// everywhere), idle too long, or replaced by someone else's sign-in in
// the same browser — but follow it when the same customer steps up or
// signs in again there.
func TestTokensEndWithTheirSessionEveryWay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, keepOfflineGrants(false), func(c *config.Config) {
			c.Domains[config.DefaultDomain].Session.IdleTimeout = config.Duration(20 * time.Minute)
		})
		ctx := context.Background()
		signUp(t, env, "max@example.com")
		signUp(t, env, "ned@example.com")
		long := client.Duration(time.Hour)
		p := newRP(t, env, client.Spec{FirstParty: ptr(true), AccessTokenTTL: &long})
		alive := func(what string, tok *oauth2.Token, want bool) {
			t.Helper()
			if a, r := p.live(tok); a != want || r != want {
				t.Fatalf("%s: access %v, refresh %v; want %v", what, a, r, want)
			}
		}

		// Signing in again (prompt=login) and stepping up carry the tokens
		// along to the new session.
		tok := p.tokens("max@example.com")
		p.tokens("max@example.com", oauth2.SetAuthURLParam("prompt", "login"))
		alive("after signing in again", tok, true)
		secret := setUpTOTP(t, p)
		r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("acr_values", "aal2")), env.URL))
		stepup := p.browser.Get(r.Header.Get("Location")).Header.Get("Location")
		if !strings.HasPrefix(stepup, "/stepup?") {
			t.Fatalf("no step-up: %q", stepup)
		}
		form := p.browser.Get(stepup)
		env.Clock.Advance(30 * time.Second)
		totpCode, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
		if back := p.browser.Post(stepup, url.Values{"csrf_token": {servertest.CSRF(t, form.Body)}, "kind": {"totp"}, "code": {totpCode}}); back.StatusCode != 303 {
			t.Fatalf("step-up: %d", back.StatusCode)
		}
		alive("after a step-up", tok, true)

		// Someone else signing in in that browser ends it.
		p.tokens("ned@example.com", oauth2.SetAuthURLParam("prompt", "login"))
		alive("after another customer signed in in the browser", tok, false)

		// Revoked everywhere (as when the password is reset).
		tok = p.tokens("ned@example.com")
		idt, err := p.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Server.Flows.Sessions.RevokeIdentity(ctx, idt.Subject); err != nil {
			t.Fatal(err)
		}
		alive("after the customer's sessions were revoked", tok, false)

		// Idle too long: the session ran out before the access token.
		other := env.NewBrowser(t)
		p.browser = other
		tok = p.tokens("ned@example.com")
		alive("a new session's tokens", tok, true)
		env.Clock.Advance(21 * time.Minute)
		alive("after the session ran idle", tok, false)
		if _, err := p.refresh(tok.RefreshToken); err == nil {
			t.Fatal("a refresh token of an idle session refreshed")
		}
	})
}

// setUpTOTP sets up an authenticator app on the account signed in in p's
// browser and returns its secret.
func setUpTOTP(t *testing.T, p *rp) string {
	t.Helper()
	page := p.browser.Get("/account/two-factor")
	p.browser.Post("/account/two-factor/setup", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}})
	page = p.browser.Get("/account/two-factor")
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(page.Body)[1]
	first, _ := pqtotp.GenerateCode(secret, p.env.Clock.Now())
	if r := p.browser.Post("/account/two-factor/confirm", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {first}}); r.StatusCode != 200 {
		t.Fatalf("confirm: %d", r.StatusCode)
	}
	return secret
}
