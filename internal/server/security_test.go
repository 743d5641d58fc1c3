package server_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func countIdentities(t *testing.T, db *store.DB) int {
	t.Helper()
	s := identity.NewStore(db)
	n := 0
	for _, state := range []string{identity.StatePending, identity.StateActive} {
		c, err := s.Count(t.Context(), "customers", state)
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

func TestCSRF(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := env.NewBrowser(t)
	page := b.Get("/registration")
	form := url.Values{"email": {"mallory@example.com"}, "password": {goodPassword}}

	// No token.
	r := b.Post("/registration", form)
	expectStatus(t, r, http.StatusForbidden)
	// A token from another browser.
	other := env.NewBrowser(t)
	form.Set("csrf_token", servertest.CSRF(t, other.Get("/registration").Body))
	expectStatus(t, b.Post("/registration", form), http.StatusForbidden)
	// A valid token, but a cross-site request.
	form.Set("csrf_token", servertest.CSRF(t, page.Body))
	req, _ := http.NewRequest("POST", env.URL+"/registration", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		resp.Header.Get("Content-Security-Policy") == "" || !strings.Contains(string(body), "another website") {
		t.Fatalf("cross-site POST: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	// Logout without a token does not sign anyone out.
	signed := signUp(t, env, "carol@example.com", goodPassword)
	expectStatus(t, signed.Post("/logout", url.Values{}), http.StatusForbidden)
	expectStatus(t, signed.Get("/sessions/whoami"), http.StatusOK)

	if n := countIdentities(t, env.DB); n != 1 {
		t.Fatalf("identities = %d; refused requests changed something", n)
	}
	if n := len(env.Outbox(t, "mallory@example.com")); n != 0 {
		t.Fatalf("refused requests stored %d mails", n)
	}
}

// The JSON APIs answer a path or method they do not have with a problem,
// like every other error of theirs.
func TestAPIMissesAreProblems(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	cases := []struct {
		method, path string
		status       int
		kind, allow  string
	}{
		{"GET", "/api/login", 405, "method-not-allowed", "POST"},
		{"DELETE", "/api/flows/00000000-0000-4000-8000-000000000000", 405, "method-not-allowed", "GET, HEAD"},
		{"POST", "/sessions/whoami", 405, "method-not-allowed", "GET, HEAD"},
		{"GET", "/api/nope", 404, "not-found", ""},
		{"GET", "/admin/nope", 404, "not-found", ""},
		{"GET", "/api", 404, "not-found", ""},
		{"POST", "/sessions", 404, "not-found", ""},
		{"GET", "/admin", 404, "not-found", ""},
	}
	for _, tc := range cases {
		var p api.Problem
		r := env.JSON(t, tc.method, tc.path, "", nil, &p)
		if r.StatusCode != tc.status || r.Header.Get("Content-Type") != "application/problem+json" || p.Type != problem.TypeBase+tc.kind ||
			r.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d %s Allow %q %+v", tc.method, tc.path, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Allow"), p)
		}
	}
	// Routes with wildcards still get them.
	var start api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &start), 201)
	expectStatus(t, env.JSON(t, "GET", "/api/flows/"+start.Flow.ID, "", nil, nil), 200)
}

func TestPageSecurityHeaders(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := env.NewBrowser(t)
	for _, path := range []string{"/registration", "/login", "/verification", "/logout"} {
		r := b.Get(path)
		expectStatus(t, r, 200)
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Count(r.Body, "<script") != strings.Count(r.Body, `<script src="/assets/`) || strings.Contains(r.Body, "style=") {
			t.Errorf("%s: inline script or style", path)
		}
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, r.Header)
		}
	}
	// GET never changes state: a GET to /logout keeps the session.
	s := signUp(t, env, "dave@example.com", goodPassword)
	s.Get("/logout")
	expectStatus(t, s.Get("/sessions/whoami"), 200)
}

func cookieAttrs(t *testing.T, r *servertest.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no Set-Cookie %s in %v", name, r.Header["Set-Cookie"])
	return nil
}

func TestCookies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, prod := range []bool{false, true} {
			var opts []servertest.Option
			name := "foyer_session"
			if prod {
				opts = append(opts, servertest.Production())
				name = "__Host-foyer_session"
			}
			db := db
			if prod {
				if db.Dialect == store.SQLite {
					db = storetest.NewSQLite(t)
				} else {
					db = storetest.NewPostgres(t)
				}
			}
			env := servertest.Start(t, db, opts...)
			// In production the cookies are Secure, which an http client
			// will not send back; drive the API to get a session and check
			// the hosted page cookies on a page load.
			r := env.NewBrowser(t).Get("/login")
			for _, c := range r.Cookies() {
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != prod || c.Path != "/" || c.Domain != "" {
					t.Errorf("prod=%v cookie %s: %+v", prod, c.Name, c)
				}
				if prod && !strings.HasPrefix(c.Name, "__Host-") {
					t.Errorf("cookie %s lacks __Host- prefix", c.Name)
				}
			}
			if prod {
				continue
			}
			b := env.NewBrowser(t)
			loc := location(t, b.Submit("/registration", url.Values{"email": {"erin@example.com"}, "password": {goodPassword}}))
			page := b.Get(loc)
			code := servertest.CodeFrom(t, env.MailTo(t, "erin@example.com", 1))
			done := b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}})
			c := cookieAttrs(t, done, name)
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.MaxAge <= 0 {
				t.Errorf("session cookie %+v", c)
			}
			if !strings.HasPrefix(c.Value, "fys_") || len(c.Value) != 47 {
				t.Errorf("session token shape %q", c.Value)
			}
		}
	})
}

var volatile = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|name="csrf_token" value="[^"]+"|"expires_at":"[^"]+"`)

// normalize removes what legitimately differs between two responses:
// flow ids, CSRF tokens, expiry times, the email address and the date.
func normalize(s, email string) string {
	s = volatile.ReplaceAllString(s, "<v>")
	return strings.ReplaceAll(s, email, "<email>")
}

func headerShape(h http.Header) string {
	var parts []string
	for k, v := range h {
		if k == "Date" || k == "Content-Length" {
			continue
		}
		parts = append(parts, k+": "+volatile.ReplaceAllString(strings.Join(v, ","), "<v>"))
	}
	sortStrings(parts)
	return strings.Join(parts, "\n")
}

func TestNoEnumerationRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "known@example.com", goodPassword)

		type outcome struct{ status, headers, post, page string }
		try := func(email string) outcome {
			b := env.NewBrowser(t)
			b.Get("/registration")
			r := b.Submit("/registration", url.Values{"email": {email}, "password": {"another good passphrase"}})
			page := b.Get(r.Header.Get("Location"))
			return outcome{r.Status, headerShape(r.Header), normalize(r.Body, email), normalize(page.Body, email)}
		}
		known, unknown := try("known@example.com"), try("new@example.com")
		if known != unknown {
			t.Fatalf("registration differs for a known address:\nknown:   %+v\nunknown: %+v", known, unknown)
		}
		// The owner is told; the newcomer gets a code.
		if m := env.MailTo(t, "known@example.com", 2); !strings.Contains(m.Text, "already") {
			t.Fatalf("owner mail: %s", m.Text)
		}
		servertest.CodeFrom(t, env.MailTo(t, "new@example.com", 1))

		// The same through the JSON API.
		api := func(email string) (string, string) {
			var start struct{ Flow struct{ ID string } }
			env.JSON(t, "POST", "/api/registration", "", nil, &start)
			r := env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{"traits": map[string]any{"email": email}, "password": "yet another passphrase"}, nil)
			return r.Status + headerShape(r.Header), normalize(r.Body, email)
		}
		kh, kb := api("known@example.com")
		uh, ub := api("new2@example.com")
		if kh != uh || kb != ub {
			t.Fatalf("API registration differs:\n%s %s\n%s %s", kh, kb, uh, ub)
		}
	})
}

func TestNoEnumerationLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "known@example.com", goodPassword)
		try := func(email string) [3]string {
			b := env.NewBrowser(t)
			r := b.Submit("/login", url.Values{"email": {email}, "password": {"not the password"}})
			page := b.Get(r.Header.Get("Location"))
			return [3]string{r.Status + headerShape(r.Header), normalize(page.Body, email), page.Status}
		}
		if k, u := try("known@example.com"), try("nobody@example.com"); k != u {
			t.Fatalf("login differs:\nknown:   %v\nunknown: %v", k, u)
		}
		api := func(email string) string {
			var start struct{ Flow struct{ ID string } }
			env.JSON(t, "POST", "/api/login", "", nil, &start)
			r := env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "password": "not the password"}, nil)
			return r.Status + headerShape(r.Header) + normalize(r.Body, email)
		}
		if k, u := api("known@example.com"), api("nobody@example.com"); k != u {
			t.Fatalf("API login differs:\n%s\n%s", k, u)
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	var start api.FlowResponse
	env.JSON(t, "POST", "/api/registration", "", nil, &start)
	path := "/api/registration/" + start.Flow.ID
	cases := []struct {
		name   string
		body   any
		status int
		kind   string
	}{
		{"malformed json", `{"traits":`, 400, "malformed-json"},
		{"unknown field", `{"traits":{"email":"a@example.com"},"password":"x","admin":true}`, 400, "malformed-json"},
		{"two objects", `{} {}`, 400, "malformed-json"},
		{"wrong type", `{"traits":"a@example.com"}`, 400, "malformed-json"},
		{"huge body", `{"password":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "body-too-large"},
		{"invalid email", map[string]any{"traits": map[string]any{"email": "not-an-email"}, "password": goodPassword}, 400, "invalid-input"},
		{"unknown trait", map[string]any{"traits": map[string]any{"email": "a@example.com", "role": "admin"}, "password": goodPassword}, 400, "invalid-input"},
		{"short password", map[string]any{"traits": map[string]any{"email": "a@example.com"}, "password": "short"}, 400, "invalid-input"},
		{"common password", map[string]any{"traits": map[string]any{"email": "a@example.com"}, "password": "password123"}, 400, "invalid-input"},
		{"password like email", map[string]any{"traits": map[string]any{"email": "alexander@example.com"}, "password": "alexander2024"}, 400, "invalid-input"},
	}
	for _, tc := range cases {
		var p api.Problem
		r := env.JSON(t, "POST", path, "", tc.body, &p)
		if r.StatusCode != tc.status || !strings.HasSuffix(p.Type, tc.kind) || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %+v", tc.name, r.StatusCode, p)
		}
	}
	// Nothing changed: the flow is still at its first step, and no
	// identity or mail exists.
	var f api.FlowResponse
	expectStatus(t, env.JSON(t, "GET", "/api/flows/"+start.Flow.ID, "", nil, &f), 200)
	if f.Flow.State != "form" || countIdentities(t, env.DB) != 0 || len(env.Outbox(t, "")) != 0 {
		t.Fatalf("bad input changed state: flow %s, identities %d, mails %d", f.Flow.State, countIdentities(t, env.DB), len(env.Outbox(t, "")))
	}
	// Unknown and expired flows.
	expectStatus(t, env.JSON(t, "GET", "/api/flows/00000000-0000-4000-8000-000000000000", "", nil, nil), 404)
	expectStatus(t, env.JSON(t, "GET", "/api/flows/not-a-uuid", "", nil, nil), 404)
	env.Clock.Advance(2 * time.Hour)
	expectStatus(t, env.JSON(t, "POST", path, "", map[string]any{"traits": map[string]any{"email": "a@example.com"}, "password": goodPassword}, nil), 410)
	// An expired browser flow gives a fresh page, not a crash.
	b := env.NewBrowser(t)
	loc := location(t, b.Submit("/login", url.Values{"email": {"x@example.com"}, "password": {"wrong password"}}))
	env.Clock.Advance(2 * time.Hour)
	page := b.Get(loc)
	expectStatus(t, page, 200)
	if !strings.Contains(page.Body, "expired") {
		t.Fatalf("expired flow page:\n%s", page.Body)
	}
	// A flow is bound to the browser that started it.
	thief := env.NewBrowser(t)
	if p := thief.Get(loc); !strings.Contains(p.Body, "not valid in this browser") && !strings.Contains(p.Body, "expired") {
		t.Fatalf("foreign browser saw the flow:\n%s", p.Body)
	}
}

func TestLongUnicodePasswords(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	for i, pw := range []string{
		strings.Repeat("long passphrase ", 8),                 // 128 characters
		"пароль-очень-надёжный-🦊-ключ-密码-كلمة",                // any Unicode
		"ﬁve ﬁsh swim in the café " + strings.Repeat("z", 40), // NFKC-normalised ligatures
	} {
		email := "u" + string(rune('a'+i)) + "@example.com"
		signUp(t, env, email, pw)
		var start api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		var in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "password": pw}, &in), 200)
		if in.SessionToken == "" {
			t.Fatalf("no session for password %d", i)
		}
		// Never truncated: the same password minus its last character fails.
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		trimmed := string([]rune(pw)[:len([]rune(pw))-1])
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "password": trimmed}, nil), 400)
	}
	// NFKC: the ligature spelled out is the same password.
	var start api.FlowResponse
	env.JSON(t, "POST", "/api/login", "", nil, &start)
	expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "uc@example.com",
		"password": "five fish swim in the café " + strings.Repeat("z", 40)}, nil), 200)
}

// An unknown sign-in method is a field error like any other, and a bad
// bearer token is refused where a token is optional too.
func TestAPIMethodAndOptionalToken(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	var start api.FlowResponse
	env.JSON(t, "POST", "/api/login", "", nil, &start)
	p := expectProblem(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "a@example.com", "method": "sms"}, nil), 400, "invalid-input")
	if len(p.Errors) != 1 || p.Errors[0].Field != "method" {
		t.Fatalf("unknown method: %+v", p)
	}
	var v api.FlowResponse
	env.JSON(t, "POST", "/api/verification", "", nil, &v)
	r := env.JSON(t, "POST", "/api/verification/"+v.Flow.ID, "fys_bogus", map[string]any{"email": "a@example.com"}, nil)
	expectProblem(t, r, 401, "unauthenticated")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("challenge %q", r.Header.Get("WWW-Authenticate"))
	}
}

// The hosted pages say what the domain's settings and the account's state
// are: the password bounds configured, an address already verified, and
// no passkey controls that need a script the browser may not run.
func TestPagesFollowSettingsAndState(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t), servertest.Localhost(), func(c *config.Config) {
		c.Domains[config.DefaultDomain].PasswordMinLength = 15
	})
	page := env.NewBrowser(t).Get("/registration").Body
	if !strings.Contains(page, `minlength="15"`) || !strings.Contains(page, `maxlength="256"`) || !strings.Contains(page, "15 to 256 characters") {
		t.Fatalf("registration page does not show the configured bounds:\n%s", page)
	}
	b := signUp(t, env, "zora@example.com", strings.Repeat("correct horse ", 2))
	if v := b.Get("/verification").Body; strings.Contains(v, "Send code") || !strings.Contains(v, "is verified") {
		t.Fatalf("verification page for a verified address:\n%s", v)
	}
	if a := b.Get("/account").Body; !strings.Contains(a, `<div id="passkey-name-field" hidden>`) || !strings.Contains(a, "with your password and a code sent by email") {
		t.Fatalf("account page:\n%s", a)
	}
}

// Where browsers go, a path or method Foyer does not have, and an app's
// sign-in link that is not valid, get the hosted error page in Foyer's
// words, with its security headers; endpoints for programs keep theirs.
func TestBrowserMissesGetPages(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	for _, tc := range []struct {
		method, path string
		status       int
		text         string
	}{
		{"GET", "/nothing", 404, "Page not found"},
		{"DELETE", "/login", 405, "Not possible here"},
		{"GET", "/authorize?client_id=nope&redirect_uri=https://evil.example/cb&response_type=code&scope=openid", 400, "Request not valid"},
		{"GET", "/end_session?post_logout_redirect_uri=https://evil.example/&client_id=nope", 400, "Request not valid"},
	} {
		req, _ := http.NewRequest(tc.method, env.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(body), tc.text) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s %s: %d %s\n%s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if strings.Contains(string(body), "evil.example") || strings.Contains(string(body), "unable to") {
			t.Errorf("%s %s: the page repeats the request or the library's words:\n%s", tc.method, tc.path, body)
		}
		if tc.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	// A program's endpoint answers as before.
	resp, err := http.Get(env.URL + "/oauth/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /oauth/token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// A sign-up form with several problems names them all at once, and the
// first field in trouble takes the focus.
func TestRegistrationReportsEveryProblem(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := env.NewBrowser(t)
	page := b.Get(location(t, b.Submit("/registration", url.Values{"email": {"not-an-address"}, "password": {"short"}}))).Body
	if !strings.Contains(page, `id="email-error"`) || !strings.Contains(page, `id="password-error"`) || !strings.Contains(page, "Enter a valid email address.") {
		t.Fatalf("both problems not shown, in the words sign-in uses:\n%s", page)
	}
	autofocus := regexp.MustCompile(`<input id="(\w+)"[^>]* autofocus>`)
	if m := autofocus.FindAllStringSubmatch(page, -1); len(m) != 1 || m[0][1] != "email" {
		t.Fatalf("autofocus on %v, want the email field only", m)
	}
	page = b.Get(location(t, b.Submit("/registration", url.Values{"email": {"ok@example.com"}, "password": {"short"}}))).Body
	if m := autofocus.FindAllStringSubmatch(page, -1); len(m) != 1 || m[0][1] != "password" {
		t.Fatalf("autofocus on %v, want the password field only", m)
	}
	// The code page says how long the code lives, as the mail does.
	page = b.Get(location(t, b.Submit("/registration", url.Values{"email": {"ok@example.com"}, "password": {goodPassword}}))).Body
	if !strings.Contains(page, "expires in 15 minutes") {
		t.Fatalf("code page:\n%s", page)
	}
	// The API reports both too.
	var start api.FlowResponse
	env.JSON(t, "POST", "/api/registration", "", nil, &start)
	p := expectProblem(t, env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{"traits": map[string]any{"email": "nope"}, "password": "short"}, nil), 400, "invalid-input")
	if len(p.Errors) != 2 {
		t.Fatalf("API errors: %+v", p.Errors)
	}
}

// A single-page app on its own origin — registered as a public client —
// may call the self-service API from the browser (CORS, without
// credentials); any other origin gets no CORS answer.
func TestSelfServiceCORS(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	pub := true
	if _, _, err := env.Server.Clients.Create(t.Context(), "customers", client.Spec{Name: ptrTo("SPA"), Public: &pub,
		RedirectURIs: &[]string{"https://spa.example/callback"}}); err != nil {
		t.Fatal(err)
	}
	do := func(method, path, origin string, preflight bool) *http.Response {
		req, _ := http.NewRequest(method, env.URL+path, nil)
		req.Header.Set("Origin", origin)
		if preflight {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	r := do("OPTIONS", "/api/registration", "https://spa.example", true)
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := do("POST", "/api/registration", "https://spa.example", false); r.StatusCode != 201 || r.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" {
		t.Fatalf("request: %d %v", r.StatusCode, r.Header)
	}
	if r := do("GET", "/sessions/whoami", "https://spa.example", false); r.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" {
		t.Fatalf("whoami: %d %v", r.StatusCode, r.Header)
	}
	for _, path := range []string{"/api/registration", "/admin/clients"} {
		if r := do("OPTIONS", path, "https://evil.example", true); r.Header.Get("Access-Control-Allow-Origin") != "" || r.StatusCode == 204 {
			t.Fatalf("%s, another origin: %d %v", path, r.StatusCode, r.Header)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

// Outside dev mode, with an https public URL, every answer carries
// Strict-Transport-Security as configured; dev mode sends none.
func TestHSTS(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []servertest.Option
		want string
	}{
		{"dev mode", nil, ""},
		{"production", []servertest.Option{servertest.Production()}, "max-age=31536000"},
		{"production, configured", []servertest.Option{servertest.Production(), func(c *config.Config) {
			c.HSTS = config.HSTS{MaxAge: 63072000, IncludeSubdomains: true, Preload: true}
		}}, "max-age=63072000; includeSubDomains; preload"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := servertest.Start(t, storetest.NewSQLite(t), tt.opts...)
			b := env.NewBrowser(t)
			for _, path := range []string{"/login", "/health/alive", "/api/openapi.yaml", "/no-such-page"} {
				if got := b.Get(path).Header.Get("Strict-Transport-Security"); got != tt.want {
					t.Errorf("%s: Strict-Transport-Security %q, want %q", path, got, tt.want)
				}
			}
		})
	}
}

// Moving between sign-in and sign-up keeps the way back to the app.
func TestSignInAndSignUpLinksKeepReturnTo(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := env.NewBrowser(t)
	const back = "/oauth/continue?id=0b9d2a9e-3d7c-4d39-8d4e-2b1d5c6a7f80"
	for path, other := range map[string]string{"/login": "/registration", "/registration": "/login"} {
		page := b.Get(path + "?return_to=" + url.QueryEscape(back))
		m := regexp.MustCompile(`href="(` + regexp.QuoteMeta(other) + `[^"]*)"`).FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatalf("%s: no link to %s:\n%s", path, other, page.Body)
		}
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil || u.Query().Get("return_to") != back {
			t.Fatalf("%s: the link to %s is %q, which drops return_to", path, other, m[1])
		}
	}
}
