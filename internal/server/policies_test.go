package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/admin"
	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const policyAdminToken = "policy-admin-token-0123456789abcdefghij"

// withPolicy writes a policy file and puts it in force (and the admin API
// on); shadow, if not "", is run beside it.
func withPolicy(t *testing.T, live, shadow string) (servertest.Option, string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(live), 0o600); err != nil {
		t.Fatal(err)
	}
	shadowPath := ""
	if shadow != "" {
		shadowPath = filepath.Join(dir, "shadow.yaml")
		if err := os.WriteFile(shadowPath, []byte(shadow), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return func(c *config.Config) {
		c.Policy.File, c.Policy.Shadow = path, shadowPath
		c.Admin.Token = policyAdminToken
	}, path
}

const operatorPolicy = `version: 1
rules:
  - name: block-disposable
    when: 'action == "registration.submit" && identity.email.endsWith("@mailinator.test")'
    then: {effect: deny, reason: "Please use a permanent email address."}
  - name: confirm-new-devices
    when: 'action == "login.submit" && !device.known'
    then: {effect: step_up, require: [email_code]}
  - name: short-sessions
    when: 'action == "session.issue"'
    then: {effect: session, lifetime: 2h, idle: 10m}
`

// A policy file's outcomes reach the customer through the hosted pages
// and the API: a deny shows its reason, a step-up asks for its step, a
// session outcome sets the session's lifetimes; each decision records
// the file's version and rule.
func TestPolicyFileOutcomes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		opt, _ := withPolicy(t, operatorPolicy, "")
		env := servertest.Start(t, db, opt)
		const reason = "Please use a permanent email address."

		// Deny, on the page and in the API.
		b := env.NewBrowser(t)
		page := b.Submit("/registration", url.Values{"email": {"x@mailinator.test"}, "password": {goodPassword}})
		if page.StatusCode != http.StatusForbidden || !strings.Contains(page.Body, reason) {
			t.Fatalf("hosted sign-up with a disposable address: %d\n%s", page.StatusCode, page.Body)
		}
		var start api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, &start), 201)
		p := expectProblem(t, env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{
			"traits": map[string]any{"email": "y@mailinator.test"}, "password": goodPassword}, nil), 403, "denied")
		if p.Detail != reason {
			t.Fatalf("API deny detail %q", p.Detail)
		}
		recs, err := env.Server.Decisions.List(t.Context(), decision.Query{Action: policy.RegistrationSubmit})
		if err != nil || len(recs) != 2 || recs[0].Rule != "block-disposable" || !strings.HasPrefix(recs[0].Policy, "policy.yaml@") ||
			recs[0].Input.Email != "x@mailinator.test" {
			t.Fatalf("recorded: %+v, %v", recs, err)
		}

		// Step-up at login.submit: served before the session, by the
		// mailbox's code; then the session has the rule's lifetimes.
		signUp(t, env, "ana@example.com", goodPassword)
		var res api.FlowResponse
		expectStatus(t, signInAPI(t, env, "ana@example.com", goodPassword, &res), 200)
		if res.Flow.State != "verify" || res.SessionToken != "" {
			t.Fatalf("sign-in from a new device: %+v", res.Flow)
		}
		code := servertest.CodeFrom(t, env.LatestMail(t, "ana@example.com", "Your Foyer sign-in code"))
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+res.Flow.ID+"/code", "", map[string]any{"code": code}, &done), 200)
		if done.SessionToken == "" || !slices.Contains(done.Session.Methods, "email_code") {
			t.Fatalf("after the code: %+v", done)
		}
		if life := done.Session.ExpiresAt.Sub(done.Session.CreatedAt); life != 2*time.Hour {
			t.Errorf("session lifetime %s, want 2h", life)
		}
		if idle := done.Session.IdleExpiresAt.Sub(done.Session.CreatedAt); idle != 10*time.Minute {
			t.Errorf("session idle timeout %s, want 10m", idle)
		}
		env.Clock.Advance(11 * time.Minute)
		if _, st := whoami(t, env, done.SessionToken); st != 401 {
			t.Errorf("a session idle past the rule's 10m: %d", st)
		}
	})
}

// A challenge outcome asks for a proof of work, and a solved one passes;
// a notify outcome mails the customer.
func TestPolicyChallengeAndNotify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		opt, _ := withPolicy(t, `version: 1
rules:
  - name: work-for-every-password
    when: 'action == "login.submit" && !risk.challenge_solved'
    then: {effect: challenge, difficulty: 6}
  - name: tell-every-sign-in
    when: 'action == "session.issue"'
    then: {effect: notify}
`, "")
		env := servertest.Start(t, db, opt)
		signUpAPI(t, env, "bo@example.com")
		before := len(env.Outbox(t, "bo@example.com"))
		var start api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &start), 201)
		body := map[string]any{"identifier": "bo@example.com", "password": goodPassword}
		var p api.Problem
		r := env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", body, &p)
		if r.StatusCode != http.StatusTooManyRequests || p.Challenge == nil || p.Challenge.Difficulty != 6 {
			t.Fatalf("unsolved: %d %+v", r.StatusCode, p)
		}
		h := http.Header{}
		h.Set("X-Foyer-Challenge", p.Challenge.Token)
		h.Set("X-Foyer-Challenge-Solution", challenge.Solve(*p.Challenge))
		var done api.FlowResponse
		expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, h, body, &done), 200)
		if done.SessionToken == "" {
			t.Fatalf("solved: %+v", done)
		}
		mail := env.Outbox(t, "bo@example.com")
		if len(mail) != before+1 || mail[len(mail)-1].Template != "sign_in_notice" {
			t.Fatalf("mail after the sign-in: %+v", mail[before:])
		}
	})
}

// A shadow policy's decisions are recorded beside the live ones and never
// enforced; the admin API shows both policies, and a reload with a broken
// file names its faults and changes nothing.
func TestShadowPolicyAndReload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		opt, path := withPolicy(t, "version: 1\nrules: []\n", `version: 1
rules:
  - name: deny-all
    when: 'true'
    then: {effect: deny, reason: nope}
`)
		env := servertest.Start(t, db, opt)
		if done := signUpAPI(t, env, "cy@example.com"); done.SessionToken == "" {
			t.Fatalf("the shadow's deny was enforced: %+v", done)
		}
		recs, err := env.Server.Decisions.List(t.Context(), decision.Query{})
		if err != nil || len(recs) == 0 {
			t.Fatal(recs, err)
		}
		for _, r := range recs {
			if r.Effect != policy.Allow || r.Shadow == nil || r.Shadow.Effect != policy.Deny || r.Shadow.Rule != "deny-all" ||
				!strings.HasPrefix(r.Shadow.Policy, "shadow.yaml@") {
				t.Fatalf("record %+v shadow %+v", r, r.Shadow)
			}
		}
		rep, err := env.Server.Decisions.ReplayShadow(t.Context(), decision.Query{})
		if err != nil || rep.Decisions != len(recs) || rep.Transitions["allow->deny"] != len(recs) {
			t.Fatalf("shadow report %+v, %v", rep, err)
		}

		auth := http.Header{"Authorization": {"Bearer " + policyAdminToken}}
		var before admin.PoliciesResponse
		expectStatus(t, env.JSONWith(t, "GET", "/admin/policies", auth, nil, &before), 200)
		if before.Policy.File != path || before.Shadow == nil || !slices.Equal(before.Shadow.Rules, []string{"deny-all"}) {
			t.Fatalf("policies: %+v", before)
		}
		if err := os.WriteFile(path, []byte("version: 1\nrules:\n  - name: r\n    when: 'nope'\n    then: {effect: allow}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := env.JSONWith(t, "POST", "/admin/policies/reload", auth, nil, nil)
		var p admin.Problem
		if err := json.Unmarshal([]byte(r.Body), &p); err != nil || r.StatusCode != 422 || !strings.HasSuffix(p.Type, "/policy-invalid") {
			t.Fatalf("refused reload: %d %s", r.StatusCode, r.Body)
		}
		if len(p.Errors) != 1 || p.Errors[0].Field != "policy.file" || !strings.Contains(p.Errors[0].Message, path+":4:12: rule \"r\": when: undeclared reference to 'nope'") {
			t.Fatalf("refused reload: %+v", p)
		}
		var after admin.PoliciesResponse
		expectStatus(t, env.JSONWith(t, "GET", "/admin/policies", auth, nil, &after), 200)
		if after.Policy.Version != before.Policy.Version {
			t.Fatalf("a broken file replaced the policy: %s -> %s", before.Policy.Version, after.Policy.Version)
		}
		if err := os.WriteFile(path, []byte(operatorPolicy), 0o600); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, env.JSONWith(t, "POST", "/admin/policies/reload", auth, nil, &after), 200)
		if after.Policy.Version == before.Policy.Version || len(after.Policy.Rules) != 3 {
			t.Fatalf("reload: %+v", after)
		}
	})
}

// A sign-in records how long ago its device first signed in to the
// account (device.age, device.first_seen).
func TestSignInRecordsTheDeviceAge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		env.Clock.Stop()
		b := signUp(t, env, "dee@example.com", goodPassword)
		env.Clock.Advance(3 * time.Hour)
		b.Submit("/logout", url.Values{})
		if loc := location(t, b.Submit("/login", url.Values{"email": {"dee@example.com"}, "password": {goodPassword}})); loc != "/account" {
			t.Fatalf("sign-in: Location %q", loc)
		}
		recs, err := env.Server.Decisions.List(t.Context(), decision.Query{Action: policy.SessionIssue})
		if err != nil || len(recs) != 2 {
			t.Fatalf("session decisions %+v, %v", recs, err)
		}
		if first, again := recs[0].Input.Signals, recs[1].Input.Signals; first.DeviceAge != 0 || !again.KnownDevice || again.DeviceAge.Round(time.Millisecond) != 3*time.Hour { // the database keeps microseconds
			t.Fatalf("device age at sign-up %s, at sign-in %s (known %v)", first.DeviceAge, again.DeviceAge, again.KnownDevice)
		}
	})
}
