package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const (
	recoveryMail    = "Your Foyer account recovery code"
	newPassphrase   = "amber lantern drifts over the sleeping bay"
	thirdPassphrase = "copper finches argue about the weather"
	// recoveryEmailButton sends the recovery form's address (the form with
	// the email field, not the recovery code's).
	recoveryEmailButton = chromedp.CSS(`form:has(input[type=email][autocomplete=email]) button[type=submit]`)
	newPasswordButton   = chromedp.CSS(`form:has(input[autocomplete=new-password]) button[type=submit]`)
)

// A customer who forgot the password recovers in the browser: "Forgot your
// password?" on the sign-in page, the address, the mailed code, a new
// password, and the account page saying the account is restricted for a
// while. The new password then changes again from the account, and
// another device is signed out from the list of devices.
func TestBrowserRecoveryByEmailAndSettings(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		ctx := newTab(t)
		const email = "mira@example.com"
		signUp(t, ctx, env, email, passphrase)
		clickAndWait(t, ctx, signOutButton)

		open(t, ctx, env.URL+"/login")
		clickAndWait(t, ctx, chromedp.Search(`//a[normalize-space()="Forgot your password?"]`))
		if u := location(t, ctx); u.Path != "/recovery" {
			t.Fatalf("the link went to %s", u)
		}
		typeInto(t, ctx, emailField, email)
		clickAndWait(t, ctx, recoveryEmailButton)
		do(t, ctx, "wait for the code field", chromedp.WaitVisible(codeField))
		typeInto(t, ctx, codeField, servertest.CodeFrom(t, env.LatestMail(t, email, recoveryMail)))
		clickAndWait(t, ctx, codeButton)
		do(t, ctx, "wait for the new password field", chromedp.WaitVisible(newPasswordField))
		typeInto(t, ctx, newPasswordField, newPassphrase)
		resp := clickAndWait(t, ctx, newPasswordButton)
		if resp.Status != http.StatusOK || location(t, ctx).Path != "/account" {
			t.Fatalf("after the new password: %d %s\n%s", resp.Status, location(t, ctx), pageText(ctx))
		}
		expectAccount(t, ctx, email)
		if text := pageText(ctx); !strings.Contains(text, "Your account was recovered recently.") {
			t.Fatalf("the account page does not say the account is restricted:\n%s", text)
		}

		// Another device signs in (an app, with the new password).
		other := apiSignIn(t, env, email, newPassphrase)

		// Change the password again from the account page: the recovery's
		// sign-in is fresh, so the current password may stay empty.
		clickAndWait(t, ctx, chromedp.Search(`//a[@href="/account/password"]`))
		do(t, ctx, "wait for the password form", chromedp.WaitVisible(newPasswordField))
		if n := eval[int](t, ctx, `document.querySelectorAll('input[type=password][autocomplete=current-password]').length`); n != 1 {
			t.Fatalf("password page has %d current-password fields, want 1", n)
		}
		typeInto(t, ctx, newPasswordField, thirdPassphrase)
		clickAndWait(t, ctx, newPasswordButton)
		if text := pageText(ctx); location(t, ctx).Path != "/account" || !strings.Contains(text, "Your password is changed.") {
			t.Fatalf("after changing the password: %s\n%s", location(t, ctx), text)
		}
		if st := apiWhoami(t, env, other); st != http.StatusUnauthorized {
			t.Fatalf("the other device outlived the password change: %d", st)
		}

		// Sign out another device from the list.
		other = apiSignIn(t, env, email, thirdPassphrase)
		open(t, ctx, env.URL+"/account")
		clickAndWait(t, ctx, chromedp.Search(`//a[normalize-space()="Sign out this device"]`))
		clickAndWait(t, ctx, chromedp.Search(`//form[@method="post"]//button[normalize-space()="Sign out device"]`))
		if text := pageText(ctx); !strings.Contains(text, "Signed out.") || strings.Contains(text, "Sign out this device") {
			t.Fatalf("after signing the other device out:\n%s", text)
		}
		if st := apiWhoami(t, env, other); st != http.StatusUnauthorized {
			t.Fatalf("the device signed out still works: %d", st)
		}
		expectWhoami(t, ctx, env, http.StatusOK, email)
	})
}

// A customer recovers with a recovery code kept from setting up an
// authenticator app: "Use a recovery code instead" on /recovery.
func TestBrowserRecoveryByRecoveryCode(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		ctx := newTab(t)
		const email = "ines@example.com"
		signUp(t, ctx, env, email, passphrase)
		clickAndWait(t, ctx, signOutButton)
		secret, codes := setUpAuthenticatorApp(t, env, email, passphrase)

		open(t, ctx, env.URL+"/recovery")
		do(t, ctx, "open the recovery code form", chromedp.Click(chromedp.Search(`//summary[normalize-space()="Use a recovery code instead"]`)))
		typeInto(t, ctx, chromedp.CSS(`details input[type=email]`), email)
		typeInto(t, ctx, chromedp.CSS(`input[name=recovery_code]`), codes[0])
		clickAndWait(t, ctx, chromedp.CSS(`form:has(input[name=recovery_code]) button[type=submit]`))
		do(t, ctx, "wait for the new password field", chromedp.WaitVisible(newPasswordField))
		typeInto(t, ctx, newPasswordField, newPassphrase)
		clickAndWait(t, ctx, newPasswordButton)
		expectAccount(t, ctx, email)
		if text := pageText(ctx); !strings.Contains(text, "recovery code") {
			t.Fatalf("account page after recovery by code:\n%s", text)
		}
		if st := apiWhoami(t, env, apiSignIn2FA(t, env, email, newPassphrase, secret)); st != http.StatusOK {
			t.Fatalf("the new password does not sign in: %d", st)
		}
	})
}

// setUpAuthenticatorApp signs in through the API, sets up an
// authenticator app and returns its secret and recovery codes.
func setUpAuthenticatorApp(t *testing.T, env *servertest.Env, email, pw string) (string, []string) {
	t.Helper()
	tok := apiSignIn(t, env, email, pw)
	var setup struct {
		Secret string `json:"secret"`
	}
	env.JSON(t, "POST", "/api/totp", tok, nil, &setup)
	code, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
	var codes struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	env.JSON(t, "POST", "/api/totp/confirm", tok, map[string]any{"code": code}, &codes)
	if len(codes.RecoveryCodes) == 0 {
		t.Fatal("no recovery codes")
	}
	return setup.Secret, codes.RecoveryCodes
}

// apiWhoami answers the status of GET /sessions/whoami for a token.
func apiWhoami(t *testing.T, env *servertest.Env, tok string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", env.URL+"/sessions/whoami", bytes.NewReader(nil))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var discard json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&discard)
	return resp.StatusCode
}

// A customer who forgot the password but still has a passkey recovers
// with it: the recovery page points to the sign-in, the passkey signs in
// (two factors on its own, so nothing is restricted), and the password
// changes from the account without the old one.
func TestBrowserRecoveryByPasskey(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		ctx := newTab(t)
		const email = "pia@example.com"
		signUp(t, ctx, env, email, passphrase)
		addAuthenticator(t, ctx)
		addPasskey(t, ctx, "Phone")
		expectRecoveryCodesOnce(t, ctx, env)

		open(t, ctx, env.URL+"/recovery")
		if text := pageText(ctx); !strings.Contains(text, "Still have your passkey?") {
			t.Fatalf("the recovery page does not offer the passkey:\n%s", text)
		}
		// Signing out lands on the sign-in page, where the passkey signs in
		// by autofill.
		open(t, ctx, env.URL+"/account")
		signOutThenAutofill(t, ctx, env)
		expectAccount(t, ctx, email)

		clickAndWait(t, ctx, chromedp.Search(`//a[@href="/account/password"]`))
		do(t, ctx, "wait for the password form", chromedp.WaitVisible(newPasswordField))
		typeInto(t, ctx, newPasswordField, newPassphrase)
		clickAndWait(t, ctx, newPasswordButton)
		if text := pageText(ctx); !strings.Contains(text, "Your password is changed.") || strings.Contains(text, "recovered recently") {
			t.Fatalf("after changing the password:\n%s", text)
		}
		if st := apiWhoami(t, env, apiSignIn(t, env, email, newPassphrase)); st != http.StatusOK {
			t.Fatalf("the new password does not sign in: %d", st)
		}
	})
}

// A customer changes the email address in the browser (the code goes to
// the new address), and the old address's "this wasn't me" link puts it
// back, signs every device out and protects the account.
func TestBrowserEmailChangeAndRevert(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		ctx := newTab(t)
		const old, next = "lea@example.com", "lea.next@example.com"
		signUp(t, ctx, env, old, passphrase)

		clickAndWait(t, ctx, chromedp.Search(`//a[@href="/account/email"]`))
		typeInto(t, ctx, emailField, next)
		clickAndWait(t, ctx, chromedp.CSS(`form:has(input[type=email]) button[type=submit]`))
		do(t, ctx, "wait for the code field", chromedp.WaitVisible(codeField))
		typeInto(t, ctx, codeField, servertest.CodeFrom(t, env.LatestMail(t, next, "Your Foyer verification code")))
		clickAndWait(t, ctx, codeButton)
		if text := pageText(ctx); !strings.Contains(text, "Your email address is now "+next+".") {
			t.Fatalf("after the code:\n%s", text)
		}
		open(t, ctx, env.URL+"/account")
		expectAccount(t, ctx, next)

		link := revertURL.FindString(env.LatestMail(t, old, "Security change on your Foyer account").Text)
		if link == "" {
			t.Fatal("no revert link in the old address's notice")
		}
		// The owner opens the link in another browser (their mail app's).
		other := newTab(t)
		open(t, other, link)
		clickAndWait(t, other, chromedp.Search(`//button[normalize-space()="Undo the change and protect my account"]`))
		if text := pageText(other); !strings.Contains(text, "The change is undone") {
			t.Fatalf("after the revert:\n%s", text)
		}
		expectWhoami(t, ctx, env, http.StatusUnauthorized, "")
		if st := apiWhoami(t, env, apiSignInCode(t, env, old)); st != http.StatusOK {
			t.Fatalf("the old address does not sign in: %d", st)
		}
	})
}

var revertURL = regexp.MustCompile(`https?://\S+/revert\?token=fyr_[A-Za-z0-9_-]+`)

// apiFlow is what the JSON API answers of a flow step.
type apiFlow struct {
	Flow struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"flow"`
	SessionToken string `json:"session_token"`
}

// apiPassword starts a sign-in through the JSON API, as an app on another
// device, and submits the password: the flow's id and its answer.
func apiPassword(t *testing.T, env *servertest.Env, email, pw string) (string, apiFlow) {
	t.Helper()
	var start, half apiFlow
	env.JSON(t, "POST", "/api/login", "", nil, &start)
	env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "password": pw}, &half)
	return start.Flow.ID, half
}

// apiSignIn signs in with a password alone and returns the session token.
func apiSignIn(t *testing.T, env *servertest.Env, email, pw string) string {
	t.Helper()
	_, done := apiPassword(t, env, email, pw)
	if done.SessionToken == "" {
		t.Fatalf("API sign-in of %s: %+v", email, done)
	}
	return done.SessionToken
}

// apiSignIn2FA signs in with the password and the authenticator app.
func apiSignIn2FA(t *testing.T, env *servertest.Env, email, pw, secret string) string {
	t.Helper()
	id, half := apiPassword(t, env, email, pw)
	if half.Flow.State != "second_factor" {
		t.Fatalf("API sign-in did not ask for the second factor: %+v", half)
	}
	env.Clock.Advance(30 * time.Second) // a fresh code: each works once
	code, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
	return apiFinish(t, env, id, "/second-factor", map[string]any{"kind": "totp", "code": code})
}

// apiSignInCode signs a protected account in: the password, then the code
// mailed to the address.
func apiSignInCode(t *testing.T, env *servertest.Env, email string) string {
	t.Helper()
	id, half := apiPassword(t, env, email, passphrase)
	if half.Flow.State != "verify" {
		t.Fatalf("a protected account's sign-in did not ask for the mailbox's code: %+v", half)
	}
	code := servertest.CodeFrom(t, env.LatestMail(t, email, "Your Foyer sign-in code"))
	return apiFinish(t, env, id, "/code", map[string]any{"code": code})
}

// apiFinish submits a flow's last step and returns the session token.
func apiFinish(t *testing.T, env *servertest.Env, id, step string, body map[string]any) string {
	t.Helper()
	var done apiFlow
	env.JSON(t, "POST", "/api/flows/"+id+step, "", body, &done)
	if done.SessionToken == "" {
		t.Fatalf("%s did not sign in: %+v", step, done)
	}
	return done.SessionToken
}
