package server_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A customer changes the password: with a recent sign-in, or else with
// the current password (a wrong one counts as a failed sign-in). Every
// other session ends, the address is told, and the change is an event.
func TestChangePassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "paz@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var other api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &other), 200)

		env.Clock.Advance(11 * time.Minute) // the sign-in is no longer fresh
		change := func(current, next string) *servertest.Response {
			return env.JSON(t, "POST", "/api/settings/password", tok, map[string]any{"current_password": current, "password": next}, nil)
		}
		expectProblem(t, change("", newPassword), 401, "reauthenticate")
		p := expectProblem(t, change("not my password", newPassword), 400, "invalid-input")
		if p.Errors[0].ID != "current_password_invalid" {
			t.Fatalf("wrong current password: %+v", p)
		}
		p = expectProblem(t, change(goodPassword, "short"), 400, "invalid-input")
		if p.Errors[0].Field != "password" {
			t.Fatalf("short new password: %+v", p)
		}
		if _, st := whoami(t, env, other.SessionToken); st != 200 {
			t.Fatal("a refused change ended a session")
		}
		expectStatus(t, change(goodPassword, newPassword), 204)

		if _, st := whoami(t, env, other.SessionToken); st != 401 {
			t.Fatal("the other session outlived the password change")
		}
		if _, st := whoami(t, env, tok); st != 200 {
			t.Fatal("the session that changed the password was signed out")
		}
		expectStatus(t, signInAPI(t, env, email, goodPassword), 400)
		expectStatus(t, signInAPI(t, env, email, newPassword), 200)
		if m := env.LatestMail(t, email, "Security change on your Foyer account"); !strings.Contains(m.Text, "the password was changed") {
			t.Fatalf("notice:\n%s", m.Text)
		}
		evs, err := env.Server.Events.List(t.Context(), event.Query{Type: event.SettingsChanged})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Outcome+":"+e.Reason)
		}
		if strings.Join(got, " ") != "failure:current_password_invalid success:password" {
			t.Fatalf("settings events: %v", got)
		}
	})
}

// The name changes through the API and the hosted page; the email address
// does not change that way, and a trait the schema refuses changes nothing.
func TestChangeTraits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "tia@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var ident struct {
			Traits map[string]any `json:"traits"`
		}
		expectStatus(t, env.JSON(t, "PATCH", "/api/settings/traits", tok, map[string]any{"traits": map[string]any{"name": "Tia Kovač"}}, &ident), 200)
		if ident.Traits["name"] != "Tia Kovač" || ident.Traits["email"] != email {
			t.Fatalf("traits: %+v", ident.Traits)
		}
		p := expectProblem(t, env.JSON(t, "PATCH", "/api/settings/traits", tok, map[string]any{"traits": map[string]any{"email": "other@example.com"}}, nil), 400, "invalid-input")
		if p.Errors[0].ID != "email_change_separate" {
			t.Fatalf("email through traits: %+v", p)
		}
		expectProblem(t, env.JSON(t, "PATCH", "/api/settings/traits", tok, map[string]any{"traits": map[string]any{"name": strings.Repeat("x", 300)}}, nil), 400, "invalid-input")
		expectProblem(t, env.JSON(t, "PATCH", "/api/settings/traits", "", map[string]any{"traits": map[string]any{"name": "x"}}, nil), 401, "unauthenticated")
		if who, _ := whoami(t, env, tok); !strings.Contains(string(who.Identity.Traits), "Tia Kovač") {
			t.Fatalf("after refused changes: %s", who.Identity.Traits)
		}

		// Hosted: the account page links to the profile, which saves.
		b := env.NewBrowser(t)
		signInBrowser(t, b, email, goodPassword)
		if acct := b.Get("/account"); !strings.Contains(acct.Body, `href="/account/profile"`) || !strings.Contains(acct.Body, `href="/account/password"`) {
			t.Fatalf("account page lacks the settings:\n%s", acct.Body)
		}
		page := b.Get("/account/profile")
		if !strings.Contains(page.Body, `autocomplete="name"`) {
			t.Fatalf("profile page:\n%s", page.Body)
		}
		if got := location(t, b.Post("/account/profile", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "name": {"Tia K."}})); got != "/account?changed=profile" {
			t.Fatalf("after saving: %q", got)
		}
		if acct := b.Get("/account?changed=profile"); !strings.Contains(acct.Body, "Tia K.") || !strings.Contains(acct.Body, "Your profile is saved.") {
			t.Fatalf("account page after saving:\n%s", acct.Body)
		}
	})
}

// signInBrowser signs a browser in with a password on the hosted page.
func signInBrowser(t *testing.T, b *servertest.Browser, email, pw string) {
	t.Helper()
	page := b.Get("/login")
	if got := location(t, b.Post("/login", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {email}, "password": {pw}})); got != "/account" {
		t.Fatalf("sign-in went to %q", got)
	}
}

// A customer sees the devices signed in and signs one out, or every
// other one; the current one is kept (signing it out is /logout).
func TestSignOutOtherDevices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "ola@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var second, third api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &second), 200)
		expectStatus(t, signInAPI(t, env, email, goodPassword, &third), 200)

		var list api.SessionList
		r := env.JSON(t, "GET", "/api/sessions", tok, nil, &list)
		expectStatus(t, r, 200)
		if len(list.Sessions) != 3 || !list.Sessions[0].Current || list.Sessions[1].Current || list.Sessions[0].Network != "127.0.0.0/24" {
			t.Fatalf("sessions: %+v", list.Sessions)
		}
		expectProblem(t, env.JSON(t, "DELETE", "/api/sessions/"+list.Sessions[0].SessionID, tok, nil, nil), 400, "invalid-input")
		expectProblem(t, env.JSON(t, "DELETE", "/api/sessions/nope", tok, nil, nil), 404, "session-not-found")
		expectStatus(t, env.JSON(t, "DELETE", "/api/sessions/"+second.Session.ID, tok, nil, nil), 204)
		if _, st := whoami(t, env, second.SessionToken); st != 401 {
			t.Fatal("the device signed out still works")
		}
		if _, st := whoami(t, env, third.SessionToken); st != 200 {
			t.Fatal("another device was signed out too")
		}
		// Another account's session is not this one's to end.
		stranger := signUpAPI(t, env, "stranger@example.com")
		expectProblem(t, env.JSON(t, "DELETE", "/api/sessions/"+stranger.Session.ID, tok, nil, nil), 404, "session-not-found")
		expectStatus(t, env.JSON(t, "DELETE", "/api/sessions", tok, nil, nil), 204)
		if _, st := whoami(t, env, third.SessionToken); st != 401 {
			t.Fatal("sign out everywhere else left a device")
		}
		if _, st := whoami(t, env, tok); st != 200 {
			t.Fatal("sign out everywhere else signed this device out")
		}
		if _, st := whoami(t, env, stranger.SessionToken); st != 200 {
			t.Fatal("another account was signed out")
		}

		// Hosted: the account page lists the devices, with a button each.
		b := env.NewBrowser(t)
		signInBrowser(t, b, email, goodPassword)
		acct := b.Get("/account")
		if strings.Count(acct.Body, "Sign out this device") != 1 || !strings.Contains(acct.Body, "this device") {
			t.Fatalf("account page devices:\n%s", acct.Body)
		}
		if got := location(t, b.Post("/account/sessions/revoke", url.Values{"csrf_token": {servertest.CSRF(t, acct.Body)}})); got != "/account?changed=devices#devices" {
			t.Fatalf("after signing out the others: %q", got)
		}
		if _, st := whoami(t, env, tok); st != 401 {
			t.Fatal("the API session outlived sign out everywhere else")
		}
	})
}
