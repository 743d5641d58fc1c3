package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// Signing in with an upstream provider (docs/social.md), in Chromium. The
// Foyer under test (the downstream, on 127.0.0.1) offers "Continue with
// Upstream"; the upstream is a second, real Foyer on localhost — another
// host, so the browser keeps the two servers' cookies apart, and another
// site, so every hop between them is a cross-site navigation, as with a
// real provider.

const (
	upstreamID   = "up"
	upstreamName = "Upstream"
	// upstreamPassphrase is the customer's password at the upstream,
	// another than the downstream's.
	upstreamPassphrase = "amber lantern drifts past the mill"
)

// What a person sees and presses, found by its words.
var (
	continueWithUpstream = chromedp.Search(`//form[@method="post"]//button[normalize-space()="Continue with Upstream"]`)
	createAccountLink    = chromedp.Search(`//a[normalize-space()="Create an account"]`)
	linkUpstreamButton   = chromedp.Search(`//form[@method="post"]//button[normalize-space()="Link Upstream"]`)
	notNowButton         = chromedp.Search(`//form[@method="post"]//button[normalize-space()="Not now, just sign in"]`)
	unlinkUpstreamButton = chromedp.Search(`//form[@method="post"]//button[normalize-space()="Unlink Upstream"]`)
	// On the account page the links say "Unlink" and "Link"; their
	// accessible names say which provider.
	unlinkUpstreamLink  = chromedp.Search(`//a[@aria-label="Unlink your Upstream account"]`)
	accountLinkUpstream = chromedp.Search(`//form[@method="post"]//button[@aria-label="Link your Upstream account"]`)
)

// social is a downstream Foyer that offers an upstream Foyer's accounts.
type social struct{ down, up *servertest.Env }

// startSocial starts the upstream (SQLite, on localhost, adjusted by
// upstreamOpts) and the downstream on db, registered at the upstream as a
// first-party confidential client with its callback as redirect URI, and
// configured with the upstream as provider "up".
func startSocial(t *testing.T, db *store.DB, upstreamOpts ...servertest.Option) *social {
	t.Helper()
	up := servertest.Start(t, storetest.NewSQLite(t), append([]servertest.Option{servertest.Localhost()}, upstreamOpts...)...)
	s := &social{up: up}
	s.down = servertest.Start(t, db, func(c *config.Config) {
		name, firstParty := "Downstream shop", true
		cl, secret, err := up.Server.Clients.Create(context.Background(), config.DefaultDomain, client.Spec{
			Name: &name, FirstParty: &firstParty,
			RedirectURIs: &[]string{c.PublicURL + "/providers/" + upstreamID + "/callback"},
			Scopes:       &[]string{"openid", "email", "profile"},
		})
		if err != nil {
			t.Fatalf("register the downstream at the upstream: %v", err)
		}
		d := c.Domains[config.DefaultDomain]
		d.Providers = append(d.Providers, config.Provider{ID: upstreamID, Kind: "oidc", Name: upstreamName,
			Issuer: up.URL, ClientID: cl.ID, ClientSecret: secret})
	})
	if !strings.HasPrefix(s.down.URL, "http://127.0.0.1:") || !strings.HasPrefix(s.up.URL, "http://localhost:") {
		t.Fatalf("want the downstream on 127.0.0.1 and the upstream on localhost: %s, %s", s.down.URL, s.up.URL)
	}
	return s
}

// pressContinue opens the downstream's sign-in page, presses
// "Continue with Upstream" and returns the response of the page the
// browser lands on.
func (s *social) pressContinue(t *testing.T, ctx context.Context) *network.Response {
	t.Helper()
	if resp := open(t, ctx, s.down.URL+"/login"); resp.Status != http.StatusOK {
		t.Fatalf("GET /login: %d", resp.Status)
	}
	return clickAndWait(t, ctx, continueWithUpstream)
}

// expectAt checks that the browser shows env's page path, answered with
// status.
func expectAt(t *testing.T, ctx context.Context, resp *network.Response, env *servertest.Env, status int, path string) {
	t.Helper()
	u := location(t, ctx)
	if resp.Status != int64(status) || u.Scheme+"://"+u.Host != env.URL || u.Path != path {
		t.Fatalf("want %d %s%s, got %d %s\n%s", status, env.URL, path, resp.Status, u, pageText(ctx))
	}
}

// expectUpstreamSignIn checks that the browser is on the upstream's
// sign-in page, in the middle of the downstream's authorization request.
func (s *social) expectUpstreamSignIn(t *testing.T, ctx context.Context, resp *network.Response) {
	t.Helper()
	expectAt(t, ctx, resp, s.up, http.StatusOK, "/login")
	if rt := location(t, ctx).Query().Get("return_to"); !strings.HasPrefix(rt, "/oauth/continue?id=") {
		t.Fatalf("the upstream's sign-in page does not go back to the authorization request: return_to %q", rt)
	}
	do(t, ctx, "wait for the upstream's sign-in form", chromedp.WaitVisible(curPasswordField))
}

// signUpAtUpstream goes from the upstream's sign-in page to its sign-up
// page and signs up there, entering the mailed code when verify is set.
// It returns the response of the page the browser lands on after the
// upstream sends it back.
func (s *social) signUpAtUpstream(t *testing.T, ctx context.Context, email string, verify bool) *network.Response {
	t.Helper()
	resp := clickAndWait(t, ctx, createAccountLink)
	expectAt(t, ctx, resp, s.up, http.StatusOK, "/registration")
	if rt := location(t, ctx).Query().Get("return_to"); !strings.HasPrefix(rt, "/oauth/continue?id=") {
		t.Fatalf("the upstream's sign-up page does not go back to the authorization request: return_to %q", rt)
	}
	typeInto(t, ctx, emailField, email)
	typeInto(t, ctx, newPasswordField, upstreamPassphrase)
	resp = clickAndWait(t, ctx, signUpButton)
	if !verify {
		return resp
	}
	expectAt(t, ctx, resp, s.up, http.StatusOK, "/registration")
	do(t, ctx, "wait for the upstream's code field", chromedp.WaitVisible(codeField))
	typeInto(t, ctx, codeField, servertest.CodeFrom(t, s.up.MailTo(t, email, 1)))
	return clickAndWait(t, ctx, codeButton)
}

// signInAtUpstream signs in on the upstream's sign-in page and returns
// the response of the page the browser lands on.
func (s *social) signInAtUpstream(t *testing.T, ctx context.Context, email string) *network.Response {
	t.Helper()
	typeInto(t, ctx, emailField, email)
	typeInto(t, ctx, curPasswordField, upstreamPassphrase)
	return clickAndWait(t, ctx, signInButton)
}

// upstreamIdentity is the upstream's account of email.
func (s *social) upstreamIdentity(t *testing.T, email string) *identity.Identity {
	t.Helper()
	ident, err := identity.NewStore(s.up.DB).FindByIdentifier(context.Background(), config.DefaultDomain, identity.KindEmail, email)
	if err != nil {
		t.Fatalf("the upstream's account of %s: %v", email, err)
	}
	return ident
}

// downstreamIdentity is the downstream's account of email.
func (s *social) downstreamIdentity(t *testing.T, email string) *identity.Identity {
	t.Helper()
	ident, err := identity.NewStore(s.down.DB).FindByIdentifier(context.Background(), config.DefaultDomain, identity.KindEmail, email)
	if err != nil {
		t.Fatalf("the downstream's account of %s: %v", email, err)
	}
	return ident
}

// links are the downstream's links of identityID.
func (s *social) links(t *testing.T, identityID string) []identity.Link {
	t.Helper()
	links, err := identity.NewLinks(s.down.DB).List(context.Background(), identityID)
	if err != nil {
		t.Fatalf("links of %s: %v", identityID, err)
	}
	return links
}

// expectLinked checks that the downstream's identityID is linked to the
// upstream's account up, and to nothing else, and returns the link.
func (s *social) expectLinked(t *testing.T, identityID string, up *identity.Identity) identity.Link {
	t.Helper()
	links := s.links(t, identityID)
	if len(links) != 1 {
		t.Fatalf("%d links stored, want 1: %+v", len(links), links)
	}
	l := links[0]
	if l.Provider != upstreamID || l.Subject != up.ID || l.Email != up.Email().Value || l.LinkedAt.IsZero() {
		t.Fatalf("link stored: %+v; want provider %q, subject %q (the upstream's account), email %q", l, upstreamID, up.ID, up.Email().Value)
	}
	return l
}

// countAccounts is how many accounts the downstream has in state.
func (s *social) countAccounts(t *testing.T, state string) int {
	t.Helper()
	n, err := identity.NewStore(s.down.DB).Count(context.Background(), config.DefaultDomain, state)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// whoami reads /sessions/whoami with the browser's cookies, in a second
// tab, and returns its status and, when signed in, its answer.
func whoami(t *testing.T, ctx context.Context, env *servertest.Env) (int64, api.WhoamiResponse) {
	t.Helper()
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	resp := open(t, tab, env.URL+"/sessions/whoami")
	var w api.WhoamiResponse
	if resp.Status != http.StatusOK {
		return resp.Status, w
	}
	body := eval[string](t, tab, `document.querySelector('pre') ? document.querySelector('pre').textContent : document.body.innerText`)
	if err := json.Unmarshal([]byte(body), &w); err != nil || w.Session == nil || w.Identity == nil {
		t.Fatalf("GET /sessions/whoami: no session and identity in %q (%v)", body, err)
	}
	return resp.Status, w
}

// expectSignedIn checks that the browser is signed in to the downstream
// as email, verified, with a session that used methods (and perhaps
// others), and returns whoami's answer.
func (s *social) expectSignedIn(t *testing.T, ctx context.Context, email string, methods ...string) api.WhoamiResponse {
	t.Helper()
	status, w := whoami(t, ctx, s.down)
	if status != http.StatusOK {
		t.Fatalf("GET /sessions/whoami at the downstream: %d, want signed in as %s", status, email)
	}
	if e := w.Identity.Email(); e.Value != email || !e.Verified {
		t.Fatalf("whoami: signed in as %+v, want %s verified", e, email)
	}
	for _, m := range methods {
		if !slices.Contains(w.Session.Methods, m) {
			t.Errorf("whoami: session methods %q lack %q", w.Session.Methods, m)
		}
	}
	return w
}

// expectSignedOut checks that the browser is not signed in to the
// downstream.
func (s *social) expectSignedOut(t *testing.T, ctx context.Context) {
	t.Helper()
	if status, w := whoami(t, ctx, s.down); status != http.StatusUnauthorized {
		t.Fatalf("GET /sessions/whoami at the downstream: %d (%+v), want 401", status, w.Identity)
	}
}

// providersSection is the text of the account page's list of providers,
// under its heading.
func providersSection(t *testing.T, ctx context.Context) string {
	t.Helper()
	return eval[string](t, ctx, `(() => {
	const h = document.getElementById("providers");
	if (!h || !h.nextElementSibling) return "";
	return h.textContent + "\n" + h.nextElementSibling.innerText;
})()`)
}

// expectProvidersSection checks that the account page lists Upstream,
// linked (with the address the upstream gave) or not.
func expectProvidersSection(t *testing.T, ctx context.Context, linked bool, email string) {
	t.Helper()
	text := providersSection(t, ctx)
	if !strings.Contains(text, "Sign in with other accounts") || !strings.Contains(text, upstreamName) {
		t.Fatalf("the account page lists no Upstream under its providers:\n%q\npage:\n%s", text, pageText(ctx))
	}
	if linked {
		if !strings.Contains(text, "Linked") || !strings.Contains(text, email) || !strings.Contains(text, "Unlink") {
			t.Fatalf("the account page does not show Upstream linked with %s:\n%q", email, text)
		}
		do(t, ctx, "wait for the Unlink link", chromedp.WaitVisible(unlinkUpstreamLink))
		return
	}
	if strings.Contains(text, "Linked") || strings.Contains(text, "Unlink") {
		t.Fatalf("the account page shows Upstream linked:\n%q", text)
	}
	do(t, ctx, "wait for the Link button", chromedp.WaitVisible(accountLinkUpstream))
}

// emailFieldState is what an email field holds.
type emailFieldState struct {
	Value    string `json:"value"`
	ReadOnly bool   `json:"readOnly"`
}

// proofField is the email field of the downstream's page that asks to
// prove the account an upstream's address belongs to.
func proofField(t *testing.T, ctx context.Context) emailFieldState {
	t.Helper()
	return eval[emailFieldState](t, ctx, `(() => { const f = document.querySelector('input[type=email]'); return f ? {value: f.value, readOnly: f.readOnly} : {}; })()`)
}

// A customer new to the downstream signs up with the upstream: the
// downstream sends them to the upstream, where they make an account, and
// they come back signed in to a new, verified, linked account. Signed
// out, the upstream signs them in again, to the same account. The
// provider is the account's only way in, so it cannot be unlinked.
func TestSocialSignUpSignInAgain(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := startSocial(t, db)
		ctx := newTab(t)
		const email = "ada@example.com"

		resp := s.pressContinue(t, ctx)
		s.expectUpstreamSignIn(t, ctx, resp)
		resp = s.signUpAtUpstream(t, ctx, email, true)
		up := s.upstreamIdentity(t, email)
		if !up.Email().Verified {
			t.Fatalf("the upstream's account of %s is not verified", email)
		}

		// Back at the downstream, signed in to a new account.
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/account")
		expectAccount(t, ctx, email)
		expectProvidersSection(t, ctx, true, email)
		w := s.expectSignedIn(t, ctx, email, "provider")
		if slices.Contains(w.Session.Methods, "password") {
			t.Errorf("session methods %q: no password was used", w.Session.Methods)
		}
		s.expectLinked(t, w.Identity.ID, up)
		if n := s.countAccounts(t, identity.StateActive); n != 1 {
			t.Fatalf("%d accounts at the downstream after the sign-up, want 1", n)
		}

		// Signed out of the downstream (still signed in at the upstream):
		// the upstream signs in to the same account, without a page.
		resp = clickAndWait(t, ctx, signOutButton)
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/login")
		s.expectSignedOut(t, ctx)
		resp = clickAndWait(t, ctx, continueWithUpstream)
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/account")
		expectAccount(t, ctx, email)
		again := s.expectSignedIn(t, ctx, email, "provider")
		if again.Identity.ID != w.Identity.ID || again.Session.ID == w.Session.ID {
			t.Fatalf("second sign-in: identity %s session %s; want identity %s in a new session", again.Identity.ID, again.Session.ID, w.Identity.ID)
		}
		if n := s.countAccounts(t, identity.StateActive); n != 1 {
			t.Fatalf("%d accounts at the downstream after signing in again, want 1", n)
		}
		if l := s.expectLinked(t, w.Identity.ID, up); l.LastUsedAt.IsZero() {
			t.Errorf("the link's last use is not recorded after signing in with it: %+v", l)
		}

		// Unlinking the only way in: the confirmation page, then a refusal
		// on the account page; the link stays.
		resp = clickAndWait(t, ctx, unlinkUpstreamLink)
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/account/providers/unlink")
		if text := pageText(ctx); !strings.Contains(text, "Unlink Upstream?") {
			t.Fatalf("unlink confirmation page:\n%s", text)
		}
		resp = clickAndWait(t, ctx, unlinkUpstreamButton)
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/account")
		msg := eval[string](t, ctx, `(() => { const m = document.querySelector('[data-id="last_sign_in_link"][role="alert"]'); return m ? m.textContent : ""; })()`)
		if msg == "" {
			t.Fatalf("unlinking the only way in: no refusal on the account page:\n%s", pageText(ctx))
		}
		s.expectLinked(t, w.Identity.ID, up)
		expectProvidersSection(t, ctx, true, email)
		// The refusal speaks of the linked account, not of a passkey the
		// account does not have.
		if !strings.Contains(msg, "This account is your only way to sign in") {
			t.Errorf("unlinking the only way in is refused with: %q", msg)
		}
	})
}

// A customer with a downstream account (a password) meets it through the
// upstream's verified address: the downstream asks them to prove the
// account, with the address fixed, then whether to link; Link links and
// signs in. Unlinking asks first, then removes the link.
func TestSocialLinkExistingAccount(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := startSocial(t, db)
		root := newTab(t)
		const email = "grace@example.com"
		// The customer's accounts, made before, each in a browser of its
		// own: at the downstream with a password, at the upstream verified.
		signUp(t, freshContext(t, root), s.down, email, passphrase)
		signUp(t, freshContext(t, root), s.up, email, upstreamPassphrase)
		down, up := s.downstreamIdentity(t, email), s.upstreamIdentity(t, email)
		if !up.Email().Verified {
			t.Fatalf("the upstream's account of %s is not verified", email)
		}

		ctx := freshContext(t, root)
		resp := s.pressContinue(t, ctx)
		s.expectUpstreamSignIn(t, ctx, resp)
		resp = s.signInAtUpstream(t, ctx, email)

		// The downstream's sign-in page, for the address's account only.
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/login")
		if location(t, ctx).Query().Get("flow") == "" {
			t.Fatalf("the proof page is not a sign-in flow: %s", location(t, ctx))
		}
		do(t, ctx, "wait for the password field", chromedp.WaitVisible(curPasswordField))
		if field := proofField(t, ctx); field.Value != email || !field.ReadOnly {
			t.Errorf("the proof page's email field: %+v, want %q fixed (readonly)", field, email)
		}
		text := pageText(ctx)
		if !strings.Contains(text, "You already have an account with "+email+". To link your Upstream account to it, sign in to it once more") {
			t.Fatalf("the proof page does not ask to prove the account:\n%s", text)
		}
		if strings.Contains(text, "Continue with Upstream") {
			t.Errorf("the proof page offers the provider again:\n%s", text)
		}
		s.expectSignedOut(t, ctx)
		if l := s.links(t, down.ID); len(l) != 0 {
			t.Fatalf("linked before the account was proved: %+v", l)
		}

		// The password proves it; the downstream then asks.
		typeInto(t, ctx, curPasswordField, passphrase)
		resp = clickAndWait(t, ctx, signInButton)
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/login")
		if text := pageText(ctx); !strings.Contains(text, "Link Upstream") {
			t.Fatalf("after proving the account: no link confirmation:\n%s", text)
		}
		do(t, ctx, "wait for the link confirmation", chromedp.WaitVisible(linkUpstreamButton), chromedp.WaitVisible(notNowButton))
		if h1 := eval[string](t, ctx, `document.querySelector("h1") ? document.querySelector("h1").textContent : ""`); h1 != "Link Upstream to your account" {
			t.Errorf("link confirmation page's heading: %q\n%s", h1, pageText(ctx))
		}
		s.expectSignedOut(t, ctx)
		if l := s.links(t, down.ID); len(l) != 0 {
			t.Fatalf("linked before the customer confirmed: %+v", l)
		}

		resp = clickAndWait(t, ctx, linkUpstreamButton)
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/account")
		expectAccount(t, ctx, email)
		expectProvidersSection(t, ctx, true, email)
		w := s.expectSignedIn(t, ctx, email, "password", "provider")
		if w.Identity.ID != down.ID {
			t.Fatalf("signed in to %s, want the existing account %s", w.Identity.ID, down.ID)
		}
		s.expectLinked(t, down.ID, up)
		if n := s.countAccounts(t, identity.StateActive); n != 1 {
			t.Fatalf("%d accounts at the downstream, want 1", n)
		}
		if notice := s.down.LatestMail(t, email, "Security change on your Foyer account"); !strings.Contains(notice.Text, "an account at Upstream was linked") {
			t.Errorf("the notice of the link does not say so:\n%s", notice.Text)
		}

		// Unlink: asked first (nothing changes yet), then gone.
		resp = clickAndWait(t, ctx, unlinkUpstreamLink)
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/account/providers/unlink")
		if text := pageText(ctx); !strings.Contains(text, "Unlink Upstream?") || !strings.Contains(text, "You will no longer be able to sign in with Upstream.") {
			t.Fatalf("unlink confirmation page:\n%s", text)
		}
		s.expectLinked(t, down.ID, up)
		resp = clickAndWait(t, ctx, unlinkUpstreamButton)
		expectAt(t, ctx, resp, s.down, http.StatusOK, "/account")
		if text := pageText(ctx); !strings.Contains(text, "Upstream is unlinked: it no longer signs you in.") {
			t.Errorf("the account page does not say Upstream is unlinked:\n%s", text)
		}
		if l := s.links(t, down.ID); len(l) != 0 {
			t.Fatalf("still linked after Unlink: %+v", l)
		}
		expectProvidersSection(t, ctx, false, email)
		if notice := s.down.LatestMail(t, email, "Security change on your Foyer account"); !strings.Contains(notice.Text, "the account at Upstream was unlinked") {
			t.Errorf("the notice of the unlinking does not say so:\n%s", notice.Text)
		}
	})
}

// An upstream account whose address the upstream did not verify never
// leads to the downstream's account of that address: the journey ends on
// a page that says why, nothing is linked, and nobody is signed in.
func TestSocialUnverifiedEmailRefused(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		no := false
		s := startSocial(t, db, func(c *config.Config) { c.Domains[config.DefaultDomain].Registration.RequireVerification = &no })
		root := newTab(t)
		const email = "hedy@example.com"
		signUp(t, freshContext(t, root), s.down, email, passphrase)
		down := s.downstreamIdentity(t, email)

		ctx := freshContext(t, root)
		resp := s.pressContinue(t, ctx)
		s.expectUpstreamSignIn(t, ctx, resp)
		resp = s.signUpAtUpstream(t, ctx, email, false)
		if up := s.upstreamIdentity(t, email); up.Email().Verified {
			t.Fatalf("the upstream verified %s: the test needs an unverified address", email)
		}

		expectAt(t, ctx, resp, s.down, http.StatusBadRequest, "/providers/"+upstreamID+"/callback")
		text := pageText(ctx)
		for _, want := range []string{"Signing in with Upstream did not work",
			"Upstream has not confirmed that this email address is yours", "link Upstream on your account page", "Sign in another way"} {
			if !strings.Contains(text, want) {
				t.Errorf("the error page does not say %q:\n%s", want, text)
			}
		}
		if href := eval[string](t, ctx, `(() => { const a = Array.from(document.querySelectorAll("a")).find(a => a.textContent.trim() === "Sign in another way"); return a ? a.getAttribute("href") : ""; })()`); href != "/login" {
			t.Errorf("the error page's way back is %q, want /login", href)
		}
		s.expectSignedOut(t, ctx)
		if c := cookie(t, ctx, s.down.URL, sessionCookie); c != nil {
			t.Errorf("a downstream session cookie after the refusal: %+v", c)
		}
		if l := s.links(t, down.ID); len(l) != 0 {
			t.Fatalf("linked on an unverified address: %+v", l)
		}
		if a, p := s.countAccounts(t, identity.StateActive), s.countAccounts(t, identity.StatePending); a != 1 || p != 0 {
			t.Fatalf("%d active and %d pending accounts at the downstream, want 1 and 0", a, p)
		}
	})
}

// The pages of signing in with a provider pass axe's WCAG 2.2 A and AA
// rules and controlContrast's checks, in the light scheme on a desktop:
// the sign-in and sign-up pages with the provider's button, the proof
// page and the link confirmation, the account page with its providers
// (linked and not), the unlink confirmation, and a provider's error page.
func TestSocialAccessibility(t *testing.T) {
	requireChromium(t)
	axeSource := requireAxe(t)
	s := startSocial(t, storetest.NewSQLite(t))
	root := newTab(t)
	const email = "rosa@example.com"
	signUp(t, freshContext(t, root), s.down, email, passphrase)
	signUp(t, freshContext(t, root), s.up, email, upstreamPassphrase)
	ctx := freshContext(t, root)
	check := func(name string) { t.Helper(); checkLight(t, ctx, axeSource, name) }

	open(t, ctx, s.down.URL+"/registration")
	do(t, ctx, "wait for the provider's button", chromedp.WaitVisible(continueWithUpstream))
	check("registration with a provider")
	open(t, ctx, s.down.URL+"/login")
	do(t, ctx, "wait for the provider's button", chromedp.WaitVisible(continueWithUpstream))
	check("login with a provider")

	open(t, ctx, s.down.URL+"/providers/"+upstreamID+"/callback?state=unknown.state&code=nothing")
	if text := pageText(ctx); !strings.Contains(text, "Signing in with Upstream did not work") {
		t.Fatalf("provider error page:\n%s", text)
	}
	check("provider error")

	resp := s.pressContinue(t, ctx)
	s.expectUpstreamSignIn(t, ctx, resp)
	resp = s.signInAtUpstream(t, ctx, email)
	expectAt(t, ctx, resp, s.down, http.StatusOK, "/login")
	do(t, ctx, "wait for the password field", chromedp.WaitVisible(curPasswordField))
	check("login to prove the account") // see TestSocialLinkExistingAccount
	typeInto(t, ctx, curPasswordField, passphrase)
	clickAndWait(t, ctx, signInButton)
	if text := pageText(ctx); !strings.Contains(text, "Link Upstream") {
		t.Fatalf("after proving the account: no link confirmation:\n%s", text)
	}
	check("link confirmation")
	clickAndWait(t, ctx, linkUpstreamButton)
	expectProvidersSection(t, ctx, true, email)
	check("account with a linked provider")
	clickAndWait(t, ctx, unlinkUpstreamLink)
	if text := pageText(ctx); !strings.Contains(text, "Unlink Upstream?") {
		t.Fatalf("unlink confirmation page:\n%s", text)
	}
	check("unlink confirmation")
	clickAndWait(t, ctx, unlinkUpstreamButton)
	expectProvidersSection(t, ctx, false, email)
	check("account with a provider to link")
}

// checkLight checks the tab's page, called name, in the light scheme on
// a desktop: axe (checkAccessibility), then
// controlContrast, and that the page broke none of its
// Content-Security-Policy. It reports each problem as an error.
func checkLight(t *testing.T, ctx context.Context, axeSource, name string) {
	t.Helper()
	variants[0].apply(t, ctx)
	path := location(t, ctx).Path
	for _, v := range checkAccessibility(t, ctx, axeSource) {
		t.Errorf("%s (%s): %s", name, path, v)
	}
	for _, problem := range eval[[]string](t, ctx, controlContrast) {
		t.Errorf("%s (%s): %s", name, path, problem)
	}
	if csp := eval[[]string](t, ctx, `window.cspViolations || []`); len(csp) != 0 {
		t.Errorf("%s (%s): Content-Security-Policy violations: %q", name, path, csp)
	}
}
