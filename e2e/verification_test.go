package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// Where verification is optional, sign-up signs the customer in at once
// and mails nothing; the address is verified on a later visit to
// /verification — signed in, from the account page, or signed out, by
// entering the address.
func TestBrowserVerifiesEmailOnALaterVisit(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		no := false
		env := servertest.Start(t, db, func(c *config.Config) { c.Domains[config.DefaultDomain].Registration.RequireVerification = &no })
		ctx := newTab(t)
		const ada, bob = "ada@example.com", "bob@example.com"

		// Sign-up: straight to the account, which says the address is not
		// verified yet.
		open(t, ctx, env.URL+"/registration")
		typeInto(t, ctx, emailField, ada)
		typeInto(t, ctx, newPasswordField, passphrase)
		resp := clickAndWait(t, ctx, signUpButton)
		if resp.Status != http.StatusOK || location(t, ctx).Path != "/account" {
			t.Fatalf("after sign-up: %d %s\n%s", resp.Status, location(t, ctx), pageText(ctx))
		}
		if text := pageText(ctx); !strings.Contains(text, "not verified") {
			t.Fatalf("account page of an unverified address:\n%s", text)
		}
		if n := env.MailCount(ada); n != 0 {
			t.Fatalf("%d mails at sign-up, want none", n)
		}

		// Signed in: "Verify" on the account page, then the code.
		clickAndWait(t, ctx, chromedp.Search(`//a[normalize-space()="Verify"]`))
		if text := pageText(ctx); location(t, ctx).Path != "/verification" || !strings.Contains(text, ada) {
			t.Fatalf("verification page, signed in: %s\n%s", location(t, ctx), text)
		}
		clickAndWait(t, ctx, chromedp.CSS(`form[method=post] button[type=submit]`))
		enterCode(t, ctx, servertest.CodeFrom(t, env.MailTo(t, ada, 1)), "Your email address is verified.")
		open(t, ctx, env.URL+"/account")
		if text := pageText(ctx); strings.Contains(text, "not verified") || !strings.Contains(text, "verified") {
			t.Fatalf("account page after verifying:\n%s", text)
		}

		// Signed out, in another browser: Bob (signed up over the API)
		// enters his address.
		signUpAPI(t, env, bob)
		other := freshContext(t, ctx)
		open(t, other, env.URL+"/verification")
		typeInto(t, other, emailField, bob)
		clickAndWait(t, other, chromedp.CSS(`form:has(input[type=email]) button[type=submit]`))
		if text := pageText(other); !strings.Contains(text, "If "+bob+" needs verifying, we sent a 6-digit code to it.") {
			t.Fatalf("after asking for a code:\n%s", text)
		}
		enterCode(t, other, servertest.CodeFrom(t, env.MailTo(t, bob, 1)), "Your email address is verified.")
		var verified bool
		if err := db.QueryRow(t.Context(), `SELECT verified_at IS NOT NULL FROM identifiers WHERE value = $1`, bob).Scan(&verified); err != nil || !verified {
			t.Fatalf("bob's address verified: %v %v", verified, err)
		}
	})
}

// enterCode types a mailed code into the code page and checks the page it
// leads to says want.
func enterCode(t *testing.T, ctx context.Context, code, want string) {
	t.Helper()
	typeInto(t, ctx, codeField, code)
	resp := clickAndWait(t, ctx, codeButton)
	if text := pageText(ctx); resp.Status != http.StatusOK || !strings.Contains(text, want) {
		t.Fatalf("after the code: %d %s\n%s", resp.Status, location(t, ctx), text)
	}
}

// signUpAPI creates an account over the JSON API (verification optional:
// it is active at once).
func signUpAPI(t *testing.T, env *servertest.Env, email string) {
	t.Helper()
	var start struct {
		Flow struct{ ID string } `json:"flow"`
	}
	if r := env.JSON(t, "POST", "/api/registration", "", map[string]any{}, &start); r.StatusCode != http.StatusCreated {
		t.Fatalf("start sign-up: %d %s", r.StatusCode, r.Body)
	}
	if r := env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{"traits": map[string]any{"email": email}, "password": passphrase}, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-up: %d %s", r.StatusCode, r.Body)
	}
}
