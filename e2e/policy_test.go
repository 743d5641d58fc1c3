package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// browserPolicy has a rule for each outcome a customer meets in the
// hosted pages.
const browserPolicy = `version: 1
rules:
  - name: block-disposable
    when: 'action == "registration.submit" && identity.email.endsWith("@mailinator.test")'
    then: {effect: deny, reason: "Please use a permanent email address."}
  - name: proof-of-work-for-new-devices
    when: 'action == "login.submit" && !device.known && !risk.challenge_solved'
    then: {effect: challenge, difficulty: 8}
  - name: confirm-new-devices
    when: 'action == "login.submit" && !device.known'
    then: {effect: step_up, reason: new_device, require: [email_code]}
  - name: tell-every-known-device-sign-in
    when: 'action == "session.issue" && device.known'
    then: {effect: notify}
  - name: short-sessions
    when: 'action == "session.issue"'
    then: {effect: session, lifetime: 2h, idle: 30m}
`

// A policy file's outcomes, as a customer meets them in Chromium: a deny
// shows its words, a new device solves a proof of work and confirms by a
// mailed code, sessions last what the rule says, and a sign-in the rule
// asks to be told of is mailed.
func TestBrowserPolicyOutcomes(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		path := filepath.Join(t.TempDir(), "policy.yaml")
		if err := os.WriteFile(path, []byte(browserPolicy), 0o600); err != nil {
			t.Fatal(err)
		}
		env := servertest.Start(t, db, func(c *config.Config) { c.Policy.File = path })
		ctx := newTab(t)
		const email = "olga@example.com"

		// A sign-up: its session lasts what the rule says.
		signUp(t, ctx, env, email, passphrase)
		expectLifetimes(t, ctx, env, 2*time.Hour, 30*time.Minute)

		// A disposable address: refused, with the rule's words.
		other := freshContext(t, ctx)
		open(t, other, env.URL+"/registration")
		typeInto(t, other, emailField, "throwaway@mailinator.test")
		typeInto(t, other, newPasswordField, passphrase)
		if resp := clickAndWait(t, other, signUpButton); resp.Status != http.StatusForbidden ||
			!strings.Contains(pageText(other), "Please use a permanent email address.") {
			t.Fatalf("disposable address: %d\n%s", resp.Status, pageText(other))
		}

		// A new device: the sign-in page carries a proof of work, solved
		// while the customer types; then a code mailed to the address
		// confirms the sign-in.
		fresh := freshContext(t, ctx)
		open(t, fresh, env.URL+"/login")
		if d := eval[string](t, fresh, `document.getElementById('foyer-challenge').dataset.difficulty`); d != "8" {
			t.Fatalf("the sign-in page carries difficulty %q, want 8:\n%s", d, pageText(fresh))
		}
		typeInto(t, fresh, emailField, email)
		typeInto(t, fresh, curPasswordField, passphrase)
		clickAndWait(t, fresh, signInButton)
		do(t, fresh, "wait for the code field", chromedp.WaitVisible(codeField))
		if text := pageText(fresh); !strings.Contains(text, "We don't recognise this sign-in") {
			t.Fatalf("new device: no confirmation asked:\n%s", text)
		}
		m := env.LatestMail(t, email, "Your Foyer sign-in code")
		typeInto(t, fresh, codeField, servertest.CodeFrom(t, m))
		if resp := clickAndWait(t, fresh, codeButton); resp.Status != http.StatusOK || location(t, fresh).Path != "/account" {
			t.Fatalf("after the code: %d %s\n%s", resp.Status, location(t, fresh), pageText(fresh))
		}
		expectLifetimes(t, fresh, env, 2*time.Hour, 30*time.Minute)

		// The first browser, known to the account, signs in again: no
		// code, and the owner is mailed a notice.
		clickAndWait(t, ctx, signOutButton)
		before := notices(t, env, email)
		open(t, ctx, env.URL+"/login")
		typeInto(t, ctx, emailField, email)
		typeInto(t, ctx, curPasswordField, passphrase)
		if resp := clickAndWait(t, ctx, signInButton); resp.Status != http.StatusOK || location(t, ctx).Path != "/account" {
			t.Fatalf("known device: %d %s\n%s", resp.Status, location(t, ctx), pageText(ctx))
		}
		if n := notices(t, env, email); n != before+1 {
			t.Fatalf("%d sign-in notices mailed, want 1", n-before)
		}
	})
}

// expectLifetimes checks the browser's session against the lifetimes a
// policy set.
func expectLifetimes(t *testing.T, ctx context.Context, env *servertest.Env, life, idle time.Duration) {
	t.Helper()
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	if resp := open(t, tab, env.URL+"/sessions/whoami"); resp.Status != http.StatusOK {
		t.Fatalf("whoami: %d", resp.Status)
	}
	var who struct {
		Session struct {
			IssuedAt      time.Time `json:"issued_at"`
			IdleExpiresAt time.Time `json:"idle_expires_at"`
			ExpiresAt     time.Time `json:"expires_at"`
		} `json:"session"`
	}
	if err := json.Unmarshal([]byte(pageText(tab)), &who); err != nil {
		t.Fatalf("whoami: %v\n%s", err, pageText(tab))
	}
	s := who.Session
	if s.ExpiresAt.Sub(s.IssuedAt) != life || s.IdleExpiresAt.Sub(s.IssuedAt) != idle {
		t.Errorf("session lifetimes %s and %s, want %s and %s", s.ExpiresAt.Sub(s.IssuedAt), s.IdleExpiresAt.Sub(s.IssuedAt), life, idle)
	}
}

// notices counts the sign-in notices stored for an address.
func notices(t *testing.T, env *servertest.Env, to string) int {
	n := 0
	for _, m := range env.Outbox(t, to) {
		if m.Template == "sign_in_notice" {
			n++
		}
	}
	return n
}
