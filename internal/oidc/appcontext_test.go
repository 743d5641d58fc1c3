package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// The pages an app sends a customer to say so, with the app's logo (which
// the page's CSP lets in), and offer the way back: the app then hears
// access_denied with its state, and the request is over.
func TestAppContextAndWayBack(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	p := newRP(t, env, client.Spec{Name: ptr("Shop"), LogoURI: ptr("https://cdn.shop.example/logo.png"), FirstParty: ptr(true)})
	state := random()
	r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), gooidc.Nonce("n")), env.URL))
	r = p.browser.Get(r.Header.Get("Location"))
	login := r.Header.Get("Location")
	page := p.browser.Get(login)
	for _, want := range []string{`data-id="app_context"`, "to continue to Shop", `<img class="app-logo" src="https://cdn.shop.example/logo.png"`,
		`<form method="post" action="/oauth/cancel?id=`, "Back to Shop"} {
		if !strings.Contains(page.Body, want) {
			t.Fatalf("sign-in page for an app lacks %s:\n%s", want, page.Body)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.shop.example;") {
		t.Fatalf("CSP does not let the app's logo in: %s", csp)
	}
	// The same page without an app says nothing of one.
	if plain := p.browser.Get("/login"); strings.Contains(plain.Body, "app_context") || strings.Contains(plain.Header.Get("Content-Security-Policy"), "shop.example") {
		t.Fatal("a page with no app shows one")
	}

	u, _ := url.Parse(login)
	back, _ := url.Parse(u.Query().Get("return_to"))
	cancel := "/oauth/cancel?id=" + back.Query().Get("id")
	if r := p.browser.Post(cancel, url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("cancel without CSRF token: %d", r.StatusCode)
	}
	r = p.browser.Post(cancel, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}})
	answer, _ := url.Parse(r.Header.Get("Location"))
	if answer.Host != "shop.example" || answer.Query().Get("error") != "access_denied" || answer.Query().Get("state") != state {
		t.Fatalf("way back: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// The request is over: signing in now answers nothing.
	if r := p.browser.Get(u.Query().Get("return_to")); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("the cancelled request still continues: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}

// The consent page shows the app as its registration describes it — logo,
// website, privacy policy, terms — and who is signed in, with the way to
// be someone else.
func TestConsentShowsAppAndAccount(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	signUp(t, env, "nora@example.com")
	p := newRP(t, env, client.Spec{Name: ptr("Partner"), LogoURI: ptr("https://img.partner.example/l.png"), ClientURI: ptr("https://partner.example"),
		PolicyURI: ptr("https://partner.example/privacy"), TosURI: ptr("https://partner.example/terms")})
	if r := p.browser.Submit("/login", url.Values{"email": {"nora@example.com"}, "password": {password}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.StatusCode)
	}
	r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL(random(), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), env.URL))
	consent := r.Header.Get("Location")
	page := p.browser.Get(consent)
	for _, want := range []string{`<img class="app-logo" src="https://img.partner.example/l.png"`, `<a href="https://partner.example" rel="noopener noreferrer">About Partner</a>`,
		`<a href="https://partner.example/privacy" rel="noopener noreferrer">Privacy policy</a>`, `<a href="https://partner.example/terms" rel="noopener noreferrer">Terms of service</a>`,
		"Signed in as nora@example.com.", `<a href="/login?return_to=` + url.QueryEscape(consent) + `">Not you? Use another account</a>`} {
		if !strings.Contains(page.Body, strings.ReplaceAll(want, "&", "&amp;")) {
			t.Fatalf("consent page lacks %s:\n%s", want, page.Body)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://img.partner.example;") {
		t.Fatalf("CSP: %s", csp)
	}
}
