package server_test

import (
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

var (
	secretRE   = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryRE = regexp.MustCompile(`<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>`)
)

// enrolTOTP sets up an authenticator app from the account pages and
// returns its secret and the recovery codes.
func enrolTOTP(t *testing.T, env *servertest.Env, b *servertest.Browser) (string, []string) {
	t.Helper()
	page := b.Get("/account/two-factor")
	expectStatus(t, page, 200)
	location(t, b.Post("/account/two-factor/setup", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}}))
	page = b.Get("/account/two-factor")
	m := secretRE.FindStringSubmatch(page.Body)
	if m == nil || !strings.Contains(page.Body, `src="data:image/png;base64,`) {
		t.Fatalf("set-up page lacks the key or QR code:\n%s", page.Body)
	}
	code, _ := pqtotp.GenerateCode(m[1], env.Clock.Now())
	done := b.Post("/account/two-factor/confirm", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}})
	expectStatus(t, done, 200)
	if done.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("recovery codes page may be cached")
	}
	var codes []string
	for _, c := range recoveryRE.FindAllStringSubmatch(done.Body, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown:\n%s", len(codes), done.Body)
	}
	return m[1], codes
}

func TestTwoFactorSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		b := signUp(t, env, "pia@example.com", goodPassword)
		secret, recovery := enrolTOTP(t, env, b)
		if m := env.MailTo(t, "pia@example.com", 2); !strings.Contains(m.Text, "two-factor authentication was turned on") {
			t.Fatalf("no security notice: %s", m.Text)
		}
		changes, err := env.Server.Events.List(t.Context(), event.Query{Type: event.MethodsChanged})
		if err != nil || len(changes) != 1 || changes[0].Reason != "totp_enabled" || changes[0].IdentityID == "" {
			t.Fatalf("methods.changed events: %+v %v", changes, err)
		}

		// Sign-in now asks for the app's code, which works once.
		location(t, b.Submit("/logout", url.Values{}))
		loc := location(t, b.Submit("/login", url.Values{"email": {"pia@example.com"}, "password": {goodPassword}}))
		page := b.Get(loc)
		if !strings.Contains(page.Body, `autocomplete="one-time-code"`) || !strings.Contains(page.Body, "recovery code") {
			t.Fatalf("second-factor page:\n%s", page.Body)
		}
		expectStatus(t, b.Get("/sessions/whoami"), 401)
		env.Clock.Advance(30 * time.Second)
		code, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "kind": {"totp"}, "code": {code}})); got != "/account" {
			t.Fatalf("after the code: %q", got)
		}
		who := b.Get("/sessions/whoami")
		if !strings.Contains(who.Body, `"aal":"aal2"`) || !strings.Contains(who.Body, `"totp"`) {
			t.Fatalf("whoami after 2FA: %s", who.Body)
		}

		// The same code again (replay) fails; a recovery code works once.
		location(t, b.Submit("/logout", url.Values{}))
		loc = location(t, b.Submit("/login", url.Values{"email": {"pia@example.com"}, "password": {goodPassword}}))
		page = b.Get(loc)
		again := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "kind": {"totp"}, "code": {code}}))
		if !strings.Contains(b.Get(again).Body, "not right") {
			t.Fatal("a used code was accepted again")
		}
		page = b.Get(loc)
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "kind": {"recovery_code"}, "code": {strings.ToUpper(recovery[0])}})); got != "/account" {
			t.Fatalf("recovery code: %q", got)
		}
		// Through the API: password, then the second factor.
		var start api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		var half api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "pia@example.com", "password": goodPassword}, &half), 200)
		if half.Flow.State != "second_factor" || half.SessionToken != "" {
			t.Fatalf("API sign-in with 2FA: %+v", half)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/second-factor", "", map[string]any{"kind": "recovery_code", "code": recovery[0]}, nil), 400)
		var full api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/second-factor", "", map[string]any{"kind": "recovery_code", "code": recovery[1]}, &full), 200)
		if full.SessionToken == "" || full.Session.AAL != "aal2" {
			t.Fatalf("API 2FA: %+v", full)
		}
	})
}

// A recovery code used 20 times in parallel signs in once; a TOTP code
// verified 20 times in parallel upgrades one session.
func TestSecondFactorSingleUseUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		b := signUp(t, env, "quin@example.com", goodPassword)
		secret, recovery := enrolTOTP(t, env, b)
		var flows []string
		for range 20 {
			var start api.FlowResponse
			env.JSON(t, "POST", "/api/login", "", nil, &start)
			env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "quin@example.com", "password": goodPassword}, nil)
			flows = append(flows, start.Flow.ID)
		}
		count := func(kind, code string) int {
			var wg sync.WaitGroup
			var mu sync.Mutex
			n := 0
			for _, id := range flows {
				wg.Go(func() {
					var res api.FlowResponse
					env.JSON(t, "POST", "/api/flows/"+id+"/second-factor", "", map[string]any{"kind": kind, "code": code}, &res)
					if res.SessionToken != "" {
						mu.Lock()
						n++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			return n
		}
		if n := count("recovery_code", recovery[0]); n != 1 {
			t.Fatalf("one recovery code signed in %d times", n)
		}
		// The 19 refused recovery codes slowed the account down (no
		// lockout): wait out the delay before the next round.
		env.Clock.Advance(6 * time.Minute)
		code, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
		if n := count("totp", code); n != 1 {
			t.Fatalf("one TOTP code signed in %d times", n)
		}
	})
}

func TestStepUpRotatesSession(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := signUp(t, env, "rita@example.com", goodPassword)
	secret, _ := enrolTOTP(t, env, b)
	// Sign in with password + app: aal2. Then an aal1 session via email code.
	env.MailTo(t, "rita@example.com", 2) // the security notice
	var start api.FlowResponse
	env.JSON(t, "POST", "/api/login", "", nil, &start)
	env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "rita@example.com", "method": "code"}, nil)
	mailCode := servertest.CodeFrom(t, env.MailTo(t, "rita@example.com", 3))
	var half api.FlowResponse
	env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": mailCode}, &half)
	if half.Flow.State != "second_factor" {
		t.Fatalf("email-code sign-in skipped the second factor: %+v", half.Flow)
	}
	env.Clock.Advance(30 * time.Second)
	code, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
	var full api.FlowResponse
	env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/second-factor", "", map[string]any{"kind": "totp", "code": code}, &full)
	old := full.SessionToken
	// Step up again (fresh): the token rotates and the old one dies.
	env.Clock.Advance(30 * time.Second)
	code, _ = pqtotp.GenerateCode(secret, env.Clock.Now())
	var up api.StepUpResponse
	expectStatus(t, env.JSON(t, "POST", "/api/sessions/step-up", old, map[string]any{"kind": "totp", "code": code}, &up), 200)
	if up.SessionToken == "" || up.SessionToken == old || up.Session.AAL != "aal2" {
		t.Fatalf("step-up: %+v", up)
	}
	// The factor and the step-up were each decided once, and recorded.
	steps, err := env.Server.Decisions.List(t.Context(), decision.Query{IdentityID: up.Session.IdentityID, From: env.Clock.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, d := range steps {
		acts = append(acts, string(d.Action)+"/"+string(d.Effect))
	}
	if got := strings.Join(acts, " "); !strings.HasSuffix(got, "second_factor.submit/allow session.step_up/allow") {
		t.Fatalf("step-up decisions: %s", got)
	}
	expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", old, nil, nil), 401)
	expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", up.SessionToken, nil, nil), 200)
	// A wrong code changes nothing.
	expectStatus(t, env.JSON(t, "POST", "/api/sessions/step-up", up.SessionToken, map[string]any{"kind": "totp", "code": "000000"}, nil), 400)
	expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", up.SessionToken, nil, nil), 200)
}

// The second factor cannot be skipped: not by replaying the password
// form, not by using the flow's other endpoints.
func TestSecondFactorCannotBeSkipped(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := signUp(t, env, "sam@example.com", goodPassword)
	enrolTOTP(t, env, b)
	var start api.FlowResponse
	env.JSON(t, "POST", "/api/login", "", nil, &start)
	var half api.FlowResponse
	env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "sam@example.com", "password": goodPassword}, &half)
	if half.Flow.State != "second_factor" {
		t.Fatalf("state %s", half.Flow.State)
	}
	// Replaying the password step, or sending an email code, gets nowhere.
	expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "sam@example.com", "password": goodPassword}, nil), 409)
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": "123456"}, nil), 409)
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/resend", "", nil, nil), 409)
	// An unknown kind or a wrong code changes nothing.
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/second-factor", "", map[string]any{"kind": "sms", "code": "123456"}, nil), 400)
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/second-factor", "", map[string]any{"kind": "totp", "code": "000000"}, nil), 400)
	var f api.FlowResponse
	env.JSON(t, "GET", "/api/flows/"+start.Flow.ID, "", nil, &f)
	if f.Flow.State != "second_factor" || f.SessionToken != "" {
		t.Fatalf("flow after attempts: %+v", f)
	}
	// The hosted page: re-posting the password form keeps asking for the code.
	loc := location(t, b.Submit("/login", url.Values{"email": {"sam@example.com"}, "password": {goodPassword}}))
	page := b.Get(loc)
	again := b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"sam@example.com"}, "password": {goodPassword}})
	if got := location(t, again); got != loc && !strings.HasPrefix(got, "/login?flow=") {
		t.Fatalf("re-posted password went to %q", got)
	}
	if p := b.Get(loc); !strings.Contains(p.Body, `autocomplete="one-time-code"`) {
		t.Fatal("the second-factor step was skipped")
	}
}

// Operators turn methods off per domain.
func TestMethodsOffPerDomain(t *testing.T) {
	no := false
	env := servertest.Start(t, storetest.NewSQLite(t), servertest.Localhost(), func(c *config.Config) {
		d := c.Domains[config.DefaultDomain]
		d.Login.TOTP, d.Login.Passkeys, d.Login.EmailCode = &no, &no, &no
	})
	b := signUp(t, env, "una@example.com", goodPassword)
	page := b.Get("/account/two-factor")
	if strings.Contains(page.Body, "Set up an authenticator app") {
		t.Fatal("authenticator set-up offered while turned off")
	}
	expectStatus(t, b.Post("/account/two-factor/setup", url.Values{"csrf_token": {servertest.CSRF(t, b.Get("/account").Body)}}), 403)
	login := b.Get("/login").Body
	if strings.Contains(login, "passkey-login") || strings.Contains(login, `value="code"`) {
		t.Fatal("the login page offers methods that are off")
	}
	expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, nil), 404)
	var start api.FlowResponse
	env.JSON(t, "POST", "/api/login", "", nil, &start)
	expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "una@example.com", "method": "code"}, nil), 400)
}

// The authenticator app cannot be turned off while it is the account's
// only second factor; with a passkey as another, it can.
func TestLastSecondFactorStays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		b := signUp(t, env, "rosa@example.com", goodPassword)
		secret, _ := enrolTOTP(t, env, b)
		stepUp := func() {
			t.Helper()
			env.Clock.Advance(30 * time.Second)
			page := b.Get("/stepup")
			code, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
			location(t, b.Post("/stepup", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "kind": {"totp"}, "code": {code}}))
		}
		stepUp()
		remove := func() string {
			page := b.Get("/account/two-factor")
			return location(t, b.Post("/account/two-factor/remove", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}}))
		}
		loc := remove()
		if loc != "/account/two-factor?refused=last_second_factor" {
			t.Fatalf("removing the only second factor went to %q", loc)
		}
		if page := b.Get(loc); !strings.Contains(page.Body, "This is your only second factor.") || !strings.Contains(page.Body, "/account/two-factor/remove") {
			t.Fatalf("refusal page:\n%s", page.Body)
		}

		// A passkey is a second factor too: with one, the app can go.
		tok := b.Cookie("foyer_session")
		auth := passkeytest.New(t, env.URL, "localhost")
		var opts api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts), 200)
		resp, _ := auth.Register(opts.Options)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, nil), 201)
		if loc := remove(); loc != "/account?changed=authenticator_app_off" {
			t.Fatalf("removing the app beside a passkey went to %q", loc)
		}
		if page := b.Get("/account/two-factor"); strings.Contains(page.Body, "/account/two-factor/remove") {
			t.Fatalf("the app is still on:\n%s", page.Body)
		}
	})
}

// A wrong code on the step-up page shows the page again with the error on
// the field that was used, also when an aal2 session is asked to confirm
// afresh (fresh=1) before a sensitive change; a wrong recovery code is
// reported on the recovery-code field, and likewise at sign-in.
func TestWrongStepUpCodeIsShown(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := signUp(t, env, "vera@example.com", goodPassword)
	secret, _ := enrolTOTP(t, env, b)
	env.Clock.Advance(30 * time.Second)
	code, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
	page := b.Get("/stepup")
	location(t, b.Post("/stepup", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "kind": {"totp"}, "code": {code}}))

	// At aal2 now; a sensitive change asks to confirm afresh.
	start := "/stepup?" + url.Values{"fresh": {"1"}, "return_to": {"/account/two-factor"}}.Encode()
	for kind, field := range map[string]string{"totp": "code", "recovery_code": "recovery"} {
		page := b.Get(start)
		m := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no form on the step-up page:\n%s", page.Body)
		}
		loc := location(t, b.Post(html.UnescapeString(m[1]), url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "kind": {kind}, "code": {"000000"}}))
		shown := b.Get(loc)
		if shown.StatusCode != 200 || !strings.Contains(shown.Body, `id="`+field+`-error"`) || !strings.Contains(shown.Body, `aria-describedby="`+field+`-error"`) {
			t.Fatalf("%s: a wrong code led to %q (%d) without its error on #%s:\n%s", kind, loc, shown.StatusCode, field, shown.Body)
		}
		if !strings.Contains(shown.Body, "fresh=1") {
			t.Fatalf("%s: the page after a wrong code no longer asks afresh:\n%s", kind, shown.Body)
		}
	}

	// At sign-in, a wrong recovery code is shown on its own field.
	other := env.NewBrowser(t)
	loc := location(t, other.Submit("/login", url.Values{"email": {"vera@example.com"}, "password": {goodPassword}}))
	step := other.Get(loc)
	back := location(t, other.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, step.Body)}, "kind": {"recovery_code"}, "code": {"wrong-wrong"}}))
	if shown := other.Get(back); !strings.Contains(shown.Body, `id="recovery-error"`) || strings.Contains(shown.Body, `id="code-error"`) || !strings.Contains(shown.Body, "<details class=\"secondary\" open>") {
		t.Fatalf("wrong recovery code at sign-in:\n%s", shown.Body)
	}
}
