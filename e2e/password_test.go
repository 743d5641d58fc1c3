package e2e

import (
	"net/http"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// passwordToggle is the state of the sign-up page's password field and
// its show-password button (assets/password.js).
type passwordToggle struct {
	Type         string `json:"type"`
	Name         string `json:"name"`
	Autocomplete string `json:"autocomplete"`
	Value        string `json:"value"`
	ButtonType   string `json:"buttonType"`
	Pressed      string `json:"pressed"`
	Label        string `json:"label"`
	Controls     string `json:"controls"`
	Focused      string `json:"focused"`
}

const readPasswordToggle = `(() => {
	const i = document.getElementById("password"), b = document.querySelector("button.password-toggle");
	return {type: i.type, name: i.name, autocomplete: i.autocomplete, value: i.value,
		buttonType: b ? b.type : "", pressed: b ? b.getAttribute("aria-pressed") : "", label: b ? b.getAttribute("aria-label") : "",
		controls: b ? b.getAttribute("aria-controls") : "", focused: document.activeElement.className || document.activeElement.id};
})()`

// A password field gets a show-password button: reached with Tab, pressed
// with Space or Enter, it shows the password as text and hides it again,
// saying which with aria-pressed — its label, in the page's language,
// stays "Show password", as a toggle button's does.
// The field keeps its name and autocomplete, and is a password field again
// when its form goes, so password managers still see a password.
func TestShowPasswordToggle(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	ctx := newTab(t)
	if resp := open(t, ctx, env.URL+"/registration"); resp.Status != http.StatusOK {
		t.Fatalf("GET /registration: %d", resp.Status)
	}
	typeInto(t, ctx, newPasswordField, passphrase)
	got := eval[passwordToggle](t, ctx, readPasswordToggle)
	want := passwordToggle{Type: "password", Name: "password", Autocomplete: "new-password", Value: passphrase,
		ButtonType: "button", Pressed: "false", Label: "Show password", Controls: "password", Focused: ""}
	got.Focused = ""
	if got != want {
		t.Fatalf("before the button is pressed: %+v, want %+v", got, want)
	}

	// From the field, Tab goes to the button; Space shows the password.
	do(t, ctx, "tab to the button and press Space", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(" "))
	got = eval[passwordToggle](t, ctx, readPasswordToggle)
	want.Type, want.Pressed, want.Focused = "text", "true", "password-toggle"
	if got != want {
		t.Fatalf("after Tab and Space: %+v, want %+v", got, want)
	}
	// Enter hides it again.
	do(t, ctx, "press Enter", chromedp.KeyEvent(kb.Enter))
	got = eval[passwordToggle](t, ctx, readPasswordToggle)
	want.Type, want.Pressed = "password", "false"
	if got != want {
		t.Fatalf("after Enter: %+v, want %+v", got, want)
	}

	// Shown, then sent: the form goes with a password field. (The page's
	// own submit listener, added after the script's, reads the field and
	// keeps the form here.)
	do(t, ctx, "show the password", chromedp.Click(chromedp.CSS(`button.password-toggle`)))
	if typ := eval[string](t, ctx, `document.getElementById("password").type`); typ != "text" {
		t.Fatalf("after a click the field is %q, want text", typ)
	}
	eval[bool](t, ctx, `(() => {
	const i = document.getElementById("password");
	i.form.addEventListener("submit", e => { window.typeAtSubmit = i.type; e.preventDefault(); });
	return true;
})()`)
	do(t, ctx, "send the form", chromedp.Click(signUpButton))
	if typ := eval[string](t, ctx, `window.typeAtSubmit`); typ != "password" {
		t.Fatalf("the form went with the field as %q, want password", typ)
	}

	// In another language, the button speaks it.
	open(t, ctx, env.URL+"/login?ui_locales=de")
	if label := eval[string](t, ctx, `document.querySelector("button.password-toggle").getAttribute("aria-label")`); label != "Passwort anzeigen" {
		t.Fatalf("German sign-in page: the button says %q", label)
	}
}

// Without JavaScript the pages still work: a password field is a plain
// one, and nothing that needs a script (the passkey buttons) shows.
func TestPagesWithoutJavaScript(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t), servertest.Localhost())
	ctx := newTab(t)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	for _, path := range []string{"/login", "/registration"} {
		open(t, ctx, env.URL+path)
		if n := eval[int](t, ctx, `document.querySelectorAll("button.password-toggle").length`); n != 0 {
			t.Errorf("%s without JavaScript: %d show-password buttons", path, n)
		}
		if shown := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("body [hidden]")).filter(e => e.getClientRects().length).map(e => e.id || e.outerHTML.slice(0, 80))`); len(shown) != 0 {
			t.Errorf("%s without JavaScript shows what only a script may show: %q", path, shown)
		}
	}
	typeInto(t, ctx, emailField, "ada@example.com")
	typeInto(t, ctx, newPasswordField, passphrase)
	clickAndWait(t, ctx, signUpButton)
	do(t, ctx, "wait for the code field", chromedp.WaitVisible(codeField))
}
