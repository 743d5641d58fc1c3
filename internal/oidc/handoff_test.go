package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// continuePath starts an authorization request in p's browser and returns
// the hand-off path (/oauth/continue?id=…) it leads to.
func (p *rp) continuePath(extra map[string]string) string {
	p.t.Helper()
	r := p.start(p.params(extra))
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/oauth/continue?id=") {
		p.t.Fatalf("authorize: %d %q\n%s", r.StatusCode, loc, r.Body)
	}
	return loc
}

// noCode reports an error, and false, when r hands the client a code.
func noCode(t *testing.T, how string, r *servertest.Response) bool {
	t.Helper()
	loc, _ := url.Parse(r.Header.Get("Location"))
	if loc != nil && loc.Query().Get("code") != "" || strings.Contains(r.Body, `name="code"`) {
		t.Errorf("%s: a code was issued: %d %.60q", how, r.StatusCode, r.Header.Get("Location"))
		return false
	}
	return true
}

// Every way to answer an authorization request passes the same checks:
// the GET that continues it and the consent form's POST (which a customer
// can send with any page's CSRF token, for a first-party app too). Neither
// issues a code without the client's required assurance level, without
// the fresh sign-in that prompt=login and max_age=0 ask for, or for
// someone else than the customer an id_token_hint names.
func TestHandOffChecksOnEveryPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "ann@example.com")
		signUp(t, env, "ben@example.com")
		ctx := context.Background()

		// Ben's ID token: a hint naming someone else than Ann.
		benRP := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		code, verifier, _ := benRP.authorize("ben@example.com")
		benTok, err := benRP.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		benHint := benTok.Extra("id_token").(string)

		// Ann signs in (aal1, no second factor) in her browser.
		home := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		home.authorize("ann@example.com")
		ann := home.browser
		csrf := servertest.CSRF(t, ann.Get("/account").Body) // any page's token will do
		env.Clock.Advance(time.Second)

		for _, firstParty := range []bool{true, false} {
			name := "third-party"
			if firstParty {
				name = "first-party"
			}
			t.Run(name, func(t *testing.T) {
				plain := newRP(t, env, client.Spec{Name: ptr("Plain " + name), FirstParty: ptr(firstParty)})
				strict := newRP(t, env, client.Spec{Name: ptr("Strict " + name), FirstParty: ptr(firstParty), RequireAAL: ptr("aal2")})
				plain.browser, strict.browser = ann, ann
				cases := []struct {
					name  string
					p     *rp
					extra map[string]string
					// what the GET does: an error at the client, or a page
					// to go to
					getError, getTo string
				}{
					{"aal2 client, aal1 session", strict, nil, "access_denied", ""},
					{"prompt=login", plain, map[string]string{"prompt": "login"}, "", "/login?"},
					{"max_age=0", plain, map[string]string{"max_age": "0"}, "", "/login?"},
					{"hint for another subject", plain, map[string]string{"id_token_hint": benHint}, "", "/login?"},
				}
				for _, c := range cases {
					get := ann.Get(c.p.continuePath(c.extra))
					if !noCode(t, c.name+", GET", get) {
						continue
					}
					if c.getError != "" {
						errorAtClient(t, get, c.getError)
					} else if loc := get.Header.Get("Location"); !strings.HasPrefix(loc, c.getTo) {
						t.Fatalf("%s, GET: %d %q, want %s…", c.name, get.StatusCode, loc, c.getTo)
					}

					post := ann.Post(c.p.continuePath(c.extra), url.Values{"csrf_token": {csrf}, "decision": {"allow"}})
					if !noCode(t, c.name+", POST allow", post) {
						continue
					}
					if c.getError != "" {
						errorAtClient(t, post, c.getError)
					} else if post.StatusCode != http.StatusSeeOther {
						t.Fatalf("%s, POST: %d %q", c.name, post.StatusCode, post.Header.Get("Location"))
					} else {
						// Where the POST leads, the GET's step follows.
						noCode(t, c.name+", after the POST", ann.Get(post.Header.Get("Location")))
					}
				}
			})
		}

		// The fresh sign-in prompt=login asks for, then consent, gives a
		// code that a real client exchanges, with a later auth_time.
		partner := newRP(t, env, client.Spec{Name: ptr("Partner")})
		partner.browser = ann
		state, verifier := random(), oauth2.GenerateVerifier()
		r := ann.Get(strings.TrimPrefix(partner.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n"),
			oauth2.SetAuthURLParam("prompt", "login")), env.URL))
		r = ann.Get(r.Header.Get("Location"))
		login := r.Header.Get("Location")
		if !strings.HasPrefix(login, "/login?") {
			t.Fatalf("prompt=login: %q", login)
		}
		u, _ := url.Parse(login)
		r = ann.Submit(login, url.Values{"email": {"ann@example.com"}, "password": {password}, "return_to": {u.Query().Get("return_to")}})
		consent := r.Header.Get("Location")
		page := ann.Get(consent)
		if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Partner") {
			t.Fatalf("consent page: %d %q", page.StatusCode, page.Header.Get("Location"))
		}
		allow := ann.Post(consent, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "decision": {"allow"}})
		back, _ := url.Parse(allow.Header.Get("Location"))
		if back.Query().Get("state") != state || back.Query().Get("code") == "" {
			t.Fatalf("allow after a fresh sign-in: %d %q", allow.StatusCode, allow.Header.Get("Location"))
		}
		tok, err := partner.oauth.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := partner.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		if idt.Subject == "" || !idt.IssuedAt.After(time.Time{}) {
			t.Fatalf("ID token: %+v", idt)
		}
	})
}
