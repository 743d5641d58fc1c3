package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A native app adds a passkey and signs in with it through the JSON API.
func TestPasskeysThroughAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		auth := passkeytest.New(t, env.URL, "localhost")
		id, code := startAPIRegistration(t, env, "tara@example.com")
		var signedUp api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
		tok := signedUp.SessionToken

		var opts api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts), 200)
		resp, soft := auth.Register(opts.Options)
		var added api.AddedPasskey
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "name": "Pixel", "credential": json.RawMessage(resp)}, &added), 201)
		if added.Credential == nil || added.Name != "Pixel" {
			t.Fatalf("added: %+v", added)
		}
		// The first second factor comes with the recovery codes.
		if len(added.RecoveryCodes) != 10 {
			t.Fatalf("recovery codes with the first passkey: %q", added.RecoveryCodes)
		}
		list := env.JSON(t, "GET", "/api/passkeys", tok, nil, nil)
		if !strings.Contains(list.Body, `"Pixel"`) {
			t.Fatalf("list: %s", list.Body)
		}
		// Renamed; a name too long or an unknown id changes nothing.
		var renamed passkey.Credential
		expectStatus(t, env.JSON(t, "PATCH", "/api/passkeys/"+added.ID, tok, map[string]any{"name": " Pixel 9 "}, &renamed), 200)
		if renamed.Name != "Pixel 9" || renamed.ID != added.ID {
			t.Fatalf("renamed: %+v", renamed)
		}
		expectStatus(t, env.JSON(t, "PATCH", "/api/passkeys/"+added.ID, tok, map[string]any{"name": strings.Repeat("x", 65)}, nil), 400)
		for _, blank := range []map[string]any{{}, {"name": ""}, {"name": "   "}} {
			expectStatus(t, env.JSON(t, "PATCH", "/api/passkeys/"+added.ID, tok, blank, nil), 400)
		}
		expectStatus(t, env.JSON(t, "PATCH", "/api/passkeys/nope", tok, map[string]any{"name": "x"}, nil), 404)
		expectStatus(t, env.JSON(t, "PATCH", "/api/passkeys/"+added.ID, "", map[string]any{"name": "x"}, nil), 401)
		if list := env.JSON(t, "GET", "/api/passkeys", tok, nil, nil); !strings.Contains(list.Body, `"Pixel 9"`) {
			t.Fatalf("list after rename: %s", list.Body)
		}
		if m := env.MailTo(t, "tara@example.com", 2); !strings.Contains(m.Text, "passkey") {
			t.Fatalf("no notice: %s", m.Text)
		}

		// Sign in with it, without any identifier.
		var lo api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		var in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, &in), 200)
		if in.SessionToken == "" || in.Session.AAL != "aal2" || in.Session.Methods[0] != "passkey" || in.Identity.Email().Value != "tara@example.com" {
			t.Fatalf("passkey sign-in: %+v", in.Session)
		}
		// The challenge works once; another origin is refused.
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, nil), 400)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{Origin: "https://evil.example"}))}, nil), 400)

		// Changing passkeys needs a recent sign-in.
		env.Clock.Advance(11 * time.Minute)
		expectStatus(t, env.JSON(t, "DELETE", "/api/passkeys/"+added.ID, tok, nil, nil), 401)
		expectStatus(t, env.JSON(t, "DELETE", "/api/passkeys/"+added.ID, in.SessionToken, nil, nil), 401)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		var fresh api.FlowResponse
		env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, &fresh)
		// It is the account's only second factor: it stays until another
		// one is added.
		r := env.JSON(t, "DELETE", "/api/passkeys/"+added.ID, fresh.SessionToken, nil, nil)
		expectStatus(t, r, 409)
		if !strings.Contains(r.Body, `"last_second_factor"`) {
			t.Fatalf("refusal: %s", r.Body)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", fresh.SessionToken, nil, &opts), 200)
		resp2, _ := auth.Register(opts.Options)
		var second api.AddedPasskey
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys", fresh.SessionToken, map[string]any{"challenge_id": opts.ChallengeID, "name": "Laptop", "credential": json.RawMessage(resp2)}, &second), 201)
		if second.RecoveryCodes != nil {
			t.Fatalf("a second passkey made new recovery codes: %q", second.RecoveryCodes)
		}
		expectStatus(t, env.JSON(t, "DELETE", "/api/passkeys/"+added.ID, fresh.SessionToken, nil, nil), 204)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, nil), 400)
	})
}

// A native app signs a customer up without a password: email, code, then
// a passkey; the session is aal2 and the account has no password.
func TestPasswordlessSignUpThroughAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		auth := passkeytest.New(t, env.URL, "localhost")
		var start api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, &start), 201)
		id := start.Flow.ID
		// The passkey step cannot be reached before the email is proved.
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id+"/passkey/options", "", nil, nil), 409)
		var sub api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id, "", map[string]any{
			"traits": map[string]any{"email": "una@example.com", "name": "Una"}, "method": "passkey"}, &sub), 200)
		if sub.Flow.State != "verify" || sub.SessionToken != "" {
			t.Fatalf("after submit: %+v", sub.Flow)
		}
		code := servertest.CodeFrom(t, env.MailTo(t, "una@example.com", 1))
		var verified api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &verified), 200)
		if verified.Flow.State != "passkey" || verified.SessionToken != "" {
			t.Fatalf("after code: %+v", verified.Flow)
		}
		// Nobody can sign in to the unfinished account with a password.
		var login api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &login), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+login.Flow.ID, "", map[string]any{"identifier": "una@example.com", "password": goodPassword}, nil), 400)

		var opts api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id+"/passkey/options", "", nil, &opts), 200)
		var user struct {
			PublicKey struct {
				User                   struct{ Name, DisplayName string }
				AuthenticatorSelection struct{ ResidentKey, UserVerification string }
				Attestation            string
			}
		}
		if err := json.Unmarshal(opts.Options, &user); err != nil {
			t.Fatal(err)
		}
		if pk := user.PublicKey; pk.User.Name != "una@example.com" || pk.User.DisplayName != "Una" ||
			pk.AuthenticatorSelection.ResidentKey != "required" || pk.AuthenticatorSelection.UserVerification != "required" || pk.Attestation != "none" {
			t.Fatalf("creation options: %s", opts.Options)
		}
		// A response for another origin is refused and the flow waits on.
		bad, _ := auth.Create(opts.Options, passkeytest.Tamper{Origin: "https://evil.example"})
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id+"/passkey", "", map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(bad)}, nil), 400)
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id+"/passkey/options", "", nil, &opts), 200)
		resp, soft := auth.Register(opts.Options)
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id+"/passkey", "", map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, &done), 200)
		if done.SessionToken == "" || done.Session.AAL != "aal2" || done.Flow.State != "done" || !done.Identity.Email().Verified {
			t.Fatalf("signed up: %+v %+v", done.Flow, done.Session)
		}
		// The passkey is the account's first second factor: its recovery
		// codes come with it, once.
		if len(done.RecoveryCodes) != 10 {
			t.Fatalf("recovery codes: %q", done.RecoveryCodes)
		}
		// The flow is over.
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id+"/passkey/options", "", nil, nil), 409)
		// Every step left its event, in order; the refused passkey too.
		events, err := env.Server.Events.List(t.Context(), event.Query{FlowID: id})
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, e := range events {
			steps = append(steps, e.Type+"/"+e.Outcome)
		}
		want := "registration.started/success verification.code_sent/success registration.submitted/pending " +
			"verification.submitted/success verification.completed/success registration.completed/failure " +
			"registration.completed/success login.succeeded/success"
		if got := strings.Join(steps, " "); got != want {
			t.Fatalf("events:\n got %s\nwant %s", got, want)
		}

		// The passkey signs in; the account has no password to guess.
		var lo api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		var in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, &in), 200)
		if in.Identity.Email().Value != "una@example.com" {
			t.Fatalf("signed in as %+v", in.Identity)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &login), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+login.Flow.ID, "", map[string]any{"identifier": "una@example.com", "password": goodPassword}, nil), 400)

		// Without the passkey: an emailed code signs in (aal1), and a
		// recovery code steps up to aal2.
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &login), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+login.Flow.ID, "", map[string]any{"identifier": "una@example.com", "method": "code"}, nil), 200)
		var byCode api.FlowResponse
		// (Found by subject: the passkey sign-in's notice may arrive later.)
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+login.Flow.ID+"/code", "", map[string]any{"code": servertest.CodeFrom(t, env.LatestMail(t, "una@example.com", "Your Foyer sign-in code"))}, &byCode), 200)
		if byCode.Session == nil || byCode.Session.AAL != "aal1" {
			t.Fatalf("email-code sign-in: %+v", byCode.Session)
		}
		var up api.StepUpResponse
		expectStatus(t, env.JSON(t, "POST", "/api/sessions/step-up", byCode.SessionToken, map[string]any{"kind": "recovery_code", "code": done.RecoveryCodes[0]}, &up), 200)
		if up.Session.AAL != "aal2" {
			t.Fatalf("step-up with a recovery code: %+v", up.Session)
		}

		// Its only passkey is its only way in: removing it is refused.
		var list struct{ Passkeys []passkey.Credential }
		expectStatus(t, env.JSON(t, "GET", "/api/passkeys", in.SessionToken, nil, &list), 200)
		r := env.JSON(t, "DELETE", "/api/passkeys/"+list.Passkeys[0].ID, in.SessionToken, nil, nil)
		expectStatus(t, r, 409)
		if !strings.Contains(r.Body, "only way to sign in") {
			t.Fatalf("refusal: %s", r.Body)
		}
	})
}

// provedPasswordless starts a passwordless sign-up for email through the
// API and enters the mailed code: the flow it returns waits for a passkey
// (or, as a fallback, a password).
func provedPasswordless(t *testing.T, env *servertest.Env, email string) string {
	t.Helper()
	var start api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, &start), 201)
	id := start.Flow.ID
	expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id, "", map[string]any{
		"traits": map[string]any{"email": email}, "method": "passkey"}, nil), 200)
	code := servertest.CodeFrom(t, env.MailTo(t, email, 1))
	var proved api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &proved), 200)
	if proved.Flow.State != "passkey" {
		t.Fatalf("after the code: state %q, want passkey", proved.Flow.State)
	}
	return id
}

// A customer whose device cannot make a passkey picks a password instead,
// after the email is proved.
func TestPasswordlessSignUpFallsBackToPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		id := provedPasswordless(t, env, "vic@example.com")
		r := env.JSON(t, "POST", "/api/registration/"+id, "", map[string]any{"password": "password"}, nil)
		expectStatus(t, r, 400)
		if !strings.Contains(r.Body, "password_") {
			t.Fatalf("weak password: %s", r.Body)
		}
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id, "", map[string]any{"password": goodPassword}, &done), 200)
		if done.SessionToken == "" || done.Session.AAL != "aal1" {
			t.Fatalf("signed up: %+v", done.Session)
		}
		var login api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &login), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+login.Flow.ID, "", map[string]any{"identifier": "vic@example.com", "password": goodPassword}, nil), 200)
	})
}

// A passkey whose signature counter goes backwards is flagged, and the
// policy decides: refused by default, allowed when the operator says so.
func TestClonedPasskeyIsFlaggedAndDecidedByPolicy(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow=%v", allow), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				env := servertest.Start(t, db, servertest.Localhost(), func(c *config.Config) {
					c.Domains[config.DefaultDomain].Login.AllowClonedPasskeys = allow
				})
				auth := passkeytest.New(t, env.URL, "localhost")
				id, code := startAPIRegistration(t, env, "wes@example.com")
				var signedUp api.FlowResponse
				expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
				tok := signedUp.SessionToken
				var opts api.PasskeyOptions
				expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts), 200)
				resp, soft := auth.Register(opts.Options)
				expectStatus(t, env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, nil), 201)
				signIn := func(tm passkeytest.Tamper) *servertest.Response {
					var lo api.PasskeyOptions
					expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
					return env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, tm))}, nil)
				}
				for range 3 {
					expectStatus(t, signIn(passkeytest.Tamper{}), 200)
				}
				back := uint32(1)
				want := 403
				if allow {
					want = 200
				}
				expectStatus(t, signIn(passkeytest.Tamper{Counter: &back}), want)
				flagged, err := env.Server.Events.List(t.Context(), event.Query{Type: event.PasskeyCloned})
				if err != nil || len(flagged) != 1 || flagged[0].Reason != "counter_not_increased" {
					t.Fatalf("passkey.cloned events: %+v %v", flagged, err)
				}
				if !allow {
					denied, err := env.Server.Events.List(t.Context(), event.Query{Type: event.LoginSucceeded})
					if err != nil || denied[len(denied)-1].Outcome != event.OutcomeDenied || denied[len(denied)-1].Reason != "passkey_cloned" {
						t.Fatalf("latest login.succeeded: %+v %v", denied, err)
					}
				}
			})
		})
	}
}

// A passwordless account with two passkeys, both removed at once: one
// removal wins, the other is refused, and a passkey remains.
func TestConcurrentPasskeyRemovalsKeepOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		auth := passkeytest.New(t, env.URL, "localhost")
		id := provedPasswordless(t, env, "zed@example.com")
		var opts api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id+"/passkey/options", "", nil, &opts), 200)
		resp, _ := auth.Register(opts.Options)
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+id+"/passkey", "", map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, &done), 200)
		tok := done.SessionToken
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts), 200)
		resp, _ = auth.Register(opts.Options)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, nil), 201)
		var list struct{ Passkeys []passkey.Credential }
		expectStatus(t, env.JSON(t, "GET", "/api/passkeys", tok, nil, &list), 200)
		if len(list.Passkeys) != 2 {
			t.Fatalf("passkeys: %d", len(list.Passkeys))
		}
		var wg sync.WaitGroup
		status := make([]int, 2)
		for i, c := range list.Passkeys {
			wg.Go(func() { status[i] = env.JSON(t, "DELETE", "/api/passkeys/"+c.ID, tok, nil, nil).StatusCode })
		}
		wg.Wait()
		slices.Sort(status)
		if status[0] != 204 || status[1] != 409 {
			t.Fatalf("two removals at once: %v, want one 204 and one 409", status)
		}
		expectStatus(t, env.JSON(t, "GET", "/api/passkeys", tok, nil, &list), 200)
		if len(list.Passkeys) != 1 {
			t.Fatalf("passkeys left: %d", len(list.Passkeys))
		}
	})
}

// On the hosted pages, a passwordless sign-up whose device cannot make a
// passkey finishes with a password from the passkey step; a weak one is
// refused there with a message, and the page offers the passkey button
// (for the script) with the form.
func TestPasswordlessSignUpPageFallsBackToPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		b := env.NewBrowser(t)
		if page := b.Get("/registration"); !strings.Contains(page.Body, `name="method" value="passkey"`) {
			t.Fatalf("sign-up page offers no passkey sign-up:\n%s", page.Body)
		}
		loc := location(t, b.Submit("/registration", url.Values{"email": {"wyn@example.com"}, "method": {"passkey"}}))
		page := b.Get(loc)
		code := servertest.CodeFrom(t, env.MailTo(t, "wyn@example.com", 1))
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}})); got != loc {
			t.Fatalf("after the code: %q", got)
		}
		page = b.Get(loc)
		if !strings.Contains(page.Body, `id="passkey-create"`) || !strings.Contains(page.Body, `autocomplete="new-password"`) {
			t.Fatalf("passkey step:\n%s", page.Body)
		}
		expectStatus(t, b.Get("/sessions/whoami"), 401)
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "password": {"password"}})); got != loc {
			t.Fatalf("weak password: %q", got)
		}
		if page = b.Get(loc); !strings.Contains(page.Body, `id="password-error"`) {
			t.Fatalf("no message for a weak password:\n%s", page.Body)
		}
		if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "password": {goodPassword}})); got != "/account" {
			t.Fatalf("password instead of a passkey: %q", got)
		}
		if who := b.Get("/sessions/whoami"); !strings.Contains(who.Body, `"wyn@example.com"`) || !strings.Contains(who.Body, `"password"`) {
			t.Fatalf("whoami: %s", who.Body)
		}
	})
}

// On an account with a passkey, the password alone does not change how the
// customer signs in: a fresh password session may not add or remove
// passkeys, set up an app, or make recovery codes (which would then step
// it up); a recovery code the customer kept, or the passkey, raises it.
func TestPasswordAloneCannotReplacePasskeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		auth := passkeytest.New(t, env.URL, "localhost")
		id, code := startAPIRegistration(t, env, "uma@example.com")
		var signedUp api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
		var opts api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", signedUp.SessionToken, nil, &opts), 200)
		resp, _ := auth.Register(opts.Options)
		var added api.AddedPasskey
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys", signedUp.SessionToken, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, &added), 201)

		// Someone with the password signs in: aal1, just now.
		var start, in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &start), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "uma@example.com", "password": goodPassword}, &in), 200)
		if in.SessionToken == "" || in.Session.AAL != "aal1" {
			t.Fatalf("password sign-in: %+v", in)
		}
		for _, req := range []struct{ method, path string }{
			{"POST", "/api/recovery-codes"},
			{"POST", "/api/passkeys/options"},
			{"DELETE", "/api/passkeys/" + added.ID},
			{"POST", "/api/totp"},
		} {
			expectProblem(t, env.JSON(t, req.method, req.path, in.SessionToken, nil, nil), 401, "reauthenticate")
		}
		// The owner's recovery code raises the session; then it may.
		var up api.StepUpResponse
		expectStatus(t, env.JSON(t, "POST", "/api/sessions/step-up", in.SessionToken, map[string]any{"kind": "recovery_code", "code": added.RecoveryCodes[0]}, &up), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", up.SessionToken, nil, nil), 200)
	})
}
