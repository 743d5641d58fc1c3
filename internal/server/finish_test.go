package server_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// abandonSignUp starts a sign-up of email and leaves it at its code step,
// as a customer who closed the tab would; it returns the sign-up's code
// (which the test then never uses).
func abandonSignUp(t *testing.T, env *servertest.Env, email string) {
	t.Helper()
	b := env.NewBrowser(t)
	location(t, b.Submit("/registration", url.Values{"email": {email}, "password": {goodPassword}}))
	env.MailTo(t, email, 1)
}

var linkRE = regexp.MustCompile(`https?://\S+/login\?flow=[0-9a-f-]+`)

// finishOnPage enters a "finish signing up" code on the code step at loc,
// then a password, and checks that the customer ends signed in to an
// active account with the address verified.
func finishOnPage(t *testing.T, b *servertest.Browser, loc, code, email string) {
	t.Helper()
	choosePassword(t, b, enterCode(t, b, loc, code), email)
}

// enterCode enters code on the code step at loc and returns the page
// that follows.
func enterCode(t *testing.T, b *servertest.Browser, loc, code string) string {
	t.Helper()
	page := b.Get(loc)
	expectStatus(t, page, 200)
	return location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}}))
}

// choosePassword finishes a sign-up on its password page at next.
func choosePassword(t *testing.T, b *servertest.Browser, next, email string) {
	t.Helper()
	page := b.Get(next)
	expectStatus(t, page, 200)
	if !strings.Contains(page.Body, "Choose a password to finish signing up") || !strings.Contains(page.Body, `autocomplete="new-password"`) ||
		!strings.Contains(page.Body, `autocomplete="username" value="`+email+`"`) {
		t.Fatalf("finish page:\n%s", page.Body)
	}
	// The password is checked like any new one.
	weak := location(t, b.Post(next, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "password": {"short"}}))
	page = b.Get(weak)
	if !strings.Contains(page.Body, `id="password-error"`) {
		t.Fatalf("a short password was not refused:\n%s", page.Body)
	}
	if got := location(t, b.Post(next, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "password": {"a brand new passphrase"}})); got != "/account" {
		t.Fatalf("after the password: Location %q", got)
	}
	who := b.Get("/sessions/whoami")
	expectStatus(t, who, 200)
	if !strings.Contains(who.Body, `"email":"`+email+`"`) || !strings.Contains(who.Body, `"verified":true`) {
		t.Fatalf("whoami after finishing: %s", who.Body)
	}
}

// A sign-in with a password to an address whose sign-up never finished
// answers as for an unknown address, and mails the address a code that
// finishes it, with a link to the page to enter it on — which any
// browser may open, and the one that enters the code keeps.
func TestFinishSignUpFromPasswordSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		abandonSignUp(t, env, "penny@example.com")

		visitor := env.NewBrowser(t)
		pending := visitor.Submit("/login", url.Values{"email": {"penny@example.com"}, "password": {goodPassword}})
		unknown := visitor.Submit("/login", url.Values{"email": {"nobody@example.com"}, "password": {goodPassword}})
		pendingPage, unknownPage := visitor.Get(location(t, pending)), visitor.Get(location(t, unknown))
		norm := func(s string) string {
			s = strings.ReplaceAll(s, "penny@example.com", "ADDRESS")
			s = strings.ReplaceAll(s, "nobody@example.com", "ADDRESS")
			return regexp.MustCompile(`flow=[0-9a-f-]+|value="[^"]{20,}"`).ReplaceAllString(s, "X")
		}
		if norm(pendingPage.Body) != norm(unknownPage.Body) || pendingPage.StatusCode != unknownPage.StatusCode {
			t.Fatalf("the answer tells an unfinished sign-up from an unknown address:\n%s\n----\n%s", pendingPage.Body, unknownPage.Body)
		}

		mail := env.MailTo(t, "penny@example.com", 2)
		if mail.Subject != "Finish signing up for Foyer" {
			t.Fatalf("second mail: %q", mail.Subject)
		}
		link := linkRE.FindString(mail.Text)
		if link == "" {
			t.Fatalf("no link in the mail:\n%s", mail.Text)
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		// Opened on another device: the link works there.
		phone := env.NewBrowser(t)
		page := phone.Get(u.RequestURI())
		expectStatus(t, page, 200)
		if !strings.Contains(page.Body, "To finish signing up, enter the code we sent to penny@example.com") {
			t.Fatalf("the link's page:\n%s", page.Body)
		}
		next := enterCode(t, phone, u.RequestURI(), servertest.CodeFrom(t, mail))
		// The browser that entered the code has the flow: another one,
		// with the same link, does not.
		if page := visitor.Get(next); strings.Contains(page.Body, "Choose a password to finish signing up") {
			t.Fatalf("another browser reaches the password step:\n%s", page.Body)
		}
		choosePassword(t, phone, next, "penny@example.com")
		// Nothing went to the unknown address; the new password signs in.
		if n := len(env.Outbox(t, "nobody@example.com")); n != 0 {
			t.Fatalf("%d mails to an unknown address", n)
		}
		fresh := env.NewBrowser(t)
		if got := location(t, fresh.Submit("/login", url.Values{"email": {"penny@example.com"}, "password": {"a brand new passphrase"}})); got != "/account" {
			t.Fatalf("sign-in with the new password: %q", got)
		}
	})
}

// Signing in by code, recovering and verifying an address whose sign-up
// never finished all mail a code that finishes it, to the code step
// their pages show for any address.
func TestFinishSignUpFromCodeSteps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		for i, tc := range []struct{ path, email string }{
			{"/login", "quinn@example.com"},
			{"/recovery", "rita@example.com"},
			{"/verification", "sam@example.com"},
		} {
			t.Run(tc.path, func(t *testing.T) {
				abandonSignUp(t, env, tc.email)
				b := env.NewBrowser(t)
				form := url.Values{"email": {tc.email}}
				if tc.path == "/login" {
					form.Set("method", "code")
				}
				loc := location(t, b.Submit(tc.path, form))
				mail := env.MailTo(t, tc.email, 2)
				if mail.Subject != "Finish signing up for Foyer" || linkRE.MatchString(mail.Text) {
					t.Fatalf("mail %d: %q\n%s", i, mail.Subject, mail.Text)
				}
				finishOnPage(t, b, loc, servertest.CodeFrom(t, mail), tc.email)
			})
		}
	})
}

// The API finishes a sign-up from verification too: the code, then the
// password on the verification flow.
func TestFinishSignUpAPI(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	abandonSignUp(t, env, "tess@example.com")
	var f api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/verification", "", nil, &f), 201)
	expectStatus(t, env.JSON(t, "POST", "/api/verification/"+f.Flow.ID, "", map[string]any{"email": "tess@example.com"}, &f), 200)
	code := servertest.CodeFrom(t, env.MailTo(t, "tess@example.com", 2))
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+f.Flow.ID+"/code", "", map[string]any{"code": code}, &f), 200)
	if f.Flow.State != "password" {
		t.Fatalf("after the code: %+v", f.Flow)
	}
	expectStatus(t, env.JSON(t, "POST", "/api/verification/"+f.Flow.ID, "", map[string]any{"password": "a brand new passphrase"}, &f), 200)
	if f.SessionToken == "" || f.Flow.State != "done" {
		t.Fatalf("after the password: %+v", f)
	}
}

// A wrong code says how many tries it has left when they are few.
func TestCodeAttemptsLeft(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := env.NewBrowser(t)
	loc := location(t, b.Submit("/registration", url.Values{"email": {"uma@example.com"}, "password": {goodPassword}}))
	code := servertest.CodeFrom(t, env.MailTo(t, "uma@example.com", 1))
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	var said []string
	for range 4 {
		page := b.Get(loc)
		page = b.Get(location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {wrong}})))
		m := regexp.MustCompile(`id="code-error"[^>]*>([^<]*)<`).FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no code error:\n%s", page.Body)
		}
		said = append(said, m[1])
	}
	// Five tries a code: the first two wrong ones say nothing of it.
	want := []string{"Check the latest email and try again.", "Check the latest email and try again.",
		"2 tries left with this code.", "1 try left with this code."}
	for i, w := range want {
		if !strings.Contains(said[i], w) {
			t.Errorf("wrong code %d: %q, want %q", i+1, said[i], w)
		}
	}
}

// The code step of a sign-up lets the customer fix a mistyped address:
// back to the form with what was typed (but the password), and the code
// sent to the wrong address stops working.
func TestSignUpChangeAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		b := env.NewBrowser(t)
		loc := location(t, b.Submit("/registration", url.Values{"email": {"vera@exmaple.com"}, "name": {"Vera"}, "password": {goodPassword}}))
		oldCode := servertest.CodeFrom(t, env.MailTo(t, "vera@exmaple.com", 1))
		page := b.Get(loc)
		if !strings.Contains(page.Body, "Wrong address?") {
			t.Fatalf("code step without a way to fix the address:\n%s", page.Body)
		}
		back := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "change_email": {"1"}}))
		form := b.Get(back)
		expectStatus(t, form, 200)
		if !strings.Contains(form.Body, `value="vera@exmaple.com"`) || !strings.Contains(form.Body, `value="Vera"`) || !strings.Contains(form.Body, `type="password"`) {
			t.Fatalf("the form is not refilled:\n%s", form.Body)
		}
		if evs, err := env.Server.Events.List(context.Background(), event.Query{Type: event.RegistrationEmailChanged}); err != nil || len(evs) != 1 {
			t.Fatalf("registration.email_changed events: %v %v", evs, err)
		}
		// The old code is no use now.
		if r := b.Post(back, url.Values{"csrf_token": {servertest.CSRF(t, form.Body)}, "code": {oldCode}}); r.StatusCode == 303 && r.Header.Get("Location") == "/account" {
			t.Fatal("the code sent to the mistyped address still completes the sign-up")
		}
		form = b.Get(back)
		next := location(t, b.Post(back, url.Values{"csrf_token": {servertest.CSRF(t, form.Body)}, "email": {"vera@example.com"}, "name": {"Vera"}, "password": {goodPassword}}))
		page = b.Get(next)
		if !strings.Contains(page.Body, "vera@example.com") {
			t.Fatalf("code step for the fixed address:\n%s", page.Body)
		}
		code := servertest.CodeFrom(t, env.MailTo(t, "vera@example.com", 1))
		if got := location(t, b.Post(next, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}})); got != "/account" {
			t.Fatalf("after the code: %q", got)
		}
	})
}
