package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// expectProblem checks a problem answer's status and type (after
// problem.TypeBase).
func expectProblem(t *testing.T, r *servertest.Response, status int, kind string) api.Problem {
	t.Helper()
	expectStatus(t, r, status)
	var p api.Problem
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil || p.Type != problem.TypeBase+kind {
		t.Fatalf("want a %s problem, got %s (%v)", kind, r.Body, err)
	}
	// Every 401 says how to authenticate (RFC 9110); a session too old
	// for the change says so (RFC 9470).
	challenge := r.Header.Get("WWW-Authenticate")
	if status == http.StatusUnauthorized && (!strings.HasPrefix(challenge, `Bearer realm="foyer"`) ||
		kind == "reauthenticate" && !strings.Contains(challenge, `error="insufficient_user_authentication"`)) {
		t.Fatalf("%s %s: 401 with WWW-Authenticate %q", r.Request.Method, r.Request.URL.Path, challenge)
	}
	return p
}

// Every JSON API endpoint that needs a session answers 401 with a bearer
// challenge, naming a token that was sent but is no good.
func TestAPIUnauthorizedChallenges(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	endpoints := []struct{ method, path string }{
		{"GET", "/sessions/whoami"}, {"POST", "/api/logout"}, {"GET", "/api/totp"}, {"DELETE", "/api/totp"},
		{"POST", "/api/recovery-codes"}, {"POST", "/api/sessions/step-up"},
	}
	for _, e := range endpoints {
		for token, want := range map[string]string{
			"":                               `Bearer realm="foyer"`,
			"fys_" + strings.Repeat("x", 43): `Bearer realm="foyer", error="invalid_token"`,
		} {
			var body any
			if e.method == "POST" {
				body = map[string]any{}
			}
			r := env.JSON(t, e.method, e.path, token, body, nil)
			if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != want {
				t.Errorf("%s %s with token %q: %d, WWW-Authenticate %q; want 401, %q", e.method, e.path, token, r.StatusCode, r.Header.Get("WWW-Authenticate"), want)
			}
		}
	}
}

// apiSignInWithRecoveryCode signs in with the password and a recovery
// code through the API and answers the second-factor step's response.
func apiSignInWithRecoveryCode(t *testing.T, env *servertest.Env, email, code string) *servertest.Response {
	t.Helper()
	var start, half api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &start), 201)
	expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "password": goodPassword}, &half), 200)
	if half.Flow.State != "second_factor" || half.SessionToken != "" {
		t.Fatalf("sign-in did not ask for the second factor: %+v", half)
	}
	return env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/second-factor", "", map[string]any{"kind": "recovery_code", "code": code}, nil)
}

// A native app sets up an authenticator app and recovery codes, renews
// the codes and turns the app off through the JSON API, under the same
// rules as the hosted pages.
func TestTwoFactorThroughAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		const email = "vera@example.com"
		id, code := startAPIRegistration(t, env, email)
		var signedUp api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
		tok := signedUp.SessionToken

		expectProblem(t, env.JSON(t, "GET", "/api/totp", "", nil, nil), 401, "unauthenticated")
		var st api.TOTPStatus
		expectStatus(t, env.JSON(t, "GET", "/api/totp", tok, nil, &st), 200)
		if st.Enrolled || st.RecoveryCodesRemaining != 0 {
			t.Fatalf("status before set-up: %+v", st)
		}
		// Nothing to confirm, and no recovery codes without an app.
		expectProblem(t, env.JSON(t, "POST", "/api/totp/confirm", tok, map[string]any{"code": "123456"}, nil), 409, "totp-not-started")
		expectProblem(t, env.JSON(t, "POST", "/api/recovery-codes", tok, nil, nil), 409, "totp-not-enrolled")

		// Set-up: the secret, its URI and QR code, not cached; asking
		// again shows the same secret.
		var setup api.TOTPSetup
		r := env.JSON(t, "POST", "/api/totp", tok, nil, &setup)
		expectStatus(t, r, 200)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("the TOTP secret may be cached")
		}
		if setup.Secret == "" || !strings.HasPrefix(setup.URI, "otpauth://totp/") || !strings.Contains(setup.URI, "secret="+setup.Secret) ||
			!bytes.HasPrefix(setup.QRPNG, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("set-up: %+v", setup)
		}
		var again api.TOTPSetup
		expectStatus(t, env.JSON(t, "POST", "/api/totp", tok, nil, &again), 200)
		if again.Secret != setup.Secret {
			t.Fatal("asking again replaced the secret being set up")
		}
		expectStatus(t, env.JSON(t, "GET", "/api/totp", tok, nil, &st), 200)
		if st.Enrolled {
			t.Fatal("a set-up not yet confirmed counts as enrolled")
		}

		// A wrong first code is refused on the code field; the right one
		// turns the app on and answers 10 recovery codes, once.
		first, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		p := expectProblem(t, env.JSON(t, "POST", "/api/totp/confirm", tok, map[string]any{"code": wrongCode(first)}, nil), 400, "invalid-input")
		if len(p.Errors) != 1 || p.Errors[0].Field != "code" || p.Errors[0].ID != "totp_setup_code_invalid" {
			t.Fatalf("wrong code: %+v", p)
		}
		var codes api.RecoveryCodes
		r = env.JSON(t, "POST", "/api/totp/confirm", tok, map[string]any{"code": first}, &codes)
		expectStatus(t, r, 200)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("recovery codes may be cached")
		}
		if len(codes.RecoveryCodes) != 10 {
			t.Fatalf("%d recovery codes", len(codes.RecoveryCodes))
		}
		if m := env.MailTo(t, email, 2); !strings.Contains(m.Text, "two-factor authentication was turned on") {
			t.Fatalf("no security notice: %s", m.Text)
		}
		expectStatus(t, env.JSON(t, "GET", "/api/totp", tok, nil, &st), 200)
		if !st.Enrolled || st.RecoveryCodesRemaining != 10 {
			t.Fatalf("status after set-up: %+v", st)
		}

		// With an app on, changes need an aal2 session: this aal1 one
		// must step up first.
		expectProblem(t, env.JSON(t, "POST", "/api/recovery-codes", tok, nil, nil), 401, "reauthenticate")
		expectProblem(t, env.JSON(t, "DELETE", "/api/totp", tok, nil, nil), 401, "reauthenticate")
		stepUp := func(token string) string {
			t.Helper()
			env.Clock.Advance(30 * time.Second)
			c, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
			var up api.StepUpResponse
			expectStatus(t, env.JSON(t, "POST", "/api/sessions/step-up", token, map[string]any{"kind": "totp", "code": c}, &up), 200)
			if up.Session.AAL != "aal2" {
				t.Fatalf("step-up: %+v", up.Session)
			}
			return up.SessionToken
		}
		tok = stepUp(tok)
		expectProblem(t, env.JSON(t, "POST", "/api/totp", tok, nil, nil), 409, "totp-enrolled")

		// A recovery code signs in in place of the app, once.
		expectStatus(t, apiSignInWithRecoveryCode(t, env, email, codes.RecoveryCodes[0]), 200)
		expectStatus(t, apiSignInWithRecoveryCode(t, env, email, codes.RecoveryCodes[0]), 400)
		expectStatus(t, env.JSON(t, "GET", "/api/totp", tok, nil, &st), 200)
		if st.RecoveryCodesRemaining != 9 {
			t.Fatalf("after one recovery code: %+v", st)
		}

		// A new set replaces the old one.
		var renewed api.RecoveryCodes
		expectStatus(t, env.JSON(t, "POST", "/api/recovery-codes", tok, nil, &renewed), 200)
		if len(renewed.RecoveryCodes) != 10 || renewed.RecoveryCodes[0] == codes.RecoveryCodes[0] {
			t.Fatalf("renewed: %v", renewed.RecoveryCodes)
		}
		awaitMailWith(t, env, email, "new recovery codes were made")
		expectStatus(t, apiSignInWithRecoveryCode(t, env, email, codes.RecoveryCodes[1]), 400)
		expectStatus(t, apiSignInWithRecoveryCode(t, env, email, renewed.RecoveryCodes[0]), 200)

		// The app is the only second factor: it stays.
		p = expectProblem(t, env.JSON(t, "DELETE", "/api/totp", tok, nil, nil), 409, "refused")
		if len(p.Errors) != 1 || p.Errors[0].ID != "last_second_factor" {
			t.Fatalf("refusal: %+v", p)
		}
		expectStatus(t, env.JSON(t, "GET", "/api/totp", tok, nil, &st), 200)
		if !st.Enrolled || st.RecoveryCodesRemaining != 9 {
			t.Fatalf("status after the refusal: %+v", st)
		}

		// Eleven minutes on, the sign-in is no longer fresh.
		env.Clock.Advance(11 * time.Minute)
		expectProblem(t, env.JSON(t, "POST", "/api/recovery-codes", tok, nil, nil), 401, "reauthenticate")
		expectProblem(t, env.JSON(t, "DELETE", "/api/totp", tok, nil, nil), 401, "reauthenticate")
		tok = stepUp(tok)

		// With a passkey as another second factor, the app can go.
		auth := passkeytest.New(t, env.URL, "localhost")
		var opts api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts), 200)
		resp, _ := auth.Register(opts.Options)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, nil), 201)
		expectStatus(t, env.JSON(t, "DELETE", "/api/totp", tok, nil, nil), 204)
		awaitMailWith(t, env, email, "two-factor authentication was turned off")
		// The recovery codes stay: they now stand in for the passkey.
		remaining := st.RecoveryCodesRemaining
		expectStatus(t, env.JSON(t, "GET", "/api/totp", tok, nil, &st), 200)
		if st.Enrolled || st.RecoveryCodesRemaining != remaining || remaining == 0 {
			t.Fatalf("status after removal: %+v (before: %d codes)", st, remaining)
		}
		var start, in api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "password": goodPassword}, &in), 200)
		if in.SessionToken == "" {
			t.Fatalf("sign-in still asks for the removed app: %+v", in.Flow)
		}

		changes, err := env.Server.Events.List(t.Context(), event.Query{Type: event.MethodsChanged})
		if err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, e := range changes {
			reasons = append(reasons, e.Reason)
		}
		if got := strings.Join(reasons, " "); got != "totp_enabled recovery_codes_regenerated passkey_added totp_disabled" {
			t.Fatalf("methods.changed reasons: %s", got)
		}
	})
}

// Where a domain does not offer authenticator apps, the API refuses to
// set one up.
func TestTOTPSetupOffThroughAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		no := false
		env := servertest.Start(t, db, func(c *config.Config) { c.Domains[config.DefaultDomain].Login.TOTP = &no })
		id, code := startAPIRegistration(t, env, "wim@example.com")
		var signedUp api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
		expectProblem(t, env.JSON(t, "POST", "/api/totp", signedUp.SessionToken, nil, nil), 403, "totp-off")
		var st api.TOTPStatus
		expectStatus(t, env.JSON(t, "GET", "/api/totp", signedUp.SessionToken, nil, &st), 200)
		if st.Enrolled {
			t.Fatalf("status: %+v", st)
		}
	})
}

// An account with an authenticator app and one passkey may drop either,
// not both: removing both at once leaves one, whichever wins.
func TestConcurrentFactorRemovalsKeepOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		id, code := startAPIRegistration(t, env, "yara@example.com")
		var signedUp api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
		tok := signedUp.SessionToken

		auth := passkeytest.New(t, env.URL, "localhost")
		var opts api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts), 200)
		resp, _ := auth.Register(opts.Options)
		var added api.AddedPasskey
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, &added), 201)
		// With a passkey, changes need aal2: a recovery code raises the
		// password's session.
		var raised api.StepUpResponse
		expectStatus(t, env.JSON(t, "POST", "/api/sessions/step-up", tok, map[string]any{"kind": "recovery_code", "code": added.RecoveryCodes[0]}, &raised), 200)
		tok = raised.SessionToken

		var setup api.TOTPSetup
		expectStatus(t, env.JSON(t, "POST", "/api/totp", tok, nil, &setup), 200)
		first, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		expectStatus(t, env.JSON(t, "POST", "/api/totp/confirm", tok, map[string]any{"code": first}, nil), 200)
		env.Clock.Advance(30 * time.Second)
		next, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		var up api.StepUpResponse
		expectStatus(t, env.JSON(t, "POST", "/api/sessions/step-up", tok, map[string]any{"kind": "totp", "code": next}, &up), 200)
		tok = up.SessionToken

		var wg sync.WaitGroup
		var totpStatus, passkeyStatus int
		wg.Go(func() { totpStatus = env.JSON(t, "DELETE", "/api/totp", tok, nil, nil).StatusCode })
		wg.Go(func() { passkeyStatus = env.JSON(t, "DELETE", "/api/passkeys/"+added.ID, tok, nil, nil).StatusCode })
		wg.Wait()
		got := []int{totpStatus, passkeyStatus}
		slices.Sort(got)
		if got[0] != 204 || got[1] != 409 {
			t.Fatalf("app %d, passkey %d: want one 204 and one 409", totpStatus, passkeyStatus)
		}
		var st api.TOTPStatus
		expectStatus(t, env.JSON(t, "GET", "/api/totp", tok, nil, &st), 200)
		var list struct{ Passkeys []json.RawMessage }
		expectStatus(t, env.JSON(t, "GET", "/api/passkeys", tok, nil, &list), 200)
		if st.Enrolled == (len(list.Passkeys) == 1) {
			t.Fatalf("left: app %v, %d passkeys; want exactly one of them", st.Enrolled, len(list.Passkeys))
		}
	})
}

// Two step-ups of one session at once: one raises it, the other finds its
// token replaced (401), never a server error.
func TestConcurrentStepUps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		id, code := startAPIRegistration(t, env, "wanda@example.com")
		var signedUp api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
		var setup api.TOTPSetup
		expectStatus(t, env.JSON(t, "POST", "/api/totp", signedUp.SessionToken, nil, &setup), 200)
		first, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		var confirmed api.RecoveryCodes
		expectStatus(t, env.JSON(t, "POST", "/api/totp/confirm", signedUp.SessionToken, map[string]any{"code": first}, &confirmed), 200)
		codes := confirmed.RecoveryCodes
		// A session at aal1 to raise: the sign-up's, before any step-up.
		tok := signedUp.SessionToken
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i := range 2 {
			wg.Go(func() {
				statuses[i] = env.JSON(t, "POST", "/api/sessions/step-up", tok, map[string]any{"kind": "recovery_code", "code": codes[i]}, nil).StatusCode
			})
		}
		wg.Wait()
		slices.Sort(statuses)
		if statuses[0] != 200 || statuses[1] != 401 {
			t.Fatalf("concurrent step-ups: %v, want one 200 and one 401", statuses)
		}
	})
}

// Turning off an authenticator app that was never on changes nothing and
// mails nobody a notice that something was turned off.
func TestRemovingNoAppSendsNoNotice(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	id, code := startAPIRegistration(t, env, "xena@example.com")
	var signedUp api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
	expectStatus(t, env.JSON(t, "DELETE", "/api/totp", signedUp.SessionToken, nil, nil), 204)
	// A set-up begun and dropped was never on either.
	expectStatus(t, env.JSON(t, "POST", "/api/totp", signedUp.SessionToken, nil, nil), 200)
	expectStatus(t, env.JSON(t, "DELETE", "/api/totp", signedUp.SessionToken, nil, nil), 204)
	// The notice goes with the change's event, written before the answer.
	changes, err := env.Server.Events.List(t.Context(), event.Query{Type: event.MethodsChanged})
	if err != nil || len(changes) != 0 {
		t.Fatalf("changes recorded (and noticed) for an app that was never on: %+v %v", changes, err)
	}
}

// awaitMailWith waits until the server has stored a mail to an address
// whose text says what is given, among whatever else it sent (sign-in
// notices, say).
func awaitMailWith(t *testing.T, env *servertest.Env, to, text string) {
	t.Helper()
	env.WaitForOutbox(t, to, func(mail []courier.Entry) bool {
		return slices.ContainsFunc(mail, func(m courier.Entry) bool { return strings.Contains(m.Text, text) })
	})
}
