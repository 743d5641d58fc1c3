package oidc_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
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

// start sends the browser to /authorize with raw parameters and returns
// the first response.
func (p *rp) start(params url.Values) *servertest.Response {
	p.t.Helper()
	return p.browser.Get("/authorize?" + params.Encode())
}

func (p *rp) params(extra map[string]string) url.Values {
	v := url.Values{
		"client_id": {p.client.ID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier("verifier-verifier-verifier-verifier-verifier")}, "code_challenge_method": {"S256"},
	}
	for k, val := range extra {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return v
}

// errorAtClient checks that the browser was sent back to the client with
// an OAuth error.
func errorAtClient(t *testing.T, r *servertest.Response, want string) {
	t.Helper()
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || r.StatusCode != http.StatusFound && r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), redirectURI) {
		t.Fatalf("want a redirect to the client, got %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	if got := loc.Query().Get("error"); got != want {
		t.Fatalf("error %q (%s), want %q", got, loc.Query().Get("error_description"), want)
	}
}

func TestAuthorizeRequestErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		pub := newRP(t, env, client.Spec{Name: ptr("SPA"), Public: ptr(true)})

		// A bad redirect_uri or client_id is shown as an error page, never redirected to.
		for name, params := range map[string]url.Values{
			"wrong redirect_uri": p.params(map[string]string{"redirect_uri": "https://evil.example/callback"}),
			"unknown client":     p.params(map[string]string{"client_id": "nope"}),
			"prefix redirect":    p.params(map[string]string{"redirect_uri": redirectURI + "/more"}),
		} {
			r := p.start(params)
			if loc := r.Header.Get("Location"); strings.Contains(loc, "evil.example") || strings.HasPrefix(loc, redirectURI) {
				t.Errorf("%s: redirected to %q", name, loc)
			}
			if r.StatusCode < 400 {
				t.Errorf("%s: status %d", name, r.StatusCode)
			}
		}
		// PKCE: plain is refused, and public clients must send S256.
		errorAtClient(t, p.start(p.params(map[string]string{"code_challenge_method": "plain"})), "invalid_request")
		errorAtClient(t, pub.start(pub.params(map[string]string{"code_challenge": "", "code_challenge_method": ""})), "invalid_request")
		// Response modes other than query and form_post, and requests by
		// reference, are refused, not ignored.
		errorAtClient(t, p.start(p.params(map[string]string{"response_mode": "jwt"})), "invalid_request")
		errorAtClient(t, p.start(p.params(map[string]string{"request_uri": "https://rp.example/requests/1"})), "request_uri_not_supported")
		// Implicit and hybrid flows are not offered, nor is anything else
		// but code (RFC 6749, section 4.1.2.1); state comes back.
		for _, rt := range []string{"token", "code id_token", "bogus"} {
			r := p.start(p.params(map[string]string{"response_type": rt, "state": "s-" + rt}))
			errorAtClient(t, r, "unsupported_response_type")
			if loc, _ := url.Parse(r.Header.Get("Location")); loc.Query().Get("state") != "s-"+rt {
				t.Errorf("response_type %s: state not returned: %s", rt, loc)
			}
		}
		// A malformed max_age is an invalid request, answered at the client.
		errorAtClient(t, p.start(p.params(map[string]string{"max_age": "abc"})), "invalid_request")
		// Never at an unregistered redirect URI, though.
		if r := p.start(p.params(map[string]string{"response_type": "token", "redirect_uri": "https://evil.example/callback"})); strings.Contains(r.Header.Get("Location"), "evil.example") {
			t.Errorf("unsupported response type answered at an unregistered redirect URI: %s", r.Header.Get("Location"))
		}
		// prompt=none without a session.
		r := p.start(p.params(map[string]string{"prompt": "none"}))
		if r.StatusCode == http.StatusFound || r.StatusCode == http.StatusSeeOther {
			if next := r.Header.Get("Location"); strings.HasPrefix(next, "/") {
				r = p.browser.Get(next)
			}
		}
		errorAtClient(t, r, "login_required")
	})
}

// An id_token_hint naming another customer than the one signed in is not
// answered silently for the one signed in (OIDC Core 3.1.2.1).
func TestIDTokenHintOfSomeoneElse(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	signUp(t, env, "ann@example.com")
	signUp(t, env, "ben@example.com")
	p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
	ctx := context.Background()
	code, verifier, _ := p.authorize("ann@example.com")
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	annHint := tok.Extra("id_token").(string)

	// Ann's own hint, in her browser: answered at once.
	r := p.start(p.params(map[string]string{"prompt": "none", "id_token_hint": annHint}))
	if next := r.Header.Get("Location"); strings.HasPrefix(next, "/") {
		r = p.browser.Get(next)
	}
	if loc, _ := url.Parse(r.Header.Get("Location")); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("own hint: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// Ann's hint in Ben's browser: login_required, not a code for Ben.
	ben := newRP(t, env, client.Spec{FirstParty: ptr(true)})
	ben.authorize("ben@example.com")
	ben.client, ben.oauth = p.client, p.oauth
	r = ben.start(ben.params(map[string]string{"prompt": "none", "id_token_hint": annHint}))
	if next := r.Header.Get("Location"); strings.HasPrefix(next, "/") {
		r = ben.browser.Get(next)
	}
	errorAtClient(t, r, "login_required")
}

// A native app's loopback redirect may differ from the registered one in
// its port only (RFC 8252, sections 7.3 and 8.3).
func TestLoopbackRedirectPortOnly(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	p := newRP(t, env, client.Spec{Public: ptr(true), RedirectURIs: &[]string{"http://127.0.0.1:9999/cb"},
		PostLogoutRedirectURIs: &[]string{"http://127.0.0.1:9999/bye"}})
	bye := p.browser.Get("/end_session?" + url.Values{"client_id": {p.client.ID}, "post_logout_redirect_uri": {"https://127.0.0.1:1234/bye"}}.Encode())
	if bye.StatusCode != http.StatusBadRequest {
		t.Errorf("post-logout redirect of another scheme: %d %q", bye.StatusCode, bye.Header.Get("Location"))
	}
	ok := p.start(p.params(map[string]string{"redirect_uri": "http://127.0.0.1:1234/cb"}))
	if !strings.HasPrefix(ok.Header.Get("Location"), "/oauth/continue") {
		t.Fatalf("another port: %d %q", ok.StatusCode, ok.Header.Get("Location"))
	}
	for _, uri := range []string{"https://127.0.0.1:1234/cb", "http://localhost:1234/cb", "http://[::1]:1234/cb",
		"http://127.5.5.5/cb", "http://evil.example@127.0.0.1:1234/cb", "http://127.0.0.1:1234/other"} {
		if r := p.start(p.params(map[string]string{"redirect_uri": uri})); r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
			t.Errorf("%s: %d %q", uri, r.StatusCode, r.Header.Get("Location"))
		}
	}
}

func TestPKCEDowngradeAndVerifier(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "fay@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		ctx := context.Background()
		// Wrong verifier.
		code, _, _ := p.authorize("fay@example.com")
		if _, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Fatal("wrong verifier accepted")
		}
		// A confidential client may skip PKCE — but then cannot send a
		// verifier (downgrade).
		state := random()
		back := p.follow(p.oauth.AuthCodeURL(state), "fay@example.com")
		if _, err := p.oauth.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Fatal("verifier without challenge accepted")
		}
		// Codes expire after 60 seconds.
		code, verifier, _ := p.authorize("fay@example.com")
		env.Clock.Advance(61 * time.Second)
		if _, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
			t.Fatal("expired code accepted")
		}
	})
}

func TestMaxAgeAndPromptLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "gus@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		ctx := context.Background()
		code, verifier, _ := p.authorize("gus@example.com")
		tok, _ := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		first, _ := p.verifier.Verify(ctx, tok.Extra("id_token").(string))
		var c1 struct {
			AuthTime int64 `json:"auth_time"`
		}
		_ = first.Claims(&c1)

		// With a session, a plain request needs no sign-in at all.
		state := random()
		r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), env.URL))
		next := p.browser.Get(r.Header.Get("Location"))
		if loc := next.Header.Get("Location"); !strings.HasPrefix(loc, redirectURI) {
			t.Fatalf("SSO without sign-in expected, got %q", loc)
		}
		// max_age=0 (and prompt=login) force signing in again: the login page
		// shows up, and auth_time moves forward. Also within the second of
		// the last sign-in.
		for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("prompt", "login")} {
			env.Clock.Advance(time.Millisecond)
			r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL(random(), opt, oauth2.S256ChallengeOption(verifier)), env.URL))
			next := p.browser.Get(r.Header.Get("Location"))
			if loc := next.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
				t.Fatalf("re-authentication expected at once, got %q", loc)
			}
		}
		env.Clock.Advance(5 * time.Second)
		for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0"), oauth2.SetAuthURLParam("prompt", "login")} {
			r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL(random(), opt, oauth2.S256ChallengeOption(verifier)), env.URL))
			next := p.browser.Get(r.Header.Get("Location"))
			if loc := next.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
				t.Fatalf("re-authentication expected, got %q", loc)
			}
		}
		code, verifier, _ = p.authorize("gus@example.com", oauth2.SetAuthURLParam("max_age", "0"))
		tok, _ = p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		second, _ := p.verifier.Verify(ctx, tok.Extra("id_token").(string))
		var c2 struct {
			AuthTime int64 `json:"auth_time"`
		}
		_ = second.Claims(&c2)
		if c2.AuthTime <= c1.AuthTime {
			t.Fatalf("auth_time did not move: %d then %d", c1.AuthTime, c2.AuthTime)
		}
	})
}

func TestThirdPartyConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "hal@example.com")
		p := newRP(t, env, client.Spec{Name: ptr("Partner app")}) // not first-party
		verifier := oauth2.GenerateVerifier()
		url1 := p.oauth.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n"))
		r := p.browser.Get(strings.TrimPrefix(url1, env.URL))
		r = p.browser.Get(r.Header.Get("Location"))
		login := r.Header.Get("Location")
		u, _ := url.Parse(login)
		r = p.browser.Submit(login, url.Values{"email": {"hal@example.com"}, "password": {password}, "return_to": {u.Query().Get("return_to")}})
		consentPath := r.Header.Get("Location")
		page := p.browser.Get(consentPath)
		if page.StatusCode != 200 || !strings.Contains(page.Body, "Partner app") || !strings.Contains(page.Body, "See your email address") {
			t.Fatalf("consent page: %d\n%s", page.StatusCode, page.Body)
		}
		// Deny: the app gets access_denied.
		deny := p.browser.Post(consentPath, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "decision": {"deny"}})
		errorAtClient(t, deny, "access_denied")
		if deny.StatusCode != http.StatusSeeOther {
			t.Fatalf("deny answered %d, want 303 as after every form POST", deny.StatusCode)
		}

		// Allow: the app gets a code, and the consent shows on the account page.
		r = p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n")), env.URL))
		consentPath = r.Header.Get("Location")
		page = p.browser.Get(consentPath)
		allow := p.browser.Post(consentPath, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "decision": {"allow"}})
		loc, _ := url.Parse(allow.Header.Get("Location"))
		if loc.Query().Get("code") == "" || allow.StatusCode != http.StatusSeeOther {
			t.Fatalf("allow: %d %s", allow.StatusCode, allow.Header.Get("Location"))
		}
		tok, err := p.oauth.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		account := p.browser.Get("/account")
		if !strings.Contains(account.Body, "Partner app") {
			t.Fatalf("account page lacks the consent:\n%s", account.Body)
		}
		// Next time no consent page.
		r = p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier)), env.URL))
		if next := p.browser.Get(r.Header.Get("Location")); !strings.HasPrefix(next.Header.Get("Location"), redirectURI) {
			t.Fatalf("consent asked again: %s", next.Header.Get("Location"))
		}
		// Withdrawing the consent revokes the app's tokens.
		rev := p.browser.Post("/account/consents", url.Values{"csrf_token": {servertest.CSRF(t, account.Body)}, "client_id": {p.client.ID}})
		if rev.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke consent: %d", rev.StatusCode)
		}
		if _, err := p.refresh(tok.RefreshToken); err == nil {
			t.Fatal("refresh token survived withdrawn consent")
		}
	})
}

func TestBrowserBinding(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "ivy@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), env.URL))
		cont := r.Header.Get("Location")
		// Another browser (signed in as someone else) cannot complete it.
		thief := env.NewBrowser(t)
		got := thief.Get(cont)
		if got.StatusCode != http.StatusForbidden || strings.HasPrefix(got.Header.Get("Location"), redirectURI) {
			t.Fatalf("foreign browser: %d %q", got.StatusCode, got.Header.Get("Location"))
		}
		// The library's own callback, which trusts the id alone, is not there.
		id, _ := url.Parse(cont)
		if cb := thief.Get("/authorize/callback?id=" + id.Query().Get("id")); cb.StatusCode != http.StatusNotFound {
			t.Fatalf("/authorize/callback: %d", cb.StatusCode)
		}
	})
}

func TestEndSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "jon@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true), PostLogoutRedirectURIs: &[]string{"https://shop.example/bye"}})
		code, verifier, _ := p.authorize("jon@example.com")
		tok, _ := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		idToken := tok.Extra("id_token").(string)

		// An unregistered post_logout_redirect_uri is refused.
		bad := p.browser.Get("/end_session?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		if strings.Contains(bad.Header.Get("Location"), "evil.example") {
			t.Fatal("redirected to an unregistered URI")
		}
		r := p.browser.Get("/end_session?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://shop.example/bye"}, "state": {"xyz"}}.Encode())
		logout := r.Header.Get("Location")
		if !strings.HasPrefix(logout, "/logout?") {
			t.Fatalf("end_session: %d %q", r.StatusCode, logout)
		}
		page := p.browser.Get(logout)
		// Nothing ends before the customer confirms.
		if !p.introspect(tok.RefreshToken) {
			t.Fatal("end_session ended tokens before the customer confirmed")
		}
		done := p.browser.Post("/logout", hiddenFields(page.Body))
		if got := done.Header.Get("Location"); got != "https://shop.example/bye?state=xyz" {
			t.Fatalf("after logout: %q", got)
		}
		if who := p.browser.Get("/sessions/whoami"); who.StatusCode != 401 {
			t.Fatal("Foyer session survived RP-initiated logout")
		}
		// state without a post_logout_redirect_uri leads nowhere but
		// Foyer's logout page.
		r = p.browser.Get("/end_session?" + url.Values{"state": {"alone"}}.Encode())
		if got := r.Header.Get("Location"); got != "/logout" {
			t.Fatalf("end_session with state only: %d %q", r.StatusCode, got)
		}
		// A forged redirect on the logout page is ignored.
		forged := env.NewBrowser(t)
		fp := forged.Get("/logout?post_logout_redirect_uri=https://evil.example/&sig=AAAA")
		if strings.Contains(fp.Body, "evil.example") {
			t.Fatal("logout page accepted a forged redirect")
		}
		if _, err := p.refresh(tok.RefreshToken); err == nil {
			t.Fatal("tokens survived end_session")
		}
	})
}

// hiddenFields returns a page's form: its hidden inputs, the CSRF token
// among them.
func hiddenFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Add(m[1], html.UnescapeString(m[2]))
	}
	return v
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)

// An app's logout with an ID token — even an expired one — ends nothing
// until the customer confirms it, signed in as the one the token names:
// no cookie, or someone else's session, and the app's tokens stay.
func TestEndSessionNeedsTheCustomersConfirmation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "kai@example.com")
		signUp(t, env, "lea@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true), PostLogoutRedirectURIs: &[]string{"https://shop.example/bye"}})
		tok := p.tokens("kai@example.com")
		hint := tok.Extra("id_token").(string)
		env.Clock.Advance(time.Hour) // the ID token has expired
		end := "/end_session?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://shop.example/bye"}}.Encode()

		// No cookie: straight back to the app, nothing ended.
		stranger := env.NewBrowser(t)
		r := stranger.Get(end)
		if r = stranger.Get(r.Header.Get("Location")); r.Header.Get("Location") != "https://shop.example/bye" {
			t.Fatalf("end_session without a session: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		if !p.introspect(tok.RefreshToken) {
			t.Fatal("end_session with an expired hint and no cookie ended the app's tokens")
		}
		// Someone else confirms in their browser: they are signed out,
		// Kai's tokens stay.
		lea := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		lea.tokens("lea@example.com")
		r = lea.browser.Get(end)
		page := lea.browser.Get(r.Header.Get("Location"))
		if done := lea.browser.Post("/logout", hiddenFields(page.Body)); done.Header.Get("Location") != "https://shop.example/bye" {
			t.Fatalf("someone else's confirmation: %d %q", done.StatusCode, done.Header.Get("Location"))
		}
		if !p.introspect(tok.RefreshToken) {
			t.Fatal("someone else's confirmation ended Kai's tokens")
		}
		// Kai confirms: the app's tokens end, the offline grant too.
		r = p.browser.Get(end)
		page = p.browser.Get(r.Header.Get("Location"))
		if !p.introspect(tok.RefreshToken) {
			t.Fatal("the sign-out page ended tokens before Kai confirmed")
		}
		if done := p.browser.Post("/logout", hiddenFields(page.Body)); done.Header.Get("Location") != "https://shop.example/bye" {
			t.Fatalf("Kai's confirmation: %d %q", done.StatusCode, done.Header.Get("Location"))
		}
		if p.introspect(tok.RefreshToken) {
			t.Fatal("Kai's confirmed logout left the app's tokens alive")
		}
	})
}

func TestPromptCreateAndLoginHint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		r := p.start(p.params(map[string]string{"prompt": "create"}))
		next := p.browser.Get(r.Header.Get("Location"))
		loc, _ := url.Parse(next.Header.Get("Location"))
		if loc.Path != "/registration" || !strings.HasPrefix(loc.Query().Get("return_to"), "/oauth/continue?id=") {
			t.Fatalf("prompt=create went to %q", next.Header.Get("Location"))
		}
		// The sign-up page keeps the way back to the app.
		if page := p.browser.Get(loc.RequestURI()); !strings.Contains(page.Body, `name="return_to"`) {
			t.Fatalf("registration page lost return_to:\n%s", page.Body)
		}
		r = p.start(p.params(map[string]string{"login_hint": "kim@example.com"}))
		next = p.browser.Get(r.Header.Get("Location"))
		page := p.browser.Get(next.Header.Get("Location"))
		if !strings.Contains(page.Body, `value="kim@example.com"`) {
			t.Fatalf("login_hint not pre-filled:\n%s", page.Body)
		}
	})
}

// Apps post to the protocol endpoints from their own origin.
func TestCrossOriginProtocolRequests(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	c, secret, _ := env.Server.Clients.Create(context.Background(), "customers", client.Spec{Name: ptr("Job"), GrantTypes: &[]string{"client_credentials"}})
	req, _ := http.NewRequest("POST", env.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.SetBasicAuth(c.ID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cross-origin token request: %d", resp.StatusCode)
	}
}

// Single-page apps (public clients) may call the token endpoint from the
// origin of their redirect URI; nobody else gets CORS.
func TestCORSForPublicClients(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	newRP(t, env, client.Spec{Name: ptr("SPA"), Public: ptr(true), RedirectURIs: &[]string{"https://app.example/cb"}})
	newRP(t, env, client.Spec{Name: ptr("Web"), RedirectURIs: &[]string{"https://web.example/cb"}})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, env.URL+"/oauth/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := preflight("https://app.example"); r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("public client origin: %d %v", r.StatusCode, r.Header)
	}
	for _, origin := range []string{"https://web.example", "https://evil.example"} {
		if r := preflight(origin); r.Header.Get("Access-Control-Allow-Origin") != "" || r.StatusCode != http.StatusForbidden {
			t.Fatalf("%s got CORS: %d %v", origin, r.StatusCode, r.Header)
		}
	}
}
