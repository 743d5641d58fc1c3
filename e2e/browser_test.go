package e2e

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const passphrase = "violet kettle orbits the quiet harbour"

// Fields and buttons are found the way a password manager finds them: by
// input type and autocomplete token, and the submit button of the form
// that holds the field. (A sign-in page that offers passkeys adds the
// webauthn token to its email field: "email webauthn".)
const (
	emailField       = chromedp.CSS(`input[type=email][autocomplete~=email]`)
	newPasswordField = chromedp.CSS(`input[type=password][autocomplete=new-password]`)
	curPasswordField = chromedp.CSS(`input[type=password][autocomplete=current-password]`)
	codeField        = chromedp.CSS(`input[autocomplete=one-time-code]`)
	signUpButton     = chromedp.CSS(`form:has(input[autocomplete=new-password]) button[type=submit]`)
	signInButton     = chromedp.CSS(`form:has(input[autocomplete=current-password]) button[type=submit]`)
	codeButton       = chromedp.CSS(`form:has(input[autocomplete=one-time-code]) button[type=submit]`)
	// signOutButton is the button a person sees, found by its label.
	signOutButton = chromedp.Search(`//form[@method="post"]//button[normalize-space()="Sign out"]`)
)

const sessionCookie = "foyer_session" // dev mode: no __Host- prefix

func TestBrowserSignUpVerifySignOutSignIn(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		ctx := newTab(t)
		const email = "alice@example.com"

		signUp(t, ctx, env, email, passphrase)
		expectAccount(t, ctx, email)
		expectWhoami(t, ctx, env, http.StatusOK, email)
		expectHttpOnlySession(t, ctx, env)

		// Sign out with the button on the account page.
		resp := clickAndWait(t, ctx, signOutButton)
		if resp.Status != http.StatusOK || location(t, ctx).Path != "/login" {
			t.Fatalf("after sign-out: %d %s\n%s", resp.Status, location(t, ctx), pageText(ctx))
		}
		expectWhoami(t, ctx, env, http.StatusUnauthorized, "")
		if c := cookie(t, ctx, env.URL, sessionCookie); c != nil {
			t.Errorf("session cookie still set after sign-out: %+v", c)
		}

		// A wrong password first: the page says so and keeps the email.
		open(t, ctx, env.URL+"/login")
		typeInto(t, ctx, emailField, email)
		typeInto(t, ctx, curPasswordField, "not the passphrase at all")
		clickAndWait(t, ctx, signInButton)
		do(t, ctx, "wait for the sign-in form again", chromedp.WaitVisible(curPasswordField))
		if text := pageText(ctx); !strings.Contains(text, "The email address or password is not correct.") {
			t.Fatalf("wrong password: no error message on %s:\n%s", location(t, ctx), text)
		}
		if got := eval[string](t, ctx, `document.querySelector('input[autocomplete=email]').value`); got != email {
			t.Errorf("email field after a wrong password = %q, want %q", got, email)
		}
		expectWhoami(t, ctx, env, http.StatusUnauthorized, "")

		// Then the right one.
		typeInto(t, ctx, curPasswordField, passphrase)
		resp = clickAndWait(t, ctx, signInButton)
		if resp.Status != http.StatusOK || location(t, ctx).Path != "/account" {
			t.Fatalf("after sign-in: %d %s\n%s", resp.Status, location(t, ctx), pageText(ctx))
		}
		expectAccount(t, ctx, email)
		expectWhoami(t, ctx, env, http.StatusOK, email)
		expectHttpOnlySession(t, ctx, env)
	})
}

func TestBrowserCrossSiteFormIsRefused(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	ctx := newTab(t)

	// The other site is served from localhost, Foyer from 127.0.0.1: a
	// different host, so a different site to the browser. Its page at
	// /registration or /logout is a form that posts to the same path on
	// Foyer, as forged as it can be.
	forms := map[string]map[string]string{
		"/registration": {"email": "victim@example.com", "password": passphrase, "csrf_token": "forged"},
		"/logout":       {"csrf_token": "forged"},
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, ok := forms[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title><form method="post" action="%s">`, html.EscapeString(env.URL+r.URL.Path))
		for k, v := range fields {
			fmt.Fprintf(w, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
		}
		fmt.Fprint(w, `<button type="submit" id="go">Claim</button></form>`)
	}))
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	if !strings.HasPrefix(env.URL, "http://127.0.0.1:") || evilURL == evil.URL {
		t.Fatalf("want Foyer on 127.0.0.1 and the other site on localhost: %s, %s", env.URL, evilURL)
	}
	crossSiteSubmit := func(path string) *network.Response {
		t.Helper()
		open(t, ctx, evilURL+path)
		return clickAndWait(t, ctx, chromedp.ID("go"))
	}

	// Sign-up forged from the other site: refused, nothing created, no mail.
	resp := crossSiteSubmit("/registration")
	if resp.Status != http.StatusForbidden {
		t.Fatalf("cross-site POST /registration: status %d, want 403\n%s", resp.Status, pageText(ctx))
	}
	t.Logf("cross-site POST /registration: %d %q", resp.Status, strings.TrimSpace(pageText(ctx)))
	ids := identity.NewStore(env.DB)
	for _, state := range []string{"pending", "active"} {
		n, err := ids.Count(context.Background(), config.DefaultDomain, state)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d %s identities after a refused cross-site sign-up", n, state)
		}
	}
	if n := len(env.Outbox(t, "victim@example.com")); n != 0 {
		t.Errorf("%d mails stored for victim@example.com after a refused cross-site sign-up", n)
	}

	// Sign-out forged from the other site while signed in: refused, and
	// the session lives on.
	signUp(t, ctx, env, "bob@example.com", passphrase)
	resp = crossSiteSubmit("/logout")
	if resp.Status != http.StatusForbidden {
		t.Fatalf("cross-site POST /logout: status %d, want 403\n%s", resp.Status, pageText(ctx))
	}
	open(t, ctx, env.URL+"/account")
	expectAccount(t, ctx, "bob@example.com")
	expectWhoami(t, ctx, env, http.StatusOK, "bob@example.com")
}

func TestBrowserSignUpPageRenders(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	ctx := newTab(t)

	// Record Content-Security-Policy violations from the start of every
	// document: a page that breaks its own CSP (an inline style, a script)
	// renders differently from what its author saw.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	resp := open(t, ctx, env.URL+"/registration")
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /registration: %d", resp.Status)
	}
	hasCSP := false
	for k := range resp.Headers {
		hasCSP = hasCSP || strings.EqualFold(k, "Content-Security-Policy")
	}
	if !hasCSP {
		t.Errorf("GET /registration: no Content-Security-Policy header: %v", resp.Headers)
	}
	do(t, ctx, "wait for the sign-up form", chromedp.WaitVisible(emailField), chromedp.WaitVisible(signUpButton))

	// The stylesheet loaded under the CSP, its rules are readable, and
	// they apply: the card gets a width limit and the button a background
	// that the browser's own styles do not give them.
	type styleSheets struct {
		Sheets int    `json:"sheets"`
		Href   string `json:"href"`
		Rules  int    `json:"rules"`
	}
	sheet := eval[styleSheets](t, ctx, `(() => {
	const s = document.styleSheets;
	return {sheets: s.length, href: s.length ? s[0].href : "", rules: s.length ? s[0].cssRules.length : 0};
})()`)
	if sheet.Sheets == 0 || sheet.Rules == 0 || !strings.HasSuffix(sheet.Href, "/assets/foyer.css") {
		t.Errorf("stylesheet not loaded: %+v", sheet)
	}
	if w := eval[string](t, ctx, `getComputedStyle(document.querySelector('main')).maxWidth`); w == "none" {
		t.Errorf("main has no max-width: the stylesheet does not apply")
	}
	styled := eval[string](t, ctx, `getComputedStyle(document.querySelector('form button[type=submit]')).backgroundColor`)
	// An unstyled button, for comparison: the browser's defaults.
	plain := eval[string](t, ctx, `(() => {
	const b = document.createElement('button');
	b.style.all = 'revert';
	document.body.append(b);
	const c = getComputedStyle(b).backgroundColor;
	b.remove();
	return c;
})()`)
	if styled == plain {
		t.Errorf("submit button background %s is the browser default: the stylesheet does not apply", styled)
	}
	if v := eval[[]string](t, ctx, `window.cspViolations`); len(v) != 0 {
		t.Errorf("Content-Security-Policy violations on /registration: %q", v)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "registration.png")
	if err := os.WriteFile(file, shot, 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", file, err)
	}
	if b := img.Bounds(); b.Dx() == 0 || b.Dy() == 0 {
		t.Fatalf("screenshot %s is empty: %v", file, b)
	}
}

// signUp creates an account through the hosted pages, reading the code
// from the mail, and leaves the browser signed in on /account.
func signUp(t *testing.T, ctx context.Context, env *servertest.Env, email, password string) {
	t.Helper()
	resp := open(t, ctx, env.URL+"/registration")
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /registration: %d", resp.Status)
	}
	typeInto(t, ctx, emailField, email)
	typeInto(t, ctx, newPasswordField, password)
	resp = clickAndWait(t, ctx, signUpButton)
	if u := location(t, ctx); resp.Status != http.StatusOK || u.Path != "/registration" || u.Query().Get("flow") == "" {
		t.Fatalf("after sign-up: %d %s\n%s", resp.Status, u, pageText(ctx))
	}

	// The code page: the field is the one-time-code field a browser or
	// password manager fills from the mail or SMS, with a numeric keypad.
	do(t, ctx, "wait for the code field", chromedp.WaitVisible(codeField))
	if mode := eval[string](t, ctx, `document.querySelector('input[autocomplete=one-time-code]').inputMode`); mode != "numeric" {
		t.Errorf("code field inputmode = %q, want numeric", mode)
	}
	code := servertest.CodeFrom(t, env.MailTo(t, email, 1))
	typeInto(t, ctx, codeField, code)
	resp = clickAndWait(t, ctx, codeButton)
	if u := location(t, ctx); resp.Status != http.StatusOK || u.Path != "/account" {
		t.Fatalf("after the code: %d %s\n%s", resp.Status, u, pageText(ctx))
	}
}

// expectAccount checks that the browser is on /account, showing email as
// verified.
func expectAccount(t *testing.T, ctx context.Context, email string) {
	t.Helper()
	if u := location(t, ctx); u.Path != "/account" {
		t.Fatalf("on %s, want /account\n%s", u, pageText(ctx))
	}
	do(t, ctx, "wait for the account page", chromedp.WaitVisible(signOutButton))
	text := pageText(ctx)
	if !strings.Contains(text, email) || !strings.Contains(text, "verified") || strings.Contains(text, "not verified") {
		t.Fatalf("account page does not show %s as verified:\n%s", email, text)
	}
}

// expectWhoami asks /sessions/whoami with the browser's cookies, in a
// second tab so the page under test stays where it is. (A fetch from the
// hosted pages themselves is refused: their CSP allows no connections.)
// A signed-in answer must name the email.
func expectWhoami(t *testing.T, ctx context.Context, env *servertest.Env, want int, email string) {
	t.Helper()
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	resp := open(t, tab, env.URL+"/sessions/whoami")
	body := pageText(tab)
	if int(resp.Status) != want {
		t.Fatalf("GET /sessions/whoami: %d, want %d\n%s", resp.Status, want, body)
	}
	if want == http.StatusOK && !strings.Contains(body, `"`+email+`"`) {
		t.Fatalf("GET /sessions/whoami does not name %s:\n%s", email, body)
	}
}

// expectHttpOnlySession checks that the browser holds the session cookie
// and that page scripts cannot read it.
func expectHttpOnlySession(t *testing.T, ctx context.Context, env *servertest.Env) {
	t.Helper()
	c := cookie(t, ctx, env.URL, sessionCookie)
	if c == nil {
		t.Fatalf("no %s cookie in the browser", sessionCookie)
	}
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Errorf("%s cookie: HttpOnly %v, SameSite %q; want HttpOnly, Lax", sessionCookie, c.HTTPOnly, c.SameSite)
	}
	if js := eval[string](t, ctx, `document.cookie`); strings.Contains(js, sessionCookie) {
		t.Errorf("document.cookie shows the session cookie: %q", js)
	}
}
