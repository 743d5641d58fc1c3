package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const partnerPNG = "\x89PNG\r\n\x1a\npartner"

// appSecret is the server secret of the servers of an app branding test,
// which share a database (its signing keys are sealed with it).
func appSecret(c *config.Config) { c.Secret = strings.Repeat("b", 40) }

// registerApp registers an app on db through a server that stops before
// the test goes on: a client id is made at run time, and the server under
// test (started with appSecret) needs it in its configuration.
func registerApp(t *testing.T, db *store.DB, spec client.Spec) (id, secret string) {
	t.Helper()
	t.Run("register app", func(t *testing.T) {
		env := servertest.Start(t, db, appSecret)
		c, s, err := env.Server.Clients.Create(t.Context(), config.DefaultDomain, spec)
		if err != nil {
			t.Fatal(err)
		}
		id, secret = c.ID, s
	})
	if id == "" {
		t.Fatal("no app registered")
	}
	return id, secret
}

// pkceVerifier is the PKCE verifier of the authorization requests here.
const pkceVerifier = "a verifier long enough for PKCE, forty-three characters at least"

// authorize starts an app's authorization request in b and follows it to
// the sign-in page it leads to, returning that page's path.
func authorize(t *testing.T, b *servertest.Browser, clientID string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(pkceVerifier))
	r := b.Get("/authorize?" + url.Values{"client_id": {clientID}, "redirect_uri": {"https://partner.example/callback"},
		"response_type": {"code"}, "scope": {"openid email"}, "state": {"s1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}.Encode())
	next := r.Header.Get("Location")
	for range 3 {
		if strings.HasPrefix(next, "/login?") {
			return next
		}
		if next == "" {
			t.Fatalf("authorization request: %d %s", r.StatusCode, r.Body)
		}
		r = b.Get(next)
		next = r.Header.Get("Location")
	}
	t.Fatalf("the authorization request did not lead to the sign-in page: %q", next)
	return ""
}

func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("%s lacks %s:\n%s", what, w, body)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Fatalf("%s has %s:\n%s", what, w, body)
		}
	}
}

// An app with a look of its own (branding.apps) gets it on every page of
// a journey it sent — name, logo, colours, stylesheet, footer links laid
// over the domain's — on its consent and sign-out pages, and in the
// journey's mail; every other page and mail keeps the domain's.
func TestAppBranding(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		id, secret := registerApp(t, db, client.Spec{Name: ptrTo("Partner"), RedirectURIs: &[]string{"https://partner.example/callback"},
			PostLogoutRedirectURIs: &[]string{"https://partner.example/bye"}})
		dir := t.TempDir()
		domain := config.Branding{Logo: writeFile(t, dir, "shop.svg", logoSVG), Accent: "#0b6e4f",
			SupportURL: "https://shop.example/help", PrivacyURL: "https://shop.example/privacy",
			Apps: map[string]config.AppBranding{
				id: {ProductName: "Partner Shop", Logo: writeFile(t, dir, "partner.png", partnerPNG), Accent: "#6b2fa3",
					CSS: writeFile(t, dir, "partner.css", ".card { border-color: #6b2fa3; }"), SupportURL: "https://partner.example/help"},
				"not-yet-registered": {ProductName: "Later"},
			}}
		env := servertest.Start(t, db, appSecret, func(c *config.Config) { c.Domains[config.DefaultDomain].Branding = domain })
		q := "?app=" + id + "&amp;v="

		// The pages of the app's journey.
		b := env.NewBrowser(t)
		login := authorize(t, b, id)
		page := b.Get(login)
		expectStatus(t, page, http.StatusOK)
		mustContain(t, "the app's sign-in page", page.Body, "<title>Sign in · Partner Shop</title>",
			`<link rel="stylesheet" href="/assets/brand.css`+q, `<link rel="stylesheet" href="/assets/brand/custom.css`+q,
			`<img class="logo" src="/assets/brand/logo`+q, `alt="Partner Shop"`,
			`<a href="https://partner.example/help">Help</a>`, `<a href="https://shop.example/privacy">Privacy</a>`)
		mustNotContain(t, "the app's sign-in page", page.Body, "shop.example/help", `href="/assets/brand.css?v=`)
		if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self';") || !strings.Contains(csp, "img-src 'self' data:;") {
			t.Fatalf("the app's look needs no more than Foyer's own origin: %s", csp)
		}

		// Its files, per app, cached long; an app without a look of its
		// own has none.
		css := b.Get("/assets/brand.css?app=" + id)
		mustContain(t, "the app's brand.css", css.Body, "--accent: #6b2fa3;")
		mustNotContain(t, "the app's brand.css", css.Body, "#0b6e4f")
		if css.Header.Get("Cache-Control") != "public, max-age=86400" || css.Header.Get("Content-Type") != "text/css; charset=utf-8" {
			t.Fatalf("the app's brand.css: %v", css.Header)
		}
		if logo := b.Get("/assets/brand/logo?app=" + id); logo.Body != partnerPNG || logo.Header.Get("Content-Type") != "image/png" ||
			!strings.Contains(logo.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("the app's logo: %q %v", logo.Body, logo.Header)
		}
		if r := b.Get("/assets/brand/custom.css?app=" + id); r.Body != ".card { border-color: #6b2fa3; }" {
			t.Fatalf("the app's stylesheet: %q", r.Body)
		}
		for _, path := range []string{"/assets/brand.css?app=nobody", "/assets/brand/logo?app=nobody", "/assets/brand/logo-dark?app=" + id} {
			if r := b.Get(path); r.StatusCode != http.StatusNotFound {
				t.Fatalf("%s: %d", path, r.StatusCode)
			}
		}

		// A page without an app keeps the domain's look.
		plain := env.NewBrowser(t).Get("/login")
		mustContain(t, "a sign-in page without an app", plain.Body, "<title>Sign in · Foyer</title>", `href="/assets/brand.css?v=`,
			`<img class="logo" src="/assets/brand/logo?v=`, `alt="Foyer"`, `<a href="https://shop.example/help">Help</a>`)
		mustNotContain(t, "a sign-in page without an app", plain.Body, "app=", "Partner", "custom.css")
		mustContain(t, "the domain's brand.css", b.Get("/assets/brand.css").Body, "--accent: #0b6e4f;")

		// The app's sign-up mails its code in the app's look.
		u, _ := url.Parse(login)
		returnTo := u.Query().Get("return_to")
		signUp := "/registration?" + url.Values{"return_to": {returnTo}}.Encode()
		form := b.Get(signUp)
		mustContain(t, "the app's sign-up page", form.Body, "<title>Create your account · Partner Shop</title>")
		loc := location(t, b.Post("/registration", url.Values{"csrf_token": {servertest.CSRF(t, form.Body)}, "return_to": {returnTo},
			"email": {"nora@example.com"}, "password": {goodPassword}}))
		codePage := b.Get(loc)
		mustContain(t, "the app's code page", codePage.Body, `alt="Partner Shop"`)
		stored := env.Outbox(t, "nora@example.com")
		if len(stored) != 1 || stored[0].App != id {
			t.Fatalf("the app's mail: %+v", stored)
		}
		mail := env.MailTo(t, "nora@example.com", 1)
		mustContain(t, "the app's code mail", mail.HTML, strings.TrimSuffix(env.Config.PublicURL, "/")+"/assets/brand/logo"+q,
			`alt="Partner Shop"`, "Sent by Partner Shop", `<a href="https://partner.example/help"`)
		mustNotContain(t, "the app's code mail", mail.HTML, "shop.example/help", "Foyer")
		mustContain(t, "the app's code mail subject", mail.Subject, "Partner Shop")

		// Its consent page, once the customer is in.
		back := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, codePage.Body)}, "code": {servertest.CodeFrom(t, mail)}}))
		consent := b.Get(back)
		expectStatus(t, consent, http.StatusOK)
		mustContain(t, "the app's consent page", consent.Body, "· Partner Shop</title>", `<img class="logo" src="/assets/brand/logo`+q)

		// Its sign-out page, which knows the app from the ID token it
		// sends as the hint.
		answer, err := url.Parse(location(t, b.Post(back, url.Values{"csrf_token": {servertest.CSRF(t, consent.Body)}, "decision": {"allow"}})))
		if err != nil || answer.Query().Get("code") == "" {
			t.Fatalf("consent answered %v, %v", answer, err)
		}
		app := oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: "https://partner.example/callback",
			Endpoint: oauth2.Endpoint{AuthURL: env.URL + "/authorize", TokenURL: env.URL + "/oauth/token"}}
		tok, err := app.Exchange(t.Context(), answer.Query().Get("code"), oauth2.VerifierOption(pkceVerifier))
		if err != nil {
			t.Fatal(err)
		}
		idToken, _ := tok.Extra("id_token").(string)
		r := b.Get("/end_session?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://partner.example/bye"}}.Encode())
		bye := r.Header.Get("Location")
		if !strings.HasPrefix(bye, "/logout?") {
			t.Fatalf("end_session: %d %q", r.StatusCode, bye)
		}
		logout := b.Get(bye)
		mustContain(t, "the app's sign-out page", logout.Body, "<title>Sign out · Partner Shop</title>", "Sign out of Partner Shop on this device?",
			`<img class="logo" src="/assets/brand/logo`+q)
		// The plain sign-out page is the domain's.
		mustContain(t, "the sign-out page", b.Get("/logout").Body, "Sign out of Foyer on this device?", `src="/assets/brand/logo?v=`)

		// A sign-up without an app mails in the domain's look.
		other := env.NewBrowser(t)
		location(t, other.Submit("/registration", url.Values{"email": {"otto@example.com"}, "password": {goodPassword}}))
		if stored := env.Outbox(t, "otto@example.com"); len(stored) != 1 || stored[0].App != "" {
			t.Fatalf("the domain's mail: %+v", stored)
		}
		domainMail := env.MailTo(t, "otto@example.com", 1)
		mustContain(t, "the domain's code mail", domainMail.HTML, "/assets/brand/logo?v=", "Sent by Foyer", `<a href="https://shop.example/help"`)
		mustNotContain(t, "the domain's code mail", domainMail.HTML, "Partner", "app=")
	})
}

// An app whose look the configuration does not give keeps the domain's
// on its journey's pages and mail: nothing changes without branding.apps.
func TestAppWithoutBrandingKeepsTheDomains(t *testing.T) {
	db := storetest.NewSQLite(t)
	id, _ := registerApp(t, db, client.Spec{Name: ptrTo("Partner"), RedirectURIs: &[]string{"https://partner.example/callback"}})
	dir := t.TempDir()
	env := servertest.Start(t, db, appSecret, func(c *config.Config) {
		c.Domains[config.DefaultDomain].Branding = config.Branding{Logo: writeFile(t, dir, "shop.svg", logoSVG),
			Apps: map[string]config.AppBranding{"another-app": {ProductName: "Other"}}}
	})
	b := env.NewBrowser(t)
	page := b.Get(authorize(t, b, id))
	mustContain(t, "the sign-in page of an app without a look", page.Body, "<title>Sign in · Foyer</title>", "to continue to Partner",
		`src="/assets/brand/logo?v=`)
	mustNotContain(t, "the sign-in page of an app without a look", page.Body, "app=")
}
