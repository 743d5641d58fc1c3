package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// What the passkey script on the hosted pages works with: the buttons it
// shows when the browser has WebAuthn, and the elements it writes its
// messages to.
const (
	passkeyLoginButton = "passkey-login"
	passkeyLoginError  = "passkey-error"
	passkeyAddButton   = "passkey-add"
	passkeyAddError    = "passkey-add-error"
	passkeyNameField   = chromedp.CSS(`#passkey-name`)
	// A passwordless sign-up: the button beside "Create account", then
	// the one that creates the passkey once the email is verified.
	passkeySignUpButton = chromedp.CSS(`#passkey-signup`)
	passkeyCreateButton = "passkey-create"
	passkeyCreateError  = "passkey-create-error"
)

// The message /login shows when Foyer does not accept a passkey.
const passkeyRefused = "That passkey did not work here. Try again, or sign in another way."

// A customer adds a passkey on the account page, signs out, and signs in
// again with the passkey alone, from the sign-in page: no email, no
// password. (The page offers passkeys in the email field's autofill; the
// virtual authenticator answers that at once.) A passkey with user
// verification is two factors by itself, so the session is aal2.
func TestPasskeyRegisterAndSignIn(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		ctx := newTab(t)
		recordConsole(t, ctx)
		const email = "nadia@example.com"

		signUp(t, ctx, env, email, passphrase)
		expectAccount(t, ctx, email)
		auth := addAuthenticator(t, ctx)

		addPasskey(t, ctx, "Test key")
		creds := authenticatorCredentials(t, ctx, auth)
		if len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" {
			t.Fatalf("authenticator after adding a passkey: want one resident credential for localhost, got %s", describeCredentials(creds))
		}
		if m := env.MailTo(t, email, 2); !strings.Contains(m.Text, "passkey") {
			t.Errorf("security notice after adding a passkey does not mention it: %q\n%s", m.Subject, m.Text)
		}
		// The first second factor comes with recovery codes.
		expectRecoveryCodesOnce(t, ctx, env)

		signOutThenAutofill(t, ctx, env)
		expectAccount(t, ctx, email)
		expectHttpOnlySession(t, ctx, env)
		if text := pageText(ctx); !strings.Contains(text, "with a passkey") {
			t.Errorf("account page does not say the session came from a passkey:\n%s", text)
		}
		if item := passkeyListItem(t, ctx, "Test key"); !strings.Contains(item, "last used") {
			t.Errorf("passkey not marked as used after the sign-in: %q", item)
		}
		// The same authenticator again: the browser refuses it (the
		// account's passkey is excluded), and the page says so in words
		// rather than the browser's message for developers.
		if msg := pressPasskeyButton(t, ctx, passkeyAddButton, passkeyAddError); msg != "This device already has a passkey for your account." {
			t.Errorf("adding a second passkey on the same device: %q", msg)
		}
		// Renaming: a blank name is not sent (the browser says why); a
		// name is.
		const renameField = chromedp.CSS(`form[action="/account/passkeys/rename"] input[name=name]`)
		do(t, ctx, "wait for the rename field", chromedp.WaitVisible(renameField))
		if eval[bool](t, ctx, `(() => { const f = document.querySelector('form[action="/account/passkeys/rename"] input[name=name]'); f.value = ""; return f.checkValidity(); })()`) {
			t.Error("a blank passkey name would be sent")
		}
		typeInto(t, ctx, renameField, "Work laptop")
		clickAndWait(t, ctx, chromedp.CSS(`form[action="/account/passkeys/rename"] button[type=submit]`))
		do(t, ctx, "wait for the new name", chromedp.WaitVisible(passkeyListed("Work laptop")))

		expectWhoami(t, ctx, env, http.StatusOK, email)
		s := whoamiSession(t, ctx, env)
		if s.AAL != "aal2" || !slices.Contains(s.Methods, "passkey") {
			t.Fatalf("session after the passkey sign-in: aal %q, methods %q; want aal2 with passkey", s.AAL, s.Methods)
		}
	})
}

// A customer signs up without a password: email, the mailed code, then a
// passkey made by the browser's authenticator. The account is verified,
// the session aal2, and after signing out the passkey alone signs in.
func TestPasswordlessSignUpInBrowser(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		ctx := newTab(t)
		recordConsole(t, ctx)
		const email = "oona@example.com"
		open(t, ctx, env.URL+"/registration")
		auth := addAuthenticator(t, ctx)
		typeInto(t, ctx, emailField, email)
		do(t, ctx, "wait for the passkey sign-up button", chromedp.WaitVisible(passkeySignUpButton))
		resp := clickAndWait(t, ctx, passkeySignUpButton)
		if u := location(t, ctx); resp.Status != http.StatusOK || u.Path != "/registration" || u.Query().Get("flow") == "" {
			t.Fatalf("after choosing a passkey: %d %s\n%s", resp.Status, u, pageText(ctx))
		}
		do(t, ctx, "wait for the code field", chromedp.WaitVisible(codeField))
		typeInto(t, ctx, codeField, servertest.CodeFrom(t, env.MailTo(t, email, 1)))
		clickAndWait(t, ctx, codeButton)
		if text := pageText(ctx); !strings.Contains(text, "Create your passkey") {
			t.Fatalf("after the code: want the passkey step\n%s", text)
		}
		expectWhoami(t, ctx, env, http.StatusUnauthorized, "")

		if msg := pressPasskeyButton(t, ctx, passkeyCreateButton, passkeyCreateError); msg != "" {
			t.Fatalf("creating the passkey was refused: %q\npage: %s", msg, pageText(ctx))
		}
		do(t, ctx, "wait for the account page after the passkey sign-up", chromedp.WaitVisible(signOutButton))
		expectAccount(t, ctx, email)
		expectRecoveryCodesOnce(t, ctx, env)
		if creds := authenticatorCredentials(t, ctx, auth); len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].UserName != email {
			t.Fatalf("authenticator after the sign-up: want one resident credential for %s, got %s", email, describeCredentials(creds))
		}
		if s := whoamiSession(t, ctx, env); s.AAL != "aal2" || !slices.Contains(s.Methods, "passkey") {
			t.Fatalf("session after the passkey sign-up: aal %q, methods %q", s.AAL, s.Methods)
		}

		signOutThenAutofill(t, ctx, env)
		expectAccount(t, ctx, email)
	})
}

// An app asks for aal2 (acr_values) while the customer's session is aal1
// (password): Foyer asks for the missing factor on /stepup, the customer
// uses their passkey, and the app's ID token says acr aal2 with the
// passkey among the methods.
func TestStepUpForAppWithPasskey(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		ctx := newTab(t)
		recordConsole(t, ctx)
		const email = "pavel@example.com"
		signUp(t, ctx, env, email, passphrase)
		addAuthenticator(t, ctx)
		addPasskey(t, ctx, "Laptop")
		if s := whoamiSession(t, ctx, env); s.AAL != "aal1" {
			t.Fatalf("session after a password sign-up: aal %q, want aal1", s.AAL)
		}

		shop := startRP(t, env, "Shop", true)
		shop.ACRValues = "aal2"
		open(t, ctx, shop.URL+"/login")
		if u := location(t, ctx); "http://"+u.Host != env.URL || u.Path != "/stepup" {
			t.Fatalf("app asking for aal2: want Foyer's /stepup, got %s\n%s", u, pageText(ctx))
		}
		if msg := pressPasskeyButton(t, ctx, passkeyLoginButton, passkeyLoginError); msg != "" {
			t.Fatalf("step-up with the passkey refused: %q\npage: %s", msg, pageText(ctx))
		}
		do(t, ctx, "wait for the app's welcome", chromedp.WaitVisible(chromedp.ID("verified")))
		got := shop.session(t, 1)
		if got.Claims.ACR != "aal2" || !slices.Contains(got.Claims.AMR, "passkey") || got.Claims.Email != email {
			t.Fatalf("ID token after the step-up: acr %q amr %q email %q; want aal2 with passkey", got.Claims.ACR, got.Claims.AMR, got.Claims.Email)
		}
		if s := whoamiSession(t, ctx, env); s.AAL != "aal2" {
			t.Fatalf("Foyer session after the step-up: aal %q", s.AAL)
		}
	})
}

// A passkey removed on the account page no longer signs anyone in, though
// the authenticator still offers it. (Whether a passkey made for another
// site is refused is the browser's business, and hard to stage here; a
// credential the server does not know takes the same refusal path.)
func TestPasskeyWrongRPRejected(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t), servertest.Localhost())
	ctx := newTab(t)
	recordConsole(t, ctx)
	const email = "tomas@example.com"

	signUp(t, ctx, env, email, passphrase)
	expectAccount(t, ctx, email)
	auth := addAuthenticator(t, ctx)
	addPasskey(t, ctx, "Test key")

	// The passkey works first: the refusal below is about its removal.
	signOutThenAutofill(t, ctx, env)
	expectAccount(t, ctx, email)

	// Its Remove button is refused: it is the account's only second
	// factor, and the page says so.
	clickAndWait(t, ctx, passkeyRemoveButton("Test key"))
	resp := clickAndWait(t, ctx, chromedp.Search(`//form[@method="post"]//button[normalize-space()="Remove passkey"]`))
	if resp.Status != http.StatusOK || location(t, ctx).Path != "/account" {
		t.Fatalf("after removing the only passkey: %d %s\n%s", resp.Status, location(t, ctx), pageText(ctx))
	}
	if text := pageText(ctx); !strings.Contains(text, "This is your only second factor.") || !strings.Contains(text, "Test key") {
		t.Fatalf("account page after removing the only passkey: want the refusal and the passkey still listed\n%s", text)
	}

	// Removed elsewhere (say, through the API from another device), the
	// account page lists no passkey, while the authenticator still holds
	// the credential.
	if _, err := env.Server.DB.Exec(context.Background(), `DELETE FROM webauthn_credentials`); err != nil {
		t.Fatal(err)
	}
	open(t, ctx, env.URL+"/account")
	do(t, ctx, "wait for the account page after the removal", chromedp.WaitVisible(chromedp.ID(passkeyAddButton)))
	if n := eval[int](t, ctx, `document.querySelectorAll('ul.passkeys li').length`); n != 0 || strings.Contains(pageText(ctx), "Test key") {
		t.Fatalf("account page still lists %d passkeys after the removal:\n%s", n, pageText(ctx))
	}
	if creds := authenticatorCredentials(t, ctx, auth); len(creds) != 1 {
		t.Fatalf("authenticator after the removal: want the credential still there, got %s", describeCredentials(creds))
	}

	resp = clickAndWait(t, ctx, signOutButton)
	if resp.Status != http.StatusOK || location(t, ctx).Path != "/login" {
		t.Fatalf("after sign-out: %d %s\n%s", resp.Status, location(t, ctx), pageText(ctx))
	}
	// The autofill offer failed quietly (the customer asked for nothing);
	// the field still reads as an email address to password managers.
	do(t, ctx, "wait for the email field to offer passkeys", chromedp.WaitVisible(`input[type=email][autocomplete="email webauthn"]`))
	if text := pageText(ctx); strings.Contains(text, passkeyRefused) {
		t.Fatalf("the quiet autofill attempt showed a message:\n%s", text)
	}
	msg := pressPasskeyButton(t, ctx, passkeyLoginButton, passkeyLoginError)
	if msg == "" {
		t.Fatalf("sign-in with a removed passkey left /login for %s\n%s", location(t, ctx), pageText(ctx))
	}
	if msg != passkeyRefused {
		t.Errorf("message for a removed passkey = %q, want %q", msg, passkeyRefused)
	}
	if u := location(t, ctx); u.Path != "/login" {
		t.Errorf("after a refused passkey: on %s, want /login", u)
	}
	expectWhoami(t, ctx, env, http.StatusUnauthorized, "")
	if c := cookie(t, ctx, env.URL, sessionCookie); c != nil {
		t.Errorf("session cookie set after a refused passkey: %+v", c)
	}
}

// expectRecoveryCodesOnce checks that the account page the browser is on
// shows ten new recovery codes, and that they are gone on the next load.
func expectRecoveryCodesOnce(t *testing.T, ctx context.Context, env *servertest.Env) {
	t.Helper()
	if n := eval[int](t, ctx, `document.querySelectorAll('section.new-codes ul.recovery-codes li code').length`); n != 10 || !strings.Contains(pageText(ctx), "Save your recovery codes") {
		t.Fatalf("account page shows %d recovery codes, want 10\n%s", n, pageText(ctx))
	}
	open(t, ctx, env.URL+"/account")
	do(t, ctx, "wait for the account page again", chromedp.WaitVisible(signOutButton))
	if strings.Contains(pageText(ctx), "Save your recovery codes") {
		t.Fatalf("recovery codes shown twice:\n%s", pageText(ctx))
	}
}

// signOutThenAutofill signs out from the account page. The sign-in page
// that follows offers the browser's passkeys in the email field's autofill
// (conditional mediation); the virtual authenticator answers at once, as a
// customer picking their passkey from the list would, and the browser
// lands on /account with a new session.
func signOutThenAutofill(t *testing.T, ctx context.Context, env *servertest.Env) {
	t.Helper()
	before := cookie(t, ctx, env.URL, sessionCookie)
	clickAndWait(t, ctx, signOutButton)
	do(t, ctx, "wait for the passkey autofill sign-in", chromedp.WaitVisible(signOutButton))
	after := cookie(t, ctx, env.URL, sessionCookie)
	if location(t, ctx).Path != "/account" || after == nil || before == nil || after.Value == before.Value {
		t.Fatalf("after sign-out and the autofill sign-in: on %s with a new session: %v\n%s", location(t, ctx), after != nil && before != nil && after.Value != before.Value, pageText(ctx))
	}
}

// addAuthenticator attaches a virtual platform authenticator to the tab,
// like a phone's or laptop's: CTAP2, resident keys, user verification that
// succeeds, and presence confirmed without a prompt. It stays for the
// tab's life, across navigations.
func addAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable WebAuthn in the browser: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// authenticatorCredentials returns the credentials the virtual
// authenticator holds.
func authenticatorCredentials(t *testing.T, ctx context.Context, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatalf("credentials of the virtual authenticator: %v", err)
	}
	return res.Credentials
}

func describeCredentials(creds []*webauthn.Credential) string {
	var parts []string
	for _, c := range creds {
		parts = append(parts, fmt.Sprintf("{rp %q resident %v user %q sign count %v}", c.RpID, c.IsResidentCredential, c.UserName, c.SignCount))
	}
	return fmt.Sprintf("%d credentials %s", len(creds), strings.Join(parts, " "))
}

// addPasskey adds a passkey called name from the account page the browser
// is on, and waits for the page to list it.
func addPasskey(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	do(t, ctx, "wait for the passkey section", chromedp.WaitVisible(chromedp.ID(passkeyAddButton)))
	typeInto(t, ctx, passkeyNameField, name)
	if msg := pressPasskeyButton(t, ctx, passkeyAddButton, passkeyAddError); msg != "" {
		t.Fatalf("add a passkey: refused with %q\npage: %s", msg, pageText(ctx))
	}
	do(t, ctx, "wait for the account page to list passkey "+name, chromedp.WaitVisible(passkeyListed(name)))
	if u := location(t, ctx); u.Path != "/account" {
		t.Fatalf("after adding a passkey: on %s, want /account", u)
	}
}

// passkeyListed finds the account page's entry for the passkey name.
func passkeyListed(name string) chromedp.Search {
	return chromedp.Search(`//ul[@class="passkeys"]/li[strong[normalize-space()="` + name + `"]]`)
}

// passkeyRemoveButton is the Remove button in the entry of passkey name.
func passkeyRemoveButton(name string) chromedp.Search {
	return passkeyListed(name) + `//a[normalize-space()="Remove"]`
}

// passkeyListItem is the text of the account page's entry for passkey
// name.
func passkeyListItem(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	do(t, ctx, "wait for passkey "+name, chromedp.WaitVisible(passkeyListed(name)))
	return eval[string](t, ctx, `Array.from(document.querySelectorAll('ul.passkeys li')).map(li => li.textContent).find(s => s.includes(`+jsString(name)+`)) || ""`)
}

// pressPasskeyButton clicks the passkey button with id button. Its script
// asks Foyer for a challenge, the authenticator for a credential, and
// Foyer again to check it; then it leaves the page, or shows a message in
// the element with id errID. pressPasskeyButton waits for either: it
// returns the message, or "" once the page is gone, and the caller waits
// for the next page.
func pressPasskeyButton(t *testing.T, ctx context.Context, button, errID string) string {
	t.Helper()
	sel := chromedp.ID(button)
	do(t, ctx, "press #"+button, chromedp.WaitVisible(sel), chromedp.Click(sel))
	// The promise resolves when the message shows; a navigation destroys
	// the document, and the evaluation fails with it.
	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise(resolve => {
	const e = document.getElementById(`+jsString(errID)+`);
	const check = () => { if (!e.hidden) resolve(e.textContent); };
	new MutationObserver(check).observe(e, {attributes: true, childList: true, characterData: true, subtree: true});
	check();
})`, chromedp.EvalAwaitPromise))
	if err != nil {
		if ctx.Err() != nil {
			t.Fatalf("press #%s: nothing happened: %v\npage: %s", button, err, pageText(ctx))
		}
		t.Logf("press #%s: the page went away (%v)", button, err)
		return ""
	}
	return msg
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// whoamiAuth is how /sessions/whoami says the session was authenticated.
type whoamiAuth struct {
	AAL     string   `json:"aal"`
	Methods []string `json:"methods"`
}

// whoamiSession reads the session from /sessions/whoami, opened with the
// browser's cookies in a second tab, as expectWhoami does.
func whoamiSession(t *testing.T, ctx context.Context, env *servertest.Env) whoamiAuth {
	t.Helper()
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	resp := open(t, tab, env.URL+"/sessions/whoami")
	// The document is the JSON as text, whatever viewer the browser puts
	// around it.
	body := eval[string](t, tab, `document.querySelector('pre') ? document.querySelector('pre').textContent : document.body.innerText`)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /sessions/whoami: %d\n%s", resp.Status, body)
	}
	var w struct {
		Session *whoamiAuth `json:"session"`
	}
	if err := json.Unmarshal([]byte(body), &w); err != nil || w.Session == nil {
		t.Fatalf("GET /sessions/whoami: no session in %q (%v)", body, err)
	}
	return *w.Session
}

// recordConsole collects what the tab's pages write to the console
// (messages, uncaught exceptions, browser log entries) and logs it if the
// test fails: the passkey script reports some failures only there.
func recordConsole(t *testing.T, ctx context.Context) {
	t.Helper()
	out := &lockedBuffer{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			fmt.Fprintf(out, "%s (%s:%d)\n", m, m.URL, m.Line+1)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser console:\n%s", out.String())
		}
	})
}
