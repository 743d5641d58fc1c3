package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const goodPassword = "correct horse battery staple"

func expectStatus(t *testing.T, r *servertest.Response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL, r.StatusCode, want, r.Body)
	}
}

func location(t *testing.T, r *servertest.Response) string {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s %s: status %d, want 303\n%s", r.Request.Method, r.Request.URL, r.StatusCode, r.Body)
	}
	return r.Header.Get("Location")
}

// signUp drives the hosted sign-up pages to the end and returns the
// browser, signed in.
func signUp(t *testing.T, env *servertest.Env, email, password string) *servertest.Browser {
	t.Helper()
	b := env.NewBrowser(t)
	loc := location(t, b.Submit("/registration", url.Values{"email": {email}, "password": {password}}))
	if !strings.HasPrefix(loc, "/registration?flow=") {
		t.Fatalf("after sign-up: Location %q", loc)
	}
	page := b.Get(loc)
	expectStatus(t, page, 200)
	if !strings.Contains(page.Body, `autocomplete="one-time-code"`) {
		t.Fatalf("code page lacks a one-time-code field:\n%s", page.Body)
	}
	code := servertest.CodeFrom(t, env.MailTo(t, strings.ToLower(email), 1))
	done := b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}})
	if got := location(t, done); got != "/account" {
		t.Fatalf("after code: Location %q", got)
	}
	return b
}

func TestBrowserJourney(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		b := signUp(t, env, "Alice@Example.com", goodPassword)

		account := b.Get("/account")
		expectStatus(t, account, 200)
		if !strings.Contains(account.Body, "alice@example.com") || !strings.Contains(account.Body, "verified") {
			t.Fatalf("account page:\n%s", account.Body)
		}
		who := b.Get("/sessions/whoami")
		expectStatus(t, who, 200)
		if !strings.Contains(who.Body, `"email":"alice@example.com"`) || !strings.Contains(who.Body, `"verified":true`) {
			t.Fatalf("whoami: %s", who.Body)
		}
		oldToken := b.Cookie("foyer_session")

		// Sign out: GET only asks, POST signs out.
		expectStatus(t, b.Get("/logout"), 200)
		expectStatus(t, b.Get("/sessions/whoami"), 200)
		if got := location(t, b.Submit("/logout", url.Values{})); got != "/login?signed_out=1" {
			t.Fatalf("after logout: %q", got)
		}
		if r := b.Get("/login?signed_out=1"); !strings.Contains(r.Body, `data-id="logout.signed_out">You are signed out.</p>`) {
			t.Fatalf("the sign-in page after sign-out does not say so:\n%s", r.Body)
		}
		expectStatus(t, b.Get("/sessions/whoami"), 401)
		// The old token is dead server-side, not only forgotten by the browser.
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", oldToken, nil, nil), 401)

		// Sign in again.
		if got := location(t, b.Submit("/login", url.Values{"email": {"ALICE@example.com"}, "password": {goodPassword}})); got != "/account" {
			t.Fatalf("after login: %q", got)
		}
		expectStatus(t, b.Get("/sessions/whoami"), 200)
		if b.Cookie("foyer_session") == oldToken {
			t.Fatal("sign-in reused the old session token")
		}

		// A wrong password shows the error on the flow page after a 303.
		b2 := env.NewBrowser(t)
		loc := location(t, b2.Submit("/login", url.Values{"email": {"alice@example.com"}, "password": {"wrong password!"}}))
		page := b2.Get(loc)
		if !strings.Contains(page.Body, "not correct") {
			t.Fatalf("login error page:\n%s", page.Body)
		}
		// The address stays; the focus is on the password, to type again.
		if !strings.Contains(page.Body, `value="alice@example.com"`) || !regexp.MustCompile(`id="password"[^>]* autofocus>`).MatchString(page.Body) ||
			regexp.MustCompile(`id="email"[^>]* autofocus`).MatchString(page.Body) {
			t.Fatalf("after a wrong password, the email is not kept or the focus is not on the password:\n%s", page.Body)
		}

		// A form submitted after its flow expired says so, and keeps the
		// address that was typed.
		env.Clock.Advance(2 * time.Hour)
		loc = location(t, b2.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"alice@example.com"}, "password": {"x"}}))
		page = b2.Get(loc)
		if !strings.Contains(page.Body, "expired") || !strings.Contains(page.Body, `value="alice@example.com"`) {
			t.Fatalf("expired form:\n%s", page.Body)
		}
		if again := b2.Get(loc); strings.Contains(again.Body, `value="alice@example.com"`) {
			t.Fatal("the kept address outlived the page it was kept for")
		}
	})
}

func TestAPIJourney(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		var start api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, &start), 201)
		if start.Flow.State != "form" || start.Flow.Type != "registration" {
			t.Fatalf("start: %+v", start)
		}
		var sub api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{
			"traits": map[string]any{"email": "bob@example.com", "name": "Bob"}, "password": goodPassword,
		}, &sub), 200)
		if sub.Flow.State != "verify" || sub.SessionToken != "" {
			t.Fatalf("submit: %+v", sub)
		}
		code := servertest.CodeFrom(t, env.MailTo(t, "bob@example.com", 1))
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": code}, &done), 200)
		if done.SessionToken == "" || done.Flow.State != "done" || done.Identity == nil || !done.Identity.Email().Verified {
			t.Fatalf("code: %+v", done)
		}
		// Every step of the journey left its event, in order.
		events, err := env.Server.Events.List(t.Context(), event.Query{FlowID: start.Flow.ID})
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, e := range events {
			steps = append(steps, e.Type+"/"+e.Outcome)
			if e.Domain != "customers" || e.IP != "127.0.0.1" || e.OccurredAt.IsZero() {
				t.Fatalf("event lacks context: %+v", e)
			}
		}
		want := "registration.started/success verification.code_sent/success registration.submitted/pending " +
			"verification.submitted/success registration.completed/success verification.completed/success login.succeeded/success"
		if got := strings.Join(steps, " "); got != want {
			t.Fatalf("events:\n got %s\nwant %s", got, want)
		}
		var who api.WhoamiResponse
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", done.SessionToken, nil, &who), 200)
		if who.Identity.Email().Value != "bob@example.com" || who.Session.AAL != "aal1" {
			t.Fatalf("whoami: %+v", who)
		}
		// A used code cannot be replayed.
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": code}, nil), 409)

		expectStatus(t, env.JSON(t, "POST", "/api/logout", done.SessionToken, nil, nil), 204)
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", done.SessionToken, nil, nil), 401)
		expectStatus(t, env.JSON(t, "POST", "/api/logout", done.SessionToken, nil, nil), 401)

		var login api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &login), 201)
		var in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+login.Flow.ID, "", map[string]any{"identifier": "Bob@Example.com", "password": goodPassword}, &in), 200)
		if in.SessionToken == "" || in.Session.Methods[0] != "password" {
			t.Fatalf("login: %+v", in)
		}
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", in.SessionToken, nil, nil), 200)

		n, err := identity.NewStore(db).Count(t.Context(), "customers", identity.StateActive)
		if err != nil || n != 1 {
			t.Fatalf("active identities = %d, %v", n, err)
		}
	})
}

// A hosted form sent again once its step is over (back and resubmit, or a
// code after the attempts ran out) gets a 303 to the flow's page, which
// says where the flow stands: never an error, never a change.
func TestResentFormSeesOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		b := env.NewBrowser(t)
		loc := location(t, b.Submit("/registration", url.Values{"email": {"carol@example.com"}, "password": {goodPassword}}))
		page := b.Get(loc)
		csrf := servertest.CSRF(t, page.Body)
		code := servertest.CodeFrom(t, env.MailTo(t, "carol@example.com", 1))
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {csrf}, "code": {code}})); got != "/account" {
			t.Fatalf("after code: Location %q", got)
		}
		for _, form := range []url.Values{
			{"csrf_token": {csrf}, "code": {code}},
			{"csrf_token": {csrf}, "resend": {"1"}},
			{"csrf_token": {csrf}, "email": {"carol@example.com"}, "password": {goodPassword}},
		} {
			if got := location(t, b.Post(loc, form)); got != loc {
				t.Fatalf("%v sent again: Location %q, want %q", form, got, loc)
			}
		}
		expectStatus(t, b.Get("/sessions/whoami"), 200)

		// The right code after five wrong ones.
		b2 := env.NewBrowser(t)
		loc = location(t, b2.Submit("/registration", url.Values{"email": {"dave@example.com"}, "password": {goodPassword}}))
		csrf = servertest.CSRF(t, b2.Get(loc).Body)
		code = servertest.CodeFrom(t, env.MailTo(t, "dave@example.com", 1))
		for range 5 {
			location(t, b2.Post(loc, url.Values{"csrf_token": {csrf}, "code": {wrongCode(code)}}))
		}
		if got := location(t, b2.Post(loc, url.Values{"csrf_token": {csrf}, "code": {code}})); got != loc {
			t.Fatalf("code after the attempts ran out: Location %q, want %q", got, loc)
		}
		expectStatus(t, b2.Get(loc), 200)
		expectStatus(t, b2.Get("/sessions/whoami"), 401)
	})
}

// A throttled sign-in keeps its form and what was typed, and counts the
// wait down (assets/countdown.js) instead of sending the customer to an
// error page; once the wait is over the form goes through.
func TestThrottledSignInKeepsTheForm(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	env.Clock.Stop()
	signUp(t, env, "wanda@example.com", goodPassword)
	b := env.NewBrowser(t)
	page := b.Get("/login")
	action := "/login"
	var loc string
	for i := range 10 {
		r := b.Post(action, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"wanda@example.com"}, "password": {"not it"}})
		if r.StatusCode == http.StatusTooManyRequests {
			page = r
			break
		}
		loc = location(t, r)
		page = b.Get(loc)
		action = loc
		if i == 9 {
			t.Fatalf("no wait after 10 wrong passwords:\n%s", page.Body)
		}
	}
	for _, want := range []string{`data-id="too_many_attempts"`, `value="wanda@example.com"`, `data-wait-button`, `<script src="/assets/countdown.js" defer></script>`,
		`data-id="wait">Try again in <span data-countdown="`} {
		if !strings.Contains(page.Body, want) {
			t.Fatalf("throttled sign-in page lacks %s:\n%s", want, page.Body)
		}
	}
	if r := b.Get("/assets/countdown.js"); r.StatusCode != 200 {
		t.Fatalf("countdown.js: %d", r.StatusCode)
	}
	env.Clock.Advance(10 * time.Minute)
	// The password is checked again: right, it leads on (here to the
	// code a sign-in after many failures asks for).
	got := location(t, b.Post(action, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"wanda@example.com"}, "password": {goodPassword}}))
	if next := b.Get(got).Body; got != "/account" && !strings.Contains(next, `data-id="confirm_sign_in"`) {
		t.Fatalf("after the wait: %q\n%s", got, next)
	}
}

// The code page shows when a new code may be asked for, counting down,
// instead of answering the early ask with an error only.
func TestResendShowsItsTimer(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	env.Clock.Stop()
	b := env.NewBrowser(t)
	loc := location(t, b.Submit("/registration", url.Values{"email": {"otto@example.com"}, "password": {goodPassword}}))
	page := b.Get(loc)
	if !strings.Contains(page.Body, `<span class="hint resend-wait">You can ask for a new code in <span data-countdown="`) ||
		!strings.Contains(page.Body, `class="link" data-wait-button>`) || !strings.Contains(page.Body, "/assets/countdown.js") {
		t.Fatalf("code page without the resend timer:\n%s", page.Body)
	}
	env.Clock.Advance(10 * time.Minute)
	if page := b.Get(loc); strings.Contains(page.Body, "resend-wait") || strings.Contains(page.Body, "countdown.js") {
		t.Fatalf("the timer outlived the wait:\n%s", page.Body)
	}
}
