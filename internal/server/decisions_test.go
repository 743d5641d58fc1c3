package server_test

import (
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// decisionsOf returns the decisions recorded for q as "action/effect",
// checking that each carries its context.
func decisionsOf(t *testing.T, env *servertest.Env, q decision.Query) string {
	t.Helper()
	recs, err := env.Server.Decisions.List(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Action)+"/"+string(r.Effect))
		if r.Domain != "customers" || r.At.IsZero() || r.Policy == "" || r.Input.ClientIP != "127.0.0.1" ||
			r.Input.Action != r.Action || r.Input.FlowID != r.FlowID || r.Input.IdentityID != r.IdentityID {
			t.Fatalf("record lacks its context: %+v", r)
		}
	}
	return strings.Join(got, " ")
}

// Every decision point of a journey leaves exactly one record, written
// with the step it decided, and the journey's records read back in order
// with the input each decision saw.
func TestEveryDecisionIsRecorded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)

		// Sign-up with its code: the start, the submit, the code's mail,
		// the code, the session.
		var up api.FlowResponse
		env.JSON(t, "POST", "/api/registration", "", nil, &up)
		env.JSON(t, "POST", "/api/registration/"+up.Flow.ID, "", map[string]any{
			"traits": map[string]any{"email": "rec@example.com", "name": "Rec"}, "password": goodPassword}, nil)
		code := servertest.CodeFrom(t, env.MailTo(t, "rec@example.com", 1))
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+up.Flow.ID+"/code", "", map[string]any{"code": code}, &done), 200)
		want := "flow.start/allow registration.submit/allow verification.send/allow verification.submit/allow session.issue/allow"
		if got := decisionsOf(t, env, decision.Query{FlowID: up.Flow.ID}); got != want {
			t.Fatalf("sign-up decisions:\n got %s\nwant %s", got, want)
		}

		// A wrong password: the attempt was allowed, and failed.
		var wrong api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &wrong)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+wrong.Flow.ID, "", map[string]any{"identifier": "rec@example.com", "password": "not the password"}, nil), 400)
		if got, want := decisionsOf(t, env, decision.Query{FlowID: wrong.Flow.ID}), "flow.start/allow login.submit/allow"; got != want {
			t.Fatalf("failed sign-in decisions:\n got %s\nwant %s", got, want)
		}

		// A sign-in asks about the session once.
		var in, signedIn api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &in)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+in.Flow.ID, "", map[string]any{"identifier": "rec@example.com", "password": goodPassword}, &signedIn), 200)
		if got, want := decisionsOf(t, env, decision.Query{FlowID: in.Flow.ID}), "flow.start/allow login.submit/allow session.issue/allow"; got != want {
			t.Fatalf("sign-in decisions:\n got %s\nwant %s", got, want)
		}

		// Signing out is decided and recorded for its identity.
		expectStatus(t, env.JSON(t, "POST", "/api/logout", signedIn.SessionToken, nil, nil), 204)
		identity := done.Identity.ID
		if got, want := decisionsOf(t, env, decision.Query{IdentityID: identity, Action: "logout"}), "logout/allow"; got != want {
			t.Fatalf("sign-out decisions: got %s, want %s", got, want)
		}
		recs, err := env.Server.Decisions.List(t.Context(), decision.Query{IdentityID: identity})
		if err != nil {
			t.Fatal(err)
		}
		if last := recs[len(recs)-1]; last.Input.SessionID != signedIn.Session.ID {
			t.Fatalf("sign-out record's session %q, want %q", last.Input.SessionID, signedIn.Session.ID)
		}
	})
}

// A passkey sign-in challenge is a decision of the policy too: a network
// has room for 600 in ten minutes, then waits; each answer is recorded.
func TestPasskeyChallengeIsDecided(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t), servertest.Localhost())
	env.Clock.Stop() // the network's wait past its share lasts however slow the machine
	limit := limitsOf(env).PasskeyChallenge.Free
	for i := range limit {
		if r := env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, nil); r.StatusCode != 200 {
			t.Fatalf("challenge %d: %d", i, r.StatusCode)
		}
	}
	r := env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, nil)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("past the network's share: %d", r.StatusCode)
	}
	recs, err := env.Server.Decisions.List(t.Context(), decision.Query{Action: policy.PasskeyChallenge})
	if err != nil || len(recs) != limit+1 || recs[0].Effect != policy.Allow || recs[limit].Effect != policy.Throttle || recs[limit].Reason != "too_many_challenges" {
		t.Fatalf("%d records, %v", len(recs), err)
	}
}
