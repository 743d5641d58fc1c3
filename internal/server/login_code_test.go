package server_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func TestEmailCodeSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		id, code := startAPIRegistration(t, env, "nora@example.com")
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, nil), 200)

		// API: ask for a code, enter it, get a session signed in by code only.
		var start api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		var sent api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "Nora@Example.com", "method": "code"}, &sent), 200)
		if sent.Flow.State != "verify" || sent.SessionToken != "" {
			t.Fatalf("code request: %+v", sent)
		}
		m := env.MailTo(t, "nora@example.com", 2)
		if !strings.Contains(m.Subject, "sign") && !strings.Contains(strings.ToLower(m.Text), "sign in") {
			t.Fatalf("sign-in code mail: %s", m.Subject)
		}
		var in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": servertest.CodeFrom(t, m)}, &in), 200)
		if in.SessionToken == "" || len(in.Session.Methods) != 1 || in.Session.Methods[0] != "email_code" {
			t.Fatalf("code sign-in: %+v", in.Session)
		}
		// A code proves only the mailbox: a sign-in by code on a device new
		// to the account is announced to the address.
		notice := env.MailTo(t, "nora@example.com", 3)
		if notice.Subject != "New sign-in to your Foyer account" || !strings.Contains(notice.Text, "from network 127.0.0.1") {
			t.Fatalf("sign-in notice: %s\n%s", notice.Subject, notice.Text)
		}

		// Hosted page: the same, with the "email me a code" button.
		b := env.NewBrowser(t)
		page := b.Get("/login")
		if !strings.Contains(page.Body, `name="method" value="code"`) {
			t.Fatalf("login page lacks the code option:\n%s", page.Body)
		}
		loc := location(t, b.Post("/login", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"nora@example.com"}, "method": {"code"}}))
		codePage := b.Get(loc)
		if !strings.Contains(codePage.Body, `autocomplete="one-time-code"`) {
			t.Fatalf("code page:\n%s", codePage.Body)
		}
		c := servertest.CodeFrom(t, env.MailTo(t, "nora@example.com", 4))
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, codePage.Body)}, "code": {c}})); got != "/account" {
			t.Fatalf("after code: %q", got)
		}
		expectStatus(t, b.Get("/sessions/whoami"), 200)
		if m := env.MailTo(t, "nora@example.com", 5); m.Subject != "New sign-in to your Foyer account" || !strings.Contains(m.Text, "An app or device we could not identify") {
			t.Fatalf("notice of the browser's sign-in: %s\n%s", m.Subject, m.Text)
		}
		// Signing in by code again on that browser, now known: no notice.
		b.Submit("/logout", url.Values{})
		page = b.Get("/login")
		loc = location(t, b.Post("/login", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"nora@example.com"}, "method": {"code"}}))
		codePage = b.Get(loc)
		c = servertest.CodeFrom(t, env.MailTo(t, "nora@example.com", 6))
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, codePage.Body)}, "code": {c}})); got != "/account" {
			t.Fatalf("after the second code: %q", got)
		}
		if n := queuedMail(t, db, "nora@example.com"); n != 6 {
			t.Fatalf("%d mails queued, want 6: a known device's sign-in is not announced", n)
		}
	})
}

func TestEmailCodeNoEnumerationAndLimits(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	id, code := startAPIRegistration(t, env, "olga@example.com")
	env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, nil)
	ask := func(email string) *servertest.Response {
		var start api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		return env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "method": "code"}, nil)
	}
	known, unknown := ask("olga@example.com"), ask("nobody@example.com")
	if known.StatusCode != unknown.StatusCode || normalize(known.Body, "olga@example.com") != normalize(unknown.Body, "nobody@example.com") {
		t.Fatalf("code request differs:\n%s\n%s", known.Body, unknown.Body)
	}
	if n := len(env.Outbox(t, "nobody@example.com")); n != 0 {
		t.Fatalf("%d mails stored for an unknown address", n)
	}
	// Nobody can flood a mailbox: after 5 sends in an hour, more wait.
	var last *servertest.Response
	for range 6 {
		last = ask("olga@example.com")
	}
	expectStatus(t, last, 429)
}

// A code sign-in that stops at the second factor is announced too: whoever
// reads the mail but lacks the second factor leaves a trace.
func TestCodeSignInStoppedAtTheSecondFactorIsAnnounced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		b := signUp(t, env, "tia@example.com", goodPassword)
		enrolTOTP(t, env, b)
		// Mail 2, the security notice, delivered before the code is asked
		// for: mails to one address may be delivered out of the order they
		// were written in.
		env.MailTo(t, "tia@example.com", 2)
		var start, sent api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "tia@example.com", "method": "code"}, &sent), 200)
		code := servertest.CodeFrom(t, env.MailTo(t, "tia@example.com", 3))
		var in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": code}, &in), 200)
		if in.Flow.State != "second_factor" || in.SessionToken != "" {
			t.Fatalf("a code sign-in of an account with an authenticator app: %+v", in.Flow)
		}
		if m := env.MailTo(t, "tia@example.com", 4); !strings.Contains(m.Text, "to start signing in") || !strings.Contains(m.Text, "second factor") {
			t.Fatalf("notice: %s\n%s", m.Subject, m.Text)
		}
	})
}
