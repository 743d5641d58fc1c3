package server_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
	"github.com/foyer-id/foyer/internal/upstream"
	"github.com/foyer-id/foyer/internal/upstream/upstreamtest"
)

// withProvider adds an upstream provider to the customers domain.
func withProvider(p config.Provider) servertest.Option {
	return func(c *config.Config) {
		d := c.Domains[config.DefaultDomain]
		d.Providers = append(d.Providers, p)
	}
}

// oidcProvider is the configuration of the test OpenID provider op as id.
func oidcProvider(op *upstreamtest.OIDC, id string) config.Provider {
	return config.Provider{ID: id, Kind: "oidc", Name: "Upstream", Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: op.ClientSecret}
}

// roundTrip presses "Continue with" provider id on the sign-in page and
// follows the browser to the provider and back: it returns the callback's
// answer (the provider signs its user in at once) and the callback's URL.
func roundTrip(t *testing.T, b *servertest.Browser, id string) (*servertest.Response, string) {
	t.Helper()
	page := b.Get("/login")
	expectStatus(t, page, 200)
	if !strings.Contains(page.Body, `action="/providers/`+id+`"`) {
		t.Fatalf("sign-in page has no button for %s:\n%s", id, page.Body)
	}
	to := location(t, b.Post("/providers/"+id, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}}))
	callback := providerCallback(t, b, to)
	return getURL(t, b, callback), callback
}

// providerCallback follows the provider's authorization URL to where it
// sends the browser back.
func providerCallback(t *testing.T, b *servertest.Browser, authURL string) string {
	t.Helper()
	resp, err := b.HTTP.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("provider answered %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// getURL fetches an absolute URL in b.
func getURL(t *testing.T, b *servertest.Browser, u string) *servertest.Response {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return b.Get(parsed.RequestURI())
}

// whoamiEmail is the signed-in address of b, "" when signed out.
func whoamiEmail(t *testing.T, b *servertest.Browser) string {
	t.Helper()
	r := b.Get("/sessions/whoami")
	if r.StatusCode != 200 {
		return ""
	}
	if m := emailRE.FindStringSubmatch(r.Body); m != nil {
		return m[1]
	}
	t.Fatalf("whoami names no address: %s", r.Body)
	return ""
}

var emailRE = regexp.MustCompile(`"email":"([^"]+)"`)

// writeECKey writes op's Apple key as the .p8 file Apple hands out.
func writeECKey(t *testing.T, op *upstreamtest.OIDC) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(op.AppleKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "AuthKey.p8")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func linksOf(t *testing.T, db *store.DB, email string) []identity.Link {
	t.Helper()
	ident, err := identity.NewStore(db).FindByIdentifier(context.Background(), config.DefaultDomain, identity.KindEmail, email)
	if err != nil {
		t.Fatalf("find %s: %v", email, err)
	}
	links, err := identity.NewLinks(db).List(context.Background(), ident.ID)
	if err != nil {
		t.Fatal(err)
	}
	return links
}

// A first sign-in with a provider whose address has no account signs up,
// verified and linked; the next signs in to the same account.
func TestProviderSignUpThenSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		b := env.NewBrowser(t)
		r, _ := roundTrip(t, b, "up")
		if got := location(t, r); got != "/account" {
			t.Fatalf("after the provider: %q", got)
		}
		who := b.Get("/sessions/whoami")
		if !strings.Contains(who.Body, `"email":"ada@example.com"`) || !strings.Contains(who.Body, `"verified":true`) ||
			!strings.Contains(who.Body, `"provider"`) || !strings.Contains(who.Body, `"Ada Lovelace"`) {
			t.Fatalf("whoami after sign-up: %s", who.Body)
		}
		links := linksOf(t, db, "ada@example.com")
		if len(links) != 1 || links[0].Provider != "up" || links[0].Subject != "user-1" {
			t.Fatalf("links: %+v", links)
		}
		account := b.Get("/account")
		if !strings.Contains(account.Body, `id="providers"`) || !strings.Contains(account.Body, "/account/providers/unlink?provider=up") {
			t.Fatalf("account page does not show the link:\n%s", account.Body)
		}
		// Signed out, the provider signs in to the same account.
		location(t, b.Submit("/logout", url.Values{}))
		other := env.NewBrowser(t)
		r, _ = roundTrip(t, other, "up")
		if got := location(t, r); got != "/account" {
			t.Fatalf("second sign-in: %q", got)
		}
		if got := whoamiEmail(t, other); got != "ada@example.com" {
			t.Fatalf("signed in as %q", got)
		}
		if n, _ := identity.NewStore(db).Count(context.Background(), config.DefaultDomain, identity.StateActive); n != 1 {
			t.Fatalf("%d accounts, want 1", n)
		}
		// No password to sign in with: unlinking the only way in is refused.
		page := other.Get("/account/providers/unlink?provider=up")
		expectStatus(t, page, 200)
		if got := location(t, other.Post("/account/providers/unlink", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "provider": {"up"}})); !strings.Contains(got, "refused=last_sign_in_link") {
			t.Fatalf("unlinking the last way in: %q", got)
		}
		if len(linksOf(t, db, "ada@example.com")) != 1 {
			t.Fatal("the last link was removed")
		}
	})
}

// An account whose address a provider vouches for is never signed in to,
// nor linked, on that claim: the customer proves the account, then
// confirms the link; an address the provider did not verify finds no
// account at all.
func TestProviderLinksOnlyOnProof(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		signUp(t, env, "ada@example.com", goodPassword)

		// Not verified by the provider: refused, nothing changed.
		op.Update(func(k *upstreamtest.Knobs) { k.User.EmailVerified = false })
		b := env.NewBrowser(t)
		r, _ := roundTrip(t, b, "up")
		expectStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Body, `data-id="provider_email_unverified"`) || whoamiEmail(t, b) != "" {
			t.Fatalf("unverified address:\n%s", r.Body)
		}
		if len(linksOf(t, db, "ada@example.com")) != 0 {
			t.Fatal("linked on an unverified address")
		}

		// Verified: the account's sign-in, its address fixed.
		op.Update(func(k *upstreamtest.Knobs) { k.User.EmailVerified = "true" })
		loc := location(t, func() *servertest.Response { r, _ := roundTrip(t, b, "up"); return r }())
		if !strings.HasPrefix(loc, "/login?flow=") || whoamiEmail(t, b) != "" {
			t.Fatalf("verified address of an account went to %q", loc)
		}
		page := b.Get(loc)
		expectStatus(t, page, 200)
		if !strings.Contains(page.Body, `data-id="provider_link_prove"`) || !regexp.MustCompile(`id="email"[^>]* readonly[^>]* value="ada@example.com"`).MatchString(page.Body) {
			t.Fatalf("proof page:\n%s", page.Body)
		}
		csrf := servertest.CSRF(t, page.Body)
		// Another account's password proves nothing here.
		signUp(t, env, "eve@example.com", goodPassword)
		bad := location(t, b.Post(loc, url.Values{"csrf_token": {csrf}, "email": {"eve@example.com"}, "password": {goodPassword}}))
		if page = b.Get(bad); !strings.Contains(page.Body, `data-id="provider_link_other_account"`) && !strings.Contains(page.Body, "Sign in to the account of ada@example.com") {
			t.Fatalf("another account's sign-in:\n%s", page.Body)
		}
		confirm := location(t, b.Post(loc, url.Values{"csrf_token": {csrf}, "email": {"ada@example.com"}, "password": {goodPassword}}))
		page = b.Get(confirm)
		expectStatus(t, page, 200)
		if !strings.Contains(page.Body, `name="link" value="yes"`) || whoamiEmail(t, b) != "" {
			t.Fatalf("confirmation page:\n%s", page.Body)
		}
		if len(linksOf(t, db, "ada@example.com")) != 0 {
			t.Fatal("linked before the customer confirmed")
		}
		if got := location(t, b.Post(confirm, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "link": {"yes"}})); got != "/account" {
			t.Fatalf("after confirming: %q", got)
		}
		if whoamiEmail(t, b) != "ada@example.com" || len(linksOf(t, db, "ada@example.com")) != 1 {
			t.Fatal("not signed in and linked after confirming")
		}
		notice := env.LatestMail(t, "ada@example.com", "Security change on your Foyer account")
		if !strings.Contains(notice.Text, "an account at Upstream was linked") {
			t.Fatalf("no notice of the link: %s", notice.Text)
		}
		// From now on the provider signs in directly.
		other := env.NewBrowser(t)
		if got := location(t, func() *servertest.Response { r, _ := roundTrip(t, other, "up"); return r }()); got != "/account" || whoamiEmail(t, other) != "ada@example.com" {
			t.Fatalf("linked sign-in: %q", got)
		}
		// Another account of the provider with the same address: the
		// account has one of that provider already.
		op.Update(func(k *upstreamtest.Knobs) { k.User.Subject = "user-2" })
		third := env.NewBrowser(t)
		r, _ = roundTrip(t, third, "up")
		expectStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Body, `data-id="provider_linked_other"`) || whoamiEmail(t, third) != "" {
			t.Fatalf("a second account of the provider:\n%s", r.Body)
		}
	})
}

// Declining the link signs in all the same, and links nothing.
func TestProviderLinkDeclined(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		signUp(t, env, "ada@example.com", goodPassword)
		b := env.NewBrowser(t)
		r, _ := roundTrip(t, b, "up")
		loc := location(t, r)
		page := b.Get(loc)
		confirm := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"ada@example.com"}, "password": {goodPassword}}))
		page = b.Get(confirm)
		if got := location(t, b.Post(confirm, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "link": {"no"}})); got != "/account" {
			t.Fatalf("after declining: %q", got)
		}
		if whoamiEmail(t, b) != "ada@example.com" || len(linksOf(t, db, "ada@example.com")) != 0 {
			t.Fatal("declining should sign in without a link")
		}
	})
}

// A provider that did not verify the address of a new customer signs up
// like any sign-up: a code to the address first, then the account, linked.
func TestProviderUnverifiedSignUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		op.Update(func(k *upstreamtest.Knobs) { k.User.EmailVerified = nil })
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		b := env.NewBrowser(t)
		r, _ := roundTrip(t, b, "up")
		loc := location(t, r)
		if !strings.HasPrefix(loc, "/registration?flow=") || whoamiEmail(t, b) != "" {
			t.Fatalf("unverified sign-up went to %q", loc)
		}
		code := servertest.CodeFrom(t, env.MailTo(t, "ada@example.com", 1))
		if got := enterCode(t, b, loc, code); got != "/account" {
			t.Fatalf("after the code: %q", got)
		}
		who := b.Get("/sessions/whoami")
		if !strings.Contains(who.Body, `"verified":true`) || !strings.Contains(who.Body, `"provider"`) {
			t.Fatalf("whoami: %s", who.Body)
		}
		if links := linksOf(t, db, "ada@example.com"); len(links) != 1 {
			t.Fatalf("links: %+v", links)
		}
	})
}

// Every way a round trip can go wrong ends on a page that says so, and
// creates, links and signs in nothing.
func TestProviderFailuresChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		nothing := func(t *testing.T, b *servertest.Browser) {
			t.Helper()
			if whoamiEmail(t, b) != "" {
				t.Fatal("signed in")
			}
			if n, _ := identity.NewStore(db).Count(context.Background(), config.DefaultDomain, identity.StateActive); n != 0 {
				t.Fatalf("%d accounts", n)
			}
			if n, _ := identity.NewStore(db).Count(context.Background(), config.DefaultDomain, identity.StatePending); n != 0 {
				t.Fatalf("%d pending accounts", n)
			}
		}
		start := func(t *testing.T, b *servertest.Browser) string {
			t.Helper()
			page := b.Get("/login")
			return location(t, b.Post("/providers/up", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}}))
		}
		expectPage := func(t *testing.T, r *servertest.Response, status int, id string) {
			t.Helper()
			expectStatus(t, r, status)
			if !strings.Contains(r.Body, `data-id="`+id+`"`) || !strings.Contains(r.Body, `href="/login"`) {
				t.Fatalf("page for %s:\n%s", id, r.Body)
			}
		}
		for _, tc := range []struct {
			name   string
			knobs  func(*upstreamtest.Knobs)
			status int
			id     string
		}{
			{"wrong nonce", func(k *upstreamtest.Knobs) { k.WrongNonce = true }, 400, "provider_refused"},
			{"unknown signing key", func(k *upstreamtest.Knobs) { k.UnknownKey = true }, 400, "provider_refused"},
			{"another audience", func(k *upstreamtest.Knobs) { k.Audience = "someone-else" }, 400, "provider_refused"},
			{"expired token", func(k *upstreamtest.Knobs) { k.TokenTTL = -5 * time.Minute }, 400, "provider_refused"},
			{"code refused", func(k *upstreamtest.Knobs) { k.TokenError = "invalid_grant" }, 400, "provider_refused"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				op.Update(func(k *upstreamtest.Knobs) { *k = upstreamtest.Knobs{User: k.User} })
				b := env.NewBrowser(t)
				to := start(t, b)
				op.Update(tc.knobs)
				expectPage(t, getURL(t, b, providerCallback(t, b, to)), tc.status, tc.id)
				nothing(t, b)
			})
		}
		op.Update(func(k *upstreamtest.Knobs) { *k = upstreamtest.Knobs{User: k.User} })

		t.Run("cancelled at the provider", func(t *testing.T) {
			b := env.NewBrowser(t)
			to := start(t, b)
			cb := providerCallback(t, b, to)
			u, _ := url.Parse(cb)
			q := url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}
			expectPage(t, b.Get("/providers/up/callback?"+q.Encode()), 400, "provider_cancelled")
			nothing(t, b)
		})
		t.Run("state tampered", func(t *testing.T) {
			b := env.NewBrowser(t)
			cb := providerCallback(t, b, start(t, b))
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Set("state", q.Get("state")+"x")
			expectPage(t, b.Get("/providers/up/callback?"+q.Encode()), 400, "provider_state_invalid")
			nothing(t, b)
		})
		t.Run("callback in another browser", func(t *testing.T) {
			b := env.NewBrowser(t)
			cb := providerCallback(t, b, start(t, b))
			expectPage(t, getURL(t, env.NewBrowser(t), cb), 400, "provider_state_invalid")
			nothing(t, b)
		})
		t.Run("replayed callback", func(t *testing.T) {
			b := env.NewBrowser(t)
			cb := providerCallback(t, b, start(t, b))
			// The first use is spent on a provider that refuses its code, so
			// that nothing is signed in; the same callback again is over.
			op.Update(func(k *upstreamtest.Knobs) { k.TokenError = "invalid_grant" })
			expectPage(t, getURL(t, b, cb), 400, "provider_refused")
			op.Update(func(k *upstreamtest.Knobs) { k.TokenError = "" })
			expectPage(t, getURL(t, b, cb), 400, "provider_used")
			nothing(t, b)
		})
		t.Run("provider down", func(t *testing.T) {
			b := env.NewBrowser(t)
			to := start(t, b)
			cb := providerCallback(t, b, to)
			op.Update(func(k *upstreamtest.Knobs) { k.Status = http.StatusServiceUnavailable })
			expectPage(t, getURL(t, b, cb), http.StatusBadGateway, "provider_unavailable")
			nothing(t, b)
		})
	})
}

// A provider that cannot be reached when the customer presses its button
// answers with a page, not a redirect to nowhere.
func TestProviderDownAtStart(t *testing.T) {
	op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	env := servertest.Start(t, storetest.NewSQLite(t), withProvider(oidcProvider(op, "up")))
	op.Close()
	b := env.NewBrowser(t)
	page := b.Get("/login")
	r := b.Post("/providers/up", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}})
	expectStatus(t, r, http.StatusBadGateway)
	if !strings.Contains(r.Body, `data-id="provider_unavailable"`) {
		t.Fatalf("page:\n%s", r.Body)
	}
	expectStatus(t, b.Post("/providers/nope", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}}), http.StatusNotFound)
}

// Apple answers with a form posted from its own site: the callback sends
// it on as a GET, which carries the browser's cookies, and Apple's name
// comes from its user parameter.
func TestProviderFormPost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
		op.Update(func(k *upstreamtest.Knobs) {
			k.User.Claims = map[string]any{"is_private_email": "true"}
			k.User.Email = "x1y2@privaterelay.appleid.com"
			k.CallbackUser = `{"name":{"firstName":"Grace","lastName":"Hopper"},"email":"other@example.com"}`
		})
		key := writeECKey(t, op)
		env := servertest.Start(t, db, withProvider(config.Provider{ID: "apple", Kind: "apple", Issuer: op.Issuer, ClientID: op.ClientID,
			TeamID: op.AppleTeamID, KeyID: op.AppleKeyID, PrivateKeyFile: key}))
		b := env.NewBrowser(t)
		page := b.Get("/login")
		to := location(t, b.Post("/providers/apple", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}}))
		if u, _ := url.Parse(to); u.Query().Get("response_mode") != "form_post" {
			t.Fatalf("Apple asked without form_post: %s", to)
		}
		form, err := op.Authorize(to)
		if err != nil {
			t.Fatal(err)
		}
		// The form, as the browser posts it from Apple's page.
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/providers/apple/callback", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://appleid.apple.com")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		// No cookies: SameSite=Lax keeps them from a cross-site POST.
		noJar := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noJar.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("form post: %d\n%s", resp.StatusCode, body)
		}
		if got := location(t, getURL(t, b, env.URL+resp.Header.Get("Location"))); got != "/account" {
			t.Fatalf("after Apple: %q", got)
		}
		who := b.Get("/sessions/whoami")
		if !strings.Contains(who.Body, `"email":"x1y2@privaterelay.appleid.com"`) || !strings.Contains(who.Body, "Grace Hopper") {
			t.Fatalf("whoami: %s", who.Body)
		}
	})
}

// GitHub is OAuth 2 with its user and email APIs: the primary address
// counts only if GitHub verified it.
func TestProviderGitHub(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		gh := upstreamtest.NewGitHub(t)
		cfg := gh.Config("github")
		env := servertest.Start(t, db, withProvider(config.Provider{ID: "github", Kind: "github", ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL, APIURL: cfg.APIURL}))
		b := env.NewBrowser(t)
		r, _ := roundTrip(t, b, "github")
		if got := location(t, r); got != "/account" {
			t.Fatalf("after GitHub: %q", got)
		}
		email := whoamiEmail(t, b)
		if email == "" {
			t.Fatal("not signed in")
		}
		links := linksOf(t, db, email)
		if len(links) != 1 || links[0].Provider != "github" {
			t.Fatalf("links: %+v", links)
		}
	})
}

// A signed-in customer links a provider from the account page, and unlinks
// it; a provider account linked to someone else is refused.
func TestProviderLinkFromAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		op.Update(func(k *upstreamtest.Knobs) { k.User.Email = "ada.l@mail.example" })
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		b := signUp(t, env, "ada@example.com", goodPassword)
		account := b.Get("/account")
		to := location(t, b.Post("/account/providers/link", url.Values{"csrf_token": {servertest.CSRF(t, account.Body)}, "provider": {"up"}}))
		done := location(t, getURL(t, b, providerCallback(t, b, to)))
		if !strings.HasPrefix(done, "/account?done=") {
			t.Fatalf("after linking: %q", done)
		}
		if page := b.Get(done); !strings.Contains(page.Body, `data-id="provider_linked"`) {
			t.Fatalf("account page after linking:\n%s", page.Body)
		}
		links := linksOf(t, db, "ada@example.com")
		if len(links) != 1 || links[0].Email != "ada.l@mail.example" {
			t.Fatalf("links: %+v", links)
		}
		// Someone else cannot link the same provider account.
		eve := signUp(t, env, "eve@example.com", goodPassword)
		account = eve.Get("/account")
		to = location(t, eve.Post("/account/providers/link", url.Values{"csrf_token": {servertest.CSRF(t, account.Body)}, "provider": {"up"}}))
		r := getURL(t, eve, providerCallback(t, eve, to))
		expectStatus(t, r, 400)
		if !strings.Contains(r.Body, `data-id="provider_linked_elsewhere"`) || len(linksOf(t, db, "eve@example.com")) != 0 {
			t.Fatalf("linked elsewhere:\n%s", r.Body)
		}
		// Unlinking asks first; with a password left, it goes.
		page := b.Get("/account/providers/unlink?provider=up")
		expectStatus(t, page, 200)
		got := location(t, b.Post("/account/providers/unlink", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "provider": {"up"}}))
		if !strings.HasPrefix(got, "/account?done=") || len(linksOf(t, db, "ada@example.com")) != 0 {
			t.Fatalf("unlink: %q", got)
		}
	})
}

// An app signs in with an ID token from the provider's SDK, whose nonce
// is the flow's id; a token is good for one flow.
func TestProviderIDTokenAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		var list struct {
			Providers []struct{ ID, Name, Kind string } `json:"providers"`
		}
		expectStatus(t, env.JSON(t, "GET", "/api/providers", "", nil, &list), 200)
		if len(list.Providers) != 1 || list.Providers[0].ID != "up" || list.Providers[0].Name != "Upstream" {
			t.Fatalf("providers: %+v", list)
		}
		start := func() api.FlowResponse {
			var f api.FlowResponse
			expectStatus(t, env.JSON(t, "POST", "/api/login", "", map[string]any{}, &f), 201)
			return f
		}
		token := func(nonce string) string {
			return op.SignIDToken(map[string]any{"sub": "app-user", "email": "app@example.com", "email_verified": true, "nonce": nonce})
		}
		f := start()
		var p api.Problem
		r := env.JSON(t, "POST", "/api/login/"+f.Flow.ID, "", map[string]any{"method": "provider", "provider": "up", "id_token": token("not-the-flow")}, &p)
		expectStatus(t, r, 400)
		if !strings.HasSuffix(p.Type, "/provider-failed") {
			t.Fatalf("wrong nonce: %+v", p)
		}
		f = start()
		var res api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+f.Flow.ID, "", map[string]any{"method": "provider", "provider": "up", "id_token": token(f.Flow.ID)}, &res), 200)
		if res.SessionToken == "" {
			t.Fatalf("no session: %+v", res)
		}
		// The flow is over: the same token cannot be used again.
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+f.Flow.ID, "", map[string]any{"method": "provider", "provider": "up", "id_token": token(f.Flow.ID)}, nil), 409)
		var links struct {
			Providers []struct{ Provider string } `json:"providers"`
		}
		expectStatus(t, env.JSON(t, "GET", "/api/account/providers", res.SessionToken, nil, &links), 200)
		if len(links.Providers) != 1 || links.Providers[0].Provider != "up" {
			t.Fatalf("linked: %+v", links)
		}
	})
}

// The account a provider's verified address names may be proved with one
// of its passkeys too — but not with another account's.
func TestProviderLinkProvedWithPasskey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, servertest.Localhost(), withProvider(oidcProvider(op, "up")))
		auth := passkeytest.New(t, env.URL, "localhost")
		withPasskey := func(email string) *passkeytest.Credential {
			tok := signUpAPI(t, env, email).SessionToken
			var opts api.PasskeyOptions
			expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts), 200)
			resp, soft := auth.Register(opts.Options)
			expectStatus(t, env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, nil), 201)
			return soft
		}
		ada, eve := withPasskey("ada@example.com"), withPasskey("eve@example.com")

		b := env.NewBrowser(t)
		r, _ := roundTrip(t, b, "up")
		loc := location(t, r)
		page := b.Get(loc)
		if !strings.Contains(page.Body, `id="passkey-login"`) || !strings.Contains(page.Body, `data-flow="`) {
			t.Fatalf("proof page offers no passkey:\n%s", page.Body)
		}
		csrf := servertest.CSRF(t, page.Body)
		flowID := strings.TrimPrefix(loc, "/login?flow=")
		passkeySignIn := func(cred *passkeytest.Credential) *servertest.Response {
			var o api.PasskeyOptions
			if r := jsonPost(t, b, csrf, "/passkeys/login/options", nil); r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &o) != nil {
				t.Fatalf("options: %d %s", r.StatusCode, r.Body)
			}
			return jsonPost(t, b, csrf, "/passkeys/login", map[string]any{"challenge_id": o.ChallengeID,
				"credential": json.RawMessage(auth.Get(o.Options, cred, passkeytest.Tamper{})), "flow": flowID})
		}
		if r := passkeySignIn(eve); r.StatusCode != 400 || whoamiEmail(t, b) != "" {
			t.Fatalf("another account's passkey: %d %s", r.StatusCode, r.Body)
		}
		r = passkeySignIn(ada)
		if r.StatusCode != 200 || !strings.Contains(r.Body, `"redirect":"/login?flow=`+flowID+`"`) {
			t.Fatalf("the account's passkey: %d %s", r.StatusCode, r.Body)
		}
		page = b.Get(loc)
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "link": {"yes"}})); got != "/account" {
			t.Fatalf("after confirming: %q", got)
		}
		who := b.Get("/sessions/whoami")
		if !strings.Contains(who.Body, `"aal":"aal2"`) || len(linksOf(t, db, "ada@example.com")) != 1 {
			t.Fatalf("after the passkey and the link: %s", who.Body)
		}
	})
}

// jsonPost sends a page script's JSON request from b.
func jsonPost(t *testing.T, b *servertest.Browser, csrf, path string, body any) *servertest.Response {
	t.Helper()
	raw, _ := json.Marshal(body)
	if body == nil {
		raw = []byte("{}")
	}
	req, _ := http.NewRequest(http.MethodPost, b.Base()+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	req.Header.Set("Origin", b.Base())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return &servertest.Response{Response: resp, Body: string(out)}
}

// Simultaneous callbacks with one state (a double click, a replay racing
// the customer) sign in once: the round trip is used once.
func TestProviderCallbackBurst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		b := env.NewBrowser(t)
		page := b.Get("/login")
		cb := providerCallback(t, b, location(t, b.Post("/providers/up", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}})))
		const n = 6
		var (
			ready, wg sync.WaitGroup
			release   = make(chan struct{})
			statuses  = make([]int, n)
		)
		ready.Add(n)
		wg.Add(n)
		for i := range n {
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, cb, nil)
				ready.Done()
				<-release
				resp, err := b.HTTP.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		ready.Wait()
		close(release)
		wg.Wait()
		signedIn := 0
		for _, s := range statuses {
			switch s {
			case http.StatusSeeOther:
				signedIn++
			case http.StatusBadRequest:
			default:
				t.Errorf("a callback answered %d", s)
			}
		}
		if signedIn != 1 {
			t.Fatalf("%d of %d simultaneous callbacks signed in (statuses %v), want 1", signedIn, n, statuses)
		}
		if n, _ := identity.NewStore(db).Count(context.Background(), config.DefaultDomain, identity.StateActive); n != 1 {
			t.Fatalf("%d accounts", n)
		}
	})
}

// A provider's sign-in goes through the decision path as every sign-in
// does: a policy rule sees the provider (journey.provider) and its
// refusal ends the journey with nothing signed in — and the decision is
// recorded.
func TestProviderSignInDecidedByPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		pol, _ := withPolicy(t, `version: 1
rules:
  - name: no-upstream-sessions
    when: 'action == "session.issue" && journey.provider == "up" && "provider" in session.methods'
    then: {effect: deny, reason: "Sign in with your password here."}
`, "")
		env := servertest.Start(t, db, pol, withProvider(oidcProvider(op, "up")))
		b := env.NewBrowser(t)
		r, _ := roundTrip(t, b, "up")
		expectStatus(t, r, http.StatusForbidden)
		if !strings.Contains(r.Body, "Sign in with your password here.") || whoamiEmail(t, b) != "" {
			t.Fatalf("the policy's refusal:\n%s", r.Body)
		}
		var n int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM decisions WHERE action = 'session.issue' AND effect = 'deny'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("recorded refusals: %d, %v", n, err)
		}
	})
}

// An app whose customer's provider address belongs to an account proves
// the account through the API and answers the link's question there; the
// customer later unlinks through the API too.
func TestProviderLinkThroughAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		signUpAPI(t, env, "app@example.com")
		var f api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", map[string]any{}, &f), 201)
		idToken := op.SignIDToken(map[string]any{"sub": "app-user", "email": "app@example.com", "email_verified": true, "nonce": f.Flow.ID})
		var proof api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+f.Flow.ID, "", map[string]any{"method": "provider", "provider": "up", "id_token": idToken}, &proof), 200)
		if proof.SessionToken != "" || proof.Flow.ID == f.Flow.ID || proof.Flow.State != "form" || proof.Flow.Email != "app@example.com" {
			t.Fatalf("the account to prove: %+v", proof)
		}
		var confirm api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+proof.Flow.ID, "", map[string]any{"identifier": "app@example.com", "password": goodPassword}, &confirm), 200)
		if confirm.SessionToken != "" || confirm.Flow.State != "confirm_link" {
			t.Fatalf("after the password: %+v", confirm)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+proof.Flow.ID, "", map[string]any{}, nil), 400) // say yes or no
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+proof.Flow.ID, "", map[string]any{"link": true}, &done), 200)
		if done.SessionToken == "" || !slices.Contains(done.Session.Methods, "provider") {
			t.Fatalf("after linking: %+v", done.Session)
		}
		if links := linksOf(t, db, "app@example.com"); len(links) != 1 || links[0].Subject != "app-user" {
			t.Fatalf("links: %+v", links)
		}
		expectStatus(t, env.JSON(t, "DELETE", "/api/account/providers/nope", done.SessionToken, nil, nil), 404)
		expectStatus(t, env.JSON(t, "DELETE", "/api/account/providers/up", done.SessionToken, nil, nil), 204)
		if links := linksOf(t, db, "app@example.com"); len(links) != 0 {
			t.Fatalf("links after unlinking: %+v", links)
		}
	})
}

// The notice of a link carries "this wasn't me": its link takes the
// provider's account away again.
func TestProviderLinkReverted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		env := servertest.Start(t, db, withProvider(oidcProvider(op, "up")))
		b := signUp(t, env, "ada@example.com", goodPassword)
		account := b.Get("/account")
		to := location(t, b.Post("/account/providers/link", url.Values{"csrf_token": {servertest.CSRF(t, account.Body)}, "provider": {"up"}}))
		location(t, getURL(t, b, providerCallback(t, b, to)))
		notice := env.LatestMail(t, "ada@example.com", "Security change on your Foyer account")
		link := revertLink.FindStringSubmatch(notice.Text)
		if link == nil || !strings.Contains(notice.Text, "an account at Upstream was linked") {
			t.Fatalf("notice:\n%s", notice.Text)
		}
		owner := env.NewBrowser(t)
		page := owner.Get("/revert?token=" + link[1])
		expectStatus(t, owner.Post("/revert", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "token": {link[1]}}), 200)
		if links := linksOf(t, db, "ada@example.com"); len(links) != 0 {
			t.Fatalf("the link outlived the revert: %+v", links)
		}
		// The provider no longer signs in to the account: its address
		// leads to proving the account again.
		r, _ := roundTrip(t, env.NewBrowser(t), "up")
		if got := location(t, r); !strings.HasPrefix(got, "/login?flow=") {
			t.Fatalf("after the revert the provider went to %q", got)
		}
	})
}
