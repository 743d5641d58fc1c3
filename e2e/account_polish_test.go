package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// What assets/account.js adds to the two-factor set-up and the recovery
// codes: copy buttons that say how it went, a print button; and what the
// page has without it: a download link.
const (
	copyKeyButton   = chromedp.CSS(`button[data-copy="totp-secret"]`)
	copyCodesButton = chromedp.CSS(`button[data-copy="recovery-codes"]`)
	printButton     = chromedp.CSS(`button[data-print]`)
	downloadLink    = chromedp.CSS(`a[download]`)
	setUpButton     = chromedp.CSS(`form[action="/account/two-factor/setup"] button[type=submit]`)
)

// A customer sets up an authenticator app: the key, shown in blocks of
// four, copies whole; once the app is on, the recovery codes copy one a
// line, download as a text file named after the product, and print
// alone.
func TestAccountPolishCopyDownloadPrint(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	ctx := newTab(t)
	recordConsole(t, ctx)
	const email = "wren@example.com"
	signUp(t, ctx, env, email, passphrase)
	expectAccount(t, ctx, email)
	allowClipboard(t, ctx, env.URL)

	open(t, ctx, env.URL+"/account/two-factor")
	clickAndWait(t, ctx, setUpButton)
	do(t, ctx, "wait for the copy-key button", chromedp.WaitVisible(copyKeyButton))
	secret := eval[string](t, ctx, `document.getElementById("totp-secret").textContent`)
	if shown := eval[string](t, ctx, `document.querySelector(".key-groups").innerText`); shown != secret || len(secret) < 16 {
		t.Fatalf("the key reads %q, is %q", shown, secret)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll(".key-groups span").length`); n != (len(secret)+3)/4 {
		t.Errorf("the key of %d characters is in %d blocks", len(secret), n)
	}
	if href := eval[string](t, ctx, `document.querySelector("a.key-uri").href`); !strings.HasPrefix(href, "otpauth://totp/") || !strings.Contains(href, "secret="+secret) {
		t.Errorf("the link for an app on this device is %q", href)
	}
	if got := copyWith(t, ctx, copyKeyButton, "key-status", "Key copied."); got != secret {
		t.Errorf("copied %q, want the key %q", got, secret)
	}

	code, err := pqtotp.GenerateCode(secret, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	typeInto(t, ctx, codeField, code)
	clickAndWait(t, ctx, codeButton)
	if text := pageText(ctx); !strings.Contains(text, "Two-factor authentication is on") {
		t.Fatalf("after turning the app on:\n%s", text)
	}
	codes := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("ul.recovery-codes li code")).map(c => c.textContent)`)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown", len(codes))
	}
	do(t, ctx, "wait for the print button", chromedp.WaitVisible(printButton))
	if got := copyWith(t, ctx, copyCodesButton, "codes-status", "Codes copied."); got != strings.Join(codes, "\n") {
		t.Errorf("copied %q, want the codes one a line", got)
	}

	name, text := download(t, ctx, downloadLink)
	if name != "foyer-recovery-codes.txt" {
		t.Errorf("downloaded %q", name)
	}
	for _, want := range append([]string{"Foyer recovery codes", "Account: " + email}, codes...) {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("the file lacks %q:\n%s", want, text)
		}
	}

	// Print opens the browser's print dialog (stood in for here); the
	// printout is the codes alone, under the product's name.
	eval[bool](t, ctx, `(window.printed = 0, window.print = () => { window.printed++ }, true)`)
	do(t, ctx, "print", chromedp.Click(printButton))
	if n := eval[int](t, ctx, `window.printed`); n != 1 {
		t.Errorf("the print button printed %d times", n)
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	printed := eval[string](t, ctx, `document.body.innerText`)
	for _, c := range codes {
		if !strings.Contains(printed, c) {
			t.Errorf("the printout lacks the code %s:\n%s", c, printed)
		}
	}
	if !strings.Contains(printed, "Foyer recovery codes · "+email) {
		t.Errorf("the printout does not name the product and account:\n%s", printed)
	}
	for _, gone := range []string{"Save your recovery codes", "Copy codes", "Download", "I saved them", "Sign out"} {
		if strings.Contains(printed, gone) {
			t.Errorf("the printout has %q:\n%s", gone, printed)
		}
	}
}

// allowClipboard lets the pages of origin read the clipboard (to check
// what was copied) and write it, as if the tab had the focus.
func allowClipboard(t *testing.T, ctx context.Context, origin string) {
	t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: origin}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
}

// copyWith clicks a copy button, waits for its status (the element
// statusID) to say done, and returns what the clipboard holds.
func copyWith(t *testing.T, ctx context.Context, button chromedp.CSS, statusID, done string) string {
	t.Helper()
	do(t, ctx, "copy with "+string(button), chromedp.WaitVisible(button), chromedp.Click(button))
	status := `document.getElementById(` + jsString(statusID) + `).textContent`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](status+` !== ""`)); err != nil {
		t.Fatalf("no word from %s: %v", statusID, err)
	}
	if got := eval[string](t, ctx, status); got != done {
		t.Fatalf("%s says %q, want %q", statusID, got, done)
	}
	return eval[string](t, ctx, `navigator.clipboard.readText()`)
}

// download clicks link, waits for the browser to save what it leads to,
// and returns the file's name and text.
func download(t *testing.T, ctx context.Context, link chromedp.CSS) (name, text string) {
	t.Helper()
	dir := t.TempDir()
	events := true
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: &events}); err != nil {
		t.Fatal(err)
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	names := map[string]string{} // by download guid; events come in order
	finished := make(chan string, 1)
	if err := chromedp.ListenBrowser(lctx, func(ev any) {
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			names[ev.GUID] = ev.SuggestedFilename
		case *browser.EventDownloadProgress:
			if ev.State == browser.DownloadProgressStateCompleted || ev.State == browser.DownloadProgressStateCanceled {
				select {
				case finished <- names[ev.GUID] + "|" + string(ev.State):
				default:
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "download with "+string(link), chromedp.WaitVisible(link), chromedp.Click(link))
	var got string
	select {
	case got = <-finished:
	case <-ctx.Done():
		t.Fatalf("the download did not finish: %v", ctx.Err())
	}
	name, state, _ := strings.Cut(got, "|")
	if state != string(browser.DownloadProgressStateCompleted) {
		t.Fatalf("download of %q: %s", name, state)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return name, string(b)
}

// A passkey made at a passwordless sign-up, which asks for no name, is
// named after the device: the virtual authenticator's AAGUID names no
// provider, and the browser runs on Linux.
func TestPasswordlessSignUpNamesThePasskey(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t), servertest.Localhost())
	ctx := newTab(t)
	recordConsole(t, ctx)
	const email = "yara@example.com"
	open(t, ctx, env.URL+"/registration")
	addAuthenticator(t, ctx)
	if ua := eval[string](t, ctx, `navigator.userAgent`); !strings.Contains(ua, "Linux") || strings.Contains(ua, "Android") {
		t.Skipf("the browser does not say it runs on Linux: %s", ua)
	}
	typeInto(t, ctx, emailField, email)
	do(t, ctx, "wait for the passkey sign-up button", chromedp.WaitVisible(passkeySignUpButton))
	clickAndWait(t, ctx, passkeySignUpButton)
	do(t, ctx, "wait for the code field", chromedp.WaitVisible(codeField))
	typeInto(t, ctx, codeField, servertest.CodeFrom(t, env.MailTo(t, email, 1)))
	clickAndWait(t, ctx, codeButton)
	if msg := pressPasskeyButton(t, ctx, passkeyCreateButton, passkeyCreateError); msg != "" {
		t.Fatalf("creating the passkey was refused: %q\npage: %s", msg, pageText(ctx))
	}
	do(t, ctx, "wait for the account page", chromedp.WaitVisible(signOutButton))
	if names := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("ul.passkeys li strong")).map(s => s.textContent)`); len(names) != 1 || names[0] != "Passkey on Linux" {
		t.Fatalf("the account page lists the passkeys %q, want one named \"Passkey on Linux\"", names)
	}
}
