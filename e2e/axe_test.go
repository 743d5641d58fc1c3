package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
	"github.com/foyer-id/foyer/internal/testsuites"
)

const (
	// axeEnv names axe-core's axe.min.js; by default it is the copy that
	// `npm ci --prefix e2e/axe` installs (the version pinned in
	// e2e/axe/package-lock.json).
	axeEnv = "FOYER_AXE"
	// tourTimeout bounds a whole tour of the hosted pages, each page in
	// every variant: a safety net against a hung browser, not an
	// assertion.
	tourTimeout = 4 * time.Minute
)

// defaultAxe is relative to this package's directory, where go test runs.
var defaultAxe = filepath.Join("axe", "node_modules", "axe-core", "axe.min.js")

// axeTags are the rule sets the suite runs: WCAG 2.0, 2.1 and 2.2, levels
// A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"}

// variant is a way a customer sees a page: a colour scheme and a screen.
type variant struct {
	scheme        string // prefers-color-scheme: light or dark
	size          string // phone or desktop
	width, height int64
	scale         float64
	mobile        bool
}

// variants are the colour schemes and screens every page is checked and
// photographed in; the first is the one the tour drives pages in.
var variants = []variant{
	{scheme: "light", size: "desktop", width: 1280, height: 800, scale: 1},
	{scheme: "dark", size: "desktop", width: 1280, height: 800, scale: 1},
	{scheme: "light", size: "phone", width: 390, height: 844, scale: 2, mobile: true},
	{scheme: "dark", size: "phone", width: 390, height: 844, scale: 2, mobile: true},
}

func (v variant) String() string { return v.scheme + "-" + v.size }

// apply makes the tab show its page as v: the colour scheme through the
// prefers-color-scheme media feature, the screen through the device
// metrics (a phone also gets touch, and its viewport meta tag applies).
// The page is not reloaded: a page that answered a form stays as it is.
func (v variant) apply(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v.scheme}},
	}); err != nil {
		t.Fatalf("emulate %s: %v", v, err)
	}
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(v.scale), chromedp.EmulatePortrait}
	if v.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(v.width, v.height, opts...)); err != nil {
		t.Fatalf("emulate %s: %v", v, err)
	}
	// The page's own check that the new look is in place: the stylesheet's
	// dark rules apply exactly when the tab says the scheme is dark.
	if dark := eval[bool](t, ctx, `matchMedia("(prefers-color-scheme: dark)").matches`); dark != (v.scheme == "dark") {
		t.Fatalf("emulate %s: the page sees prefers-color-scheme dark = %v", v, dark)
	}
}

// requireAxe returns the text of axe.min.js, or skips the test (fails it
// when FOYER_TEST_BROWSER=1) when it is not installed.
func requireAxe(t *testing.T) string {
	t.Helper()
	path := defaultAxe
	if p := os.Getenv(axeEnv); p != "" {
		path = p
	}
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		testsuites.Skip(t, "accessibility tests", "axe-core not found at "+path+": run npm ci --prefix e2e/axe or set "+axeEnv,
			requireBrowserEnv+"=1")
	}
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	return string(src)
}

// axeRun runs axe (loaded into the page by checkAccessibility) on the
// page, once two frames have gone by, so that a new colour scheme or
// screen is laid out. Scripts evaluated through the DevTools protocol are
// not the page's Content-Security-Policy's business; the page itself
// still loads nothing but its own files.
const axeRun = `(async () => {
	await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
	const r = await axe.run(document, {runOnly: {type: "tag", values: %s}, resultTypes: ["violations"]});
	return {
		passes: r.passes.length,
		violations: r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.map(n => ({target: n.target.map(String).join(" "), summary: n.failureSummary || ""})),
		})),
	};
})()`

// axeResult is what axeRun answers.
type axeResult struct {
	Passes     int `json:"passes"`
	Violations []struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target  string `json:"target"`
			Summary string `json:"summary"`
		} `json:"nodes"`
	} `json:"violations"`
}

// checkAccessibility runs axe on the tab's page and returns a line for
// each element of each violation: rule, impact, element, what is wrong.
func checkAccessibility(t *testing.T, ctx context.Context, axeSource string) []string {
	t.Helper()
	if !eval[bool](t, ctx, `typeof axe === "object"`) {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](axeSource+"\n;0")); err != nil {
			t.Fatalf("load axe-core into %s: %v", location(t, ctx), err)
		}
	}
	tags, _ := json.Marshal(axeTags)
	res := eval[axeResult](t, ctx, fmt.Sprintf(axeRun, tags))
	if res.Passes == 0 {
		t.Fatalf("axe checked nothing on %s:\n%s", location(t, ctx), pageText(ctx))
	}
	var out []string
	for _, v := range res.Violations {
		for _, n := range v.Nodes {
			out = append(out, fmt.Sprintf("%s [%s] %s\n\tat %s\n\t%s", v.ID, v.Impact, v.Help, n.Target,
				strings.ReplaceAll(strings.TrimSpace(n.Summary), "\n", "\n\t")))
		}
	}
	return out
}

// controlContrast checks what axe leaves out (WCAG 2.2 1.4.11, non-text
// contrast, and the looks of a control that must wait): the edge of every
// field and button, by its border or its fill, keeps 3:1 against what
// surrounds it; the show-password icon likewise; a disabled button's
// words keep 4.5:1 on its fill; and a focused element's ring is at least
// 2px wide and keeps 3:1. It answers a line for each failure. Focus
// returns where it was.
const controlContrast = `(() => {
	// A computed colour, as [r, g, b, alpha]; one it cannot read counts
	// as transparent, which fails the checks rather than passing them.
	const parse = c => {
		let m = c.match(/^rgba?\(([^)]*)\)$/), k = 1;
		if (!m) { m = c.match(/^color\(srgb ([^)]*)\)$/); k = 255; }
		if (!m) return [0, 0, 0, 0];
		const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
		return [p[0] * k, p[1] * k, p[2] * k, p.length > 3 ? p[3] : 1];
	};
	const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
	// The opaque colour behind el: its own and its ancestors' backgrounds.
	const behind = el => {
		const layers = [];
		for (let e = el; e; e = e.parentElement) {
			const c = parse(getComputedStyle(e).backgroundColor);
			if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
		}
		return layers.reduceRight((acc, c) => over(c, acc), [255, 255, 255, 1]);
	};
	const lum = c => {
		const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
		return 0.2126 * r + 0.7152 * g + 0.0722 * b;
	};
	const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
	const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
	const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
		(el.name ? "[name=" + el.name + "]" : "") + (el.textContent.trim() ? " \"" + el.textContent.trim().slice(0, 40) + "\"" : "");
	const fix = r => r.toFixed(2) + ":1";
	const out = [];
	const controls = document.querySelectorAll('input:not([type=hidden]), select, textarea, button:not(.link):not(.password-toggle), a.button-link');
	for (const el of controls) {
		if (!shown(el) || el.disabled) continue;
		const st = getComputedStyle(el), around = behind(el.parentElement);
		const fill = over(parse(st.backgroundColor), around);
		let edge = ratio(fill, around), how = "fill";
		if (parseFloat(st.borderTopWidth) > 0 && st.borderTopStyle !== "none") {
			const b = ratio(over(parse(st.borderTopColor), around), around);
			if (b > edge) { edge = b; how = "border"; }
		}
		if (edge < 3) out.push("edge of " + name(el) + ": " + fix(edge) + " (" + how + "), want 3:1");
	}
	for (const el of document.querySelectorAll("button.password-toggle")) {
		if (!shown(el)) continue;
		const r = ratio(over(parse(getComputedStyle(el).color), behind(el)), behind(el));
		if (r < 3) out.push("icon of " + name(el) + ": " + fix(r) + ", want 3:1");
	}
	for (const el of document.querySelectorAll("button:disabled")) {
		if (!shown(el)) continue;
		const fill = behind(el), r = ratio(over(parse(getComputedStyle(el).color), fill), fill);
		if (r < 4.5) out.push("words of disabled " + name(el) + ": " + fix(r) + ", want 4.5:1");
	}
	const was = document.activeElement;
	for (const el of document.querySelectorAll("a[href], button, input:not([type=hidden]), summary, select, textarea")) {
		if (!shown(el) || el.disabled) continue;
		el.focus({preventScroll: true});
		if (document.activeElement !== el || !el.matches(":focus-visible")) continue;
		const st = getComputedStyle(el), width = parseFloat(st.outlineWidth) || 0;
		const r = st.outlineStyle === "none" ? 0 : ratio(over(parse(st.outlineColor), behind(el.parentElement)), behind(el.parentElement));
		if (width < 2 || r < 3) out.push("focus ring of " + name(el) + ": " + st.outlineStyle + " " + width + "px, " + fix(r) + "; want 2px and 3:1");
	}
	if (was && was !== document.body) was.focus({preventScroll: true}); else if (document.activeElement) document.activeElement.blur();
	return out;
})()`

// Every hosted page, in every state a customer meets it in, passes axe's
// WCAG 2.2 A and AA rules in both colour schemes, on a phone and on a
// desktop, and controlContrast's checks of what axe leaves out; and
// breaks none of its Content-Security-Policy.
func TestAccessibility(t *testing.T) {
	requireChromium(t)
	axeSource := requireAxe(t)
	pages := 0
	tourPages(t, func(ctx context.Context, name string) {
		pages++
		checkPage(t, ctx, axeSource, name)
	})
	t.Logf("%d page states checked in %d variants each", pages, len(variants))
}

// An operator's colours, corners, font and footer links keep the pages as
// accessible as Foyer's own: the stylesheet draws every colour from the
// brand's. (The brand's accents keep 4.5:1 against its backgrounds, which
// the configuration checks.)
func TestAccessibilityBranded(t *testing.T) {
	requireChromium(t)
	axeSource := requireAxe(t)
	links := config.Branding{Font: `"Inter", system-ui, sans-serif`, Radius: "10px",
		SupportURL: "https://shop.example/help", PrivacyURL: "https://shop.example/privacy", TermsURL: "https://shop.example/terms"}
	full, lightOnly := links, links
	full.Accent, full.AccentDark, full.Background, full.BackgroundDark = "#0b6e4f", "#7fe0b9", "#fdfcf7", "#101412"
	// A light page colour alone: dark mode keeps its own page.
	lightOnly.Accent, lightOnly.AccentDark, lightOnly.Background = "#0b6e4f", "#7fe0b9", "#fdfcf7"
	for name, branding := range map[string]config.Branding{"full": full, "light-only": lightOnly} {
		t.Run(name, func(t *testing.T) {
			env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.Domains[config.DefaultDomain].Branding = branding })
			ctx := freshContext(t, newTab(t))
			open(t, ctx, env.URL+"/login")
			checkPage(t, ctx, axeSource, "login")
			typeInto(t, ctx, emailField, "ada@example.com")
			typeInto(t, ctx, curPasswordField, "not the passphrase at all")
			clickAndWait(t, ctx, signInButton)
			if text := pageText(ctx); !strings.Contains(text, "not correct") || !strings.Contains(text, "Privacy") {
				t.Fatalf("after a wrong password, want an error and the brand's footer:\n%s", text)
			}
			checkPage(t, ctx, axeSource, "login-error")
			open(t, ctx, env.URL+"/registration")
			typeInto(t, ctx, emailField, "ada@")
			typeInto(t, ctx, newPasswordField, "short")
			clickAndWait(t, ctx, signUpButton)
			checkPage(t, ctx, axeSource, "registration-errors")
		})
	}
}

// checkPage checks the tab's page, called name, in every variant: axe,
// then controlContrast; and that it broke none of its
// Content-Security-Policy and shows nothing it marks hidden. It reports
// each problem as an error.
func checkPage(t *testing.T, ctx context.Context, axeSource, name string) {
	t.Helper()
	for _, v := range variants {
		v.apply(t, ctx)
		for _, problem := range checkAccessibility(t, ctx, axeSource) {
			t.Errorf("%s (%s, %s): %s", name, v, location(t, ctx).Path, problem)
		}
		for _, problem := range eval[[]string](t, ctx, controlContrast) {
			t.Errorf("%s (%s, %s): %s", name, v, location(t, ctx).Path, problem)
		}
	}
	variants[0].apply(t, ctx)
	if csp := eval[[]string](t, ctx, `window.cspViolations || []`); len(csp) != 0 {
		t.Errorf("%s: Content-Security-Policy violations: %q", name, csp)
	}
	// What the page hides until a script shows it must not show before.
	if shown := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("body [hidden]")).filter(e => e.getClientRects().length).map(e => e.outerHTML.slice(0, 120))`); len(shown) != 0 {
		t.Errorf("%s: hidden elements shown: %q", name, shown)
	}
}

// tourPages drives one browser through every state of the hosted pages
// that TestAccessibility checks and TestScreenshots photographs, and calls
// visit with the tab each time it shows one, under a short name (a file
// name). Each step fails the test when the page is not the one expected.
func tourPages(t *testing.T, visit func(ctx context.Context, name string)) {
	// One browser. The tour takes longer than testTimeout allows one
	// test's browser steps, so its tabs get a longer safety net of their
	// own; they are closed before the browser when the test ends.
	root, cancel := context.WithTimeout(context.WithoutCancel(newTab(t)), tourTimeout)
	t.Cleanup(cancel)
	// On localhost, as on a real domain, the pages offer passkeys.
	env := servertest.Start(t, storetest.NewSQLite(t), servertest.Localhost())
	const email, next = "ada@example.com", "ada.next@example.com"
	// at opens path and checks the page answered with status.
	at := func(ctx context.Context, path string, status int) {
		t.Helper()
		if resp := open(t, ctx, env.URL+path); resp.Status != int64(status) {
			t.Fatalf("GET %s: %d, want %d\n%s", path, resp.Status, status, pageText(ctx))
		}
	}
	// expect checks that the tab is on path and its page says want, and
	// visits it.
	expect := func(ctx context.Context, name, path, want string) {
		t.Helper()
		u := location(t, ctx)
		if text := pageText(ctx); u.Path != path || !strings.Contains(text, want) {
			t.Fatalf("%s: want %s saying %q, got %s:\n%s", name, path, want, u, text)
		}
		variants[0].apply(t, ctx)
		visit(ctx, name)
	}

	// Signing up, in a browser that has not been here.
	ctx := freshContext(t, root)
	at(ctx, "/login", http.StatusOK)
	expect(ctx, "login", "/login", "Forgot your password?")
	at(ctx, "/registration", http.StatusOK)
	expect(ctx, "registration", "/registration", "Already have an account?")
	typeInto(t, ctx, emailField, "ada@")
	typeInto(t, ctx, newPasswordField, "short")
	clickAndWait(t, ctx, signUpButton)
	expect(ctx, "registration-errors", "/registration", "Enter a valid email address")
	refill(t, ctx, emailField, email)
	typeInto(t, ctx, newPasswordField, passphrase)
	clickAndWait(t, ctx, signUpButton)
	expect(ctx, "code", "/registration", "Check your email")
	typeInto(t, ctx, codeField, "000000")
	clickAndWait(t, ctx, codeButton)
	expect(ctx, "code-error", "/registration", "not right")
	typeInto(t, ctx, codeField, servertest.CodeFrom(t, env.MailTo(t, email, 1)))
	clickAndWait(t, ctx, codeButton)
	expect(ctx, "account", "/account", email)

	// Another device signed in (an app, through the API): signing every
	// other device out asks first.
	apiSignIn(t, env, email, passphrase)
	at(ctx, "/account", http.StatusOK)
	clickAndWait(t, ctx, chromedp.CSS(`form[method=get][action="/account/sessions/revoke"] button[type=submit]`))
	expect(ctx, "sign-out-others", "/account/sessions/revoke", "Sign out every other device?")
	clickAndWait(t, ctx, chromedp.CSS(`form.confirm button[type=submit]`))
	expect(ctx, "account-devices-signed-out", "/account", "Signed out")

	// The account's settings.
	at(ctx, "/account/profile", http.StatusOK)
	expect(ctx, "profile", "/account/profile", "Save")
	at(ctx, "/account/email", http.StatusOK)
	expect(ctx, "email", "/account/email", email)
	at(ctx, "/account/password", http.StatusOK)
	expect(ctx, "password", "/account/password", "Current password")
	typeInto(t, ctx, curPasswordField, "not the passphrase at all")
	typeInto(t, ctx, newPasswordField, newPassphrase)
	clickAndWait(t, ctx, newPasswordButton)
	expect(ctx, "password-error", "/account/password", "not your current password")
	at(ctx, "/verification", http.StatusOK)
	expect(ctx, "verification-verified", "/verification", email)

	// An authenticator app: offered, set up, its recovery codes, on.
	at(ctx, "/account/two-factor", http.StatusOK)
	expect(ctx, "two-factor", "/account/two-factor", "authenticator app")
	clickAndWait(t, ctx, chromedp.CSS(`form[action="/account/two-factor/setup"] button[type=submit]`))
	expect(ctx, "two-factor-setup", "/account/two-factor", "Scan")
	secret := strings.ReplaceAll(eval[string](t, ctx, `document.getElementById("totp-secret").textContent`), " ", "")
	totp := func() string {
		t.Helper()
		env.Clock.Advance(30 * time.Second) // a fresh code: each works once
		code, err := pqtotp.GenerateCode(secret, env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	typeInto(t, ctx, codeField, totp())
	clickAndWait(t, ctx, codeButton)
	expect(ctx, "recovery-codes", "/account/two-factor/confirm", "recovery codes")
	at(ctx, "/account/two-factor", http.StatusOK)
	expect(ctx, "two-factor-on", "/account/two-factor", "Turn off")
	at(ctx, "/account", http.StatusOK)
	expect(ctx, "account-two-factor", "/account", email)

	// Signing out and in again, with the second factor.
	at(ctx, "/logout", http.StatusOK)
	expect(ctx, "logout", "/logout", "Sign out")
	clickAndWait(t, ctx, signOutButton)
	expect(ctx, "login-signed-out", "/login", "signed out")
	// The address comes with the link, as an app's login_hint brings it.
	at(ctx, "/login?login_hint="+url.QueryEscape(email), http.StatusOK)
	typeInto(t, ctx, curPasswordField, "not the passphrase at all")
	clickAndWait(t, ctx, signInButton)
	expect(ctx, "login-error", "/login", "The email address or password is not correct.")
	typeInto(t, ctx, curPasswordField, passphrase)
	clickAndWait(t, ctx, signInButton)
	expect(ctx, "second-factor", "/login", "authenticator app")
	typeInto(t, ctx, codeField, "000000")
	clickAndWait(t, ctx, codeButton)
	expect(ctx, "second-factor-error", "/login", "not right")
	typeInto(t, ctx, codeField, totp())
	clickAndWait(t, ctx, codeButton)
	expect(ctx, "account-signed-in", "/account", email)

	// An app that asks for consent, and its sign-in page.
	partner := startRP(t, env, "Partner Rewards", false)
	open(t, ctx, partner.URL+"/login")
	do(t, ctx, "wait for the consent buttons", chromedp.WaitVisible(allowButton))
	expect(ctx, "consent", "/oauth/continue", "Partner Rewards")
	other := freshContext(t, root)
	open(t, other, partner.URL+"/login")
	expect(other, "login-app", "/login", "Partner Rewards")

	// Recovering a lost password, and verifying an address, signed out.
	at(other, "/recovery", http.StatusOK)
	expect(other, "recovery", "/recovery", "Use a recovery code instead")
	typeInto(t, other, emailField, email)
	clickAndWait(t, other, recoveryEmailButton)
	expect(other, "recovery-code", "/recovery", "Check your email")
	typeInto(t, other, codeField, servertest.CodeFrom(t, env.LatestMail(t, email, recoveryMail)))
	clickAndWait(t, other, codeButton)
	do(t, other, "wait for the new password field", chromedp.WaitVisible(newPasswordField))
	expect(other, "recovery-password", "/recovery", "password")
	typeInto(t, other, newPasswordField, "short")
	clickAndWait(t, other, newPasswordButton)
	expect(other, "recovery-password-error", "/recovery", "at least")
	at(other, "/verification", http.StatusOK)
	expect(other, "verification", "/verification", "Send code")
	at(other, "/no-such-page", http.StatusNotFound)
	expect(other, "error", "/no-such-page", "not found")

	// Signing up with a passkey instead of a password: its last step.
	at(other, "/registration", http.StatusOK)
	typeInto(t, other, emailField, "bea@example.com")
	clickAndWait(t, other, passkeySignUpButton)
	do(t, other, "wait for the code field", chromedp.WaitVisible(codeField))
	typeInto(t, other, codeField, servertest.CodeFrom(t, env.MailTo(t, "bea@example.com", 1)))
	clickAndWait(t, other, codeButton)
	do(t, other, "wait for the passkey button", chromedp.WaitVisible(chromedp.ID(passkeyCreateButton)))
	expect(other, "passkey-signup", "/registration", "passkey")

	// A new address: its code, then the page that says it is done.
	at(ctx, "/account/email", http.StatusOK)
	typeInto(t, ctx, emailField, next)
	clickAndWait(t, ctx, chromedp.CSS(`form:has(input[type=email]) button[type=submit]`))
	do(t, ctx, "wait for the code field", chromedp.WaitVisible(codeField))
	typeInto(t, ctx, codeField, servertest.CodeFrom(t, env.LatestMail(t, next, "Your Foyer verification code")))
	clickAndWait(t, ctx, codeButton)
	expect(ctx, "email-changed", "/account/email", next)

	// "This wasn't me": the old address's link undoes the new one.
	link := revertURL.FindString(env.LatestMail(t, email, "Security change on your Foyer account").Text)
	if link == "" {
		t.Fatal("no revert link in the old address's notice")
	}
	open(t, other, link)
	expect(other, "revert", "/revert", "Undo the change")
	clickAndWait(t, other, chromedp.CSS(`form[method=post] button[type=submit]`))
	expect(other, "reverted", "/revert", "The change is undone")

	// A throttled sign-in: a server that makes every attempt after a
	// failure wait ten minutes, on a clock that stands still.
	slow := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) {
		l := &c.Domains[config.DefaultDomain].Login
		l.FreeFailures, l.Delay, l.MaxDelay = 1, config.Duration(10*time.Minute), config.Duration(10*time.Minute)
	})
	slow.Clock.Stop()
	third := freshContext(t, root)
	open(t, third, slow.URL+"/login")
	typeInto(t, third, emailField, email)
	for range 2 {
		typeInto(t, third, curPasswordField, "not the passphrase at all")
		clickAndWait(t, third, signInButton)
		if eval[bool](t, third, `!!document.querySelector("[data-countdown]")`) {
			break
		}
	}
	expect(third, "login-throttled", "/login", "Try again in")
}

// refill empties the field sel, then types text into it.
func refill(t *testing.T, ctx context.Context, sel chromedp.CSS, text string) {
	t.Helper()
	do(t, ctx, "empty "+string(sel), chromedp.WaitVisible(sel), chromedp.Clear(sel))
	typeInto(t, ctx, sel, text)
}

// Every shipped language passes too: the texts' lengths, scripts and
// lang attributes change the pages. The first forms and their errors, in
// each language, in every variant.
func TestAccessibilityLanguages(t *testing.T) {
	requireChromium(t)
	axeSource := requireAxe(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	for _, lang := range []string{"de", "fr", "es", "pt-BR", "ja"} {
		t.Run(lang, func(t *testing.T) {
			ctx := freshContext(t, newTab(t))
			open(t, ctx, env.URL+"/login?ui_locales="+lang)
			if got := eval[string](t, ctx, `document.documentElement.lang`); got != lang {
				t.Fatalf("the page is in %q, want %q", got, lang)
			}
			checkPage(t, ctx, axeSource, lang+" login")
			typeInto(t, ctx, emailField, "ada@example.com")
			typeInto(t, ctx, curPasswordField, "not the passphrase at all")
			clickAndWait(t, ctx, signInButton)
			checkPage(t, ctx, axeSource, lang+" login-error")
			open(t, ctx, env.URL+"/registration")
			typeInto(t, ctx, emailField, "ada@")
			typeInto(t, ctx, newPasswordField, "short")
			clickAndWait(t, ctx, signUpButton)
			checkPage(t, ctx, axeSource, lang+" registration-errors")
			open(t, ctx, env.URL+"/recovery")
			checkPage(t, ctx, axeSource, lang+" recovery")
		})
	}
}
