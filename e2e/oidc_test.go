package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// The buttons of the consent page, found by their labels.
var (
	allowButton = chromedp.Search(`//form[@method="post"]//button[normalize-space()="Allow"]`)
	denyButton  = chromedp.Search(`//form[@method="post"]//button[normalize-space()="Don't allow"]`)
)

// A customer signs in to an app with Foyer in a real browser: the app
// sends the browser to Foyer, Foyer shows its sign-in page, and the
// browser comes back to the app with a code the app redeems, verifying
// the ID token with go-oidc. Then the app uses its tokens from Go:
// refresh rotation and reuse detection, introspection and revocation.
func TestOIDCCodeFlowInBrowser(t *testing.T) {
	requireChromium(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "olivia@example.com"
		ctx := newTab(t)
		signUp(t, ctx, env, email, passphrase)
		shop := startRP(t, env, "Shop", true)

		// A browser that has never seen Foyer or the app.
		ctx = freshContext(t, ctx)
		if c := cookie(t, ctx, env.URL, sessionCookie); c != nil {
			t.Fatalf("fresh browser context has a session cookie: %+v", c)
		}
		resp := open(t, ctx, shop.URL+"/login")
		u := location(t, ctx)
		if resp.Status != http.StatusOK || "http://"+u.Host != env.URL || u.Path != "/login" ||
			!strings.HasPrefix(u.Query().Get("return_to"), "/oauth/continue?id=") {
			t.Fatalf("app sign-in: want Foyer's sign-in page with return_to, got %d %s\n%s", resp.Status, u, pageText(ctx))
		}
		typeInto(t, ctx, emailField, email)
		typeInto(t, ctx, curPasswordField, passphrase)
		resp = submitAndWait(t, ctx, signInButton)
		first := expectWelcome(t, ctx, shop, resp.Status, 1, email)
		idt := first.IDToken
		if idt.Issuer != env.URL || !slices.Equal(idt.Audience, []string{shop.Client.ID}) || idt.Subject == "" ||
			!first.Claims.EmailVerified || first.Claims.AuthTime == 0 {
			t.Fatalf("ID token: issuer %q audience %q subject %q claims %+v", idt.Issuer, idt.Audience, idt.Subject, first.Claims)
		}
		if first.UserInfo.Email != email || !first.UserInfo.EmailVerified {
			t.Fatalf("userinfo: %+v", first.UserInfo)
		}
		if first.Token.AccessToken == "" || !strings.HasPrefix(first.Token.RefreshToken, "fyr_") {
			t.Fatalf("token response: access %q, refresh %q", first.Token.AccessToken, first.Token.RefreshToken)
		}

		// Signed in at Foyer now: the app's next sign-in comes straight
		// back, without a page, from the same authentication.
		resp = open(t, ctx, shop.URL+"/login")
		second := expectWelcome(t, ctx, shop, resp.Status, 2, email)
		if second.IDToken.Subject != idt.Subject || second.Claims.AuthTime != first.Claims.AuthTime {
			t.Fatalf("single sign-on: subject %q auth_time %d, want %q %d",
				second.IDToken.Subject, second.Claims.AuthTime, idt.Subject, first.Claims.AuthTime)
		}
		if second.Token.RefreshToken == first.Token.RefreshToken {
			t.Fatal("two sign-ins got the same refresh token")
		}

		bg := context.Background()
		refresh := func(rt string) (*oauth2.Token, error) {
			// A token without an access token is not valid, so the
			// source refreshes it.
			return shop.OAuth.TokenSource(bg, &oauth2.Token{RefreshToken: rt}).Token()
		}
		introspect := func(token string) map[string]any {
			t.Helper()
			status, out := postAsClient(t, env, shop, "/oauth/introspect", url.Values{"token": {token}})
			if status != http.StatusOK {
				t.Fatalf("introspect: %d %v", status, out)
			}
			return out
		}

		// Rotation: a refresh gives a new refresh token.
		rotated, err := refresh(first.Token.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if rotated.RefreshToken == "" || rotated.RefreshToken == first.Token.RefreshToken || rotated.AccessToken == "" ||
			rotated.AccessToken == first.Token.AccessToken {
			t.Fatalf("refresh did not rotate: refresh %q (was %q), access %q", rotated.RefreshToken, first.Token.RefreshToken, rotated.AccessToken)
		}
		if raw, _ := rotated.Extra("id_token").(string); raw != "" {
			if _, err := shop.Verifier.Verify(bg, raw); err != nil {
				t.Errorf("ID token from the refresh: %v", err)
			}
		}
		if got := introspect(rotated.AccessToken); got["active"] != true {
			t.Fatalf("introspect the refreshed access token: %v", got)
		}

		// Past the grace period, the old refresh token again is reuse: it
		// is refused and its whole family dies, the newest tokens too.
		env.Clock.Advance(30 * time.Second)
		if _, err := refresh(first.Token.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("reuse of the rotated refresh token: %v, want invalid_grant", err)
		}
		if _, err := refresh(rotated.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("newest refresh token after reuse: %v, want invalid_grant", err)
		}
		if got := introspect(rotated.AccessToken); got["active"] != false {
			t.Fatalf("introspect the family's access token after reuse: %v", got)
		}

		// The second sign-in's tokens are another family: still alive.
		got := introspect(second.Token.AccessToken)
		if got["active"] != true || got["client_id"] != shop.Client.ID || got["sub"] != idt.Subject {
			t.Fatalf("introspect the second sign-in's access token: %v", got)
		}
		// Revoking its refresh token ends the access token as well.
		status, out := postAsClient(t, env, shop, "/revoke", url.Values{"token": {second.Token.RefreshToken}, "token_type_hint": {"refresh_token"}})
		if status != http.StatusOK {
			t.Fatalf("revoke: %d %v", status, out)
		}
		if got := introspect(second.Token.AccessToken); got["active"] != false {
			t.Fatalf("introspect after revocation: %v", got)
		}
		if _, err := refresh(second.Token.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("refresh with the revoked token: %v, want invalid_grant", err)
		}
		if _, err := shop.Provider.UserInfo(bg, oauth2.StaticTokenSource(second.Token)); err == nil {
			t.Fatal("userinfo accepts the access token of a revoked refresh token")
		}
	})
}

// An app that says what is at stake (RFC 9396 authorization details) gets
// the customer's consent to that transaction, shown on the consent page,
// and the details back with its tokens.
func TestOIDCAuthorizationDetailsInBrowser(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	const email = "rosa@example.com"
	ctx := newTab(t)
	signUp(t, ctx, env, email, passphrase)
	bank := startRP(t, env, "Bank", false)
	if _, err := env.Server.Clients.Update(context.Background(), bank.Client.ID,
		client.Spec{AuthorizationDetailsTypes: &[]string{"payment_initiation"}}); err != nil {
		t.Fatal(err)
	}
	bank.AuthorizationDetails = `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"123.50"},"creditorName":"Merchant A"}]`

	open(t, ctx, bank.URL+"/login") // signed in at Foyer: straight to the consent page
	do(t, ctx, "wait for the consent buttons", chromedp.WaitVisible(allowButton))
	text := pageText(ctx)
	for _, want := range []string{"this time only", "payment_initiation", "instructedAmount.amount", "123.50", "Merchant A"} {
		if !strings.Contains(text, want) {
			t.Fatalf("consent page lacks %q:\n%s", want, text)
		}
	}
	resp := submitAndWait(t, ctx, allowButton)
	s := expectWelcome(t, ctx, bank, resp.Status, 1, email)
	details, _ := s.Token.Extra("authorization_details").([]any)
	if len(details) != 1 || !strings.Contains(fmt.Sprint(details[0]), "123.50") {
		t.Fatalf("token response authorization_details: %v", s.Token.Extra("authorization_details"))
	}
}

// A third-party app needs the customer's consent: Foyer asks after the
// sign-in, remembers the answer, and lists the app on the account page.
func TestOIDCConsentInBrowser(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	const email = "priya@example.com"
	ctx := newTab(t)
	signUp(t, ctx, env, email, passphrase)
	const appName = "Partner Rewards"
	partner := startRP(t, env, appName, false)

	ctx = freshContext(t, ctx)
	open(t, ctx, partner.URL+"/login")
	if u := location(t, ctx); "http://"+u.Host != env.URL || u.Path != "/login" {
		t.Fatalf("app sign-in: want Foyer's sign-in page, got %s\n%s", u, pageText(ctx))
	}
	typeInto(t, ctx, emailField, email)
	typeInto(t, ctx, curPasswordField, passphrase)
	resp := clickAndWait(t, ctx, signInButton) // to the consent page, at Foyer
	u := location(t, ctx)
	if resp.Status != http.StatusOK || "http://"+u.Host != env.URL || u.Path != "/oauth/continue" {
		t.Fatalf("after sign-in: want the consent page, got %d %s\n%s", resp.Status, u, pageText(ctx))
	}
	do(t, ctx, "wait for the consent buttons", chromedp.WaitVisible(allowButton), chromedp.WaitVisible(denyButton))
	if text := pageText(ctx); !strings.Contains(text, appName) || !strings.Contains(text, "See your email address") {
		t.Fatalf("consent page does not name the app and what it asks:\n%s", text)
	}
	if n := partner.signIns(); n != 0 {
		t.Fatalf("the app signed in %d times before consent", n)
	}

	resp = submitAndWait(t, ctx, allowButton)
	s := expectWelcome(t, ctx, partner, resp.Status, 1, email)
	if s.IDToken.Issuer != env.URL || !slices.Equal(s.IDToken.Audience, []string{partner.Client.ID}) {
		t.Fatalf("ID token: issuer %q audience %q", s.IDToken.Issuer, s.IDToken.Audience)
	}

	// The consent is remembered: the next sign-in asks nothing.
	resp = open(t, ctx, partner.URL+"/login")
	expectWelcome(t, ctx, partner, resp.Status, 2, email)

	// The account page lists the app, with a way to remove its access.
	resp = open(t, ctx, env.URL+"/account")
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /account: %d\n%s", resp.Status, pageText(ctx))
	}
	expectAccount(t, ctx, email)
	listed := eval[string](t, ctx, `Array.from(document.querySelectorAll('.consents li')).map(li => li.textContent).join("\n")`)
	if !strings.Contains(pageText(ctx), "Apps you allowed") || !strings.Contains(listed, appName) || !strings.Contains(listed, "Remove access") {
		t.Fatalf("account page does not list %s:\n%s", appName, pageText(ctx))
	}
}

// response_mode=form_post in a real browser: Foyer's page posts its answer
// to the app, under the page's Content-Security-Policy, both when the
// customer refuses (the error is posted too, not put in a redirect) and
// when they allow.
func TestOIDCFormPostInBrowser(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	const email = "quinn@example.com"
	ctx := newTab(t)
	signUp(t, ctx, env, email, passphrase)
	partner := startRP(t, env, "Partner Rewards", false)
	partner.ResponseMode = "form_post"

	ctx = freshContext(t, ctx)
	open(t, ctx, partner.URL+"/login")
	typeInto(t, ctx, emailField, email)
	typeInto(t, ctx, curPasswordField, passphrase)
	clickAndWait(t, ctx, signInButton) // to the consent page
	do(t, ctx, "refuse, and wait for the app's answer", chromedp.Click(denyButton), chromedp.WaitVisible(chromedp.ID("rp-error")))
	if u := location(t, ctx); u.Scheme+"://"+u.Host != partner.URL || u.Path != "/callback" || u.RawQuery != "" {
		t.Fatalf("refusal answered at %s, want a POST to the app's /callback", u)
	}
	if text := pageText(ctx); !strings.Contains(text, "access_denied") {
		t.Fatalf("the app did not get access_denied:\n%s", text)
	}

	open(t, ctx, partner.URL+"/login") // still signed in at Foyer: the consent page again
	do(t, ctx, "allow, and wait for the app's welcome", chromedp.Click(allowButton), chromedp.WaitVisible(chromedp.ID("verified")))
	if u := location(t, ctx); u.RawQuery != "" {
		t.Fatalf("the code came in the URL: %s", u)
	}
	expectWelcome(t, ctx, partner, http.StatusOK, 1, email)
}

// isOAuthError reports whether err is an error answer from the token
// endpoint with the given code.
func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}
