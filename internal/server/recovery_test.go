package server_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const newPassword = "a brand new passphrase for recovery"

// signUpAPI signs email up through the API and returns the response with
// its session.
func signUpAPI(t *testing.T, env *servertest.Env, email string) api.FlowResponse {
	t.Helper()
	id, code := startAPIRegistration(t, env, email)
	var done api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &done), 200)
	return done
}

// signInAPI signs in with a password and returns the response, and in
// out (if not nil) its body.
func signInAPI(t *testing.T, env *servertest.Env, email, pw string, out ...*api.FlowResponse) *servertest.Response {
	t.Helper()
	var start api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &start), 201)
	var res any
	if len(out) > 0 {
		res = out[0]
	}
	return env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "password": pw}, res)
}

// whoami answers GET /sessions/whoami for tok.
func whoami(t *testing.T, env *servertest.Env, tok string) (api.WhoamiResponse, int) {
	t.Helper()
	var who api.WhoamiResponse
	r := env.JSON(t, "GET", "/sessions/whoami", tok, nil, &who)
	return who, r.StatusCode
}

// recoverByEmail runs a recovery of email by its mailed code through the
// API up to the new password, and returns the flow id.
func recoverByEmail(t *testing.T, env *servertest.Env, email string) string {
	t.Helper()
	var start, sent, proven api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &start), 201)
	expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email}, &sent), 200)
	if sent.Flow.State != "verify" || sent.SessionToken != "" {
		t.Fatalf("recovery request: %+v", sent)
	}
	m := env.LatestMail(t, email, "Your Foyer account recovery code")
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": servertest.CodeFrom(t, m)}, &proven), 200)
	if proven.Flow.State != "password" || proven.SessionToken != "" {
		t.Fatalf("after the code: %+v", proven)
	}
	return start.Flow.ID
}

// A customer who lost the password recovers by a code mailed to the
// account's address and sets a new one: every other session ends, the
// apps' tokens with them, the new session is aal1 and restricted for the
// cool-off, the address is told, and each step is an event.
func TestRecoveryByEmailCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "rhea@example.com"
		first := signUpAPI(t, env, email).SessionToken
		var second api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &second), 200)

		id := recoverByEmail(t, env, email)
		// A password the policy refuses changes nothing.
		p := expectProblem(t, env.JSON(t, "POST", "/api/recovery/"+id, "", map[string]any{"password": "short"}, nil), 400, "invalid-input")
		if len(p.Errors) != 1 || p.Errors[0].Field != "password" {
			t.Fatalf("short password: %+v", p)
		}
		for _, tok := range []string{first, second.SessionToken} {
			if _, st := whoami(t, env, tok); st != 200 {
				t.Fatalf("a refused password ended a session: %d", st)
			}
		}
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+id, "", map[string]any{"password": newPassword}, &done), 200)
		if done.Flow.State != "done" || done.SessionToken == "" || done.Session.AAL != "aal1" || !slices.Equal(done.Session.Methods, []string{"email_code"}) {
			t.Fatalf("completed recovery: %+v %+v", done.Flow, done.Session)
		}
		// Once only.
		expectProblem(t, env.JSON(t, "POST", "/api/recovery/"+id, "", map[string]any{"password": newPassword + "!"}, nil), 409, "flow-state")

		for _, tok := range []string{first, second.SessionToken} {
			if _, st := whoami(t, env, tok); st != 401 {
				t.Fatalf("a session from before the recovery still works: %d", st)
			}
		}
		who, st := whoami(t, env, done.SessionToken)
		if st != 200 || !who.RecentlyRecovered || who.Identity.RestrictedUntil.IsZero() {
			t.Fatalf("whoami after recovery: %d %+v", st, who)
		}
		if got, want := who.Identity.RestrictedUntil.Sub(env.Clock.Now()), 72*time.Hour; got < want-time.Minute || got > want {
			t.Fatalf("restricted for %v, want the default cool-off of %v", got, want)
		}
		expectStatus(t, signInAPI(t, env, email, goodPassword), 400)
		expectStatus(t, signInAPI(t, env, email, newPassword), 200)

		if notice := env.LatestMail(t, email, "Security change on your Foyer account"); !strings.Contains(notice.Text, "recovered with an emailed code") {
			t.Fatalf("recovery notice:\n%s", notice.Text)
		}

		evs, err := env.Server.Events.List(t.Context(), event.Query{FlowID: id})
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for i := len(evs) - 1; i >= 0; i-- {
			steps = append(steps, evs[i].Type+":"+evs[i].Outcome)
		}
		for _, want := range []string{"recovery.started:success", "recovery.requested:pending", "recovery.code_sent:success",
			"recovery.code_submitted:success", "recovery.completed:success"} {
			if !slices.Contains(steps, want) {
				t.Errorf("no %s event in %v", want, steps)
			}
		}
		if got := decisionsOf(t, env, decision.Query{FlowID: id}); !strings.HasSuffix(got, "verification.submit/allow recovery.complete/allow") {
			t.Fatalf("recovery decisions: %s", got)
		}

		// The cool-off ends on its own.
		env.Clock.Advance(73 * time.Hour)
		if who, _ := whoami(t, env, done.SessionToken); who.RecentlyRecovered {
			t.Fatal("still restricted after the cool-off")
		}
	})
}

// Recovery says nothing of who has an account: an unknown address, an
// unverified one and a real one get the same answers, and only the real
// one gets mail.
func TestRecoveryDoesNotEnumerate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUpAPI(t, env, "known@example.com")
		answer := func(email string) (api.FlowResponse, string) {
			var start, sent api.FlowResponse
			expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &start), 201)
			r := env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email}, &sent)
			expectStatus(t, r, 200)
			return sent, normalize(r.Body, email)
		}
		_, known := answer("known@example.com")
		unknownFlow, unknown := answer("nobody@example.com")
		if known != unknown {
			t.Fatalf("answers differ:\nknown   %s\nunknown %s", known, unknown)
		}
		if n := queuedMail(t, db, "nobody@example.com"); n != 0 {
			t.Fatalf("%d mails to an address with no account", n)
		}
		// Its code is refused like a wrong one.
		p := expectProblem(t, env.JSON(t, "POST", "/api/flows/"+unknownFlow.Flow.ID+"/code", "", map[string]any{"code": "123456"}, nil), 400, "invalid-input")
		if p.Errors[0].ID != "code_invalid" {
			t.Fatalf("code of a dead recovery: %+v", p)
		}
		// A recovery code for an address with no account reads as a wrong
		// one for an account.
		try := func(email string) string {
			var start api.FlowResponse
			expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &start), 201)
			r := env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email, "recovery_code": "abcd-efgh-ijkl"}, nil)
			expectStatus(t, r, 400)
			return r.Body
		}
		if a, b := try("known@example.com"), try("nobody@example.com"); a != b {
			t.Fatalf("recovery code answers differ:\n%s\n%s", a, b)
		}
	})
}

// A customer with an authenticator app recovers with one of the recovery
// codes kept from its set-up: the code works once, the session is aal1
// (one factor), and in the cool-off the account cannot turn the app off.
func TestRecoveryByRecoveryCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "remy@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var setup api.TOTPSetup
		expectStatus(t, env.JSON(t, "POST", "/api/totp", tok, nil, &setup), 200)
		first, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		var codes api.RecoveryCodes
		expectStatus(t, env.JSON(t, "POST", "/api/totp/confirm", tok, map[string]any{"code": first}, &codes), 200)

		var start, proven, done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &start), 201)
		p := expectProblem(t, env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email, "recovery_code": "zzzz-zzzz-zzzz"}, nil), 400, "invalid-input")
		if p.Errors[0].ID != "recovery_code_invalid" || p.Errors[0].Field != "recovery_code" {
			t.Fatalf("wrong recovery code: %+v", p)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email, "recovery_code": codes.RecoveryCodes[0]}, &proven), 200)
		if proven.Flow.State != "password" {
			t.Fatalf("after the recovery code: %+v", proven.Flow)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"password": newPassword}, &done), 200)
		if done.Session.AAL != "aal1" || !slices.Equal(done.Session.Methods, []string{"recovery_code"}) {
			t.Fatalf("session of a recovery by recovery code: %+v", done.Session)
		}
		if _, st := whoami(t, env, tok); st != 401 {
			t.Fatal("the sign-up's session outlived the recovery")
		}
		// In the cool-off, recovery codes do not step the session up: they
		// may be what recovered it.
		p = expectProblem(t, env.JSON(t, "POST", "/api/sessions/step-up", done.SessionToken, map[string]any{"kind": "recovery_code", "code": codes.RecoveryCodes[1]}, nil), 409, "refused")
		if p.Errors[0].ID != "recently_recovered" {
			t.Fatalf("step-up in the cool-off: %+v", p)
		}
		// The authenticator app set up before the recovery does, and ends
		// the cool-off: the owner is back.
		env.Clock.Advance(time.Minute)
		code, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		var up api.StepUpResponse
		expectStatus(t, env.JSON(t, "POST", "/api/sessions/step-up", done.SessionToken, map[string]any{"kind": "totp", "code": code}, &up), 200)
		if who, _ := whoami(t, env, up.SessionToken); who.RecentlyRecovered || who.Session.AAL != "aal2" {
			t.Fatalf("after the original factor: %+v", who)
		}
		// The code is spent.
		var again api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &again), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+again.Flow.ID, "", map[string]any{"email": email, "recovery_code": codes.RecoveryCodes[0]}, nil), 400)
	})
}

// The hosted recovery: "Forgot your password?" on the sign-in page, the
// address, the code, the new password, and the account page.
func TestRecoveryHostedPages(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	const email = "hana@example.com"
	signUpAPI(t, env, email)
	b := env.NewBrowser(t)
	if login := b.Get("/login"); !strings.Contains(login.Body, `href="/recovery"`) {
		t.Fatalf("no way to recovery from the sign-in page:\n%s", login.Body)
	}
	page := b.Get("/recovery")
	expectStatus(t, page, 200)
	if !strings.Contains(page.Body, `type="email"`) || !strings.Contains(page.Body, `autocomplete="email"`) {
		t.Fatalf("recovery page:\n%s", page.Body)
	}
	// A bad address is refused in place.
	loc := location(t, b.Post("/recovery", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"not an address"}}))
	if bad := b.Get(loc); !strings.Contains(bad.Body, "Enter a valid email address.") {
		t.Fatalf("bad address:\n%s", bad.Body)
	}
	page = b.Get("/recovery")
	loc = location(t, b.Post("/recovery", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {email}}))
	codePage := b.Get(loc)
	if !strings.Contains(codePage.Body, `autocomplete="one-time-code"`) {
		t.Fatalf("code page:\n%s", codePage.Body)
	}
	code := servertest.CodeFrom(t, env.LatestMail(t, email, "Your Foyer account recovery code"))
	loc = location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, codePage.Body)}, "code": {code}}))
	pwPage := b.Get(loc)
	if !strings.Contains(pwPage.Body, `autocomplete="new-password"`) || !strings.Contains(pwPage.Body, `autocomplete="username"`) {
		t.Fatalf("new password page:\n%s", pwPage.Body)
	}
	if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, pwPage.Body)}, "password": {newPassword}})); got != "/account" {
		t.Fatalf("after the new password: %q", got)
	}
	expectStatus(t, b.Get("/sessions/whoami"), 200)
	expectStatus(t, signInAPI(t, env, email, newPassword), 200)
}

// One recovery at a time: a newer code, or a recovery that completes,
// ends the account's other recoveries — their codes stop working and a
// proved one can no longer set a password.
func TestRecoveryNewerEndsOlder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "ada@example.com"
		signUpAPI(t, env, email)
		proved := recoverByEmail(t, env, email) // state password
		var waiting api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &waiting), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+waiting.Flow.ID, "", map[string]any{"email": email}, nil), 200)
		code := servertest.CodeFrom(t, env.LatestMail(t, email, "Your Foyer account recovery code"))
		expectProblem(t, env.JSON(t, "POST", "/api/recovery/"+proved, "", map[string]any{"password": newPassword}, nil), 409, "flow-state")

		// A third one completes: the second's code no longer works.
		third := recoverByEmail(t, env, email)
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+third, "", map[string]any{"password": newPassword}, nil), 200)
		expectProblem(t, env.JSON(t, "POST", "/api/flows/"+waiting.Flow.ID+"/code", "", map[string]any{"code": code}, nil), 409, "flow-state")
	})
}

// Found by an outside review: the cool-off holds on every way in.
func TestCoolOffHoldsOnEveryDoor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "eve.owner@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var setup api.TOTPSetup
		expectStatus(t, env.JSON(t, "POST", "/api/totp", tok, nil, &setup), 200)
		first, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		var codes api.RecoveryCodes
		expectStatus(t, env.JSON(t, "POST", "/api/totp/confirm", tok, map[string]any{"code": first}, &codes), 200)

		var start, done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &start), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email, "recovery_code": codes.RecoveryCodes[0]}, nil), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"password": newPassword}, &done), 200)

		// A refused step-up spends no recovery code.
		expectProblem(t, env.JSON(t, "POST", "/api/sessions/step-up", done.SessionToken, map[string]any{"kind": "recovery_code", "code": codes.RecoveryCodes[1]}, nil), 409, "refused")
		var st api.TOTPStatus
		expectStatus(t, env.JSON(t, "GET", "/api/totp", done.SessionToken, nil, &st), 200)
		if st.RecoveryCodesRemaining != 9 {
			t.Fatalf("%d recovery codes left, want 9: the refused step-up spent one", st.RecoveryCodesRemaining)
		}
		// A sign-in's second factor is held to the same rule: a recovery
		// code gives aal1 in the cool-off.
		var in, half api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &in), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+in.Flow.ID, "", map[string]any{"identifier": email, "password": newPassword}, &half), 200)
		var signedIn api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+in.Flow.ID+"/second-factor", "", map[string]any{"kind": "recovery_code", "code": codes.RecoveryCodes[1]}, &signedIn), 200)
		if signedIn.Session.AAL != "aal1" {
			t.Fatalf("a recovery code signed in at %s in the cool-off", signedIn.Session.AAL)
		}
		// The authenticator app from before the recovery: aal2, and the
		// cool-off ends.
		env.Clock.Advance(time.Minute)
		var again, half2, up api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &again), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+again.Flow.ID, "", map[string]any{"identifier": email, "password": newPassword}, &half2), 200)
		code, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+again.Flow.ID+"/second-factor", "", map[string]any{"kind": "totp", "code": code}, &up), 200)
		if who, _ := whoami(t, env, up.SessionToken); up.Session.AAL != "aal2" || who.RecentlyRecovered {
			t.Fatalf("the original app: %s, still restricted %v", up.Session.AAL, who.RecentlyRecovered)
		}
	})
}

// Signing in by an emailed code and then setting a password without the
// old one is a recovery by another door: the account enters the cool-off.
// And an address changed in the cool-off gets no sign-in code.
func TestMailboxOnlyPasswordIsARecovery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "mo@example.com"
		signUpAPI(t, env, email)
		var start, sent, in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &start), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "method": "code"}, &sent), 200)
		c := servertest.CodeFrom(t, env.LatestMail(t, email, "Your Foyer sign-in code"))
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": c}, &in), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/settings/password", in.SessionToken, map[string]any{"password": newPassword}, nil), 204)
		if who, _ := whoami(t, env, in.SessionToken); !who.RecentlyRecovered {
			t.Fatal("a password set by a mailbox-only session left the account unrestricted")
		}

		// An address changed (after the cool-off, by a fresh session) gets
		// no sign-in code for the next cool-off.
		env.Clock.Advance(73 * time.Hour)
		var fresh, change api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, newPassword, &fresh), 200)
		const next = "mo.next@example.com"
		expectStatus(t, env.JSON(t, "POST", "/api/settings/email", fresh.SessionToken, map[string]any{"email": next}, &change), 200)
		code := servertest.CodeFrom(t, env.LatestMail(t, next, "Your Foyer verification code"))
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+change.Flow.ID+"/code", "", map[string]any{"code": code}, nil), 200)
		var s2 api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &s2), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+s2.Flow.ID, "", map[string]any{"identifier": next, "method": "code"}, nil), 200)
		for _, m := range env.Outbox(t, next) {
			if m.Template == "login_code" {
				t.Fatal("a sign-in code went to an address changed in the cool-off")
			}
		}
	})
}

// Of several submits of a recovery's new password at once, one completes.
func TestRecoveryCompletesOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "once@example.com"
		signUpAPI(t, env, email)
		id := recoverByEmail(t, env, email)
		const n = 6
		statuses := make([]int, n)
		release := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-release
				statuses[i] = env.JSON(t, "POST", "/api/recovery/"+id, "", map[string]any{"password": fmt.Sprintf("%s %d", newPassword, i)}, nil).StatusCode
			})
		}
		close(release)
		wg.Wait()
		ok := 0
		for _, st := range statuses {
			switch st {
			case 200:
				ok++
			case 409:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d submits completed the recovery: %v", ok, n, statuses)
		}
		if got := len(env.Outbox(t, email)); got != 3 { // sign-up code, recovery code, one notice
			t.Fatalf("%d mails, want 3", got)
		}
	})
}
